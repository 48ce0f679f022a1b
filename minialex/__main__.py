"""``python -m minialex ...``: the same command line as the ``minialex`` script (minialex.cli)."""

from .cli import main

raise SystemExit(main())
