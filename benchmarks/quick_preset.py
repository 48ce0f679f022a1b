"""The quick preset's wall time beside PyTorch's same recipe, each run as a new user runs it, on the same machine.

    PYTHONPATH=. python benchmarks/quick_preset.py      # both runs in full: about an hour on 2 cores, a quiet machine

One after the other, each in a fresh child process (neither warms the other's imports or caches):

1. **minialex**: the README's main command, ``minialex train --preset quick --out DIR``, run as
   ``python -m minialex train ...`` on this checkout's code, with ``NUMBA_CACHE_DIR`` a new empty folder, so
   Numba's compile counts as a new user sees it;
2. **PyTorch**: ``benchmarks/torch_reference.py`` with the flags of the same recipe, built from minialex's
   ``Config.preset("quick")`` (:func:`torch_flags`, so the two cannot drift apart), on the same batches from
   ``minialex.data``, with an empty Numba cache of its own too.

Each wall time runs from the child's start to its exit: the interpreter, the imports, compiling, loading and
checking the data, resizing every batch, the epochs, the test passes, checkpoints and plots. The per-epoch records
come from each run folder's ``metrics.jsonl``. Everything goes into ``--out-json`` (default
``benchmarks/results/quick_preset.json``, written by ``minialex.provenance.write_results``: the command and this
process's machine record beside them), and each run's ``metrics.jsonl`` and ``provenance.jsonl`` (its own process's
machine record) into the folder of the same name beside it (``benchmarks/results/quick_preset/{minialex,torch}/``);
the run folders themselves (checkpoints, plots) are removed.

A short check (``--epochs 1 --train-limit 512 --test-limit 256 --allow-busy --out-json /tmp/q.json``) runs the
whole path in a minute or two; its numbers are not the figure, so it refuses to write under benchmarks/results/.
It is a timing: it refuses to start while the 1-minute load average is above 0.5, unless ``--allow-busy``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minialex.errors import MinialexError  # noqa: E402
from minialex.provenance import cpu, machine_record, write_results  # noqa: E402
from minialex.training.config import Config, parse_schedule  # noqa: E402

PRESET = "quick"
LIBRARIES = ("minialex", "torch")
NAMES = {"minialex": "minialex", "torch": "PyTorch"}
RESULTS = ROOT / "benchmarks" / "results"
MAX_LOAD = 0.5
KEPT_FILES = ("metrics.jsonl", "provenance.jsonl")  # the small files of a run folder that the results keep
SHORT_CHECK = ("epochs", "train_limit", "test_limit")
TORCH_REFERENCE_FIXES = {"model": "alexnet", "dataset": "fashion-mnist", "augment": "none"}  # what it always runs
TORCH_REFERENCE_SCHEDULES = ("constant", "onecycle")


def recipe(args) -> Config:
    """The quick preset, with the short check's flags (None: the preset's) on top."""
    return Config.preset(PRESET, **{k: getattr(args, k) for k in SHORT_CHECK})


def torch_flags(config: Config) -> list[str]:
    """``benchmarks/torch_reference.py``'s flags for ``config``'s recipe; ValueError for a recipe it cannot run."""
    unsupported = {k: getattr(config, k) for k, v in TORCH_REFERENCE_FIXES.items() if getattr(config, k) != v}
    if parse_schedule(config.lr_schedule)[0] not in TORCH_REFERENCE_SCHEDULES:
        unsupported["lr_schedule"] = config.lr_schedule
    if unsupported:
        raise ValueError("torch_reference.py runs d2l's AlexNet on Fashion-MNIST without augmentation, with a "
                         f"constant or onecycle schedule; this recipe has {unsupported}")
    flags = ["--resize", str(config.image_size), "--epochs", str(config.epochs), "--batch-size",
             str(config.batch_size), "--lr", repr(config.lr), "--momentum", repr(config.momentum),
             "--nesterov" if config.nesterov else "--no-nesterov", "--weight-decay", repr(config.weight_decay),
             "--lr-schedule", config.lr_schedule, "--seed", str(config.seed)]
    for name in ("train_limit", "test_limit"):
        if getattr(config, name) is not None:
            flags += [f"--{name.replace('_', '-')}", str(getattr(config, name))]
    return flags


def minialex_flags(args) -> list[str]:
    """``minialex train``'s flags: the preset, and only the short check's flags that were given."""
    flags = ["--preset", PRESET]
    for name in SHORT_CHECK:
        if getattr(args, name) is not None:
            flags += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    return flags


def commands(args, config: Config, work: Path) -> dict:
    """Each library's child command (argv, ``python`` standing for this interpreter) and run folder. PyTorch
    gets as many threads as Numba takes by default, every CPU this process may use (torch_reference.py's own
    default is 2)."""
    threads = str(cpu()["usable_cpus"])
    return {"minialex": (["python", "-m", "minialex", "train", *minialex_flags(args), "--out", str(work / "minialex")],
                         work / "minialex"),
            "torch": (["python", "benchmarks/torch_reference.py", *torch_flags(config), "--threads", threads,
                       "--out", str(work / "torch")], work / "torch")}


def run_child(argv: list[str], numba_cache: Path) -> dict:
    """Run ``argv`` from the repository's root on this checkout's code, with an empty Numba cache; its wall time."""
    numba_cache.mkdir(parents=True)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(numba_cache),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    started, start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), time.perf_counter()
    code = subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, env=env).returncode
    wall = time.perf_counter() - start
    return {"command": "NUMBA_CACHE_DIR=$(mktemp -d) PYTHONPATH=. " + " ".join(argv), "returncode": code,
            "started": started, "wall_seconds": wall}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def collect(run: dict, run_dir: Path) -> dict:
    """``run`` (from :func:`run_child`) with the run folder's per-epoch records and machine records."""
    return {**run, "epochs": read_jsonl(run_dir / "metrics.jsonl"), "provenance": read_jsonl(run_dir / "provenance.jsonl")}


def keep(run_dir: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in KEPT_FILES:
        shutil.copyfile(run_dir / name, dest / name)


def wall_ratio(runs: dict) -> float | None:
    """PyTorch's wall time over minialex's: above 1, minialex finished sooner (None unless both ran)."""
    if not all(name in runs for name in LIBRARIES):
        return None
    return runs["torch"]["wall_seconds"] / runs["minialex"]["wall_seconds"]


def markdown(runs: dict) -> str:
    """The per-epoch table of every run, then the wall times and their ratio."""
    lines = ["| library | epoch | loss | train acc | test acc | images/s | seconds |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, run in runs.items():
        lines += [f"| {NAMES[name]} | {r['epoch']} | {r['loss']:.3f} | {r['train_acc']:.3f} | {r['test_acc']:.3f} | "
                  f"{r['examples_per_sec']:.0f} | {r['seconds']:.0f} |" for r in run["epochs"]]
    lines.append("")
    lines += [f"{NAMES[name]}: {run['wall_seconds']:.0f} s wall ({run['wall_seconds'] / 60:.1f} min), test acc "
              f"{run['epochs'][-1]['test_acc']:.3f}: {run['command']}" for name, run in runs.items()]
    ratio = wall_ratio(runs)
    if ratio is not None:
        lines.append(f"PyTorch's wall time / minialex's: {ratio:.2f}x (above 1: minialex finished sooner)")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=None, help="a short check: epochs for both (default the preset's)")
    p.add_argument("--train-limit", type=int, default=None, metavar="N", help="a short check: first N train images")
    p.add_argument("--test-limit", type=int, default=None, metavar="N", help="a short check: first N test images")
    p.add_argument("--only", choices=LIBRARIES, default=None, help="run one library only")
    p.add_argument("--out-json", default=str(RESULTS / "quick_preset.json"), metavar="PATH",
                   help="results file (default benchmarks/results/quick_preset.json); the runs' small files go "
                        "into the folder of the same name beside it")
    p.add_argument("--allow-busy", action="store_true",
                   help=f"run even if the 1-minute load average is above {MAX_LOAD} (the timings then mean little)")
    return p


def refusal(args) -> str | None:
    """Why this run should not start (a one-line message), or None."""
    out_json = Path(args.out_json).resolve()
    if any(getattr(args, k) is not None for k in SHORT_CHECK) and RESULTS.resolve() in out_json.parents:
        return (f"--epochs/--train-limit/--test-limit make a short check, not the figure; give an --out-json "
                f"outside {RESULTS.relative_to(ROOT)}/")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > MAX_LOAD and not args.allow_busy:
        return (f"the 1-minute load average is {load:.2f}, above {MAX_LOAD}: other work would be timed too; wait "
                f"for a quiet machine, or pass --allow-busy")
    return None


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        reason = refusal(args)
        config = recipe(args)
        flags = torch_flags(config)
    except (MinialexError, ValueError) as e:
        reason = str(e)
    if reason:
        print(f"quick_preset.py: {reason}", file=sys.stderr)
        return 2
    out_json = Path(args.out_json).resolve()
    record = machine_record()
    work = Path(tempfile.mkdtemp(prefix="quick_preset-"))
    runs = {}
    for name, (argv, run_dir) in commands(args, config, work).items():
        if args.only not in (None, name):
            continue
        print(f"== {NAMES[name]}: {' '.join(argv)}", flush=True)
        run = run_child(argv, work / f"numba-cache-{name}")
        if run["returncode"] != 0:
            print(f"quick_preset.py: the {NAMES[name]} run failed (exit {run['returncode']}); its run folder is "
                  f"kept in {run_dir}", file=sys.stderr)
            return 1
        runs[name] = collect(run, run_dir)
    files = out_json.with_suffix("")
    shutil.rmtree(files, ignore_errors=True)
    for name in runs:
        keep(work / name, files / name)
        runs[name]["files"] = os.path.relpath(files / name, ROOT)
    write_results(out_json, {"preset": PRESET, "recipe": asdict(config), "torch_flags": flags, "runs": runs,
                             "wall_ratio_torch_over_minialex": wall_ratio(runs)}, record)
    shutil.rmtree(work, ignore_errors=True)
    print(markdown(runs))
    print(f"results: {os.path.relpath(out_json, ROOT)}, run records in {os.path.relpath(files, ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
