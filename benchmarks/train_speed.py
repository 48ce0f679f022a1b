"""Training throughput of AlexNet per input size and batch size: forward + backward + SGD update, images/s.

    PYTHONPATH=. python benchmarks/train_speed.py --sizes 65 72 80 96 --batch-sizes 64 128 --steps 4 [--json PATH]

The first step of each shape is a warm-up and not counted; the median of the rest is reported, with the process's
CPU seconds per image (on a machine shared with other work, wall time says little; CPU time says what it costs).
``--json`` also writes the table, with the command and the machine (:func:`minialex.provenance.write_results`).
"""

import argparse
import time

import numpy as np

import minialex
from minialex import models, ops, optim
from minialex.autograd import Tensor
from minialex.provenance import describe, machine_record, write_results


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
    p.add_argument("--json", default=None, help="also write the table as JSON")
    args = p.parse_args()
    b = minialex.use_backend(args.backend) if args.backend else minialex.get_backend()
    record = machine_record()
    print(f"backend {b.name}; {describe(record)}")
    print("| size | batch | images/s | CPU ms / image |\n|---|---|---|---|")
    rows = []
    for size in args.sizes:
        for batch in args.batch_sizes:
            rate, cpu = measure(size, batch, args.steps)
            rows.append({"size": size, "batch": batch, "images_per_s": rate, "cpu_s_per_image": cpu})
            print(f"| {size} | {batch} | {rate:.1f} | {cpu * 1000:.1f} |", flush=True)
    if args.json:
        write_results(args.json, {"benchmark": "train_speed", "backend": b.name, "steps": args.steps, "rows": rows},
                      record)


if __name__ == "__main__":
    main()
