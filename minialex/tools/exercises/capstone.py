"""The capstone: train AlexNet on Fashion-MNIST with your own ops in place of minialex's, beside minialex itself.

    minialex exercise capstone                       # every op you wrote: conv2d, relu, ..., sgd_step, autograd
    minialex exercise capstone --use conv2d,relu     # only these; minialex's own ops for the rest

Two runs of the same recipe from the same seed -- same initial weights, same batches in the same order, the same
dropout masks -- one on minialex's ops (``conv2d`` by im2col, the algorithm the exercise teaches) and one with
yours swapped in (:mod:`.learner_ops`). From the reference solutions the two runs are the same float32 numbers on
the numba engine (the solutions add in the order its kernels do); a wrong backward makes yours leave the
reference, visibly, within a few steps (its gradient norms at step 1). Before
training, each op you use must pass its check: the capstone names the first failing one and does not start.

Dropout masks: each dropout call gets a seed from a counter shared by both runs; your ``dropout_forward`` draws
``default_rng(seed).random(shape)`` in float64 as its exercise says, and minialex's dropout gets the same draws
rounded *down* to float32 (:class:`FloorDraws`), so ``u >= p`` decides alike for p = 0.5 (AlexNet's).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np

from ... import models, nn, ops
from ...backend import backend, get_backend, manual_seed
from ...errors import ConfigError
from ...data import DataLoader, as_array, load_dataset
from ...ops.conv_algorithm import conv_algorithm
from ...autograd import no_grad
from . import learner_ops

OPS = ("conv2d", "relu", "max_pool2d", "linear", "dropout", "cross_entropy", "sgd_step", "autograd")
"""What the capstone can swap: the ops AlexNet's training step uses, the optimizer's update, and the engine."""

RECIPE = dict(batch_size=32, lr=0.01, momentum=0.9, weight_decay=5e-4)
DEFAULT_INPUT = 65  # AlexNet's smallest input (models.MIN_ALEXNET_INPUT): a laptop trains it in minutes
DEFAULT_BUDGET = "3x2000"
TEST_IMAGES = 1000


class CapstoneError(ConfigError):
    """Bad flags, or an op that still fails its check (the message names it)."""


@dataclass(frozen=True)
class Budget:
    epochs: int
    train_images: int
    test_images: int = TEST_IMAGES

    @classmethod
    def parse(cls, text: str, test_images: int = TEST_IMAGES) -> "Budget":
        """``EPOCHSxIMAGES``: e.g. ``3x2000`` is 3 epochs of 2000 training images each."""
        try:
            epochs, images = (int(v) for v in text.lower().split("x"))
        except ValueError:
            raise CapstoneError(f"--budget: expected EPOCHSxIMAGES such as 3x2000, got {text!r}") from None
        if epochs < 1 or images < 1:
            raise CapstoneError(f"--budget: epochs and images must be at least 1, got {text!r}")
        return cls(epochs, images, test_images)


def parse_use(text: str | None) -> tuple:
    if text is None:
        return OPS
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in OPS]
    if unknown or not names:
        raise CapstoneError(f"--use: unknown op {', '.join(unknown) or repr(text)}; expected a comma-separated "
                            f"list of {', '.join(OPS)}")
    return tuple(n for n in OPS if n in names)  # the order of OPS, each once


# --- before training: every op used passes its check ------------------------------------------------------------

def require_passing(use, directory=None) -> dict:
    """The learner's modules for ``use``; CapstoneError naming the first op without a file or with a failing check."""
    from .checker import load_module
    from .files import exercise_path
    from .ladder import check_exercise
    modules = {}
    for name in use:
        path = exercise_path(name, directory)
        if not os.path.exists(path):
            raise CapstoneError(f"no file {path}: write {name} first (minialex exercise start {name}), or leave it "
                                f"out with --use")
        report = check_exercise(name, path)
        failing = [c for c in report.checks if not c.ok]
        if failing:
            raise CapstoneError(f"{name} does not pass its check yet: [{report.checks.index(failing[0]) + 1}/"
                                f"{len(report.checks)}] {failing[0].title}: {failing[0].status}. Fix it first "
                                f"(minialex exercise check {name}); the capstone trains only on ops that pass.")
        modules[name] = load_module(path)
    return modules


def load_unchecked(use, directory=None) -> dict:
    """The learner's modules without checking them: for the tests and figures that show what a bug does."""
    from .checker import load_module
    from .files import exercise_path
    return {name: load_module(exercise_path(name, directory)) for name in use}


# --- the network and one run -----------------------------------------------------------------------------------

class FloorDraws:
    """A generator for ``ops.dropout``: the float64 uniforms of ``default_rng(seed)``, rounded down to float32."""

    def __init__(self, seed: int):
        self.seed = seed

    def random(self, shape, dtype=np.float64):
        u = np.random.default_rng(self.seed).random(shape)
        low = u.astype(dtype)
        return np.where(low > u, np.nextafter(low, low.dtype.type(0)), low)


class SeededDropout(nn.Module):
    """Dropout whose masks come from seeds ``base, base + 1, ...`` (a counter the two runs share alike)."""

    def __init__(self, p: float, counter: list, learner=None):
        self.p, self.counter, self.learner = p, counter, learner

    def forward(self, x):
        if not self.training:
            return x
        seed = self.counter[0]
        self.counter[0] += 1
        if self.learner is not None:
            return self.learner(x, self.p, seed, True)
        return ops.dropout(x, self.p, True, generator=FloorDraws(seed))

    def extra_repr(self):
        return f"p={self.p}" + (", yours" if self.learner is not None else "")


def build_net(input_size: int, seed: int, modules: dict, counter: list) -> nn.Sequential:
    """d2l's AlexNet from ``seed``; its layers run the learner's ops where ``modules`` has them."""
    manual_seed(seed)
    net = models.alexnet(num_classes=10, in_channels=1, input_size=input_size)
    dropout = learner_ops.learner_dropout(modules["dropout"]) if "dropout" in modules else None
    for name, layer in list(net.named_children()):
        if isinstance(layer, nn.Dropout):
            setattr(net, name, SeededDropout(layer.p, counter, dropout))
    learner_ops.swap_layers(net, modules)
    return net


def _optimizer(net, modules):
    if "sgd_step" in modules:
        return learner_ops.LearnerSGD(net.parameters(), modules["sgd_step"].sgd_step, **_sgd())
    from ...optim import SGD
    return SGD(net.parameters(), **_sgd())


def _sgd():
    return {k: RECIPE[k] for k in ("lr", "momentum", "weight_decay")}


def _backward(loss, modules):
    if "autograd" in modules:
        modules["autograd"].backward(loss._graph_entry(), np.ones(loss.shape, dtype=loss.dtype))
    else:
        loss.backward()


def train_run(modules: dict, budget: Budget, input_size: int, seed: int, train_set, test_set, log=None) -> dict:
    """One run: ``steps`` (the loss of every batch), ``epochs`` (train loss, train and test accuracy, seconds)."""
    counter = [1_000_000 * seed]
    net = build_net(input_size, seed, modules, counter)
    optimizer = _optimizer(net, modules)
    loss_fn = learner_ops.learner_cross_entropy(modules["cross_entropy"]) if "cross_entropy" in modules \
        else ops.cross_entropy
    train_iter = DataLoader(train_set, RECIPE["batch_size"], shuffle=True, resize=input_size, seed=seed,
                            limit=budget.train_images)
    test_iter = DataLoader(test_set, 250, shuffle=False, resize=input_size, limit=budget.test_images)
    steps, grad_norms, epochs, started = [], [], [], time.perf_counter()
    named = list(net.named_parameters())
    for epoch in range(budget.epochs):
        net.train()
        t, loss_sum, hits = time.perf_counter(), 0.0, 0
        for x, y in train_iter.batches(epoch):
            labels = np.asarray(as_array(y))
            logits = net(x)
            loss = loss_fn(logits, labels)
            value = float(loss.item())
            if not math.isfinite(value):
                steps.append(value)
                epochs.append(_epoch(epoch, loss_sum, hits, budget, math.nan, t))
                return {"steps": steps, "grad_norms": grad_norms, "names": [n for n, _ in named], "epochs": epochs,
                        "seconds": time.perf_counter() - started, "diverged": True}
            optimizer.zero_grad()
            _backward(loss, modules)
            grad_norms.append([_norm(p.grad) for _, p in named])
            optimizer.step()
            steps.append(value)
            loss_sum += value * len(labels)
            hits += int((np.asarray(logits.data).argmax(axis=1) == labels).sum())
        record = _epoch(epoch, loss_sum, hits, budget, _test_accuracy(net, test_iter), t)
        epochs.append(record)
        if log:
            log(f"  epoch {record['epoch']}/{budget.epochs}: loss {record['loss']:.4f}, train acc "
                f"{record['train_acc']:.4f}, test acc {record['test_acc']:.4f}, {record['seconds']:.0f} s")
    return {"steps": steps, "grad_norms": grad_norms, "names": [n for n, _ in named], "epochs": epochs,
            "seconds": time.perf_counter() - started, "diverged": False}


def _norm(grad) -> float:
    return math.nan if grad is None else float(np.linalg.norm(np.asarray(as_array(grad), dtype=np.float64)))


def _epoch(epoch, loss_sum, hits, budget, test_acc, t) -> dict:
    return {"epoch": epoch + 1, "loss": loss_sum / budget.train_images, "train_acc": hits / budget.train_images,
            "test_acc": test_acc, "seconds": time.perf_counter() - t}


def _test_accuracy(net, loader) -> float:
    net.eval()
    hits = 0
    with no_grad():
        for x, y in loader.batches(0):
            hits += int((np.asarray(net(x).data).argmax(axis=1) == np.asarray(as_array(y))).sum())
    return hits / loader.size


# --- the two runs and how far apart they are ------------------------------------------------------------------

DIVERGENCE_RTOL = 1e-3
"""A batch loss further than this from minialex's (relative) is a different curve."""
GRADIENT_RTOL = 1e-2
"""A parameter's gradient norm further than this from minialex's (relative), at the same step, is a wrong backward.

Why two measures: at initialisation AlexNet's loss hardly depends on its convolutions (it is ~ln 10 whatever they
do), so a wrong conv backward moves the loss by only ~1e-5 in the first steps -- while the gradient norm of the
layers before it is off by tens of percent from step 1 (56 % to 99 % for ``] = dcol`` in conv2d's col2im).
Correct ops whose float32 sums run in another order than minialex's drift apart as training amplifies the last
bits: measured at 65 px, a max-pool backward adding in another order moved a gradient norm by 8e-8 at step 1 and
by 15 % at step 25 (docs/exercises.md). The tolerances are for such learners: loose enough for some steps of
drift, tight enough that a wrong backward is caught at its first step."""


EARLY_STEPS = 3
ROUNDING = 1e-5
"""A wrong backward is off by far more than this in the first EARLY_STEPS steps; float32 rounding is not."""


def _relative(got, ref):
    rel = np.abs(got - ref) / np.maximum(np.abs(ref), 1e-12)
    return np.where(np.isfinite(rel) | (np.isnan(got) & np.isnan(ref)), np.nan_to_num(rel), np.inf)


def divergence(reference, yours, rtol: float = DIVERGENCE_RTOL, grad_rtol: float = GRADIENT_RTOL) -> dict:
    """How far two runs are apart: the largest relative difference of their batch losses and of their gradient
    norms (per parameter, per step), and the first step where either exceeds its tolerance (None: never).

    ``reference`` and ``yours``: run results (``steps``, ``grad_norms``, ``names``) or bare lists of losses."""
    losses = [r["steps"] if isinstance(r, dict) else r for r in (reference, yours)]
    n = min(len(losses[0]), len(losses[1]))
    rel = _relative(np.asarray(losses[1][:n], dtype=np.float64), np.asarray(losses[0][:n], dtype=np.float64))
    grads = [np.asarray(r.get("grad_norms", [])[:n], dtype=np.float64) if isinstance(r, dict) else np.zeros((0,))
             for r in (reference, yours)]
    m = min(len(grads[0]), len(grads[1]))
    grad_rel = _relative(grads[1][:m], grads[0][:m]) if m and grads[0].ndim == 2 else np.zeros((0, 0))
    bad = rel > rtol
    if grad_rel.size:
        bad[:grad_rel.shape[0]] |= (grad_rel > grad_rtol).any(axis=1)
    away = np.flatnonzero(bad)
    first = int(away[0]) + 1 if away.size else None
    worst = None
    if first is not None and grad_rel.size and first <= grad_rel.shape[0] and grad_rel[first - 1].max() > grad_rtol:
        worst = reference["names"][int(np.argmax(grad_rel[first - 1]))]
    early = max(float(rel[:EARLY_STEPS].max(initial=0.0)), float(grad_rel[:EARLY_STEPS].max(initial=0.0)))
    return {"max_rel": float(rel.max(initial=0.0)), "max_grad_rel": float(grad_rel.max(initial=0.0)),
            "first_step": first, "gradient": worst, "rtol": rtol, "grad_rtol": grad_rtol, "early": early}


def run(use=OPS, directory=None, budget: Budget | None = None, input_size: int = DEFAULT_INPUT, seed: int = 0,
        dataset: str = "fashion-mnist", data_dir=None, figure=None, check: bool = True, log=print) -> dict:
    """Check the ops in ``use``, train the reference and yours, draw both curves in ``figure``; the results."""
    budget = budget or Budget.parse(DEFAULT_BUDGET)
    models.check_input_size("alexnet", input_size)
    modules = require_passing(use, directory) if check else load_unchecked(use, directory)
    train_set, test_set = load_dataset(dataset, data_dir)
    for limit, data, what in ((budget.train_images, train_set, "training"), (budget.test_images, test_set, "test")):
        if limit > len(data):
            raise CapstoneError(f"--budget asks for {limit} {what} images; {dataset} has {len(data)}")
    engine = get_backend().name if not get_backend().on_gpu else "numpy"  # your ops take NumPy arrays
    results = {"use": list(use), "budget": budget, "input_size": input_size, "seed": seed, "dataset": dataset,
               "engine": engine}
    with backend(engine), conv_algorithm("im2col"):
        for key, mods, who in (("reference", {}, "minialex's ops"), ("yours", modules, f"yours ({', '.join(use)})")):
            if log:
                log(f"training AlexNet at {input_size} px on {dataset} ({budget.epochs} epochs x "
                    f"{budget.train_images} images, seed {seed}) with {who} ...")
            results[key] = train_run(mods, budget, input_size, seed, train_set, test_set, log)
    results["divergence"] = divergence(results["reference"], results["yours"])
    if figure:
        draw(results, figure)
    return results


def summary(results: dict) -> str:
    d, ref, yours = results["divergence"], results["reference"], results["yours"]
    lines = [f"{'epoch':>5}  {'test acc (minialex)':>19}  {'test acc (yours)':>16}  {'train loss (minialex)':>21}  "
             f"{'train loss (yours)':>18}"]
    for a, b in zip(ref["epochs"], yours["epochs"]):
        lines.append(f"{a['epoch']:>5}  {a['test_acc']:>19.4f}  {b['test_acc']:>16.4f}  {a['loss']:>21.5f}  "
                     f"{b['loss']:>18.5f}")
    lines.append(f"wall time: minialex {ref['seconds']:.0f} s, yours {yours['seconds']:.0f} s")
    if d["first_step"] is None:
        lines.append(f"your curve follows minialex's: over {len(ref['steps'])} steps the largest relative difference "
                     f"of a batch loss is {d['max_rel']:.1e}, of a gradient norm {d['max_grad_rel']:.1e} "
                     f"(float32 rounding; tolerances {d['rtol']:.0e} and {d['grad_rtol']:.0e}).")
    elif d["first_step"] > EARLY_STEPS and d.get("early", 1.0) <= ROUNDING:
        lines.append(f"your curve drifts from minialex's from step {d['first_step']}, but over the first "
                     f"{EARLY_STEPS} steps it agrees to {d['early']:.1e}: float32 rounding (your sums run in another "
                     f"order than minialex's) that training amplifies, not a wrong backward.")
    else:
        what = (f"the gradient norm of {d['gradient']} differs by more than {d['grad_rtol']:.0e} relative"
                if d["gradient"] else f"a batch loss differs by more than {d['rtol']:.0e} relative")
        lines.append(f"your curve leaves minialex's at step {d['first_step']} ({what}; at most "
                     f"{d['max_rel']:.1e} in a loss, {d['max_grad_rel']:.1e} in a gradient norm). If your ops "
                     f"passed their checks, look at what the checks cannot see: dtype, in-place changes, state "
                     f"kept between calls.")
    return "\n".join(lines)


def draw(results: dict, path) -> None:
    """Train loss per batch (left) and test accuracy per epoch (right): minialex's solid, yours dashed on top."""
    from ...figures import figure, save
    fig = figure(8.0, 3.2)
    left, right = fig.subplots(1, 2)
    per_epoch = len(results["reference"]["steps"]) / max(1, len(results["reference"]["epochs"]))
    for key, label, style in (("reference", "minialex", "-"), ("yours", "yours", "--")):
        r = results[key]
        x = (np.arange(len(r["steps"])) + 1) / per_epoch
        left.plot(x, r["steps"], style, label=label, linewidth=1.0)
        right.plot([e["epoch"] for e in r["epochs"]], [e["test_acc"] for e in r["epochs"]], style, marker="o",
                   markersize=3, label=label)
    left.set_ylabel("train loss (each batch)")
    right.set_ylabel("test accuracy")
    for ax in (left, right):
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.legend()
    b = results["budget"]
    fig.suptitle(f"AlexNet {results['input_size']} px on {results['dataset']}, {b.epochs} x {b.train_images} images, "
                 f"seed {results['seed']}\nyours: {', '.join(results['use'])}", fontsize=9)
    save(fig, path)
