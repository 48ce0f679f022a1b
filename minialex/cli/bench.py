"""``minialex bench``: per-layer and whole-step speed of every engine, beside PyTorch."""

from __future__ import annotations

from ..backend import ENGINES
from . import arguments


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("bench", help="per-layer and whole-step speed of every engine, beside PyTorch")
    p.add_argument("--quick", action="store_true", help="one small configuration, for a check in under 2 minutes")
    p.add_argument("--backend", dest="engines", nargs="+", choices=ENGINES, default=None,
                   help="engines to measure (default: every one available here)")
    arguments.input_size(p, "input sizes in pixels (default 224 96; --sizes too)", nargs="+", aliases=("--sizes",))
    arguments.batch_size(p, "batch size (default 128)")
    p.add_argument("--reps", type=int, default=None, help="timed repetitions of each measurement (default 5)")
    p.add_argument("--out", default="benchmarks/out", help="folder for bench.json and layers.png")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out even when it is installed")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    arguments.conv_algorithm(p, "measure only this convolution algorithm (default: per layer im2col and winograd, "
                                "whole steps im2col and auto)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..tools.bench import run
    # each contender names its algorithm ("numba/auto"), in this process and in the memory subprocesses alike
    run(args.out, args.input_size, args.batch_size, args.reps, args.engines, args.quick,
        with_torch=not args.no_torch, with_memory=not args.no_memory,
        algorithms=[args.conv_algorithm] if args.conv_algorithm else None)
    return 0
