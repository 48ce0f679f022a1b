"""A training recipe: everything that decides the numbers a run produces, checked before any work is done."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

from .. import models
from ..ops.conv_algorithm import ALGORITHMS, get_conv_algorithm

# Recipes. "d2l" is chapter 8.1's; "quick" trades pixels and epochs for momentum so a 2-core CPU finishes in
# about 15 minutes (measured in docs/training.md).
PRESETS = {
    "d2l": dict(model="alexnet", resize=224, epochs=10, batch_size=128, lr=0.01, momentum=0.0, weight_decay=0.0),
    "quick": dict(model="alexnet", resize=72, epochs=2, batch_size=64, lr=0.02, momentum=0.9, weight_decay=0.0),
}


class TrainingError(RuntimeError):
    """A run that cannot start or cannot go on; the message says why and what to do."""


@dataclass
class Config:
    """One training recipe. ``resize`` None keeps Fashion-MNIST's own 28 px."""

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
    # how the convolutions run (minialex.ops.conv_algorithm); a new recipe takes the process default
    conv_algorithm: str = field(default_factory=get_conv_algorithm)

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

    @classmethod
    def saved(cls, run_dir, **overrides) -> "Config":
        """The recipe recorded in ``run_dir/config.json``, with ``overrides`` (None values ignored) on top."""
        path = Path(run_dir) / "config.json"
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise TrainingError(f"--resume: cannot read {path}: {e}") from None
        values = {f.name: saved[f.name] for f in fields(cls) if f.name in saved}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values).validate()

    @property
    def image_size(self) -> int:
        """The side of the images the model sees."""
        return self.resize or 28

    def validate(self) -> "Config":
        """Raise TrainingError on the first value that cannot work, before any data is touched."""
        def fail(msg):
            raise TrainingError(f"bad config: {msg}")
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
        if self.conv_algorithm not in ALGORITHMS:
            fail(f"conv_algorithm must be one of {', '.join(ALGORITHMS)}, got {self.conv_algorithm!r}")
        try:
            models.check_input_size(self.model, self.image_size)
        except ValueError as e:
            fail(str(e))
        return self

    def build_model(self, num_classes: int, in_channels: int = 1):
        return models.build(self.model, num_classes, in_channels, self.image_size)
