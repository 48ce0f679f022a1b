"""Classification metrics: accuracy (on NumPy or CuPy arrays), the confusion matrix and per-class accuracy."""

from __future__ import annotations

import numpy as np


def correct(logits, labels) -> int:
    """How many rows of ``logits`` (N, K) have their largest score at the row's label; arrays of any engine."""
    return int((logits.argmax(axis=1) == labels).sum())


def accuracy(logits, labels) -> float:
    """The fraction of rows whose arg-max is the label (0.0 for no rows)."""
    return correct(logits, labels) / len(labels) if len(labels) else 0.0


def confusion_matrix(predicted, labels, num_classes: int) -> np.ndarray:
    """counts[true, predicted] (rows: true class), from host arrays of class indices."""
    predicted, labels = np.asarray(predicted, np.int64), np.asarray(labels, np.int64)
    return np.bincount(labels * num_classes + predicted, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Recall of each class: the diagonal over the row sums (NaN for a class with no examples)."""
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(confusion) / totals, np.nan)


def mean_cross_entropy(logits, labels) -> float:
    """-(1/N) sum_n log softmax(z_n)[t_n] over host arrays, in float64 (0.0 for no rows): the test loss."""
    z = np.asarray(logits, np.float64)
    if not len(z):
        return 0.0
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(z)), np.asarray(labels, np.int64)].mean())
