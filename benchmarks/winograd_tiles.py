"""Every Winograd tile F(m, r) against im2col on AlexNet's and LeNet's stride-1 layers: forward + backward of one
conv2d call, float32. What ``auto``'s rule (minialex.ops.conv_algorithm.prefers_winograd) is calibrated on.

    PYTHONPATH=. python benchmarks/winograd_tiles.py [--sizes 224 96 72 28] [--reps 5] [--batch 128]
        [--chunk-mib 192] [--json benchmarks/results/winograd_tiles.json]

On the active engine (numba unless MINIALEX_BACKEND says otherwise). Every candidate of a layer is timed in turn
in one process, round after round, after one warm-up round; the table shows the median and (min-max) in ms, the
multiply ratio of each tile (transform-domain multiplies over im2col's) and what ``auto`` runs. Time it on a quiet
machine. The JSON records the machine (CPU, ISA, BLAS kernel, threads, load, commit) beside the times.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from minialex import Tensor, backend
from minialex.ops import conv2d, conv_algorithm, winograd
from minialex.provenance import describe, machine_record, write_results

# name, in channels, out channels, input side, kernel, padding -- per input size (28: LeNet's, at batch 256)
LAYERS = {224: [("conv2", 96, 256, 26, 5, 2), ("conv3", 256, 384, 12, 3, 1), ("conv4", 384, 384, 12, 3, 1),
                ("conv5", 384, 256, 12, 3, 1)],
          96: [("conv2", 96, 256, 10, 5, 2), ("conv3", 256, 384, 4, 3, 1), ("conv4", 384, 384, 4, 3, 1),
               ("conv5", 384, 256, 4, 3, 1)],
          72: [("conv2", 96, 256, 7, 5, 2), ("conv3", 256, 384, 3, 3, 1), ("conv4", 384, 384, 3, 3, 1),
               ("conv5", 384, 256, 3, 3, 1)],
          28: [("lenet conv1", 1, 6, 28, 5, 2), ("lenet conv2", 6, 16, 14, 5, 0)]}


def forward_backward(x, w, g, padding, tile, chunk_bytes) -> float:
    """Seconds for one conv2d forward + backward; ``tile`` None runs im2col."""
    start = time.perf_counter()
    if tile is None:
        y = conv2d(x, w, None, 1, padding, algorithm="im2col")
    else:
        y = winograd.conv2d_winograd(x, w, None, (padding, padding), _out(x, w, padding), tile, chunk_bytes)
    y.backward(g)
    x.grad = w.grad = None
    return time.perf_counter() - start


def _out(x, w, padding):
    side = x.shape[2] + 2 * padding - w.shape[2] + 1
    return side, side


def time_layer(c, oc, h, r, p, batch, reps, chunk_bytes, rng) -> dict:
    """{"im2col": [s, ...], "F(m,r)": [...], ...} for one layer, candidates interleaved round by round."""
    x = Tensor(np.maximum(rng.standard_normal((batch, c, h, h)), 0).astype(np.float32), requires_grad=True)
    w = Tensor((rng.standard_normal((oc, c, r, r)) / np.sqrt(c * r * r)).astype(np.float32), requires_grad=True)
    o = h + 2 * p - r + 1
    g = rng.standard_normal((batch, oc, o, o)).astype(np.float32)
    candidates = {"im2col": None, **{f"F({m},{r})": m for m in winograd.TILES[r]}}
    times = {name: [] for name in candidates}
    for rep in range(reps + 1):  # the first round is a warm-up (and Numba's compile)
        for name, tile in candidates.items():
            seconds = forward_backward(x, w, g, p, tile, chunk_bytes)
            if rep:
                times[name].append(seconds)
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 96, 72, 28], choices=sorted(LAYERS))
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=128, help="batch size (LeNet's layers: twice this)")
    parser.add_argument("--chunk-mib", type=float, default=winograd.CHUNK_BYTES / 2**20,
                        help="Winograd's chunk size in MiB (default %(default)s)")
    parser.add_argument("--json", default="benchmarks/results/winograd_tiles.json")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    engine = backend.get_backend().name
    chunk_bytes = int(args.chunk_mib * 2**20)
    record = machine_record()
    print(describe(record))
    rows = []
    print(f"engine {engine}, float32, batch {args.batch} (LeNet {2 * args.batch}), chunks of {args.chunk_mib:g} MiB; "
          "forward + backward ms, median (min-max) of", args.reps)
    print("| size | layer | map | candidate | multiply ratio | ms | auto |")
    print("|---:|---|---:|---|---:|---:|---|")
    for size in args.sizes:
        batch = 2 * args.batch if size == 28 else args.batch
        for name, c, oc, h, r, p in LAYERS[size]:
            o = h + 2 * p - r + 1
            times = time_layer(c, oc, h, r, p, batch, args.reps, chunk_bytes, rng)
            auto = "winograd" if conv_algorithm.prefers_winograd((o, o), r, c, engine) else "im2col"
            auto_tile = f"F({winograd.choose_tile(r, (o, o))},{r})" if auto == "winograd" else "im2col"
            for cand, ts in times.items():
                ratio = 1.0 if cand == "im2col" else winograd.multiply_ratio((o, o), r, int(cand[2:-3]))
                row = dict(size=size, layer=name, in_channels=c, out_channels=oc, map=o, kernel=r, padding=p,
                           batch=batch, candidate=cand, multiply_ratio=ratio, seconds=ts,
                           median_ms=1e3 * statistics.median(ts), auto=cand == auto_tile)
                rows.append(row)
                print(f"| {size} | {name} {r}x{r} | {o}x{o} | {cand} | {ratio:.2f} | {row['median_ms']:.1f} "
                      f"({1e3 * min(ts):.1f}-{1e3 * max(ts):.1f}) | {'auto' if row['auto'] else ''} |", flush=True)
    result = {"benchmark": "winograd_tiles", "engine": engine, "dtype": "float32", "batch": args.batch,
              "chunk_bytes": chunk_bytes, "reps": args.reps, "rows": rows}
    write_results(args.json, result, record)
    print("wrote", args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
