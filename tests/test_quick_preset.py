"""benchmarks/quick_preset.py: PyTorch's run gets the quick preset's recipe itself, and the results file and table
are assembled from the two run folders as the docs quote them."""

import importlib.util
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from minialex.optim import SGD
from minialex.training import Config

ROOT = Path(__file__).resolve().parent.parent


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


quick_preset = load_script("quick_preset")
QUICK = Config.preset("quick")
# the recipe fields torch_reference.py takes as flags of the same names; the others it fixes (TORCH_REFERENCE_FIXES)
TORCH_FLAGS = ("resize", "epochs", "batch_size", "lr", "momentum", "nesterov", "weight_decay", "lr_schedule", "seed",
               "train_limit", "test_limit")


@pytest.fixture(scope="module")
def torch_reference():
    pytest.importorskip("torch")
    return load_script("torch_reference")


def test_torch_run_gets_every_field_of_the_preset(torch_reference):
    args = torch_reference.parser().parse_args(quick_preset.torch_flags(QUICK) + ["--out", "x"])
    # every field of the recipe is a flag of torch_reference.py or one of what it fixes: a new field fails here
    fixed = set(quick_preset.TORCH_REFERENCE_FIXES) | {"preset", "conv_algorithm"}  # the last: minialex's alone
    assert set(asdict(QUICK)) == set(TORCH_FLAGS) | fixed
    assert {f: getattr(args, f) for f in TORCH_FLAGS} == {f: getattr(QUICK, f) for f in TORCH_FLAGS}
    assert {f: getattr(QUICK, f) for f in quick_preset.TORCH_REFERENCE_FIXES} == quick_preset.TORCH_REFERENCE_FIXES
    assert quick_preset.TORCH_REFERENCE_SCHEDULES == torch_reference.SCHEDULES
    # the recipe docs/training.md and shared/REFERENCE.md state
    assert (args.resize, args.batch_size, args.epochs, args.lr, args.momentum, args.nesterov, args.weight_decay,
            args.lr_schedule) == (72, 128, 4, 0.05, 0.9, True, 5e-4, "onecycle:pct_start=0.25")


def test_short_check_flags_reach_both_runs(torch_reference, tmp_path):
    args = quick_preset.parser().parse_args(["--epochs", "1", "--train-limit", "512", "--test-limit", "256"])
    config = quick_preset.recipe(args)
    (minialex_argv, _), (torch_argv, _) = quick_preset.commands(args, config, tmp_path).values()
    assert minialex_argv == ["python", "-m", "minialex", "train", "--preset", "quick", "--epochs", "1",
                             "--train-limit", "512", "--test-limit", "256", "--out", str(tmp_path / "minialex")]
    parsed = torch_reference.parser().parse_args(torch_argv[2:])
    assert (parsed.epochs, parsed.train_limit, parsed.test_limit) == (1, 512, 256)
    assert parsed.threads == quick_preset.cpu()["usable_cpus"]  # as many threads as Numba's default
    full = quick_preset.commands(quick_preset.parser().parse_args([]), QUICK, tmp_path)
    assert full["minialex"][0] == ["python", "-m", "minialex", "train", "--preset", "quick", "--out",
                                   str(tmp_path / "minialex")]  # the README's main command, nothing added


def test_torch_reference_refuses_a_recipe_it_cannot_run():
    with pytest.raises(ValueError, match="augment"):
        quick_preset.torch_flags(Config.preset("quick", augment="flip"))
    with pytest.raises(ValueError, match="lr_schedule"):
        quick_preset.torch_flags(Config.preset("quick", lr_schedule="cosine"))


def test_torch_schedule_steps_as_minialex(torch_reference):
    import torch
    batches = 7
    ours = SGD([np.zeros(1)], QUICK.lr, QUICK.momentum, QUICK.weight_decay, nesterov=QUICK.nesterov)
    our_schedule = QUICK.build_scheduler(ours, batches)
    theirs = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=QUICK.lr, momentum=QUICK.momentum,
                             nesterov=QUICK.nesterov, weight_decay=QUICK.weight_decay)
    their_schedule = torch_reference.build_scheduler(theirs, QUICK.lr_schedule, QUICK.lr, QUICK.epochs, batches)
    steps = []
    for _ in range(QUICK.epochs * batches):  # the lr and momentum each batch is trained with
        steps.append([(g["lr"], g["momentum"]) for g in (ours.param_groups[0], theirs.param_groups[0])])
        theirs.step()
        our_schedule.step()
        their_schedule.step()
    ours_seen, theirs_seen = np.array(steps).transpose(1, 0, 2)
    np.testing.assert_allclose(ours_seen, theirs_seen, rtol=1e-12, atol=0)
    assert ours_seen[:, 0].max() == pytest.approx(QUICK.lr)  # peaks at the preset's lr
    assert ours_seen[0, 1] == pytest.approx(0.95) and ours_seen[:, 1].min() == pytest.approx(0.85)


def fake_run(run_dir: Path, test_accs, rate):
    run_dir.mkdir(parents=True)
    records = [{"epoch": i + 1, "loss": 1.0 / (i + 1), "train_acc": 0.5 + 0.1 * i, "test_loss": 0.9,
                "test_acc": acc, "examples_per_sec": rate, "warmup_seconds": 0.0, "seconds": 60000 / rate}
               for i, acc in enumerate(test_accs)]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (run_dir / "provenance.jsonl").write_text(json.dumps({"cpu": {"model": "fake"}, "to_epoch": 2}) + "\n")
    (run_dir / "checkpoint.npz").write_bytes(b"not kept")


def test_results_file_and_table_from_two_run_folders(monkeypatch, tmp_path, capsys):
    """main() end to end, with each child replaced by a fake run folder: what it keeps, writes and prints."""
    walls = {"minialex": 600.0, "torch": 900.0}

    def fake_child(argv, numba_cache):
        name = "minialex" if "minialex" in argv[:3] else "torch"
        assert not numba_cache.exists()  # a new, empty Numba cache for each run
        fake_run(Path(argv[argv.index("--out") + 1]), [0.79, 0.85], 400 if name == "minialex" else 300)
        return {"command": " ".join(argv), "returncode": 0, "started": "now", "wall_seconds": walls[name]}

    monkeypatch.setattr(quick_preset, "run_child", fake_child)
    monkeypatch.setattr(quick_preset.os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    out_json = tmp_path / "q.json"
    assert quick_preset.main(["--epochs", "2", "--out-json", str(out_json)]) == 0
    results = json.loads(out_json.read_text())
    assert {"command", "provenance", "runs", "recipe", "torch_flags"} <= set(results)
    assert results["recipe"]["epochs"] == 2 and results["provenance"]["load_average_after"] is not None
    assert results["wall_ratio_torch_over_minialex"] == pytest.approx(1.5)
    for name, run in results["runs"].items():
        assert [r["test_acc"] for r in run["epochs"]] == [0.79, 0.85] and run["wall_seconds"] == walls[name]
        assert run["provenance"] == [{"cpu": {"model": "fake"}, "to_epoch": 2}]
        kept = tmp_path / "q" / name
        assert sorted(p.name for p in kept.iterdir()) == ["metrics.jsonl", "provenance.jsonl"]  # no checkpoint
    out = capsys.readouterr().out
    assert "| library | epoch | loss | train acc | test acc | images/s | seconds |" in out
    assert "| minialex | 2 | 0.500 | 0.600 | 0.850 | 400 | 150 |" in out
    assert "| PyTorch | 1 | 1.000 | 0.500 | 0.790 | 300 | 200 |" in out
    assert "minialex: 600 s wall (10.0 min)" in out and "PyTorch: 900 s wall (15.0 min)" in out
    assert "PyTorch's wall time / minialex's: 1.50x" in out


def test_refuses_a_busy_machine_and_short_checks_into_the_results(monkeypatch, capsys):
    monkeypatch.setattr(quick_preset, "run_child", lambda *a: pytest.fail("started a run"))
    monkeypatch.setattr(quick_preset.os, "getloadavg", lambda: (1.7, 1.0, 0.9))
    assert quick_preset.main(["--only", "torch"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "load average is 1.70" in err and "--allow-busy" in err
    assert quick_preset.main(["--epochs", "1", "--allow-busy"]) == 2  # default --out-json: benchmarks/results/
    assert "short check" in capsys.readouterr().err
