"""The hot loops, apart from the math that uses them.

Each engine's module (``reference``, ``cpu_numba``, ``gpu``) exports the same functions with the same
signatures; :mod:`minialex.backend` picks one. ``reference`` is the readable definition the others must equal.
"""
