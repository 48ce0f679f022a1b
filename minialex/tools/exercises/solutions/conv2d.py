"""Exercise conv2d: a convolution layer's forward and backward pass on NumPy arrays.

Fill in the two functions (keep their names and signatures), then run

    minialex exercise check conv2d

Shapes, NCHW as in PyTorch:
    x    (N, C, H, W)      a batch of N images with C channels
    w    (F, C, kh, kw)    F filters
    b    (F,)              one bias per filter
    out  (N, F, oh, ow)    oh = (H + 2*padding - kh) // stride + 1,  ow = (W + 2*padding - kw) // stride + 1

"Convolution" is cross-correlation here, as in every deep-learning framework: the kernel is not flipped.
"""

import numpy as np


def conv2d_forward(x, w, b, stride, padding):
    """out[n, f, i, j] = b[f] + sum over c, p, q of  x_pad[n, c, i*stride + p, j*stride + q] * w[f, c, p, q]

    x_pad is x with ``padding`` zeros added on each side of H and W; ``stride`` and ``padding`` are ints.
    Returns (out, cache); put in cache whatever conv2d_backward needs.

    Plain loops over n, f, i, j are a fine first version. The library gathers every window into the columns of
    a matrix col (C*kh*kw, N*oh*ow), so the whole layer is one matrix product w.reshape(F, -1) @ col
    (docs/im2col.md).
    """
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wd + 2 * padding - kw) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    col = np.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    for p in range(kh):
        for q in range(kw):
            # element (p, q) of every window at once: a strided slice of x_pad, (N, C, oh, ow)
            col[:, p, q] = x_pad[:, :, p:p + stride * oh:stride, q:q + stride * ow:stride].transpose(1, 0, 2, 3)
    col = col.reshape(c * kh * kw, n * oh * ow)
    out = w.reshape(f, -1) @ col + b[:, None]                      # (F, N*oh*ow)
    out = out.reshape(f, n, oh, ow).transpose(1, 0, 2, 3)
    return out, (x.shape, w, col, stride, padding)


def conv2d_backward(dout, cache):
    """dout (N, F, oh, ow) is dL/dout. Returns (dx, dw, db), shaped like x, w and b.

    db[f]          = sum over n, i, j of  dout[n, f, i, j]
    dw[f, c, p, q] = sum over n, i, j of  dout[n, f, i, j] * x_pad[n, c, i*stride + p, j*stride + q]
    dx_pad[n, c, i*stride + p, j*stride + q]  +=  sum over f of  dout[n, f, i, j] * w[f, c, p, q]

    Windows overlap when the kernel is larger than the stride, so one input element gets gradient from several
    windows: add them up. dx is dx_pad with the padding cut off again.
    """
    x_shape, w, col, stride, padding = cache
    n, c, h, wd = x_shape
    f, _, kh, kw = w.shape
    oh, ow = dout.shape[2:]
    g = dout.transpose(1, 0, 2, 3).reshape(f, -1)                  # (F, N*oh*ow), columns ordered as in col
    db = g.sum(axis=1)
    dw = (g @ col.T).reshape(w.shape)
    dcol = (w.reshape(f, -1).T @ g).reshape(c, kh, kw, n, oh, ow)
    dx_pad = np.zeros((n, c, h + 2 * padding, wd + 2 * padding), dtype=dout.dtype)
    for p in range(kh):
        for q in range(kw):
            dx_pad[:, :, p:p + stride * oh:stride, q:q + stride * ow:stride] += dcol[:, p, q].transpose(1, 0, 2, 3)
    dx = dx_pad[:, :, padding:padding + h, padding:padding + wd]
    return dx, dw, db
