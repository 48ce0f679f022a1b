"""max_pool2d: the largest value of each window; its gradient goes to that one element."""

from __future__ import annotations

from ..backend import get_backend
from ..errors import InputError, ShapeError
from ..kernels.geometry import output_hw
from .common import Tensor, as_tensor, check_float, check_rank, pair


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    """y[n, c, i, j] = max over the window at (i*sh - ph, j*sw - pw), padding counting as -inf (PyTorch semantics).

    Backward: dx[n, c, argmax] += g[n, c, i, j] -- each window's gradient flows to its arg-max (ties: the first
    in row-major order) and overlapping windows that pick the same element add up.
    """
    op = "max_pool2d"
    x = as_tensor(x)
    check_rank(x, 4, op, "(N, C, H, W)")
    check_float(x, op)
    kernel = pair(kernel_size, "kernel_size", op, 1)
    stride = kernel if stride is None else pair(stride, "stride", op, 1)
    padding = pair(padding, "padding", op, 0)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise InputError(f"{op}: padding {padding} must be at most half the kernel size {kernel}")
    n, c, h, w = x.shape
    oh, ow = output_hw(h, w, kernel, stride, padding)
    if oh < 1 or ow < 1:
        raise ShapeError(f"{op}: kernel {kernel[0]}x{kernel[1]} is larger than the padded input "
                         f"{h + 2 * padding[0]}x{w + 2 * padding[1]} (input shape {x.shape})")
    k = get_backend().kernels
    y, argmax = k.maxpool_forward(x.data, kernel, stride, padding)

    def backward(g):
        return (k.maxpool_backward(g, argmax, x.shape, kernel, stride, padding),)

    return Tensor.from_op(y, (x,), backward, op)
