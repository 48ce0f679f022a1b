"""Tensor factories with PyTorch's names and signatures: ``randn``, ``rand``, ``zeros``, ``ones``, ``tensor``,
``arange``.

    X = minialex.randn(1, 1, 224, 224)               # float32, N(0, 1)
    minialex.zeros((2, 3), dtype=minialex.int64)     # size as ints or as one tuple
    minialex.tensor([1, 2]).dtype, minialex.tensor([1.0]).dtype    # int64, float32 -- as torch.tensor infers
    minialex.arange(0, 1, 0.25)                      # [0, 0.25, 0.5, 0.75]: float32 because a bound is a float

The arrays land on the active engine (:func:`minialex.use_backend`). Random numbers are drawn on the host from
:func:`minialex.backend.host_rng`, seeded by :func:`minialex.manual_seed`, and then moved: a seed gives the same
numbers on NumPy, Numba and CuPy (not the numbers PyTorch draws from the same seed -- the generators differ).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .backend import get_backend, host_rng
from .errors import InputError
from .tensor import DEFAULT_DTYPE, Tensor

__all__ = ["randn", "rand", "zeros", "ones", "tensor", "arange"]


def _dtype(dtype, what: str, floating: bool = False) -> np.dtype:
    """``dtype`` (None: float32) as a NumPy dtype; ``floating`` refuses integer and bool dtypes."""
    try:
        dt = np.dtype(DEFAULT_DTYPE if dtype is None else dtype)
    except TypeError:
        raise InputError(f"{what}: dtype must be a dtype such as minialex.float32 or minialex.int64, "
                         f"got {dtype!r}") from None
    if floating and dt not in (np.float32, np.float64):
        raise InputError(f"{what}: random numbers come in float32 or float64, got dtype {dt}")
    return dt


def _size(size: tuple, what: str, keyword=None) -> tuple[int, ...]:
    """``f(2, 3)``, ``f((2, 3))`` or ``f(size=(2, 3))`` -> (2, 3), with each dimension a non-negative int."""
    if keyword is not None:
        if size:
            raise InputError(f"{what}: give the size as arguments or as size=, not both")
        size = (keyword,)
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    bad = [d for d in size if not isinstance(d, numbers.Integral) or isinstance(d, bool) or d < 0]
    if bad:
        raise InputError(f"{what}: size must be non-negative ints, given as f(2, 3) or f((2, 3)); got {size!r}")
    return tuple(int(d) for d in size)


def randn(*shape, dtype=None, requires_grad: bool = False, size=None) -> Tensor:
    """Samples of the standard normal N(0, 1), of shape ``size``."""
    dt = _dtype(dtype, "randn", floating=True)
    return Tensor(host_rng().standard_normal(_size(shape, "randn", size), dtype=dt), requires_grad=requires_grad)


def rand(*shape, dtype=None, requires_grad: bool = False, size=None) -> Tensor:
    """Samples of the uniform distribution on [0, 1), of shape ``size``."""
    dt = _dtype(dtype, "rand", floating=True)
    # drawn in the dtype itself: a float64 draw just below 1 would round to 1.0 in float32
    return Tensor(host_rng().random(_size(shape, "rand", size), dtype=dt), requires_grad=requires_grad)


def zeros(*shape, dtype=None, requires_grad: bool = False, size=None) -> Tensor:
    return Tensor(get_backend().xp.zeros(_size(shape, "zeros", size), _dtype(dtype, "zeros")),
                  requires_grad=requires_grad)


def ones(*shape, dtype=None, requires_grad: bool = False, size=None) -> Tensor:
    return Tensor(get_backend().xp.ones(_size(shape, "ones", size), _dtype(dtype, "ones")),
                  requires_grad=requires_grad)


_INFERRED = {"f": DEFAULT_DTYPE, "i": np.int64, "u": np.int64, "b": np.bool_}


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (numbers, nested lists, a NumPy or CuPy array, a Tensor).

    Without ``dtype``, as ``torch.tensor``: Python floats become float32, ints int64, bools bool; arrays keep their
    dtype.
    """
    if isinstance(data, Tensor):
        data = data.data
    if dtype is None and not hasattr(data, "dtype"):
        kind = np.asarray(data).dtype.kind
        if kind not in _INFERRED:
            raise InputError(f"tensor: expected numbers, bools or (nested) lists of them, got {type(data).__name__} "
                             f"(NumPy kind {kind!r})")
        dtype = _INFERRED[kind]
    elif dtype is not None:
        dtype = _dtype(dtype, "tensor")
    return Tensor(get_backend().xp.array(data, dtype=dtype), requires_grad=requires_grad)  # xp.array copies


def arange(start, end=None, step=1, *, dtype=None, requires_grad: bool = False) -> Tensor:
    """[start, start + step, ...] up to but excluding ``end``; ``arange(n)`` is 0 .. n-1.

    Without ``dtype``, as ``torch.arange``: int64 when start, end and step are all ints, float32 otherwise. The
    length is ceil((end - start) / step); float values are start + i * step computed in float64, then rounded.
    An integer dtype truncates float bounds toward zero first, as PyTorch does.
    """
    if end is None:
        start, end = 0, start
    for name, value in (("start", start), ("end", end), ("step", step)):
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise InputError(f"arange: {name} must be a number, got {value!r}")
    if dtype is None:
        integral = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dt = np.dtype(np.int64 if integral else DEFAULT_DTYPE)
    else:
        dt = _dtype(dtype, "arange")
    if dt.kind in "iub":
        start, end, step = math.trunc(start), math.trunc(end), math.trunc(step)
    if step == 0:
        raise InputError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise InputError(f"arange: end {end} lies on the wrong side of start {start} for step {step}")
    if dt.kind in "iub":
        values = np.arange(start, end, step, dtype=np.int64)  # exact, with no trip through float64
    else:
        values = start + np.arange(math.ceil((end - start) / step), dtype=np.float64) * step
    return Tensor(values.astype(dt), requires_grad=requires_grad)
