"""Training throughput of AlexNet per input size and batch size: forward + backward + SGD update, images/s.

    PYTHONPATH=. python benchmarks/train_speed.py --sizes 65 72 80 96 --batch-sizes 64 128 --steps 4

The first step of each shape is a warm-up and not counted; the median of the rest is reported, with the process's
CPU seconds per image (on a machine shared with other work, wall time says little; CPU time says what it costs).
"""

import argparse
import os
import time

import numpy as np

import minialex
from minialex import models, ops, optim
from minialex.autograd import Tensor


def measure(size: int, batch: int, steps: int) -> tuple[float, float]:
    minialex.manual_seed(0)
    net = models.alexnet(10, 1, size)
    opt = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = rng.random((batch, 1, size, size), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    wall, cpu = [], []
    for _ in range(steps + 1):
        t, c = time.perf_counter(), time.process_time()
        loss = ops.cross_entropy(net(Tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return batch / float(np.median(wall[1:])), float(np.median(cpu[1:])) / batch


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[65, 72, 80, 96])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 128])
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--backend", default=None)
    args = p.parse_args()
    b = minialex.use_backend(args.backend) if args.backend else minialex.get_backend()
    print(f"backend {b.name}, {os.cpu_count()} CPUs, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '-')}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| size | batch | images/s | CPU ms / image |\n|---|---|---|---|")
    for size in args.sizes:
        for batch in args.batch_sizes:
            rate, cpu = measure(size, batch, args.steps)
            print(f"| {size} | {batch} | {rate:.1f} | {cpu * 1000:.1f} |", flush=True)


if __name__ == "__main__":
    main()
