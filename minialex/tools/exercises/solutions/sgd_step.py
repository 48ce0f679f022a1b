"""Exercise sgd_step: one update of stochastic gradient descent with momentum and weight decay.

Fill in the function (keep its name and signature), then run

    minialex exercise check sgd_step

The convention is PyTorch's (torch.optim.SGD, and minialex.optim.SGD), not CS231n's:

    g = dw + weight_decay * w
    v = momentum * v + g           v starts as zeros, so the first step has v = g
    w = w - lr * v

Shapes: w, dw and v all have the same shape.
"""

import numpy as np


def sgd_step(w, dw, v, lr, momentum=0.0, weight_decay=0.0):
    """Returns the updated (w, v) as new arrays; the inputs stay unchanged."""
    g = dw + weight_decay * w
    v = momentum * v + g
    return w - lr * v, v
