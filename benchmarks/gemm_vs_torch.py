"""NumPy's float32 matmul (the BLAS every minialex layer ends in) against PyTorch's on the GEMMs of an AlexNet step.

    PYTHONPATH=. python benchmarks/gemm_vs_torch.py [--size 72] [--batch 128] [--reps 7]
        [--json benchmarks/results/gemm_vs_torch_72.json]

The same operands for both, interleaved in one process; median ms and GFLOP/s. The dense layers' products are the
same in both libraries, so this is the ceiling of minialex's step wherever BLAS does the work: if PyTorch's GEMM
is faster on this CPU, no change to minialex's own code closes that part of the gap.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from minialex.models import alexnet_feature_size
from minialex.provenance import describe, machine_record, write_results
from minialex.tools.bench import conv_gemm_shapes


def shapes(size: int, batch: int) -> dict:
    """(m, k, n) of the step's largest products: each conv's im2col GEMM, fc6/fc7 forward, dx and dW."""
    s = alexnet_feature_size(size)
    out = {f"conv {name} im2col": shape for name, shape in conv_gemm_shapes(size, batch).items()}
    for name, fan_in in (("fc6", 256 * s * s), ("fc7", 4096)):
        out[f"{name} forward"] = (batch, fan_in, 4096)
        out[f"{name} dx"] = (batch, 4096, fan_in)
        out[f"{name} dW"] = (4096, batch, fan_in)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=72)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    import torch
    record = machine_record()
    print(describe(record))
    rng = np.random.default_rng(0)
    rows = []
    print(f"| GEMM ({args.size} px, batch {args.batch}) | m x k x n | NumPy ms | PyTorch ms | NumPy GFLOP/s | "
          "PyTorch GFLOP/s | NumPy / PyTorch speed |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, (m, k, n) in shapes(args.size, args.batch).items():
        a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        times = {"numpy": [], "torch": []}
        for rep in range(args.reps + 1):
            for lib, call in (("numpy", lambda: a @ b), ("torch", lambda: ta @ tb)):
                start = time.perf_counter()
                call()
                if rep:
                    times[lib].append(time.perf_counter() - start)
        med = {lib: statistics.median(t) for lib, t in times.items()}
        gflops = {lib: 2 * m * k * n / t / 1e9 for lib, t in med.items()}
        rows.append(dict(gemm=name, m=m, k=k, n=n, seconds=times, gflops=gflops))
        print(f"| {name} | {m} x {k} x {n} | {1e3 * med['numpy']:.1f} | {1e3 * med['torch']:.1f} | "
              f"{gflops['numpy']:.0f} | {gflops['torch']:.0f} | {med['torch'] / med['numpy']:.2f}x |", flush=True)
    if args.json:
        write_results(args.json, {"benchmark": "gemm_vs_torch", "size": args.size, "batch": args.batch,
                                  "rows": rows}, record)
        print("wrote", args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
