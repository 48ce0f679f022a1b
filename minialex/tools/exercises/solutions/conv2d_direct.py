"""Exercise conv2d_direct: a convolution layer straight from its formula, by loops -- the first rung of the
convolution ladder (direct -> im2col + GEMM in conv2d -> Winograd in winograd1d and winograd2d).

Fill in the two functions (keep their names and signatures), then run

    minialex exercise check conv2d_direct

Shapes, NCHW as in PyTorch:
    x    (N, C, H, W)      a batch of N images with C channels
    w    (F, C, kh, kw)    F filters
    b    (F,)              one bias per filter
    out  (N, F, oh, ow)    oh = (H + 2*padding - kh) // stride + 1,  ow = (W + 2*padding - kw) // stride + 1

"Convolution" is cross-correlation here, as in every deep-learning framework: the kernel is not flipped.
Loops over n, f, i, j with one NumPy product-and-sum per window are the point: slow, and obviously right.
"""

import numpy as np


def conv2d_direct_forward(x, w, b, stride, padding):
    """out[n, f, i, j] = b[f] + sum over c, p, q of  x_pad[n, c, i*stride + p, j*stride + q] * w[f, c, p, q]

    x_pad is x with ``padding`` zeros added on each side of H and W. Returns (out, cache).
    """
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    oh, ow = (h + 2 * padding - kh) // stride + 1, (wd + 2 * padding - kw) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.empty((n, f, oh, ow), dtype=x.dtype)
    for i_n in range(n):
        for i_f in range(f):
            for i in range(oh):
                for j in range(ow):
                    window = x_pad[i_n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[i_n, i_f, i, j] = np.sum(window * w[i_f]) + b[i_f]
    return out, (x_pad, w, stride, padding)


def conv2d_direct_backward(dout, cache):
    """dout (N, F, oh, ow) -> (dx, dw, db), shaped like x, w and b. The same loops, each output's gradient
    pushed back to what made it:

    db[f]     += dout[n, f, i, j]
    dw[f]     += dout[n, f, i, j] * (the window of x_pad at (i, j))
    dx_pad[n, :, the window at (i, j)]  +=  dout[n, f, i, j] * w[f]       (windows overlap: add, never assign)

    and dx is dx_pad with the padding cut off again.
    """
    x_pad, w, stride, padding = cache
    n, f, oh, ow = dout.shape
    kh, kw = w.shape[2:]
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    for i_n in range(n):
        for i_f in range(f):
            for i in range(oh):
                for j in range(ow):
                    rows, cols = slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw)
                    dw[i_f] += dout[i_n, i_f, i, j] * x_pad[i_n, :, rows, cols]
                    dx_pad[i_n, :, rows, cols] += dout[i_n, i_f, i, j] * w[i_f]
    h, wd = x_pad.shape[2] - 2 * padding, x_pad.shape[3] - 2 * padding
    return dx_pad[:, :, padding:padding + h, padding:padding + wd], dw, dout.sum(axis=(0, 2, 3))
