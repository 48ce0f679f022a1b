"""The kernels' definitions as plain Python loops over every pixel: slow, obvious, for tiny inputs only.

They restate the rules of :mod:`minialex.kernels.reference` independently of any array trick, so the
reference itself is checked, not just copied.
"""

import math

import numpy as np


def _out(size, k, s, p):
    return (size + 2 * p - k) // s + 1


def im2col_loops(x, kernel, stride, padding):
    """col[(c, i, j), (n, y, x)] = x[n, c, i + sh*y - ph, j + sw*x - pw], or 0 where that lies in the padding."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    oh, ow = _out(h, kh, sh, ph), _out(w, kw, sw, pw)
    col = np.zeros((c * kh * kw, n * oh * ow), dtype=x.dtype)
    for ci in range(c):
        for i in range(kh):
            for j in range(kw):
                for b in range(n):
                    for y in range(oh):
                        for xo in range(ow):
                            r, s = i + sh * y - ph, j + sw * xo - pw
                            if 0 <= r < h and 0 <= s < w:
                                col[(ci * kh + i) * kw + j, (b * oh + y) * ow + xo] = x[b, ci, r, s]
    return col


def maxpool_loops(x, kernel, stride, padding):
    """Visit each window's in-bounds elements row-major (padding never competes); a value replaces the best so
    far if it is larger, or if it is NaN and the best is not. Returns y and the winner's flat index r*W + s."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    oh, ow = _out(h, kh, sh, ph), _out(w, kw, sw, pw)
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    argmax = np.empty((n, c, oh, ow), dtype=np.int32)
    for b in range(n):
        for ci in range(c):
            for oy in range(oh):
                for ox in range(ow):
                    best, at = None, None
                    for i in range(kh):
                        for j in range(kw):
                            r, s = sh * oy - ph + i, sw * ox - pw + j
                            if not (0 <= r < h and 0 <= s < w):
                                continue
                            v = float(x[b, ci, r, s])
                            if at is None or v > best or (math.isnan(v) and not math.isnan(best)):
                                best, at = v, r * w + s
                    y[b, ci, oy, ox], argmax[b, ci, oy, ox] = best, at
    return y, argmax
