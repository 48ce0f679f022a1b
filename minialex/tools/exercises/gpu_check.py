"""Check the GPU exercise: the learner's numba.cuda kernel under the CUDA simulator, and on a GPU if there is one.

The simulator must be switched on (``NUMBA_ENABLE_CUDASIM=1``) before ``numba.cuda`` is first imported, and
must not leak into the process that asked for the check, so the checks run in a child Python
(``python -m minialex.tools.exercises.gpu_check FILE simulator``) that prints them as JSON; a second child
without the simulator runs the kernel on a real GPU when ``numba.cuda.is_available()``.

Under the simulator every CUDA thread is a Python thread and a kernel's array arguments are whatever the host
passed, so the checker passes :class:`Counted` arrays: each read and write goes through them, and is logged
for the thread that made it (GPU-Puzzles scores kernels the same way). An index outside the array -- which a
real GPU would not report, reading garbage or corrupting memory -- stops the check with the thread named.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

FUNCTIONS = {"gpu_max_pool2d": ("max_pool2d_kernel",)}
SUMMARIES = {"gpu_max_pool2d": "max-pooling as a CUDA kernel (numba.cuda), run under the simulator; memory counted"}
THREADS = (8, 8)
CASES = [  # (label, x shape, kernel_size, stride): tiny, the simulator runs each thread as Python
    ("1 plane, 4x4, 2x2 window, stride 2", (1, 1, 4, 4), 2, 2),
    ("2 images x 2 channels, 7x7, 3x3 window, stride 2 (AlexNet's pooling)", (2, 2, 7, 7), 3, 2),
    ("10x18, 2x2 window, stride 1: 9x17 outputs, six blocks", (1, 1, 10, 18), 2, 1),
]


def _blocks(out_shape):
    n, c, oh, ow = out_shape
    return (-(-ow // THREADS[0]), -(-oh // THREADS[1]), n * c)


def _thread() -> str:
    t = threading.current_thread()
    block, thread = getattr(t, "blockIdx", None), getattr(t, "threadIdx", None)
    return "the host" if block is None else f"thread {tuple(thread)[:2]} of block {tuple(block)}"


class Counted:
    """An array as a simulated kernel sees it: each access checked for bounds and counted for its thread."""

    def __init__(self, array: np.ndarray, name: str, log: dict):
        self.array, self.name, self.log = array, name, log
        self.shape, self.dtype, self.size, self.ndim = array.shape, array.dtype, array.size, array.ndim

    def _checked(self, index):
        index = index if isinstance(index, tuple) else (index,)
        if len(index) != self.ndim or not all(isinstance(i, (int, np.integer)) for i in index):
            raise IndexError(f"{_thread()} indexed {self.name}[{index}]: a kernel reads one element at a time, "
                             f"with {self.ndim} integer indices")
        if any(not 0 <= i < s for i, s in zip(index, self.shape)):
            raise IndexError(f"{_thread()} touched {self.name}[{', '.join(str(int(i)) for i in index)}], outside "
                             f"{self.name} of shape {self.shape}")
        return index

    def _count(self, kind):
        key = _thread()
        entry = self.log.setdefault(key, {"reads": 0, "writes": 0})
        entry[kind] += 1

    def __getitem__(self, index):
        index = self._checked(index)
        self._count("reads")
        return self.array[index]

    def __setitem__(self, index, value):
        index = self._checked(index)
        self._count("writes")
        self.array[index] = value


def _case_arrays(shape, k, stride, seed):
    rng = np.random.default_rng(seed)
    x = (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01 - 1.0).astype(np.float32)  # no ties
    n, c, h, w = shape
    out_shape = (n, c, (h - k) // stride + 1, (w - k) // stride + 1)
    return x, out_shape


def _expected(x, k, stride):
    from .loops import max_pool2d
    return max_pool2d(x, k, stride).astype(np.float32)


def _mismatch(got, want) -> str | None:
    if np.array_equal(got, want):
        return None
    bad = np.argwhere(got != want)
    index = tuple(int(i) for i in bad[0])
    return (f"{len(bad)} of {want.size} outputs wrong, e.g. out{list(index)}: expected {want[index]:.6g}, got "
            f"{got[index]:.6g}" + (" (never written: still the NaN the checker filled out with)"
                                   if np.isnan(got[index]) else ""))


def run_simulator(path: str) -> list[dict]:
    """The checks under the simulator (call with NUMBA_ENABLE_CUDASIM=1 set before numba.cuda is imported)."""
    from .checker import LearnerError, load_module
    try:
        kernel = getattr(load_module(path), "max_pool2d_kernel", None)
    except LearnerError as e:
        return [_result("load the kernel", "FAIL", details=[str(e)])]
    if kernel is None or not hasattr(kernel, "__getitem__"):
        return [_result("load the kernel", "FAIL", details=[
            f"{path} has no @cuda.jit kernel max_pool2d_kernel; keep the name and the decorator of the skeleton"])]
    seed = int.from_bytes(os.urandom(4), "little")
    results, traffic = [], []
    for label, shape, k, stride in CASES:
        x, out_shape = _case_arrays(shape, k, stride, seed)
        out, log = np.full(out_shape, np.nan, dtype=np.float32), {}
        try:
            kernel[_blocks(out_shape), THREADS](Counted(x, "x", log), Counted(out, "out", log), k, stride)
        except NotImplementedError:
            return [_result("results under the CUDA simulator", "FAIL",
                            details=["max_pool2d_kernel is not written yet (it raises NotImplementedError)."]),
                    _result("global memory per output", "SKIP", "fix the results first")]
        except Exception as e:  # noqa: BLE001 -- whatever the kernel raises, report it
            results.append((label, f"the kernel raised {type(e).__name__}: {e}"))
            continue
        problem = _mismatch(out, _expected(x, k, stride))
        if problem:
            results.append((label, problem))
        active = [v for v in log.values() if v["writes"]]
        traffic.append((label, k, max(v["reads"] for v in active) if active else 0,
                        max(v["writes"] for v in active) if active else 0, len(active), out.size))
    title = f"results under the CUDA simulator on {len(CASES)} cases"
    if results:
        details = [line for label, problem in results for line in (f'on "{label}":', "  " + problem)]
        if any(" outside " in p for _, p in results):
            details.append("hint: the grid is rounded up to whole 8x8 blocks: return at once when i >= oh or "
                           "j >= ow, before reading or writing")
        return [_result(title, "FAIL", f"{len(results)} of {len(CASES)} cases wrong", details),
                _result("global memory per output", "SKIP", "fix the results first")]
    return [_result(title, "PASS", "every output equal"), _traffic_result(traffic)]


def _traffic_result(traffic) -> dict:
    title = "global memory per output: reads of x, writes of out"
    details = []
    for label, k, reads, writes, active, outputs in traffic:
        if active != outputs:
            details.append(f'on "{label}": {active} threads wrote, for {outputs} outputs: one thread per output')
        if reads > k * k:
            details.append(f'on "{label}": up to {reads} reads of x for one output; its {k}x{k} window has '
                           f"{k * k} elements: read each once into a local variable and compare that")
        if writes > 1:
            details.append(f'on "{label}": up to {writes} writes of out for one output: keep the running maximum '
                           "in a local variable (a register) and write it once, at the end")
    label, k, reads, writes, _, _ = traffic[-1]
    summary = f"{reads} reads ({k}x{k} window) and {writes} write per output"
    return _result(title, "FAIL" if details else "PASS", summary, details)


def run_device(path: str) -> list[dict]:
    """Results on a real GPU (no counting there), or N/A when there is none."""
    from numba import cuda
    title = "results on a real GPU"
    if not cuda.is_available():
        return [_result(title, "N/A", "no CUDA GPU here; the simulator's checks stand")]
    from .checker import LearnerError, load_module
    try:
        kernel = load_module(path).max_pool2d_kernel
    except (LearnerError, AttributeError) as e:
        return [_result(title, "FAIL", details=[str(e)])]
    problems = []
    for label, shape, k, stride in CASES:
        x, out_shape = _case_arrays(shape, k, stride, 1)
        out = cuda.to_device(np.full(out_shape, np.nan, dtype=np.float32))
        try:
            kernel[_blocks(out_shape), THREADS](cuda.to_device(x), out, k, stride)
            cuda.synchronize()
        except Exception as e:  # noqa: BLE001
            problems.append(f'on "{label}": {type(e).__name__}: {str(e).splitlines()[0]}')
            continue
        problem = _mismatch(out.copy_to_host(), _expected(x, k, stride))
        if problem:
            problems.append(f'on "{label}": {problem}')
    name = cuda.get_current_device().name
    name = name.decode() if isinstance(name, bytes) else name
    return [_result(title, "FAIL" if problems else "PASS", f"on {name}", problems)]


def _result(title, status, summary="", details=()) -> dict:
    return {"title": title, "status": status, "summary": summary, "details": list(details)}


# --- the parent side ---------------------------------------------------------------------------------------------

def _child(path: str, mode: str, simulator: bool, timeout: int = 600) -> list[dict]:
    root = str(Path(__file__).resolve().parents[3])  # the folder holding this minialex package
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1" if simulator else "0",
           "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.run([sys.executable, "-m", __name__, path, mode], env=env, capture_output=True, text=True,
                          timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("[")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-8:]
        return [_result(f"run the kernel ({mode})", "FAIL", "the child process failed", tail)]
    return json.loads(lines[-1])


def check(name: str, path: str):
    from .checker import CheckResult, Report
    report = Report(name, path)
    checks = _child(os.path.abspath(path), "simulator", simulator=True)
    if all(c["status"] in ("PASS", "N/A") for c in checks):
        checks += _child(os.path.abspath(path), "device", simulator=False)
    report.checks += [CheckResult(c["title"], c["status"], c["summary"], c["details"]) for c in checks]
    return report


if __name__ == "__main__":
    file, mode = sys.argv[1:3]
    print(json.dumps(run_simulator(file) if mode == "simulator" else run_device(file)))
