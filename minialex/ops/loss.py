"""cross_entropy: softmax and negative log-likelihood in one numerically stable step."""

from __future__ import annotations

from ..backend import get_backend
from ..errors import ConfigError, InputError, ShapeError
from .common import Tensor, as_tensor, check_float, check_rank


def log_softmax(z):
    """log softmax along axis 1 of a raw array, shifted by the row maximum so exp() cannot overflow."""
    xp = get_backend().xp
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


REDUCTIONS = ("mean", "sum", "none")


def cross_entropy(logits: Tensor, target, reduction: str = "mean") -> Tensor:
    """L = -(1/N) sum_n log softmax(z_n)[t_n];   dL/dz = (softmax(z) - onehot(t)) / N.

    ``logits`` (N, K) float; ``target`` (N,) integer class indices in [0, K). ``reduction`` as PyTorch's: ``mean``
    (above), ``sum`` (no 1/N; dL/dz = softmax(z) - onehot(t)) or ``none`` (the N losses L_n = -log softmax(z_n)[t_n];
    row n's gradient scaled by its own G_n).
    """
    op = "cross_entropy"
    if reduction not in REDUCTIONS:
        raise ConfigError(f"{op}: reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")
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
    losses = -logp[rows, t]
    loss = losses if reduction == "none" else losses.sum() if reduction == "sum" else losses.mean()

    def backward(g):
        d = xp.exp(logp)
        d[rows, t] -= 1
        return (d * (g[:, None] if reduction == "none" else g if reduction == "sum" else g / n),)

    return Tensor.from_op(xp.asarray(loss, dtype=logits.dtype), (logits,), backward, op)
