"""Exercise avg_pool2d: average pooling's forward and backward pass on NumPy arrays, with PyTorch's options.

Fill in the two functions (keep their names and signatures), then run

    minialex exercise check avg_pool2d

Shapes: x (N, C, H, W) -> out (N, C, oh, ow) for a k x k window (``kernel_size`` = k), as torch's avg_pool2d:

    oh = floor((H + 2*padding - k) / stride) + 1                      ceil_mode=False
    oh = ceil((H + 2*padding - k) / stride) + 1, minus 1 if the last window would start at or after H + padding
                                                                      ceil_mode=True (a last, partial window)
ow likewise. padding <= k // 2. Each channel is pooled on its own.
"""

import numpy as np


def avg_pool2d_forward(x, kernel_size, stride, padding, ceil_mode, count_include_pad):
    """out[n, c, i, j] = (1 / d[i, j]) * sum of x_pad[n, c, i*stride : i*stride + k, j*stride : j*stride + k]

    x_pad: zeros around x. d[i, j], the divisor: the window's size, clipped to the padded input (a partial
    window at the end, from ceil_mode, is smaller); with count_include_pad=False only the input pixels in the
    window count. Returns (out, cache).
    """
    n, c, h, w = x.shape
    k, s, p = kernel_size, stride, padding

    def output_size(size):
        span = size + 2 * p - k
        out = (-(-span // s) if ceil_mode else span // s) + 1
        return out - 1 if ceil_mode and (out - 1) * s >= size + p else out

    def divisors(out, size):
        """Along one axis: each window's length, clipped to the padded input (or to the input alone)."""
        start = np.arange(out) * s - p
        end = np.minimum(start + k, size + p)
        if count_include_pad:
            return end - start
        return np.minimum(end, size) - np.maximum(start, 0)

    oh, ow = output_size(h), output_size(w)
    rows, cols = max(h + 2 * p, (oh - 1) * s + k), max(w + 2 * p, (ow - 1) * s + k)
    x_pad = np.zeros((n, c, rows, cols), dtype=x.dtype)
    x_pad[:, :, p:p + h, p:p + w] = x
    total = np.zeros((n, c, oh, ow), dtype=x.dtype)
    for a in range(k):
        for b in range(k):
            total += x_pad[:, :, a:a + s * oh:s, b:b + s * ow:s]
    d = np.outer(divisors(oh, h), divisors(ow, w))
    return total / d, (x.shape, x_pad.shape, d, k, s, p)


def avg_pool2d_backward(dout, cache):
    """dout (N, C, oh, ow) -> dx (N, C, H, W): each window spreads dout[n, c, i, j] / d[i, j] evenly over its
    elements; windows overlap when stride < k, so an element gets the sum from every window that covers it.
    The padding's share is dropped."""
    (n, c, h, w), padded, d, k, s, p = cache
    oh, ow = dout.shape[2:]
    g = dout / d
    dx_pad = np.zeros(padded, dtype=dout.dtype)
    for a in range(k):
        for b in range(k):
            dx_pad[:, :, a:a + s * oh:s, b:b + s * ow:s] += g
    return dx_pad[:, :, p:p + h, p:p + w]
