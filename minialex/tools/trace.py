"""Where the time goes: one training step, timed layer by layer, forward and backward apart.

    with recording() as rec:
        with rec.layer("0"):          # the block's wall time is layer 0's forward time, and every op
            h = net[0](x)             # recorded inside it is tagged "0"
        ...
        loss.backward()               # each tagged op's backward closure is timed and added to its layer

While recording, the Recorder observes every op as it is made (:func:`minialex.autograd.observe_ops`) and wraps its
backward closure in a timer before it goes on the graph, so backward() runs the timed closures without knowing. What the closures do not cover -- the topological sort, adding
up gradients that meet at a tensor -- shows up as the gap between backward()'s wall time and their sum.
On the GPU every timer synchronises the device first, so kernels are charged to the layer that launched them.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass, field
from time import perf_counter

import numpy as np

from .. import models, nn
from ..backend import get_backend, host_rng, manual_seed
from ..errors import ConfigError, InputTypeError
from ..ops import cross_entropy, winograd
from ..ops.conv_algorithm import get_conv_algorithm
from ..summary import describe, layer_table
from ..autograd import Tensor, observe_ops


def _sync() -> None:
    get_backend().synchronize()


@dataclass
class Timing:
    forward_s: float = 0.0
    backward_s: float = 0.0
    ops: list = field(default_factory=list)


class Recorder:
    """Per-layer forward and backward seconds; see the module docstring."""

    def __init__(self):
        self.timings: dict[str, Timing] = {}
        self.current: str | None = None  # the layer being called, if any

    @contextlib.contextmanager
    def layer(self, name: str):
        timing = self.timings.setdefault(name, Timing())
        previous, self.current = self.current, name
        _sync()
        start = perf_counter()
        try:
            yield timing
        finally:
            _sync()
            timing.forward_s += perf_counter() - start
            self.current = previous

    def __call__(self, op: str, backward):
        """The op observer: tag ``op`` with the current layer and time its backward closure there."""
        if self.current is None:
            return backward
        timing = self.timings[self.current]
        timing.ops.append(op)

        def timed_backward(g):
            start = perf_counter()
            grads = backward(g)
            _sync()
            timing.backward_s += perf_counter() - start
            return grads
        return timed_backward


@contextlib.contextmanager
def recording():
    """Record per-layer timings while the block runs (see the module docstring); yields the Recorder."""
    with observe_ops(Recorder()) as rec:
        yield rec


@dataclass
class TraceRow:
    name: str
    layer: str
    output_shape: tuple
    algorithm: str          # a conv layer's "im2col" or "winograd"; "" for other layers
    tile: str               # Winograd's tile where it runs, "F(4,3)": F(m x m, r x r); "" elsewhere
    buffer_bytes: int       # im2col's col matrix or Winograd's largest per-chunk array: see conv_buffer_bytes
    flops: int
    forward_ms: float
    backward_ms: float
    share: float = 0.0


def im2col_bytes(layer, input_shape, itemsize: int) -> int:
    """Size of a conv layer's im2col matrix, (C*kh*kw) x (N*oh*ow) elements; 0 for other layers."""
    if not isinstance(layer, nn.Conv2d):
        return 0
    n, _, oh, ow = layer.output_shape(input_shape)
    return layer.in_channels * math.prod(layer.kernel_size) * n * oh * ow * itemsize


def winograd_bytes(layer, input_shape, itemsize: int) -> int:
    """The largest array Winograd allocates for a conv layer: V or M for one chunk of images
    (:func:`minialex.ops.winograd.chunk_images`)."""
    n, oc, oh, ow = layer.output_shape(input_shape)
    r = layer.kernel_size[0]
    m = layer.tile or winograd.choose_tile(r, (oh, ow))
    return winograd.chunk_images(n, layer.in_channels, oc, m, r, (oh, ow), itemsize)[1]


def conv_buffer_bytes(layer, input_shape, itemsize: int, algorithm: str) -> int:
    """What ``minialex trace`` reports as a conv's buffer: im2col's col matrix for the whole batch, or Winograd's
    largest per-chunk array; 0 for other layers."""
    if algorithm == "winograd":
        return winograd_bytes(layer, input_shape, itemsize)
    return im2col_bytes(layer, input_shape, itemsize)


def trace_step(model: nn.Sequential, x, target) -> dict:
    """One forward and backward of ``cross_entropy(model(x), target)``, timed per layer. Returns the trace as a dict
    (the ``--json`` format): ``rows`` per layer plus a ``loss`` row, ``total`` and ``backward_wall_ms``."""
    if not isinstance(model, nn.Sequential):
        raise InputTypeError(f"trace: needs an nn.Sequential, got {type(model).__name__}")
    x = x if isinstance(x, Tensor) else Tensor(x)
    table = layer_table(model, x.shape)
    itemsize = model.parameters()[0].dtype.itemsize
    with recording() as rec:
        h = x
        for name, layer in model.named_children():
            with rec.layer(name):
                h = layer(h)
        with rec.layer("loss"):
            loss = cross_entropy(h, target)
        _sync()
        start = perf_counter()
        loss.backward()
        _sync()
        backward_wall = perf_counter() - start

    rows, shape = [], tuple(x.shape)
    for (name, layer), summary_row in zip(model.named_children(), table):
        t = rec.timings[name]
        tile = f"F({layer.tile_for(shape)},{layer.kernel_size[0]})" if summary_row.algorithm == "winograd" else ""
        rows.append(TraceRow(name, describe(layer), summary_row.output_shape, summary_row.algorithm, tile,
                             conv_buffer_bytes(layer, shape, itemsize, summary_row.algorithm),
                             summary_row.flops, 1e3 * t.forward_s, 1e3 * t.backward_s))
        shape = summary_row.output_shape
    t = rec.timings["loss"]
    rows.append(TraceRow("loss", "cross-entropy", (), "", "", 0, 0, 1e3 * t.forward_s, 1e3 * t.backward_s))
    total_ms = sum(r.forward_ms + r.backward_ms for r in rows)
    for r in rows:
        r.share = (r.forward_ms + r.backward_ms) / total_ms if total_ms > 0 else 0.0
    return {
        "input_shape": list(x.shape), "dtype": str(x.dtype), "backend": get_backend().name,
        "conv_algorithm": get_conv_algorithm(),
        "loss": float(loss.item()),
        "rows": [dict(asdict(r), output_shape=list(r.output_shape)) for r in rows],
        "total": {"flops": sum(r.flops for r in rows), "buffer_bytes": sum(r.buffer_bytes for r in rows),
                  "forward_ms": sum(r.forward_ms for r in rows), "backward_ms": sum(r.backward_ms for r in rows)},
        "backward_wall_ms": 1e3 * backward_wall,
    }


def _si(value: float, unit: str = "") -> str:
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:.1f} {prefix}{unit}"
    return f"{value:.0f} {unit}".rstrip()


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n else ""


def format_trace(trace: dict) -> str:
    head = (f"{'#':<5} {'layer':<26} {'output shape':<20} {'algorithm':<15} {'conv buffer':>11} {'fwd FLOPs':>10} "
            f"{'forward ms':>10} {'backward ms':>11} {'share':>6}")
    lines = [head, "-" * len(head)]
    for r in trace["rows"]:
        name = "" if r["name"] == "loss" else r["name"]
        shape = "scalar" if not r["output_shape"] else str(tuple(r["output_shape"]))
        algorithm = f"{r['algorithm']} {r.get('tile', '')}".strip()
        lines.append(f"{name:<5} {r['layer']:<26} {shape:<20} {algorithm:<15} {_mib(r['buffer_bytes']):>11} "
                     f"{_si(r['flops']) if r['flops'] else '':>10} {r['forward_ms']:>10.2f} {r['backward_ms']:>11.2f} "
                     f"{100 * r['share']:>5.1f}%")
    t = trace["total"]
    lines += ["-" * len(head),
              f"{'':<5} {'total':<26} {'':<20} {'':<15} {_mib(t['buffer_bytes']):>11} {_si(t['flops']):>10} "
              f"{t['forward_ms']:>10.2f} {t['backward_ms']:>11.2f} {100.0:>5.1f}%",
              "conv buffer -- im2col: the col matrix, (C*kh*kw) x (N*oh*ow), for the whole batch; winograd: its "
              "largest temporary, V or M, for one chunk of images (a*a x max(C, OC) x the chunk's tiles).",
              f"backward() took {trace['backward_wall_ms']:.2f} ms in all; "
              f"{trace['backward_wall_ms'] - t['backward_ms']:.2f} ms of it outside the ops' backward closures "
              "(graph walk, summing gradients)."]
    return "\n".join(lines)


def trace_model(model: str = "alexnet", input_size: int | None = None, batch_size: int = 8, in_channels: int = 1,
                num_classes: int = 10, warmup: int = 1, seed: int = 0) -> dict:
    """:func:`trace_step` for ``model`` on a seeded random batch and random labels, after ``warmup`` untimed steps
    (so one-time costs -- Numba compilation, first allocations -- are not counted)."""
    if batch_size < 1:
        raise ConfigError(f"the batch size must be at least 1, got {batch_size}")
    manual_seed(seed)
    net = models.build(model, num_classes, in_channels, input_size)
    size = models.check_input_size(model, input_size)
    shape = (batch_size, in_channels, size, size)
    xp = get_backend().xp
    x = xp.asarray(host_rng().standard_normal(shape).astype(np.float32))
    target = xp.asarray(host_rng().integers(0, num_classes, batch_size))
    for _ in range(warmup):
        cross_entropy(net(Tensor(x)), target).backward()
        net.zero_grad()
    return {**trace_step(net, x, target), "model": model, "warmup": warmup}
