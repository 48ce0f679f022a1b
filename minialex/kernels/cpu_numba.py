"""Numba kernels for the CPU hot paths (placeholder: same as the reference until written)."""
from .reference import *  # noqa: F401,F403
