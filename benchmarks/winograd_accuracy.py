"""Float32 error of each Winograd F(m, r) on AlexNet's real stride-1 layers, against a float64 direct convolution.

    PYTHONPATH=. python benchmarks/winograd_accuracy.py --size 96 --json benchmarks/results/winograd_accuracy_96.json

For the output y, the input gradient dx and the weight gradient dW, the table shows max|error| / max|exact|: the
exact value is im2col + GEMM in float64 (Winograd and im2col agree to ~1e-13 in float64), the inputs are ReLU'd
normals (what a conv sees after ReLU), the weights Xavier-uniform as in d2l's AlexNet, the upstream gradient a
normal draw. float32 im2col is listed as the floor any float32 convolution has. The JSON carries the command and
the machine (:func:`minialex.provenance.write_results`).
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from minialex import Tensor
from minialex.ops import conv2d, winograd
from minialex.provenance import machine_record, write_results

# AlexNet's stride-1 convolutions: name, in channels, out channels, kernel, padding, map side at 224, 96 and 72 px
LAYERS = [("conv2", 96, 256, 5, 2, {224: 26, 96: 10, 72: 7}), ("conv3", 256, 384, 3, 1, {224: 12, 96: 4, 72: 3}),
          ("conv4", 384, 384, 3, 1, {224: 12, 96: 4, 72: 3}), ("conv5", 384, 256, 3, 1, {224: 12, 96: 4, 72: 3})]


def gradients(x, w, g, dtype, algorithm, padding, tile=None):
    xt, wt = Tensor(x.astype(dtype), requires_grad=True), Tensor(w.astype(dtype), requires_grad=True)
    y = conv2d(xt, wt, None, 1, padding, algorithm=algorithm, tile=tile)
    y.backward(g.astype(dtype))
    return y.data.astype(np.float64), xt.grad.astype(np.float64), wt.grad.astype(np.float64)


def relative(got, exact) -> float:
    return float(np.abs(got - exact).max() / np.abs(exact).max())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224, choices=(224, 96, 72))
    parser.add_argument("--json", default=None, help="also write the table as JSON")
    args = parser.parse_args(argv)
    record = machine_record()
    rng = np.random.default_rng(0)
    rows = []
    print(f"| layer | algorithm | y | dx | dW |   ({args.size} px, batch {args.batch}; max|error| / max|exact|)")
    print("|---|---|---:|---:|---:|")
    for name, c, oc, r, p, side in LAYERS:
        h = side[args.size]
        x = np.maximum(rng.standard_normal((args.batch, c, h, h)), 0)
        bound = math.sqrt(6 / (c * r * r + oc * r * r))
        w = rng.uniform(-bound, bound, (oc, c, r, r))
        g = rng.standard_normal((args.batch, oc, h + 2 * p - r + 1, h + 2 * p - r + 1))
        exact = gradients(x, w, g, np.float64, "im2col", p)
        candidates = [("im2col", None)] + [(f"F({m},{r})", m) for m in winograd.TILES[r]]
        for label, m in candidates:
            got = gradients(x, w, g, np.float32, "im2col" if m is None else "winograd", p, m)
            errors = [relative(a, b) for a, b in zip(got, exact)]
            rows.append({"layer": name, "algorithm": label, "y": errors[0], "dx": errors[1], "dW": errors[2]})
            print(f"| {name} | {label} | {errors[0]:.1e} | {errors[1]:.1e} | {errors[2]:.1e} |", flush=True)
    if args.json:
        write_results(args.json, {"size": args.size, "batch": args.batch, "rows": rows}, record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
