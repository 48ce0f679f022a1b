"""d2l's LeNet chapter, run as written, once per seed: the numbers beside d2l's published 0.469 / 0.823 / 0.779.

The chapter's text is read from docs/porting_from_d2l.md (the code block tests/test_d2l.py checks is d2l's), and
each seed runs it in a fresh Python process, one after another (never side by side), after
``minialex.manual_seed(seed)``, which fixes the weight init and the loader's shuffling. The run's closing lines
(``loss ..., train acc ..., test acc ...`` and ``... examples/sec on cpu``) are parsed, its wall time measured, and
everything goes into one JSON file with the machine it ran on and, per seed, the commit it ran::

    nice -n 10 python benchmarks/lenet_chapter.py --seeds 0 1 2 --out benchmarks/results/lenet_chapter.json

Data: real Fashion-MNIST where ``minialex.data`` finds it (``/usr/share/datasets/fashion-mnist/`` here). Timings
depend on what else the machine runs; the results file records the load average before and after each seed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minialex.provenance import git, machine_record, write_results  # noqa: E402

D2L_PUBLISHED = {"loss": 0.469, "train_acc": 0.823, "test_acc": 0.779}
CLOSING = re.compile(r"loss (?P<loss>[\d.]+), train acc (?P<train_acc>[\d.]+), test acc (?P<test_acc>[\d.]+)\n"
                     r"(?P<examples_per_sec>[\d.]+) examples/sec on (?P<device>\S+)")


def chapter_text(doc: Path = ROOT / "docs" / "porting_from_d2l.md") -> str:
    """The python block of the doc that holds d2l's LeNet chapter (the one with ``lr, num_epochs = 0.9, 10``)."""
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S)
    chapter = [b for b in blocks if "nn.AvgPool2d" in b and "lr, num_epochs = 0.9, 10" in b]
    if len(chapter) != 1:
        raise SystemExit(f"{doc}: expected one python block with d2l's LeNet chapter, found {len(chapter)}")
    return chapter[0]


def run_seed(seed: int, text: str, engine: str) -> dict:
    """One full run of the chapter in a fresh process; its parsed closing lines, wall time and load."""
    program = f"import minialex\nminialex.manual_seed({seed})\n" + text
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
           "MINIALEX_BACKEND": engine, "MPLBACKEND": "Agg"}
    load_before, code = os.getloadavg(), git()  # per seed: the code this process imports
    with tempfile.TemporaryDirectory() as workdir:  # the Animator's figure lands here, not in the repo
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", program], cwd=workdir, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"seed {seed}: the chapter failed:\n{done.stderr[-2000:]}")
    match = CLOSING.search(done.stdout)
    if match is None:
        raise SystemExit(f"seed {seed}: no closing lines in the output:\n{done.stdout[-2000:]}")
    row = {k: (v if k == "device" else float(v)) for k, v in match.groupdict().items()}
    return {"seed": seed, **row, **code, "wall_s": round(wall, 1), "load_average_before": load_before,
            "load_average_after": os.getloadavg(), "stdout_tail": done.stdout.splitlines()[-3:]}


def summary(runs: list[dict]) -> dict:
    out = {}
    for key in ("loss", "train_acc", "test_acc", "wall_s"):
        values = [r[key] for r in runs]
        out[key] = {"mean": round(statistics.fmean(values), 4), "min": min(values), "max": max(values),
                    "stdev": round(statistics.stdev(values), 4) if len(values) > 1 else None}
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--engine", default="numba", help="MINIALEX_BACKEND for the runs (default numba)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "lenet_chapter.json"))
    args = parser.parse_args(argv)
    text = chapter_text()
    record = machine_record()
    result = {"what": "d2l's LeNet chapter (6.6) as written: 60000 images, 10 epochs, batch 256, lr 0.9",
              "engine": args.engine, "nice": os.nice(0), "d2l_published": D2L_PUBLISHED, "runs": []}
    for seed in args.seeds:
        result["runs"].append(run_seed(seed, text, args.engine))
        result["summary"] = summary(result["runs"])
        write_results(args.out, result, record)  # after every seed: a kill keeps the seeds done
        run = result["runs"][-1]
        print(f"seed {seed}: loss {run['loss']:.3f}, train acc {run['train_acc']:.3f}, "
              f"test acc {run['test_acc']:.3f}, {run['wall_s']:.0f} s", flush=True)
    print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()
