"""Pictures of a trained network: ``minialex inspect CHECKPOINT --image N --out DIR``.

From a checkpoint it draws conv1's filters, the feature maps of every conv and pool layer for one test image, that
image with the network's top-5 predictions, and -- when the test set is at hand -- per-class accuracy beside the
confusion matrix. Figures are drawn on matplotlib's ``Figure`` directly (the Agg canvas, no pyplot, no display).
"""

from __future__ import annotations

import math
import os

import numpy as np

from . import checkpoint, models, nn
from .backend import get_backend
from .metrics import confusion_matrix, per_class_accuracy
from .summary import describe
from .tensor import Tensor, no_grad


class InspectError(ValueError):
    pass


# --- the model, from a checkpoint ----------------------------------------------------------------------------------

def infer_config(state: dict) -> dict:
    """For a checkpoint without ``meta["config"]``: the architecture from its parameter names and shapes.

    AlexNet's first dense layer is ``14`` (256*s*s inputs, s the side of the last feature map), LeNet's ``7``.
    Several input sizes give the same s; 224 (d2l's) or 96 is taken when it fits, else the smallest that does.
    """
    if "0.weight" not in state:
        raise InspectError("cannot tell the architecture: the checkpoint has no parameter 0.weight (a first conv)")
    in_channels = int(state["0.weight"].shape[1])
    last = max((k for k in state if k.endswith(".weight")), key=lambda k: int(k.split(".")[0]))
    num_classes = int(state[last].shape[0])
    if "14.weight" in state:
        side = math.isqrt(state["14.weight"].shape[1] // 256)
        if 256 * side * side != state["14.weight"].shape[1]:
            raise InspectError(f"layer 14 has {state['14.weight'].shape[1]} inputs, not 256*s*s: not an AlexNet")
        sizes = [n for n in range(models.MIN_ALEXNET_INPUT, 1025) if models.alexnet_feature_size(n) == side]
        if not sizes:
            raise InspectError(f"no AlexNet input size up to 1024 px gives a {side}x{side} last feature map")
        size = next((n for n in (224, 96) if n in sizes), sizes[0])
        return {"model": "alexnet", "resize": size, "num_classes": num_classes, "in_channels": in_channels}
    if "7.weight" in state:
        return {"model": "lenet", "resize": 28, "num_classes": num_classes, "in_channels": in_channels}
    raise InspectError(f"cannot tell the architecture from the parameter names {sorted(state)}")


def build_model(config: dict) -> tuple[nn.Sequential, int]:
    """(model, input side length) for a checkpoint's ``config`` ({"model": "alexnet", "resize": 96, ...})."""
    name = config.get("model", "alexnet")
    num_classes, in_channels = config.get("num_classes", 10), config.get("in_channels", 1)
    if name == "alexnet":
        size = config.get("resize") or config.get("input_size") or 224
        return models.alexnet(num_classes, in_channels, size), size
    if name == "lenet":
        return models.lenet(num_classes, in_channels), 28
    raise InspectError(f"config names model {name!r}; inspect knows alexnet and lenet")


def model_from_checkpoint(path) -> tuple[nn.Sequential, int, dict]:
    """(model with the checkpoint's weights, in eval mode; its input size; the checkpoint's meta)."""
    state, _, meta = checkpoint.load(path)
    config = meta.get("config") or infer_config(state)
    model, size = build_model(config)
    try:
        model.load_state_dict(state)
    except (KeyError, ValueError) as e:
        raise InspectError(f"checkpoint {path} does not fit the model its config describes ({config}): {e}") \
            from None
    meta.setdefault("config", config)
    return model.eval(), size, meta


# --- the input image ---------------------------------------------------------------------------------------------

def load_test_split(data_dir=None):
    """Fashion-MNIST's test split as (images (N, 28, 28) uint8, labels (N,) int64, class names)."""
    from . import data
    _, test = data.load_dataset("fashion-mnist", data_dir)
    return test.images, test.labels, tuple(test.classes)


def synthetic_image(index: int) -> np.ndarray:
    """A deterministic random 28x28 uint8 image, seeded by ``index``: for looking at a network without data."""
    return np.random.default_rng(index).integers(0, 256, (28, 28), dtype=np.uint8)


def to_model_input(images: np.ndarray, size: int) -> np.ndarray:
    """(N, 28, 28) uint8 -> (N, 1, size, size) float32 in [0, 1], resized as the training data is."""
    from .data import resize
    return resize(images, size)


# --- running the model -----------------------------------------------------------------------------------------

def layer_outputs(model: nn.Sequential, x: np.ndarray) -> list:
    """[(name, layer, output as a host array)] for every layer, on input ``x`` (N, C, H, W), without a graph."""
    backend, outputs = get_backend(), []
    with no_grad():
        h = Tensor(backend.asarray(x))
        for name, layer in model.named_children():
            h = layer(h)
            outputs.append((name, layer, backend.to_numpy(h.data)))
    return outputs


def predict(model: nn.Sequential, images: np.ndarray, size: int, batch_size: int = 256) -> np.ndarray:
    """Predicted class of each (28x28 uint8) image, in batches."""
    backend, predicted = get_backend(), []
    with no_grad():
        for start in range(0, len(images), batch_size):
            x = to_model_input(images[start:start + batch_size], size)
            predicted.append(backend.to_numpy(model(Tensor(backend.asarray(x))).data).argmax(axis=1))
    return np.concatenate(predicted)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


# --- drawing -------------------------------------------------------------------------------------------------------

def _figure(width: float, height: float):
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


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


def draw_filters(weight: np.ndarray, path: str, title: str) -> None:
    """Each filter of a conv weight (F, C, kh, kw) scaled to its own min..max: gray for C != 3, colour for RGB."""
    w = weight.astype(np.float64)
    lo = w.min(axis=(1, 2, 3), keepdims=True)
    span = np.maximum(w.max(axis=(1, 2, 3), keepdims=True) - lo, 1e-12)
    w = (w - lo) / span
    tiles = w.transpose(0, 2, 3, 1) if w.shape[1] == 3 else w[:, 0]
    ncols = _grid_columns(len(w))
    image = mosaic(tiles, ncols)
    fig = _figure(min(12, 0.9 * ncols + 1), min(10, 0.9 * math.ceil(len(w) / ncols) + 1))
    ax = fig.subplots()
    ax.imshow(np.nan_to_num(image, nan=1.0), cmap="gray", interpolation="nearest", vmin=0, vmax=1)
    ax.set_axis_off()
    ax.set_title(title)
    fig.savefig(path)


def draw_feature_maps(maps: np.ndarray, path: str, title: str) -> None:
    """(K, h, w) activations of one image on one colour scale, so dead channels show as uniformly dark."""
    ncols = _grid_columns(len(maps))
    image = mosaic(maps.astype(np.float64), ncols, gap=max(1, maps.shape[1] // 16))
    fig = _figure(min(12, 1.2 * ncols + 1.5), min(12, 1.2 * math.ceil(len(maps) / ncols) + 1))
    ax = fig.subplots()
    from matplotlib import colormaps
    shown = ax.imshow(image, cmap=colormaps["viridis"].with_extremes(bad="white"), interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title)
    fig.colorbar(shown, ax=ax, shrink=0.8)
    fig.savefig(path)


def draw_predictions(image: np.ndarray, probs: np.ndarray, classes, path: str, title: str, label=None) -> None:
    """The input the network saw and its five most likely classes; the true class, if known, in orange."""
    top = np.argsort(probs)[::-1][:5]
    fig = _figure(9, 3.6)
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
    fig.savefig(path)


def draw_confusion(confusion: np.ndarray, classes, path: str, title: str) -> None:
    """Per-class accuracy (recall) beside the confusion matrix (rows: true class, columns: predicted)."""
    k = len(classes)
    accuracy = per_class_accuracy(confusion)
    fig = _figure(14, 6)
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.4))
    left.barh(range(k)[::-1], np.nan_to_num(accuracy), color="tab:blue")
    for y, a in zip(range(k)[::-1], accuracy):
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
    fig.savefig(path)


# --- the command ---------------------------------------------------------------------------------------------------

def _feature_layers(outputs):
    """[(label, file stem, output)] for each conv (taken after its ReLU when one follows) and each pool."""
    picked = []
    for i, (name, layer, out) in enumerate(outputs):
        if isinstance(layer, nn.Conv2d):
            label = f"layer {name}: {describe(layer)}"
            if i + 1 < len(outputs) and isinstance(outputs[i + 1][1], nn.ReLU):
                label, out = f"layers {name}-{outputs[i + 1][0]}: {describe(layer)} + ReLU", outputs[i + 1][2]
            picked.append((label, f"features_{int(name):02d}_conv", out))
        elif isinstance(layer, nn.MaxPool2d):
            picked.append((f"layer {name}: {describe(layer)}", f"features_{int(name):02d}_pool", out))
    return picked


def inspect(path, index: int, out_dir: str, data_dir=None, synthetic: bool = False, channels: int = 32,
            limit: int | None = None, log=print) -> list[str]:
    """Draw every picture for checkpoint ``path`` and test image ``index``; returns the PNG paths written."""
    model, size, meta = model_from_checkpoint(path)
    config = meta["config"]
    if synthetic:
        images, labels, classes = synthetic_image(index)[None], None, None
        index_in_set, source = 0, f"random image (seed {index})"
    else:
        images, labels, classes = load_test_split(data_dir)
        if not 0 <= index < len(images):
            raise InspectError(f"--image {index} is out of range: the test set has {len(images)} images")
        index_in_set, source = index, f"test image {index}"
    num_classes = model[-1].out_features
    classes = tuple(meta.get("classes") or config.get("classes") or classes or [f"class {k}" for k in
                                                                                 range(num_classes)])
    os.makedirs(out_dir, exist_ok=True)
    written = []

    def save(draw, name, *args, **kwargs):
        target = os.path.join(out_dir, name + ".png")
        draw(*args, target, **kwargs)
        written.append(target)
        log(f"wrote {target}")

    first_conv = next(m for m in model if isinstance(m, nn.Conv2d))
    save(draw_filters, "conv1_filters", get_backend().to_numpy(first_conv.weight.data),
         title=f"conv1: {first_conv.out_channels} filters {first_conv.kernel_size[0]}x{first_conv.kernel_size[1]}, "
               "each scaled to its own range")

    x = to_model_input(images[index_in_set:index_in_set + 1], size)
    outputs = layer_outputs(model, x)
    for label, stem, out in _feature_layers(outputs):
        k = min(channels, out.shape[1])
        save(draw_feature_maps, stem, out[0, :k],
             title=f"{label}\n{source}: first {k} of {out.shape[1]} channels, {out.shape[2]}x{out.shape[3]} each")

    probs = softmax(outputs[-1][2][0].astype(np.float64))
    label = None if labels is None else int(labels[index_in_set])
    save(draw_predictions, "predictions", x[0, 0], probs, classes, title=f"{source}, {size}x{size}", label=label)
    top = np.argsort(probs)[::-1][:5]
    log(f"{source}: " + ", ".join(f"{classes[k]} {probs[k]:.3f}" for k in top)
        + ("" if label is None else f"  (true: {classes[label]})"))

    if labels is not None:
        n = len(images) if limit is None else min(limit, len(images))
        log(f"evaluating on {n} test images ...")
        predicted = predict(model, images[:n], size)
        confusion = confusion_matrix(predicted, labels[:n], num_classes)
        accuracy = float(np.trace(confusion) / confusion.sum())
        save(draw_confusion, "confusion", confusion, classes,
             title=f"per-class accuracy, {n} test images (overall {accuracy:.3f})")
        log(f"test accuracy {accuracy:.4f}; per class: " + ", ".join(
            f"{c} {a:.3f}" for c, a in zip(classes, per_class_accuracy(confusion))))
    return written


def add_parser(subparsers) -> None:
    from .cli import add_backend_argument
    p = subparsers.add_parser("inspect", help="pictures of a checkpoint: filters, feature maps, predictions, "
                                              "confusion matrix")
    p.add_argument("checkpoint", metavar="CHECKPOINT")
    p.add_argument("--image", type=int, default=0, metavar="N", help="Fashion-MNIST test image index (default 0)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the PNGs")
    p.add_argument("--data-dir", default=None, help="folder with the Fashion-MNIST files (see minialex.data)")
    p.add_argument("--synthetic", action="store_true",
                   help="use a deterministic random image (seeded by --image) instead of the test set; "
                        "skips the confusion matrix")
    p.add_argument("--channels", type=int, default=32, help="feature-map channels shown per layer (default 32)")
    p.add_argument("--limit", type=int, default=None, help="evaluate the confusion matrix on the first N test "
                                                           "images only")
    add_backend_argument(p)
    p.set_defaults(func=_inspect_command)


def _inspect_command(args) -> int:
    if not 1 <= args.channels <= 64:
        raise ValueError(f"--channels must be in 1..64, got {args.channels}")
    inspect(args.checkpoint, args.image, args.out, args.data_dir, args.synthetic, args.channels, args.limit)
    return 0
