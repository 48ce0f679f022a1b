"""Argument checks shared by the ops: clear errors instead of NumPy tracebacks."""

from __future__ import annotations

from ..errors import InputError, ShapeError
from ..tensor import Tensor, as_tensor


def pair(value, name: str, op: str, minimum: int = 0) -> tuple[int, int]:
    """An int or an (h, w) pair of ints -> (h, w), each at least ``minimum``."""
    values = (value, value) if isinstance(value, int) else tuple(value) if isinstance(value, (tuple, list)) else None
    if values is None or len(values) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise InputError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(values) < minimum:
        raise InputError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return values


def check_float(t: Tensor, op: str, what: str = "input") -> None:
    if t.dtype.kind != "f":
        raise InputError(f"{op}: expected a floating-point {what} (float32 or float64), got dtype {t.dtype}")


def check_same_dtype(op: str, **tensors: Tensor) -> None:
    dtypes = {name: t.dtype for name, t in tensors.items() if t is not None}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{n} {d}" for n, d in dtypes.items())
        raise InputError(f"{op}: dtypes differ ({listed}); convert the input or the model (model.float() / "
                         "model.double()) so they match")


def mm(a, b):
    """``a @ b`` for 2-D arrays, handed to BLAS with the result's longer side as its rows.

    Same product, same values up to rounding; only the speed differs. OpenBLAS's threaded GEMM is slow when the
    result is short and wide: on 2 cores, conv1's dW = G @ col^T (96 x 121, summed over 373248 columns) took
    6.6 s and (col @ G^T)^T 0.15 s; fc2's dx = G @ W (a 128-row batch first) 84 ms against 56 ms. The result
    of the transposed form is Fortran-ordered, which every consumer here accepts.
    """
    return a @ b if a.shape[0] >= b.shape[1] else (b.T @ a.T).T


def check_rank(t: Tensor, rank: int, op: str, layout: str) -> None:
    if t.ndim != rank:
        raise ShapeError(f"{op}: expected a {rank}-D input {layout}, got shape {t.shape}")


__all__ = ["Tensor", "as_tensor", "pair", "check_float", "check_same_dtype", "check_rank", "mm"]
