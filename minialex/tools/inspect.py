"""Pictures of a trained network: ``minialex inspect CHECKPOINT --image N --out DIR``.

From a checkpoint (AlexNet, LeNet, an ablation's) it draws conv1's filters, the feature maps of every conv and pool
layer for one test image, that image with the network's top-5 predictions, and -- when the test set is at hand --
per-class accuracy beside the confusion matrix. ``--compare pullover,coat`` adds the LeNet chapter's exercise: the
first and second conv layers' activations for the first test image of each class, side by side on one colour scale
per layer. The figures themselves are in :mod:`minialex.figures`.
"""

from __future__ import annotations

import os

import numpy as np

from .. import figures, nn
from ..backend import get_backend
from ..data import DataLoader, load_dataset, resize
from ..errors import InputError
from ..summary import describe
from ..tensor import Tensor, no_grad
from ..training.checkpoint import model_from_checkpoint
from ..training.evaluate import score


class InspectError(InputError):
    pass


def load_test_split(data_dir=None):
    """Fashion-MNIST's test split (a :class:`minialex.data.Dataset`)."""
    return load_dataset("fashion-mnist", data_dir)[1]


def synthetic_image(index: int) -> np.ndarray:
    """A deterministic random 28x28 uint8 image, seeded by ``index``: for looking at a network without data."""
    return np.random.default_rng(index).integers(0, 256, (28, 28), dtype=np.uint8)


# --- running the model -----------------------------------------------------------------------------------------

def layer_outputs(model: nn.Sequential, x: np.ndarray) -> list:
    """[(name, layer, output as a host array)] for every layer, on input ``x`` (N, C, H, W; an array or a loader's
    Tensor), without a graph."""
    backend, outputs = get_backend(), []
    with no_grad():
        h = x if isinstance(x, Tensor) else Tensor(backend.asarray(x))
        for name, layer in model.named_children():
            h = layer(h)
            outputs.append((name, layer, backend.to_numpy(h.data)))
    return outputs


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


# --- the pictures --------------------------------------------------------------------------------------------------

ACTIVATIONS = (nn.ReLU, nn.Sigmoid, nn.Tanh)
POOLS = (nn.MaxPool2d, nn.AvgPool2d)
SWEATER = "pullover"   # Fashion-MNIST's name for d2l's "sweater"


def _feature_layers(outputs):
    """[(label, file stem, output)] for each conv (taken after its activation when one follows) and each pool."""
    picked = []
    for i, (name, layer, out) in enumerate(outputs):
        if isinstance(layer, nn.Conv2d):
            label = f"layer {name}: {describe(layer)}"
            if i + 1 < len(outputs) and isinstance(outputs[i + 1][1], ACTIVATIONS):
                after = outputs[i + 1]
                label, out = f"layers {name}-{after[0]}: {describe(layer)} + {type(after[1]).__name__}", after[2]
            picked.append((label, f"features_{int(name):02d}_conv", out))
        elif isinstance(layer, POOLS):
            picked.append((f"layer {name}: {describe(layer)}", f"features_{int(name):02d}_pool", out))
    return picked


def compare_classes(model, size: int, test, names: str, channels: int = 16):
    """[(caption, image)], [(layer label, [maps of each image])]: the first two conv layers' activations for the
    first test image of each class in ``names`` ("pullover,coat"; "sweater" is Fashion-MNIST's "pullover")."""
    wanted = [SWEATER if n.strip() == "sweater" else n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in test.classes]
    if unknown or len(wanted) < 2:
        raise InspectError(f"--compare needs two or more class names among {', '.join(test.classes)} (or sweater), "
                           f"got {names!r}")
    picks = [int(np.flatnonzero(test.labels == test.classes.index(n))[0]) for n in wanted]
    runs = [_feature_layers(layer_outputs(model, resize(test.images[i][None], size))) for i in picks]
    convs = [k for k, (_, stem, _) in enumerate(runs[0]) if stem.endswith("_conv")][:2]
    images = [(f"{n} (test image {i})", resize(test.images[i][None], size)[0, 0]) for n, i in zip(wanted, picks)]
    layers = [(runs[0][k][0], [run[k][2][0, :channels] for run in runs]) for k in convs]
    return images, layers


def inspect(path, index: int, out_dir: str, data_dir=None, synthetic: bool = False, channels: int = 32,
            test_limit: int | None = None, compare: str | None = None, log=print) -> list[str]:
    """Draw every picture for checkpoint ``path`` and test image ``index``; returns the PNG paths written.

    ``compare="pullover,coat"`` adds ``compare_activations.png`` (needs the test set, not ``synthetic``)."""
    if not 1 <= channels <= 64:
        raise InspectError(f"channels must be in 1..64, got {channels}")
    model, size, meta = model_from_checkpoint(path)
    config = meta["config"]
    test = None if synthetic else load_test_split(data_dir)
    if test is None:
        image, true_class, source = synthetic_image(index), None, f"random image (seed {index})"
    elif 0 <= index < len(test):
        image, true_class, source = test.images[index], int(test.labels[index]), f"test image {index}"
    else:
        raise InspectError(f"--image {index} is out of range: the test set has {len(test)} images")
    num_classes = model[-1].out_features
    classes = tuple(meta.get("classes") or config.get("classes") or (test.classes if test is not None else None)
                    or [f"class {k}" for k in range(num_classes)])
    os.makedirs(out_dir, exist_ok=True)
    written = []

    def save(draw, name, *args, **kwargs):
        target = os.path.join(out_dir, name + ".png")
        draw(*args, target, **kwargs)
        written.append(target)
        log(f"wrote {target}")

    first_conv = next(m for m in model if isinstance(m, nn.Conv2d))
    save(figures.plot_filters, "conv1_filters", get_backend().to_numpy(first_conv.weight.data),
         title=f"conv1: {first_conv.out_channels} filters {first_conv.kernel_size[0]}x{first_conv.kernel_size[1]}, "
               "each scaled to its own range")

    x = resize(image[None], size)
    outputs = layer_outputs(model, x)
    for label, stem, out in _feature_layers(outputs):
        k = min(channels, out.shape[1])
        save(figures.plot_feature_maps, stem, out[0, :k],
             title=f"{label}\n{source}: first {k} of {out.shape[1]} channels, {out.shape[2]}x{out.shape[3]} each")

    probs = softmax(outputs[-1][2][0].astype(np.float64))
    save(figures.plot_predictions, "predictions", x[0, 0], probs, classes, title=f"{source}, {size}x{size}",
         label=true_class)
    top = np.argsort(probs)[::-1][:5]
    log(f"{source}: " + ", ".join(f"{classes[k]} {probs[k]:.3f}" for k in top)
        + ("" if true_class is None else f"  (true: {classes[true_class]})"))

    if compare is not None:
        if test is None:
            raise InspectError("--compare picks test images by class, so it needs the test set, not --synthetic")
        images, layers = compare_classes(model, size, test, compare, min(channels, 16))
        save(figures.plot_activation_comparison, "compare_activations", images, layers,
             title=f"the first two conv layers' activations ({meta['config'].get('model', 'model')})")

    if test is not None:
        n = len(test) if test_limit is None else min(test_limit, len(test))
        log(f"evaluating on {n} test images ...")
        result = score(model, DataLoader(test, 256, shuffle=False, resize=size, limit=n))
        save(figures.plot_confusion, "confusion", result["confusion"], result["per_class"], classes,
             title=f"per-class accuracy, {n} test images (overall {result['accuracy']:.3f})")
        log(f"test accuracy {result['accuracy']:.4f}; per class: " + ", ".join(
            f"{c} {a:.3f}" for c, a in zip(classes, result["per_class"])))
    return written
