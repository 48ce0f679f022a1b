"""``minialex bench`` as a script: ``PYTHONPATH=. python benchmarks/bench.py --quick``; ``main(argv)`` for callers.

The code lives in :mod:`minialex.bench`, so the installed ``minialex bench`` command has it too.
"""

import sys

from minialex.bench import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
