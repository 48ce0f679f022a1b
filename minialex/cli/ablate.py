"""``minialex ablate``: AlexNet with each of its four changes to LeNet undone, plus d2l's LeNet, in one table."""

from __future__ import annotations

import sys

from . import arguments


def add_parser(subparsers) -> None:
    from ..tools.ablate import AUGMENT, VARIANTS
    p = subparsers.add_parser(
        "ablate", help="train AlexNet with each of its changes to LeNet undone, and LeNet: one table, two figures",
        description="Trains one short recipe per variant, each in its own resumable run folder under --out (Ctrl-C, "
                    "then the same command again, continues), then writes ablation.md, ablation.json, curves.png "
                    "and gradient_norms.png. Variants: " + "; ".join(f"{n}: {v.change}" for n, v in VARIANTS.items()))
    p.add_argument("--out", required=True, metavar="DIR", help="folder of the runs and the results")
    p.add_argument("--variants", default="all", metavar="NAMES",
                   help=f"comma-separated, of {', '.join(VARIANTS)} (default all)")
    arguments.input_size(p, "AlexNet's image side in pixels (default 72; LeNet keeps 28)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per variant (default 2)")
    p.add_argument("--train-limit", type=int, default=None, metavar="N",
                   help="train on the first N training images (default 8000)")
    arguments.test_limit(p, "test on the first N test images (default 2000)")
    arguments.batch_size(p, "batch size (default 128)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate of the one-cycle schedule (default 0.05)")
    p.add_argument("--augment", default=None, metavar="SPEC",
                   help=f"the augmentation the variants that keep it use, as minialex train's (default {AUGMENT})")
    p.add_argument("--gradient-steps", type=int, default=30, metavar="K",
                   help="steps over which each layer's gradient norm is recorded for the ReLU and the sigmoid "
                        "network (default 30; 0: skip that figure)")
    from ..data import DATASETS
    p.add_argument("--dataset", choices=DATASETS, default=None, help="fashion-mnist (default) or synthetic")
    arguments.data_dir(p)
    arguments.seed(p, "seeds init, dropout, shuffling and augmentation (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    arguments.backend(p)
    arguments.conv_algorithm(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..tools.ablate import ablate, recipe
    from ..training import Diverged, Interrupted, TrainingError
    try:
        base = recipe(resize=args.input_size, epochs=args.epochs, train_limit=args.train_limit,
                      test_limit=args.test_limit, batch_size=args.batch_size, lr=args.lr, augment=args.augment,
                      dataset=args.dataset, seed=args.seed)
        ablate(args.out, args.variants, base, data_dir=args.data_dir, gradient_steps=args.gradient_steps,
               progress=not args.no_progress)
    except Interrupted as e:
        print(f"minialex ablate: {e}", file=sys.stderr)
        return 130
    except Diverged as e:
        print(f"minialex ablate: {e}", file=sys.stderr)
        return 1
    except TrainingError as e:
        print(f"minialex ablate: {e}", file=sys.stderr)
        return 2
    return 0
