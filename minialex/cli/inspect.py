"""``minialex inspect CHECKPOINT``: PNGs of a trained network's filters, feature maps, predictions, confusion."""

from __future__ import annotations

from . import arguments


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("inspect", help="pictures of a checkpoint (AlexNet or LeNet): filters, feature maps, "
                                              "predictions, confusion matrix")
    p.add_argument("checkpoint", metavar="CHECKPOINT")
    p.add_argument("--image", type=int, default=0, metavar="N", help="Fashion-MNIST test image index (default 0)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the PNGs")
    arguments.data_dir(p)
    p.add_argument("--synthetic", action="store_true",
                   help="use a deterministic random image (seeded by --image) instead of the test set; "
                        "skips the confusion matrix")
    p.add_argument("--channels", type=int, default=32, help="feature-map channels shown per layer (default 32)")
    arguments.test_limit(p, "compute the confusion matrix on the first N test images only")
    p.add_argument("--compare", default=None, metavar="CLASSES",
                   help="e.g. sweater,coat (d2l's LeNet exercise): the first two conv layers' activations for the "
                        "first test image of each class, side by side")
    arguments.backend(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..tools.inspect import inspect
    inspect(args.checkpoint, args.image, args.out, args.data_dir, args.synthetic, args.channels, args.test_limit,
            args.compare)
    return 0
