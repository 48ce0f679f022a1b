"""The ``minialex`` command: one module per subcommand, all the argument parsing of the project.

Each subcommand module has ``add_parser(subparsers)``, which declares its flags (from the shared vocabulary in
:mod:`.arguments`) and sets ``func``; ``func(args)`` calls a library function with plain arguments and prints.
Library errors that explain bad input (``ValueError`` and its kin) are printed here as one line, exit code 2.
Heavy imports stay inside the functions so ``minialex --help`` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys

# The subcommands, in the order ``--help`` lists them; each is the module minialex.cli.<name>.
COMMANDS = ["summary", "gradcheck", "train", "ablate", "evaluate", "exercise", "trace", "inspect", "bench"]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    parser = argparse.ArgumentParser(prog="minialex", description="AlexNet from scratch on NumPy, Numba and CuPy: "
                                                                  "train it, check it, time it, look inside it")
    parser.add_argument("--version", action="version", version=f"minialex {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(subparsers)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    backend = getattr(args, "backend", None)
    if backend:
        from ..backend import BackendUnavailable, use_backend
        try:
            use_backend(backend)
        except BackendUnavailable as e:
            print(f"minialex: {e}", file=sys.stderr)
            return 2
    try:
        # --conv-algorithm is the process default while the command runs (main is also called in-process)
        from ..ops.conv_algorithm import conv_algorithm
        algorithm = getattr(args, "conv_algorithm", None)
        with conv_algorithm(algorithm) if algorithm else contextlib.nullcontext():
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
