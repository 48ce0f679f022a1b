"""linear (a dense layer) and flatten."""

from __future__ import annotations

from ..errors import ShapeError
from .common import Tensor, as_tensor, check_float, check_rank, check_same_dtype, mm


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b with x (N, in), W (out, in) as in PyTorch.   dx = G W,  dW = G^T x,  db = sum_n G."""
    op = "linear"
    x, weight = as_tensor(x), as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    check_rank(x, 2, op, "(N, in_features)")
    check_float(x, op)
    check_same_dtype(op, input=x, weight=weight, bias=bias)
    if x.shape[1] != weight.shape[1]:
        raise ShapeError(f"{op}: expected input of shape (N, {weight.shape[1]}), got {x.shape}")
    y = mm(x.data, weight.data.T)
    if bias is not None:
        y += bias.data

    def backward(g):
        dx = mm(g, weight.data) if x.requires_grad else None
        dw = mm(g.T, x.data) if weight.requires_grad else None
        db = g.sum(axis=0) if bias is not None and bias.requires_grad else None
        return dx, dw, db

    return Tensor.from_op(y, (x, weight) if bias is None else (x, weight, bias), backward, op)


def flatten(x: Tensor, start_dim: int = 1) -> Tensor:
    """Merge every axis from ``start_dim`` on: (N, C, H, W) -> (N, C*H*W). The gradient is reshaped back."""
    x = as_tensor(x)
    if not 0 <= start_dim < max(x.ndim, 1):
        raise ShapeError(f"flatten: start_dim {start_dim} out of range for a {x.ndim}-D input of shape {x.shape}")
    out = x.data.reshape(x.shape[:start_dim] + (-1,))
    return Tensor.from_op(out, (x,), lambda g: (g.reshape(x.shape),), "flatten")
