"""The reference solutions of the exercises, one file each, NumPy only.

Each file is also the source of its exercise's skeleton: ``minialex exercise start NAME`` copies it with the
function bodies cut down to their docstrings (see :func:`minialex.tools.exercises.files.skeleton`).
"""
