"""cross_entropy: softmax and negative log-likelihood in one numerically stable step."""

from __future__ import annotations

from ..backend import get_backend
from ..errors import InputError, ShapeError
from .common import Tensor, as_tensor, check_float, check_rank


def log_softmax(z):
    """log softmax along axis 1 of a raw array, shifted by the row maximum so exp() cannot overflow."""
    xp = get_backend().xp
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy(logits: Tensor, target) -> Tensor:
    """L = -(1/N) sum_n log softmax(z_n)[t_n];   dL/dz = (softmax(z) - onehot(t)) / N.

    ``logits`` (N, K) float; ``target`` (N,) integer class indices in [0, K).
    """
    op = "cross_entropy"
    logits = as_tensor(logits)
    xp = get_backend().xp
    check_rank(logits, 2, op, "of logits (N, num_classes)")
    check_float(logits, op, "logits")
    t = xp.asarray(target.data if isinstance(target, Tensor) else target)
    n, k = logits.shape
    if t.ndim != 1 or t.shape[0] != n or t.dtype.kind not in "iu":
        raise ShapeError(f"{op}: expected integer class targets of shape ({n},), got shape {tuple(t.shape)} "
                         f"dtype {t.dtype}")
    if n and (int(t.min()) < 0 or int(t.max()) >= k):
        raise InputError(f"{op}: targets must lie in [0, {k - 1}], got values from {int(t.min())} to {int(t.max())}")
    logp = log_softmax(logits.data)
    rows = xp.arange(n)
    loss = -logp[rows, t].mean()

    def backward(g):
        d = xp.exp(logp)
        d[rows, t] -= 1
        return (d * (g / n),)

    return Tensor.from_op(xp.asarray(loss, dtype=logits.dtype), (logits,), backward, op)
