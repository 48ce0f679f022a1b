"""Numba kernels vs the NumPy reference on AlexNet's real shapes, plus Numba's compile and cache-load cost.

    PYTHONPATH=. python benchmarks/kernels.py [--batch 128] [--reps 5] [--json PATH]

Each case times the two engines alternately (reference, numba, reference, ...) so that load from other
processes hits both alike; the table shows medians and the ratio of medians. Times include allocating the
output, as the kernels' interface does: on a VM, first-touching a fresh 800 MB im2col matrix alone can
cost 100 ms or more. ``--json`` also writes the tables, with the command and the machine
(:func:`minialex.provenance.write_results`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numba
import numpy as np

from minialex.kernels import cpu_numba, reference
from minialex.kernels.geometry import output_hw
from minialex.provenance import describe, machine_record, write_results


def alexnet_cases(batch):
    """(name, function name, args-maker) for the conv im2col/col2im and pool forward/backward of AlexNet at 224 px."""
    convs = [("conv1", (batch, 1, 224, 224), (11, 11), (4, 4), (1, 1)),
             ("conv2", (batch, 96, 26, 26), (5, 5), (1, 1), (2, 2)),
             ("conv3", (batch, 256, 12, 12), (3, 3), (1, 1), (1, 1)),
             ("conv4/5", (batch, 384, 12, 12), (3, 3), (1, 1), (1, 1))]
    pools = [("pool1", (batch, 96, 54, 54)), ("pool2", (batch, 256, 26, 26)), ("pool5", (batch, 256, 12, 12))]
    rng = np.random.default_rng(0)
    cases = []
    for name, shape, k, s, p in convs:
        x = rng.standard_normal(shape, dtype=np.float32)
        oh, ow = output_hw(*shape[2:], k, s, p)
        col = rng.standard_normal((shape[1] * k[0] * k[1], batch * oh * ow), dtype=np.float32)
        cases.append((f"{name} im2col", "im2col", (x, k, s, p)))
        cases.append((f"{name} col2im", "col2im", (col, shape, k, s, p)))
        del col
    for name, shape in pools:
        x = rng.standard_normal(shape, dtype=np.float32)
        y, argmax = reference.maxpool_forward(x, (3, 3), (2, 2), (0, 0))
        cases.append((f"{name} maxpool fwd", "maxpool_forward", (x, (3, 3), (2, 2), (0, 0))))
        cases.append((f"{name} maxpool bwd", "maxpool_backward", (y, argmax, shape, (3, 3), (2, 2), (0, 0))))
    return cases


def time_interleaved(fns, args, reps):
    times = [[] for _ in fns]
    for _ in range(reps):
        for t, fn in zip(times, fns):
            start = time.perf_counter()
            fn(*args)
            t.append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times], [(min(t), max(t)) for t in times]


_FIRST_CALLS = """
import time, numpy as np
t0 = time.perf_counter()
from minialex.kernels import cpu_numba as k
t1 = time.perf_counter()
x = np.ones((2, 3, 8, 8), np.float32)
col = k.im2col(x, (3, 3), (1, 1), (1, 1)); k.col2im(col, x.shape, (3, 3), (1, 1), (1, 1))
y, a = k.maxpool_forward(x, (3, 3), (2, 2), (0, 0)); k.maxpool_backward(y, a, x.shape, (3, 3), (2, 2), (0, 0))
k.gemm_to_nchw(col[:4], 2, np.ones(4, np.float32)); k.nchw_to_gemm(x)
k.relu_backward(k.relu_forward(x), x); k.dropout_mask(x, 0.5)
print(f"{t1 - t0:.3f} {time.perf_counter() - t1:.3f}")
"""


def compile_times():
    """Import time and first float32 call of every kernel: with an empty cache, then again from the cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=os.getcwd())
        runs = [subprocess.run([sys.executable, "-c", _FIRST_CALLS], env=env, capture_output=True, text=True,
                               check=True).stdout.split() for _ in range(2)]
    return [tuple(map(float, r)) for r in runs]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json", default=None, help="also write the tables as JSON")
    args = ap.parse_args(argv)
    record = machine_record()
    print(describe(record))
    (imp0, first0), (imp1, first1) = compile_times()
    print(f"all 10 kernels, float32, fresh process: empty cache {first0:.2f} s (import {imp0:.2f} s); "
          f"from cache {first1:.2f} s (import {imp1:.2f} s)\n")

    print(f"batch {args.batch}, float32, {args.reps} interleaved reps, numba threads = {numba.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print("| kernel | numpy ms | numba ms | speedup |")
    print("|---|---:|---:|---:|")
    rows = []
    for name, fname, fargs in alexnet_cases(args.batch):
        ref, fast = getattr(reference, fname), getattr(cpu_numba, fname)
        fast(*fargs)  # compile outside the timing
        (t_ref, t_fast), _ = time_interleaved([ref, fast], fargs, args.reps)
        rows.append({"kernel": name, "numpy_s": t_ref, "numba_s": t_fast})
        print(f"| {name} | {1e3 * t_ref:.1f} | {1e3 * t_fast:.1f} | {t_ref / t_fast:.1f}x |", flush=True)
    if args.json:
        compile_s = {"empty_cache": {"import": imp0, "first_calls": first0},
                     "from_cache": {"import": imp1, "first_calls": first1}}
        write_results(args.json, {"benchmark": "kernels", "batch": args.batch, "reps": args.reps,
                                  "compile_s": compile_s, "rows": rows}, record)


if __name__ == "__main__":
    main()
