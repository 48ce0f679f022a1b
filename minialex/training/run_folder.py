"""The ``--out`` folder of a training run, and where the run stands.

It holds ``config.json``, ``metrics.jsonl`` (one line per epoch), ``curves.png`` and ``checkpoint.npz``: model,
SGD velocity, the host RNG state and the :class:`Position` (epoch, batch, that epoch's running sums). The folder
is checked before any work, and every file in it is written atomically as the run goes.
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

    def next_epoch(self) -> "Position":
        return Position(epoch=self.epoch + 1, history=self.history)


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
