"""Time the data path: load + verify Fashion-MNIST, what a .npy cache would save, resize and loader throughput.

    PYTHONPATH=. python benchmarks/bench_data.py [--backend numpy|numba|cupy] [--json PATH]

``--json`` also writes the timings (seconds; best of several), with the command and the machine
(:func:`minialex.provenance.write_results`).
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
from minialex.provenance import describe, machine_record, write_results


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
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default=None)
    p.add_argument("--json", default=None, help="also write the timings as JSON")
    args = p.parse_args()
    b = backend.use_backend(args.backend) if args.backend else backend.get_backend()
    record = machine_record()
    print(f"backend {b.name}; {describe(record)}")
    seconds = {}  # what --json writes: each timing printed below

    folder = fm.locate(download=False)
    print(f"data in {folder}")

    def cold_load():
        fm._memo.clear()
        return load_dataset(data_dir=folder, download=False)

    seconds["load_verify"] = best(cold_load)
    print(f"load + verify, train and test:  {seconds['load_verify']:.3f} s")
    path = fm._find(folder, "train-images-idx3-ubyte")
    raw = gzip.decompress(path.read_bytes())
    seconds["gunzip_train_images"] = best(lambda: gzip.decompress(path.read_bytes()))
    seconds["sha256_train_images"] = best(lambda: hashlib.sha256(raw).hexdigest())
    print(f"  of which train images gunzip: {seconds['gunzip_train_images']:.3f} s, "
          f"SHA-256: {seconds['sha256_train_images']:.3f} s")
    train, test = cold_load()
    with tempfile.TemporaryDirectory() as tmp:
        npy = os.path.join(tmp, "train.npy")
        np.save(npy, train.images)
        seconds["npy_load"] = best(lambda: np.load(npy))
        seconds["npy_load_sha256"] = best(lambda: hashlib.sha256(np.load(npy)).hexdigest())
        print(f"  a .npy of train images would load in {seconds['npy_load']:.3f} s "
              f"(+ {seconds['npy_load_sha256']:.3f} s with a digest)")

    x8 = train.images[:128].copy()
    for size in (224, 96):
        dev = b.asarray(x8)

        def run():
            resize(dev, size)
            sync(b)

        run()
        t = seconds[f"resize_128_to_{size}"] = best(run, 20)
        print(f"resize 128 images 28 -> {size}: {t * 1e3:.2f} ms = {128 / t:,.0f} images/s")
        loader = DataLoader(train, 128, resize=size, seed=0, limit=128 * 40)

        def epoch():
            for x, y in loader:
                pass
            sync(b)

        t = seconds[f"loader_40x128_at_{size}"] = best(epoch, 3)
        print(f"  loader (gather, to device, resize) at {size}: {128 * 40 / t:,.0f} images/s")
    if args.json:
        write_results(args.json, {"benchmark": "bench_data", "backend": b.name, "data_dir": str(folder),
                                  "seconds": seconds}, record)


if __name__ == "__main__":
    main()
