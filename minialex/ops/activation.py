"""relu, sigmoid, tanh and dropout: element-wise, with what the backward needs (a mask, the output) kept from
the forward."""

from __future__ import annotations

from ..backend import device_rng, get_backend
from ..errors import InputError
from .common import Tensor, as_tensor, check_float


def relu(x: Tensor) -> Tensor:
    """y = max(x, 0);  dx = g * (y > 0)."""
    x = as_tensor(x)
    check_float(x, "relu")
    k = get_backend().kernels
    y = k.relu_forward(x.data)
    return Tensor.from_op(y, (x,), lambda g: (k.relu_backward(g, y),), "relu")


def dropout(x: Tensor, p: float = 0.5, training: bool = True, generator=None) -> Tensor:
    """Inverted dropout: zero each unit with probability p, scale the kept ones by 1/(1-p); identity in eval.

    y = x * m,  dx = g * m,  with m in {0, 1/(1-p)} drawn from ``generator`` (default: the seeded device stream).
    """
    if not 0.0 <= p <= 1.0:
        raise InputError(f"dropout: p must be a probability in [0, 1], got {p}")
    x = as_tensor(x)
    check_float(x, "dropout")
    if not training or p == 0.0:
        return x
    rng = generator if generator is not None else device_rng()
    mask = get_backend().kernels.dropout_mask(rng.random(x.shape, dtype=x.dtype), p)
    return Tensor.from_op(x.data * mask, (x,), lambda g: (g * mask,), "dropout")


def sigmoid(x: Tensor) -> Tensor:
    """y = 1 / (1 + e^-x);  dx = g * y * (1 - y).

    Computed from e^-|x|, which cannot overflow: sigmoid(1000) is exactly 1, sigmoid(-1000) exactly 0, no warning.
    The gradient at both is 0 -- the vanishing gradient that made AlexNet replace LeNet's sigmoid by ReLU.
    """
    x = as_tensor(x)
    check_float(x, "sigmoid")
    k = get_backend().kernels
    y = k.sigmoid_forward(x.data)
    return Tensor.from_op(y, (x,), lambda g: (k.sigmoid_backward(g, y),), "sigmoid")


def tanh(x: Tensor) -> Tensor:
    """y = tanh x = (e^x - e^-x) / (e^x + e^-x);  dx = g * (1 - y^2).  Saturates to +-1 without overflow."""
    x = as_tensor(x)
    check_float(x, "tanh")
    k = get_backend().kernels
    y = k.tanh_forward(x.data)
    return Tensor.from_op(y, (x,), lambda g: (k.tanh_backward(g, y),), "tanh")
