"""Exercise cross_entropy: the softmax cross-entropy loss and its gradient on NumPy arrays.

Fill in the two functions (keep their names and signatures), then run

    minialex exercise check cross_entropy

Shapes: logits (N, K) scores for K classes, target (N,) integer class indices in [0, K); the loss is a scalar.
"""

import numpy as np


def cross_entropy_forward(logits, target):
    """loss = -(1/N) * sum over n of  log softmax(logits[n])[target[n]],   softmax(z)_k = exp(z_k) / sum_j exp(z_j)

    exp() of a large score overflows: subtract each row's maximum first (softmax does not change).
    Returns (loss, cache); loss is a float (or a 0-d array).
    """
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), target].mean()
    return loss, (log_probs, target)


def cross_entropy_backward(dloss, cache):
    """dloss is dL/dloss (a scalar; 1.0 when the loss is the final output) -> dlogits (N, K):

    dlogits = dloss * (softmax(logits) - onehot(target)) / N
    """
    log_probs, target = cache
    n = log_probs.shape[0]
    dlogits = np.exp(log_probs)
    dlogits[np.arange(n), target] -= 1
    return dlogits * (dloss / n)
