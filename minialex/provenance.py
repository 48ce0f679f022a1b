"""Where a measurement was made: the machine, its BLAS, the versions, the load and the commit, as one record.

Every results file (``minialex bench``'s bench.json, the scripts in ``benchmarks/``, a training run's
``provenance.jsonl``) carries :func:`machine_record`, so a figure quoted in the docs can be traced to the machine
that made it. Speed ratios move with the CPU's vector units and with the kernel OpenBLAS picks (an AVX2 "Haswell"
kernel runs NumPy's matmul at about half the speed of the AVX-512 one on the same Zen 5 core), so the record names
both; the load average before and after says whether other work shared the machine.

    record = machine_record()          # before the measurement
    ...                                # measure
    finish_record(record)              # adds the load average after, and the date it ended
"""

from __future__ import annotations

import datetime
from importlib import metadata
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

# The CPU flags that decide which BLAS kernel and which vector code run (Linux /proc/cpuinfo names).
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
             "amx_tile", "amx_bf16", "amx_int8", "neon", "asimd", "sve")
REPOSITORY = Path(__file__).resolve().parent.parent


def cpu() -> dict:
    """CPU model, the ISA flags above that it has, logical CPUs and the ones this process may use."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "Model") and model in ("", platform.machine(), platform.processor()):
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:  # not Linux: the model from platform, no flags
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"model": model, "machine": platform.machine(), "isa": [f for f in ISA_FLAGS if f in flags],
            "logical_cpus": os.cpu_count(), "usable_cpus": usable}


def blas() -> list[dict]:
    """The BLAS libraries loaded in this process and the kernel each chose (``architecture``, threadpoolctl's
    name for OpenBLAS's core type); without threadpoolctl, what ``numpy.show_config`` knows of its BLAS."""
    import numpy as np
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        info = np.show_config(mode="dicts") if np.lib.NumpyVersion(np.__version__) >= "1.26.0" else {}
        found = (info or {}).get("Build Dependencies", {}).get("blas", {})
        return [{"internal_api": found.get("name"), "version": found.get("version"), "architecture": None,
                 "num_threads": None, "source": "numpy.show_config (pip install threadpoolctl for the kernel)"}]
    return [{k: lib.get(k) for k in ("internal_api", "prefix", "version", "architecture", "num_threads",
                                     "threading_layer")}
            for lib in threadpool_info() if lib.get("user_api") == "blas"]


def versions() -> dict:
    import numba
    import numpy as np
    found = {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__}
    try:  # the installed version, without importing torch (which would change this process)
        found["torch"] = sys.modules["torch"].__version__ if "torch" in sys.modules else metadata.version("torch")
    except metadata.PackageNotFoundError:
        pass
    return found


def threads() -> dict:
    import numba
    counts = {"numba": numba.get_num_threads(), "numba_threading_layer": _numba_layer()}
    if "torch" in sys.modules:  # only if the measurement imported it: importing torch changes the process
        counts["torch"] = sys.modules["torch"].get_num_threads()
    return counts


def git() -> dict:
    """The commit of the checkout minialex runs from, and whether tracked files differ from it (``dirty``)."""
    def run(*args):
        return subprocess.run(["git", "-C", str(REPOSITORY), *args], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
    try:
        return {"commit": run("rev-parse", "HEAD"), "dirty": bool(run("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):  # an installed copy, or no git
        return {"commit": None, "dirty": None}


def machine_record() -> dict:
    """The record to store beside a measurement, taken before it starts (see the module docstring)."""
    return {
        "date": _now(), "cpu": cpu(), "blas": blas(),
        "env": {k: v for k, v in sorted(os.environ.items())
                if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "NUMBA_", "MINIALEX_"))},
        "threads": threads(), "versions": versions(), "git": git(),
        "load_average_before": _load(), "load_average_after": None, "finished": None,
    }


def finish_record(record: dict) -> dict:
    """``record`` with the load average after the measurement and the time it ended (in place; returned)."""
    record.update(load_average_after=_load(), finished=_now())
    return record


def command_line(argv: list[str] | None = None) -> str:
    """The command that made this process's results, as a reader would type it from the repository's root."""
    argv = sys.argv if argv is None else argv
    script = os.path.relpath(argv[0], REPOSITORY) if os.path.isabs(argv[0]) else argv[0]
    return shlex.join(["python", script, *argv[1:]])


def write_results(path, results: dict, record: dict) -> None:
    """Write ``results`` as JSON to ``path`` with the command that made them and ``record`` (finished here) beside
    them, atomically: a reader never sees half a file, and a killed run leaves the previous one in place."""
    clash = {"command", "provenance"} & results.keys()
    if clash:
        raise ValueError(f"write_results: the results must not hold {sorted(clash)}: write_results records them")
    payload = {"command": command_line(), "provenance": finish_record(record), **results}
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    partial = f"{path}.partial"
    try:
        with open(partial, "w") as f:
            json.dump(payload, f, indent=1)
            f.write("\n")
        os.replace(partial, path)
    finally:  # a failed write (a value JSON cannot hold) leaves neither half a file nor the partial
        if os.path.exists(partial):
            os.remove(partial)


def describe(record: dict) -> str:
    """One line for a report's heading: CPU, ISA, BLAS kernel, threads, load, commit."""
    c, v, g = record["cpu"], record["versions"], record["git"]
    kernels = ", ".join(f"{b['internal_api']} {b['version']} {b['architecture']} ({b['num_threads']} threads)"
                        for b in record["blas"]) or "unknown"
    load = record["load_average_before"]
    commit = (g["commit"] or "unknown")[:7] + (" (dirty)" if g["dirty"] else "")
    return (f"{c['model']}, {c['usable_cpus']} of {c['logical_cpus']} CPUs, {' '.join(c['isa']) or 'no ISA flags'}; "
            f"BLAS {kernels}; numba {v['numba']} ({record['threads']['numba']} threads), numpy {v['numpy']}, "
            f"python {v['python']}" + (f", torch {v['torch']}" if "torch" in v else "")
            + (f"; load {load[0]:.2f}" if load else "") + f"; commit {commit}")


def _numba_layer():
    import numba
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet, so no layer was chosen
        return os.environ.get("NUMBA_THREADING_LAYER")


def _load():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
