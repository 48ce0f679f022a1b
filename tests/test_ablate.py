"""minialex ablate: each of AlexNet's changes undone in its own resumable run, one table, two figures."""

import json
import signal

import numpy as np
import pytest

from minialex import backend, models, nn, optim
from minialex.cli import main
from minialex.tools import ablate
from minialex.training import Interrupted

# A tiny budget on the synthetic data: AlexNet at its smallest input, two batches of 8 images an epoch.
TINY = dict(dataset="synthetic", resize=65, epochs=1, batch_size=8, train_limit=16, test_limit=8)
NUMBERS = ("loss", "train_acc", "test_acc", "parameters", "flops")


def quiet(*args):
    pass


@pytest.fixture(autouse=True)
def numpy_engine():
    with backend.backend("numpy"):  # bit-reproducible, so a resumed plan can be compared with a whole one
        yield


@pytest.fixture(scope="module")
def whole_plan(tmp_path_factory):
    out = tmp_path_factory.mktemp("ablation")
    with backend.backend("numpy"):
        rows = ablate.ablate(out, None, ablate.recipe(**TINY), gradient_steps=2, progress=False, log=quiet)
    return out, rows


def test_from_an_empty_folder_every_variant_trains_and_the_table_and_figures_are_written(whole_plan):
    out, rows = whole_plan
    assert [r["variant"] for r in rows] == list(ablate.VARIANTS)
    for name in ablate.VARIANTS:
        assert len((out / name / "metrics.jsonl").read_text().splitlines()) == 1
        assert (out / name / "checkpoint.npz").is_file()
    saved = json.loads((out / "ablation.json").read_text())
    assert saved["variants"] == rows and saved["recipe"]["augment"] == ablate.AUGMENT
    table = (out / "ablation.md").read_text().splitlines()
    assert sum(line.startswith("| ") for line in table) == 1 + len(rows)       # header + one row each
    for png in ("curves.png", "gradient_norms.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_row_is_its_run_and_its_networks_size(whole_plan):
    out, rows = whole_plan
    by_name = {r["variant"]: r for r in rows}
    for name, row in by_name.items():
        last = json.loads((out / name / "metrics.jsonl").read_text().splitlines()[-1])
        assert (row["loss"], row["train_acc"], row["test_acc"]) == (last["loss"], last["train_acc"], last["test_acc"])
        assert json.loads((out / name / "config.json").read_text())["model"] == ablate.VARIANTS[name].model
    assert by_name["lenet"]["parameters"] == 61706 and by_name["lenet"]["input_size"] == 28
    full = by_name["alexnet"]
    assert by_name["no-dropout"]["parameters"] == by_name["sigmoid"]["parameters"] == full["parameters"]
    assert by_name["no-augment"]["augment"] == "none" and full["augment"] == ablate.AUGMENT
    assert by_name["avgpool"]["flops"] != full["flops"]       # a mean and a max cost differently per window


def test_the_gradient_probe_is_the_runs_first_steps(whole_plan):
    out, _ = whole_plan
    probe = json.loads((out / "sigmoid" / "gradient_norms.json").read_text())["layers"]
    assert list(probe) == ["conv1", "conv2", "conv3", "conv4", "conv5", "fc1", "fc2", "fc3"]
    assert all(len(norms) == 2 and all(np.isfinite(norms)) for norms in probe.values())
    relu = json.loads((out / "alexnet" / "gradient_norms.json").read_text())["layers"]
    # the vanishing gradient: through eight sigmoids conv1's gradient is a far smaller share of fc3's than with ReLU
    assert probe["conv1"][0] / probe["fc3"][0] < 0.01 * relu["conv1"][0] / relu["fc3"][0]


def test_ctrl_c_then_the_same_command_continues_where_it_stopped(whole_plan, tmp_path, monkeypatch):
    names = ["alexnet", "no-dropout", "lenet"]
    steps, real_step = [], optim.SGD.step

    def step_then_ctrl_c(self):
        real_step(self)
        steps.append(1)
        if len(steps) == 3:              # the second variant's first batch
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(optim.SGD, "step", step_then_ctrl_c)
    with pytest.raises(Interrupted, match="variant 'no-dropout'.*Run the same minialex ablate command again"):
        ablate.ablate(tmp_path, names, ablate.recipe(**TINY), gradient_steps=0, progress=False, log=quiet)
    assert not (tmp_path / "ablation.md").exists() and not (tmp_path / "lenet").exists()
    monkeypatch.setattr(optim.SGD, "step", real_step)
    trained = []
    monkeypatch.setattr(ablate, "fit", lambda config, folder, **kw: trained.append(folder.name) or
                        real_fit(config, folder, **kw))
    rows = ablate.ablate(tmp_path, names, ablate.recipe(**TINY), gradient_steps=0, progress=False, log=quiet)
    assert trained == ["no-dropout", "lenet"]           # the finished run is not trained again
    whole = {r["variant"]: r for r in whole_plan[1]}
    assert [{k: r[k] for k in NUMBERS} for r in rows] == [{k: whole[n][k] for k in NUMBERS} for n in names]


real_fit = ablate.fit


def test_variants_are_named_and_a_bad_name_is_one_clear_line(tmp_path, capsys):
    assert ablate.parse_variants("lenet,alexnet") == ["alexnet", "lenet"]    # always in the table's order
    assert ablate.parse_variants("all") == list(ablate.VARIANTS)
    assert main(["ablate", "--out", str(tmp_path), "--variants", "alexnet,relu6", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("minialex ablate: unknown variant 'relu6'; expected a comma-separated list of alexnet, "
                          "sigmoid, avgpool") and len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_a_bad_recipe_is_refused_before_any_training(tmp_path, capsys):
    assert main(["ablate", "--out", str(tmp_path), "--augment", "blur", "--no-progress"]) == 2
    assert "unknown augmentation 'blur'" in capsys.readouterr().err
    assert main(["ablate", "--out", str(tmp_path), "--input-size", "32", "--no-progress"]) == 2
    assert "input_size must be at least 65" in capsys.readouterr().err


def test_the_ablated_alexnets_differ_from_alexnet_in_their_one_change():
    def kinds(net):
        return [type(m).__name__ for m in net]
    full = kinds(models.build("alexnet", input_size=65))
    assert kinds(models.build("alexnet-sigmoid", input_size=65)) == [k.replace("ReLU", "Sigmoid") for k in full]
    assert kinds(models.build("alexnet-avgpool", input_size=65)) == [k.replace("MaxPool2d", "AvgPool2d")
                                                                     for k in full]
    assert kinds(models.build("alexnet-nodropout", input_size=65)) == [k for k in full if k != "Dropout"]
    assert isinstance(models.build("alexnet-avgpool", input_size=65)[2], nn.AvgPool2d)
