"""Winograd convolution F(m x m, r x r): stride-1 conv2d with fewer multiplies (Lavin & Gray, 2015).

An m x m block of outputs of an r x r correlation needs an (a x a) input tile, a = m + r - 1, and

    Y_tile = A^T [ (G g G^T) * (B^T d B) ] A                 * element-wise, a*a multiplies instead of m*m*r*r

With C input channels the element-wise product is a sum over channels, so every one of the a*a transform
points xi becomes one matrix product over the whole batch (docs/winograd.md derives it all):

Forward   D   = tiles of the padded input, a x a at stride m   (C, a*a, P)      im2col with kernel a, stride m
          V   = (B^T (x) B^T) D          per channel            (C, a*a, P)      P = N * tiles per image
          U   = (G (x) G) g                                     (a*a, OC, C)
          M   = U[xi] @ V[:, xi]         one GEMM per point      (a*a, OC, P)
          Y   = (A^T (x) A^T) M, tiles put back in NCHW, cropped, + b
Backward  dM  = (A (x) A) dY_tiles                              (a*a, OC, P)      the adjoint of the output step
          dU  = dM[xi] @ V[:, xi]^T ;  dW = (G^T (x) G^T) dU    (the filter transform's adjoint)
          dV  = U[xi]^T @ dM[xi] ;     dD = (B (x) B) dV ;  dx = col2im(dD)   (adjoints of the input steps)

(x) is the Kronecker product: (B^T (x) B^T) vec(d) = vec(B^T d B) for a tile d read row by row, so each
transform is one GEMM with an (a*a)-row matrix. The backward uses the transposes of the forward's matrices:
every step above is linear, and the adjoint of "multiply by K" is "multiply by K^T".

The transforms are built exactly (fractions) by :func:`transforms` from interpolation points, so any F(m, r)
can be printed and checked; :data:`TILE` says which m each kernel size runs, chosen by measured speed and
float32 error (docs/winograd.md).
"""

from __future__ import annotations

import functools
from fractions import Fraction
from math import gcd, lcm

import numpy as np

from ..backend import get_backend
from ..errors import ConfigError
from .common import Tensor

# Interpolation points, in the order the matrices use them; infinity is always the last point. Small integers
# and their reciprocals keep the transforms' entries small, which is what keeps float32 rounding small.
POINTS = (Fraction(0), Fraction(1), Fraction(-1), Fraction(2), Fraction(-2), Fraction(1, 2), Fraction(-1, 2),
          Fraction(3), Fraction(-3), Fraction(1, 3), Fraction(-1, 3))

# Output tile m for each supported (square) kernel size r: F(4x4, 3x3) and F(4x4, 5x5). Both measured as the
# fastest tile on AlexNet's conv2-conv5 at 224 and 96 px, with float32 error ~1e-5 of max|y| (docs/winograd.md).
TILE = {3: 4, 5: 4}


def _inverse(rows):
    """Inverse of a square matrix of Fractions by Gauss-Jordan elimination (exact)."""
    n = len(rows)
    a = [list(row) + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(rows)]
    for c in range(n):
        p = next(r for r in range(c, n) if a[r][c] != 0)
        a[c], a[p] = a[p], a[c]
        a[c] = [v / a[c][c] for v in a[c]]
        for r in range(n):
            if r != c and a[r][c] != 0:
                a[r] = [u - a[r][c] * v for u, v in zip(a[r], a[c])]
    return [row[n:] for row in a]


@functools.lru_cache(maxsize=None)
def transforms(m: int, r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A^T, G, B^T) of F(m, r) as float64 arrays of shapes (m, a), (a, r), (a, a), with a = m + r - 1.

    Toom-Cook: evaluate at a - 1 points and infinity. With E_k the (a x k) matrix that evaluates a polynomial
    with k coefficients at those points (row "infinity" picks the leading coefficient), a linear convolution
    of g (r taps) with h (m taps) is  s = E_a^-1 [(E_r g) * (E_m h)]. The correlation y_i = sum_k g_k d_(i+k)
    is that map's transpose in h, so  y = E_m^T [(E_r g) * (E_a^-T d)]:  A^T = E_m^T, G = E_r, B^T = E_a^-T.
    Each row of B^T is then scaled to coprime integers and G's row divided by the same factor (their product,
    all that matters, is unchanged).
    """
    a = m + r - 1
    if not 2 <= a <= len(POINTS) + 1:
        raise ConfigError(f"winograd: F({m}, {r}) needs {a - 1} interpolation points; at most {len(POINTS)} are defined")
    points = POINTS[:a - 1]

    def evaluation(k):
        return [[p ** j for j in range(k)] for p in points] + [[Fraction(int(j == k - 1)) for j in range(k)]]

    at = [list(col) for col in zip(*evaluation(m))]
    g = evaluation(r)
    bt = [list(col) for col in zip(*_inverse(evaluation(a)))]
    for row in range(a):
        den = lcm(*(v.denominator for v in bt[row]))
        num = functools.reduce(gcd, ((v * den).numerator for v in bt[row]))
        scale = Fraction(den, num)
        bt[row] = [v * scale for v in bt[row]]
        g[row] = [v / scale for v in g[row]]
    as_array = lambda rows: np.array([[float(v) for v in row] for row in rows])  # noqa: E731
    return as_array(at), as_array(g), as_array(bt)


def why_not(kernel, stride, padding) -> str | None:
    """None if Winograd can run this convolution, else the rule it breaks (for error messages)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if kh != kw or kh not in TILE:
        return f"kernel must be square with size in {sorted(TILE)}, got {kh}x{kw}"
    if (sh, sw) != (1, 1):
        return f"stride must be 1, got {sh}x{sw}"
    if max(ph, pw) > kh - 1:
        return f"padding must be at most kernel_size - 1 = {kh - 1}, got {ph}x{pw}"
    return None


def tiles_per_axis(out_size: int, m: int) -> int:
    """Tiles of m outputs that cover ``out_size`` outputs (the last one may hang over and is cropped)."""
    return -(-out_size // m)


# The transform-domain arrays of a whole batch are large (conv2's M at 224 px, batch 128: 411 MB), so images
# go through in chunks whose largest temporary stays near this size; see docs/winograd.md for the measurements.
CHUNK_BYTES = 192 << 20


def chunk_images(n: int, in_channels: int, out_channels: int, r: int, out_hw, itemsize: int) -> tuple[int, int]:
    """(images per chunk, bytes of the chunk's largest array: V (C, a*a, P) or M (a*a, OC, P), P its tiles)."""
    m = TILE[r]
    per_image = ((m + r - 1) ** 2 * max(in_channels, out_channels) * tiles_per_axis(out_hw[0], m)
                 * tiles_per_axis(out_hw[1], m) * itemsize)
    images = min(n, max(1, CHUNK_BYTES // per_image))
    return images, images * per_image


def _per_point(xp, left, right, out):
    """out[xi] = left[xi] @ right[xi] for every transform point xi.

    A loop of plain GEMMs rather than one batched matmul: on strided operands NumPy's batched matmul was up to
    2.7x slower here (it copies), while each point's 2-D slice goes to BLAS as it is."""
    for xi in range(out.shape[0]):
        xp.matmul(left[xi], right[xi], out=out[xi])
    return out


def conv2d_winograd(x: Tensor, weight: Tensor, bias: Tensor | None, padding, out_hw) -> Tensor:
    """The Winograd path of :func:`minialex.ops.conv2d` (arguments already checked there; stride 1)."""
    b = get_backend()
    xp, k = b.xp, b.kernels
    n, c, h, w = x.shape
    oc, _, r, _ = weight.shape
    m = TILE[r]
    a = m + r - 1
    oh, ow = out_hw
    th, tw = tiles_per_axis(oh, m), tiles_per_axis(ow, m)
    (ph, pw), dtype = padding, x.dtype
    at, g, bt = (xp.asarray(t, dtype=dtype) for t in transforms(m, r))
    # (a*a, a*a), (m*m, a*a), (a*a, r*r): each transform is one GEMM with one of these
    bt2, at2, g2 = xp.kron(bt, bt), xp.kron(at, at), xp.kron(g, g)
    # The tiles' a x a windows at stride m must cover every output: where the last tile hangs over the padded
    # input, pad it further (bottom and right) first; otherwise im2col and col2im pad by themselves.
    extra = (th * m + r - 1 - h - 2 * ph, tw * m + r - 1 - w - 2 * pw)
    pads = ((0, 0), (0, 0), (ph, ph + extra[0]), (pw, pw + extra[1]))
    step, _ = chunk_images(n, c, oc, r, out_hw, x.data.itemsize)
    chunks = [slice(s, min(n, s + step)) for s in range(0, n, step)]

    def input_transform(images):
        if extra == (0, 0):
            d = k.im2col(images, (a, a), (m, m), padding)                # tiles: (C*a*a, P)
        else:
            d = k.im2col(xp.pad(images, pads), (a, a), (m, m), (0, 0))
        return xp.matmul(bt2, d.reshape(c, a * a, -1))                   # V: (C, a*a, P)

    def input_gradient(dd, count):
        """The adjoint of input_transform's tiling: col2im, into (count, C, H, W)."""
        if extra == (0, 0):
            return k.col2im(dd, (count, c, h, w), (a, a), (m, m), padding)
        padded = (count, c, h + 2 * ph + extra[0], w + 2 * pw + extra[1])
        return k.col2im(dd, padded, (a, a), (m, m), (0, 0))[:, :, ph:ph + h, pw:pw + w]

    def filter_transform():
        return (g2 @ weight.data.reshape(oc * c, r * r).T).reshape(a * a, oc, c)  # U: (a*a, OC, C)

    u = filter_transform()
    y = xp.empty((n, oc, oh, ow), dtype=dtype)
    for part in chunks:
        v = input_transform(x.data[part])
        mv = _per_point(xp, u, v.transpose(1, 0, 2), xp.empty((a * a, oc, v.shape[2]), dtype=dtype))
        k.tiles_to_nchw((at2 @ mv.reshape(a * a, -1)).reshape(m, m, oc, -1, th, tw), (oh, ow),
                        None if bias is None else bias.data, out=y[part])

    def backward(gy):
        # U and V are built again rather than kept from the forward: U is one small GEMM, and V, chunk by chunk,
        # is (a/m)^2 times the input the graph keeps anyway.
        u = filter_transform()
        du = xp.zeros((a * a, oc, c), dtype=dtype) if weight.requires_grad else None
        dx = [] if x.requires_grad else None  # one array per chunk
        for part in chunks:
            dm = (at2.T @ k.nchw_to_tiles(gy[part], m, th, tw).reshape(m * m, -1)).reshape(a * a, oc, -1)
            if du is not None:
                v = input_transform(x.data[part])
                du += _per_point(xp, dm, v.transpose(1, 2, 0), xp.empty_like(du))
            if dx is not None:
                dv = xp.empty((c, a * a, dm.shape[2]), dtype=dtype)
                _per_point(xp, u.transpose(0, 2, 1), dm, dv.transpose(1, 0, 2))
                dx.append(input_gradient(xp.matmul(bt2.T, dv).reshape(c * a * a, -1), part.stop - part.start))
        if dx is not None:
            dx = dx[0] if len(dx) == 1 else xp.concatenate(dx)
        dw = None if du is None else (g2.T @ du.reshape(a * a, oc * c)).T.reshape(weight.shape)
        db = gy.sum(axis=(0, 2, 3)) if bias is not None and bias.requires_grad else None
        return dx, dw, db

    return Tensor.from_op(y, (x, weight) if bias is None else (x, weight, bias), backward, "conv2d")
