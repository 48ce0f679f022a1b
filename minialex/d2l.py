"""The names d2l's chapters call, with d2l's signatures, on minialex: ``from minialex import d2l``.

    train_iter, test_iter = d2l.load_data_fashion_mnist(128, resize=224)
    device = d2l.try_gpu()                     # cuda:0 where CuPy has a device, else cpu
    d2l.evaluate_accuracy_gpu(net, test_iter)  # fraction of test images classified right
    d2l.train_ch6(net, train_iter, test_iter, num_epochs=10, lr=0.01, device=device)

and the helpers d2l's training loops are made of: :class:`Timer`, :class:`Accumulator`, :func:`accuracy`,
:class:`Animator` (the live plot: inline in a Jupyter kernel, a PNG file in a terminal). ``train_ch6`` is
:func:`minialex.training.loop.train` (the loop ``minialex train`` runs) with d2l's plot and closing lines.

minialex runs every array on one engine (:func:`minialex.use_backend`); a :class:`Device` names the engine it stands
for (``device.engine``), and d2l's ``net.to(device)`` / ``X.to(device)`` switch to it or are no-ops
(:mod:`minialex.devices`). Loaders yield ``(X, y)`` Tensors, and ``train_ch6`` / ``evaluate_accuracy_gpu`` take any
iterable of such batches with ``len()`` (a list of batches, a slice of a loader), as d2l's do.
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

import numpy as np

from .backend import cuda_device_count, get_backend
from .errors import InputError
from .data import as_array, load_data
from .devices import Device
from .models import xavier_init
from .nn import Module
from .optim import SGD
from .tensor import Tensor, as_tensor, no_grad
from .training.loop import train

__all__ = ["Device", "try_gpu", "try_all_gpus", "load_data_fashion_mnist", "Timer", "Accumulator", "accuracy",
           "evaluate_accuracy_gpu", "Animator", "train_ch6"]


# --- devices ---------------------------------------------------------------------------------------------------

def try_gpu(i: int = 0) -> Device:
    """GPU ``i`` (``cuda:i``) if CuPy can use that many devices here, else the CPU -- as d2l's ``try_gpu``."""
    return Device("cuda", i) if cuda_device_count() >= i + 1 else Device("cpu")


def try_all_gpus() -> list[Device]:
    """Every GPU CuPy can use, or ``[cpu]`` when there is none."""
    return [Device("cuda", i) for i in range(cuda_device_count())] or [Device("cpu")]


# --- data ------------------------------------------------------------------------------------------------------

def load_data_fashion_mnist(batch_size: int, resize: int | None = None, transform=None, **options):
    """(train, test) loaders of Fashion-MNIST, train shuffled: batches ``(X, y)``, X (B, 1, S, S) float32 in [0, 1].

    ``transform``, as a torchvision dataset's: the train images' augmentation (``minialex.data.augment``'s
    ``Compose([RandomCrop(28, padding=2), RandomHorizontalFlip()])``), run on each batch after the resize; the
    test images get only its parts that draw nothing. :func:`minialex.data.load_data` does the work; ``options``
    go to it (``data_dir``, ``limit``, ``seed``, ``test_transform``).
    """
    return load_data(batch_size, resize, name="fashion-mnist", transform=transform, **options)


# --- the training loop's helpers -------------------------------------------------------------------------------

class Timer:
    """Record running times: ``start()`` ... ``stop()`` appends the seconds between them to ``times``.

    The clock is ``time.perf_counter`` (d2l uses ``time.time``, which can jump when the system clock is set).
    """

    def __init__(self, clock=time.perf_counter):
        self.clock = clock
        self.times: list[float] = []
        self.start()

    def start(self) -> None:
        self.tik = self.clock()

    def stop(self) -> float:
        """Record and return the time since the last ``start()``."""
        self.times.append(self.clock() - self.tik)
        return self.times[-1]

    def avg(self) -> float:
        if not self.times:
            raise InputError("Timer.avg(): no time recorded yet; call stop() first")
        return sum(self.times) / len(self.times)

    def sum(self) -> float:
        return sum(self.times)

    def cumsum(self) -> list[float]:
        return np.array(self.times).cumsum().tolist()


class Accumulator:
    """Sums over ``n`` variables: ``add(a, b)`` adds to each; ``acc[i]`` reads one -- d2l's metric bookkeeping."""

    def __init__(self, n: int):
        if not isinstance(n, int) or n < 1:
            raise InputError(f"Accumulator needs a positive number of variables, got {n!r}")
        self.data = [0.0] * n

    def add(self, *args) -> None:
        if len(args) != len(self.data):
            raise InputError(f"Accumulator.add: expected {len(self.data)} values, got {len(args)}")
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def reset(self) -> None:
        self.data = [0.0] * len(self.data)

    def __getitem__(self, i):
        return self.data[i]

    def __len__(self) -> int:
        return len(self.data)


def _host(a) -> np.ndarray:
    return a.numpy() if isinstance(a, Tensor) else get_backend().to_numpy(a)


def accuracy(y_hat, y) -> float:
    """The number of correct predictions (a float, as d2l's): rows of logits ``y_hat`` (N, C) whose arg-max is the
    label ``y`` (N,), or predicted labels ``y_hat`` (N,) equal to ``y``. Tensors or arrays of any engine."""
    y_hat, y = _host(y_hat), _host(y)
    if y_hat.ndim > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    y_hat = y_hat.reshape(-1)
    if y_hat.shape != y.reshape(-1).shape:
        raise InputError(f"accuracy: {y_hat.shape[0]} predictions for {y.size} labels")
    return float((y_hat.astype(y.dtype) == y.reshape(-1)).sum())


def evaluate_accuracy_gpu(net, data_iter, device=None) -> float:
    """The fraction of ``data_iter``'s examples ``net`` classifies right, in eval mode and without gradients.

    As d2l's: each batch goes ``.to(device)`` first, ``device`` defaulting to where the network's parameters are
    (a no-op for the batches minialex's loaders make); ``data_iter`` is any iterable of ``(X, y)`` batches.
    """
    if isinstance(net, Module):
        net.eval()
        if device is None:
            device = next(iter(net.parameters())).device
    device = None if device is None else Device.parse(device).check_available()
    metric = Accumulator(2)  # correct predictions, examples
    with no_grad():
        for X, y in data_iter:
            X, y = as_tensor(X), as_tensor(y)
            if device is not None:
                X, y = X.to(device), y.to(device)
            metric.add(accuracy(net(X), y), y.numel())
    if metric[1] == 0:
        raise InputError("evaluate_accuracy_gpu: data_iter gave no examples")
    return metric[0] / metric[1]


# --- the live plot ---------------------------------------------------------------------------------------------

def _in_notebook() -> bool:
    """Inside a Jupyter kernel (whose shell has a ``kernel``); a kernel has IPython imported already, so this
    imports nothing."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and hasattr(shell, "kernel")


class Animator:
    """Plot data as it arrives, as d2l's ``Animator``: ``add(x, y)`` appends one point to each line and redraws.

    In a Jupyter kernel the figure is redrawn inline (and written to ``path`` only if one is given); elsewhere it
    is written to ``path`` (``animator.png`` by default) after every ``add``, so a terminal run can watch the
    file. Drawn on matplotlib's ``Figure`` directly (the Agg canvas): no pyplot, no display needed.

    ``x`` and ``y`` are a number or one value per line; a ``None`` in ``y`` (test accuracy, known once an
    epoch) adds no point to that line. The lines are in ``X`` and ``Y``.
    """

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None, xscale="linear",
                 yscale="linear", fmts=("-", "m--", "g-.", "r:"), nrows=1, ncols=1, figsize=(3.5, 2.5), path=None):
        from matplotlib.figure import Figure
        for name, value in (("nrows", nrows), ("ncols", ncols)):
            if not isinstance(value, int) or value < 1:
                raise InputError(f"Animator: {name} must be a positive int, got {value!r}")
        if not fmts:
            raise InputError("Animator: fmts must name at least one line style, such as '-'")
        self.fig = Figure(figsize=figsize)
        self.axes = list(self.fig.subplots(nrows, ncols, squeeze=False).ravel())
        self.xlabel, self.ylabel, self.legend = xlabel, ylabel, list(legend or [])
        self.xlim, self.ylim, self.xscale, self.yscale = xlim, ylim, xscale, yscale
        self.fmts = fmts
        self.inline = _in_notebook()
        self.path = Path(path) if path is not None else (None if self.inline else Path("animator.png"))
        self.X: list[list] | None = None
        self.Y: list[list] | None = None

    def add(self, x, y) -> None:
        if not hasattr(y, "__len__"):
            y = [y]
        n = len(y)
        if not hasattr(x, "__len__"):
            x = [x] * n
        if len(x) != n:
            raise InputError(f"Animator.add: {len(x)} x values for {n} y values")
        if self.Y is None:
            self.X, self.Y = [[] for _ in range(n)], [[] for _ in range(n)]
        if n != len(self.Y):
            raise InputError(f"Animator.add: {n} values, but the first add() drew {len(self.Y)} lines")
        for i, (a, b) in enumerate(zip(x, y)):
            if a is not None and b is not None:
                self.X[i].append(a)
                self.Y[i].append(b)
        self.draw()

    def draw(self) -> None:
        ax = self.axes[0]
        ax.cla()
        for xs, ys, fmt in zip(self.X or [], self.Y or [], self.fmts):
            ax.plot(xs, ys, fmt)
        ax.set_xlabel(self.xlabel)
        ax.set_ylabel(self.ylabel)
        ax.set_xscale(self.xscale)
        ax.set_yscale(self.yscale)
        ax.set_xlim(self.xlim)
        ax.set_ylim(self.ylim)
        if self.legend:
            ax.legend(self.legend)
        ax.grid()
        if self.path is not None:
            self._write(self.path)
        if self.inline:
            # clear_output(wait=True) first: the old picture goes when the new one arrives (no flicker), and the
            # last one stays, below anything printed before it and above what is printed after
            from IPython import display
            buffer = io.BytesIO()
            self.fig.savefig(buffer, format="png", bbox_inches="tight")
            display.clear_output(wait=True)
            display.display(display.Image(data=buffer.getvalue()))

    def _write(self, path: Path) -> None:
        # beside the target, then renamed: whoever watches the file never opens half a PNG
        tmp = path.with_name(f".{path.name}.tmp")
        self.fig.savefig(tmp, format="png", bbox_inches="tight")
        os.replace(tmp, path)


# --- the chapter's training function ---------------------------------------------------------------------------

def train_ch6(net, train_iter, test_iter, num_epochs: int, lr: float, device=None, *, path=None) -> list:
    """Train ``net`` as d2l's ``train_ch6``: Xavier-uniform weights for every Linear and Conv2d, SGD at ``lr``,
    cross-entropy; the running train loss and accuracy plotted every fifth of an epoch and the test accuracy
    after each, then d2l's two closing lines::

        loss 0.331, train acc 0.878, test acc 0.883
        3941.6 examples/sec on cuda:0

    ``device`` (a :class:`Device`, ``"cpu"``, ``"cuda:0"``; default :func:`try_gpu`) chooses the engine, which
    stays active afterwards (d2l's ``net.to(device)``): the network's parameters move to it, and the loaders,
    which make each batch on the active engine, follow. ``train_iter`` and ``test_iter`` are minialex
    ``DataLoader`` s (:func:`load_data_fashion_mnist`'s) or any iterables of ``(X, y)`` batches with ``len()``.
    ``path`` is where a terminal run writes the plot (default ``animator.png``). Returns one record per epoch, as
    ``minialex train``'s metrics.jsonl.
    """
    device = try_gpu() if device is None else Device.parse(device)
    net.to(device)
    xavier_init(net)
    print("training on", device)
    animator = Animator(xlabel="epoch", xlim=[1, num_epochs] if num_epochs > 1 else [0, 1],  # d2l's, unless flat
                        legend=["train loss", "train acc", "test acc"], path=path)
    history = train(net, SGD(net.parameters(), lr=lr), train_iter, test_iter, num_epochs, progress=False,
                    on_point=lambda p: animator.add(p["epoch"], (p["loss"], p["train_acc"], None)),
                    on_epoch=lambda r: animator.add(r["epoch"], (None, None, r["test_acc"])))
    last = history[-1]
    warmup = sum(r["warmup_seconds"] for r in history)
    if warmup >= 1:  # said apart, before d2l's two lines: on a fresh machine, mostly Numba compiling its kernels
        print(f"(examples/sec leaves out the first step: {warmup:.1f} s of warm-up)")
    print(f"loss {last['loss']:.3f}, train acc {last['train_acc']:.3f}, test acc {last['test_acc']:.3f}")
    # d2l's figure: every example trained on, over the time spent training on them (the sum of the epochs', each
    # at its rate without the warm-up step)
    size = getattr(train_iter, "size", None) or sum(len(as_array(y)) for _, y in train_iter)
    seconds = sum(size / r["examples_per_sec"] for r in history if r["examples_per_sec"])
    print(f"{size * len(history) / seconds:.1f} examples/sec on {device}")
    return history
