"""Scoring a network: the one prediction loop, and a saved run's test accuracy, per-class accuracy and confusion."""

from __future__ import annotations

import numpy as np

from ..backend import get_backend
from ..data import DataLoader, as_array, epoch_batches, load_dataset
from ..tensor import Tensor, no_grad
from .checkpoint import model_from_checkpoint
from .metrics import accuracy, confusion_matrix, per_class_accuracy


def predict(net, loader: DataLoader, stop_requested=lambda: False) -> tuple[np.ndarray, np.ndarray] | None:
    """(logits, labels) as host arrays for every example of ``loader`` (a DataLoader or any iterable of batches), in
    eval mode without building a graph
    (d2l's ``evaluate_accuracy_gpu`` before the count); None if ``stop_requested()`` turns true between batches."""
    net.eval()
    backend, logits, labels = get_backend(), [], []
    with no_grad():
        for x, y in epoch_batches(loader, 0):
            if stop_requested():
                return None
            logits.append(backend.to_numpy(net(Tensor(x)).data))
            labels.append(backend.to_numpy(as_array(y)))
    return np.concatenate(logits), np.concatenate(labels)


def score(net, loader: DataLoader) -> dict:
    """``accuracy``, ``confusion`` (rows: true class) and ``per_class`` accuracy of ``net`` over ``loader``."""
    logits, labels = predict(net, loader)
    confusion = confusion_matrix(logits.argmax(axis=1), labels, logits.shape[1])
    return {"accuracy": accuracy(logits, labels), "confusion": confusion, "per_class": per_class_accuracy(confusion)}


def evaluate(path, data_dir=None, batch_size: int | None = None, test_limit: int | None = None) -> dict:
    """Rebuild the model a checkpoint holds, and score it on the test split of the data it was trained on."""
    net, size, meta = model_from_checkpoint(path)
    config = meta["config"]
    _, test_set = load_dataset(config.get("dataset", "fashion-mnist"), data_dir)
    limit = test_limit if test_limit is not None else config.get("test_limit")
    loader = DataLoader(test_set, batch_size or config.get("batch_size", 128), shuffle=False,
                        resize=config.get("resize"), limit=None if limit is None else min(limit, len(test_set)))
    return {"model": config.get("model", "alexnet"), "size": size, "classes": test_set.classes,
            "epochs_done": meta.get("position", {}).get("epoch"), **score(net, loader)}


def report(result: dict) -> str:
    classes, confusion = result["classes"], result["confusion"]
    width = max(len(c) for c in classes)
    after = "" if result["epochs_done"] is None else f", after {result['epochs_done']} epochs"
    lines = [f"test accuracy {result['accuracy']:.4f} on {int(confusion.sum())} images "
             f"({result['model']}, {result['size']} px{after})", "", "per-class accuracy:"]
    lines += [f"  {c:<{width}}  {a:.3f}" for c, a in zip(classes, result["per_class"])]
    lines += ["", "confusion matrix (rows: true class, columns: predicted):",
              " " * (width + 6) + " ".join(f"{i:>5}" for i in range(len(classes)))]
    lines += [f"  {i:>2} {c:<{width}} " + " ".join(f"{n:>5}" for n in row) for i, (c, row) in
              enumerate(zip(classes, confusion))]
    return "\n".join(lines)
