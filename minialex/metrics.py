"""Classification metrics on host NumPy arrays."""

from __future__ import annotations

import numpy as np


def accuracy(logits, labels) -> float:
    """Fraction of rows whose arg-max equals the label."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    return float((logits.argmax(axis=1) == labels).mean()) if len(labels) else 0.0


def confusion_matrix(predicted, labels, num_classes: int) -> np.ndarray:
    """counts[true, predicted] (rows: true class)."""
    predicted, labels = np.asarray(predicted, np.int64), np.asarray(labels, np.int64)
    return np.bincount(labels * num_classes + predicted, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Recall of each class: the diagonal over the row sums (NaN for a class with no examples)."""
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(confusion) / totals, np.nan)
