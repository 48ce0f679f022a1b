"""``minialex summary``: AlexNet's per-layer output shape, parameters and FLOPs."""

from __future__ import annotations

from . import arguments


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("summary", help="AlexNet's per-layer output shape, parameters and FLOPs")
    arguments.input_size(p, "image side length in pixels (default 224)", default=224)
    p.add_argument("--in-channels", type=int, default=1)
    p.add_argument("--num-classes", type=int, default=10)
    arguments.batch_size(p, "batch size the FLOPs are counted for (default 1)", default=1)
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import models, summary
    net = models.alexnet(args.num_classes, args.in_channels, args.input_size)
    summary(net, (args.batch_size, args.in_channels, args.input_size, args.input_size))
    return 0
