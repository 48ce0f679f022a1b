"""Figures: d2l-style training curves and a confusion matrix, drawn with matplotlib's Agg backend (no display).

matplotlib is imported inside the functions, so importing minialex never pays for it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

CURVES = (("loss", "train loss", "-"), ("train_acc", "train acc", "--"), ("test_acc", "test acc", "-."))


def _pyplot():
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def plot_curves(history: list[dict], path, epochs: int | None = None, title: str | None = None) -> None:
    """Train loss, train accuracy and test accuracy against the epoch, as d2l's ``Animator`` draws them."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 3.2), dpi=100)
    x = [r["epoch"] for r in history]
    for key, label, style in CURVES:
        ax.plot(x, [r[key] for r in history], style, label=label)
    ax.set_xlim(1, max(epochs or 1, x[-1] if x else 1, 2))
    epoch_axis(ax)
    ax.legend()
    if title:
        ax.set_title(title, fontsize=9)
    _save(fig, path)


def epoch_axis(ax) -> None:
    """Whole epochs on the x axis, a light grid."""
    from matplotlib.ticker import MaxNLocator
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)


def plot_confusion(confusion, classes, path, title: str = "confusion matrix") -> None:
    """Counts with rows = true class, columns = predicted class; each cell annotated."""
    plt = _pyplot()
    k = len(classes)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * k, 0.8 + 0.55 * k), dpi=100)
    ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(k), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    threshold = confusion.max() / 2 if confusion.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(int(confusion[i, j])), ha="center", va="center", fontsize=7,
                    color="white" if confusion[i, j] > threshold else "black")
    _save(fig, path)


def _save(fig, path) -> None:
    """Write beside the target and rename, so a reader never sees half a PNG."""
    path = Path(path)
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.stem}-", suffix=".png")
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format="png")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a picture should be readable like any file
        os.replace(tmp, path)
    finally:
        _pyplot().close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
