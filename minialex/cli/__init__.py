"""The ``minialex`` command: one module per subcommand, all the argument parsing of the project.

Each subcommand module has ``add_parser(subparsers)``, which declares its flags (from the shared vocabulary in
:mod:`.arguments`) and sets ``func``; ``func(args)`` calls a library function with plain arguments and prints.
Errors the library explains (:class:`minialex.errors.MinialexError`: bad input, a missing engine, a run that
cannot start) are printed here as one line, ``minialex CMD: message``, exit code 2; anything else is a bug and
shows its traceback. ``minialex --debug CMD`` (or ``MINIALEX_DEBUG=1``) shows the traceback of the one-liners too.
Heavy imports stay inside the functions so ``minialex --help`` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import traceback

# The subcommands, in the order ``--help`` lists them; each is the module minialex.cli.<name>.
COMMANDS = ["summary", "gradcheck", "train", "ablate", "evaluate", "exercise", "trace", "inspect", "bench"]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    parser = argparse.ArgumentParser(prog="minialex", description="AlexNet from scratch on NumPy, Numba and CuPy: "
                                                                  "train it, check it, time it, look inside it")
    parser.add_argument("--version", action="version", version=f"minialex {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of errors that are otherwise one line (or set MINIALEX_DEBUG=1)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(subparsers)
    return parser


def debugging(args) -> bool:
    return args.debug or os.environ.get("MINIALEX_DEBUG", "").strip() not in ("", "0")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from ..errors import MinialexError
    try:
        backend = getattr(args, "backend", None)
        if backend:
            from ..backend import use_backend
            use_backend(backend)
        # --conv-algorithm is the default while the command runs (main is also called in-process)
        from ..ops.conv_algorithm import conv_algorithm
        algorithm = getattr(args, "conv_algorithm", None)
        with conv_algorithm(algorithm) if algorithm else contextlib.nullcontext():
            return args.func(args) or 0
    except MinialexError as e:  # input or setup the library explained; anything else is a bug: its traceback
        if debugging(args):
            traceback.print_exc()
        print(f"minialex {args.command}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nminialex: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head & co.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
