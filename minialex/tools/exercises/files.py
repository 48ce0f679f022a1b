"""The learner's files: skeletons cut from the reference solutions, and where they go.

A skeleton is its solution file with every function body replaced by ``raise NotImplementedError``: signatures,
docstrings (the math and the shapes) and the module docstring stay. So the solution is the one source of both.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from ...errors import InputError
from . import NAMES

SOLUTIONS = Path(__file__).parent / "solutions"
DEFAULT_DIR = "minialex_exercises"
SOLUTION_BANNER = "# The reference solution, written by `minialex exercise start {name} --solution`.\n"


class ExerciseError(InputError):
    pass


def check_name(name: str) -> str:
    if name not in NAMES:
        close = [n for n in NAMES if n.startswith(name[:3])]
        guess = f" Did you mean {close[0]}?" if close else ""
        raise ExerciseError(f"no exercise named {name!r}.{guess} The exercises: {', '.join(NAMES)}")
    return name


def solution(name: str) -> str:
    return (SOLUTIONS / f"{check_name(name)}.py").read_text()


def skeleton(name: str) -> str:
    """The solution with each top-level function's body cut to ``raise NotImplementedError``."""
    source = solution(name)
    lines = source.splitlines(keepends=True)
    functions = [node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]
    for fn in reversed(functions):  # bottom up, so earlier line numbers stay valid
        docstring = fn.body[0]
        if not (isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)):
            raise AssertionError(f"solutions/{name}.py: {fn.name} needs a docstring to keep in the skeleton")
        indent = " " * fn.body[0].col_offset
        lines[docstring.end_lineno:fn.end_lineno] = [f"{indent}raise NotImplementedError\n"]
    return "".join(lines)


def exercise_path(name: str, directory: str | None = None) -> str:
    return os.path.join(directory or DEFAULT_DIR, f"{check_name(name)}.py")


def write(name: str, directory: str | None = None, with_solution: bool = False, force: bool = False) -> str:
    """Write the skeleton (or the solution) to ``directory/name.py``; an existing file is kept as ``.bak``."""
    path = exercise_path(name, directory)
    text = SOLUTION_BANNER.format(name=name) + solution(name) if with_solution else skeleton(name)
    if os.path.exists(path):
        if not force:
            raise ExerciseError(f"{path} already exists (your work?); pass --force to overwrite it "
                                f"(the old file is kept as {path}.bak)")
        os.replace(path, path + ".bak")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path
