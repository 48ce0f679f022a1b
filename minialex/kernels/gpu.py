"""CUDA kernels for the ``cupy`` engine, written with Numba (``numba.cuda.jit``).

The same functions with the same signatures as :mod:`minialex.kernels.reference`, which each must equal.
Only the loops that array operations cannot express well are kernels: im2col, col2im and max-pooling.
ReLU, dropout masks and the GEMM layout shuffles are one CuPy expression each, so they *are* the
reference functions, running on CuPy arrays.

One thread, one output element
    Every kernel runs on a 1-D grid with one thread per element it writes. Thread ``t`` peels its
    coordinates off the flat index, fastest axis first, and writes exactly that element. No element is
    written by two threads, so there are no atomics and every run gives bit-for-bit the same result.
    The backward kernels (col2im, max-pool backward) are therefore *gathers*: one thread per input
    pixel, summing what the windows that contain the pixel send it, always in the same order.

The arrays a kernel gets
    On a GPU the kernels receive CuPy arrays, which Numba reads through ``__cuda_array_interface__``.
    Under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, set before Numba is imported) they receive
    NumPy arrays and run as Python on the CPU; that is how ``tests/test_gpu_kernels.py`` checks them.
    Outputs are allocated with the input's own array module, so one code path serves both.

    Inputs are made contiguous first (``ascontiguousarray`` copies only when it has to): the kernels
    index by ``(n, c, h, w)`` and would work on strided arrays too, but Numba would compile a second
    version per layout, and neighbouring threads would no longer read neighbouring addresses.

Streams
    A kernel is launched on CuPy's *current* stream, and the CuPy arrays are handed to Numba with
    ``sync=False``. The kernel is then ordered like any CuPy operation on that stream: it starts after
    the work that produced its inputs and before the work that reads its outputs, with no host
    synchronisation (Numba's default for foreign arrays would synchronise the host on every launch).
    It is also what keeps memory safe: CuPy's pool hands a freed block only to later work on the same
    stream, so an input freed by the caller cannot be overwritten while the kernel still reads it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda

from ..backend import array_module
from . import reference
from .geometry import output_hw

# Array operations already do these well on CuPy: the reference functions are the GPU versions.
gemm_to_nchw = reference.gemm_to_nchw
nchw_to_gemm = reference.nchw_to_gemm
relu_forward = reference.relu_forward
relu_backward = reference.relu_backward
dropout_mask = reference.dropout_mask
winograd_input_transform = reference.winograd_input_transform
winograd_input_gradient = reference.winograd_input_gradient
winograd_output_transform = reference.winograd_output_transform
winograd_output_gradient = reference.winograd_output_gradient

THREADS_PER_BLOCK = 128


def _launch(kernel, n_threads, *args):
    """Run ``kernel(*args)`` with one thread for each ``t`` in ``range(n_threads)``."""
    if n_threads == 0:
        return
    blocks = (n_threads + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
    xp = array_module(args[0])
    if xp is np:  # NumPy arrays: the CUDA simulator runs the kernel on them in place
        kernel[blocks, THREADS_PER_BLOCK](*args)
        return
    ptr = xp.cuda.get_current_stream().ptr
    stream = cuda.external_stream(ptr) if ptr else cuda.legacy_default_stream()
    args = [cuda.as_cuda_array(a, sync=False) if isinstance(a, xp.ndarray) else a for a in args]
    kernel[blocks, THREADS_PER_BLOCK, stream](*args)


def _pairs(*pairs):
    """Kernel arguments as tuples of Python ints (a list would not pass; NumPy ints would recompile)."""
    return tuple(tuple(int(v) for v in pair) for pair in pairs)


# ---------------------------------------------------------------------------------------------------------
# Device helpers shared by the kernels


@cuda.jit(device=True)
def _peel(t, size):
    """Split a flat index into (the rest, its coordinate along an axis of ``size``): t = rest*size + coord."""
    return t // size, t % size


@cuda.jit(device=True)
def _read_padded(x, n, c, h, w, fill):
    """``x[n, c, h, w]``, or ``fill`` where (h, w) lies in the padding around the image."""
    if 0 <= h < x.shape[2] and 0 <= w < x.shape[3]:
        return x[n, c, h, w]
    return fill


@cuda.jit(device=True)
def _windows_containing(p, kernel, stride, n_out):
    """The window positions ``o`` in [lo, hi) that cover padded coordinate ``p`` along one axis.

    Window ``o`` covers ``o*stride <= p < o*stride + kernel``, i.e. ``(p - kernel)/stride < o <= p/stride``.
    """
    lo = (p - kernel + stride) // stride  # the smallest integer above (p - kernel)/stride
    hi = p // stride + 1
    # Conditionals, not max()/min(): the CUDA target built into Numba 0.68 cannot compile those builtins.
    return (lo if lo > 0 else 0), (hi if hi < n_out else n_out)


# ---------------------------------------------------------------------------------------------------------
# Kernels: one thread per element written


@cuda.jit
def _im2col_kernel(x, col, kernel, stride, padding, out_hw):
    t = cuda.grid(1)
    if t >= col.size:
        return
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding
    oh, ow = out_hw
    row, column = _peel(t, col.shape[1])
    rest, j = _peel(row, kw)
    c, i = _peel(rest, kh)
    rest, ox = _peel(column, ow)
    n, oy = _peel(rest, oh)
    col[row, column] = _read_padded(x, n, c, oy * sh - ph + i, ox * sw - pw + j, x.dtype.type(0))


@cuda.jit
def _col2im_kernel(col, dx, kernel, stride, padding, out_hw):
    t = cuda.grid(1)
    if t >= dx.size:
        return
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding
    oh, ow = out_hw
    rest, w = _peel(t, dx.shape[3])
    rest, h = _peel(rest, dx.shape[2])
    n, c = _peel(rest, dx.shape[1])
    y_lo, y_hi = _windows_containing(h + ph, kh, sh, oh)
    x_lo, x_hi = _windows_containing(w + pw, kw, sw, ow)
    total = dx.dtype.type(0)  # a literal 0.0 would make the sum float64, slow on most GPUs
    for oy in range(y_lo, y_hi):
        i = h + ph - oy * sh
        for ox in range(x_lo, x_hi):
            j = w + pw - ox * sw
            total += col[(c * kh + i) * kw + j, (n * oh + oy) * ow + ox]
    dx[n, c, h, w] = total


@cuda.jit
def _maxpool_forward_kernel(x, y, argmax, kernel, stride, padding):
    t = cuda.grid(1)
    if t >= y.size:
        return
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding
    rest, ox = _peel(t, y.shape[3])
    rest, oy = _peel(rest, y.shape[2])
    n, c = _peel(rest, y.shape[1])
    top, left = oy * sh - ph, ox * sw - pw
    pad = x.dtype.type(-math.inf)
    first_h, first_w = (top if top > 0 else 0), (left if left > 0 else 0)  # first in-bounds element competes
    best, best_h, best_w = x[n, c, first_h, first_w], first_h, first_w
    for i in range(kh):
        for j in range(kw):
            v = _read_padded(x, n, c, top + i, left + j, pad)
            if v > best or (math.isnan(v) and not math.isnan(best)):
                best, best_h, best_w = v, top + i, left + j
    y[n, c, oy, ox] = best
    argmax[n, c, oy, ox] = best_h * x.shape[3] + best_w


@cuda.jit
def _maxpool_backward_kernel(gy, argmax, dx, kernel, stride, padding):
    t = cuda.grid(1)
    if t >= dx.size:
        return
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding
    rest, w = _peel(t, dx.shape[3])
    rest, h = _peel(rest, dx.shape[2])
    n, c = _peel(rest, dx.shape[1])
    here = h * dx.shape[3] + w
    y_lo, y_hi = _windows_containing(h + ph, kh, sh, gy.shape[2])
    x_lo, x_hi = _windows_containing(w + pw, kw, sw, gy.shape[3])
    total = dx.dtype.type(0)
    for oy in range(y_lo, y_hi):
        for ox in range(x_lo, x_hi):
            if argmax[n, c, oy, ox] == here:
                total += gy[n, c, oy, ox]
    dx[n, c, h, w] = total


# ---------------------------------------------------------------------------------------------------------
# The engine's interface (see minialex.kernels.reference for the definitions these equal)


def im2col(x, kernel, stride, padding):
    """(N, C, H, W) -> (C*kh*kw, N*oh*ow); one thread per element of ``col``::

        col[(c*kh + i)*kw + j, (n*oh + oy)*ow + ox] = x[n, c, oy*sh - ph + i, ox*sw - pw + j]

    with 0 where the index falls in the padding.
    """
    xp = array_module(x)
    x = xp.ascontiguousarray(x)
    n, c, h, w = x.shape
    kernel, stride, padding = _pairs(kernel, stride, padding)
    oh, ow = output_hw(h, w, kernel, stride, padding)
    col = xp.empty((c * kernel[0] * kernel[1], n * oh * ow), dtype=x.dtype)
    _launch(_im2col_kernel, col.size, x, col, kernel, stride, padding, (oh, ow))
    return col


def col2im(col, x_shape, kernel, stride, padding):
    """Adjoint of :func:`im2col`, as a gather: one thread per input pixel (n, c, h, w) computes::

        dx[n, c, h, w] = sum over windows (oy, ox) covering it of col[(c*kh + i)*kw + j, (n*oh + oy)*ow + ox]
        where i = h + ph - oy*sh and j = w + pw - ox*sw (its offset inside that window)
    """
    xp = array_module(col)
    n, c, h, w = x_shape
    kernel, stride, padding = _pairs(kernel, stride, padding)
    oh, ow = output_hw(h, w, kernel, stride, padding)
    col = xp.ascontiguousarray(col.reshape(c * kernel[0] * kernel[1], n * oh * ow))
    dx = xp.empty((n, c, h, w), dtype=col.dtype)
    _launch(_col2im_kernel, dx.size, col, dx, kernel, stride, padding, (oh, ow))
    return dx


def maxpool_forward(x, kernel, stride, padding):
    """Max over each window -> (y, argmax); one thread per output (n, c, oy, ox).

    The window starts at (oy*sh - ph, ox*sw - pw); ``argmax`` is the winner's flat index ``h*W + w`` in the
    input plane. Padding counts as -inf; ties go to the first maximum in row-major order; NaN wins.
    """
    xp = array_module(x)
    x = xp.ascontiguousarray(x)
    n, c, h, w = x.shape
    kernel, stride, padding = _pairs(kernel, stride, padding)
    oh, ow = output_hw(h, w, kernel, stride, padding)
    y = xp.empty((n, c, oh, ow), dtype=x.dtype)
    argmax = xp.empty((n, c, oh, ow), dtype=xp.int32)
    _launch(_maxpool_forward_kernel, y.size, x, y, argmax, kernel, stride, padding)
    return y, argmax


def maxpool_backward(gy, argmax, x_shape, kernel, stride, padding):
    """Route each output gradient to its window's arg-max; windows that overlap add up.

    A gather, so no atomics and the same sums every run: one thread per input pixel (n, c, h, w) computes::

        dx[n, c, h, w] = sum of gy[n, c, oy, ox] over the windows covering (h, w) with argmax == h*W + w
    """
    xp = array_module(gy)
    gy, argmax = xp.ascontiguousarray(gy), xp.ascontiguousarray(argmax)
    kernel, stride, padding = _pairs(kernel, stride, padding)
    dx = xp.empty(tuple(x_shape), dtype=gy.dtype)
    _launch(_maxpool_backward_kernel, dx.size, gy, argmax, dx, kernel, stride, padding)
    return dx


# =========================================================================================================
# LeNet's layers: sigmoid and tanh are one CuPy expression each (the reference functions, on CuPy arrays);
# average pooling is a kernel, one thread per element written, as max-pooling

sigmoid_forward = reference.sigmoid_forward
sigmoid_backward = reference.sigmoid_backward
tanh_forward = reference.tanh_forward
tanh_backward = reference.tanh_backward


@cuda.jit
def _avgpool_forward_kernel(x, divisor, y, kernel, stride, padding):
    t = cuda.grid(1)
    if t >= y.size:
        return
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding
    rest, ox = _peel(t, y.shape[3])
    rest, oy = _peel(rest, y.shape[2])
    n, c = _peel(rest, y.shape[1])
    top, left = oy * sh - ph, ox * sw - pw
    zero = y.dtype.type(0)
    total = zero
    for i in range(kh):
        for j in range(kw):
            total += _read_padded(x, n, c, top + i, left + j, zero)
    y[n, c, oy, ox] = total / divisor[oy, ox]


@cuda.jit
def _avgpool_backward_kernel(gy, divisor, dx, kernel, stride, padding):
    t = cuda.grid(1)
    if t >= dx.size:
        return
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding
    rest, w = _peel(t, dx.shape[3])
    rest, h = _peel(rest, dx.shape[2])
    n, c = _peel(rest, dx.shape[1])
    y_lo, y_hi = _windows_containing(h + ph, kh, sh, gy.shape[2])
    x_lo, x_hi = _windows_containing(w + pw, kw, sw, gy.shape[3])
    total = dx.dtype.type(0)
    for oy in range(y_lo, y_hi):
        for ox in range(x_lo, x_hi):
            total += gy[n, c, oy, ox] / divisor[oy, ox]
    dx[n, c, h, w] = total


def avgpool_forward(x, kernel, stride, padding, divisor):
    """One thread per output (n, c, oy, ox)::

        y[n, c, oy, ox] = sum over (i, j) of x[n, c, oy*sh - ph + i, ox*sw - pw + j] / divisor[oy, ox]

    with 0 where the index falls outside the input (padding, or a ceil-mode window's overhang)."""
    xp = array_module(x)
    x, divisor = xp.ascontiguousarray(x), xp.ascontiguousarray(divisor)
    kernel, stride, padding = _pairs(kernel, stride, padding)
    y = xp.empty((*x.shape[:2], *divisor.shape), dtype=x.dtype)
    _launch(_avgpool_forward_kernel, y.size, x, divisor, y, kernel, stride, padding)
    return y


def avgpool_backward(gy, x_shape, kernel, stride, padding, divisor):
    """A gather, one thread per input pixel (n, c, h, w)::

        dx[n, c, h, w] = sum of gy[n, c, oy, ox] / divisor[oy, ox] over the windows covering (h, w)
    """
    xp = array_module(gy)
    gy, divisor = xp.ascontiguousarray(gy), xp.ascontiguousarray(divisor)
    kernel, stride, padding = _pairs(kernel, stride, padding)
    dx = xp.empty(tuple(x_shape), dtype=gy.dtype)
    _launch(_avgpool_backward_kernel, dx.size, gy, divisor, dx, kernel, stride, padding)
    return dx
