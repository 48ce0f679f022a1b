"""``minialex bench`` runs end to end in a tiny configuration and writes a report that says what it measured."""

import importlib.util
import json

from minialex.cli import main
from minialex.tools.bench import memory_vs_torch, spread

HAVE_TORCH = importlib.util.find_spec("torch") is not None


def test_bench_writes_json_and_chart_for_every_engine(tmp_path, capsys):
    assert main(["bench", "--input-size", "67", "--batch-size", "2", "--reps", "1", "--backend", "numpy", "numba",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "## Per layer" in out and "## Training step" in out

    report = json.loads((tmp_path / "bench.json").read_text())
    contenders = ["numpy/im2col", "numpy/auto", "numba/im2col", "numba/auto"] + (["torch"] if HAVE_TORCH else [])
    # With OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE set, each step is measured once more with them unset.
    rows, reruns = report["steps"][:len(contenders)], report["steps"][len(contenders):]
    assert [r["engine"] for r in rows] == contenders
    assert all(r["engine"].endswith(" unset)") for r in reruns)
    for row in rows:
        assert row["size"] == 67 and row["batch"] == 2 and len(row["times"]) == 1
        assert row["median"] > 0 and row["images_per_s"] > 0 and row["gflops"] > 0
        assert row["memory"]["peak_mib"] >= row["memory"]["before_steps_mib"] > 0
        assert (row["vs_torch"] is None) == (not HAVE_TORCH)
    layers = report["layers"]["layers"]
    assert [ly["name"] for ly in layers][:3] == ["0", "1", "2"] and layers[-1]["name"] == "loss"
    per_layer = ("numpy/im2col", "numpy/winograd", "numba/im2col", "numba/winograd") + (("torch",) if HAVE_TORCH else ())
    assert all(ly[c]["forward"] >= 0 and ly[c]["backward"] >= 0 for ly in layers for c in per_layer)
    assert set(report["matmul_gflops"]) == {"0", "3", "6", "8", "10"}  # the five convolutions
    assert set(report["layers_by_size"]) == {"67"}  # the per-layer table at every size asked for
    blas = report["environment"]["blas"]
    assert blas and {"internal_api", "architecture", "num_threads"} <= set(blas[0])
    assert (tmp_path / "layers.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = report["provenance"]  # the machine record (tests/test_provenance.py checks its fields)
    assert record["blas"] == blas and record["load_average_after"] is not None and record["git"]["commit"]
    if HAVE_TORCH:  # memory against PyTorch both ways, whole process and steps only, for each contender
        assert [(r["size"], r["engine"]) for r in report["memory_vs_torch"]] == [(67, c) for c in contenders[:-1]]
        assert "## Peak memory against PyTorch" in out and "| steps only |" in out


def test_memory_against_torch_is_reported_whole_process_and_steps_only():
    rows = [{"size": 224, "engine": "numba/auto", "memory": {"peak_mib": 1500.0, "before_steps_mib": 400.0}},
            {"size": 224, "engine": "torch", "memory": {"peak_mib": 1440.0, "before_steps_mib": 500.0}},
            {"size": 224, "engine": "numba/auto (OPENBLAS_CORETYPE unset)"}]  # reruns have no memory
    assert memory_vs_torch(rows) == [{"size": 224, "engine": "numba/auto", "whole_process": 1500 / 1440,
                                      "steps_only": 1100 / 940}]


def test_spread_reports_median_quartiles_and_range():
    s = spread([4.0, 1.0, 3.0, 2.0, 5.0])
    assert (s["median"], s["q1"], s["q3"], s["min"], s["max"]) == (3.0, 2.0, 4.0, 1.0, 5.0)
