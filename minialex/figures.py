"""Every figure minialex draws, in one style: training curves, the ablation's curves and gradient norms
(``minialex ablate``), the confusion matrix, a network's filters, feature maps and top-5 predictions (``minialex
inspect``), and per-layer times (``minialex bench``).

Each figure is a matplotlib ``Figure`` with constrained layout at 100 dpi, drawn on the Agg canvas (no pyplot, no
display, no global state) and written atomically by :func:`save`. matplotlib is imported inside the functions, so
importing minialex never pays for it.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np

CURVES = (("loss", "train loss", "-"), ("train_acc", "train acc", "--"), ("test_acc", "test acc", "-."))


def figure(width: float, height: float):
    """A blank figure in the house style."""
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def save(fig, path) -> None:
    """Write beside the target and rename, so a reader never sees half a PNG."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.stem}-", suffix=".png")
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format="png")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a picture should be readable like any file
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# --- training ------------------------------------------------------------------------------------------------------

def plot_curves(history: list[dict], path, epochs: int | None = None, title: str | None = None,
                points: list[dict] | None = None) -> None:
    """Train loss, train accuracy and test accuracy against the epoch, as d2l's ``Animator`` draws them.

    ``points`` (``{"epoch": 1.2, "loss", "train_acc"}``, at fractions of an epoch) draw the two train curves, as
    d2l's does, every fifth of an epoch; without them those curves have one point per epoch, from ``history``.
    Test accuracy is known once an epoch, so it comes from ``history``.
    """
    fig = figure(4.5, 3.2)
    ax = fig.subplots()
    x = [r["epoch"] for r in history]
    for key, label, style in CURVES:
        source = points if points and key != "test_acc" else history
        ax.plot([r["epoch"] for r in source], [r[key] for r in source], style, label=label,
                marker="o" if source is history else None, markersize=3)  # one point an epoch: marked
    ax.set_xlim(0 if points else 1, max(epochs or 1, x[-1] if x else 1, 2))
    epoch_axis(ax)
    ax.legend()
    if title:
        ax.set_title(title, fontsize=9)
    save(fig, path)


def plot_ablation_curves(runs: dict, path, epochs: int | None = None) -> None:
    """One colour per run: train loss (left), train accuracy (dashed) and test accuracy (marked, right).

    ``runs``: {name: (history, points)}, a run folder's metrics.jsonl and curve.jsonl records.
    """
    fig = figure(10, 3.8)
    loss_ax, acc_ax = fig.subplots(1, 2)
    for i, (name, (history, points)) in enumerate(runs.items()):
        colour = f"C{i}"
        train = points or history
        loss_ax.plot([p["epoch"] for p in train], [p["loss"] for p in train], color=colour, label=name)
        acc_ax.plot([p["epoch"] for p in train], [p["train_acc"] for p in train], "--", color=colour, alpha=0.6)
        acc_ax.plot([r["epoch"] for r in history], [r["test_acc"] for r in history], "-o", color=colour,
                    markersize=4, label=name)
    for ax, title in ((loss_ax, "train loss"), (acc_ax, "test accuracy (o) and train accuracy (--)")):
        ax.set_xlim(0, max(epochs or 1, 1))
        epoch_axis(ax)
        ax.set_title(title, fontsize=10)
    acc_ax.set_ylim(0, 1)
    loss_ax.legend(fontsize=8)
    save(fig, path)


def plot_gradient_norms(probes: dict, path) -> None:
    """Each layer's weight-gradient norm against the training step, one panel per network, on one log scale.

    ``probes``: {network label: {layer name: [norm at step 1, 2, ...]}}, layers in forward order (drawn from dark,
    the first, to light, the last), so a gradient that vanishes on its way back shows as dark curves far below.
    """
    from matplotlib import colormaps
    fig = figure(5 * len(probes), 3.8)
    axes = np.atleast_1d(fig.subplots(1, len(probes), sharey=True))
    for ax, (label, layers) in zip(axes, probes.items()):
        colours = colormaps["viridis"](np.linspace(0, 0.9, len(layers)))
        for colour, (name, norms) in zip(colours, layers.items()):
            ax.plot(range(1, len(norms) + 1), norms, color=colour, label=name)
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.grid(True, alpha=0.3)
        ax.set_title(label, fontsize=10)
    axes[0].set_ylabel("|dL/dW| of the layer's weight")
    axes[-1].legend(fontsize=8, ncol=2)
    save(fig, path)


def epoch_axis(ax) -> None:
    """Whole epochs on the x axis, a light grid."""
    from matplotlib.ticker import MaxNLocator
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)


# --- a trained network (minialex inspect, minialex evaluate) -------------------------------------------------------

def mosaic(tiles: np.ndarray, ncols: int, gap: int = 1) -> np.ndarray:
    """(K, h, w[, 3]) tiles -> one image, ``ncols`` per row, separated by ``gap`` pixels of NaN (drawn blank)."""
    k, h, w = tiles.shape[:3]
    nrows = math.ceil(k / ncols)
    out = np.full((nrows * (h + gap) - gap, ncols * (w + gap) - gap) + tiles.shape[3:], np.nan)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tile
    return out


def _grid_columns(k: int) -> int:
    return max(1, math.ceil(math.sqrt(k * 4 / 3)))  # a 4:3 grid: 96 filters -> 12 x 8


def plot_filters(weight: np.ndarray, path, title: str) -> None:
    """Each filter of a conv weight (F, C, kh, kw) scaled to its own min..max: gray for C != 3, colour for RGB."""
    w = weight.astype(np.float64)
    lo = w.min(axis=(1, 2, 3), keepdims=True)
    span = np.maximum(w.max(axis=(1, 2, 3), keepdims=True) - lo, 1e-12)
    w = (w - lo) / span
    tiles = w.transpose(0, 2, 3, 1) if w.shape[1] == 3 else w[:, 0]
    ncols = _grid_columns(len(w))
    image = mosaic(tiles, ncols)
    fig = figure(min(12, 0.9 * ncols + 1), min(10, 0.9 * math.ceil(len(w) / ncols) + 1))
    ax = fig.subplots()
    ax.imshow(np.nan_to_num(image, nan=1.0), cmap="gray", interpolation="nearest", vmin=0, vmax=1)
    ax.set_axis_off()
    ax.set_title(title)
    save(fig, path)


def plot_feature_maps(maps: np.ndarray, path, title: str) -> None:
    """(K, h, w) activations of one image on one colour scale, so dead channels show as uniformly dark."""
    ncols = _grid_columns(len(maps))
    image = mosaic(maps.astype(np.float64), ncols, gap=max(1, maps.shape[1] // 16))
    fig = figure(min(12, 1.2 * ncols + 1.5), min(12, 1.2 * math.ceil(len(maps) / ncols) + 1))
    ax = fig.subplots()
    from matplotlib import colormaps
    shown = ax.imshow(image, cmap=colormaps["viridis"].with_extremes(bad="white"), interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title)
    fig.colorbar(shown, ax=ax, shrink=0.8)
    save(fig, path)


def plot_activation_comparison(images: list, layers: list, path, title: str) -> None:
    """One row per input: the image, then each layer's channels as a mosaic; a layer shares one colour scale
    across the rows, so the same channel can be compared from image to image.

    ``images``: [(caption, (H, W) image)]; ``layers``: [(label, [(K, h, w) maps, one per image])].
    """
    from matplotlib import colormaps
    cmap = colormaps["viridis"].with_extremes(bad="white")
    fig = figure(3 + 4 * len(layers), 2.6 * len(images) + 0.6)
    axes = np.atleast_2d(fig.subplots(len(images), 1 + len(layers), width_ratios=[1] + [2.5] * len(layers),
                                      squeeze=False))
    for row, (caption, image) in enumerate(images):
        axes[row, 0].imshow(image, cmap="gray", vmin=0, vmax=1)
        axes[row, 0].set_title(caption, fontsize=9)
    for col, (label, maps) in enumerate(layers, start=1):
        lo, hi = min(float(m.min()) for m in maps), max(float(m.max()) for m in maps)
        for row, m in enumerate(maps):
            shown = axes[row, col].imshow(mosaic(m.astype(np.float64), min(8, len(m)), gap=1), cmap=cmap,
                                          vmin=lo, vmax=hi, interpolation="nearest")
            axes[row, col].set_title(f"{label}: {len(m)} channels, {m.shape[1]}x{m.shape[2]}", fontsize=9)
        fig.colorbar(shown, ax=axes[:, col], shrink=0.8)
    for ax in axes.flat:
        ax.set_axis_off()
    fig.suptitle(title, fontsize=10)
    save(fig, path)


def plot_predictions(image: np.ndarray, probs: np.ndarray, classes, path, title: str, label=None) -> None:
    """The input the network saw and its five most likely classes; the true class, if known, in orange."""
    top = np.argsort(probs)[::-1][:5]
    fig = figure(9, 3.6)
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.6))
    left.imshow(image, cmap="gray", vmin=0, vmax=1)
    left.set_axis_off()
    left.set_title(title)
    colours = ["tab:orange" if label is not None and k == label else "tab:blue" for k in top]
    right.barh(range(len(top))[::-1], probs[top], color=colours)
    right.set_yticks(range(len(top))[::-1], [classes[k] for k in top])
    right.set_xlim(0, 1)
    right.set_xlabel("softmax probability")
    right.set_title("top-5 predictions" + ("" if label is None else f" (true: {classes[label]})"))
    for y, p in zip(range(len(top))[::-1], probs[top]):
        right.text(min(p + 0.01, 0.85), y, f"{p:.3f}", va="center")
    save(fig, path)


def plot_confusion(confusion: np.ndarray, per_class: np.ndarray, classes, path, title: str) -> None:
    """Per-class accuracy (recall; NaN: no examples) beside the confusion matrix (rows: true class, columns:
    predicted)."""
    k = len(classes)
    fig = figure(14, 6)
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.4))
    left.barh(range(k)[::-1], np.nan_to_num(per_class), color="tab:blue")
    for y, a in zip(range(k)[::-1], per_class):
        left.text(min(np.nan_to_num(a) + 0.01, 0.9), y, "n/a" if np.isnan(a) else f"{a:.3f}", va="center")
    left.set_yticks(range(k)[::-1], classes)
    left.set_xlim(0, 1)
    left.set_xlabel("accuracy (recall)")
    left.set_title(title)
    shown = right.imshow(confusion, cmap="Blues")
    right.set_xticks(range(k), classes, rotation=45, ha="right")
    right.set_yticks(range(k), classes)
    right.set_xlabel("predicted")
    right.set_ylabel("true")
    right.set_title("confusion matrix (counts)")
    if k <= 20:
        for (i, j), count in np.ndenumerate(confusion):
            right.text(j, i, str(count), ha="center", va="center", fontsize=7,
                       color="white" if count > confusion.max() / 2 else "black")
    fig.colorbar(shown, ax=right, shrink=0.8)
    save(fig, path)


# --- speed (minialex bench) ------------------------------------------------------------------------------------------

def plot_layer_times(result: dict, engines: list[str], path) -> None:
    """Each layer's forward (solid) and backward (light) milliseconds, one bar per engine."""
    layers = [ly for ly in result["layers"] if any(ly[e]["forward"] + ly[e]["backward"] > 0.5 for e in engines)]
    fig = figure(min(16, 2 + 0.6 * len(layers)), 5)
    ax = fig.subplots()
    width = 0.8 / len(engines)
    for j, e in enumerate(engines):
        xs = [i + (j - (len(engines) - 1) / 2) * width for i in range(len(layers))]
        fwd = [ly[e]["forward"] for ly in layers]
        ax.bar(xs, fwd, width, label=f"{e} forward", color=f"C{j}")
        ax.bar(xs, [ly[e]["backward"] for ly in layers], width, bottom=fwd, label=f"{e} backward",
               color=f"C{j}", alpha=0.45)
    ax.set_xticks(range(len(layers)), [f"{ly['name']} {ly['layer']}" for ly in layers], rotation=45, ha="right",
                  fontsize=8)
    ax.set_ylabel("ms (median)")
    ax.set_title(f"AlexNet per-layer time, batch {result['batch']}, {result['size']} px")
    ax.legend(fontsize=8)
    save(fig, path)
