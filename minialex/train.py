"""Training: d2l's ``train_ch6`` loop (Xavier init, SGD, cross-entropy), with checkpoints, resume and a record.

    config = Config.preset("quick", epochs=3)       # a recipe: d2l's, or a faster one for a CPU
    history = fit(config, "runs/quick")             # one dict per epoch, also in runs/quick/metrics.jsonl

Each epoch trains on the shuffled train set (running loss and accuracy), then measures test accuracy in eval
mode without gradients. ``examples_per_sec`` counts only the time of forward + backward + update (and reading
the loss back), as d2l's timer does, so the numbers compare with d2l's; ``seconds`` is the epoch's wall time.

The run folder holds ``config.json``, ``metrics.jsonl`` (one line per epoch), ``curves.png`` and
``checkpoint.npz``: model, SGD velocity, the host RNG state and the loader position. The loader's order is a
function of (seed, epoch) and dropout draws from the host RNG on CPU engines, so resuming from a checkpoint
continues exactly where an uninterrupted run would be. Ctrl-C stops after the batch in progress and saves a
checkpoint at that batch (with the epoch's running sums), so nothing done is lost and resuming is exact.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from . import checkpoint, models, ops
from .backend import get_backend, get_rng_state, manual_seed, set_rng_state
from .data import DataLoader, load_dataset
from .optim import SGD
from .tensor import Tensor, no_grad

# Recipes. "d2l" is chapter 8.1's; "quick" trades pixels and epochs for momentum so a 2-core CPU finishes in
# about 15 minutes (measured in docs/training.md).
PRESETS = {
    "d2l": dict(model="alexnet", resize=224, epochs=10, batch_size=128, lr=0.01, momentum=0.0, weight_decay=0.0),
    "quick": dict(model="alexnet", resize=72, epochs=2, batch_size=64, lr=0.02, momentum=0.9, weight_decay=0.0),
}
MODELS = ("alexnet", "lenet")


class TrainingError(RuntimeError):
    """A run that cannot start or cannot go on; the message says why and what to do."""


class Diverged(TrainingError):
    pass


class Interrupted(TrainingError):
    pass


@dataclass
class Config:
    """One training recipe: everything that decides the numbers a run produces."""

    preset: str = "d2l"
    model: str = "alexnet"
    dataset: str = "fashion-mnist"
    resize: int | None = 224
    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.01
    momentum: float = 0.0
    weight_decay: float = 0.0
    seed: int = 0
    train_limit: int | None = None   # use the first N training examples
    test_limit: int | None = None    # use the first N test examples

    @classmethod
    def preset(cls, name: str = "d2l", **overrides) -> "Config":
        """The preset's recipe with ``overrides`` (None values are ignored) on top."""
        if name not in PRESETS:
            raise TrainingError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TrainingError(f"unknown config fields: {', '.join(unknown)}")
        values = {**PRESETS[name], **{k: v for k, v in overrides.items() if v is not None}}
        if values["model"] == "lenet" and overrides.get("resize") is None:
            values["resize"] = None  # LeNet's own 28 px, not the preset's AlexNet size
        return cls(preset=name, **values).validate()

    def validate(self) -> "Config":
        """Raise TrainingError on the first value that cannot work, before any data is touched."""
        def fail(msg):
            raise TrainingError(f"bad config: {msg}")
        if self.model not in MODELS:
            fail(f"model must be one of {', '.join(MODELS)}, got {self.model!r}")
        for name in ("epochs", "batch_size"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                fail(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("train_limit", "test_limit"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and value >= 1):
                fail(f"{name} must be a positive integer, got {value!r}")
        for name in ("lr", "momentum", "weight_decay"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                fail(f"{name} must be a finite number >= 0, got {getattr(self, name)!r}")
        if self.lr == 0:
            fail("lr must be > 0")
        if self.model == "alexnet" and (self.resize or 28) < models.MIN_ALEXNET_INPUT:
            fail(f"AlexNet needs images of at least {models.MIN_ALEXNET_INPUT} px (its third max-pool has no window "
                 f"left below that); got resize {self.resize}. Use --resize {models.MIN_ALEXNET_INPUT} or more, "
                 "or --model lenet for 28 px.")
        if self.model == "lenet" and self.resize not in (None, 28):
            fail(f"LeNet takes 28 px images; got resize {self.resize} (use --resize 28)")
        return self


@dataclass
class Position:
    """Where a run stands: the epoch in progress, the next batch, and that epoch's running sums so far."""

    epoch: int = 0
    batch: int = 0
    loss_sum: float = 0.0   # sum over examples of the loss
    correct: int = 0
    count: int = 0
    timed: float = 0.0      # seconds of forward + backward + update
    wall: float = 0.0       # seconds of wall time spent in this epoch before the last save
    history: list = field(default_factory=list)  # one record per finished epoch

    def next_epoch(self) -> "Position":
        return Position(epoch=self.epoch + 1, history=self.history)


def build_model(config: Config, num_classes: int, in_channels: int = 1):
    if config.model == "lenet":
        return models.lenet(num_classes, in_channels)
    return models.alexnet(num_classes, in_channels, config.resize or 28)


def fit(config: Config, out_dir, *, data_dir=None, resume: bool = False, progress: bool = True, log=print) -> list:
    """Train ``config`` and record it in ``out_dir``; returns the per-epoch records (``metrics.jsonl``'s lines).

    ``resume=True`` continues the run saved in ``out_dir`` (its config must equal ``config``, except ``epochs``,
    which may grow). Raises :class:`TrainingError` (bad setup), :class:`Diverged` (loss NaN/inf; the last good
    checkpoint is kept) or :class:`Interrupted` (Ctrl-C; a checkpoint was saved at the batch reached).
    """
    started = time.perf_counter()
    config.validate()
    run = RunFolder(out_dir, resume)
    train_set, test_set = load_dataset(config.dataset, data_dir)
    train_iter, test_iter = make_loaders(config, train_set, test_set)
    manual_seed(config.seed)
    net = build_model(config, len(train_set.classes))
    optimizer = SGD(net.parameters(), config.lr, config.momentum, config.weight_decay)
    pos = run.restore(config, net, optimizer) if resume else Position()
    run.start(config, pos.history, data_dir)
    log(f"training {config.model} on {config.dataset} ({train_iter.size} train / {test_iter.size} test images, "
        f"{config.resize or 28} px), backend {get_backend().name}, {config.epochs} epochs -> {run.path}")
    with stop_on_sigint() as stop_requested:
        while pos.epoch < config.epochs:
            epoch_started = time.perf_counter()
            finished = train_epoch(net, optimizer, train_iter, pos, stop_requested, run, progress)
            test_acc = evaluate_accuracy(net, test_iter, stop_requested) if finished else None
            if test_acc is None:  # Ctrl-C: keep what this epoch has done so far, at the batch reached
                pos.wall += time.perf_counter() - epoch_started
                run.save(net, optimizer, pos, config)
                raise Interrupted(f"interrupted in epoch {pos.epoch + 1} at batch {pos.batch} of {len(train_iter)}; "
                                  f"saved {run.checkpoint}. Resume with: minialex train --out {run.path} --resume")
            record = epoch_record(pos, test_acc, pos.wall + time.perf_counter() - epoch_started)
            pos.history.append(record)
            pos = pos.next_epoch()
            run.save(net, optimizer, pos, config)
            run.append_metrics(record, config.epochs)
            log(f"epoch {record['epoch']}/{config.epochs}: loss {record['loss']:.3f}, train acc "
                f"{record['train_acc']:.3f}, test acc {test_acc:.3f}, {record['examples_per_sec']:.1f} examples/sec, "
                f"{record['seconds']:.0f} s")
    last = pos.history[-1]
    log(f"done: loss {last['loss']:.3f}, train acc {last['train_acc']:.3f}, test acc {last['test_acc']:.3f}, "
        f"{sum(r['seconds'] for r in pos.history) / len(pos.history):.0f} s/epoch; "
        f"{time.perf_counter() - started:.0f} s wall in this process on {get_backend().name}; results in {run.path}")
    return pos.history


def make_loaders(config: Config, train_set, test_set) -> tuple[DataLoader, DataLoader]:
    for name, limit, data in (("train", config.train_limit, train_set), ("test", config.test_limit, test_set)):
        if limit is not None and limit > len(data):
            raise TrainingError(f"--{name}-limit {limit} is more than the {len(data)} {name} examples of "
                                f"{config.dataset}")
    return (DataLoader(train_set, config.batch_size, shuffle=True, resize=config.resize, seed=config.seed,
                       limit=config.train_limit),
            DataLoader(test_set, config.batch_size, shuffle=False, resize=config.resize, limit=config.test_limit))


def train_epoch(net, optimizer, loader, pos: Position, stop_requested, run, progress: bool) -> bool:
    """Train on epoch ``pos.epoch`` from batch ``pos.batch`` on, updating ``pos``; False if stopped early."""
    from tqdm.auto import tqdm
    net.train()
    with tqdm(total=loader.size, initial=pos.count, unit="img", desc=f"epoch {pos.epoch + 1}", leave=False,
              disable=not progress, mininterval=1.0) as bar:
        for x, y in loader.batches(pos.epoch, start=pos.batch):
            if stop_requested():
                return False
            t = time.perf_counter()
            logits = net(Tensor(x))
            loss = ops.cross_entropy(logits, y)
            loss_value = loss.item()  # also waits for the GPU, so the timer sees the work done
            if not math.isfinite(loss_value):
                raise Diverged(f"the loss became {loss_value} in epoch {pos.epoch + 1}, batch {pos.batch + 1}: "
                               f"training diverged (try a smaller --lr). {run.describe_checkpoint()}")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            correct = int((logits.data.argmax(axis=1) == y).sum())
            pos.timed += time.perf_counter() - t
            n = len(y)
            pos.loss_sum, pos.correct, pos.count, pos.batch = (pos.loss_sum + loss_value * n, pos.correct + correct,
                                                                pos.count + n, pos.batch + 1)
            bar.update(n)
            bar.set_postfix(loss=f"{pos.loss_sum / pos.count:.3f}", acc=f"{pos.correct / pos.count:.3f}",
                            img_s=f"{pos.count / pos.timed:.1f}", refresh=False)
    return not stop_requested()


def evaluate_accuracy(net, loader, stop_requested=lambda: False) -> float | None:
    """Accuracy over ``loader`` in eval mode, without building a graph (d2l's ``evaluate_accuracy_gpu``)."""
    net.eval()
    correct = count = 0
    with no_grad():
        for x, y in loader.batches(0):
            if stop_requested():
                return None
            correct += int((net(Tensor(x)).data.argmax(axis=1) == y).sum())
            count += len(y)
    return correct / count


def epoch_record(pos: Position, test_acc: float, seconds: float) -> dict:
    return {"epoch": pos.epoch + 1, "loss": pos.loss_sum / pos.count, "train_acc": pos.correct / pos.count,
            "test_acc": test_acc, "examples_per_sec": pos.count / pos.timed if pos.timed else 0.0,
            "seconds": seconds}


@contextlib.contextmanager
def stop_on_sigint():
    """The first Ctrl-C only asks to stop (checked between batches); a second one interrupts at once."""
    requested = []

    def handler(signum, frame):
        if requested:
            raise KeyboardInterrupt
        requested.append(True)
        print("\nstopping after this batch (Ctrl-C again to quit without saving) ...", flush=True)

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: leave Ctrl-C alone
        yield lambda: False
        return
    try:
        yield lambda: bool(requested)
    finally:
        signal.signal(signal.SIGINT, previous)


class RunFolder:
    """The ``--out`` folder: checked before any work, written atomically as the run goes."""

    def __init__(self, path, resume: bool):
        self.path = Path(path)
        self.checkpoint = self.path / "checkpoint.npz"
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.path):
                pass
        except OSError as e:
            raise TrainingError(f"cannot write to the output folder {self.path}: {e.strerror or e}") from None
        if resume and not self.checkpoint.is_file():
            raise TrainingError(f"--resume: there is no checkpoint in {self.path} ({self.checkpoint.name} missing)")
        if not resume and (self.checkpoint.exists() or (self.path / "metrics.jsonl").exists()):
            raise TrainingError(f"{self.path} already holds a run; continue it with --resume, or choose another --out")

    def restore(self, config: Config, net, optimizer) -> Position:
        try:
            meta = checkpoint.restore(self.checkpoint, net, optimizer)
        except checkpoint.CheckpointError as e:
            raise TrainingError(str(e)) from None
        saved = {k: v for k, v in meta["config"].items() if k != "epochs"}
        differ = [f"{k} {v!r} (saved {saved[k]!r})" for k, v in asdict(config).items() if k in saved and saved[k] != v]
        if differ:
            raise TrainingError(f"--resume: the saved run in {self.path} used another recipe; differing: "
                                f"{', '.join(differ)}. Only --epochs may change on resume.")
        set_rng_state(meta["rng_state"])
        return Position(**meta["position"])

    def start(self, config: Config, history: list, data_dir) -> None:
        """config.json, and metrics.jsonl/curves.png as of the restored history (later epochs dropped)."""
        info = {**asdict(config), "backend": get_backend().name, "data_dir": None if data_dir is None else str(data_dir)}
        self._write_text("config.json", json.dumps(info, indent=2) + "\n")
        self._write_text("metrics.jsonl", "".join(json.dumps(r) + "\n" for r in history))

    def append_metrics(self, record: dict, epochs: int) -> None:
        with open(self.path / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        from .plots import plot_curves
        history = [json.loads(line) for line in open(self.path / "metrics.jsonl")]
        plot_curves(history, self.path / "curves.png", epochs=epochs)

    def save(self, net, optimizer, pos: Position, config: Config) -> None:
        checkpoint.save(self.checkpoint, net, optimizer, config=asdict(config), position=asdict(pos),
                        rng_state=get_rng_state(), backend=get_backend().name)

    def describe_checkpoint(self) -> str:
        if not self.checkpoint.exists():
            return "No epoch had finished, so no checkpoint was written."
        return f"The last good checkpoint, {self.checkpoint}, is kept."

    def _write_text(self, name: str, text: str) -> None:
        tmp = self.path / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, self.path / name)


# --- the ``minialex train`` command ---------------------------------------------------------------------------

RECIPE_FLAGS = ("model", "dataset", "resize", "epochs", "batch_size", "lr", "momentum", "weight_decay", "seed",
                "train_limit", "test_limit")


def add_parser(subparsers) -> None:
    from .cli import add_backend_argument
    p = subparsers.add_parser(
        "train", help="train AlexNet on Fashion-MNIST (d2l's train_ch6), with checkpoints and curves",
        description="Train with a preset recipe; any flag given overrides the preset. Presets: "
                    + "; ".join(f"{n}: " + ", ".join(f"{k}={v}" for k, v in p.items()) for n, p in PRESETS.items()))
    p.add_argument("--preset", choices=list(PRESETS), default=None, help="recipe to start from (default d2l)")
    p.add_argument("--model", choices=MODELS, default=None, help="alexnet (default) or lenet (28 px)")
    p.add_argument("--dataset", choices=["fashion-mnist", "synthetic"], default=None)
    p.add_argument("--data-dir", default=None, help="folder holding the Fashion-MNIST files")
    p.add_argument("--resize", type=_positive(int), default=None, help="image side in pixels (d2l: 224)")
    p.add_argument("--epochs", type=_positive(int), default=None)
    p.add_argument("--batch-size", type=_positive(int), default=None)
    p.add_argument("--lr", type=_non_negative, default=None, help="learning rate")
    p.add_argument("--momentum", type=_non_negative, default=None)
    p.add_argument("--weight-decay", type=_non_negative, default=None)
    p.add_argument("--seed", type=int, default=None, help="seeds init, dropout and shuffling (default 0)")
    p.add_argument("--train-limit", type=_positive(int), default=None, metavar="N", help="use the first N train images")
    p.add_argument("--test-limit", type=_positive(int), default=None, metavar="N", help="use the first N test images")
    p.add_argument("--out", default=None, metavar="DIR", help="run folder (default runs/PRESET-DATE-TIME)")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (epoch lines only)")
    add_backend_argument(p)
    p.set_defaults(func=_train)


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value < 1:
            raise argparse.ArgumentTypeError(f"must be a positive {kind.__name__}, got {text!r}")
        return value
    return parse


def _non_negative(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def _train(args) -> int:
    import sys
    from .data import DataError
    overrides = {k: getattr(args, k) for k in RECIPE_FLAGS}
    try:
        if args.resume:
            if args.out is None:
                raise TrainingError("--resume needs --out DIR, the folder of the run to continue")
            config = _saved_config(Path(args.out), preset=args.preset, **overrides)
        else:
            config = Config.preset(args.preset or "d2l", **overrides)
        out = args.out or os.path.join("runs", f"{config.preset}-{time.strftime('%Y%m%d-%H%M%S')}")
        fit(config, out, data_dir=args.data_dir, resume=args.resume, progress=not args.no_progress)
    except Interrupted as e:
        print(f"minialex train: {e}", file=sys.stderr)
        return 130
    except Diverged as e:
        print(f"minialex train: {e}", file=sys.stderr)
        return 1
    except (TrainingError, DataError) as e:
        print(f"minialex train: error: {e}", file=sys.stderr)
        return 2
    return 0


def _saved_config(out: Path, **overrides) -> Config:
    """The recipe recorded in ``out/config.json``, with the flags given on top (fit() refuses changes but epochs)."""
    try:
        saved = json.loads((out / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise TrainingError(f"--resume: cannot read {out / 'config.json'}: {e}") from None
    values = {f.name: saved[f.name] for f in fields(Config) if f.name in saved}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Config(**values).validate()
