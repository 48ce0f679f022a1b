"""A training recipe: everything that decides the numbers a run produces, checked before any work is done."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from .. import models
from ..errors import ConfigError, InputError, MinialexError
from ..data import augment
from ..ops.conv_algorithm import ALGORITHMS, get_conv_algorithm
from ..optim import SGD, lr_scheduler

# Recipes. "d2l" is chapter 8.1's; "quick" reaches d2l's 224 px test accuracy (0.883) on a 2-core CPU in under
# 15 minutes: 72 px, Nesterov momentum, weight decay and one 1cycle schedule over 4 epochs, peaking at lr.
PRESETS = {
    "d2l": dict(model="alexnet", resize=224, epochs=10, batch_size=128, lr=0.01, momentum=0.0, weight_decay=0.0),
    "quick": dict(model="alexnet", resize=72, epochs=4, batch_size=128, lr=0.05, momentum=0.9, nesterov=True,
                  weight_decay=5e-4, lr_schedule="onecycle:pct_start=0.25"),
}

# --lr-schedule NAME[:key=value,...]: each schedule's options and their defaults (PyTorch's, where it has them).
# Schedules are stepped once per batch; lengths and times given in epochs (step_size, total_iters, milestones,
# warmup) are converted to batches, exponential's gamma is per epoch, and the others span the whole run.
# "onecycle" peaks at the recipe's lr (its max_lr). "plateau" is the one stepped once per epoch, after the test
# pass, with the test loss or accuracy (its ``metric``).
SCHEDULES = {
    "constant": {},
    "step": {"step_size": 1.0, "gamma": 0.1},
    "multistep": {"milestones": None, "gamma": 0.1},
    "exponential": {"gamma": 0.9},
    "cosine": {"eta_min": 0.0},
    "linear": {"start_factor": 1.0 / 3, "end_factor": 1.0, "total_iters": None},
    "warmup_cosine": {"warmup": 1.0, "start_factor": 0.1, "eta_min": 0.0},
    "onecycle": {"pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4, "anneal_strategy": "cos",
                 "cycle_momentum": True, "base_momentum": 0.85, "max_momentum": 0.95},
    "plateau": {"metric": "test_loss", "mode": None, "factor": 0.1, "patience": 10, "threshold": 1e-4,
                "threshold_mode": "rel", "cooldown": 0, "min_lr": 0.0, "eps": 1e-8},
}
# options that are not plain numbers: a choice among words, a boolean, an integer, a list of epochs ("2+4")
WORDS = {"anneal_strategy": ("cos", "linear"), "metric": ("test_loss", "test_acc"), "mode": ("min", "max"),
         "threshold_mode": ("rel", "abs")}
BOOLEANS = ("cycle_momentum",)
INTEGERS = ("patience", "cooldown")
LISTS = ("milestones",)


def parse_schedule(spec: str) -> tuple[str, dict]:
    """``"onecycle:pct_start=0.25"`` -> ``("onecycle", {every option, given or default})``; ValueError if bad."""
    name, _, rest = str(spec).partition(":")
    if name not in SCHEDULES:
        raise ConfigError(f"unknown lr schedule {name!r}; expected one of {', '.join(SCHEDULES)}")
    options = dict(SCHEDULES[name])
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if key not in options or not eq:
            known = ", ".join(options) or "none"
            raise ConfigError(f"lr schedule {name!r}: expected key=value with a key among {known}, got {item!r}")
        options[key] = _option(name, key, value)
    if name == "multistep" and options["milestones"] is None:
        raise ConfigError("lr schedule 'multistep' needs milestones, the epochs at which the lr is multiplied by "
                         "gamma, joined by '+': multistep:milestones=2+4")
    if name == "plateau" and options["mode"] is None:  # a loss should fall, an accuracy rise
        options["mode"] = "min" if options["metric"] == "test_loss" else "max"
    return name, options


# --augment NAME[:key=value,...],NAME...: the train batches' augmentation, run after the resize. Transforms are
# separated by commas; a key=value item belongs to the transform before it ("crop:padding=4,flip" is a crop with
# padding 4, then a flip). Ranges are written lo-hi ("resizedcrop:scale=0.25-1"). Each crop keeps the recipe's
# image size. The test batches get only the transforms that draw nothing (normalize).
AUGMENTS = {
    "none": {},
    "crop": {"padding": 4},                                        # RandomCrop(size, padding)
    "flip": {"p": 0.5},                                            # RandomHorizontalFlip(p)
    "resizedcrop": {"scale": (0.08, 1.0), "ratio": (3 / 4, 4 / 3)},  # RandomResizedCrop(size, scale, ratio)
    "normalize": {"mean": 0.0, "std": 1.0},                        # Normalize(mean, std)
}


def parse_augment(spec: str) -> list[tuple[str, dict]]:
    """``"crop:padding=4,flip"`` -> ``[("crop", {"padding": 4}), ("flip", {"p": 0.5})]``; ValueError if bad."""
    steps: list[tuple[str, dict]] = []
    for item in str(spec).split(","):
        name, colon, option = item.partition(":")
        if not colon and "=" in item:           # key=value: the previous transform's next option
            if not steps:
                raise ConfigError(f"expected a transform name before {item!r}")
            option, name = item, None
        elif name not in AUGMENTS:
            raise ConfigError(f"unknown augmentation {name!r}; expected one of {', '.join(AUGMENTS)}")
        else:
            steps.append((name, dict(AUGMENTS[name])))
        if option:
            _set_option(*steps[-1], option)
    if len(steps) > 1 and any(name == "none" for name, _ in steps):
        raise ConfigError("'none' cannot be combined with other augmentations")
    return [step for step in steps if step[0] != "none"]


def _set_option(name: str, options: dict, item: str) -> None:
    key, eq, value = item.partition("=")
    if key not in options or not eq:
        raise ConfigError(f"augmentation {name!r}: expected key=value with a key among "
                         f"{', '.join(options) or 'none'}, got {item!r}")
    try:
        if isinstance(options[key], tuple):
            lo, dash, hi = value.partition("-")
            if not dash:
                raise ValueError
            options[key] = (float(lo), float(hi))
        else:
            options[key] = type(options[key])(value)
    except ValueError:
        kind = ("a range lo-hi" if isinstance(options[key], tuple) else
                "an integer" if isinstance(options[key], int) else "a number")
        raise ConfigError(f"augmentation {name!r}: {key} must be {kind}, got {value!r}") from None


def build_augment(spec: str, size: int):
    """The ``--augment`` spec's transform for ``size`` px images (a :class:`~minialex.data.augment.Compose`), or
    None for "none"."""
    makers = {"crop": lambda o: augment.RandomCrop(size, o["padding"]),
              "flip": lambda o: augment.RandomHorizontalFlip(o["p"]),
              "resizedcrop": lambda o: augment.RandomResizedCrop(size, o["scale"], o["ratio"]),
              "normalize": lambda o: augment.Normalize(o["mean"], o["std"])}
    steps = parse_augment(spec)
    return augment.Compose([makers[name](options) for name, options in steps]) if steps else None


def _option(schedule: str, key: str, value: str):
    def fail(expected):
        raise ConfigError(f"lr schedule {schedule!r}: {key} must be {expected}, got {value!r}")
    if key in WORDS:
        if value not in WORDS[key]:
            fail(" or ".join(WORDS[key]))
        return value
    if key in BOOLEANS:
        if value.lower() not in ("true", "false", "1", "0"):
            fail("true or false")
        return value.lower() in ("true", "1")
    try:
        if key in INTEGERS:
            return int(value)
        if key in LISTS:
            return [float(v) for v in value.split("+")]
        return float(value)
    except ValueError:
        fail("an integer" if key in INTEGERS else "epochs joined by '+' (2+4)" if key in LISTS else "a number")


def parse_checkpoint_every(spec) -> tuple[float | None, int | None]:
    """``--checkpoint-every``: ``"10m"`` / ``"90s"`` / ``"1h"`` -> (seconds, None); ``"500"`` -> (None, 500 batches);
    ``"epoch"`` -> (None, None): only at the end of each epoch. ValueError if bad."""
    text = str(spec).strip().lower()
    if text == "epoch":
        return None, None
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        if text[-1:] in units:
            seconds = float(text[:-1]) * units[text[-1]]
            if seconds > 0 and seconds != float("inf"):
                return seconds, None
        elif int(text) >= 1:
            return None, int(text)
    except ValueError:
        pass
    raise ConfigError(f"--checkpoint-every {spec!r}: expected a time (10m, 90s, 1h), a number of batches (500) "
                     "or 'epoch'")


class TrainingError(MinialexError, RuntimeError):
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
    nesterov: bool = False
    weight_decay: float = 0.0
    lr_schedule: str = "constant"    # see SCHEDULES: "onecycle:pct_start=0.25", "cosine", ...
    augment: str = "none"            # see AUGMENTS: "crop:padding=4,flip", "resizedcrop:scale=0.25-1", ...
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
        if values["model"] != "alexnet" and overrides.get("resize") is None:
            values["resize"] = None  # a LeNet's own 28 px, not the preset's AlexNet size
        return cls(preset=name, **values).validate()

    @classmethod
    def saved(cls, run_dir, **overrides) -> "Config":
        """The recipe recorded in ``run_dir/config.json``, with ``overrides`` (None values ignored) on top."""
        path = Path(run_dir) / "config.json"
        try:
            saved = json.loads(path.read_text())
        except FileNotFoundError:
            raise TrainingError(f"--resume: {Path(run_dir)} holds no run to continue (no config.json); start one "
                                "without --resume") from None
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
        if not isinstance(self.nesterov, bool):
            fail(f"nesterov must be true or false, got {self.nesterov!r}")
        if self.nesterov and self.momentum == 0:
            fail("nesterov needs a momentum > 0")
        try:  # on a stand-in of 100 batches per epoch: the schedule's own checks, before any data is read
            self.build_scheduler(SGD([np.zeros(1)], self.lr, self.momentum), 100)
        except InputError as e:
            fail(f"--lr-schedule {self.lr_schedule!r}: {e}")
        try:
            self.train_transform()
        except ValueError as e:
            fail(f"--augment {self.augment!r}: {e}")
        try:
            models.check_input_size(self.model, self.image_size)
        except InputError as e:
            fail(str(e))
        return self

    def train_transform(self):
        """The train batches' augmentation (None: none)."""
        return build_augment(self.augment, self.image_size)

    def test_transform(self):
        """What the test batches get of it: the transforms that draw nothing."""
        return augment.evaluation_part(self.train_transform())

    def build_model(self, num_classes: int, in_channels: int = 1):
        return models.build(self.model, num_classes, in_channels, self.image_size)

    def build_optimizer(self, params) -> SGD:
        return SGD(params, self.lr, self.momentum, self.weight_decay, nesterov=self.nesterov)

    def build_scheduler(self, optimizer, batches_per_epoch: int):
        """The recipe's schedule for ``optimizer``, stepped once per batch (None for "constant")."""
        name, o = parse_schedule(self.lr_schedule)
        total = self.epochs * batches_per_epoch

        def batches(epochs):
            return max(1, round(epochs * batches_per_epoch))
        if name == "constant":
            return None
        if name == "step":
            return lr_scheduler.StepLR(optimizer, batches(o["step_size"]), o["gamma"])
        if name == "multistep":
            return lr_scheduler.MultiStepLR(optimizer, [batches(m) for m in o["milestones"]], o["gamma"])
        if name == "exponential":  # gamma per epoch, spread over its batches
            return lr_scheduler.ExponentialLR(optimizer, o["gamma"] ** (1.0 / batches_per_epoch))
        if name == "cosine":
            return lr_scheduler.CosineAnnealingLR(optimizer, total, o["eta_min"])
        if name == "linear":
            span = total if o["total_iters"] is None else batches(o["total_iters"])
            return lr_scheduler.LinearLR(optimizer, o["start_factor"], o["end_factor"], span)
        if name == "warmup_cosine":
            warmup = batches(o["warmup"])
            if warmup >= total:
                raise ConfigError(f"warmup={o['warmup']:g} epochs is the whole run of {self.epochs} epochs or "
                                 "more; nothing would be left for the cosine")
            return lr_scheduler.SequentialLR(optimizer, [
                lr_scheduler.LinearLR(optimizer, o["start_factor"], 1.0, warmup),
                lr_scheduler.CosineAnnealingLR(optimizer, total - warmup, o["eta_min"])], milestones=[warmup])
        if name == "plateau":
            return lr_scheduler.ReduceLROnPlateau(
                optimizer, o["mode"], o["factor"], o["patience"], o["threshold"], o["threshold_mode"], o["cooldown"],
                o["min_lr"], o["eps"])
        return lr_scheduler.OneCycleLR(optimizer, self.lr, total_steps=total, pct_start=o["pct_start"],
                                       anneal_strategy=o["anneal_strategy"], cycle_momentum=o["cycle_momentum"],
                                       base_momentum=o["base_momentum"], max_momentum=o["max_momentum"],
                                       div_factor=o["div_factor"], final_div_factor=o["final_div_factor"])

    def schedule_metric(self) -> str | None:
        """The record's key a per-epoch schedule is stepped with ("test_loss", "test_acc"), None for the others."""
        name, options = parse_schedule(self.lr_schedule)
        return options["metric"] if name == "plateau" else None

    def schedule_spans_run(self) -> bool:
        """True if the schedule's length is the run's, so that changing ``epochs`` would change every lr."""
        name, options = parse_schedule(self.lr_schedule)
        return name in ("cosine", "onecycle", "warmup_cosine") or (name == "linear" and options["total_iters"] is None)
