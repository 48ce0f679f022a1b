"""max_pool2d and avg_pool2d: the largest value of each window (its gradient goes to that one element), or the
window's mean (its gradient is shared by the whole window)."""

from __future__ import annotations

from ..backend import get_backend
from ..errors import InputError, ShapeError
from ..kernels.geometry import output_hw, pool_divisors, pool_output_size
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


def avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """y[n, c, i, j] = (1 / d[i, j]) * sum of x over the window at (i*sh - ph, j*sw - pw); padding adds 0.

    PyTorch's semantics: ``stride`` defaults to ``kernel_size``; ``ceil_mode`` keeps a last, partial window
    (one that starts inside the input or its left padding); d[i, j] is the window's size clipped to the padded
    input, counting the padding it covers if ``count_include_pad``, else only input pixels; ``divisor_override``
    replaces d by a constant.

    Backward: dx[n, c, h, w] = sum over the windows (i, j) that cover (h, w) of g[n, c, i, j] / d[i, j].
    """
    op = "avg_pool2d"
    x = as_tensor(x)
    check_rank(x, 4, op, "(N, C, H, W)")
    check_float(x, op)
    kernel = pair(kernel_size, "kernel_size", op, 1)
    stride = kernel if stride is None else pair(stride, "stride", op, 1)
    padding = pair(padding, "padding", op, 0)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ShapeError(f"{op}: padding {padding} must be at most half the kernel size {kernel}")
    if divisor_override is not None and (not isinstance(divisor_override, int) or isinstance(divisor_override, bool)
                                         or divisor_override < 1):
        raise ShapeError(f"{op}: divisor_override must be a positive int or None, got {divisor_override!r}")
    n, c, h, w = x.shape
    oh, ow = (pool_output_size(size, k, s, p, ceil_mode) for size, k, s, p in zip((h, w), kernel, stride, padding))
    if oh < 1 or ow < 1:
        raise ShapeError(f"{op}: kernel {kernel[0]}x{kernel[1]} is larger than the padded input "
                         f"{h + 2 * padding[0]}x{w + 2 * padding[1]} (input shape {x.shape})")
    backend = get_backend()
    if divisor_override is None:
        dh, dw = (pool_divisors(size, k, s, p, o, count_include_pad)
                  for size, k, s, p, o in zip((h, w), kernel, stride, padding, (oh, ow)))
        divisor = backend.xp.outer(backend.asarray(dh, x.dtype), backend.asarray(dw, x.dtype))
    else:
        divisor = backend.xp.full((oh, ow), divisor_override, dtype=x.dtype)
    k = backend.kernels
    y = k.avgpool_forward(x.data, kernel, stride, padding, divisor)

    def backward(g):
        return (k.avgpool_backward(g, x.shape, kernel, stride, padding, divisor),)

    return Tensor.from_op(y, (x,), backward, op)
