"""CUDA kernels for the ``cupy`` engine, written with Numba (``numba.cuda.jit``).

The same functions with the same signatures as :mod:`minialex.kernels.reference`, which each must equal.
Only the loops that array operations cannot express well are kernels: im2col, col2im, max- and average
pooling, and Winograd's tile transforms.
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


# ---------------------------------------------------------------------------------------------------------
# Winograd's tile transforms. Each thread writes one element and computes it as the double sum the matrices
# define (a^2 products; B's and A's zeros skipped), reading its tile straight from NCHW: V and dM are written
# in the (a*a, channels, P) layout the per-point GEMMs read, P = N*th*tw tiles in (n, ty, tx) order, and Y and
# dx in NCHW. dx is a gather over the (at most ceil(a/m)^2) tiles that cover a pixel, so no atomics are needed.


@cuda.jit
def _winograd_input_kernel(x, bt, v, m, padding, tiles):
    t = cuda.grid(1)
    if t >= v.size:
        return
    a = bt.shape[0]
    ph, pw = padding
    th, tw = tiles
    rest, p = _peel(t, v.shape[2])
    xi, c = _peel(rest, v.shape[1])
    i, j = _peel(xi, a)
    rest, tx = _peel(p, tw)
    n, ty = _peel(rest, th)
    zero = x.dtype.type(0)
    acc = zero
    for k in range(a):
        bik = bt[i, k]
        if bik != 0:
            row = zero
            for l in range(a):
                bjl = bt[j, l]
                if bjl != 0:
                    row += _read_padded(x, n, c, m * ty - ph + k, m * tx - pw + l, zero) * bjl
            acc += bik * row
    v[xi, c, p] = acc


@cuda.jit
def _winograd_input_gradient_kernel(dv, bt, dx, m, padding, tiles):
    t = cuda.grid(1)
    if t >= dx.size:
        return
    a = bt.shape[0]
    ph, pw = padding
    th, tw = tiles
    rest, s = _peel(t, dx.shape[3])
    rest, y = _peel(rest, dx.shape[2])
    n, c = _peel(rest, dx.shape[1])
    ty0, ty1 = _windows_containing(y + ph, a, m, th)
    tx0, tx1 = _windows_containing(s + pw, a, m, tw)
    acc = dv.dtype.type(0)
    for ty in range(ty0, ty1):
        k = y + ph - m * ty
        for tx in range(tx0, tx1):
            l = s + pw - m * tx
            p = (n * th + ty) * tw + tx
            for i in range(a):
                bik = bt[i, k]
                if bik != 0:
                    for j in range(a):
                        acc += bik * dv[i * a + j, c, p] * bt[j, l]
    dx[n, c, y, s] = acc


@cuda.jit
def _winograd_output_kernel(mm, at, bias, y, tiles):
    t = cuda.grid(1)
    if t >= y.size:
        return
    m, a = at.shape
    th, tw = tiles
    rest, xx = _peel(t, y.shape[3])
    rest, yy = _peel(rest, y.shape[2])
    n, o = _peel(rest, y.shape[1])
    ty, i = _peel(yy, m)
    tx, j = _peel(xx, m)
    p = (n * th + ty) * tw + tx
    acc = mm.dtype.type(0)
    for k in range(a):
        aik = at[i, k]
        if aik != 0:
            for l in range(a):
                acc += aik * mm[k * a + l, o, p] * at[j, l]
    y[n, o, yy, xx] = acc + bias[o]


@cuda.jit
def _winograd_output_gradient_kernel(gy, at, dm, tiles):
    t = cuda.grid(1)
    if t >= dm.size:
        return
    m, a = at.shape
    th, tw = tiles
    oh, ow = gy.shape[2], gy.shape[3]
    rest, p = _peel(t, dm.shape[2])
    xi, o = _peel(rest, dm.shape[1])
    k, l = _peel(xi, a)
    rest, tx = _peel(p, tw)
    n, ty = _peel(rest, th)
    acc = gy.dtype.type(0)
    for i in range(m):
        aik = at[i, k]
        if aik != 0 and m * ty + i < oh:
            for j in range(m):
                if m * tx + j < ow:
                    acc += aik * gy[n, o, m * ty + i, m * tx + j] * at[j, l]
    dm[xi, o, p] = acc


def winograd_input_transform(x, bt, m, padding, tiles):
    """V = B^T d B for every tile d of the padded input x (N, C, H, W) -> (a*a, C, N*th*tw)::

        v[i*a + j, c, (n*th + ty)*tw + tx] = sum_k,l bt[i, k] x[n, c, m*ty - ph + k, m*tx - pw + l] bt[j, l]
    """
    xp = array_module(x)
    x = xp.ascontiguousarray(x)
    n, c = x.shape[:2]
    a = bt.shape[0]
    v = xp.empty((a * a, c, n * tiles[0] * tiles[1]), dtype=x.dtype)
    _launch(_winograd_input_kernel, v.size, x, xp.ascontiguousarray(bt, dtype=x.dtype), v, int(m),
            *_pairs(padding, tiles))
    return v


def winograd_input_gradient(dv, bt, m, padding, tiles, x_shape, out=None):
    """Adjoint of :func:`winograd_input_transform`, as a gather: one thread per input pixel sums B dV B^T of
    the tiles that cover it -> (N, C, H, W), copied into ``out`` if given."""
    xp = array_module(dv)
    dx = xp.empty(tuple(x_shape), dtype=dv.dtype)
    _launch(_winograd_input_gradient_kernel, dx.size, xp.ascontiguousarray(dv),
            xp.ascontiguousarray(bt, dtype=dv.dtype), dx, int(m), *_pairs(padding, tiles))
    if out is None:
        return dx
    out[...] = dx
    return out


def winograd_output_transform(mm, at, out_hw, tiles, bias=None, out=None):
    """Y = A^T M A per tile, cropped to (oh, ow), + ``bias``: M (a*a, OC, N*th*tw) -> (N, OC, oh, ow)::

        y[n, o, m*ty + i, m*tx + j] = sum_k,l at[i, k] mm[k*a + l, o, (n*th + ty)*tw + tx] at[j, l] + bias[o]
    """
    xp = array_module(mm)
    oc, p = mm.shape[1:]
    y = xp.empty((p // (tiles[0] * tiles[1]), oc) + tuple(out_hw), dtype=mm.dtype)
    bias = xp.zeros(oc, dtype=mm.dtype) if bias is None else xp.ascontiguousarray(bias, dtype=mm.dtype)
    _launch(_winograd_output_kernel, y.size, xp.ascontiguousarray(mm), xp.ascontiguousarray(at, dtype=mm.dtype),
            bias, y, *_pairs(tiles))
    if out is None:
        return y
    out[...] = y
    return out


def winograd_output_gradient(gy, at, tiles):
    """Adjoint of :func:`winograd_output_transform` (without the bias): dM = A dY A^T per tile, dY zero where
    a tile hangs over the output: (N, OC, oh, ow) -> (a*a, OC, N*th*tw)."""
    xp = array_module(gy)
    gy = xp.ascontiguousarray(gy)
    n, oc = gy.shape[:2]
    a = at.shape[1]
    dm = xp.empty((a * a, oc, n * tiles[0] * tiles[1]), dtype=gy.dtype)
    _launch(_winograd_output_gradient_kernel, dm.size, gy, xp.ascontiguousarray(at, dtype=gy.dtype), dm,
            *_pairs(tiles))
    return dm
