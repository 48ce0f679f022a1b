"""``minialex evaluate CHECKPOINT``: test accuracy, per-class accuracy and the confusion matrix of a saved run."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from . import checkpoint
from .data import DataError, DataLoader, load_dataset
from .metrics import confusion_matrix, per_class_accuracy
from .tensor import Tensor, no_grad


def predict(net, loader) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class, true label) for every example of ``loader``, in eval mode, without gradients."""
    net.eval()
    predicted, labels = [], []
    with no_grad():
        for x, y in loader.batches(0):
            predicted.append(Tensor(net(Tensor(x)).data.argmax(axis=1)).numpy())
            labels.append(Tensor(y).numpy())
    return np.concatenate(predicted), np.concatenate(labels)


def evaluate(path, data_dir=None, batch_size: int | None = None, test_limit: int | None = None) -> dict:
    """Rebuild the model a checkpoint was trained as, load its weights, and score it on the test split."""
    from .train import Config, build_model
    _, _, meta = checkpoint.load(path)
    config = Config(**meta["config"])
    _, test_set = load_dataset(config.dataset, data_dir)
    limit = test_limit if test_limit is not None else config.test_limit
    loader = DataLoader(test_set, batch_size or config.batch_size, shuffle=False, resize=config.resize,
                        limit=None if limit is None else min(limit, len(test_set)))
    net = build_model(config, len(test_set.classes))
    checkpoint.restore(path, net)
    predicted, labels = predict(net, loader)
    confusion = confusion_matrix(predicted, labels, len(test_set.classes))
    return {"config": config, "epochs_done": meta["position"]["epoch"], "classes": test_set.classes,
            "accuracy": float((predicted == labels).mean()), "confusion": confusion,
            "per_class": per_class_accuracy(confusion)}


def report(result: dict) -> str:
    classes, confusion = result["classes"], result["confusion"]
    width = max(len(c) for c in classes)
    lines = [f"test accuracy {result['accuracy']:.4f} on {int(confusion.sum())} images "
             f"({result['config'].model}, {result['config'].resize or 28} px, after {result['epochs_done']} epochs)",
             "", "per-class accuracy:"]
    lines += [f"  {c:<{width}}  {a:.3f}" for c, a in zip(classes, result["per_class"])]
    lines += ["", "confusion matrix (rows: true class, columns: predicted):",
              " " * (width + 6) + " ".join(f"{i:>5}" for i in range(len(classes)))]
    lines += [f"  {i:>2} {c:<{width}} " + " ".join(f"{n:>5}" for n in row) for i, (c, row) in
              enumerate(zip(classes, confusion))]
    return "\n".join(lines)


def add_parser(subparsers) -> None:
    from .cli import add_backend_argument
    p = subparsers.add_parser("evaluate", help="test accuracy, per-class accuracy and confusion matrix of a checkpoint")
    p.add_argument("checkpoint", help="a checkpoint.npz written by minialex train")
    p.add_argument("--data-dir", default=None, help="folder holding the Fashion-MNIST files")
    p.add_argument("--batch-size", type=int, default=None, help="(default: the training batch size)")
    p.add_argument("--test-limit", type=int, default=None, metavar="N", help="use the first N test images")
    p.add_argument("--png", default=None, help="where to save the confusion matrix (default: confusion.png "
                                               "beside the checkpoint)")
    add_backend_argument(p)
    p.set_defaults(func=_evaluate)


def _evaluate(args) -> int:
    from .plots import plot_confusion
    try:
        result = evaluate(args.checkpoint, args.data_dir, args.batch_size, args.test_limit)
    except (checkpoint.CheckpointError, DataError, ValueError, KeyError) as e:
        print(f"minialex evaluate: error: {e}", file=sys.stderr)
        return 2
    print(report(result))
    png = Path(args.png) if args.png else Path(args.checkpoint).with_name("confusion.png")
    plot_confusion(result["confusion"], result["classes"], png,
                   title=f"test accuracy {result['accuracy']:.3f}")
    print(f"\nconfusion matrix saved to {png}")
    return 0
