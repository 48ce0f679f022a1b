"""Exercise linear: a fully connected layer's forward and backward pass on NumPy arrays.

Fill in the two functions (keep their names and signatures), then run

    minialex exercise check linear

Shapes, as PyTorch's nn.Linear (note: w is (M, D), not CS231n's (D, M)):
    x (N, D)   w (M, D)   b (M,)   ->   out (N, M)
"""

import numpy as np


def linear_forward(x, w, b):
    """out = x @ w.T + b. Returns (out, cache)."""
    return x @ w.T + b, (x, w)


def linear_backward(dout, cache):
    """dout (N, M) -> (dx, dw, db):   dx = dout @ w,   dw = dout.T @ x,   db = dout summed over the batch."""
    x, w = cache
    return dout @ w, dout.T @ x, dout.sum(axis=0)
