"""Element-wise arithmetic, matmul, reductions and reshapes: the glue between layers.

Broadcasting ops sum their gradient back down to each input's shape (:func:`unbroadcast`).
"""

from __future__ import annotations

import math

from ..backend import get_backend
from ..errors import ShapeError
from ..tensor import Tensor


def unbroadcast(g, shape):
    """Sum ``g`` over the axes that broadcasting added or stretched, so it has ``shape``."""
    if g.shape == tuple(shape):
        return g
    extra = g.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1 and g.shape[extra + i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


def _binary(a, b):
    """Both operands as Tensors; a plain number or array takes the other operand's dtype."""
    xp = get_backend().xp
    if not isinstance(a, Tensor):
        a = Tensor(xp.asarray(a, dtype=b.dtype))
    if not isinstance(b, Tensor):
        b = Tensor(xp.asarray(b, dtype=a.dtype))
    return a, b


def add(a, b) -> Tensor:
    a, b = _binary(a, b)
    return Tensor.from_op(a.data + b.data, (a, b),
                          lambda g: (unbroadcast(g, a.shape), unbroadcast(g, b.shape)), "add")


def sub(a, b) -> Tensor:
    a, b = _binary(a, b)
    return Tensor.from_op(a.data - b.data, (a, b),
                          lambda g: (unbroadcast(g, a.shape), unbroadcast(-g, b.shape)), "sub")


def mul(a, b) -> Tensor:
    """d(ab)/da = b, d(ab)/db = a."""
    a, b = _binary(a, b)
    return Tensor.from_op(a.data * b.data, (a, b),
                          lambda g: (unbroadcast(g * b.data, a.shape), unbroadcast(g * a.data, b.shape)), "mul")


def div(a, b) -> Tensor:
    """d(a/b)/da = 1/b, d(a/b)/db = -a/b^2."""
    a, b = _binary(a, b)
    return Tensor.from_op(a.data / b.data, (a, b),
                          lambda g: (unbroadcast(g / b.data, a.shape),
                                     unbroadcast(-g * a.data / (b.data * b.data), b.shape)), "div")


def neg(a) -> Tensor:
    return Tensor.from_op(-a.data, (a,), lambda g: (-g,), "neg")


def matmul(a, b) -> Tensor:
    """(m, k) @ (k, n): dA = G B^T, dB = A^T G."""
    a, b = _binary(a, b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ShapeError(f"matmul: expected (m, k) @ (k, n) matrices, got {a.shape} @ {b.shape}")
    return Tensor.from_op(a.data @ b.data, (a, b), lambda g: (g @ b.data.T, a.data.T @ g), "matmul")


def sum(a, axis=None, keepdims=False) -> Tensor:  # noqa: A001 -- mirrors torch.sum
    xp = get_backend().xp

    def backward(g):
        if axis is not None and not keepdims:
            g = xp.expand_dims(g, axis)
        return (xp.broadcast_to(g, a.shape),)
    return Tensor.from_op(xp.asarray(a.data.sum(axis=axis, keepdims=keepdims)), (a,), backward, "sum")


def mean(a, axis=None, keepdims=False) -> Tensor:
    axes = range(a.ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
    count = math.prod(a.shape[i] for i in axes)
    return div(sum(a, axis, keepdims), float(count))


def reshape(a, *shape) -> Tensor:
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    try:
        out = a.data.reshape(shape)
    except ValueError:
        raise ShapeError(f"reshape: cannot view a tensor of shape {a.shape} ({a.size} elements) as {tuple(shape)}") \
            from None
    return Tensor.from_op(out, (a,), lambda g: (g.reshape(a.shape),), "reshape")


def _attach():
    """Give Tensor its operators, so ``w * x + b`` builds a graph."""
    T = Tensor
    T.__add__ = T.__radd__ = add
    T.__sub__ = sub
    T.__rsub__ = lambda a, b: sub(b, a)
    T.__mul__ = T.__rmul__ = mul
    T.__truediv__ = div
    T.__rtruediv__ = lambda a, b: div(b, a)
    T.__neg__ = neg
    T.__matmul__ = matmul
    T.sum = sum
    T.mean = mean
    T.reshape = reshape
    T.T = property(lambda a: Tensor.from_op(a.data.T, (a,), lambda g: (g.T,), "transpose"))


_attach()
