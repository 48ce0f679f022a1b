"""Exercise dropout: inverted dropout's forward and backward pass on NumPy arrays.

Fill in the two functions (keep their names and signatures), then run

    minialex exercise check dropout

The random numbers come from ``seed``, so the checker can reproduce your mask exactly:

    u    = np.random.default_rng(seed).random(x.shape)     uniform in [0, 1), one per element of x
    mask = (u >= p) / (1 - p)                              a unit is dropped where u < p (probability p)

Shapes: any; out and dx have the shape of x. 0 <= p < 1.
"""

import numpy as np


def dropout_forward(x, p, seed, training=True):
    """Training: out = x * mask, so each unit is zeroed with probability p and the kept ones are scaled by
    1 / (1 - p), which keeps E[out] = x ("inverted" dropout: nothing to rescale at test time).
    Not training: out = x.

    Returns (out, cache).
    """
    if not training:
        return x.copy(), None
    u = np.random.default_rng(seed).random(x.shape)
    mask = (u >= p) / (1 - p)
    return x * mask, mask


def dropout_backward(dout, cache):
    """dx = dout * mask in training (the same mask as the forward), dx = dout when not training."""
    mask = cache
    return dout.copy() if mask is None else dout * mask
