"""Element-wise arithmetic, matmul, reductions and reshapes: the glue between layers.

Broadcasting ops sum their gradient back down to each input's shape (:func:`unbroadcast`).
"""

from __future__ import annotations

import math
import operator

from ..backend import get_backend
from ..errors import InputError, ShapeError
from ..tensor import Tensor, as_tensor


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


def sum(a, axis=None, keepdims=False, *, dim=None, keepdim=None) -> Tensor:  # noqa: A001 -- mirrors torch.sum
    """Sum over ``axis`` (PyTorch's ``dim``; None: all), keeping it as size 1 if ``keepdims`` (``keepdim``)."""
    xp = get_backend().xp
    axis, keepdims = _dim(axis, dim, "sum"), keepdims if keepdim is None else keepdim

    def backward(g):
        if axis is not None and not keepdims:
            g = xp.expand_dims(g, axis)
        return (xp.broadcast_to(g, a.shape),)
    return Tensor.from_op(xp.asarray(a.data.sum(axis=axis, keepdims=keepdims)), (a,), backward, "sum")


def mean(a, axis=None, keepdims=False, *, dim=None, keepdim=None) -> Tensor:
    axis, keepdims = _dim(axis, dim, "mean"), keepdims if keepdim is None else keepdim
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


def _dim(axis, dim, op: str):
    """NumPy's ``axis`` or PyTorch's ``dim``, whichever was given (not both)."""
    if dim is not None and axis is not None:
        raise InputError(f"{op}: give axis or dim, not both")
    return tuple(axis) if isinstance(axis, list) else axis if dim is None else dim


# --- the functions d2l's from-scratch chapters call (torch.exp, torch.softmax, torch.cat, ...) --------------------

def exp(a) -> Tensor:
    """y = e^a;  da = g * y."""
    a = as_tensor(a)
    y = get_backend().xp.exp(a.data)
    return Tensor.from_op(y, (a,), lambda g: (g * y,), "exp")


def log(a) -> Tensor:
    """y = ln a;  da = g / a."""
    a = as_tensor(a)
    return Tensor.from_op(get_backend().xp.log(a.data), (a,), lambda g: (g / a.data,), "log")


def softmax(a, dim: int = -1) -> Tensor:
    """y = e^a / sum_dim e^a (shifted by the max, so exp cannot overflow);  da = y * (g - sum_dim(g * y))."""
    a = as_tensor(a)
    xp = get_backend().xp
    e = xp.exp(a.data - a.data.max(axis=dim, keepdims=True))
    y = e / e.sum(axis=dim, keepdims=True)
    return Tensor.from_op(y, (a,), lambda g: (y * (g - (g * y).sum(axis=dim, keepdims=True)),), "softmax")


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along ``dim`` (the others' sizes must agree);  each input's gradient is its slice of g."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise InputError("cat: expected a non-empty sequence of tensors")
    xp = get_backend().xp
    try:
        out = xp.concatenate([t.data for t in tensors], axis=dim)
    except (ValueError, IndexError) as e:
        raise InputError(f"cat: cannot join shapes {[tuple(t.shape) for t in tensors]} along dim {dim}: {e}") \
            from None
    ends = xp.cumsum(xp.asarray([t.shape[dim] for t in tensors]))[:-1].tolist()
    return Tensor.from_op(out, tensors, lambda g: tuple(xp.split(g, ends, axis=dim)), "cat")


def argmax(a, axis=None, *, dim=None, keepdim: bool = False) -> Tensor:
    """The index of the largest value along ``axis``/``dim`` (None: of the flattened tensor), as int64."""
    a = as_tensor(a)
    axis = _dim(axis, dim, "argmax")
    index = a.data.argmax(axis=axis)
    if keepdim and axis is not None:
        index = get_backend().xp.expand_dims(index, axis)
    return Tensor(index.astype("int64"))


def getitem(a, index) -> Tensor:
    """``a[index]`` (slices, ints, index arrays, masks);  da = g scattered back, repeated indices adding up."""
    xp = get_backend().xp
    index = _index(index, xp)
    out = a.data[index]

    def backward(g):
        da = xp.zeros(a.shape, dtype=g.dtype)
        xp.add.at(da, index, g)
        return (da,)
    return Tensor.from_op(out, (a,), backward, "getitem")


def _index(index, xp):
    """Tensors inside an index as their arrays, and ``range`` (d2l's ``y_hat[range(n), y]``) as an index array."""
    if isinstance(index, tuple):
        return tuple(_index(i, xp) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, range):
        return xp.arange(index.start, index.stop, index.step)
    return index


def _compare(name: str, op):
    def compare(a, b) -> Tensor:
        """Element-wise comparison: a bool tensor, outside the graph (it has no gradient)."""
        return Tensor(op(a.data, b.data if isinstance(b, Tensor) else b))
    compare.__name__ = name
    return compare


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
    T.reshape = T.view = reshape
    T.exp, T.log, T.softmax, T.argmax = exp, log, softmax, argmax
    T.__getitem__ = getitem
    for name, op in (("eq", operator.eq), ("ne", operator.ne), ("lt", operator.lt), ("le", operator.le),
                     ("gt", operator.gt), ("ge", operator.ge)):
        setattr(T, f"__{name}__", _compare(name, op))
    T.__hash__ = object.__hash__  # identity, as a Tensor's: defining __eq__ would otherwise unset it
    T.T = property(lambda a: Tensor.from_op(a.data.T, (a,), lambda g: (g.T,), "transpose"))


_attach()
