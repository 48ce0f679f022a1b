"""``minialex trace``: one training step timed layer by layer, forward and backward apart."""

from __future__ import annotations

import json

from . import arguments


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("trace", help="time one training step layer by layer (forward and backward)")
    arguments.model(p, default="alexnet")
    arguments.input_size(p, "image side length (default 224 for alexnet; lenet takes 28 only)")
    arguments.batch_size(p, "batch size (default 8)", default=8)
    p.add_argument("--in-channels", type=int, default=1)
    p.add_argument("--num-classes", type=int, default=10)
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed steps first, so one-time costs (Numba compilation, first allocations) are "
                        "not counted (default 1)")
    arguments.seed(p, "seeds the weights, the random batch and its labels (default 0)", default=0)
    p.add_argument("--json", metavar="PATH", default=None, help="also write the trace as JSON")
    arguments.backend(p)
    arguments.conv_algorithm(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..tools.trace import format_trace, trace_model
    trace = trace_model(args.model, args.input_size, args.batch_size, args.in_channels, args.num_classes,
                        args.warmup, args.seed)
    warm = f"after {args.warmup} untimed warm-up step{'s' if args.warmup != 1 else ''}" if args.warmup else \
        "no warm-up (first-call costs included)"
    print(f"{args.model}, input {tuple(trace['input_shape'])} {trace['dtype']}, backend {trace['backend']}, conv "
          f"algorithm {trace['conv_algorithm']}: one forward and backward of cross-entropy on random labels, {warm}\n")
    print(format_trace(trace))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(trace, f, indent=2)
        print(f"\nwrote {args.json}")
    return 0
