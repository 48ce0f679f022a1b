"""Property-based checks: random configurations beyond the listed ones, shrunk to the smallest that fails.

The listed configurations name the classic mistakes; these make sure an op is right and does not merely fit
them. Each op exercise has a :class:`Space`: small integer parameters (shape sides, stride, padding, an index
into a list of probabilities ...) and a builder that turns one draw into the forward's arguments. The checker
draws ``DRAWS`` of them from a seed taken from ``os.urandom`` at check time -- the learner never sees it
before, and each run draws anew -- and compares forward and backward with minialex's op in float64.

The first failing draw is shrunk: each parameter in turn is lowered to the smallest value that still fails
(the values' seed kept), until none can be lowered. The report prints it as one line that reproduces it:

    minialex exercise check conv2d --case "n=1 c=1 h=3 w=3 f=1 k=2 stride=1 padding=1 values=1234"
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ...errors import ConfigError

DRAWS = 30


@dataclass(frozen=True)
class Space:
    params: dict          # name -> (smallest, largest) int, in the order they are shrunk and printed
    build: Callable       # (params, rng) -> the forward's arguments, or None where the params make no sense


def _normal(rng, *shape):
    return rng.standard_normal(shape)


def _distinct(rng, *shape):
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01 - 0.5


def _away_from_zero(rng, *shape):
    v = rng.standard_normal(shape)
    return np.where(np.abs(v) < 0.1, v + 0.5 * np.sign(v + 1e-12), v)


def _conv2d(p, rng):
    if p["k"] > min(p["h"], p["w"]) + 2 * p["padding"]:
        return None
    return (_normal(rng, p["n"], p["c"], p["h"], p["w"]), _normal(rng, p["f"], p["c"], p["k"], p["k"]),
            _normal(rng, p["f"]), p["stride"], p["padding"])


def _max_pool2d(p, rng):
    if p["k"] > min(p["h"], p["w"]):
        return None
    return _distinct(rng, p["n"], p["c"], p["h"], p["w"]), p["k"], p["stride"]


def _cross_entropy(p, rng):
    logits = _normal(rng, p["n"], p["k"]) * 3 + 500.0 * p["offset"]
    return logits, rng.integers(0, p["k"], p["n"])


def _sgd_step(p, rng):
    shape = (p["rows"], p["cols"])
    v = np.zeros(shape) if p["first"] else _normal(rng, *shape)
    return (_normal(rng, *shape), _normal(rng, *shape), v, [0.1, 0.01, 0.5][p["lr"]],
            [0.9, 0.5, 0.99][p["momentum"]], [0.0, 5e-4, 0.1][p["weight_decay"]])


def _avg_pool2d(p, rng):
    if p["padding"] > p["k"] // 2 or p["k"] > min(p["h"], p["w"]) + 2 * p["padding"]:
        return None
    return (_normal(rng, p["n"], p["c"], p["h"], p["w"]), p["k"], p["stride"], p["padding"], bool(p["ceil_mode"]),
            bool(p["count_include_pad"]))


SPACES = {
    "sigmoid": Space({"n": (1, 4), "c": (1, 5), "scale": (0, 2)},
                     lambda p, rng: (_normal(rng, p["n"], p["c"]) * [1.0, 30.0, 1000.0][p["scale"]],)),
    "avg_pool2d": Space({"n": (1, 3), "c": (1, 3), "h": (1, 8), "w": (1, 8), "k": (1, 4), "stride": (1, 3),
                         "padding": (0, 2), "ceil_mode": (0, 1), "count_include_pad": (0, 1)}, _avg_pool2d),
    "relu": Space({"n": (1, 4), "c": (1, 5)}, lambda p, rng: (_away_from_zero(rng, p["n"], p["c"]),)),
    "linear": Space({"n": (1, 6), "d": (1, 6), "m": (1, 6)},
                    lambda p, rng: (_normal(rng, p["n"], p["d"]), _normal(rng, p["m"], p["d"]), _normal(rng, p["m"]))),
    "cross_entropy": Space({"n": (1, 6), "k": (2, 6), "offset": (0, 2)}, _cross_entropy),
    "sgd_step": Space({"rows": (1, 4), "cols": (1, 4), "first": (0, 1), "lr": (0, 2), "momentum": (0, 2),
                       "weight_decay": (0, 2)}, _sgd_step),
    "dropout": Space({"n": (1, 5), "c": (1, 6), "p": (0, 8), "seed": (0, 1000), "training": (0, 1)},
                     lambda p, rng: (_normal(rng, p["n"], p["c"]), (p["p"] + 1) / 10, p["seed"],
                                     bool(p["training"]))),
    "max_pool2d": Space({"n": (1, 4), "c": (1, 3), "h": (1, 8), "w": (1, 8), "k": (1, 4), "stride": (1, 3)},
                        _max_pool2d),
    "conv2d": Space({"n": (1, 4), "c": (1, 3), "h": (1, 7), "w": (1, 7), "f": (1, 3), "k": (1, 4),
                     "stride": (1, 3), "padding": (0, 2)}, _conv2d),
}
SPACES["conv2d_direct"] = SPACES["conv2d"]


def draw(space: Space, rng) -> dict:
    return {name: int(rng.integers(lo, hi + 1)) for name, (lo, hi) in space.params.items()}


def case_line(params: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


def parse_case(space: Space, text: str) -> dict:
    """``"n=1 c=2 ... values=7"`` -> params (with ``values``); ConfigError naming what is wrong."""
    params = {}
    for item in text.replace(",", " ").split():
        key, sep, value = item.partition("=")
        if not sep or not value.lstrip("-").isdigit():
            raise ConfigError(f"--case: expected key=int items, got {item!r}")
        params[key] = int(value)
    expected = list(space.params) + ["values"]
    if sorted(params) != sorted(expected):
        raise ConfigError(f"--case: expected the keys {' '.join(expected)}, got {' '.join(params) or 'none'}")
    return params


def failure(run: Callable, space: Space, params: dict):
    """``run(args)`` -> None if the learner is right, else a message; params -> (args or None, message or None)."""
    args = space.build(params, np.random.default_rng(params["values"]))
    if args is None:
        return None, None
    return args, run(args)


def shrink(run: Callable, space: Space, params: dict) -> dict:
    """Lower each parameter to the smallest value that still fails, until none can be lowered."""
    changed = True
    while changed:
        changed = False
        for name, (lo, _) in space.params.items():
            for value in range(lo, params[name]):
                candidate = {**params, name: value}
                if failure(run, space, candidate)[1] is not None:
                    params, changed = candidate, True
                    break
    return params


def search(run: Callable, space: Space, draws: int = DRAWS, seed: int | None = None):
    """(number of configurations tried, None) when every draw passes, else (tried, (shrunk params, message))."""
    seed = int.from_bytes(os.urandom(8), "little") if seed is None else seed
    rng = np.random.default_rng(seed)
    tried = 0
    for _ in range(draws * 3):  # draws the builder rejects (a kernel larger than the input) do not count
        if tried == draws:
            break
        params = {**draw(space, rng), "values": int(rng.integers(2**31))}
        args, message = failure(run, space, params)
        if args is None:
            continue
        tried += 1
        if message is not None:
            params = shrink(run, space, params)
            return tried, (params, failure(run, space, params)[1])
    return tried, None


def rerun(name: str, path: str, text: str):
    """Report on the one configuration ``text`` (a reproduction line from an earlier check)."""
    from .checker import CheckResult, Learner, LearnerError, Report, load_module, random_case_runner
    from .catalog import EXERCISES
    from ...backend import backend
    if name not in SPACES:
        raise ConfigError(f"--case: {name} has no random configurations; run the check without --case")
    space, report = SPACES[name], Report(name, path)
    params = parse_case(space, text)
    try:
        learner = Learner(EXERCISES[name], load_module(path))
    except LearnerError as e:
        report.checks.append(CheckResult("load", "FAIL", details=[str(e)]))
        return report
    with backend("numpy"):
        args, message = failure(random_case_runner(learner), space, params)
    title = f"the case {case_line(params)}"
    if args is None:
        report.checks.append(CheckResult(title, "FAIL", details=["these parameters make no valid configuration"]))
    else:
        report.checks.append(CheckResult(title, "PASS" if message is None else "FAIL",
                                         details=[] if message is None else [message]))
    return report
