"""``minialex inspect`` draws valid PNGs from a checkpoint; ``minialex trace`` times every layer of a step."""

import json

import numpy as np
import pytest

from minialex import checkpoint, models, pictures
from minialex.cli import main
from minialex.ops import cross_entropy
from minialex.tensor import Tensor
from minialex.trace import recording, trace_step

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FEATURE_PNGS = {"alexnet": ["features_00_conv", "features_02_pool", "features_03_conv", "features_05_pool",
                            "features_06_conv", "features_08_conv", "features_10_conv", "features_12_pool"],
                "lenet": ["features_00_conv", "features_02_pool", "features_03_conv", "features_05_pool"]}


def assert_pngs(paths, names):
    assert sorted(p.rsplit("/", 1)[1] for p in paths) == sorted(n + ".png" for n in names)
    for p in paths:
        with open(p, "rb") as f:
            data = f.read()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000, p


@pytest.fixture(scope="module")
def alexnet_checkpoint(tmp_path_factory):
    """The smallest AlexNet (65 px) saved with the config a training run writes."""
    path = tmp_path_factory.mktemp("ckpt") / "alexnet65.npz"
    checkpoint.save(path, models.alexnet(10, 1, 65),
                    config={"model": "alexnet", "resize": 65, "num_classes": 10, "in_channels": 1}, epoch=1)
    return str(path)


@pytest.fixture
def lenet_checkpoint(tmp_path):
    path = tmp_path / "lenet.npz"
    checkpoint.save(path, models.lenet(), config={"model": "lenet", "num_classes": 10, "in_channels": 1})
    return str(path)


def test_inspect_alexnet_on_a_synthetic_image_writes_every_png(alexnet_checkpoint, tmp_path, capsys):
    out = tmp_path / "pics"
    assert main(["inspect", alexnet_checkpoint, "--image", "5", "--out", str(out), "--synthetic"]) == 0
    printed = capsys.readouterr().out
    paths = [line.split("wrote ", 1)[1] for line in printed.splitlines() if line.startswith("wrote ")]
    assert_pngs(paths, ["conv1_filters", "predictions"] + FEATURE_PNGS["alexnet"])
    assert "random image (seed 5): class " in printed


def test_inspect_with_test_data_adds_the_confusion_matrix(lenet_checkpoint, tmp_path, monkeypatch):
    from minialex.data import load_dataset
    _, test = load_dataset("synthetic", n_train=10, n_test=60)  # stands in for Fashion-MNIST's files
    monkeypatch.setattr(pictures, "load_test_split", lambda data_dir: (test.images, test.labels, test.classes))
    lines = []
    paths = pictures.inspect(lenet_checkpoint, 7, str(tmp_path), log=lines.append)
    assert_pngs(paths, ["conv1_filters", "predictions", "confusion"] + FEATURE_PNGS["lenet"])
    assert any(line.startswith(f"test image 7: ") and f"(true: {test.classes[test.labels[7]]})" in line
               for line in lines)
    assert any(line.startswith("test accuracy ") for line in lines)


def test_image_index_outside_the_test_set_is_a_clear_error(lenet_checkpoint, tmp_path, monkeypatch):
    images = np.zeros((3, 28, 28), np.uint8)
    monkeypatch.setattr(pictures, "load_test_split", lambda data_dir: (images, np.zeros(3, np.int64), None))
    with pytest.raises(ValueError, match="--image 3 is out of range: the test set has 3 images"):
        pictures.inspect(lenet_checkpoint, 3, str(tmp_path), log=lambda s: None)


def test_architecture_is_inferred_when_the_checkpoint_has_no_config(tmp_path):
    path = tmp_path / "noconfig.npz"
    checkpoint.save(path, models.alexnet(7, 3, 65))  # 65 to 96 px all end in a 1x1 map; 96 is taken
    model, size, meta = pictures.model_from_checkpoint(path)
    assert meta["config"] == {"model": "alexnet", "resize": 96, "num_classes": 7, "in_channels": 3}
    assert size == 96 and model[14].in_features == 256
    state, _, _ = checkpoint.load(path)
    assert np.array_equal(model[0].weight.numpy(), state["0.weight"])
    path = tmp_path / "lenet.npz"
    checkpoint.save(path, models.lenet(4))
    assert pictures.model_from_checkpoint(path)[2]["config"]["model"] == "lenet"


def test_a_checkpoint_that_does_not_fit_its_config_names_the_problem(tmp_path, capsys):
    path = tmp_path / "wrong.npz"
    checkpoint.save(path, models.lenet(), config={"model": "lenet", "num_classes": 5})
    assert main(["inspect", str(path), "--out", str(tmp_path), "--synthetic"]) == 2
    assert "does not fit the model its config describes" in capsys.readouterr().err


# --- trace -----------------------------------------------------------------------------------------------------------

def test_trace_prints_and_writes_every_layer_with_positive_times(tmp_path, capsys):
    path = tmp_path / "trace.json"
    assert main(["trace", "--input-size", "65", "--batch", "2", "--warmup", "0", "--backend", "numpy",
                 "--json", str(path)]) == 0
    printed = capsys.readouterr().out
    trace = json.loads(path.read_text())
    rows = trace["rows"]
    assert [r["name"] for r in rows] == [str(i) for i in range(21)] + ["loss"]
    for r in rows:
        assert r["forward_ms"] > 0 and r["backward_ms"] > 0, r
        assert r["layer"] in printed
    conv1 = rows[0]
    assert conv1["layer"] == "Conv2d 1->96 11x11/4 p1" and conv1["output_shape"] == [2, 96, 15, 15]
    assert conv1["im2col_bytes"] == 1 * 11 * 11 * (2 * 15 * 15) * 4
    assert rows[1]["im2col_bytes"] == 0
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    assert trace["total"]["flops"] == sum(r["flops"] for r in rows) > 0
    assert "total" in printed and "backward() took" in printed


def test_trace_lenet_rejects_other_input_sizes(capsys):
    assert main(["trace", "--model", "lenet", "--input-size", "32"]) == 2
    assert "lenet takes 28x28 inputs only" in capsys.readouterr().err


def test_recording_attributes_backward_closures_to_the_layer_that_made_them():
    net = models.lenet()
    x = Tensor(np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32))
    with recording() as rec:
        h = x
        for name, layer in net.named_children():
            with rec.layer(name):
                h = layer(h)
        loss = cross_entropy(h, np.array([1, 2]))  # outside any layer: not timed
        assert rec.timings["0"].backward_s == 0.0
        loss.backward()
    assert rec.timings["0"].ops == ["conv2d"] and rec.timings["2"].ops == ["max_pool2d"]
    assert all(t.forward_s > 0 and t.backward_s > 0 for t in rec.timings.values())
    assert net[0].weight.grad is not None


def test_recording_puts_tensor_from_op_back_even_after_an_error():
    original = Tensor.__dict__["from_op"]
    with pytest.raises(RuntimeError):
        with recording():
            assert Tensor.__dict__["from_op"] is not original
            raise RuntimeError("boom")
    assert Tensor.__dict__["from_op"] is original


def test_trace_step_matches_summary_shapes():
    net = models.lenet()
    x = np.random.default_rng(1).standard_normal((3, 1, 28, 28)).astype(np.float32)
    trace = trace_step(net, x, np.array([0, 1, 2]))
    assert trace["rows"][5]["output_shape"] == [3, 16, 5, 5]
    assert trace["rows"][3]["im2col_bytes"] == 6 * 5 * 5 * (3 * 10 * 10) * 4
    assert np.isfinite(trace["loss"])
