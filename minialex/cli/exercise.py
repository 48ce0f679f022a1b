"""``minialex exercise list | start NAME | check NAME``."""

from __future__ import annotations

import os
import sys

from ..tools.exercises import NAMES


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("exercise", help="write an op's forward and backward yourself and check them")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    dir_help = "your exercise folder (default ./minialex_exercises)"

    a = actions.add_parser("list", help="the exercises, and which you have started")
    a.add_argument("--dir", default=None, help=dir_help)
    a.set_defaults(func=_list)

    a = actions.add_parser("start", help="write the skeleton of an exercise into your folder")
    a.add_argument("name", metavar="NAME", help=", ".join(NAMES))
    a.add_argument("--dir", default=None, help=dir_help)
    a.add_argument("--solution", action="store_true", help="write the reference solution instead")
    a.add_argument("--force", action="store_true", help="overwrite an existing file (kept as .bak)")
    a.set_defaults(func=_start)

    a = actions.add_parser("check", help="check your implementation; exit code 0 only if every check passes")
    a.add_argument("name", metavar="NAME", help=", ".join(NAMES))
    a.add_argument("--dir", default=None, help=dir_help)
    a.set_defaults(func=_check)


def _list(args) -> int:
    from ..tools.exercises.catalog import EXERCISES
    from ..tools.exercises.files import exercise_path
    print(f"{'exercise':<14} {'functions':<48} your file")
    for name in NAMES:
        ex, path = EXERCISES[name], exercise_path(name, args.dir)
        print(f"{name:<14} {', '.join(ex.functions):<48} {path if os.path.exists(path) else '-'}")
        print(f"{'':<14} {ex.summary}")
    print("\nStart one with: minialex exercise start NAME   (docs/exercises.md walks through it)")
    return 0


def _start(args) -> int:
    from ..tools.exercises.files import write
    path = write(args.name, args.dir, with_solution=args.solution, force=args.force)
    what = "the reference solution" if args.solution else "the skeleton"
    print(f"wrote {what} of {args.name} to {path}")
    if not args.solution:
        print(f"fill in its functions, then run: minialex exercise check {args.name}"
              + (f" --dir {args.dir}" if args.dir else ""))
    return 0


def _check(args) -> int:
    from ..tools.exercises.checker import check
    from ..tools.exercises.files import exercise_path
    path = exercise_path(args.name, args.dir)
    if not os.path.exists(path):
        print(f"minialex exercise: no file {path}; start with: minialex exercise start {args.name}"
              + (f" --dir {args.dir}" if args.dir else ""), file=sys.stderr)
        return 2
    report = check(args.name, path)
    print(report)
    return 0 if report.ok else 1
