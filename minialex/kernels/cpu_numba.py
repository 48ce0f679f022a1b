"""Numba kernels for the CPU: the same functions as :mod:`minialex.kernels.reference`, compiled.

The reference copies one strided slice per kernel offset and builds temporaries (padded copies, masks,
``where`` results); here each kernel is one pass over its output, parallel over the N*C image planes
(``prange``) so a thread's reads stay inside one plane that fits in its cache. Inputs may be
non-contiguous: Numba compiles a strided ("A" layout) version of a kernel for them, so nothing is copied
except by :func:`im2col` (into a padded buffer) and the element-wise kernels (see :func:`_flat`).

Arithmetic stays in the input's dtype: constants are made with ``x.dtype.type`` and the dropout scale and
the bias are converted before they reach a kernel, because Numba types a bare ``0`` or ``-np.inf`` as
int64/float64 and would then compute a float32 select in float64.

Every kernel is compiled by :func:`minialex.kernels.numba_runtime.jit` (parallel, cached on disk, the first
compile under a file lock); importing that module also makes Numba's and glibc's process-wide settings.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from .geometry import output_hw
from .numba_runtime import jit as _jit
from .numba_tiles import gather_input_tiles, gather_output_tiles, scatter_add_input_tiles, scatter_output_tiles

# Indices known to be >= 0 go through _u: Numba skips its negative-index wraparound for unsigned ints, and
# that branch is what keeps LLVM from vectorising the inner loops (im2col is ~1.7x faster without it).
_u = np.uint64


# ---------------------------------------------------------------------------------------------------------
# Convolution as GEMM
#
# im2col and col2im work on the padded input in a "phase-split" layout: xs[n, c, r, q, k] holds padded column
# q + sw*k, so the sw columns a stride-sw window row visits in turn sit in sw separate rows. Kernel offset j then
# reads the *contiguous* run xs[..., j % sw, j // sw:][:ow] instead of every sw-th element: a plain copy LLVM
# vectorises, not a gather (conv1, stride 4: ~1.6x faster). For stride 1 the layout is just the padded input.
# All indexing is by scalars into the whole arrays: slicing a view per row costs more than a 12-pixel row
# (conv3-5) takes to copy.


def _chunks(tasks):
    """How many pieces to cut ``tasks`` into for prange: a few per thread, so one slow thread delays little."""
    return max(1, min(tasks, 8 * numba.get_num_threads()))


@njit(cache=True)
def _split_width(wp, sw):
    """Columns per phase when a padded width ``wp`` is split into ``sw`` phases."""
    return -(-wp // sw)


@njit(cache=True, inline="always")
def _split_plane(x, b, ch, ph, pw, fill, out):
    """out[r, q, k] = x[b, ch, r - ph, q + sw*k - pw], ``fill`` where that is outside x (sw = out.shape[1])."""
    h, w = x.shape[2:]
    hp, sw, wq = out.shape
    for r in range(hp):
        inside = 0 <= r - ph < h
        for q in range(sw):
            for k in range(wq):
                s = q + sw * k - pw
                out[_u(r), _u(q), _u(k)] = x[b, ch, r - ph, s] if inside and 0 <= s < w else fill


@_jit
def _pad_split(x, ph, pw, xs):
    """xs[n, c, r, q, k] = x[n, c, r - ph, q + sw*k - pw], 0 where that is outside x (sw = xs.shape[3])."""
    n, c = x.shape[:2]
    zero = x.dtype.type(0)
    for p in prange(n * c):
        b, ch = p // c, p % c
        _split_plane(x, b, ch, ph, pw, zero, xs[b, ch])


# Bytes each im2col task writes in one run: 16 KiB-256 KiB measured alike (64 KiB best by a little).
_IM2COL_RUN_BYTES = 1 << 16


@_jit
def _im2col(xs, kh, kw, sh, oh, ow, block, col):
    """col[(c*kh + i)*kw + j, (n*oh + y)*ow + x] = xs[n, c, i + sh*y, j % sw, j // sw + x].

    One task fills one row of ``col`` for ``block`` images: a single contiguous run of block*oh*ow elements,
    the write pattern memory serves fastest (the matrix is 25-121x the input; writing it is the whole cost).
    Tasks run row fastest, so neighbouring tasks read the same few input planes from cache. Writing one
    image's kh*kw rows per task instead -- many short runs far apart -- was 1.2-1.4x slower on conv1 and conv2.
    """
    n, c, _, sw, _ = xs.shape
    L = oh * ow
    rows, blocks = kh * kw, -(-n // block)
    for t in prange(c * blocks * rows):
        ch, rest = t // (blocks * rows), t % (blocks * rows)
        first, ij = rest // rows * block, rest % rows
        i, j = ij // kw, ij % kw
        row, q, k0 = _u(ch * rows + ij), _u(j % sw), j // sw
        for b in range(first, min(n, first + block)):
            for y in range(oh):
                r, start = _u(i + sh * y), b * L + y * ow
                for xo in range(ow):
                    col[row, _u(start + xo)] = xs[_u(b), _u(ch), r, q, _u(k0 + xo)]


def im2col(x, kernel, stride, padding):
    """(N, C, H, W) -> (C*kh*kw, N*oh*ow).

    Copies the input into the padded, phase-split layout first: one pass over the input (1/25 of the matrix
    written for conv2) buys an inner loop that is a contiguous copy without bounds checks.
    """
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    oh, ow = output_hw(h, w, kernel, stride, padding)
    xs = np.empty((n, c, h + 2 * ph, sw, _split_width(w + 2 * pw, sw)), dtype=x.dtype)
    _pad_split(x, ph, pw, xs)
    col = np.empty((c * kh * kw, n * oh * ow), dtype=x.dtype)
    block = max(1, min(n, _IM2COL_RUN_BYTES // (oh * ow * x.itemsize)))
    _im2col(xs, kh, kw, sh, oh, ow, block, col)
    return col


@_jit
def _col2im(col, kh, kw, sh, sw, ph, pw, chunks, dx):
    """dx[n, c, r, s] = sum of col[(c*kh + i)*kw + j, (n*oh + y)*ow + x] over i + sh*y - ph = r, j + sw*x - pw = s.

    A gather per plane: each plane of dx is summed by one task, into a padded phase-split scratch copy (the
    mirror of im2col's reads, so the inner loop is contiguous and unclipped) that is then cropped into dx.
    Overlapping windows add up without races, in the same (i, j) order as the reference -- the sums are
    bit-identical to it. Tasks are chunks of planes (channel-major, as in _im2col), one scratch per chunk.
    """
    n, c, h, w = dx.shape
    hp, wp = h + 2 * ph, w + 2 * pw
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    L = oh * ow
    planes = c * n
    for t in prange(chunks):
        acc = np.empty((hp, sw, _split_width(wp, sw)), dtype=dx.dtype)
        for p in range(t * planes // chunks, (t + 1) * planes // chunks):
            ch, b = p // n, p % n
            acc[:] = 0
            for i in range(kh):
                for j in range(kw):
                    row, q, k0 = _u((ch * kh + i) * kw + j), _u(j % sw), j // sw
                    for y in range(oh):
                        r, start = _u(i + sh * y), b * L + y * ow
                        for xo in range(ow):
                            acc[r, q, _u(k0 + xo)] += col[row, _u(start + xo)]
            for r in range(h):
                for s in range(w):
                    u = s + pw
                    dx[_u(b), _u(ch), _u(r), _u(s)] = acc[_u(r + ph), _u(u % sw), _u(u // sw)]


def col2im(col, x_shape, kernel, stride, padding):
    """Adjoint of :func:`im2col`: (C*kh*kw, N*oh*ow) -> (N, C, H, W), overlapping windows summed."""
    dx = np.empty(x_shape, dtype=col.dtype)
    _col2im(col, *kernel, *stride, *padding, _chunks(x_shape[0] * x_shape[1]), dx)
    return dx


@_jit
def _gemm_to_nchw(y, bias, out):
    """out[n, o, l] = y[o, n*L + l] (+ bias[o]): the layout change and the bias add in one pass."""
    n, oc, L = out.shape
    for p in prange(n * oc):
        b, o = p // oc, p % oc
        dst, src = out[b, o], y[o, b * L:(b + 1) * L]
        if bias is None:  # resolved at compile time: None has its own type
            dst[:] = src
        else:
            for k in range(L):
                dst[_u(k)] = src[_u(k)] + bias[o]


def gemm_to_nchw(y, n, bias=None):
    """The conv GEMM's (OC, N*L) result as a contiguous (N, OC, L) array, plus ``bias`` per channel."""
    oc = y.shape[0]
    out = np.empty((n, oc, y.shape[1] // n), dtype=y.dtype)
    _gemm_to_nchw(y, None if bias is None else bias.astype(y.dtype, copy=False), out)
    return out


@_jit
def _nchw_to_gemm(g, out):
    """out[o, n, h, w] = g[n, o, h, w], with out contiguous so it reshapes to (OC, N*H*W) for free."""
    n, oc = g.shape[:2]
    for p in prange(oc * n):
        o, b = p // n, p % n
        out[o, b] = g[b, o]


def nchw_to_gemm(g):
    """(N, OC, H, W) -> contiguous (OC, N*H*W): the layout the conv GEMMs consume."""
    n, oc = g.shape[:2]
    if g.ndim != 4:
        g = g.reshape(n, oc, -1, 1)
    out = np.empty((oc, n) + g.shape[2:], dtype=g.dtype)
    _nchw_to_gemm(g, out)
    return out.reshape(oc, -1)


# ---------------------------------------------------------------------------------------------------------
# Winograd's transforms: B^T d B and A^T M A applied separably (2a^3 multiply-adds a tile, not the a^4 of one
# dense Kronecker GEMM), read straight from NCHW and written straight in the layout the per-point GEMMs read,
# (a*a, channels, P) with P = N*th*tw tiles in (n, ty, tx) order -- no im2col copy, no padded copy.
#
# A task is one channel and a block of whole images, Q tiles in all. In the transform domain a block is a
# contiguous run of Q values in each of the a*a rows, so the transforms run on vectors of Q tiles at once (SIMD;
# the matrices' zero entries skipped), and only the NCHW side is a gather or a scatter. Whole images keep the
# backward's scatter-add race-free: tiles overlap only inside an image.

_TILES_PER_TASK = 64  # tiles of a task's vectors: the scratch, a*a*Q values, stays in L1


def _images_per_task(tiles_per_image):
    return max(1, _TILES_PER_TASK // tiles_per_image)


@njit(cache=True, inline="always")
def _rows_times(mat, src, out):
    """out[i, l, :] = sum_k mat[i, k] * src[k, l, :], skipping mat's zeros (vectors over the last axis)."""
    out[...] = 0
    for i in range(mat.shape[0]):
        for k in range(mat.shape[1]):
            c = mat[i, k]
            if c != 0:
                for l in range(src.shape[1]):
                    for q in range(src.shape[2]):
                        out[_u(i), _u(l), _u(q)] += c * src[_u(k), _u(l), _u(q)]


@njit(cache=True, inline="always")
def _cols_times(src, mat, out):
    """out[i, j, :] = sum_l src[i, l, :] * mat[j, l], skipping mat's zeros."""
    out[...] = 0
    for j in range(mat.shape[0]):
        for l in range(mat.shape[1]):
            c = mat[j, l]
            if c != 0:
                for i in range(src.shape[0]):
                    for q in range(src.shape[2]):
                        out[_u(i), _u(j), _u(q)] += c * src[_u(i), _u(l), _u(q)]


@njit(cache=True, inline="always")
def _load_rows(src, ch, q0, out):
    """out[i, j, q] = src[i*a + j, ch, q0 + q]: a block of a transform-domain array, by plain loops (slicing a
    view per row costs Numba more than copying the row)."""
    a, _, count = out.shape
    for i in range(a):
        for j in range(a):
            row = _u(i * a + j)
            for q in range(count):
                out[_u(i), _u(j), _u(q)] = src[row, _u(ch), _u(q0 + q)]


@njit(cache=True, inline="always")
def _store_rows(block, dst, ch, q0):
    """dst[i*a + j, ch, q0 + q] = block[i, j, q]: the inverse of :func:`_load_rows`."""
    a, _, count = block.shape
    for i in range(a):
        for j in range(a):
            row = _u(i * a + j)
            for q in range(count):
                dst[row, _u(ch), _u(q0 + q)] = block[_u(i), _u(j), _u(q)]


@_jit
def _winograd_input(x, bt, m, ph, pw, th, tw, per_task, v):
    """v[i*a + j, c, q] = (B^T d B)[i, j], d the tile q = (n*th + ty)*tw + tx at (m*ty - ph, m*tx - pw) of x[n, c]."""
    n, c = x.shape[0], x.shape[1]
    a = bt.shape[0]
    blocks = -(-n // per_task)
    for task in prange(c * blocks):
        ch, first = task // blocks, task % blocks * per_task
        last = min(n, first + per_task)
        q0, count = first * th * tw, (last - first) * th * tw
        d = np.empty((a, a, count), dtype=x.dtype)
        t = np.empty((a, a, count), dtype=x.dtype)
        vt = np.empty((a, a, count), dtype=x.dtype)
        gather_input_tiles(x, ch, first, last, m, ph, pw, th, tw, d)
        _rows_times(bt, d, t)
        _cols_times(t, bt, vt)
        _store_rows(vt, v, ch, q0)


def winograd_input_transform(x, bt, m, padding, tiles):
    """V = B^T d B for every tile d of the padded input x (N, C, H, W) -> (a*a, C, N*th*tw)."""
    a = bt.shape[0]
    n, c = x.shape[:2]
    v = np.empty((a * a, c, n * tiles[0] * tiles[1]), dtype=x.dtype)
    per_task = _images_per_task(tiles[0] * tiles[1])
    _winograd_input(x, np.ascontiguousarray(bt, dtype=x.dtype), m, *padding, *tiles, per_task, v)
    return v


@_jit
def _winograd_input_gradient(dv, b_, m, ph, pw, th, tw, per_task, dx):
    """dx[n, c] = the sum over its tiles of B dV B^T placed at (m*ty - ph, m*tx - pw), cropped to the image."""
    n, c = dx.shape[0], dx.shape[1]
    a = b_.shape[0]
    blocks = -(-n // per_task)
    for task in prange(c * blocks):
        ch, first = task // blocks, task % blocks * per_task
        last = min(n, first + per_task)
        q0, count = first * th * tw, (last - first) * th * tw
        g = np.empty((a, a, count), dtype=dv.dtype)
        t = np.empty((a, a, count), dtype=dv.dtype)
        dd = np.empty((a, a, count), dtype=dv.dtype)
        _load_rows(dv, ch, q0, g)
        _rows_times(b_, g, t)
        _cols_times(t, b_, dd)
        scatter_add_input_tiles(dd, dx, ch, first, last, m, ph, pw, th, tw)


def winograd_input_gradient(dv, bt, m, padding, tiles, x_shape, out=None):
    """Adjoint of :func:`winograd_input_transform`: (a*a, C, N*th*tw) -> (N, C, H, W), into ``out`` if given."""
    out = np.empty(x_shape, dtype=dv.dtype) if out is None else out
    per_task = _images_per_task(tiles[0] * tiles[1])
    _winograd_input_gradient(dv, np.ascontiguousarray(bt.T, dtype=dv.dtype), m, *padding, *tiles, per_task, out)
    return out


@_jit
def _winograd_output(mm, at, bias, th, tw, per_task, out):
    """out[n, o, m*ty + i, m*tx + j] = (A^T M A)[i, j] (+ bias[o]) of tile (ty, tx), cropped to out's plane."""
    n, oc = out.shape[0], out.shape[1]
    m, a = at.shape
    blocks = -(-n // per_task)
    for task in prange(oc * blocks):
        o, first = task // blocks, task % blocks * per_task
        last = min(n, first + per_task)
        q0, count = first * th * tw, (last - first) * th * tw
        g = np.empty((a, a, count), dtype=mm.dtype)
        t = np.empty((m, a, count), dtype=mm.dtype)
        y = np.empty((m, m, count), dtype=mm.dtype)
        add = mm.dtype.type(0) if bias is None else bias[o]
        _load_rows(mm, o, q0, g)
        _rows_times(at, g, t)
        _cols_times(t, at, y)
        scatter_output_tiles(y, out, o, first, last, th, tw, add)


def winograd_output_transform(mm, at, out_hw, tiles, bias=None, out=None):
    """Y = A^T M A per tile, cropped to (oh, ow), + ``bias``: M (a*a, OC, N*th*tw) -> (N, OC, oh, ow)."""
    oc, p = mm.shape[1:]
    if out is None:
        out = np.empty((p // (tiles[0] * tiles[1]), oc) + tuple(out_hw), dtype=mm.dtype)
    bias = None if bias is None else bias.astype(mm.dtype, copy=False)
    per_task = _images_per_task(tiles[0] * tiles[1])
    _winograd_output(mm, np.ascontiguousarray(at, dtype=mm.dtype), bias, *tiles, per_task, out)
    return out


@_jit
def _winograd_output_gradient(gy, a_, th, tw, per_task, dm):
    """dm[i*a + j, o, q] = (A dY A^T)[i, j], dY the m x m block of gy[n, o] at (m*ty, m*tx), 0 past its edge."""
    n, oc = gy.shape[0], gy.shape[1]
    a, m = a_.shape
    blocks = -(-n // per_task)
    for task in prange(oc * blocks):
        o, first = task // blocks, task % blocks * per_task
        last = min(n, first + per_task)
        q0, count = first * th * tw, (last - first) * th * tw
        g = np.empty((m, m, count), dtype=gy.dtype)
        t = np.empty((a, m, count), dtype=gy.dtype)
        d = np.empty((a, a, count), dtype=gy.dtype)
        gather_output_tiles(gy, o, first, last, th, tw, g)
        _rows_times(a_, g, t)
        _cols_times(t, a_, d)
        _store_rows(d, dm, o, q0)


def winograd_output_gradient(gy, at, tiles):
    """Adjoint of :func:`winograd_output_transform` (without the bias): (N, OC, oh, ow) -> (a*a, OC, N*th*tw)."""
    n, oc = gy.shape[:2]
    a = at.shape[1]
    dm = np.empty((a * a, oc, n * tiles[0] * tiles[1]), dtype=gy.dtype)
    per_task = _images_per_task(tiles[0] * tiles[1])
    _winograd_output_gradient(gy, np.ascontiguousarray(at.T, dtype=gy.dtype), *tiles, per_task, dm)
    return dm


# ---------------------------------------------------------------------------------------------------------
# Max-pooling


@njit(cache=True, inline="always")
def _valid(offset, stride, pad, size, n_out):
    """The range [lo, hi) of output positions o whose input index ``offset + stride*o - pad`` is in [0, size)."""
    lo = max(0, (pad - offset + stride - 1) // stride)
    hi = min(n_out, (size - 1 + pad - offset) // stride + 1)
    return lo, max(lo, hi)


@_jit
def _maxpool_forward(x, kh, kw, sh, sw, ph, pw, chunks, y, argmax):
    """y[n, c, oy, ox] = max of x[n, c, sh*oy - ph + i, sw*ox - pw + j] over the window; argmax = r*W + s of it.

    Each window is scanned row-major, replacing the best on ``>`` (ties keep the first), when a NaN meets a
    non-NaN (NaN wins), or when nothing is held yet: only in-bounds elements compete, so a window of all -inf
    reports its first in-bounds element, as the reference and PyTorch do.

    The loops run window offset (i, j) outside and output column inside, keeping one running best per output
    of the row: no step of the inner loop waits for the one before, and with the plane copied into the
    phase-split layout of im2col its loads are contiguous, so LLVM vectorises it (2-4x faster than a loop per
    window on 22-54 px planes). Tasks are chunks of planes, so the scratch rows are allocated once per chunk.
    """
    n, c, h, w = x.shape
    oh, ow = y.shape[2:]
    neg_inf = x.dtype.type(-np.inf)
    wq = _split_width(w + 2 * pw, sw)
    planes = n * c
    for t in prange(chunks):
        xs = np.empty((h, sw, wq), dtype=x.dtype)  # this plane, phase-split: xs[r, q, k] = x[r, q + sw*k - pw]
        best = np.empty(ow, dtype=x.dtype)
        at = np.empty(ow, dtype=np.int32)  # -1: nothing held yet
        for p in range(t * planes // chunks, (t + 1) * planes // chunks):
            b, ch = _u(p // c), _u(p % c)
            _split_plane(x, b, ch, 0, pw, neg_inf, xs)  # rows unpadded: the row loop below clips them
            for oy in range(oh):
                r0 = sh * oy - ph
                best[:] = neg_inf
                at[:] = -1
                for r in range(max(r0, 0), min(r0 + kh, h)):
                    for j in range(kw):
                        q, k0 = _u(j % sw), j // sw
                        row_start = np.int32(r * w + j - pw)  # flat index of column j - pw of row r
                        lo, hi = _valid(j, sw, pw, w, ow)
                        for ox in range(lo, hi):
                            # selects, not an if: which element wins is unpredictable
                            v, m, a = xs[_u(r), q, _u(k0 + ox)], best[_u(ox)], at[_u(ox)]
                            take = (v > m) | ((v != v) & (m == m)) | (a < 0)
                            best[_u(ox)] = v if take else m
                            at[_u(ox)] = row_start + np.int32(sw * ox) if take else a
                for ox in range(ow):
                    y[b, ch, _u(oy), _u(ox)] = best[_u(ox)]
                    argmax[b, ch, _u(oy), _u(ox)] = at[_u(ox)]


def maxpool_forward(x, kernel, stride, padding):
    """Max over each window -> (y, argmax); argmax is the flat index into the input's H*W plane.

    Only in-bounds elements compete (padding never wins). Ties go to the first maximum in row-major window
    order; NaN wins (as PyTorch).
    """
    n, c, h, w = x.shape
    oh, ow = output_hw(h, w, kernel, stride, padding)
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    argmax = np.empty((n, c, oh, ow), dtype=np.int32)
    _maxpool_forward(x, *kernel, *stride, *padding, _chunks(n * c), y, argmax)
    return y, argmax


@_jit
def _maxpool_backward(gy, argmax, dx):
    """dx[n, c, argmax[n, c, oy, ox]] += gy[n, c, oy, ox], with dx as (N, C, H*W) planes, one task per plane.

    An arg-max outside the plane (impossible from ``maxpool_forward``) is dropped, never written out of bounds.
    """
    n, c, hw = dx.shape
    oh, ow = gy.shape[2:]
    zero = dx.dtype.type(0)
    for p in prange(n * c):
        b, ch = _u(p // c), _u(p % c)
        for k in range(hw):
            dx[b, ch, _u(k)] = zero
        for oy in range(oh):
            for ox in range(ow):
                k = argmax[b, ch, _u(oy), _u(ox)]
                if 0 <= k < hw:
                    dx[b, ch, _u(k)] += gy[b, ch, _u(oy), _u(ox)]


def maxpool_backward(gy, argmax, x_shape, kernel, stride, padding):
    """Route each output gradient to its window's arg-max; windows that overlap add up (geometry unused)."""
    n, c, h, w = x_shape
    dx = np.empty((n, c, h * w), dtype=gy.dtype)
    _maxpool_backward(gy, argmax, dx)
    return dx.reshape(x_shape)


# ---------------------------------------------------------------------------------------------------------
# Element-wise kernels: one fused pass instead of NumPy's temporaries (``y > 0``, ``u >= p``, the product).


def _flat(a):
    """``a`` as a 1-d array: a view when ``a`` is contiguous, else a C-order copy -- one sequential pass
    here is cheaper than a strided N-d kernel, and the library's activations are contiguous anyway."""
    return a.reshape(-1)


@_jit
def _relu_forward(x, out):
    """out = max(x, 0), NaN passing through as in ``np.maximum``."""
    zero = x.dtype.type(0)  # a bare 0 would make the select float64
    for k in prange(x.size):
        v = x[k]
        out[k] = v if v > 0 or v != v else zero


def relu_forward(x):
    out = np.empty(x.shape, dtype=x.dtype)
    _relu_forward(_flat(x), out.reshape(-1))
    return out


@_jit
def _relu_backward(gy, y, out):
    """out = gy * (y > 0): a product rather than a select, so a NaN or inf in gy propagates like the reference."""
    zero, one = gy.dtype.type(0), gy.dtype.type(1)
    for k in prange(gy.size):
        out[k] = gy[k] * (one if y[k] > 0 else zero)


def relu_backward(gy, y):
    """dL/dx = dL/dy where the unit was active (y > 0), else 0."""
    out = np.empty(gy.shape, dtype=gy.dtype)
    _relu_backward(_flat(gy), _flat(y), out.reshape(-1))
    return out


@_jit
def _dropout_mask(u, p, scale, out):
    """out = scale where u >= p (kept), else 0."""
    zero = u.dtype.type(0)
    for k in prange(u.size):
        out[k] = scale if u[k] >= p else zero


def dropout_mask(u, p):
    """Inverted-dropout mask from uniforms ``u`` in [0, 1): 0 where dropped, 1/(1-p) where kept."""
    scale = 0.0 if p >= 1.0 else 1.0 / (1.0 - p)
    out = np.empty(u.shape, dtype=u.dtype)
    # p and scale in u's dtype: NumPy compares a float32 array with a Python float in float32 (NEP 50)
    _dropout_mask(_flat(u), u.dtype.type(p), u.dtype.type(scale), out.reshape(-1))
    return out


# =========================================================================================================
# LeNet's layers: sigmoid, tanh (fused element-wise passes) and average pooling (one pass per plane)


@_jit
def _sigmoid_forward(x, out):
    """As the reference: e = e^-|x|, then 1/(1 + e) for x >= 0 and e/(1 + e) below -- no overflow anywhere."""
    one = x.dtype.type(1)
    for k in prange(x.size):
        v = x[k]
        e = np.exp(-abs(v))
        out[k] = one / (one + e) if v >= 0 else e / (one + e)


def sigmoid_forward(x):
    out = np.empty(x.shape, dtype=x.dtype)
    _sigmoid_forward(_flat(x), out.reshape(-1))
    return out


@_jit
def _sigmoid_backward(gy, y, out):
    one = gy.dtype.type(1)
    for k in prange(gy.size):
        out[k] = gy[k] * y[k] * (one - y[k])


def sigmoid_backward(gy, y):
    """dL/dx = dL/dy * y * (1 - y)."""
    out = np.empty(gy.shape, dtype=gy.dtype)
    _sigmoid_backward(_flat(gy), _flat(y), out.reshape(-1))
    return out


@_jit
def _tanh_forward(x, out):
    for k in prange(x.size):
        out[k] = np.tanh(x[k])


def tanh_forward(x):
    out = np.empty(x.shape, dtype=x.dtype)
    _tanh_forward(_flat(x), out.reshape(-1))
    return out


@_jit
def _tanh_backward(gy, y, out):
    one = gy.dtype.type(1)
    for k in prange(gy.size):
        out[k] = gy[k] * (one - y[k] * y[k])


def tanh_backward(gy, y):
    """dL/dx = dL/dy * (1 - y^2)."""
    out = np.empty(gy.shape, dtype=gy.dtype)
    _tanh_backward(_flat(gy), _flat(y), out.reshape(-1))
    return out


@_jit
def _avgpool_forward(x, kh, kw, sh, sw, ph, pw, divisor, y):
    """y[n, c, oy, ox] = sum of the window's in-bounds x / divisor[oy, ox], one task per plane.

    The window is clipped to the input instead of padded: the padding adds zeros, so the sums (in the
    reference's row-major order) are the same numbers."""
    n, c, h, w = x.shape
    oh, ow = y.shape[2:]
    zero = x.dtype.type(0)
    for p in prange(n * c):
        b, ch = _u(p // c), _u(p % c)
        for oy in range(oh):
            r0 = sh * oy - ph
            for ox in range(ow):
                c0 = sw * ox - pw
                total = zero
                for r in range(max(r0, 0), min(r0 + kh, h)):
                    for s in range(max(c0, 0), min(c0 + kw, w)):
                        total += x[b, ch, _u(r), _u(s)]
                y[b, ch, _u(oy), _u(ox)] = total / divisor[_u(oy), _u(ox)]


def avgpool_forward(x, kernel, stride, padding, divisor):
    """y = each window's sum / divisor[oy, ox] (see the reference); the divisor's shape is the output's."""
    n, c = x.shape[:2]
    y = np.empty((n, c, *divisor.shape), dtype=x.dtype)
    _avgpool_forward(x, *kernel, *stride, *padding, divisor, y)
    return y


@_jit
def _avgpool_backward(gy, kh, kw, sh, sw, ph, pw, divisor, dx):
    """dx[window] += gy[n, c, oy, ox] / divisor[oy, ox] for every window (clipped to the input), per plane."""
    n, c, h, w = dx.shape
    oh, ow = gy.shape[2:]
    zero = dx.dtype.type(0)
    for p in prange(n * c):
        b, ch = _u(p // c), _u(p % c)
        for r in range(h):
            for s in range(w):
                dx[b, ch, _u(r), _u(s)] = zero
        for oy in range(oh):
            r0 = sh * oy - ph
            for ox in range(ow):
                c0 = sw * ox - pw
                share = gy[b, ch, _u(oy), _u(ox)] / divisor[_u(oy), _u(ox)]
                for r in range(max(r0, 0), min(r0 + kh, h)):
                    for s in range(max(c0, 0), min(c0 + kw, w)):
                        dx[b, ch, _u(r), _u(s)] += share


def avgpool_backward(gy, x_shape, kernel, stride, padding, divisor):
    """Every pixel of a window receives gy / divisor; overlapping windows add up."""
    dx = np.empty(tuple(x_shape), dtype=gy.dtype)
    _avgpool_backward(gy, *kernel, *stride, *padding, divisor, dx)
    return dx
