"""Data augmentation: torchvision's semantics image by image, drawn with the right statistics, the same on resume."""

import json
import signal

import numpy as np
import pytest

from minialex import backend, optim
from minialex.cli import main
from minialex.data import (Compose, DataLoader, Normalize, RandomCrop, RandomHorizontalFlip, RandomResizedCrop,
                           Resize, load_data, load_synthetic, resize)
from minialex.data.augment import evaluation_part
from minialex.data.transforms import interpolation_matrix
from minialex.training import Config, Interrupted, checkpoint, fit
from minialex.training.config import parse_augment

from tolerances import assert_close


def batch(n=6, c=1, h=9, w=11, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w)).astype(np.float32)


def quiet(*args):
    pass


# --- each image as torchvision would treat it alone (plain loops over images, on given draws) -------------------

def crop_loop(x, top, left, size, padding):
    l, t, r, b = padding
    out = []
    for img, i, j in zip(x, top, left):
        padded = np.pad(img, ((0, 0), (t, b), (l, r)))
        out.append(padded[:, i:i + size[0], j:j + size[1]])
    return np.stack(out)


def resized_crop_loop(x, top, left, height, width, size):
    out = []
    for img, i, j, h, w in zip(x, top, left, height, width):
        window = img[:, i:i + h, j:j + w].astype(np.float64)
        out.append(interpolation_matrix(h, size[0]) @ window @ interpolation_matrix(w, size[1]).T)
    return np.stack(out)


def test_random_crop_equals_cropping_each_padded_image_alone():
    x = batch()
    t = RandomCrop((7, 8), padding=(1, 2, 3, 0))   # left 1, top 2, right 3, bottom 0
    top, left = t.params(np.random.default_rng(5), len(x), 9, 11)
    got = t(x, np.random.default_rng(5))
    assert got.shape == (6, 1, 7, 8) and got.flags.c_contiguous
    np.testing.assert_array_equal(got, crop_loop(x, top, left, (7, 8), (1, 2, 3, 0)))


def test_random_crop_keeps_channels_apart():
    x = batch(c=3)
    t = RandomCrop(9, padding=2)
    top, left = t.params(np.random.default_rng(1), len(x), 9, 11)
    np.testing.assert_array_equal(t(x, np.random.default_rng(1)), crop_loop(x, top, left, (9, 9), (2,) * 4))


def test_crop_offsets_are_uniform_over_the_allowed_range():
    t = RandomCrop(28, padding=4)
    top, left = t.params(np.random.default_rng(0), 90000, 28, 28)
    for offsets in (top, left):
        counts = np.bincount(offsets)
        assert offsets.min() == 0 and len(counts) == 9  # 0..8: every offset the padding allows, no other
        expected = len(offsets) / 9
        chi2 = ((counts - expected) ** 2 / expected).sum()
        assert chi2 < 26.1                          # chi-square, 8 degrees of freedom, p = 0.001
    assert abs(np.corrcoef(top, left)[0, 1]) < 0.02  # drawn independently


def test_flip_rate_is_p_and_a_flip_mirrors_the_image():
    x = batch(n=20000, h=3, w=4)
    for p in (0.0, 0.3, 1.0):
        got = RandomHorizontalFlip(p)(x, np.random.default_rng(2))
        flipped = np.all(got == x[..., ::-1], axis=(1, 2, 3))
        kept = np.all(got == x, axis=(1, 2, 3))
        assert np.all(flipped ^ kept)                # each image either mirrored or untouched
        sigma = np.sqrt(p * (1 - p) / len(x))
        assert abs(flipped.mean() - p) <= 4 * sigma + 1e-12


def test_random_resized_crop_windows_stay_within_scale_ratio_and_image():
    t = RandomResizedCrop(28, scale=(0.2, 0.7), ratio=(0.5, 2.0))
    top, left, height, width = t.params(np.random.default_rng(3), 20000, 28, 28)
    assert np.all((top >= 0) & (left >= 0) & (top + height <= 28) & (left + width <= 28))
    area, ratio = height * width / 28**2, width / height
    # the sides are rounded from the drawn area and ratio, so allow half a pixel on each side
    assert area.min() >= 0.2 * (1 - 1 / 28) ** 2 and area.max() <= 0.7 * (1 + 1 / 28) ** 2 + 1e-9
    assert ratio.min() >= 0.5 * (1 - 1 / 10) and ratio.max() <= 2.0 * (1 + 1 / 10)
    assert area.mean() == pytest.approx(0.45, abs=0.02)      # uniform in scale: its middle
    assert np.median(np.log(ratio)) == pytest.approx(0.0, abs=0.05)  # log-uniform in ratio: centred on 1


def test_random_resized_crop_falls_back_to_the_centre_when_nothing_fits():
    t = RandomResizedCrop(8, scale=(1.0, 1.0), ratio=(3.0, 4.0))   # a whole-image area at w/h >= 3 never fits
    top, left, height, width = t.params(np.random.default_rng(0), 50, 12, 12)
    assert set(height) == {4} and set(width) == {12} and set(top) == {4} and set(left) == {0}


def test_random_resized_crop_equals_cropping_then_resizing_each_image_alone():
    x = batch(n=8, c=2, h=20, w=16)
    t = RandomResizedCrop((12, 10), scale=(0.1, 1.0))
    params = t.params(np.random.default_rng(7), len(x), 20, 16)
    got = t(x, np.random.default_rng(7))
    assert got.shape == (8, 2, 12, 10) and got.dtype == np.float32
    assert_close(got, resized_crop_loop(x, *params, (12, 10)), rtol=1e-5, atol=1e-6, what="RandomResizedCrop")


def test_resize_transform_is_the_loaders_resize():
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    for size in (14, 28, 72):
        assert_close(Resize(size)(resize(images)), resize(images, size), rtol=1e-5, atol=1e-6, what=f"{size}")


def test_normalize_is_exact_per_channel():
    x = batch(c=3)
    got = Normalize((0.1, 0.2, 0.3), (0.5, 2.0, 4.0))(x)
    mean, std = np.array([0.1, 0.2, 0.3], np.float32), np.array([0.5, 2.0, 4.0], np.float32)
    np.testing.assert_array_equal(got, (x - mean[:, None, None]) / std[:, None, None])
    np.testing.assert_array_equal(Normalize(0.5, 0.25)(x), (x - np.float32(0.5)) / np.float32(0.25))


def test_compose_draws_each_step_from_the_one_generator_and_the_test_split_keeps_what_draws_nothing():
    x = batch(n=50)
    steps = [RandomCrop(9, padding=1), RandomHorizontalFlip(), Normalize(0.5, 2.0)]
    by_hand, rng = x, np.random.default_rng(4)
    for t in steps:
        by_hand = t(by_hand, rng)
    np.testing.assert_array_equal(Compose(steps)(x, np.random.default_rng(4)), by_hand)
    kept = evaluation_part(Compose(steps))
    assert [type(t) for t in kept.transforms] == [Normalize] and not kept.random
    assert evaluation_part(RandomHorizontalFlip()) is None


@pytest.mark.parametrize("make, message", [
    (lambda: RandomCrop(30, padding=0)(batch(h=28, w=28)), "the crop 30x30 is larger than the padded image 28x28"),
    (lambda: RandomCrop(40, padding=4)(batch(h=28, w=28)), "larger than the padded image 36x36"),
    (lambda: RandomCrop(8, padding=-1), "padding must be an int >= 0"),
    (lambda: RandomHorizontalFlip(1.5), "p must be a probability in [0, 1], got 1.5"),
    (lambda: RandomHorizontalFlip(-0.1), "p must be a probability in [0, 1], got -0.1"),
    (lambda: RandomResizedCrop(8, scale=(0.9, 0.1)), "scale must satisfy 0 < min <= max <= 1, got (0.9, 0.1)"),
    (lambda: RandomResizedCrop(8, scale=(0.5, 2)), "scale must satisfy 0 < min <= max <= 1"),
    (lambda: RandomResizedCrop(8, ratio=(0, 1)), "ratio must satisfy 0 < min <= max"),
    (lambda: RandomResizedCrop(0), "size must be a positive int"),
    (lambda: Normalize(0.5, 0.0), "std > 0"),
    (lambda: Normalize((0.1, 0.2), 1.0)(batch(c=2)), "mean and std need one value per channel"),
    (lambda: RandomHorizontalFlip()(np.zeros((3, 3))), "expected a batch (N, C, H, W)"),
])
def test_bad_transforms_are_one_clear_error(make, message):
    with pytest.raises(ValueError) as e:
        make()
    assert message in str(e.value) and "\n" not in str(e.value)


# --- in the loader and the recipe ---------------------------------------------------------------------------------

def test_a_batch_draws_depend_on_seed_epoch_and_batch_alone():
    train, _ = load_synthetic(n_train=96, n_test=10)
    tf = Compose([RandomCrop(28, padding=3), RandomHorizontalFlip()])
    loader = DataLoader(train, 32, seed=5, transform=tf)
    first = [x.data for x, _ in loader]
    second = [x.data for x, _ in loader]
    again = DataLoader(train, 32, seed=5, transform=tf)
    again.epoch = 1
    resumed = [x.data for x, _ in again.batches(1, start=2)]     # epoch 2 from its third batch, in a new process
    np.testing.assert_array_equal(resumed[0], second[2])
    plain = [x.data for x, _ in DataLoader(train, 32, seed=5)]
    assert not np.array_equal(first[0], plain[0])            # it augments ...
    assert not np.array_equal(first[0], second[0])           # ... with new draws each epoch


def test_load_data_augments_the_train_split_and_normalizes_both():
    tf = Compose([RandomHorizontalFlip(1.0), Normalize(0.5, 0.5)])
    train_iter, test_iter = load_data(16, name="synthetic", limit=16, transform=tf, n_train=16, n_test=16)
    plain_train, plain_test = load_data(16, name="synthetic", limit=16, n_train=16, n_test=16, seed=train_iter.seed)
    (xa, _), (xb, _) = next(iter(train_iter)), next(iter(plain_train))
    xa, xb = xa.data, xb.data
    np.testing.assert_array_equal(xa, (xb[..., ::-1] - np.float32(0.5)) / np.float32(0.5))
    (ta, _), (tb, _) = next(iter(test_iter)), next(iter(plain_test))
    ta, tb = ta.data, tb.data
    np.testing.assert_array_equal(ta, (tb - np.float32(0.5)) / np.float32(0.5))   # normalized, never flipped


def test_d2l_load_data_fashion_mnist_takes_a_transform(monkeypatch):
    from minialex import d2l
    seen = {}
    monkeypatch.setattr(d2l, "load_data", lambda *a, **k: seen.update(k) or ("train", "test"))
    tf = Compose([RandomCrop(28, padding=2)])
    assert d2l.load_data_fashion_mnist(256, transform=tf) == ("train", "test") and seen["transform"] is tf


def test_the_spec_grammar():
    assert parse_augment("crop:padding=4,flip") == [("crop", {"padding": 4}), ("flip", {"p": 0.5})]
    assert parse_augment("resizedcrop:scale=0.25-1,ratio=0.5-2,flip:p=0.2") == [
        ("resizedcrop", {"scale": (0.25, 1.0), "ratio": (0.5, 2.0)}), ("flip", {"p": 0.2})]
    assert parse_augment("none") == []
    tf = Config(model="lenet", resize=None, augment="crop:padding=2,flip,normalize:mean=0.3,std=0.4").validate()
    assert [type(t) for t in tf.train_transform().transforms] == [RandomCrop, RandomHorizontalFlip, Normalize]
    assert tf.train_transform().transforms[0].size == (28, 28)
    assert [type(t) for t in tf.test_transform().transforms] == [Normalize]


LENET_TINY = ["train", "--model", "lenet", "--dataset", "synthetic", "--epochs", "1", "--batch-size", "16",
              "--train-limit", "32", "--test-limit", "16", "--no-progress", "--backend", "numpy"]


@pytest.mark.parametrize("spec, message", [
    ("blur", "unknown augmentation 'blur'; expected one of none, crop, flip, resizedcrop, normalize"),
    ("flip:p=2", "p must be a probability in [0, 1], got 2.0"),
    ("crop:pad=4", "expected key=value with a key among padding, got 'pad=4'"),
    ("crop:padding=two", "padding must be an integer, got 'two'"),
    ("resizedcrop:scale=0.5", "scale must be a range lo-hi, got '0.5'"),
    ("resizedcrop:ratio=2-1", "ratio must satisfy 0 < min <= max"),
    ("p=0.3", "expected a transform name before 'p=0.3'"),
    ("none,flip", "'none' cannot be combined"),
])
def test_a_bad_augment_spec_is_one_line_before_any_work(spec, message, tmp_path, capsys):
    assert main([*LENET_TINY, "--augment", spec, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"minialex train: bad config: --augment {spec!r}:" in err and message in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "config.json").exists()


def test_train_records_the_augment_and_resume_keeps_it(tmp_path, capsys):
    assert main([*LENET_TINY, "--augment", "crop:padding=2,flip", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "config.json").read_text())["augment"] == "crop:padding=2,flip"
    assert main([*LENET_TINY, "--epochs", "2", "--resume", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "config.json").read_text())["augment"] == "crop:padding=2,flip"
    assert main([*LENET_TINY, "--epochs", "3", "--resume", "--augment", "flip", "--out", str(tmp_path)]) == 2
    assert "differing: augment 'flip' (saved 'crop:padding=2,flip')" in capsys.readouterr().err


AUGMENTED = dict(model="lenet", dataset="synthetic", epochs=2, batch_size=16, lr=0.05, momentum=0.9,
                 train_limit=48, test_limit=16, seed=4, augment="resizedcrop:scale=0.3-1,flip")


def test_an_interrupted_and_resumed_augmented_run_draws_the_same_batches(tmp_path, monkeypatch):
    seen = {"whole": [], "split": []}
    real_apply = DataLoader.augment_rng

    def recording(key):
        def augment_rng(self, epoch, b):
            if self.shuffle:
                seen[key].append((epoch, b))
            return real_apply(self, epoch, b)
        return augment_rng

    monkeypatch.setattr(DataLoader, "augment_rng", recording("whole"))
    with backend.backend("numpy"):
        whole = fit(Config.preset("d2l", **AUGMENTED), tmp_path / "whole", progress=False, log=quiet)
    steps, real_step = [], optim.SGD.step

    def step_then_ctrl_c(self):
        real_step(self)
        steps.append(1)
        if len(steps) == 4:            # 3 batches an epoch: epoch 2, batch 1
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(DataLoader, "augment_rng", recording("split"))
    monkeypatch.setattr(optim.SGD, "step", step_then_ctrl_c)
    with backend.backend("numpy"):
        with pytest.raises(Interrupted):
            fit(Config.preset("d2l", **AUGMENTED), tmp_path / "split", progress=False, log=quiet)
        monkeypatch.setattr(optim.SGD, "step", real_step)
        resumed = fit(Config.preset("d2l", **AUGMENTED), tmp_path / "split", resume=True, progress=False, log=quiet)
    assert seen["split"] == seen["whole"][:5] + seen["whole"][4:]  # batch (1, 1) twice
    drop = {"examples_per_sec", "seconds", "warmup_seconds"}  # timings
    assert [{k: v for k, v in r.items() if k not in drop} for r in resumed] == \
        [{k: v for k, v in r.items() if k not in drop} for r in whole]
    model_a, _, _ = checkpoint.load(tmp_path / "split" / "checkpoint.npz")
    model_b, _, _ = checkpoint.load(tmp_path / "whole" / "checkpoint.npz")
    for name in model_b:
        np.testing.assert_array_equal(model_a[name], model_b[name], err_msg=name)
