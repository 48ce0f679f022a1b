"""``minialex inspect`` draws valid PNGs from a checkpoint, whatever the checkpoint says or leaves out."""

import numpy as np
import pytest

from minialex import models
from minialex.cli import main
from minialex.data import Dataset, resize
from minialex.tools import inspect
from minialex.training import checkpoint

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
    monkeypatch.setattr(inspect, "load_test_split", lambda data_dir: test)
    lines = []
    paths = inspect.inspect(lenet_checkpoint, 7, str(tmp_path), log=lines.append)
    assert_pngs(paths, ["conv1_filters", "predictions", "confusion"] + FEATURE_PNGS["lenet"])
    assert any(line.startswith(f"test image 7: ") and f"(true: {test.classes[test.labels[7]]})" in line
               for line in lines)
    assert any(line.startswith("test accuracy ") for line in lines)


def test_image_index_outside_the_test_set_is_a_clear_error(lenet_checkpoint, tmp_path, monkeypatch):
    three = Dataset(np.zeros((3, 28, 28), np.uint8), np.zeros(3, np.int64), ("a", "b"))
    monkeypatch.setattr(inspect, "load_test_split", lambda data_dir: three)
    with pytest.raises(ValueError, match="--image 3 is out of range: the test set has 3 images"):
        inspect.inspect(lenet_checkpoint, 3, str(tmp_path), log=lambda s: None)


def test_architecture_is_inferred_when_the_checkpoint_has_no_config(tmp_path):
    path = tmp_path / "noconfig.npz"
    checkpoint.save(path, models.alexnet(7, 3, 65))  # 65 to 96 px all end in a 1x1 map; 96 is taken
    model, size, meta = checkpoint.model_from_checkpoint(path)
    assert meta["config"] == {"model": "alexnet", "resize": 96, "num_classes": 7, "in_channels": 3}
    assert size == 96 and model[14].in_features == 256
    state, _, _ = checkpoint.load(path)
    assert np.array_equal(model[0].weight.numpy(), state["0.weight"])
    path = tmp_path / "lenet.npz"
    checkpoint.save(path, models.lenet(4))
    assert checkpoint.model_from_checkpoint(path)[2]["config"]["model"] == "lenet"


def test_a_checkpoint_that_does_not_fit_its_config_names_the_problem(tmp_path, capsys):
    path = tmp_path / "wrong.npz"
    checkpoint.save(path, models.lenet(), config={"model": "lenet", "num_classes": 5})
    assert main(["inspect", str(path), "--out", str(tmp_path), "--synthetic"]) == 2
    assert "does not fit the model its config describes" in capsys.readouterr().err


def test_a_training_run_checkpoint_is_inspected_with_its_recipe(tmp_path, capsys):
    """A ``minialex train`` checkpoint's config has no class count; the last layer's width is taken."""
    path = tmp_path / "run.npz"
    checkpoint.save(path, models.lenet(4), config={"model": "lenet", "resize": None, "dataset": "synthetic"})
    model, size, _ = checkpoint.model_from_checkpoint(path)
    assert size == 28 and model[-1].out_features == 4


def test_a_lenet_checkpoint_draws_the_sweater_coat_comparison(lenet_checkpoint, tmp_path, monkeypatch):
    """The LeNet chapter's exercise: the first and second layers' activations for a sweater and a coat."""
    from minialex.data import load_dataset
    path = lenet_checkpoint
    _, synthetic = load_dataset("synthetic", n_train=10, n_test=40)
    test = Dataset(synthetic.images, synthetic.labels, ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal",
                                                        "shirt", "sneaker", "bag", "ankle boot"), "fake")
    monkeypatch.setattr(inspect, "load_test_split", lambda data_dir: test)
    drawn = []
    real = inspect.figures.plot_activation_comparison
    monkeypatch.setattr(inspect.figures, "plot_activation_comparison",
                        lambda images, layers, *a, **k: drawn.append((images, layers)) or real(images, layers, *a, **k))
    paths = inspect.inspect(str(path), 0, str(tmp_path / "pics"), compare="sweater,coat", log=lambda *a: None)
    assert_pngs(paths, ["conv1_filters", "predictions", "confusion", "compare_activations"] + FEATURE_PNGS["lenet"])
    (images, layers), = drawn
    assert [c.split(" ")[0] for c, _ in images] == ["pullover", "coat"]
    first = int(np.flatnonzero(test.labels == 4)[0])
    assert images[1][0] == f"coat (test image {first})"
    (label1, maps1), (label2, maps2) = layers
    activation = type(models.lenet()[1]).__name__            # the maps are taken after it
    assert label1.endswith(f"+ {activation}") and [m.shape for m in maps1] == [(6, 28, 28)] * 2
    assert label2.startswith("layers 3-4") and [m.shape for m in maps2] == [(16, 10, 10)] * 2
    model, size, _ = checkpoint.model_from_checkpoint(path)
    np.testing.assert_array_equal(maps2[1], inspect.layer_outputs(model, resize(test.images[first][None], 28))[4][2][0])
    with pytest.raises(inspect.InspectError, match="--compare needs two or more class names"):
        inspect.inspect(str(path), 0, str(tmp_path / "pics"), compare="sweater,jacket", log=lambda *a: None)
