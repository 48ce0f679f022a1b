"""Plain array-library kernels: the readable definition every other engine must equal.

Written against NumPy's API and the array module of their input, so they run on CuPy arrays as well.
Loops run only over the kernel's kh x kw offsets (as Chainer's ``im2col_cpu``), never over pixels: each
iteration copies one strided slice of the padded input.

Shapes: images are NCHW; ``kernel``, ``stride``, ``padding`` are (h, w) pairs of ints.
The im2col matrix ``col`` has shape (C*kh*kw, N*oh*ow): row ``(c, i, j)``, column ``(n, y, x)`` holds
``x_padded[n, c, i + sh*y, j + sw*x]`` -- so a convolution is ``W.reshape(OC, -1) @ col``.
"""

from __future__ import annotations

from ..backend import array_module
from .geometry import output_hw


def _window(a, i, j, stride, out_hw):
    """The (N, C, oh, ow) view of every window's element at kernel offset (i, j)."""
    (sh, sw), (oh, ow) = stride, out_hw
    return a[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]


def _pad(x, padding, value=0.0):
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    return array_module(x).pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def im2col(x, kernel, stride, padding):
    """(N, C, H, W) -> (C*kh*kw, N*oh*ow)."""
    xp = array_module(x)
    n, c, h, w = x.shape
    kh, kw = kernel
    oh, ow = output_hw(h, w, kernel, stride, padding)
    xpad = _pad(x, padding)
    col = xp.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            col[:, i, j] = _window(xpad, i, j, stride, (oh, ow)).transpose(1, 0, 2, 3)
    return col.reshape(c * kh * kw, n * oh * ow)


def col2im(col, x_shape, kernel, stride, padding):
    """Adjoint of :func:`im2col`: (C*kh*kw, N*oh*ow) -> (N, C, H, W), overlapping windows summed."""
    xp = array_module(col)
    n, c, h, w = x_shape
    kh, kw = kernel
    ph, pw = padding
    oh, ow = output_hw(h, w, kernel, stride, padding)
    col = col.reshape(c, kh, kw, n, oh, ow)
    dxpad = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=col.dtype)
    for i in range(kh):
        for j in range(kw):
            _window(dxpad, i, j, stride, (oh, ow))[...] += col[:, i, j].transpose(1, 0, 2, 3)
    return xp.ascontiguousarray(dxpad[:, :, ph:ph + h, pw:pw + w])


def gemm_to_nchw(y, n, bias=None):
    """The conv GEMM's (OC, N*L) result as a contiguous (N, OC, L) array, plus ``bias`` per channel."""
    xp = array_module(y)
    oc = y.shape[0]
    out = xp.ascontiguousarray(y.reshape(oc, n, -1).transpose(1, 0, 2))
    if bias is not None:
        out += bias[:, None]
    return out


def nchw_to_gemm(g):
    """(N, OC, H, W) -> contiguous (OC, N*H*W): the layout the conv GEMMs consume."""
    xp = array_module(g)
    n, oc = g.shape[:2]
    return xp.ascontiguousarray(g.reshape(n, oc, -1).transpose(1, 0, 2)).reshape(oc, -1)


# --- Winograd's transforms -------------------------------------------------------------------------------
# F(m x m, r x r) with a = m + r - 1 (minialex.ops.winograd has the math). A tile (ty, tx) reads the a x a
# window of the padded input at rows m*ty ... m*ty + a - 1 (columns likewise) and gives the m x m outputs
# from pixel (m*ty, m*tx); tiles that hang over the padded input read zeros, those over the output are
# cropped. Transform-domain arrays are (a*a, channels, P), P = N*th*tw tiles in (n, ty, tx) order: point xi
# = i*a + j is one contiguous (channels, P) matrix, the operand of that point's GEMM.


def _tile_windows(x, m, a, padding, tiles):
    """(N, C, th, tw, a, a) copy of every tile's window of the zero-padded input."""
    xp = array_module(x)
    n, c, h, w = x.shape
    (ph, pw), (th, tw) = padding, tiles
    hp, wp = m * (th - 1) + a, m * (tw - 1) + a
    xpad = xp.zeros((n, c, max(hp, h + ph), max(wp, w + pw)), dtype=x.dtype)
    xpad[:, :, ph:ph + h, pw:pw + w] = x
    d = xp.empty((n, c, th, tw, a, a), dtype=x.dtype)
    for k in range(a):
        for l in range(a):
            d[..., k, l] = xpad[:, :, k:k + m * th:m, l:l + m * tw:m]
    return d


def winograd_input_transform(x, bt, m, padding, tiles):
    """V = B^T d B for every tile d of the padded input x (N, C, H, W) -> (a*a, C, N*th*tw)."""
    a = bt.shape[0]
    n, c = x.shape[:2]
    v = bt @ _tile_windows(x, m, a, padding, tiles) @ bt.T          # (N, C, th, tw, a, a)
    return array_module(x).ascontiguousarray(v.transpose(4, 5, 1, 0, 2, 3)).reshape(a * a, c, -1)


def winograd_input_gradient(dv, bt, m, padding, tiles, x_shape, out=None):
    """Adjoint of :func:`winograd_input_transform`: dD = B dV B^T per tile, overlapping windows summed,
    the padding dropped -> (N, C, H, W), into ``out`` if given."""
    xp = array_module(dv)
    a = bt.shape[0]
    n, c, h, w = x_shape
    (ph, pw), (th, tw) = padding, tiles
    dd = bt.T @ dv.reshape(a, a, c, n, th, tw).transpose(3, 2, 4, 5, 0, 1) @ bt  # (N, C, th, tw, a, a)
    hp, wp = m * (th - 1) + a, m * (tw - 1) + a
    dpad = xp.zeros((n, c, max(hp, h + ph), max(wp, w + pw)), dtype=dv.dtype)
    for k in range(a):
        for l in range(a):
            dpad[:, :, k:k + m * th:m, l:l + m * tw:m] += dd[..., k, l]
    out = xp.empty(x_shape, dtype=dv.dtype) if out is None else out
    out[...] = dpad[:, :, ph:ph + h, pw:pw + w]
    return out


def winograd_output_transform(mm, at, out_hw, tiles, bias=None, out=None):
    """Y = A^T M A per tile, cropped to (oh, ow), + ``bias``: M (a*a, OC, N*th*tw) -> (N, OC, oh, ow)."""
    xp = array_module(mm)
    m, a = at.shape
    oc = mm.shape[1]
    (oh, ow), (th, tw) = out_hw, tiles
    n = mm.shape[2] // (th * tw)
    y = at @ mm.reshape(a, a, oc, n, th, tw).transpose(3, 2, 4, 5, 0, 1) @ at.T   # (N, OC, th, tw, m, m)
    out = xp.empty((n, oc, oh, ow), dtype=mm.dtype) if out is None else out
    out[...] = y.transpose(0, 1, 2, 4, 3, 5).reshape(n, oc, th * m, tw * m)[:, :, :oh, :ow]
    if bias is not None:
        out += bias[:, None, None]
    return out


def winograd_output_gradient(gy, at, tiles):
    """Adjoint of :func:`winograd_output_transform` (without the bias): dM = A dY A^T per tile, dY zero where
    a tile hangs over the output: (N, OC, oh, ow) -> (a*a, OC, N*th*tw)."""
    xp = array_module(gy)
    m, a = at.shape
    n, oc, oh, ow = gy.shape
    th, tw = tiles
    full = xp.zeros((n, oc, th * m, tw * m), dtype=gy.dtype)
    full[:, :, :oh, :ow] = gy
    dm = at.T @ full.reshape(n, oc, th, m, tw, m).transpose(0, 1, 2, 4, 3, 5) @ at  # (N, OC, th, tw, a, a)
    return xp.ascontiguousarray(dm.transpose(4, 5, 1, 0, 2, 3)).reshape(a * a, oc, -1)


def maxpool_forward(x, kernel, stride, padding):
    """Max over each window -> (y, argmax); argmax is the flat index into the input's H*W plane.

    Only in-bounds elements compete (padding acts as -inf but never wins, even against a real -inf). Ties go to
    the first maximum in row-major window order; NaN wins (as PyTorch).
    """
    xp = array_module(x)
    n, c, h, w = x.shape
    kh, kw = kernel
    (sh, sw), (ph, pw) = stride, padding
    oh, ow = output_hw(h, w, kernel, stride, padding)
    xpad = _pad(x, padding, value=-xp.inf)
    top, left = xp.arange(oh) * sh - ph, xp.arange(ow) * sw - pw  # each window's first row / column
    y = xp.full((n, c, oh, ow), -xp.inf, dtype=x.dtype)
    best = xp.full((n, c, oh, ow), -1, dtype=xp.int32)  # offset i*kw + j of the winner inside its window
    for i in range(kh):
        for j in range(kw):
            inside = ((top + i >= 0) & (top + i < h))[:, None] & ((left + j >= 0) & (left + j < w))[None, :]
            v = _window(xpad, i, j, stride, (oh, ow))
            better = inside & ((best < 0) | (v > y) | (xp.isnan(v) & ~xp.isnan(y)))
            y = xp.where(better, v, y)
            best = xp.where(better, i * kw + j, best)
    rows = top[:, None] + best // kw
    cols = left[None, :] + best % kw
    return y, (rows * w + cols).astype(xp.int32)


def maxpool_backward(gy, argmax, x_shape, kernel, stride, padding):
    """Route each output gradient to its window's arg-max; windows that overlap add up.

    A scatter-add over ``argmax``; the geometry is unused here (the GPU engine's gather needs it)."""
    xp = array_module(gy)
    n, c, h, w = x_shape
    plane = (xp.arange(n * c, dtype=xp.int64) * (h * w)).reshape(n, c, 1, 1)
    dx = xp.bincount((plane + argmax).ravel(), weights=gy.ravel(), minlength=n * c * h * w)
    return dx.astype(gy.dtype).reshape(x_shape)


def relu_forward(x):
    return array_module(x).maximum(x, 0)


def relu_backward(gy, y):
    """dL/dx = dL/dy where the unit was active (y > 0), else 0."""
    return gy * (y > 0)


def dropout_mask(u, p):
    """Inverted-dropout mask from uniforms ``u`` in [0, 1): 0 where dropped, 1/(1-p) where kept."""
    scale = 0.0 if p >= 1.0 else 1.0 / (1.0 - p)
    return ((u >= p) * scale).astype(u.dtype)


# =========================================================================================================
# LeNet's layers: sigmoid, tanh and average pooling


def sigmoid_forward(x):
    """1 / (1 + e^-x), computed from e = e^-|x| <= 1 so nothing overflows: 1/(1 + e) for x >= 0, e/(1 + e) below.

    sigmoid(1000) is exactly 1 and sigmoid(-1000) exactly 0, with no overflow warning; NaN stays NaN."""
    xp = array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_backward(gy, y):
    """dL/dx = dL/dy * y * (1 - y), from the forward's output y."""
    return gy * y * (1 - y)


def tanh_forward(x):
    """tanh saturates to +-1 without overflow (the library's tanh never forms e^x for large x)."""
    return array_module(x).tanh(x)


def tanh_backward(gy, y):
    """dL/dx = dL/dy * (1 - y^2), from the forward's output y."""
    return gy * (1 - y * y)


def _pad_for_windows(x, padding, out_hw, kernel, stride):
    """``x`` zero-padded by ``padding`` before and as much after as the last window (ceil mode) reaches."""
    (ph, pw), (oh, ow), (kh, kw), (sh, sw) = padding, out_hw, kernel, stride
    h, w = x.shape[2:]
    bottom, right = max(0, (oh - 1) * sh + kh - h - ph), max(0, (ow - 1) * sw + kw - w - pw)
    return array_module(x).pad(x, ((0, 0), (0, 0), (ph, bottom), (pw, right)))


def avgpool_forward(x, kernel, stride, padding, divisor):
    """y[n, c, oy, ox] = (sum of the window's input elements) / divisor[oy, ox]; padding adds nothing.

    ``divisor`` (oh, ow), in x's dtype and on its engine, fixes the output size and what each window counts
    (:func:`minialex.kernels.geometry.pool_divisors`: with or without the padding, or an override)."""
    xp = array_module(x)
    n, c = x.shape[:2]
    out_hw = divisor.shape
    xpad = _pad_for_windows(x, padding, out_hw, kernel, stride)
    total = xp.zeros((n, c, *out_hw), dtype=x.dtype)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            total += _window(xpad, i, j, stride, out_hw)
    return total / divisor


def avgpool_backward(gy, x_shape, kernel, stride, padding, divisor):
    """Adjoint of :func:`avgpool_forward`: every pixel of a window receives gy / divisor; overlaps add up."""
    xp = array_module(gy)
    n, c, h, w = x_shape
    (ph, pw), out_hw = padding, divisor.shape
    share = gy / divisor
    dxpad = _pad_for_windows(xp.zeros(x_shape, dtype=gy.dtype), padding, out_hw, kernel, stride)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            _window(dxpad, i, j, stride, out_hw)[...] += share
    return xp.ascontiguousarray(dxpad[:, :, ph:ph + h, pw:pw + w])
