"""``minialex exercise list | start NAME | check NAME | capstone``."""

from __future__ import annotations

import os
import sys

from . import arguments
from ..tools.exercises import NAMES


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("exercise", help="write an op's forward and backward yourself and check them")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    dir_help = "your exercise folder (default ./minialex_exercises)"

    a = actions.add_parser("list", help="the exercises in ladder order, and which of yours pass")
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
    a.add_argument("--case", default=None, metavar="REPRO",
                   help="re-run one random case, as a failing check printed it (e.g. 'n=1 c=1 h=3 ... values=7')")
    a.set_defaults(func=_check)

    from ..tools.exercises.capstone import DEFAULT_BUDGET, DEFAULT_INPUT, OPS
    a = actions.add_parser("capstone", help="train AlexNet on Fashion-MNIST with your ops, beside minialex's own")
    a.add_argument("--use", default=None, metavar="OPS",
                   help=f"comma-separated ops of yours to train with (default: all of {','.join(OPS)})")
    arguments.input_size(a, f"image side in pixels (default {DEFAULT_INPUT}, AlexNet's smallest)",
                         default=DEFAULT_INPUT)
    a.add_argument("--budget", default=DEFAULT_BUDGET, metavar="EPOCHSxIMAGES",
                   help=f"epochs x training images per epoch (default {DEFAULT_BUDGET})")
    arguments.seed(a, "seed of the initial weights, the batch order and the dropout masks (default 0)", default=0)
    arguments.test_limit(a, "test images scored after each epoch (default 1000)")
    arguments.data_dir(a)
    a.add_argument("--dir", default=None, help=dir_help)
    a.add_argument("--figure", default="capstone.png", metavar="PNG",
                   help="where to draw your curve over minialex's (default capstone.png)")
    a.set_defaults(func=_capstone)


def _list(args) -> int:
    from ..tools.exercises.ladder import ladder, summary_of
    print(f"{'':<3}{'exercise':<16} {'yours':<10} what you write")
    for i, (name, state) in enumerate(ladder(args.dir), 1):
        print(f"{i:>2} {name:<16} {state:<10} {summary_of(name)}")
    passed = sum(state == "passes" for _, state in ladder(args.dir))
    print(f"\n{passed} of {len(NAMES)} pass. Start one with: minialex exercise start NAME; when the ops pass, train "
          "AlexNet on them: minialex exercise capstone (docs/exercises.md walks the ladder)")
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
    from ..tools.exercises.files import check_name, exercise_path
    from ..tools.exercises.ladder import check_exercise, record
    path = exercise_path(check_name(args.name), args.dir)
    if not os.path.exists(path):
        print(f"minialex exercise: no file {path}; start with: minialex exercise start {args.name}"
              + (f" --dir {args.dir}" if args.dir else ""), file=sys.stderr)
        return 2
    if args.case is not None:
        from ..tools.exercises.properties import rerun
        report = rerun(args.name, path, args.case)
        print(report)
        return 0 if report.ok else 1
    report = check_exercise(args.name, path)
    record(args.name, path, report.ok, args.dir)
    print(report)
    return 0 if report.ok else 1


def _capstone(args) -> int:
    from ..tools.exercises import capstone
    use = capstone.parse_use(args.use)
    budget = capstone.Budget.parse(args.budget, args.test_limit or capstone.TEST_IMAGES)
    results = capstone.run(use, args.dir, budget, args.input_size, args.seed, data_dir=args.data_dir,
                           figure=args.figure)
    print(capstone.summary(results))
    print(f"figure: {args.figure}")
    return 0 if results["divergence"]["first_step"] is None else 1
