"""The ``minialex`` command: one subcommand per job.

Each subcommand lives in a module with ``add_parser(subparsers)``, which registers it and sets ``func``;
heavy imports stay inside the functions so ``minialex --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Modules that contribute subcommands, in the order ``--help`` lists them.
SUBCOMMAND_MODULES = [
    "minialex.cli",
    "minialex.train",
    "minialex.evaluate",
    "minialex.exercises.command",
    "minialex.trace",
    "minialex.pictures",
    "minialex.bench",
]


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("summary", help="AlexNet's per-layer output shape, parameters and FLOPs")
    p.add_argument("--input-size", type=int, default=224, help="image side length in pixels (default 224)")
    p.add_argument("--in-channels", type=int, default=1)
    p.add_argument("--num-classes", type=int, default=10)
    p.add_argument("--batch", type=int, default=1, help="batch size the FLOPs are counted for")
    p.set_defaults(func=_summary)

    p = subparsers.add_parser("gradcheck", help="check every op's backward against finite differences (float64)")
    add_backend_argument(p)
    p.add_argument("--max-elements", type=int, default=None,
                   help="check at most this many elements per input (default: every element)")
    p.set_defaults(func=_gradcheck)


def add_backend_argument(parser) -> None:
    """``--backend`` for subcommands that compute; applied by :func:`main` before the subcommand runs."""
    parser.add_argument("--backend", choices=["numpy", "numba", "cupy"], default=None,
                        help="array engine (default: $MINIALEX_BACKEND, else numba)")


def _summary(args) -> int:
    from . import models, summary
    net = models.alexnet(args.num_classes, args.in_channels, args.input_size)
    summary(net, (args.batch, args.in_channels, args.input_size, args.input_size))
    return 0


def _gradcheck(args) -> int:
    from .backend import get_backend
    from .checks import run_all
    results = run_all(max_elements=args.max_elements)
    print(f"gradient checks, backend {get_backend().name}, float64, central differences (eps 1e-6)\n")
    print(f"| {'check':<32} | {'input':<14} | {'elements':>8} | {'max rel error':>13} | {'max abs error':>13} | ok |")
    print(f"|{'-' * 34}|{'-' * 16}|{'-' * 10}|{'-' * 15}|{'-' * 15}|----|")
    for name, result in results:
        for r in result.inputs:
            print(f"| {name:<32} | {r.name[:14]:<14} | {r.checked:>8} | {r.max_rel_error:>13.2e} | "
                  f"{r.max_abs_error:>13.2e} | {'ok' if r.ok else 'NO'} |")
    failed = [name for name, result in results if not result.ok]
    print(f"\n{len(results) - len(failed)} of {len(results)} checks passed" + (f"; failed: {failed}" if failed else ""))
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minialex", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    backend = getattr(args, "backend", None)
    if backend:
        from .backend import BackendUnavailable, use_backend
        try:
            use_backend(backend)
        except BackendUnavailable as e:
            print(f"minialex: {e}", file=sys.stderr)
            return 2
    try:
        return args.func(args) or 0
    except ValueError as e:  # bad input the library explained (shapes, sizes, data files, checkpoints)
        print(f"minialex {args.command}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nminialex: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head & co.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
