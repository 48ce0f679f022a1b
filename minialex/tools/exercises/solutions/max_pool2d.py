"""Exercise max_pool2d: max-pooling's forward and backward pass on NumPy arrays.

Fill in the two functions (keep their names and signatures), then run

    minialex exercise check max_pool2d

Shapes: x (N, C, H, W) -> out (N, C, oh, ow), oh = (H - k) // stride + 1, ow = (W - k) // stride + 1
for a k x k window (``kernel_size`` = k). Each channel is pooled on its own. No padding.
"""

import numpy as np


def max_pool2d_forward(x, kernel_size, stride):
    """out[n, c, i, j] = max over p, q < k of  x[n, c, i*stride + p, j*stride + q]

    Returns (out, cache). The backward needs to know *where* each maximum was: keep its position in the cache.
    When a window holds the maximum twice, the first one in row-major order wins (as in PyTorch).
    """
    n, c, h, w = x.shape
    k = kernel_size
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.full((n, c, oh, ow), -np.inf, dtype=x.dtype)
    winner = np.zeros((n, c, oh, ow), dtype=np.int64)               # offset p*k + q of the max inside its window
    for p in range(k):
        for q in range(k):
            v = x[:, :, p:p + stride * oh:stride, q:q + stride * ow:stride]
            better = v > out                                        # strict: a tie keeps the earlier maximum
            out = np.where(better, v, out)
            winner = np.where(better, p * k + q, winner)
    return out, (x.shape, winner, kernel_size, stride)


def max_pool2d_backward(dout, cache):
    """dout (N, C, oh, ow) -> dx (N, C, H, W).

    Only the maximum of a window affected the output, so dout[n, c, i, j] goes to that one element of x and
    every other element of the window gets nothing. Windows overlap when stride < k: an element that is the
    maximum of several windows receives the sum of their gradients.
    """
    x_shape, winner, k, stride = cache
    oh, ow = dout.shape[2:]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    # offsets from the last to the first: an element then receives its windows' gradients in the windows' row-major
    # order, the order minialex's kernel adds them in, so float32 sums round alike
    for p in reversed(range(k)):
        for q in reversed(range(k)):
            dx[:, :, p:p + stride * oh:stride, q:q + stride * ow:stride] += np.where(winner == p * k + q, dout, 0)
    return dx
