"""The training loop: d2l's ``train_ch6`` (Xavier init, SGD, cross-entropy), with checkpoints, resume and a record.

    config = Config.preset("quick", epochs=3)       # a recipe: d2l's, or a faster one for a CPU
    history = fit(config, "runs/quick")             # one dict per epoch, also in runs/quick/metrics.jsonl

Two levels. :func:`train` is the loop itself, on plain arguments (a network, an optimizer, two loaders, an
optional learning-rate schedule) with hooks: ``on_point`` gets the running train loss and accuracy at every
fifth of an epoch (where d2l's ``Animator`` adds a point), ``on_batch`` the position after each batch,
``on_epoch`` each epoch's record. :func:`fit` builds those arguments from a :class:`Config` and keeps the run
folder; ``minialex.d2l.train_ch6`` draws d2l's plot.

Each epoch trains on the shuffled train set (running loss and accuracy), then measures test loss and accuracy in
eval mode without gradients. ``examples_per_sec`` counts only the time of forward + backward + update (and
reading the loss back), as d2l's timer does, so the numbers compare with d2l's, and leaves out the process's
first step (``warmup_seconds``: Numba compiles its kernels there on a fresh machine, ~30 s, which is announced
on screen); ``seconds`` is the epoch's wall time. A schedule is stepped once per batch, after the optimizer,
except ReduceLROnPlateau, stepped once per epoch with the test loss or accuracy.

The run folder (:mod:`.run_folder`) keeps the record and a checkpoint after every epoch, and inside an epoch
every ``checkpoint_every`` (10 minutes by default, or N batches): a kill (SIGKILL, OOM, power cut) loses at most
that much, and a run killed before its first checkpoint resumes from the start. The loader's order is a function
of (seed, epoch), dropout draws from the host RNG (on a GPU from a generator derived from it), and a checkpoint
keeps the RNG state, the schedule's state and the epoch's running sums and curve points, so resuming continues
exactly where an uninterrupted run would be: same parameters bit for bit, same metrics.jsonl (but the timings).
Ctrl-C stops after the batch in progress and saves a checkpoint at that batch.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import time

from .. import ops
from ..backend import get_backend, manual_seed
from ..data import DataLoader, as_array, epoch_batches, load_dataset
from ..ops.conv_algorithm import conv_algorithm
from ..optim.lr_scheduler import ReduceLROnPlateau
from ..tensor import Tensor
from .config import Config, TrainingError, parse_checkpoint_every
from .evaluate import predict
from .metrics import accuracy, correct, mean_cross_entropy
from .run_folder import Position, RunFolder

DEFAULT_CHECKPOINT_EVERY = "10m"  # inside an epoch; an epoch at 224 px on a CPU is half an hour


# tqdm's bar without its own rate: the one images/s figure shown is the timed one of the epoch line (tqdm's
# rate would count loading the data and the bar's own pauses too).
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"


class Diverged(TrainingError):
    pass


class Interrupted(TrainingError):
    pass


def fit(config: Config, out_dir, *, data_dir=None, resume: bool = False, progress: bool = True, log=print,
        on_epoch=None, checkpoint_every=DEFAULT_CHECKPOINT_EVERY) -> list:
    """Train ``config`` and record it in ``out_dir``; returns the per-epoch records (``metrics.jsonl``'s lines).

    ``resume=True`` continues the run saved in ``out_dir`` (its config must equal ``config``, except ``epochs``,
    which may grow unless the schedule spans the run); a run stopped before its first checkpoint starts again
    from the beginning. ``checkpoint_every`` ("10m", "90s", "1h", a number of batches, or "epoch") is how often a
    checkpoint is also written inside an epoch. ``on_epoch(record)`` is called after each epoch is
    recorded. Raises :class:`TrainingError` (bad setup), :class:`Diverged`
    (loss NaN/inf; the last good checkpoint is kept) or :class:`Interrupted` (Ctrl-C; a checkpoint was saved at
    the batch reached).
    """
    started = time.perf_counter()
    config.validate()
    clock = CheckpointClock(checkpoint_every)
    run = RunFolder(out_dir, resume)
    if resume:
        run.check_recipe(config)
    else:
        run.write_config(config, data_dir)  # first: from here on, a killed run can be resumed
    train_set, test_set = load_dataset(config.dataset, data_dir)
    train_iter, test_iter = make_loaders(config, train_set, test_set)
    manual_seed(config.seed)
    net = config.build_model(len(train_set.classes))
    optimizer = config.build_optimizer(net.parameters())
    try:
        scheduler = config.build_scheduler(optimizer, len(train_iter))
    except ValueError as e:  # validate() checked it on 100 batches an epoch; this run has len(train_iter)
        raise TrainingError(f"--lr-schedule {config.lr_schedule!r} with {len(train_iter)} batches an epoch: {e}") \
            from None
    if run.has_checkpoint:
        pos = run.restore(config, net, optimizer, scheduler)
    else:
        pos = Position()
        if resume:
            log(f"{run.path} has no checkpoint yet (the run stopped before its first one): starting it again "
                f"from the beginning")
    run.start(config, pos, data_dir)
    log(f"training {config.model} on {config.dataset} ({train_iter.size} train / {test_iter.size} test images, "
        f"{config.image_size} px), backend {get_backend().name}, conv algorithm "
        f"{config.conv_algorithm}, {config.epochs} epochs -> {run.path}")

    def save():
        run.save(net, optimizer, scheduler, pos, config)
        clock.reset()

    def batch_done(pos):
        if clock.due():
            save()

    def epoch_done(record):
        save()
        run.write_metrics(pos, config.epochs)
        warmup = (f" (not counting the first step's {record['warmup_seconds']:.0f} s of warm-up)"
                  if record["warmup_seconds"] >= 1 else "")
        log(f"epoch {record['epoch']}/{config.epochs}: loss {record['loss']:.3f}, train acc "
            f"{record['train_acc']:.3f}, test loss {record['test_loss']:.3f}, test acc {record['test_acc']:.3f}, "
            f"{record['examples_per_sec']:.1f} examples/sec{warmup}, {record['seconds']:.0f} s")
        if on_epoch is not None:
            on_epoch(record)

    try:
        with conv_algorithm(config.conv_algorithm):
            train(net, optimizer, train_iter, test_iter, config.epochs, pos, scheduler=scheduler,
                  schedule_metric=config.schedule_metric(), on_batch=batch_done, on_epoch=epoch_done,
                  progress=progress, log=log)
    except Diverged as e:
        raise Diverged(f"{e} {run.describe_checkpoint()}") from None
    except Interrupted as e:  # keep what this epoch has done so far, at the batch reached
        save()
        raise Interrupted(f"{e}; saved {run.checkpoint}. Resume with: minialex train --out {run.path} --resume") \
            from None
    last = pos.history[-1]
    log(f"done: loss {last['loss']:.3f}, train acc {last['train_acc']:.3f}, test acc {last['test_acc']:.3f}, "
        f"{sum(r['seconds'] for r in pos.history) / len(pos.history):.0f} s/epoch; "
        f"{time.perf_counter() - started:.0f} s wall in this process on {get_backend().name}; results in {run.path}")
    return pos.history


class CheckpointClock:
    """When a checkpoint is due inside an epoch: ``every`` ("10m", "500" batches, "epoch": never) since the last."""

    def __init__(self, every):
        try:
            self.seconds, self.batches = parse_checkpoint_every(every)
        except ValueError as e:
            raise TrainingError(str(e)) from None
        self.reset()

    def reset(self) -> None:
        self.since, self.batches_since = time.monotonic(), 0

    def due(self) -> bool:
        """Called after each batch."""
        self.batches_since += 1
        return ((self.batches is not None and self.batches_since >= self.batches)
                or (self.seconds is not None and time.monotonic() - self.since >= self.seconds))


def train(net, optimizer, train_iter: DataLoader, test_iter: DataLoader, epochs: int, pos: Position | None = None,
          *, scheduler=None, schedule_metric: str | None = None, on_point=None, on_batch=None, on_epoch=None,
          progress: bool = True, log=print) -> list:
    """Train ``net`` from ``pos`` (default: the start) to the end of epoch ``epochs``; returns ``pos.history``.

    ``train_iter`` and ``test_iter`` are DataLoaders (resumable mid-epoch) or any iterables of ``(x, y)`` batches
    with ``len()``, Tensors or arrays -- a list of batches, as d2l's ``train_ch6`` takes.

    ``pos`` is updated in place as the run goes, so after an exception it says where the run stopped.
    ``on_point(point)`` is called with each curve point as it is added to ``pos.points``, ``on_batch(pos)`` after
    each batch, ``on_epoch(record)`` with each epoch's record once it is in ``pos.history``. A
    ReduceLROnPlateau ``scheduler`` is stepped after each test pass with the record's ``schedule_metric``
    ("test_loss", the default, or "test_acc"), any other after each batch. Raises :class:`Diverged` (loss NaN/inf)
    or :class:`Interrupted` (Ctrl-C, after the batch in progress).
    """
    pos = Position() if pos is None else pos
    per_epoch = isinstance(scheduler, ReduceLROnPlateau)
    first_step = FirstStep(log if not progress else None)
    with stop_on_sigint() as stop_requested:
        while pos.epoch < epochs:
            finished = train_epoch(net, optimizer, None if per_epoch else scheduler, train_iter, pos, stop_requested,
                                   progress, on_point, on_batch, first_step)
            tested = time.perf_counter()
            scores = predict(net, test_iter, stop_requested) if finished else None
            if scores is None:
                raise Interrupted(f"interrupted in epoch {pos.epoch + 1} at batch {pos.batch} of {len(train_iter)}")
            pos.wall += time.perf_counter() - tested
            record = epoch_record(pos, *scores)
            if per_epoch:
                scheduler.step(record[schedule_metric or "test_loss"])
            pos.finish_epoch(record)
            if on_epoch is not None:
                on_epoch(record)
    return pos.history


def make_loaders(config: Config, train_set, test_set) -> tuple[DataLoader, DataLoader]:
    for name, limit, data in (("train", config.train_limit, train_set), ("test", config.test_limit, test_set)):
        if limit is not None and limit > len(data):
            raise TrainingError(f"--{name}-limit {limit} is more than the {len(data)} {name} examples of "
                                f"{config.dataset}")
    return (DataLoader(train_set, config.batch_size, shuffle=True, resize=config.resize, seed=config.seed,
                       limit=config.train_limit, transform=config.train_transform()),
            DataLoader(test_set, config.batch_size, shuffle=False, resize=config.resize, limit=config.test_limit,
                       transform=config.test_transform()))


def is_curve_point(batch: int, num_batches: int) -> bool:
    """d2l's rule: a point after every fifth of the epoch's batches (``batch`` counts from 1), and after the last."""
    return batch % max(1, num_batches // 5) == 0 or batch == num_batches


def train_epoch(net, optimizer, scheduler, loader, pos: Position, stop_requested, progress: bool, on_point,
                on_batch=None, first_step=None) -> bool:
    """Train on epoch ``pos.epoch`` from batch ``pos.batch`` on, updating ``pos``; False if stopped early."""
    from tqdm.auto import tqdm
    first_step = FirstStep() if first_step is None else first_step
    net.train()
    mark = time.perf_counter()
    with tqdm(total=getattr(loader, "size", None), initial=pos.count, unit="img", desc=f"epoch {pos.epoch + 1}", leave=False,
              disable=not progress, mininterval=1.0, bar_format=BAR_FORMAT) as bar:
        for x, y in epoch_batches(loader, pos.epoch, start=pos.batch):
            if stop_requested():
                return False
            with first_step.watch():
                t = time.perf_counter()
                y = as_array(y)
                logits = net(Tensor(x))
                loss = ops.cross_entropy(logits, y)
                loss_value = loss.item()  # also waits for the GPU, so the timer sees the work done
                if not math.isfinite(loss_value):
                    raise Diverged(f"the loss became {loss_value} in epoch {pos.epoch + 1}, batch {pos.batch + 1}: "
                                   f"training diverged (try a smaller --lr).")
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                hits = correct(logits.data, y)
                seconds = time.perf_counter() - t
            n = len(y)
            if first_step.done():
                pos.warmup += seconds
            else:
                pos.timed, pos.timed_count = pos.timed + seconds, pos.timed_count + n
            pos.loss_sum, pos.correct, pos.count, pos.batch = (pos.loss_sum + loss_value * n, pos.correct + hits,
                                                                pos.count + n, pos.batch + 1)
            if is_curve_point(pos.batch, len(loader)):
                point = {"epoch": pos.epoch + pos.batch / len(loader), "loss": pos.loss_sum / pos.count,
                         "train_acc": pos.correct / pos.count}
                pos.points.append(point)
                if on_point is not None:
                    on_point(point)
            now = time.perf_counter()
            pos.wall, mark = pos.wall + now - mark, now
            if on_batch is not None:
                on_batch(pos)
            bar.update(n)
            if pos.timed:
                bar.set_postfix(loss=f"{pos.loss_sum / pos.count:.3f}", acc=f"{pos.correct / pos.count:.3f}",
                                **{"img/s": f"{pos.timed_count / pos.timed:.1f}"}, refresh=False)
    return not stop_requested()


class FirstStep:
    """The first training step of a process, kept out of examples/sec: on a fresh machine Numba compiles its
    kernels there (~30 s, then cached on disk), and caches and the allocator warm up. A compile is said on
    screen as it starts (``write``: default tqdm's, which keeps a progress bar intact)."""

    NOTICE = "compiling Numba kernels (first run only; they are cached for the next ones) ..."

    def __init__(self, write=None):
        self.pending, self.write = True, write

    def done(self) -> bool:
        """Called after each step: True for the first (whose time is then the warm-up)."""
        first, self.pending = self.pending, False
        return first

    def watch(self):
        """Around a step: during the first, announce a Numba compile (only if Numba is in use: already imported)."""
        numba = sys.modules.get("numba")
        if not self.pending or numba is None:
            return contextlib.nullcontext()
        from numba.core import event
        write = self.write
        if write is None:
            from tqdm.auto import tqdm
            write = tqdm.write

        class Announce(event.Listener):
            said = False

            def on_start(self, ev):
                if not self.said:
                    self.said = True
                    write(FirstStep.NOTICE)

            def on_end(self, ev):
                pass

        return event.install_listener("numba:compile", Announce())


def epoch_record(pos: Position, test_logits, test_labels) -> dict:
    # without a timed step (an epoch of one batch, the warm-up): that step's rate, rather than none
    timed, count = (pos.timed, pos.timed_count) if pos.timed_count else (pos.warmup, pos.count)
    return {"epoch": pos.epoch + 1, "loss": pos.loss_sum / pos.count, "train_acc": pos.correct / pos.count,
            "test_loss": mean_cross_entropy(test_logits, test_labels), "test_acc": accuracy(test_logits, test_labels),
            "examples_per_sec": count / timed if timed else 0.0, "warmup_seconds": pos.warmup, "seconds": pos.wall}


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
