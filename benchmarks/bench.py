"""``minialex bench`` as a script: ``PYTHONPATH=. python benchmarks/bench.py --quick``; ``main(argv)`` for callers.

The code lives in :mod:`minialex.tools.bench` and the flags in :mod:`minialex.cli.bench`, so the installed
``minialex bench`` command is the same thing.
"""

import sys

from minialex.cli import main as _cli


def main(argv=None) -> int:
    return _cli(["bench", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
