"""Each Winograd tile F(m, r) against im2col on AlexNet's stride-1 layers: forward + backward of one conv2d call.

    PYTHONPATH=. python benchmarks/winograd_tiles.py [--sizes 224 96 72] [--reps 3]

Batch 128 on the active engine (numba unless MINIALEX_BACKEND says otherwise); every candidate is timed in turn in
one process, the table shows medians and (minima) in ms after one warm-up round. NumPy's matmul, most of the work,
follows OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE: say which way they were set when you quote the numbers.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from minialex import Tensor
from minialex.ops import conv2d, winograd

# name, in channels, out channels, map side, kernel, padding -- per input size
LAYERS = {224: [("conv2", 96, 256, 26, 5, 2), ("conv3", 256, 384, 12, 3, 1), ("conv4", 384, 384, 12, 3, 1),
                ("conv5", 384, 256, 12, 3, 1)],
          96: [("conv2", 96, 256, 10, 5, 2), ("conv3", 256, 384, 4, 3, 1), ("conv4", 384, 384, 4, 3, 1)],
          72: [("conv2", 96, 256, 7, 5, 2), ("conv3", 256, 384, 3, 3, 1)]}
TILES = {3: (2, 4, 6), 5: (2, 4)}


def forward_backward(x, w, g, padding, tile, r) -> float:
    """Seconds for one conv2d forward + backward; ``tile`` None runs im2col."""
    if tile is not None:
        winograd.TILE[r] = tile
    start = time.perf_counter()
    y = conv2d(x, w, None, 1, padding, algorithm="im2col" if tile is None else "winograd")
    y.backward(g)
    x.grad = w.grad = None
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 96, 72], choices=sorted(LAYERS))
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    default_tiles = dict(winograd.TILE)
    print("| size | layer | im2col | " + " | ".join(f"F(m, r), m = {m}" for m in (2, 4, 6)) + " |")
    print("|---:|---|---:|---:|---:|---:|")
    for size in args.sizes:
        for name, c, oc, h, r, p in LAYERS[size]:
            x = Tensor(np.maximum(rng.standard_normal((128, c, h, h)), 0).astype(np.float32), requires_grad=True)
            w = Tensor((rng.standard_normal((oc, c, r, r)) / np.sqrt(c * r * r)).astype(np.float32),
                       requires_grad=True)
            g = rng.standard_normal((128, oc, h + 2 * p - r + 1, h + 2 * p - r + 1)).astype(np.float32)
            candidates = (None, *TILES[r])
            times = {t: [] for t in candidates}
            for rep in range(args.reps + 1):  # the first round is a warm-up
                for tile in candidates:
                    seconds = forward_backward(x, w, g, p, tile, r)
                    if rep:
                        times[tile].append(seconds)
            cells = [f"{1e3 * statistics.median(times[t]):.0f} ({1e3 * min(times[t]):.0f})" if t in times else "--"
                     for t in (None, 2, 4, 6)]
            print(f"| {size} | {name} {r}x{r} | " + " | ".join(cells) + " |", flush=True)
            winograd.TILE.update(default_tiles)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
