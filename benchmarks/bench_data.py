"""Time the data path: load + verify Fashion-MNIST, what a .npy cache would save, resize and loader throughput.

    PYTHONPATH=. python benchmarks/bench_data.py [--backend numpy|numba|cupy]
"""

import argparse
import gzip
import hashlib
import os
import tempfile
import time

import numpy as np

from minialex import backend
from minialex.data import DataLoader, load_dataset, resize
from minialex.data import fashion_mnist as fm


def best(f, repeat=5):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def sync(b):
    if b.on_gpu:
        b.xp.cuda.Device().synchronize()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--backend", default=None)
    args = p.parse_args()
    b = backend.use_backend(args.backend) if args.backend else backend.get_backend()
    print(f"backend {b.name}, {os.cpu_count()} CPUs")

    folder = fm.locate(download=False)
    print(f"data in {folder}")

    def cold_load():
        fm._memo.clear()
        return load_dataset(data_dir=folder, download=False)

    print(f"load + verify, train and test:  {best(cold_load):.3f} s")
    path = fm._find(folder, "train-images-idx3-ubyte")
    raw = gzip.decompress(path.read_bytes())
    print(f"  of which train images gunzip: {best(lambda: gzip.decompress(path.read_bytes())):.3f} s, "
          f"SHA-256: {best(lambda: hashlib.sha256(raw).hexdigest()):.3f} s")
    train, test = cold_load()
    with tempfile.TemporaryDirectory() as tmp:
        npy = os.path.join(tmp, "train.npy")
        np.save(npy, train.images)
        print(f"  a .npy of train images would load in {best(lambda: np.load(npy)):.3f} s "
              f"(+ {best(lambda: hashlib.sha256(np.load(npy)).hexdigest()):.3f} s with a digest)")

    x8 = train.images[:128].copy()
    for size in (224, 96):
        dev = b.asarray(x8)

        def run():
            resize(dev, size)
            sync(b)

        run()
        t = best(run, 20)
        print(f"resize 128 images 28 -> {size}: {t * 1e3:.2f} ms = {128 / t:,.0f} images/s")
        loader = DataLoader(train, 128, resize=size, seed=0, limit=128 * 40)

        def epoch():
            for x, y in loader:
                pass
            sync(b)

        t = best(epoch, 3)
        print(f"  loader (gather, to device, resize) at {size}: {128 * 40 / t:,.0f} images/s")


if __name__ == "__main__":
    main()
