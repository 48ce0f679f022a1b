"""The ladder: how each exercise is checked, and which of yours pass (``minialex exercise list``).

Op exercises (a forward and a backward on arrays) share :mod:`.checker`; the others have checkers of their own
(:mod:`.autograd_check`, :mod:`.winograd_check`, :mod:`.gpu_check`), each returning the same :class:`Report`.

Progress: every ``check`` records its verdict in ``.progress.json`` in your exercise folder, with the SHA-256
of the file it checked. ``list`` shows *passes* only while the file is the one that passed: edit it and the mark
becomes *changed* until the next check.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os

from . import NAMES

CHECKERS = {"autograd": "autograd_check", "winograd1d": "winograd_check", "winograd2d": "winograd_check",
            "gpu_max_pool2d": "gpu_check"}
"""Exercises with a checker of their own (module in this package); every other name is an op exercise."""

PROGRESS_FILE = ".progress.json"


def summary_of(name: str) -> str:
    """One line: what the learner writes in exercise ``name``."""
    if name in CHECKERS:
        return importlib.import_module(f".{CHECKERS[name]}", __package__).SUMMARIES[name]
    from .catalog import EXERCISES
    return EXERCISES[name].summary


def functions_of(name: str) -> tuple:
    """The functions the learner's file must define, in the skeleton's order."""
    if name in CHECKERS:
        return importlib.import_module(f".{CHECKERS[name]}", __package__).FUNCTIONS[name]
    from .catalog import EXERCISES
    return EXERCISES[name].functions


def check_exercise(name: str, path: str):
    """The :class:`~.checker.Report` of exercise ``name`` on the learner's file ``path``."""
    if name in CHECKERS:
        module = importlib.import_module(f".{CHECKERS[name]}", __package__)
        return module.check(name, path)
    from .checker import check
    return check(name, path)


def _digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _progress_path(directory) -> str:
    from .files import DEFAULT_DIR
    return os.path.join(directory or DEFAULT_DIR, PROGRESS_FILE)


def read_progress(directory=None) -> dict:
    try:
        with open(_progress_path(directory)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def record(name: str, path: str, passed: bool, directory=None) -> None:
    progress = read_progress(directory)
    progress[name] = {"passed": bool(passed), "sha256": _digest(path)}
    target = _progress_path(directory)
    with open(target + ".tmp", "w") as f:
        json.dump(progress, f, indent=1, sort_keys=True)
    os.replace(target + ".tmp", target)


def status(name: str, directory=None) -> str:
    """``passes``, ``fails``, ``changed`` (edited since its last check), ``unchecked`` or ``-`` (not started)."""
    from .files import exercise_path
    path = exercise_path(name, directory)
    if not os.path.exists(path):
        return "-"
    entry = read_progress(directory).get(name)
    if entry is None:
        return "unchecked"
    if entry.get("sha256") != _digest(path):
        return "changed"
    return "passes" if entry.get("passed") else "fails"


def ladder(directory=None) -> list[tuple[str, str]]:
    """(name, status) for every exercise, in ladder order."""
    return [(name, status(name, directory)) for name in NAMES]
