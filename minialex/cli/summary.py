"""``minialex summary``: AlexNet's (or LeNet's) per-layer output shape, parameters and FLOPs; LeNet beside AlexNet."""

from __future__ import annotations

from . import arguments


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("summary", help="AlexNet's per-layer output shape, parameters and FLOPs")
    arguments.input_size(p, "image side length in pixels (default 224)", default=224)
    p.add_argument("--in-channels", type=int, default=1)
    p.add_argument("--num-classes", type=int, default=10)
    arguments.batch_size(p, "batch size the FLOPs are counted for (default 1)", default=1)
    arguments.model(p, default="alexnet")
    p.add_argument("--compare-lenet", action="store_true",
                   help="d2l's LeNet beside AlexNet (at --input-size): parameters, FLOPs and their ratios, and why "
                        "they are not the chapter's 10x and 260x")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import models, summary
    from ..summary import compare_with_lenet
    if args.compare_lenet:
        compare_with_lenet(args.input_size)
        return 0
    size = models.check_input_size(args.model, None if args.model == "lenet" else args.input_size)
    net = models.build(args.model, args.num_classes, args.in_channels, size)
    summary(net, (args.batch_size, args.in_channels, size, size))
    return 0
