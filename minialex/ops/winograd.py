"""Winograd convolution F(m x m, r x r): stride-1 conv2d with fewer multiplies (Lavin & Gray, 2015).

An m x m block of outputs of an r x r correlation needs an (a x a) input tile, a = m + r - 1, and

    Y_tile = A^T [ (G g G^T) * (B^T d B) ] A                 * element-wise, a*a multiplies instead of m*m*r*r

With C input channels the element-wise product is a sum over channels, so every one of the a*a transform
points xi becomes one matrix product over the whole batch (docs/winograd.md derives it all):

Forward   V   = B^T d B    for every a x a tile d of the padded input, at stride m    (a*a, C, P)
          U   = G g G^T    for every filter g                                         (a*a, OC, C)
          M   = U[xi] @ V[xi]          one GEMM per point                            (a*a, OC, P)
          Y   = A^T M A    per tile, cropped to the output, + b                      (N, OC, oh, ow)
Backward  dM  = A dY A^T   per tile (dY zero where the tile hangs over the output)   (a*a, OC, P)
          dU  = dM[xi] @ V[xi]^T ;   dW = G^T dU G
          dV  = U[xi]^T @ dM[xi] ;   dx = B dV B^T per tile, overlapping tiles summed, padding dropped

P = N * tiles per image. Every step is linear, and the backward is its adjoint: the transposes of the forward's
matrices, in reverse order. The tile transforms are kernels (``winograd_input_transform`` and kin in
:mod:`minialex.kernels`), applied separably, tile by tile, straight from and to NCHW.

The transforms are built exactly (fractions) by :func:`transforms` from interpolation points, so any F(m, r)
can be printed and checked. The output tile m is chosen per layer by :func:`choose_tile` from the map size,
among the tiles in :data:`TILES` whose float32 error was measured (docs/winograd.md).
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

# The output tiles m each supported (square) kernel size r may run: those whose float32 error was measured on
# AlexNet's layers (benchmarks/winograd_accuracy.py; docs/winograd.md has the table). Larger tiles save more
# multiplies but their transforms have larger entries, and float32 error grows with them.
TILES = {3: (2, 3, 4, 5, 6), 5: (2, 3, 4)}


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


def why_not(kernel, stride, padding, dtype=None) -> str | None:
    """None if Winograd can run this convolution, else the rule it breaks (for error messages)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if dtype is not None and np.dtype(dtype).itemsize < 4:
        # B^T d B and G g G^T multiply values by entries up to 441 (F(4, 5)): float16's 11-bit mantissa loses
        # about 1e-3 of each before the transform-domain sums add up thousands of them
        return f"dtype must be float32 or float64 (the transforms' entries grow the rounding), got {np.dtype(dtype)}"
    if kh != kw or kh not in TILES:
        return f"kernel must be square with size in {sorted(TILES)}, got {kh}x{kw}"
    if (sh, sw) != (1, 1):
        return f"stride must be 1, got {sh}x{sw}"
    if max(ph, pw) > kh - 1:
        return f"padding must be at most kernel_size - 1 = {kh - 1}, got {ph}x{pw}"
    return None


def tiles_per_axis(out_size: int, m: int) -> int:
    """Tiles of m outputs that cover ``out_size`` outputs (the last one may hang over and is cropped)."""
    return -(-out_size // m)


def choose_tile(r: int, out_hw) -> int:
    """The output tile m for an r x r kernel on an (oh, ow) output: the fewest transform-domain multiplies.

    The GEMM stage costs a*a multiply-adds per tile for every (output, input) channel pair, so a layer costs
    tiles * a^2: a large tile needs fewer multiplies per output, but on a small map a tile that hangs over the
    output computes pixels that are thrown away (F(4,3) on a 3x3 map: 36 products for 9 outputs, F(3,3): 25).
    Ties go to the smaller tile (smaller float32 error). docs/winograd.md lists the choice on AlexNet's maps.
    """
    def cost(m):
        return tiles_per_axis(out_hw[0], m) * tiles_per_axis(out_hw[1], m) * (m + r - 1) ** 2
    return min(TILES[r], key=lambda m: (cost(m), m))


def multiply_ratio(out_hw, r: int, m: int) -> float:
    """F(m, r)'s transform-domain multiplies over im2col's, per (output, input) channel pair:
    tiles * a^2 against oh * ow * r^2 (F(4, 3) on whole tiles: 36 / 144 = 0.25)."""
    oh, ow = out_hw
    return tiles_per_axis(oh, m) * tiles_per_axis(ow, m) * (m + r - 1) ** 2 / (oh * ow * r * r)


def check_tile(tile, r: int, where: str = "conv2d") -> int:
    """``tile`` as an int m that F(m, r) supports, or a ConfigError naming the allowed ones."""
    if tile not in TILES.get(r, ()) or isinstance(tile, bool):
        raise ConfigError(f"{where}: tile={tile!r} is not a measured Winograd tile for a {r}x{r} kernel; "
                         f"expected one of {', '.join(map(str, TILES.get(r, ())))}")
    return int(tile)


# The transform-domain arrays of a whole batch are large (conv2's M at 224 px, batch 128: 411 MB), so images
# go through in chunks whose largest temporary stays near this size; see docs/winograd.md for the measurements.
CHUNK_BYTES = 192 << 20


def chunk_images(n: int, in_channels: int, out_channels: int, m: int, r: int, out_hw, itemsize: int,
                 chunk_bytes: int | None = None) -> tuple[int, int]:
    """(images per chunk, bytes of the chunk's largest array: V (a*a, C, P) or M (a*a, OC, P), P its tiles).

    The chunks are balanced: 128 images in chunks of at most 50 run as 43 + 43 + 42, not 50 + 50 + 28."""
    per_image = ((m + r - 1) ** 2 * max(in_channels, out_channels) * tiles_per_axis(out_hw[0], m)
                 * tiles_per_axis(out_hw[1], m) * itemsize)
    most = max(1, (CHUNK_BYTES if chunk_bytes is None else chunk_bytes) // per_image)
    count = -(-n // most)
    images = -(-n // count)
    return images, images * per_image


def _per_point(xp, left, right, out):
    """out[xi] = left[xi] @ right[xi] for every transform point xi.

    A loop of plain GEMMs rather than one batched matmul: on strided operands NumPy's batched matmul was up to
    2.7x slower here (it copies), while each point's 2-D slice goes to BLAS as it is."""
    for xi in range(out.shape[0]):
        xp.matmul(left[xi], right[xi], out=out[xi])
    return out


def conv2d_winograd(x: Tensor, weight: Tensor, bias: Tensor | None, padding, out_hw, tile: int | None = None,
                    chunk_bytes: int | None = None) -> Tensor:
    """The Winograd path of :func:`minialex.ops.conv2d` (arguments already checked there; stride 1).

    ``tile``: the output tile m of F(m x m, r x r), default :func:`choose_tile`'s; ``chunk_bytes``: the size
    the largest per-chunk temporary stays near (default :data:`CHUNK_BYTES`)."""
    b = get_backend()
    xp, k = b.xp, b.kernels
    n, c, h, w = x.shape
    oc, _, r, _ = weight.shape
    m = choose_tile(r, out_hw) if tile is None else check_tile(tile, r)
    a = m + r - 1
    tiles = (tiles_per_axis(out_hw[0], m), tiles_per_axis(out_hw[1], m))
    dtype = x.dtype
    at, g, bt = (xp.asarray(t, dtype=dtype) for t in transforms(m, r))
    step, _ = chunk_images(n, c, oc, m, r, out_hw, x.data.itemsize, chunk_bytes)
    chunks = [slice(s, min(n, s + step)) for s in range(0, n, step)]

    # U = G w G^T for every (OC, C) filter. As two tensordots (GEMMs): a batched matmul of OC*C tiny matrices
    # costs NumPy more per matrix than the arithmetic (30 ms for conv4's 147,456 filters).
    def filter_transform():                                                # U: (a*a, OC, C)
        gw = xp.tensordot(weight.data, g, axes=([3], [1]))                 # (OC, C, r, a): w G^T
        return xp.ascontiguousarray(xp.tensordot(g, gw, axes=([1], [2])).transpose(0, 3, 1, 2)).reshape(a * a, oc, c)

    u = filter_transform()
    y = xp.empty((n, oc) + tuple(out_hw), dtype=dtype)
    for part in chunks:
        v = k.winograd_input_transform(x.data[part], bt, m, padding, tiles)
        mv = _per_point(xp, u, v, xp.empty((a * a, oc, v.shape[2]), dtype=dtype))
        k.winograd_output_transform(mv, at, out_hw, tiles, None if bias is None else bias.data, out=y[part])
    del u, v, mv

    def backward(gy):
        # U and V are built again rather than kept from the forward: U is one small product, and V, chunk by
        # chunk, is (a/m)^2 times the input the graph keeps anyway.
        u = filter_transform()
        du = xp.zeros((a * a, oc, c), dtype=dtype) if weight.requires_grad else None
        dx = xp.empty(x.shape, dtype=dtype) if x.requires_grad else None
        for part in chunks:
            dm = k.winograd_output_gradient(gy[part], at, tiles)           # (a*a, OC, P)
            if du is not None:
                v = k.winograd_input_transform(x.data[part], bt, m, padding, tiles)
                du += _per_point(xp, dm, v.transpose(0, 2, 1), xp.empty_like(du))
            if dx is not None:
                dv = _per_point(xp, u.transpose(0, 2, 1), dm, xp.empty((a * a, c, dm.shape[2]), dtype=dtype))
                k.winograd_input_gradient(dv, bt, m, padding, tiles, dx[part].shape, out=dx[part])
        dw = None
        if du is not None:
            gdu = xp.tensordot(g, du.reshape(a, a, oc, c), axes=([0], [0]))   # (r, a, OC, C): G^T dU
            dw = xp.ascontiguousarray(xp.tensordot(gdu, g, axes=([1], [0])).transpose(1, 2, 0, 3))  # (OC, C, r, r)
        db = gy.sum(axis=(0, 2, 3)) if bias is not None and bias.requires_grad else None
        return dx, dw, db

    return Tensor.from_op(y, (x, weight) if bias is None else (x, weight, bias), backward, "conv2d")
