"""The ``--out`` folder of a training run, and where the run stands.

It holds ``config.json`` (written first, so a run killed at any moment can be resumed), ``metrics.jsonl`` (one
line per epoch), ``provenance.jsonl`` (one :func:`minialex.provenance.machine_record` per process that worked on
the run -- a resumed run may continue on another machine -- its load average after and epochs done updated after
each epoch), ``curve.jsonl`` (the running train loss and accuracy at every fifth of an epoch, as d2l's plot
has them), ``curves.png`` (both) and ``checkpoint.npz``, the one source of truth for where the run stands: model,
SGD velocity, and a meta dict with named fields -- ``config``, ``position`` (the :class:`Position`: epoch, next
batch, that epoch's running sums, the curve's points, the records so far), ``scheduler`` (its state),
``rng_state`` (the host RNG's, from which dropout derives on every engine) and ``backend``. The loader's order
needs no state: it is a function of (seed, epoch). On resume the other files are rewritten from the checkpoint,
so a kill between writing it and them loses nothing. Every file is replaced atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..backend import get_backend, get_rng_state, set_rng_state
from ..figures import plot_curves
from ..provenance import finish_record, machine_record
from . import checkpoint
from .config import Config, TrainingError


@dataclass
class Position:
    """Where a run stands: the epoch in progress, the next batch, and that epoch's running sums so far."""

    epoch: int = 0
    batch: int = 0
    loss_sum: float = 0.0   # sum over examples of the loss
    correct: int = 0
    count: int = 0
    timed: float = 0.0      # seconds of forward + backward + update, the process's first step left out
    timed_count: int = 0    # the examples of those timed steps
    warmup: float = 0.0     # seconds of the process's first step, if it was in this epoch
    wall: float = 0.0       # seconds of wall time spent in this epoch so far
    history: list = field(default_factory=list)  # one record per finished epoch
    points: list = field(default_factory=list)   # {"epoch": 1.2, "loss", "train_acc"} at each fifth of an epoch

    def finish_epoch(self, record: dict) -> None:
        """Append the epoch's record and move, in place, to the start of the next epoch."""
        self.history.append(record)
        self.epoch, self.batch, self.loss_sum, self.correct, self.count = self.epoch + 1, 0, 0.0, 0, 0
        self.timed, self.timed_count, self.warmup, self.wall = 0.0, 0, 0.0, 0.0

    @classmethod
    def from_dict(cls, saved: dict) -> "Position":
        """A checkpoint's position; one written before ``timed_count`` existed timed every example."""
        known = {f.name for f in fields(cls)}
        pos = cls(**{k: v for k, v in saved.items() if k in known})
        if "timed_count" not in saved:
            pos.timed_count = pos.count
        return pos


class RunFolder:
    """The ``--out`` folder: checked before any work, written atomically as the run goes."""

    def __init__(self, path, resume: bool):
        self.path = Path(path)
        self.checkpoint = self.path / "checkpoint.npz"
        self.sessions: list[dict] = []  # provenance.jsonl, from start()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.path):
                pass
            checkpoint.remove_partial_writes(self.path)  # what a kill during a write left
        except OSError as e:
            raise TrainingError(f"cannot write to the output folder {self.path}: {e.strerror or e}") from None
        self.has_checkpoint = self.checkpoint.is_file()
        started = (self.path / "config.json").is_file()
        if resume and not (self.has_checkpoint or started):
            raise TrainingError(f"--resume: {self.path} holds no run to continue (no config.json, no "
                                f"{self.checkpoint.name}); start one without --resume")
        if resume and not self.has_checkpoint and self._finished_epochs():
            raise TrainingError(f"--resume: {self.path} records {self._finished_epochs()} finished epochs in "
                                f"metrics.jsonl but has no {self.checkpoint.name} to continue from (was it "
                                f"removed?); choose another --out for a new run")
        if not resume and self.has_checkpoint:
            raise TrainingError(f"{self.path} already holds a run; continue it with --resume, or choose another --out")
        if not resume and (started or (self.path / "metrics.jsonl").exists()):
            raise TrainingError(f"{self.path} holds a run that stopped before its first checkpoint; continue it with "
                                f"--resume (it starts again from the beginning), or choose another --out")

    def _finished_epochs(self) -> int:
        try:
            return sum(1 for line in open(self.path / "metrics.jsonl") if line.strip())
        except OSError:
            return 0

    def check_recipe(self, config: Config) -> None:
        """On resume, before any work: ``config`` must be the recipe in config.json, but for ``epochs``."""
        try:
            saved = json.loads((self.path / "config.json").read_text())
        except FileNotFoundError:
            return  # a checkpoint without config.json: restore() compares with the checkpoint's config
        except (OSError, ValueError) as e:
            raise TrainingError(f"--resume: cannot read {self.path / 'config.json'}: {e}") from None
        self._compare(config, saved)

    def _compare(self, config: Config, saved: dict) -> None:
        differ = [f"{k} {v!r} (saved {saved.get(k, Config.__dataclass_fields__[k].default)!r})"
                  for k, v in asdict(config).items()
                  if k != "epochs" and saved.get(k, Config.__dataclass_fields__[k].default) != v]
        if differ:
            raise TrainingError(f"--resume: the saved run in {self.path} used another recipe; differing: "
                                f"{', '.join(differ)}. Only --epochs may change on resume.")

    def restore(self, config: Config, net, optimizer, scheduler=None) -> Position:
        try:
            meta = checkpoint.restore(self.checkpoint, net, optimizer)
        except checkpoint.CheckpointError as e:
            raise TrainingError(str(e)) from None
        self._compare(config, meta["config"])
        if config.schedule_spans_run() and meta["config"]["epochs"] != config.epochs:
            raise TrainingError(f"--resume: the learning-rate schedule {config.lr_schedule!r} spans the run's "
                                f"{meta['config']['epochs']} epochs, so --epochs cannot change on resume")
        if scheduler is not None:
            scheduler.load_state_dict(meta["scheduler"])
        set_rng_state(meta["rng_state"])
        return Position.from_dict(meta["position"])

    def write_config(self, config: Config, data_dir) -> None:
        info = {**asdict(config), "backend": get_backend().name, "data_dir": None if data_dir is None else str(data_dir)}
        self._write_text("config.json", json.dumps(info, indent=2) + "\n", durable=True)

    def start(self, config: Config, pos: Position, data_dir) -> None:
        """config.json, and metrics.jsonl/curve.jsonl as of the restored position (later epochs dropped)."""
        self.write_config(config, data_dir)
        self._write_text("metrics.jsonl", "".join(json.dumps(r) + "\n" for r in pos.history))
        self._write_text("curve.jsonl", "".join(json.dumps(p) + "\n" for p in pos.points))
        self.sessions = [*self._read_sessions(), {**machine_record(), "from_epoch": len(pos.history),
                                                  "to_epoch": len(pos.history)}]
        self._write_sessions()

    def write_metrics(self, pos: Position, epochs: int) -> None:
        """After an epoch: metrics.jsonl (every finished epoch), the curve so far, and curves.png."""
        self._write_text("metrics.jsonl", "".join(json.dumps(r) + "\n" for r in pos.history))
        self._write_text("curve.jsonl", "".join(json.dumps(p) + "\n" for p in pos.points))
        plot_curves(pos.history, self.path / "curves.png", epochs=epochs, points=pos.points)
        if self.sessions:
            finish_record(self.sessions[-1])["to_epoch"] = len(pos.history)
            self._write_sessions()

    def _read_sessions(self) -> list:
        try:
            return [json.loads(line) for line in open(self.path / "provenance.jsonl") if line.strip()]
        except (OSError, ValueError):  # none yet, or one a kill cut short: the record is not worth a failed run
            return []

    def _write_sessions(self) -> None:
        self._write_text("provenance.jsonl", "".join(json.dumps(r) + "\n" for r in self.sessions))

    def save(self, net, optimizer, scheduler, pos: Position, config: Config) -> None:
        checkpoint.save(self.checkpoint, net, optimizer, config=asdict(config), position=asdict(pos),
                        scheduler=None if scheduler is None else scheduler.state_dict(),
                        rng_state=get_rng_state(), backend=get_backend().name)
        self.has_checkpoint = True

    def describe_checkpoint(self) -> str:
        if not self.checkpoint.exists():
            return "No checkpoint had been written yet."
        return f"The last good checkpoint, {self.checkpoint}, is kept."

    def _write_text(self, name: str, text: str, durable: bool = False) -> None:
        """Atomically (a temporary file, then a rename); ``durable``: on disk before the rename (fsync)."""
        tmp = self.path / f".{name}.tmp"
        with open(tmp, "w") as f:
            f.write(text)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, self.path / name)
