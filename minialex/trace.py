"""Where the time goes: one training step, timed layer by layer, forward and backward apart.

    with recording() as rec:
        with rec.layer("0"):          # the block's wall time is layer 0's forward time, and every op
            h = net[0](x)             # recorded inside it is tagged "0"
        ...
        loss.backward()               # each tagged op's backward closure is timed and added to its layer

While recording, ``Tensor.from_op`` wraps each op's backward closure in a timer before it goes on the graph, so
backward() runs the timed closures without knowing. What the closures do not cover -- the topological sort, adding
up gradients that meet at a tensor -- shows up as the gap between backward()'s wall time and their sum.
On the GPU every timer synchronises the device first, so kernels are charged to the layer that launched them.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass, field
from time import perf_counter

import numpy as np

from . import nn
from .backend import get_backend
from .ops import cross_entropy
from .summary import describe, layer_table
from .tensor import Tensor


def _sync() -> None:
    b = get_backend()
    if b.on_gpu:
        b.xp.cuda.get_current_stream().synchronize()


@dataclass
class Timing:
    forward_s: float = 0.0
    backward_s: float = 0.0
    ops: list = field(default_factory=list)


class Recorder:
    """Per-layer forward and backward seconds; see the module docstring."""

    def __init__(self):
        self.timings: dict[str, Timing] = {}
        self._current = None

    @contextlib.contextmanager
    def layer(self, name: str):
        timing = self.timings.setdefault(name, Timing())
        previous, self._current = self._current, name
        _sync()
        start = perf_counter()
        try:
            yield timing
        finally:
            _sync()
            timing.forward_s += perf_counter() - start
            self._current = previous

    def _timed(self, backward, timing: Timing):
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
    rec = Recorder()
    original = Tensor.__dict__["from_op"]

    def from_op(cls, data, parents, backward, op):
        if rec._current is not None:
            timing = rec.timings[rec._current]
            timing.ops.append(op)
            backward = rec._timed(backward, timing)
        return original.__func__(cls, data, parents, backward, op)

    Tensor.from_op = classmethod(from_op)
    try:
        yield rec
    finally:
        Tensor.from_op = original


@dataclass
class TraceRow:
    name: str
    layer: str
    output_shape: tuple
    im2col_bytes: int
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


def trace_step(model: nn.Sequential, x, target) -> dict:
    """One forward and backward of ``cross_entropy(model(x), target)``, timed per layer. Returns the trace as a dict
    (the ``--json`` format): ``rows`` per layer plus a ``loss`` row, ``total`` and ``backward_wall_ms``."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"trace: needs an nn.Sequential, got {type(model).__name__}")
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
        rows.append(TraceRow(name, describe(layer), summary_row.output_shape, im2col_bytes(layer, shape, itemsize),
                             summary_row.flops, 1e3 * t.forward_s, 1e3 * t.backward_s))
        shape = summary_row.output_shape
    t = rec.timings["loss"]
    rows.append(TraceRow("loss", "cross-entropy", (), 0, 0, 1e3 * t.forward_s, 1e3 * t.backward_s))
    total_ms = sum(r.forward_ms + r.backward_ms for r in rows)
    for r in rows:
        r.share = (r.forward_ms + r.backward_ms) / total_ms if total_ms > 0 else 0.0
    return {
        "input_shape": list(x.shape), "dtype": str(x.dtype), "backend": get_backend().name,
        "loss": float(loss.item()),
        "rows": [dict(asdict(r), output_shape=list(r.output_shape)) for r in rows],
        "total": {"flops": sum(r.flops for r in rows), "im2col_bytes": sum(r.im2col_bytes for r in rows),
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
    head = (f"{'#':<5} {'layer':<26} {'output shape':<20} {'im2col buffer':>13} {'fwd FLOPs':>10} "
            f"{'forward ms':>10} {'backward ms':>11} {'share':>6}")
    lines = [head, "-" * len(head)]
    for r in trace["rows"]:
        name = "" if r["name"] == "loss" else r["name"]
        shape = "scalar" if not r["output_shape"] else str(tuple(r["output_shape"]))
        lines.append(f"{name:<5} {r['layer']:<26} {shape:<20} {_mib(r['im2col_bytes']):>13} "
                     f"{_si(r['flops']) if r['flops'] else '':>10} {r['forward_ms']:>10.2f} {r['backward_ms']:>11.2f} "
                     f"{100 * r['share']:>5.1f}%")
    t = trace["total"]
    lines += ["-" * len(head),
              f"{'':<5} {'total':<26} {'':<20} {_mib(t['im2col_bytes']):>13} {_si(t['flops']):>10} "
              f"{t['forward_ms']:>10.2f} {t['backward_ms']:>11.2f} {100.0:>5.1f}%",
              f"backward() took {trace['backward_wall_ms']:.2f} ms in all; "
              f"{trace['backward_wall_ms'] - t['backward_ms']:.2f} ms of it outside the ops' backward closures "
              "(graph walk, summing gradients)."]
    return "\n".join(lines)


# --- the command ---------------------------------------------------------------------------------------------------

def add_parser(subparsers) -> None:
    from .cli import add_backend_argument
    p = subparsers.add_parser("trace", help="time one training step layer by layer (forward and backward)")
    p.add_argument("--model", choices=["alexnet", "lenet"], default="alexnet")
    p.add_argument("--input-size", type=int, default=None,
                   help="image side length (default 224 for alexnet; lenet takes 28 only)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--in-channels", type=int, default=1)
    p.add_argument("--num-classes", type=int, default=10)
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed steps first, so one-time costs (Numba compilation, first allocations) are "
                        "not counted (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH", default=None, help="also write the trace as JSON")
    add_backend_argument(p)
    p.set_defaults(func=_trace_command)


def _trace_command(args) -> int:
    import json

    from . import models
    from .backend import host_rng, manual_seed

    if args.batch < 1:
        raise ValueError(f"--batch must be at least 1, got {args.batch}")
    manual_seed(args.seed)
    if args.model == "lenet":
        if args.input_size not in (None, 28):
            raise ValueError(f"lenet takes 28x28 inputs only (its first dense layer is 16*5*5 wide), "
                             f"got --input-size {args.input_size}")
        size, net = 28, models.lenet(args.num_classes, args.in_channels)
    else:
        size = args.input_size or 224
        net = models.alexnet(args.num_classes, args.in_channels, size)
    shape = (args.batch, args.in_channels, size, size)
    x = host_rng().standard_normal(shape).astype(np.float32)
    target = host_rng().integers(0, args.num_classes, args.batch)
    xp = get_backend().xp
    x, target = xp.asarray(x), xp.asarray(target)
    for _ in range(args.warmup):
        cross_entropy(net(Tensor(x)), target).backward()
        net.zero_grad()
    trace = trace_step(net, x, target)
    trace["model"] = args.model
    warm = f"after {args.warmup} untimed warm-up step{'s' if args.warmup != 1 else ''}" if args.warmup else \
        "no warm-up (first-call costs included)"
    print(f"{args.model}, input {shape} float32, backend {trace['backend']}: one forward and backward of "
          f"cross-entropy on random labels, {warm}\n")
    print(format_trace(trace))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(trace, f, indent=2)
        print(f"\nwrote {args.json}")
    return 0
