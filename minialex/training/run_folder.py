"""The ``--out`` folder of a training run, and where the run stands.

It holds ``config.json``, ``metrics.jsonl`` (one line per epoch), ``curve.jsonl`` (the running train loss and
accuracy at every fifth of an epoch, as d2l's plot has them), ``curves.png`` (both) and ``checkpoint.npz``: model,
SGD velocity, the schedule's state, the host RNG state and the :class:`Position` (epoch, batch, that epoch's
running sums, the curve's points). The folder is checked before any work, and every file in it is written
atomically as the run goes.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..backend import get_backend, get_rng_state, set_rng_state
from ..figures import plot_curves
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
    timed: float = 0.0      # seconds of forward + backward + update
    wall: float = 0.0       # seconds of wall time spent in this epoch before the last save
    history: list = field(default_factory=list)  # one record per finished epoch
    points: list = field(default_factory=list)   # {"epoch": 1.2, "loss", "train_acc"} at each fifth of an epoch

    def finish_epoch(self, record: dict) -> None:
        """Append the epoch's record and move, in place, to the start of the next epoch."""
        self.history.append(record)
        self.epoch, self.batch, self.loss_sum, self.correct, self.count, self.timed, self.wall = \
            self.epoch + 1, 0, 0.0, 0, 0, 0.0, 0.0


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

    def restore(self, config: Config, net, optimizer, scheduler=None) -> Position:
        try:
            meta = checkpoint.restore(self.checkpoint, net, optimizer)
        except checkpoint.CheckpointError as e:
            raise TrainingError(str(e)) from None
        saved = {k: v for k, v in meta["config"].items() if k != "epochs"}
        differ = [f"{k} {v!r} (saved {saved[k]!r})" for k, v in asdict(config).items()
                  if k != "epochs" and saved.get(k, Config.__dataclass_fields__[k].default) != v]
        if differ:
            raise TrainingError(f"--resume: the saved run in {self.path} used another recipe; differing: "
                                f"{', '.join(differ)}. Only --epochs may change on resume.")
        if config.schedule_spans_run() and meta["config"]["epochs"] != config.epochs:
            raise TrainingError(f"--resume: the learning-rate schedule {config.lr_schedule!r} spans the run's "
                                f"{meta['config']['epochs']} epochs, so --epochs cannot change on resume")
        if scheduler is not None:
            scheduler.load_state_dict(meta["scheduler"])
        set_rng_state(meta["rng_state"])
        return Position(**meta["position"])

    def start(self, config: Config, pos: Position, data_dir) -> None:
        """config.json, and metrics.jsonl/curve.jsonl as of the restored position (later epochs dropped)."""
        info = {**asdict(config), "backend": get_backend().name, "data_dir": None if data_dir is None else str(data_dir)}
        self._write_text("config.json", json.dumps(info, indent=2) + "\n")
        self._write_text("metrics.jsonl", "".join(json.dumps(r) + "\n" for r in pos.history))
        self._write_text("curve.jsonl", "".join(json.dumps(p) + "\n" for p in pos.points))

    def append_metrics(self, record: dict, pos: Position, epochs: int) -> None:
        """The finished epoch's record (appended to metrics.jsonl), the curve so far, and curves.png."""
        with open(self.path / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        self._write_text("curve.jsonl", "".join(json.dumps(p) + "\n" for p in pos.points))
        history = [json.loads(line) for line in open(self.path / "metrics.jsonl")]
        plot_curves(history, self.path / "curves.png", epochs=epochs, points=pos.points)

    def save(self, net, optimizer, scheduler, pos: Position, config: Config) -> None:
        checkpoint.save(self.checkpoint, net, optimizer, config=asdict(config), position=asdict(pos),
                        scheduler=None if scheduler is None else scheduler.state_dict(),
                        rng_state=get_rng_state(), backend=get_backend().name)

    def describe_checkpoint(self) -> str:
        if not self.checkpoint.exists():
            return "No epoch had finished, so no checkpoint was written."
        return f"The last good checkpoint, {self.checkpoint}, is kept."

    def _write_text(self, name: str, text: str) -> None:
        tmp = self.path / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, self.path / name)
