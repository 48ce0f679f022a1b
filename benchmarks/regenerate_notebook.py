"""Rerun docs/alexnet.ipynb on the current code and save it, outputs and all, with where they were made.

    PYTHONPATH=. python benchmarks/regenerate_notebook.py [--resize N] [--epochs N] [--limit N] [--lr X]
        [--backend numba] [--max-load X | --allow-busy] [--timeout S] [--notebook docs/alexnet.ipynb] [--output PATH]

The settings default to the notebook's own (its first cell reads ``ALEXNET_RESIZE``, ``ALEXNET_EPOCHS``,
``ALEXNET_LIMIT`` and ``ALEXNET_LR`` from the environment, with a default for each), so the saved outputs are what
a reader who runs it unchanged gets; the kernel starts in the repository's root, so it imports this checkout. The
"where the time goes" cell is a timing, so the script refuses to start while the 1-minute load average is above
``--max-load`` (0.25 per usable CPU: 0.5 on 2 CPUs) unless ``--allow-busy``. The notebook is written only once
every cell has run, to a temporary file renamed over it (a failed or killed run leaves the old one in place), with
``metadata["minialex"]``: the command, the settings, the wall time and the machine record of
:mod:`minialex.provenance` (CPU, ISA, BLAS kernel, threads, versions, load before and after, commit).
tests/test_notebook.py checks the saved outputs against the current code.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's minialex, whatever is installed: the record names its commit

from minialex.provenance import command_line, describe, finish_record, machine_record  # noqa: E402

NOTEBOOK = ROOT / "docs" / "alexnet.ipynb"
# The first cell's lines: NAME = int(os.environ.get("ALEXNET_NAME", default)) ...
SETTING = re.compile(r"""os\.environ\.get\(["'](ALEXNET_\w+)["'],\s*([^)]+?)\s*\)""")
FLAGS = {"ALEXNET_RESIZE": "resize", "ALEXNET_EPOCHS": "epochs", "ALEXNET_LIMIT": "limit", "ALEXNET_LR": "lr"}


class Refused(Exception):
    """What the script says in one line before exiting with status 2 (it ran and wrote nothing)."""


class CellFailed(Exception):
    """A cell raised: the script says which in one line and exits with status 1 (it wrote nothing)."""


def notebook_defaults(nb) -> dict[str, str]:
    """The settings the notebook's first code cell declares, ``{"ALEXNET_RESIZE": "72", ...}``."""
    first = next((c for c in nb.cells if c.cell_type == "code"), None)
    return dict(SETTING.findall(first.source)) if first is not None else {}


def usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_quiet(max_load: float) -> float:
    """The 1-minute load average, if it is at most ``max_load``; else :class:`Refused`."""
    load = os.getloadavg()[0]
    if load > max_load:
        raise Refused(f"the 1-minute load average is {load:.2f}, above --max-load {max_load:.2f}: the notebook's "
                      "trace cell times a training step, so run this on a quiet machine (or pass --allow-busy)")
    return load


def code_dirty(notebook: Path) -> bool | None:
    """Whether tracked files other than ``notebook`` differ from the commit (the notebook is what gets rewritten:
    an earlier regeneration that was not committed does not make the code dirty)."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "--", ".",
                              f":(exclude){os.path.relpath(notebook.resolve(), ROOT)}"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return bool(out.strip())


def read_notebook(path: Path):
    """The notebook, with an id for every cell: nbformat 4.5 asks for them, and a cell pasted in without one makes
    every read warn (the ids are nbformat's own kind, 8 hex digits)."""
    import nbformat
    with open(path) as f:
        nb = nbformat.reader.reads(f.read())
    for cell in nb.cells:
        if not cell.get("id"):
            cell["id"] = uuid.uuid4().hex[:8]
    return nb


def write_atomically(nb, path: Path) -> None:
    import nbformat
    nbformat.validate(nb)
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "w") as f:
        nbformat.write(nb, f)
    os.replace(partial, path)


def regenerate(notebook: Path, output: Path, overrides: dict[str, str], backend: str, timeout: float | None,
               max_load: float | None) -> dict:
    """Run every cell of ``notebook`` and write it to ``output``; returns the ``metadata["minialex"]`` entry.
    ``max_load`` None runs on a busy machine too."""
    import nbclient
    from nbclient.exceptions import CellExecutionError

    if max_load is not None:
        check_quiet(max_load)
    nb = read_notebook(notebook)
    declared = notebook_defaults(nb)
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise Refused(f"{notebook.name} declares no {', '.join(unknown)} in its first cell "
                      f"(it has: {', '.join(declared) or 'none'})")
    settings = {**declared, **overrides, "MINIALEX_BACKEND": backend}
    record = machine_record()
    record["git"]["dirty"] = code_dirty(notebook)
    start = time.perf_counter()
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                     resources={"metadata": {"path": str(ROOT)}})
    try:
        client.execute(env={**os.environ, **settings})
    except CellExecutionError as e:
        failed = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                       and any(o.output_type == "error" for o in c.get("outputs", []))), "?")
        raise CellFailed(f"cell {failed} failed ({e.ename}: {e.evalue}); {output} was not written") from None
    wall = time.perf_counter() - start
    finish_record(record)
    entry = {"command": command_line(), "settings": settings, "wall_seconds": round(wall, 1),
             "max_load": max_load, "machine": describe(record), "provenance": record}
    nb.metadata["minialex"] = entry
    write_atomically(nb, output)
    return entry


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK)
    parser.add_argument("--output", type=Path, help="where to write it (default: over --notebook)")
    parser.add_argument("--resize", type=int, help="ALEXNET_RESIZE (default: the notebook's)")
    parser.add_argument("--epochs", type=int, help="ALEXNET_EPOCHS (default: the notebook's)")
    parser.add_argument("--limit", type=int, help="ALEXNET_LIMIT, training images, 0 for all (default: the notebook's)")
    parser.add_argument("--lr", type=float, help="ALEXNET_LR (default: the notebook's)")
    parser.add_argument("--backend", default=os.environ.get("MINIALEX_BACKEND", "numba"),
                        help="MINIALEX_BACKEND for the kernel (default: numba, or the variable's value)")
    parser.add_argument("--max-load", type=float, default=0.25 * usable_cpus(),
                        help="refuse above this 1-minute load average (default: 0.25 per usable CPU)")
    parser.add_argument("--allow-busy", action="store_true", help="run whatever the load (the timings say little)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds a cell may take (default: no limit)")
    args = parser.parse_args(argv)
    overrides = {name: str(getattr(args, flag)) for name, flag in FLAGS.items() if getattr(args, flag) is not None}
    output = args.output or args.notebook
    try:
        entry = regenerate(args.notebook, output, overrides, args.backend, args.timeout,
                           None if args.allow_busy else args.max_load)
    except Refused as e:
        print(f"regenerate_notebook: {e}", file=sys.stderr)
        return 2
    except CellFailed as e:
        print(f"regenerate_notebook: {e}", file=sys.stderr)
        return 1
    record = entry["provenance"]
    print(f"{os.path.relpath(output.resolve(), ROOT)}: every cell ran in {entry['wall_seconds']:.1f} s with "
          + " ".join(f"{k}={v}" for k, v in entry["settings"].items()))
    print(f"on {entry['machine']}; load average after {record['load_average_after'][0]:.2f}"
          if record["load_average_after"] else f"on {entry['machine']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
