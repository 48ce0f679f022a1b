"""Tools for studying and measuring minialex, built on the library and never imported by it.

``trace.py`` (one step timed per layer), ``inspect.py`` (pictures of a trained network), ``bench.py`` (every
engine's speed beside PyTorch's), ``gradient_checks.py`` (the standard gradient checks) and ``exercises/`` (write
an op yourself and have it checked). Their commands are in :mod:`minialex.cli`.
"""
