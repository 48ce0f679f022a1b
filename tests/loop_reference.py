"""Slow, obviously-correct references written with plain loops, for small inputs only."""

import numpy as np


def conv2d(x, w, b, stride, padding):
    n, c, h, wd = x.shape
    oc, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), dtype=np.float64)
    xp[:, :, ph:ph + h, pw:pw + wd] = x
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    y = np.zeros((n, oc, oh, ow))
    for i in range(n):
        for o in range(oc):
            for r in range(oh):
                for s in range(ow):
                    total = 0.0 if b is None else float(b[o])
                    for ci in range(c):
                        for p in range(kh):
                            for q in range(kw):
                                total += xp[i, ci, r * sh + p, s * sw + q] * w[o, ci, p, q]
                    y[i, o, r, s] = total
    return y


def max_pool2d(x, kernel, stride, padding):
    n, c, h, wd = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    y = np.zeros((n, c, oh, ow))
    for i in range(n):
        for ci in range(c):
            for r in range(oh):
                for s in range(ow):
                    best = -np.inf
                    for p in range(kh):
                        for q in range(kw):
                            row, col = r * sh - ph + p, s * sw - pw + q
                            if 0 <= row < h and 0 <= col < wd:
                                best = max(best, x[i, ci, row, col])
                    y[i, ci, r, s] = best
    return y
