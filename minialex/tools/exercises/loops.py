"""Plain-loop forward passes: each op written as directly as its formula, one output element at a time.

Slow and obvious on purpose. The checker compares a learner's forward with these before anything else, so a
wrong answer is measured against the definition itself, not against another clever implementation; the tests
hold minialex's own ops to them the same way.
"""

from __future__ import annotations

import math

import numpy as np


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv2d(x, w, b, stride, padding):
    """out[n, f, i, j] = sum(x_pad[n, :, i*sh : i*sh + kh, j*sw : j*sw + kw] * w[f]) + b[f]  (b may be None)."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    x_pad = np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = np.zeros((n, f, oh, ow))
    for i_n in range(n):
        for i_f in range(f):
            for i in range(oh):
                for j in range(ow):
                    window = x_pad[i_n, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[i_n, i_f, i, j] = np.sum(window * w[i_f]) + (0.0 if b is None else b[i_f])
    return out


def max_pool2d(x, kernel_size, stride, padding=0):
    """out[n, c, i, j] = max(x_pad[n, c, i*sh : i*sh + kh, j*sw : j*sw + kw]), the padding -inf (never chosen)."""
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel_size), _pair(stride), _pair(padding)
    n, c, h, w = x.shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    x_pad = np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    out = np.zeros((n, c, oh, ow))
    for i_n in range(n):
        for i_c in range(c):
            for i in range(oh):
                for j in range(ow):
                    out[i_n, i_c, i, j] = x_pad[i_n, i_c, i * sh:i * sh + kh, j * sw:j * sw + kw].max()
    return out


def relu(x):
    out = np.zeros(x.shape)
    for index, value in np.ndenumerate(x):
        out[index] = value if value > 0 else 0.0
    return out


def dropout(x, p, seed, training=True):
    if not training:
        return x.copy()
    u = np.random.default_rng(seed).random(x.shape)
    out = np.zeros(x.shape)
    for index, value in np.ndenumerate(x):
        out[index] = value / (1 - p) if u[index] >= p else 0.0
    return out


def linear(x, w, b):
    n, d = x.shape
    m = w.shape[0]
    out = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            out[i, j] = sum(x[i, k] * w[j, k] for k in range(d)) + b[j]
    return out


def cross_entropy(logits, target):
    total = 0.0
    for z, t in zip(logits, target):
        top = max(z)
        log_sum = top + math.log(sum(math.exp(v - top) for v in z))
        total += log_sum - z[t]
    return total / len(logits)


def sgd_step(w, dw, v, lr, momentum=0.0, weight_decay=0.0):
    w_new, v_new = np.zeros(w.shape), np.zeros(v.shape)
    for index in np.ndindex(w.shape):
        g = dw[index] + weight_decay * w[index]
        v_new[index] = momentum * v[index] + g
        w_new[index] = w[index] - lr * v_new[index]
    return w_new, v_new


def sigmoid(x):
    out = np.zeros(x.shape)
    for index, value in np.ndenumerate(x):
        out[index] = 1 / (1 + math.exp(-value)) if value >= 0 else math.exp(value) / (1 + math.exp(value))
    return out


def pool_output_size(size, k, stride, padding, ceil_mode):
    """PyTorch's rule: floor (or ceil) of (size + 2p - k) / stride, + 1; with ceil_mode the last window must
    start inside the input or its left padding, or it is dropped."""
    span = size + 2 * padding - k
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def avg_pool2d(x, kernel_size, stride, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """out[n, c, i, j] = sum of x over the window rows i*s - p .. i*s - p + k - 1 (likewise columns), divided by
    the window's size clipped to the padded input (count_include_pad) or to the input alone (not)."""
    k, s, p = kernel_size, stride, padding
    n, c, h, w = x.shape
    oh, ow = pool_output_size(h, k, s, p, ceil_mode), pool_output_size(w, k, s, p, ceil_mode)
    out = np.zeros((n, c, oh, ow))
    for i_n in range(n):
        for i_c in range(c):
            for i in range(oh):
                for j in range(ow):
                    top, left = i * s - p, j * s - p
                    bottom, right = min(top + k, h + p), min(left + k, w + p)
                    padded_size = (bottom - top) * (right - left)
                    top, left, bottom, right = max(top, 0), max(left, 0), min(bottom, h), min(right, w)
                    total = x[i_n, i_c, top:bottom, left:right].sum()
                    divisor = divisor_override or (padded_size if count_include_pad else
                                                   (bottom - top) * (right - left))
                    out[i_n, i_c, i, j] = total / divisor
    return out
