"""The NCHW side of Winograd's tile transforms on the Numba engine: gathering a block of tiles into a scratch
(a, a, Q) array and scattering one back, used by the transform kernels in :mod:`minialex.kernels.cpu_numba`.

A block is one channel of images ``first .. last - 1``: Q = (last - first) * th * tw tiles, tile q = (b*th + ty)*tw
+ tx. In the scratch array a block's values for one tile position (k, l) are a contiguous run of Q, so the
transforms run as vectors over tiles; only these functions touch NCHW.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_u = np.uint64  # indices known to be >= 0: Numba then skips its negative-index wraparound


@njit(cache=True, inline="always")
def gather_input_tiles(x, ch, first, last, m, ph, pw, th, tw, d):
    """d[k, l, q] = x[b, ch, m*ty - ph + k, m*tx - pw + l] (0 outside the image) for the block's tiles q."""
    h, w = x.shape[2], x.shape[3]
    a = d.shape[0]
    zero = x.dtype.type(0)
    for b in range(first, last):
        for ty in range(th):
            for tx in range(tw):
                q = _u(((b - first) * th + ty) * tw + tx)
                for k in range(a):
                    y = m * ty + k - ph
                    for l in range(a):
                        s = m * tx + l - pw
                        d[_u(k), _u(l), q] = x[b, ch, y, s] if 0 <= y < h and 0 <= s < w else zero


@njit(cache=True, inline="always")
def scatter_add_input_tiles(dd, dx, ch, first, last, m, ph, pw, th, tw):
    """dx[b, ch] = the sum of dd[:, :, q] placed at (m*ty - ph, m*tx - pw) of each of its tiles, cropped."""
    h, w = dx.shape[2], dx.shape[3]
    a = dd.shape[0]
    for b in range(first, last):
        dx[b, ch] = 0
        for ty in range(th):
            for tx in range(tw):
                q = _u(((b - first) * th + ty) * tw + tx)
                for k in range(a):
                    y = m * ty + k - ph
                    if 0 <= y < h:
                        for l in range(a):
                            s = m * tx + l - pw
                            if 0 <= s < w:
                                dx[b, ch, y, s] += dd[_u(k), _u(l), q]


@njit(cache=True, inline="always")
def scatter_output_tiles(yt, out, o, first, last, th, tw, add):
    """out[b, o, m*ty + i, m*tx + j] = yt[i, j, q] + add for the block's tiles, cropped to out's plane."""
    oh, ow = out.shape[2], out.shape[3]
    m = yt.shape[0]
    for b in range(first, last):
        for ty in range(th):
            for tx in range(tw):
                q = _u(((b - first) * th + ty) * tw + tx)
                for i in range(min(m, oh - m * ty)):
                    for j in range(min(m, ow - m * tx)):
                        out[_u(b), _u(o), _u(m * ty + i), _u(m * tx + j)] = yt[_u(i), _u(j), q] + add


@njit(cache=True, inline="always")
def gather_output_tiles(gy, o, first, last, th, tw, g):
    """g[i, j, q] = gy[b, o, m*ty + i, m*tx + j] (0 past the output's edge) for the block's tiles q."""
    oh, ow = gy.shape[2], gy.shape[3]
    m = g.shape[0]
    zero = gy.dtype.type(0)
    for b in range(first, last):
        for ty in range(th):
            for tx in range(tw):
                q = _u(((b - first) * th + ty) * tw + tx)
                for i in range(m):
                    y = m * ty + i
                    for j in range(m):
                        s = m * tx + j
                        g[_u(i), _u(j), q] = gy[b, o, y, s] if y < oh and s < ow else zero
