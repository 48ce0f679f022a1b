"""Exercise sigmoid: the logistic function's forward and backward pass on NumPy arrays.

Fill in the two functions (keep their names and signatures), then run

    minialex exercise check sigmoid

Shapes: any; out and dx have the shape of x. LeNet's activation, and the one AlexNet replaced by ReLU: its
gradient is at most 1/4 and vanishes for large |x|.
"""

import numpy as np


def sigmoid_forward(x):
    """out = 1 / (1 + exp(-x)), element-wise. Returns (out, cache).

    exp(-x) overflows for x around -1000 (and exp(x) for x around +1000): write it with e = exp(-|x|), which
    is at most 1 -- out = 1 / (1 + e) where x >= 0, e / (1 + e) where x < 0.
    """
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out, out


def sigmoid_backward(dout, cache):
    """dx = dout * out * (1 - out): the derivative written with the forward's own output."""
    out = cache
    return dout * out * (1 - out)
