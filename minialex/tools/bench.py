"""``minialex bench``: how fast each engine trains AlexNet, layer by layer and step by step, beside PyTorch.

Three measurements, each repeated ``--reps`` times with the contenders interleaved (A, B, C, A, B, C, ...) so that
load from other processes hits all of them alike; tables show medians and the spread. A contender is an engine
with a convolution algorithm, named ``engine/algorithm`` ("numba/auto"), or "torch":

* per layer, forward and backward, for every engine with im2col and with Winograd wherever it can run
  (:mod:`minialex.tools.trace`), at the first ``--sizes``; each conv layer also as a fraction of what NumPy's
  matmul reaches on that layer's im2col GEMM shape (OC x C*kh*kw x N*oh*ow), counting the direct convolution's
  FLOPs -- so Winograd, which does fewer, can pass 100%;
* the whole training step (forward, cross-entropy, backward, SGD) in images/s at every size, for every engine
  with im2col and with auto, with PyTorch's identical step (d2l's AlexNet, ``torch.optim.SGD``) when torch is
  importable; effective GFLOP/s counts training as 3x the forward FLOPs;
* peak memory of each step configuration: the peak resident set size (VmHWM) of a fresh process that builds
  the model and trains two steps -- unlike tracemalloc it sees every allocation that was touched, NumPy's,
  BLAS's and Numba's alike -- and how much of it the steps added (Linux only; skipped elsewhere).

:func:`run` prints a Markdown report and writes ``bench.json`` and ``layers.png`` into its ``out`` folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

from .. import models, nn, optim
from ..backend import ENGINES, BackendUnavailable, backend, host_rng, manual_seed
from ..figures import plot_layer_times
from ..ops import cross_entropy
from ..ops.conv_algorithm import conv_algorithm
from ..provenance import describe, finish_record, machine_record
from ..summary import layer_table
from ..autograd import Tensor
from .trace import trace_step

BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # set on some machines; they change NumPy's matmul speed
BLAS_THREAD_ENV = "OPENBLAS_THREAD_TIMEOUT"  # minialex sets it on import (see minialex/__init__.py)


# --- the contenders -------------------------------------------------------------------------------------------

def available_engines() -> list[str]:
    found = []
    for name in ENGINES:
        try:
            with backend(name):
                found.append(name)
        except BackendUnavailable:
            pass
    return found


def have_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


class MinialexStep:
    """One training step of minialex's AlexNet on one engine with one convolution algorithm: forward,
    cross-entropy, backward, SGD."""

    def __init__(self, engine: str, size: int, batch: int, seed: int = 0, algorithm: str = "auto"):
        self.engine, self.algorithm = engine, algorithm
        with backend(engine) as b:
            manual_seed(seed)
            self.net = models.alexnet(10, 1, size)
            self.opt = optim.SGD(self.net.parameters(), lr=0.01)
            self.x = b.asarray(host_rng().standard_normal((batch, 1, size, size)).astype("float32"))
            self.y = b.asarray(host_rng().integers(0, 10, batch))

    def __call__(self) -> None:
        with backend(self.engine) as b, conv_algorithm(self.algorithm):
            self.opt.zero_grad()
            cross_entropy(self.net(Tensor(self.x)), self.y).backward()
            self.opt.step()
            b.synchronize()


def torch_alexnet(size: int, num_classes: int = 10):
    """d2l's AlexNet in PyTorch, layer for layer the same as ``minialex.models.alexnet`` (PyTorch's default init)."""
    from torch import nn

    from ..models import alexnet_feature_size
    s = alexnet_feature_size(size)
    return nn.Sequential(
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(256 * s * s, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, num_classes))


class TorchStep:
    engine = "torch"

    def __init__(self, size: int, batch: int, seed: int = 0):
        import torch
        torch.manual_seed(seed)
        self.torch = torch
        self.net = torch_alexnet(size)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.01)
        self.x = torch.randn(batch, 1, size, size)
        self.y = torch.randint(0, 10, (batch,))

    def __call__(self) -> None:
        self.opt.zero_grad()
        self.torch.nn.functional.cross_entropy(self.net(self.x), self.y).backward()
        self.opt.step()


def torch_trace(step: TorchStep) -> list[dict]:
    """One forward and backward of a :class:`TorchStep`, timed per layer as ``minialex trace`` times minialex's:
    wall time between module hooks (forward pre/post, full-backward pre/post), PyTorch's CPU ops being
    synchronous. Rows as ``trace_step``'s: name, layer, output_shape, flops, forward_ms, backward_ms; plus "loss"."""
    torch, net = step.torch, step.net
    start, forward, backward, handles = {}, {}, {}, []
    for name, module in net.named_children():
        handles += [
            module.register_forward_pre_hook(lambda m, i, n=name: start.__setitem__(n, time.perf_counter())),
            module.register_forward_hook(
                lambda m, i, o, n=name: forward.__setitem__(n, time.perf_counter() - start[n])),
            module.register_full_backward_pre_hook(
                lambda m, g, n=name: start.__setitem__("b" + n, time.perf_counter())),
            module.register_full_backward_hook(
                lambda m, gi, go, n=name: backward.__setitem__(n, time.perf_counter() - start["b" + n])),
        ]
    x = step.x.clone().requires_grad_(False)
    try:
        out = net(x)
        t0 = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(out, step.y)
        loss_forward = time.perf_counter() - t0
        t0 = time.perf_counter()
        loss.backward()
        last = list(dict(net.named_children()))[-1]
        loss_backward = start["b" + last] - t0
    finally:
        for h in handles:
            h.remove()
        net.zero_grad()
    rows = [{"name": n, "forward_ms": 1e3 * forward[n], "backward_ms": 1e3 * backward.get(n, 0.0)}
            for n, _ in net.named_children()]
    return rows + [{"name": "loss", "forward_ms": 1e3 * loss_forward, "backward_ms": 1e3 * loss_backward}]


def contender(engine: str, algorithm: str) -> str:
    return f"{engine}/{algorithm}"


def make_step(name: str, size: int, batch: int):
    """The step of a contender: "torch", or "engine/algorithm" ("numba" alone means "numba/auto")."""
    if name == "torch":
        return TorchStep(size, batch)
    engine, _, algorithm = name.partition("/")
    return MinialexStep(engine, size, batch, algorithm=algorithm or "auto")


# --- measuring --------------------------------------------------------------------------------------------------

def spread(times: list[float]) -> dict:
    """Median, quartiles, min and max of a list of seconds."""
    q = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else [times[0]] * 3
    return {"median": statistics.median(times), "q1": q[0], "q3": q[2], "min": min(times), "max": max(times),
            "times": times}


def time_steps(contenders: list[str], size: int, batch: int, reps: int) -> dict:
    """Seconds per training step for each contender, interleaved, after one untimed warm-up step each."""
    steps = {c: make_step(c, size, batch) for c in contenders}
    for step in steps.values():
        step()  # compiles (Numba), loads caches, touches the buffers once
    times = {c: [] for c in contenders}
    for _ in range(reps):
        for e, step in steps.items():
            start = time.perf_counter()
            step()
            times[e].append(time.perf_counter() - start)
    return {e: spread(t) for e, t in times.items()}


def time_layers(contenders: list[str], size: int, batch: int, reps: int) -> dict:
    """Per-layer forward and backward milliseconds (medians) for each "engine/algorithm" (via ``trace_step``) and
    "torch" (via :func:`torch_trace`), interleaved round by round. The first contender must be a minialex one."""
    steps = {c: make_step(c, size, batch) for c in contenders}
    runs = {c: [] for c in contenders}
    for rep in range(reps + 1):  # the first round is a warm-up
        for c, s in steps.items():
            if c == "torch":
                rows = torch_trace(s)
            else:
                with backend(s.engine), conv_algorithm(s.algorithm):
                    rows = trace_step(s.net, s.x, s.y)["rows"]
                    s.net.zero_grad()
            if rep:
                runs[c].append(rows)
    layers = []
    for i, row in enumerate(runs[contenders[0]][0]):
        entry = {k: row[k] for k in ("name", "layer", "output_shape", "flops")}
        for c in contenders:
            entry[c] = {d: statistics.median(r[i][f"{d}_ms"] for r in runs[c]) for d in ("forward", "backward")}
        layers.append(entry)
    return {"size": size, "batch": batch, "layers": layers}


def matmul_gflops(m: int, k: int, n: int, reps: int = 3) -> float:
    """NumPy's float32 matmul speed on an (m, k) @ (k, n) product: the most a conv of that GEMM shape can reach."""
    import numpy as np
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
    best = float("inf")
    for _ in range(reps + 1):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * m * k * n / best / 1e9


def conv_gemm_shapes(size: int, batch: int) -> dict:
    """Each conv layer's forward GEMM, name -> (OC, C*kh*kw, N*oh*ow)."""
    net = models.alexnet(10, 1, size)
    shapes = {}
    for (name, layer), row in zip(net.named_children(), layer_table(net, (batch, 1, size, size))):
        if isinstance(layer, nn.Conv2d):
            n, oc, oh, ow = row.output_shape
            shapes[name] = (oc, layer.in_channels * layer.kernel_size[0] * layer.kernel_size[1], n * oh * ow)
    return shapes


_MEMORY_PROBE = """
import json, sys
from minialex.tools.bench import make_step, resident_mib
name, size, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
step = make_step(name, size, batch)
before = resident_mib("VmHWM")
step(); step()
print(json.dumps({"peak_mib": resident_mib("VmHWM"), "before_steps_mib": before}))
"""


def resident_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process in MiB, from /proc (Linux). ``ru_maxrss`` would not do: a child
    process inherits its parent's peak at fork, so it reports at least the parent's size."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise OSError(f"{field} not in /proc/self/status")


def peak_memory(name: str, size: int, batch: int) -> dict:
    """Peak resident memory (MiB) of a fresh process training two steps of contender ``name`` ("numba/auto",
    "torch"), and its peak before the first step."""
    out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, name, str(size), str(batch)], env=_child_env(),
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child_env(unset=()) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in unset}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # above minialex/
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def environment(record: dict) -> dict:
    """The machine as the report's heading shows it, from ``record`` (:func:`minialex.provenance.machine_record`,
    which the report carries whole as "provenance")."""
    env = {
        "machine": record["cpu"]["machine"], "cpus": record["cpu"]["usable_cpus"],
        "load_average_1min": record["load_average_before"][0] if record["load_average_before"] else None,
        **{k: record["versions"][k] for k in ("python", "numpy", "numba")},
        "numba_threads": record["threads"]["numba"], "blas": record["blas"],
        "blas_env": {k: os.environ.get(k) for k in (*BLAS_ENV, BLAS_THREAD_ENV)},
    }
    if have_torch():
        import torch
        env.update(torch=torch.__version__, torch_threads=torch.get_num_threads())
        record["threads"]["torch"] = torch.get_num_threads()
    return env


# --- reporting --------------------------------------------------------------------------------------------------

def step_rows(results: dict, size: int, batch: int, forward_flops: int, label: str = "") -> list[dict]:
    torch_median = results.get("torch", {}).get("median")
    rows = []
    for engine, s in results.items():
        rows.append({"engine": engine + label, "size": size, "batch": batch, **s,
                     "images_per_s": batch / s["median"],
                     "vs_torch": torch_median / s["median"] if torch_median else None,
                     "gflops": 3 * forward_flops / s["median"] / 1e9})
    return rows


def format_steps(rows: list[dict]) -> str:
    lines = ["| size | engine | step s (median) | IQR s | min-max s | images/s | vs PyTorch | GFLOP/s | "
             "peak RSS MiB | of it the steps |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ratio = f"{r['vs_torch']:.2f}x" if r["vs_torch"] else "--"
        mem = r.get("memory") or {}
        peak = f"{mem['peak_mib']:.0f}" if mem else "--"
        added = f"{mem['peak_mib'] - mem['before_steps_mib']:.0f}" if mem else "--"
        lines.append(f"| {r['size']} | {r['engine']} | {r['median']:.3f} | {r['q1']:.3f}-{r['q3']:.3f} | "
                     f"{r['min']:.3f}-{r['max']:.3f} | {r['images_per_s']:.1f} | {ratio} | {r['gflops']:.0f} | "
                     f"{peak} | {added} |")
    return "\n".join(lines)


def memory_vs_torch(rows: list[dict]) -> list[dict]:
    """Each measured contender's peak memory over PyTorch's at the same size, both ways: the whole process (what
    ``top`` shows; it counts each library's import, and PyTorch's is the larger) and the steps only (the peak
    minus the resident size before the first step: the activations, gradients and buffers of training)."""
    ratios = []
    for size in dict.fromkeys(r["size"] for r in rows):
        measured = [r for r in rows if r["size"] == size and r.get("memory")]
        torch = next((r["memory"] for r in measured if r["engine"] == "torch"), None)
        for r in measured:
            if r["engine"] != "torch" and torch:
                m = r["memory"]
                ratios.append({"size": size, "engine": r["engine"],
                               "whole_process": m["peak_mib"] / torch["peak_mib"],
                               "steps_only": (m["peak_mib"] - m["before_steps_mib"])
                               / (torch["peak_mib"] - torch["before_steps_mib"])})
    return ratios


def format_memory(ratios: list[dict]) -> str:
    return "\n".join(["| size | engine | peak memory vs PyTorch, whole process | steps only |", "|---:|---|---:|---:|"]
                     + [f"| {r['size']} | {r['engine']} | {r['whole_process']:.2f}x | {r['steps_only']:.2f}x |"
                        for r in ratios])


def format_layers(result: dict, contenders: list[str], peaks: dict) -> str:
    head = "| # | layer | " + " | ".join(f"{c} fwd ms | {c} bwd ms" for c in contenders) + " | " + \
        " | ".join(f"{c} % of matmul" for c in contenders) + " |"
    lines = [head, "|" + "---|" * (2 + 3 * len(contenders))]
    for i, layer in enumerate(result["layers"]):
        times = " | ".join(f"{layer[c]['forward']:.1f} | {layer[c]['backward']:.1f}" for c in contenders)
        fractions = []
        for e in contenders:
            peak = peaks.get(layer["name"])
            if peak is None:
                fractions.append("")
                continue
            # backward: dW and dx are one GEMM each, but the first layer's input needs no gradient
            flops = layer["flops"] * (2 if i == 0 else 3)
            seconds = (layer[e]["forward"] + layer[e]["backward"]) / 1e3
            fractions.append(f"{100 * flops / seconds / 1e9 / peak:.0f}%")
        lines.append(f"| {layer['name']} | {layer['layer']} | {times} | {' | '.join(fractions)} |")
    return "\n".join(lines)


# --- the whole benchmark ---------------------------------------------------------------------------------------

LAYER_ALGORITHMS = ("im2col", "winograd")  # per layer: each algorithm where it can run
STEP_ALGORITHMS = ("im2col", "auto")       # whole steps: the reference and the default


def run(out: str = "benchmarks/out", sizes: list[int] | None = None, batch_size: int | None = None,
        reps: int | None = None, engines: list[str] | None = None, quick: bool = False, with_torch: bool = True,
        with_memory: bool = True, algorithms: list[str] | None = None) -> dict:
    """Every measurement of the module docstring, printed as Markdown as it goes; returns the report (bench.json).

    Defaults: sizes 224 and 96, batch 128, 5 reps, every engine available here, the algorithms above;
    ``quick``: 96 px, batch 32, 3 reps. ``algorithms`` replaces both lists (e.g. ["im2col"]).
    """
    sizes = sizes or ([96] if quick else [224, 96])
    batch = batch_size or (32 if quick else 128)
    reps = reps or (3 if quick else 5)
    engines = engines or available_engines()
    per_layer = [contender(e, a) for e in engines for a in (algorithms or LAYER_ALGORITHMS)]
    contenders = [contender(e, a) for e in engines for a in (algorithms or STEP_ALGORITHMS)]
    contenders += ["torch"] if have_torch() and with_torch else []
    per_layer += ["torch"] if have_torch() and with_torch else []
    record = machine_record()
    report = {"argv": sys.argv, "provenance": record, "environment": environment(record), "sizes": sizes,
              "batch": batch, "reps": reps, "steps": []}
    env = report["environment"]
    print(f"# minialex bench\n\n{env['cpus']} CPUs ({env['machine']}), load average {env['load_average_1min']:.1f}; "
          f"numpy {env['numpy']}, numba {env['numba']} ({env['numba_threads']} threads)"
          + (f", torch {env['torch']} ({env['torch_threads']} threads)" if "torch" in env else "")
          + "; BLAS " + (", ".join(f"{b['internal_api']} {b['version']} {b['architecture']} {b['num_threads']} threads"
                                   for b in env["blas"]) or "unknown (pip install threadpoolctl)")
          + "; " + ", ".join(f"{k}={v}" for k, v in env["blas_env"].items())
          + f"\n\n{describe(record)}\n", flush=True)

    report["matmul_gflops_by_size"], report["layers_by_size"] = {}, {}
    for size in sizes:  # per layer, at every size: where each library spends its step
        peaks = {name: matmul_gflops(*shape) for name, shape in conv_gemm_shapes(size, batch).items()}
        layers = time_layers(per_layer, size, batch, reps)
        report["matmul_gflops_by_size"][size], report["layers_by_size"][size] = peaks, layers
        print(f"## Per layer, {size} px, batch {batch} (median of {reps}; % of NumPy matmul on the conv's im2col "
              "GEMM shape, direct-convolution FLOPs: " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peaks.items())
              + ")\n")
        print(format_layers(layers, per_layer, peaks) + "\n", flush=True)
    layers = report["layers"] = report["layers_by_size"][sizes[0]]   # the first size's, as before
    report["matmul_gflops"] = report["matmul_gflops_by_size"][sizes[0]]

    for size in sizes:
        flops = sum(r.flops for r in layer_table(models.alexnet(10, 1, size), (batch, 1, size, size)))
        rows = step_rows(time_steps(contenders, size, batch, reps), size, batch, flops)
        unset = [k for k in BLAS_ENV if k in os.environ]
        if unset:  # the same measurement once more with NumPy's OpenBLAS left to pick its own kernel
            rows += step_rows(_steps_in_child(contenders, size, batch, reps, unset), size, batch, flops,
                              " (" + ", ".join(unset) + " unset)")
        if with_memory and os.path.exists("/proc/self/status"):
            for r in rows[:len(contenders)]:
                r["memory"] = peak_memory(r["engine"], size, batch)
        report["steps"] += rows

    print(f"## Training step, batch {batch} (forward + cross-entropy + backward + SGD; {reps} reps, interleaved)\n")
    print(format_steps(report["steps"]))
    print("\nGFLOP/s counts training as 3x the forward FLOPs. Peak RSS: the peak resident memory of a fresh process that builds the "
          "model and trains two steps (VmHWM); 'of it the steps' is the part added after the model was built.")
    report["memory_vs_torch"] = memory_vs_torch(report["steps"])
    if report["memory_vs_torch"]:
        print("\n## Peak memory against PyTorch\n\n" + format_memory(report["memory_vs_torch"]))
    finish_record(record)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "bench.json"), "w") as f:
        json.dump(report, f, indent=2)
    plot_layer_times(layers, per_layer, os.path.join(out, "layers.png"))
    print(f"\nwrote {os.path.join(out, 'bench.json')} and {os.path.join(out, 'layers.png')}")
    return report


_CHILD_STEPS = """
import json, sys
from minialex.tools.bench import time_steps
engines, size, batch, reps = json.loads(sys.argv[1])
print(json.dumps(time_steps(engines, size, batch, reps)))
"""


def _steps_in_child(engines, size, batch, reps, unset) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD_STEPS, json.dumps([engines, size, batch, reps])],
                         env=_child_env(unset), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])
