"""Exercise winograd2d: a 3x3 convolution layer by Winograd's F(2x2, 3x3), forward and backward.

Fill in the three functions (keep their names and signatures), then run

    minialex exercise check winograd2d

F(2x2, 3x3) is F(2, 3) along the rows and again along the columns. A 2x2 block of outputs reads a 4x4 tile d of
the (padded) input, and with the matrices of F(2, 3) (your winograd1d):

    Y_tile = A^T [ (G g G^T) * (B^T d B) ] A               * element-wise: 16 multiplies instead of 36

With C input channels the element-wise product is summed over the channels, so for each of the 16 transform
points (xi, nu) the layer is one matrix product:  M[f, tile] = sum over c of  U[f, c] * V[c, tile].

Shapes, NCHW as conv2d; stride 1, a 3x3 kernel, ``padding`` zeros on each side:
    x (N, C, H, W)   w (F, C, 3, 3)   b (F,)   ->   out (N, F, oh, ow),  oh = H + 2*padding - 2, ow likewise
Tiles: th = ceil(oh / 2) by tw = ceil(ow / 2) per image, tile (i, j) reading x_pad[2i : 2i + 4, 2j : 2j + 4];
pad x_pad with zeros at the bottom and right so the last tiles fit, and crop the extra outputs.
"""

import numpy as np


def f23_transforms():
    """(BT, G, AT) of F(2, 3), shapes (4, 4), (4, 3), (2, 4): the same matrices as in winograd1d."""
    bt = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, -1, 0, 1]], dtype=np.float64)
    g = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
    at = np.array([[1, 1, 1, 0], [0, 1, -1, 1]], dtype=np.float64)
    return bt, g, at


def winograd_conv2d_forward(x, w, b, padding):
    """out[n, f, i, j] = b[f] + sum over c, p, q < 3 of  x_pad[n, c, i + p, j + q] * w[f, c, p, q], by tiles:

    D   tiles of x_pad                   (N, C, th, tw, 4, 4)
    V   = B^T D B   per tile             (N, C, th, tw, 4, 4)    the data transform
    U   = G w G^T   per filter, channel  (F, C, 4, 4)            the filter transform
    M   = sum_c U[f, c] * V[n, c]        (N, F, th, tw, 4, 4)    the only data x filter multiplies
    Y   = A^T M A   per tile             (N, F, th, tw, 2, 2)    -> (N, F, 2 th, 2 tw), cropped to oh x ow, + b

    Returns (out, cache). np.einsum says each stage in one line (e.g. "fcab,nctwab->nftwab" for M).
    """
    bt, gm, at = (m.astype(x.dtype) for m in f23_transforms())   # float32 data stays float32
    n, c, h, wd = x.shape
    oh, ow = h + 2 * padding - 2, wd + 2 * padding - 2
    th, tw = -(-oh // 2), -(-ow // 2)
    x_pad = np.zeros((n, c, 2 * th + 2, 2 * tw + 2), dtype=x.dtype)
    x_pad[:, :, padding:padding + h, padding:padding + wd] = x
    d = np.empty((n, c, th, tw, 4, 4), dtype=x.dtype)
    for p in range(4):
        for q in range(4):
            d[..., p, q] = x_pad[:, :, p:p + 2 * th:2, q:q + 2 * tw:2]
    v = np.einsum("ap,nctwpq,bq->nctwab", bt, d, bt)
    u = np.einsum("ap,fcpq,bq->fcab", gm, w, gm)
    m = np.einsum("fcab,nctwab->nftwab", u, v)
    y = np.einsum("ia,nftwab,jb->nftwij", at, m, at)
    out = y.transpose(0, 1, 2, 4, 3, 5).reshape(n, -1, 2 * th, 2 * tw)[:, :, :oh, :ow] + b[:, None, None]
    return out, (x.shape, padding, v, u)


def winograd_conv2d_backward(dout, cache):
    """dout (N, F, oh, ow) -> (dx, dw, db), shaped like x, w and b.

    Each stage is linear; go back through them with their matrices transposed:
    dY tiles of dout (zeros where the forward cropped)    dM = A dY A^T
    dU = sum over n, tiles of  dM * V    ->  dw = G^T dU G
    dV = sum over f of  dM * U           ->  dD = B dV B^T, added back into dx_pad where each tile was read:
    tiles overlap (4x4 read every 2 pixels), so a pixel in two tiles gets the sum of both. db sums dout.
    """
    (n, c, h, wd), padding, v, u = cache
    bt, gm, at = (m.astype(dout.dtype) for m in f23_transforms())
    th, tw = v.shape[2:4]
    oh, ow = dout.shape[2:]
    f = u.shape[0]
    dy = np.zeros((n, f, 2 * th, 2 * tw), dtype=dout.dtype)
    dy[:, :, :oh, :ow] = dout
    dy = dy.reshape(n, f, th, 2, tw, 2).transpose(0, 1, 2, 4, 3, 5)          # (N, F, th, tw, 2, 2)
    dm = np.einsum("ia,nftwij,jb->nftwab", at, dy, at)
    dw = np.einsum("ap,fcab,bq->fcpq", gm, np.einsum("nftwab,nctwab->fcab", dm, v), gm)
    dd = np.einsum("ap,nctwab,bq->nctwpq", bt, np.einsum("nftwab,fcab->nctwab", dm, u), bt)
    dx_pad = np.zeros((n, c, 2 * th + 2, 2 * tw + 2), dtype=dout.dtype)
    for p in range(4):
        for q in range(4):
            dx_pad[:, :, p:p + 2 * th:2, q:q + 2 * tw:2] += dd[..., p, q]
    return dx_pad[:, :, padding:padding + h, padding:padding + wd], dw, dout.sum(axis=(0, 2, 3))
