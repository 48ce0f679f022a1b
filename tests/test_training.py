"""The training loop: it learns, it records, it resumes exactly, it stops cleanly, and it refuses bad setups early."""

import json
import signal

import numpy as np
import pytest

import minialex
from minialex import backend, optim
from minialex.cli import main
from minialex.data import fashion_mnist
from minialex.ops import winograd
from minialex.training import Config, Diverged, Interrupted, TrainingError, checkpoint, fit, loop
from minialex.training.config import parse_checkpoint_every

REAL_DATA = fashion_mnist.DEBIAN_DIR.is_dir() or fashion_mnist.cache_dir().is_dir()
RECORD_KEYS = {"epoch", "loss", "train_acc", "test_loss", "test_acc", "examples_per_sec", "warmup_seconds", "seconds"}
TIMING_KEYS = {"examples_per_sec", "warmup_seconds", "seconds"}

# AlexNet at its smallest input, with dropout, on a few synthetic images: small enough to run three times.
# im2col: the NumPy engine's Winograd transforms are slow loops (the numba engine's are not), and the tests of the
# loop are not about the convolutions.
TINY_ALEXNET = dict(model="alexnet", dataset="synthetic", resize=65, epochs=2, batch_size=16, lr=0.01,
                    momentum=0.9, train_limit=32, test_limit=8, seed=3, conv_algorithm="im2col")


def quiet(*args):
    pass


def numbers(history):
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in history]


def weights(run_dir):
    model, optimizer, meta = checkpoint.load(run_dir / "checkpoint.npz")
    return model, optimizer["velocity"], meta


@pytest.fixture(autouse=True)
def numpy_engine():
    with backend.backend("numpy"):  # the engine seeded runs are bit-reproducible on
        yield


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The reference: TINY_ALEXNET run for two epochs in one go."""
    out = tmp_path_factory.mktemp("uninterrupted")
    with backend.backend("numpy"):
        history = fit(Config.preset("d2l", **TINY_ALEXNET), out, progress=False, log=quiet)
    return out, history


def test_a_run_writes_config_metrics_curves_and_checkpoint(uninterrupted):
    out, history = uninterrupted
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert lines == history and [r["epoch"] for r in lines] == [1, 2]
    assert all(set(r) == RECORD_KEYS and np.isfinite(list(r.values())).all() for r in lines)
    config = json.loads((out / "config.json").read_text())
    assert config["resize"] == 65 and config["backend"] == "numpy"
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    _, velocity, meta = weights(out)
    assert meta["position"]["epoch"] == 2 and meta["config"]["momentum"] == 0.9
    assert all(v is not None for v in velocity)


def test_same_seed_same_metrics_and_weights(uninterrupted, tmp_path):
    out, history = uninterrupted
    again = fit(Config.preset("d2l", **TINY_ALEXNET), tmp_path, progress=False, log=quiet)
    assert numbers(again) == numbers(history)
    for name, value in weights(out)[0].items():
        np.testing.assert_array_equal(weights(tmp_path)[0][name], value, err_msg=name)


def test_resume_after_one_epoch_equals_the_uninterrupted_run(uninterrupted, tmp_path):
    out, history = uninterrupted
    fit(Config.preset("d2l", **{**TINY_ALEXNET, "epochs": 1}), tmp_path, progress=False, log=quiet)
    resumed = fit(Config.preset("d2l", **TINY_ALEXNET), tmp_path, resume=True, progress=False, log=quiet)
    assert numbers(resumed) == numbers(history)
    assert_same_state(tmp_path, out)


def test_ctrl_c_mid_epoch_saves_and_resume_is_exact(uninterrupted, tmp_path, monkeypatch, capsys):
    """SIGINT in epoch 2's first batch: the run stops after that batch, saves, and a resume ends bit-identical."""
    out, history = uninterrupted
    steps = []
    real_step = optim.SGD.step

    def step_then_ctrl_c(self):
        real_step(self)
        steps.append(1)
        if len(steps) == 3:  # 2 batches per epoch: this is epoch 2, batch 1
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(optim.SGD, "step", step_then_ctrl_c)
    with pytest.raises(Interrupted, match="--resume"):
        fit(Config.preset("d2l", **TINY_ALEXNET), tmp_path, progress=False, log=quiet)
    assert weights(tmp_path)[2]["position"]["epoch"] == 1 and weights(tmp_path)[2]["position"]["batch"] == 1
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 1
    monkeypatch.setattr(optim.SGD, "step", real_step)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler was put back
    resumed = fit(Config.preset("d2l", **TINY_ALEXNET), tmp_path, resume=True, progress=False, log=quiet)
    assert numbers(resumed) == numbers(history)
    assert_same_state(tmp_path, out)


def assert_same_state(run_a, run_b):
    (model_a, velocity_a, _), (model_b, velocity_b, _) = weights(run_a), weights(run_b)
    for name in model_b:
        np.testing.assert_array_equal(model_a[name], model_b[name], err_msg=name)
    for a, b in zip(velocity_a, velocity_b):
        np.testing.assert_array_equal(a, b)


class FakeCupy:
    """NumPy in CuPy's place, for the random API the GPU engine's dropout path uses (cuRAND's Philox, seeded)."""

    made = []

    class cuda:
        class curand:
            CURAND_RNG_PSEUDO_PHILOX4_32_10 = 106

    class random:
        class RandomState:
            def __init__(self, seed, method):
                assert method == FakeCupy.cuda.curand.CURAND_RNG_PSEUDO_PHILOX4_32_10
                FakeCupy.made.append(seed)
                self._rng = np.random.default_rng(seed)

            def random_sample(self, shape, dtype):
                return self._rng.random(shape, dtype=dtype)


def test_dropout_on_the_gpu_path_resumes_exactly(tmp_path, monkeypatch):
    """The GPU engine's dropout generator is derived from the host stream, whose state the checkpoint keeps: with
    NumPy standing in for CuPy, a run stopped mid-epoch and resumed draws the masks the whole run draws (a device
    generator rebuilt from the seed on resume would replay the run's first masks)."""
    from types import SimpleNamespace
    monkeypatch.setattr(backend, "get_backend", lambda: SimpleNamespace(on_gpu=True, xp=FakeCupy))
    monkeypatch.setattr(FakeCupy, "made", [])
    one_epoch = {**TINY_ALEXNET, "epochs": 1}
    whole = fit(Config.preset("d2l", **one_epoch), tmp_path / "whole", progress=False, log=quiet)
    drawn = len(FakeCupy.made)
    assert drawn == 4 and len(set(FakeCupy.made)) == 4  # 2 dropout layers x 2 batches, each its own seed
    stop_after_steps(monkeypatch, 1)
    with pytest.raises(Interrupted):
        fit(Config.preset("d2l", **one_epoch), tmp_path / "split", progress=False, log=quiet)
    monkeypatch.setattr(optim.SGD, "step", REAL_SGD_STEP)
    resumed = fit(Config.preset("d2l", **one_epoch), tmp_path / "split", resume=True, progress=False, log=quiet)
    assert FakeCupy.made[drawn:] == FakeCupy.made[:drawn]
    assert numbers(resumed) == numbers(whole)
    assert_same_state(tmp_path / "split", tmp_path / "whole")


REAL_SGD_STEP = optim.SGD.step


def stop_after_steps(monkeypatch, n):
    """Ctrl-C right after the n-th optimizer step."""
    steps = []

    def step_then_ctrl_c(self):
        REAL_SGD_STEP(self)
        steps.append(1)
        if len(steps) == n:
            signal.raise_signal(signal.SIGINT)
    monkeypatch.setattr(optim.SGD, "step", step_then_ctrl_c)


SCHEDULED = {**TINY_ALEXNET, "lr": 0.02, "nesterov": True, "weight_decay": 5e-4,
             "lr_schedule": "onecycle:pct_start=0.5"}


def torch_schedule(torch, opt, spec, n, total):
    """PyTorch's scheduler for a --lr-schedule spec, ``n`` batches an epoch, ``total`` in the run."""
    lrs = torch.optim.lr_scheduler
    return {
        "onecycle:pct_start=0.5": lambda: lrs.OneCycleLR(opt, max_lr=0.02, total_steps=total, pct_start=0.5),
        "warmup_cosine:warmup=1,start_factor=0.2": lambda: lrs.SequentialLR(
            opt, [lrs.LinearLR(opt, 0.2, 1.0, total_iters=n), lrs.CosineAnnealingLR(opt, T_max=total - n)], [n]),
        "multistep:milestones=1+2,gamma=0.5": lambda: lrs.MultiStepLR(opt, [n, 2 * n], gamma=0.5),
        "exponential:gamma=0.5": lambda: lrs.ExponentialLR(opt, gamma=0.5 ** (1 / n)),
        "step:step_size=2,gamma=0.3": lambda: lrs.StepLR(opt, step_size=2 * n, gamma=0.3),
        "cosine:eta_min=0.001": lambda: lrs.CosineAnnealingLR(opt, T_max=total, eta_min=0.001),
    }[spec]()


@pytest.mark.parametrize("spec", ["onecycle:pct_start=0.5", "warmup_cosine:warmup=1,start_factor=0.2",
                                  "multistep:milestones=1+2,gamma=0.5", "exponential:gamma=0.5",
                                  "step:step_size=2,gamma=0.3", "cosine:eta_min=0.001"])
def test_a_schedule_sets_the_lr_of_every_batch_as_pytorchs_loop_would(spec, tmp_path, monkeypatch):
    """The lr and momentum each optimizer step uses, against torch.optim's scheduler stepped after each batch."""
    torch = pytest.importorskip("torch")
    used, real_step = [], optim.SGD.step
    monkeypatch.setattr(optim.SGD, "step", lambda self: (used.append((self.lr, self.momentum)), real_step(self)))
    fit(Config.preset("d2l", **{**LENET_SYNTHETIC, "epochs": 3, "train_limit": 96, "lr": 0.02, "lr_schedule": spec}),
        tmp_path, progress=False, log=quiet)  # 3 batches an epoch
    topt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.02, momentum=0.9)
    tsched = torch_schedule(torch, topt, spec, 3, 9)
    expected = []
    for _ in range(9):
        expected.append((topt.param_groups[0]["lr"], topt.param_groups[0]["momentum"]))
        topt.step()
        tsched.step()
    assert used == expected and len({lr for lr, _ in used}) > 1


def test_a_plateau_schedule_steps_once_an_epoch_on_the_test_loss_as_pytorchs(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    used, real_step = [], optim.SGD.step
    monkeypatch.setattr(optim.SGD, "step", lambda self: (used.append(self.lr), real_step(self)))
    spec = "plateau:patience=0,factor=0.5,threshold=0.5"  # the loss must halve to count as better: it will not
    history = fit(Config.preset("d2l", **{**LENET_SYNTHETIC, "epochs": 4, "train_limit": 64, "lr": 0.02,
                                          "lr_schedule": spec}), tmp_path, progress=False, log=quiet)
    topt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.02, momentum=0.9)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, patience=0, factor=0.5, threshold=0.5)
    expected = []
    for record in history:
        expected += [topt.param_groups[0]["lr"]] * 2  # 2 batches an epoch
        tsched.step(record["test_loss"])
    assert used == expected and used[-1] < used[0]
    assert weights(tmp_path)[2]["scheduler"]["num_bad_epochs"] == tsched.num_bad_epochs


def test_the_test_loss_is_pytorchs_cross_entropy():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(0, 5, (50, 10)), rng.integers(0, 10, 50)
    expected = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels)).item()
    assert loop.mean_cross_entropy(logits, labels) == pytest.approx(expected, rel=1e-12)


def test_ctrl_c_with_a_schedule_then_resume_equals_the_uninterrupted_run(tmp_path, monkeypatch):
    whole = fit(Config.preset("d2l", **SCHEDULED), tmp_path / "whole", progress=False, log=quiet)
    steps, real_step = [], optim.SGD.step

    def step_then_ctrl_c(self):
        real_step(self)
        steps.append(1)
        if len(steps) == 3:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(optim.SGD, "step", step_then_ctrl_c)
    with pytest.raises(Interrupted):
        fit(Config.preset("d2l", **SCHEDULED), tmp_path / "split", progress=False, log=quiet)
    monkeypatch.setattr(optim.SGD, "step", real_step)
    assert weights(tmp_path / "split")[2]["scheduler"]["last_epoch"] == 3
    resumed = fit(Config.preset("d2l", **SCHEDULED), tmp_path / "split", resume=True, progress=False, log=quiet)
    assert numbers(resumed) == numbers(whole)
    assert_same_state(tmp_path / "split", tmp_path / "whole")
    assert weights(tmp_path / "split")[2]["scheduler"] == weights(tmp_path / "whole")[2]["scheduler"]
    assert (tmp_path / "split" / "curve.jsonl").read_text() == (tmp_path / "whole" / "curve.jsonl").read_text()
    # provenance.jsonl: one machine record per process that worked on the run, each with the epochs it finished
    sessions = [json.loads(line) for line in (tmp_path / "split" / "provenance.jsonl").read_text().splitlines()]
    assert [(s["from_epoch"], s["to_epoch"]) for s in sessions] == [(0, 1), (1, 2)]  # Ctrl-C in epoch 2, then the rest
    assert sessions[1]["load_average_after"] is not None and sessions[1]["git"]["commit"]
    assert sessions[0]["cpu"]["logical_cpus"] >= 1 and sessions[0]["versions"]["numpy"] == np.__version__
    with pytest.raises(TrainingError, match="spans the run's 2 epochs, so --epochs cannot change"):
        fit(Config.preset("d2l", **{**SCHEDULED, "epochs": 3}), tmp_path / "whole", resume=True, progress=False,
            log=quiet)


def test_the_curve_has_a_point_every_fifth_of_an_epoch(tmp_path):
    fit(Config.preset("d2l", **{**LENET_SYNTHETIC, "epochs": 2, "train_limit": 320}), tmp_path, progress=False,
        log=quiet)  # 10 batches an epoch: a point every 2 batches
    points = [json.loads(line) for line in (tmp_path / "curve.jsonl").read_text().splitlines()]
    assert [p["epoch"] for p in points] == [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0]
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [set(r) for r in records] == [RECORD_KEYS] * 2  # metrics.jsonl: still one record per epoch
    assert [p["loss"] for p in points if p["epoch"] in (1.0, 2.0)] == [r["loss"] for r in records]


@pytest.mark.parametrize("n, expected", [(10, [2, 4, 6, 8, 10]), (4, [1, 2, 3, 4]), (12, [2, 4, 6, 8, 10, 12]),
                                         (7, [1, 2, 3, 4, 5, 6, 7]), (11, [2, 4, 6, 8, 10, 11])])
def test_curve_points_follow_d2ls_rule(n, expected):
    assert [b for b in range(1, n + 1) if loop.is_curve_point(b, n)] == expected


def test_resume_refuses_a_changed_recipe(uninterrupted):
    out, _ = uninterrupted
    with pytest.raises(TrainingError, match=r"lr 0\.1 \(saved 0\.01\)"):
        fit(Config.preset("d2l", **{**TINY_ALEXNET, "lr": 0.1}), out, resume=True, progress=False, log=quiet)


# ReLU LeNet: learns synthetic data in an epoch (d2l's sigmoid LeNet does not) and diverges at a huge lr
LENET_SYNTHETIC = dict(model="lenet-relu-maxpool", dataset="synthetic", epochs=1, batch_size=32, lr=0.05, momentum=0.9,
                       train_limit=256, test_limit=64, conv_algorithm="im2col")


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    fit(Config.preset("d2l", **LENET_SYNTHETIC), tmp_path, progress=False, log=quiet)
    good = (tmp_path / "checkpoint.npz").read_bytes()
    real_cross_entropy = loop.ops.cross_entropy
    monkeypatch.setattr(loop.ops, "cross_entropy", lambda logits, y: real_cross_entropy(logits * np.nan, y))
    with pytest.raises(Diverged, match=r"loss became nan in epoch 2, batch 1.*smaller --lr.*last good checkpoint"):
        fit(Config.preset("d2l", **{**LENET_SYNTHETIC, "epochs": 2}), tmp_path, resume=True, progress=False, log=quiet)
    assert (tmp_path / "checkpoint.npz").read_bytes() == good
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 1


def test_a_huge_learning_rate_exits_nonzero_with_a_clear_message(tmp_path, capsys):
    code = main(["train", "--model", "lenet-relu-maxpool", "--dataset", "synthetic", "--lr", "1e4", "--batch-size", "32",
                 "--epochs", "1", "--train-limit", "256", "--test-limit", "64", "--out", str(tmp_path / "run"),
                 "--no-progress", "--backend", "numpy"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "diverged (try a smaller --lr)" in err and "No checkpoint had been written yet" in err


def test_synthetic_data_is_learned(tmp_path):
    history = fit(Config.preset("d2l", **{**LENET_SYNTHETIC, "epochs": 3, "train_limit": 512, "test_limit": 200}),
                  tmp_path, progress=False, log=quiet)
    assert history[-1]["test_acc"] >= 0.6 and history[-1]["loss"] < history[0]["loss"]


@pytest.mark.skipif(not REAL_DATA, reason="Fashion-MNIST files not installed")
def test_a_short_run_on_fashion_mnist_beats_chance_clearly(tmp_path):
    config = Config.preset("d2l", model="lenet-relu-maxpool", epochs=2, batch_size=16, lr=0.05, momentum=0.9,
                           train_limit=512, test_limit=300)
    history = fit(config, tmp_path, progress=False, log=quiet)
    assert history[-1]["test_acc"] >= 0.4  # chance is 0.1


@pytest.mark.skipif(not REAL_DATA, reason="Fashion-MNIST files not installed")
def test_the_full_224_px_recipe_runs(tmp_path):
    """d2l's recipe unchanged except for a few images and a small batch: every shape at 224 px works."""
    history = fit(Config.preset("d2l", train_limit=8, test_limit=8, batch_size=4, epochs=1), tmp_path,
                  progress=False, log=quiet)
    assert history[0]["epoch"] == 1 and np.isfinite(history[0]["loss"])
    assert weights(tmp_path)[2]["config"]["resize"] == 224


def test_evaluate_prints_per_class_accuracy_and_saves_the_confusion_matrix(tmp_path, capsys):
    fit(Config.preset("d2l", **LENET_SYNTHETIC), tmp_path, progress=False, log=quiet)
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "checkpoint.npz"), "--backend", "numpy"]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and "per-class accuracy" in out and "checker" in out and "confusion" in out
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("spec, expected", [("10m", (600.0, None)), ("90s", (90.0, None)), ("1.5h", (5400.0, None)),
                                            ("500", (None, 500)), ("epoch", (None, None)), (" 2M ", (120.0, None))])
def test_checkpoint_every_specs(spec, expected):
    assert parse_checkpoint_every(spec) == expected


def test_a_checkpoint_every_n_batches_is_written_inside_the_epoch(tmp_path, monkeypatch):
    saved, real_save = [], checkpoint.save
    monkeypatch.setattr(checkpoint, "save", lambda path, model, opt, **meta: (
        saved.append((meta["position"]["epoch"], meta["position"]["batch"])), real_save(path, model, opt, **meta)))
    fit(Config.preset("d2l", **{**LENET_SYNTHETIC, "epochs": 2, "train_limit": 160}), tmp_path, progress=False,
        log=quiet, checkpoint_every="2")  # 5 batches an epoch
    assert saved == [(0, 2), (0, 4), (1, 0), (1, 2), (1, 4), (2, 0)]


def test_the_presets_are_the_documented_recipes():
    d2l = Config.preset("d2l")
    assert (d2l.resize, d2l.batch_size, d2l.lr, d2l.epochs, d2l.momentum) == (224, 128, 0.01, 10, 0.0)
    assert Config.preset().preset == "d2l"
    quick = Config.preset("quick")
    assert (quick.model, quick.resize, quick.batch_size, quick.epochs, quick.lr) == ("alexnet", 72, 128, 4, 0.05)
    assert (quick.momentum, quick.nesterov, quick.weight_decay) == (0.9, True, 5e-4)
    assert quick.lr_schedule == "onecycle:pct_start=0.25" and quick.schedule_spans_run()
    assert Config.preset("quick", epochs=1).epochs == 1


# --- errors come before any work --------------------------------------------------------------------------------

@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if training gets as far as loading data."""
    def load_dataset(*args, **kwargs):
        raise AssertionError("data was loaded before the error was found")
    monkeypatch.setattr(loop, "load_dataset", load_dataset)


@pytest.mark.parametrize("flags, message", [
    (["--batch-size", "many"], "--batch-size/--batch: invalid int value: 'many'"),
    (["--preset", "fast"], "invalid choice: 'fast'"),
])
def test_flags_that_are_not_even_numbers_or_choices_are_rejected_by_the_parser(flags, message, no_work, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", *flags])
    assert e.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--epochs", "0"], "epochs must be a positive integer, got 0"),
    (["--lr", "-1"], "lr must be a finite number >= 0, got -1.0"),
    (["--momentum", "nan"], "momentum must be a finite number >= 0, got nan"),
    (["--resize", "32"], "alexnet: input_size must be at least 65 pixels"),
    (["--input-size", "32"], "alexnet: input_size must be at least 65 pixels"),
    (["--model", "lenet", "--resize", "64"], "lenet takes 28x28 inputs only"),
    (["--lr", "0"], "lr must be > 0"),
    (["--resume"], "--resume needs --out DIR"),
    (["--lr-schedule", "warp"], "unknown lr schedule 'warp'; expected one of constant, step, multistep, exponential"),
    (["--lr-schedule", "step:gama=0.5"], "expected key=value with a key among step_size, gamma, got 'gama=0.5'"),
    (["--lr-schedule", "onecycle:pct_start=2"], "pct_start must be"),
    (["--nesterov"], "nesterov needs a momentum > 0"),
    (["--lr-schedule", "multistep"], "'multistep' needs milestones, the epochs at which the lr is multiplied"),
    (["--lr-schedule", "multistep:milestones=2,4"], "expected key=value with a key among milestones, gamma, got '4'"),
    (["--lr-schedule", "multistep:milestones=2;4"], "milestones must be epochs joined by '+' (2+4), got '2;4'"),
    (["--lr-schedule", "plateau:metric=val_loss"], "metric must be test_loss or test_acc, got 'val_loss'"),
    (["--lr-schedule", "plateau:patience=1.5"], "patience must be an integer, got '1.5'"),
    (["--lr-schedule", "plateau:factor=2"], r"factor must be a number in [0, 1), got 2.0"),
    (["--lr-schedule", "warmup_cosine:warmup=10", "--epochs", "10"], "warmup=10 epochs is the whole run of 10"),
    (["--checkpoint-every", "10x"], "--checkpoint-every '10x': expected a time (10m, 90s, 1h), a number of batches"),
    (["--checkpoint-every", "0"], "--checkpoint-every '0': expected"),
])
def test_impossible_recipes_are_one_clear_line(flags, message, no_work, capsys):
    assert main(["train", *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_an_out_dir_that_cannot_be_written_is_refused_before_work(tmp_path, no_work, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["train", "--out", str(blocker / "run")]) == 2
    assert f"cannot write to the output folder {blocker / 'run'}" in capsys.readouterr().err


def test_an_existing_run_is_not_overwritten_and_a_missing_one_not_resumed(tmp_path, no_work, capsys):
    assert main(["train", "--out", str(tmp_path), "--resume"]) == 2
    assert "holds no run to continue (no config.json); start one without --resume" in capsys.readouterr().err
    (tmp_path / "metrics.jsonl").write_text("")  # what a run killed before its first checkpoint leaves
    (tmp_path / "config.json").write_text(json.dumps({"preset": "d2l"}))
    assert main(["train", "--out", str(tmp_path)]) == 2
    assert "holds a run that stopped before its first checkpoint; continue it with --resume (it starts again " \
        "from the beginning)" in capsys.readouterr().err
    (tmp_path / "checkpoint.npz").write_bytes(b"")
    assert main(["train", "--out", str(tmp_path)]) == 2
    assert "already holds a run; continue it with --resume" in capsys.readouterr().err
    (tmp_path / "checkpoint.npz").unlink()
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 1}\n')
    assert main(["train", "--out", str(tmp_path), "--resume"]) == 2
    assert "records 1 finished epochs in metrics.jsonl but has no checkpoint.npz" in capsys.readouterr().err


def test_a_run_killed_before_its_first_checkpoint_resumes_from_the_start(uninterrupted, tmp_path, monkeypatch):
    """Killed while loading the data: the folder holds config.json only; --resume runs it whole, as if new."""
    out, history = uninterrupted

    def killed(*args):
        raise KeyboardInterrupt  # stands for SIGKILL: nothing after this point runs
    real = loop.load_dataset
    monkeypatch.setattr(loop, "load_dataset", killed)
    with pytest.raises(KeyboardInterrupt):
        fit(Config.preset("d2l", **TINY_ALEXNET), tmp_path, progress=False, log=quiet)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]
    monkeypatch.setattr(loop, "load_dataset", real)
    said = []
    resumed = fit(Config.preset("d2l", **TINY_ALEXNET), tmp_path, resume=True, progress=False, log=said.append)
    assert "has no checkpoint yet (the run stopped before its first one): starting it again" in said[0]
    assert numbers(resumed) == numbers(history)
    assert_same_state(tmp_path, out)


def test_a_train_limit_beyond_the_data_is_an_error(tmp_path, capsys):
    assert main(["train", "--dataset", "synthetic", "--model", "lenet", "--train-limit", "99999",
                 "--out", str(tmp_path)]) == 2
    assert "--train-limit 99999 is more than the 2000 train examples" in capsys.readouterr().err


# --- the convolution algorithm is part of the recipe ------------------------------------------------------------

def test_a_new_recipe_takes_the_process_default_conv_algorithm_and_checks_the_name():
    with minialex.conv_algorithm("im2col"):
        assert Config.preset("quick").conv_algorithm == "im2col"
    assert Config.preset("quick", conv_algorithm="winograd").conv_algorithm == "winograd"
    with pytest.raises(TrainingError, match="conv_algorithm must be one of auto, im2col, winograd, got 'fast'"):
        Config.preset("quick", conv_algorithm="fast")


LENET_TINY = ["train", "--model", "lenet", "--dataset", "synthetic", "--batch-size", "16", "--train-limit", "32",
              "--test-limit", "8", "--no-progress"]


def test_the_recorded_conv_algorithm_is_what_runs_and_resume_keeps_it(tmp_path, monkeypatch, capsys):
    calls = []
    real = winograd.conv2d_winograd
    monkeypatch.setattr(winograd, "conv2d_winograd", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert main([*LENET_TINY, "--epochs", "1", "--conv-algorithm", "im2col", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "config.json").read_text())["conv_algorithm"] == "im2col" and not calls
    # resumed with another process default: the run keeps its own algorithm, as it keeps its lr
    monkeypatch.setenv("MINIALEX_CONV_ALGORITHM", "winograd")
    assert main([*LENET_TINY, "--epochs", "2", "--resume", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "config.json").read_text())["conv_algorithm"] == "im2col" and not calls
    capsys.readouterr()
    # ... and refuses another one asked for explicitly, as it refuses another lr
    assert main([*LENET_TINY, "--epochs", "2", "--resume", "--conv-algorithm", "winograd", "--out", str(tmp_path)]) == 2
    assert "conv_algorithm 'winograd' (saved 'im2col')" in capsys.readouterr().err


def test_a_run_with_winograd_set_trains_with_it(tmp_path, monkeypatch):
    calls = []
    real = winograd.conv2d_winograd
    monkeypatch.setattr(winograd, "conv2d_winograd", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert main([*LENET_TINY, "--epochs", "1", "--conv-algorithm", "winograd", "--out", str(tmp_path)]) == 0
    assert calls and json.loads((tmp_path / "config.json").read_text())["conv_algorithm"] == "winograd"


# --- killed at random moments (SIGKILL: no handler runs, nothing is saved on the way out) ------------------------

# The CLI in a subprocess that says "step" after each optimizer step and "writing" as each checkpoint write
# begins, and holds the write open for a moment between writing the data and the rename, so that the test can kill
# it at a step or inside a write.
KILLABLE = """
import sys, time
import numpy as np
from minialex import optim
from minialex.cli import main

real_step, real_savez = optim.SGD.step, np.savez

def step(self):
    real_step(self)
    print("step", flush=True)

def savez(f, **arrays):
    print("writing", flush=True)
    real_savez(f, **arrays)
    time.sleep(0.05)

optim.SGD.step, np.savez = step, savez
sys.exit(main(sys.argv[1:]))
"""

LENET_KILLED = ["--model", "lenet", "--dataset", "synthetic", "--batch-size", "16", "--train-limit", "128",
                "--test-limit", "32", "--epochs", "2", "--lr", "0.05", "--momentum", "0.9", "--seed", "5",
                "--conv-algorithm", "im2col"]
ALEXNET_KILLED = ["--model", "alexnet", "--resize", "65", "--dataset", "synthetic", "--batch-size", "8",
                  "--train-limit", "48", "--test-limit", "8", "--epochs", "2", "--lr", "0.01", "--momentum", "0.9",
                  "--lr-schedule", "onecycle", "--seed", "3", "--conv-algorithm", "im2col"]


def run_with_kills(recipe, out, kills):
    """Start the run, kill it at each ``(event, k, delay)`` of ``kills`` (``delay`` s after its k-th "step" or
    "writing" line), --resume after each, then let the last resume finish."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path
    env = {**os.environ, "PYTHONPATH": str(Path(minialex.__file__).parents[1])}
    command = [sys.executable, "-c", KILLABLE, "train", *recipe, "--backend", "numpy", "--no-progress",
               "--checkpoint-every", "3", "--out", str(out)]
    for i, kill in enumerate([*kills, None]):
        proc = subprocess.Popen(command + (["--resume"] if i else []), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=env)
        seen, output = 0, []
        for line in proc.stdout:
            output.append(line)
            if kill is not None and line.strip() == kill[0]:
                seen += 1
                if seen == kill[1]:
                    time.sleep(kill[2])
                    proc.kill()
                    break
        proc.stdout.close()
        code = proc.wait()
        if kill is None or code != -signal.SIGKILL:
            assert code == 0, "".join(output)
        assert not list(out.glob("*.tmp")) or code == -signal.SIGKILL
        if (out / "checkpoint.npz").exists():
            checkpoint.load(out / "checkpoint.npz")  # whole, never half-written


def kill_plan(seed, n):
    """The first kill before any checkpoint; then kills inside a checkpoint write and at random steps."""
    rng = np.random.default_rng(seed)
    plan = [("step", 1, float(rng.uniform(0, 0.01)))]
    for _ in range(n - 1):
        if rng.random() < 0.4:
            plan.append(("writing", int(rng.integers(1, 3)), float(rng.uniform(0, 0.06))))
        else:
            plan.append(("step", int(rng.integers(1, 7)), float(rng.uniform(0, 0.02))))
    return plan


def assert_killed_run_equals_uninterrupted(recipe, tmp_path, kills):
    assert main(["train", *recipe, "--backend", "numpy", "--no-progress", "--out", str(tmp_path / "whole")]) == 0
    run_with_kills(recipe, tmp_path / "killed", kills)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    read = lambda run: [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert numbers(read(killed)) == numbers(read(whole)) and len(read(whole)) == 2
    assert (killed / "curve.jsonl").read_text() == (whole / "curve.jsonl").read_text()
    assert_same_state(killed, whole)
    assert weights(killed)[2]["rng_state"] == weights(whole)[2]["rng_state"]


def test_sigkill_at_random_moments_then_resume_equals_the_uninterrupted_run(tmp_path):
    """LeNet, 8 batches an epoch, a checkpoint every 3: killed before its first checkpoint, inside a write and at
    random steps (kill times from a fixed seed), resumed each time: same metrics, curve, weights, RNG state."""
    assert_killed_run_equals_uninterrupted(LENET_KILLED, tmp_path, kill_plan(seed=17, n=4))


@pytest.mark.slow
def test_sigkill_many_times_with_dropout_and_a_schedule(tmp_path):
    """The longer variant: AlexNet (dropout, a 1cycle schedule), killed 12 times."""
    assert_killed_run_equals_uninterrupted(ALEXNET_KILLED, tmp_path, kill_plan(seed=18, n=12))


# --- the first step's warm-up -------------------------------------------------------------------------------------

def slow_first_loss(monkeypatch, first_step):
    """``first_step()`` runs inside the first training step only (a stand-in for Numba compiling there)."""
    real, calls = loop.ops.cross_entropy, []

    def cross_entropy(logits, y):
        if not calls:
            first_step()
        calls.append(1)
        return real(logits, y)
    monkeypatch.setattr(loop.ops, "cross_entropy", cross_entropy)


def test_the_first_steps_warm_up_is_left_out_of_examples_per_sec(tmp_path, monkeypatch, capsys):
    import time
    slow_first_loss(monkeypatch, lambda: time.sleep(1.0))
    said = []
    history = fit(Config.preset("d2l", **{**LENET_SYNTHETIC, "train_limit": 64}), tmp_path, progress=False,
                  log=said.append)  # 2 batches: the first warms up, the second is timed
    record = history[0]
    assert record["warmup_seconds"] >= 1.0
    assert 32 / record["examples_per_sec"] < 1.0  # the one timed step, without the second of warm-up
    assert "examples/sec (not counting the first step's 1 s of warm-up)" in said[-2]
    assert FIRST_STEP_NOTICE not in " ".join(said)  # nothing compiled: no word of compiling


FIRST_STEP_NOTICE = loop.FirstStep.NOTICE


def test_a_numba_compile_in_the_first_step_is_announced_once(tmp_path, monkeypatch):
    numba = pytest.importorskip("numba")

    def compile_something():
        numba.njit(lambda a: a + 1)(1)  # a new function: Numba compiles it now
    slow_first_loss(monkeypatch, compile_something)
    said = []
    fit(Config.preset("d2l", **{**LENET_SYNTHETIC, "train_limit": 64}), tmp_path, progress=False, log=said.append)
    assert said.count(FIRST_STEP_NOTICE) == 1 and said.index(FIRST_STEP_NOTICE) == 1  # before the epoch line
