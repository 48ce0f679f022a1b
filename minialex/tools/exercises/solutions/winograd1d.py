"""Exercise winograd1d: Winograd's F(2, 3) -- two outputs of a 3-tap filter with 4 multiplies instead of 6.

Fill in the three functions (keep their names and signatures), then run

    minialex exercise check winograd1d

A 3-tap correlation ("convolution" in deep learning) of a signal d with a filter g:

    y[i] = d[i] g[0] + d[i+1] g[1] + d[i+2] g[2]          len(y) = len(d) - 2

Two outputs read four inputs, d0..d3, and take 6 multiplies directly. Winograd's minimal filtering F(2, 3)
computes them with 4, as

    y_tile = A^T [ (G g) * (B^T d_tile) ]                  * element-wise: the 4 multiplies

with constant matrices B^T (4 x 4), G (4 x 3), A^T (2 x 4). Derive them (docs/winograd.md does it by hand):
multiply polynomials by evaluating them at the points 0, 1, -1 and "infinity" (the leading coefficient), then
interpolate. G evaluates the filter, B^T the data (transposed, because this is a correlation), A^T brings the 4
products back to 2 outputs. Entries of 0, +-1 and 1/2 are enough. The filter's side, G g, is computed once per
filter, so per tile what is left is the 4 multiplies of U * V -- the checker counts them.
"""

import numpy as np


def f23_transforms():
    """Return (BT, G, AT), of shapes (4, 4), (4, 3), (2, 4), such that for every d (4,) and g (3,)

        AT @ ((G @ g) * (BT @ d)) == [d0 g0 + d1 g1 + d2 g2,  d1 g0 + d2 g1 + d3 g2]
    """
    bt = np.array([[1, 0, -1, 0],
                   [0, 1, 1, 0],
                   [0, -1, 1, 0],
                   [0, -1, 0, 1]], dtype=np.float64)
    g = np.array([[1, 0, 0],
                  [0.5, 0.5, 0.5],
                  [0.5, -0.5, 0.5],
                  [0, 0, 1]])
    at = np.array([[1, 1, 1, 0],
                   [0, 1, -1, 1]], dtype=np.float64)
    return bt, g, at


def winograd_conv1d_forward(d, g):
    """d (L,) with L >= 3, g (3,) -> (y, cache), y (L - 2,) the correlation above, by F(2, 3) tiles.

    Tile t covers outputs 2t, 2t + 1 and reads d[2t : 2t + 4]: tiles overlap by two inputs. When L - 2 is odd,
    pad d with one zero at the end and drop the extra output. Keep the element-wise product an array operation,
    M = U * V with U = G @ g (4,) and V the transformed tiles (T, 4): that is the stage whose multiplies count.
    """
    bt, gm, at = (m.astype(d.dtype) for m in f23_transforms())   # float32 data stays float32
    n_out = d.shape[0] - 2
    tiles = -(-n_out // 2)
    d = np.concatenate([d, np.zeros(2 * tiles + 2 - d.shape[0], dtype=d.dtype)])
    index = 2 * np.arange(tiles)[:, None] + np.arange(4)      # (T, 4): tile t reads d[2t : 2t + 4]
    v = d[index] @ bt.T                                       # (T, 4) the data transform, B^T d per tile
    u = gm @ g                                                # (4,)   the filter transform, once
    m = u * v                                                 # (T, 4) 4 multiplies per tile
    y = (m @ at.T).reshape(-1)[:n_out]                        # (T, 2) -> the outputs
    return y, (index, v, u, d.shape[0], n_out)


def winograd_conv1d_backward(dy, cache):
    """dy (L - 2,) -> (dd, dg), shaped like d and g.

    Every stage is linear, so the backward is the forward's stages transposed, in reverse order:
    dM = dY_tile @ A^T (the adjoint of M -> A^T M per tile), dU = sum over tiles of dM * V, dg = G^T dU,
    dV = dM * U, and dd_tile = B dV, added back where the tile read d -- tiles overlap, so the overlapping
    inputs *sum* the gradients of both tiles.
    """
    index, v, u, padded, n_out = cache
    bt, gm, at = (m.astype(dy.dtype) for m in f23_transforms())
    dy_tiles = np.zeros(index.shape[0] * 2, dtype=dy.dtype)
    dy_tiles[:n_out] = dy
    dm = dy_tiles.reshape(-1, 2) @ at                         # (T, 4)
    dg = gm.T @ (dm * v).sum(axis=0)
    dd = np.zeros(padded, dtype=dy.dtype)
    np.add.at(dd, index, (dm * u) @ bt)                       # B dV per tile, scattered with +=
    return dd[:n_out + 2], dg
