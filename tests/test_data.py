"""minialex.data: IDX parsing, finding/downloading/verifying Fashion-MNIST, resizing, batching, synthetic data."""

import gzip
import hashlib
import http.server
import os
import struct
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from minialex import Tensor, backend
from minialex.data import DataError, DataLoader, Dataset, as_array, load_data, load_dataset, resize
from minialex.data import fashion_mnist as fm
from minialex.data.idx import read_idx, read_images, read_labels
from minialex.data.synthetic import load_synthetic
from minialex.data.transforms import interpolation_matrix

from tolerances import assert_close_f32


def idx_bytes(arr, code=0x08, ndim=None):
    """An IDX blob for ``arr`` (``ndim`` overrides the header's dimension count, to forge bad files)."""
    arr = np.asarray(arr)
    dtype = {0x08: ">u1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4"}[code]
    header = bytes([0, 0, code, arr.ndim if ndim is None else ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(dtype).tobytes()


def write(path, data, gz):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


rng = np.random.default_rng(0)
IMAGES = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
LABELS = np.array([0, 9, 3, 3, 7], dtype=np.uint8)


# --- idx.py ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False])
def test_idx_gzip_is_detected_by_magic_bytes_not_by_name(tmp_path, gz):
    # the name says the opposite of the contents on purpose
    path = write(tmp_path / ("images" if gz else "images.gz"), idx_bytes(IMAGES), gz)
    images = read_images(path)
    assert images.dtype == np.uint8 and images.shape == (5, 28, 28)
    np.testing.assert_array_equal(images, IMAGES)
    labels = read_labels(write(tmp_path / "labels", idx_bytes(LABELS), gz))
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, LABELS)


def test_idx_arrays_are_read_only(tmp_path):
    images = read_images(write(tmp_path / "i", idx_bytes(IMAGES), gz=False))
    with pytest.raises(ValueError):
        images[0, 0, 0] = 1


def test_idx_multibyte_big_endian_types_are_decoded(tmp_path):
    values = np.array([[1, -2, 300], [-32768, 32767, 0]])
    np.testing.assert_array_equal(read_idx(write(tmp_path / "s", idx_bytes(values, 0x0B), gz=True)), values)


def bad_file_cases():
    good = idx_bytes(IMAGES)
    yield "corrupt magic", b"\x12\x34" + good[2:], ["magic", "12 34 08 03"]
    yield "unknown type code", good[:2] + b"\x07" + good[3:], ["magic", "type"]
    yield "too short for a header", b"\x00\x00", ["too short"]
    yield "header cut off", good[:10], ["truncated header", "16", "10"]
    yield "truncated data", good[:-100], ["truncated", str(len(good)), str(len(good) - 100)]
    yield "oversized", good + b"\x00", ["oversized", str(len(good)), str(len(good) + 1)]
    yield "2 dims", idx_bytes(IMAGES.reshape(5, 784)), ["3 dimensions", "(5, 784)"]
    yield "not 28x28", idx_bytes(IMAGES[:, :, :27]), ["28x28", "28x27"]
    yield "not uint8", idx_bytes(IMAGES.astype(np.int32), 0x0C), ["uint8", "int32"]


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("case", list(bad_file_cases()), ids=lambda c: c[0])
def test_bad_image_file_is_a_clear_data_error(tmp_path, case, gz):
    _, data, phrases = case
    path = write(tmp_path / "bad-images", data, gz)
    with pytest.raises(DataError) as e:
        read_images(path)
    assert isinstance(e.value, ValueError)
    for phrase in [str(path)] + phrases:
        assert phrase in str(e.value)


@pytest.mark.parametrize("gz", [True, False])
def test_labels_out_of_range_are_rejected(tmp_path, gz):
    path = write(tmp_path / "labels", idx_bytes(np.array([1, 2, 10, 11], np.uint8)), gz)
    with pytest.raises(DataError, match=r"labels must be in 0\.\.9, found 10 at index 2 \(2 out of range\)"):
        read_labels(path)


def test_labels_must_be_one_dimensional(tmp_path):
    with pytest.raises(DataError, match="1 dimension"):
        read_labels(write(tmp_path / "labels", idx_bytes(LABELS.reshape(5, 1)), gz=False))


def test_truncated_gzip_stream_is_a_data_error(tmp_path):
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(idx_bytes(IMAGES))[:-50])
    with pytest.raises(DataError, match="corrupt gzip"):
        read_images(path)


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        read_images(tmp_path / "nothing-here")


# --- fashion_mnist.py: a fake Fashion-MNIST whose digests the tests know ------------------------------------------

class FakeFashionMNIST:
    """Tiny train/test IDX files standing in for the real four, with FILES patched to their digests."""

    def __init__(self, monkeypatch, tmp_path):
        r = np.random.default_rng(1)
        split_sizes = {"train": 12, "test": 7}
        self.raw, self.arrays, files = {}, {}, {}
        for split, (image_spec, label_spec) in fm.FILES.items():
            n = split_sizes[split]
            images = r.integers(0, 256, (n, 28, 28), dtype=np.uint8)
            labels = r.integers(0, 10, n).astype(np.uint8)
            self.arrays[split] = images, labels
            self.raw[image_spec.name], self.raw[label_spec.name] = idx_bytes(images), idx_bytes(labels)
            files[split] = tuple(fm.IdxFile(s.name, hashlib.sha256(self.raw[s.name]).hexdigest(), "")
                                 for s in (image_spec, label_spec))
        monkeypatch.setattr(fm, "FILES", files)
        self.cache = tmp_path / "xdg-cache" / "minialex" / "fashion-mnist"
        self.debian = tmp_path / "usr-share-datasets"
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
        monkeypatch.delenv("MINIALEX_DATA", raising=False)
        monkeypatch.setattr(fm, "DEBIAN_DIR", self.debian)
        monkeypatch.setattr(fm, "urlopen", self.no_network)
        self.urls_opened = []

    def no_network(self, url, timeout=None):
        self.urls_opened.append(url)
        raise urllib.error.URLError("no network in tests")

    def write(self, folder, gz=True, skip=()):
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in self.raw.items():
            if name not in skip:
                write(folder / (name + ".gz" if gz else name), data, gz)
        return folder

    def check(self, train, test):
        for split, ds in (("train", train), ("test", test)):
            np.testing.assert_array_equal(ds.images, self.arrays[split][0])
            np.testing.assert_array_equal(ds.labels, self.arrays[split][1])


@pytest.fixture
def fake(monkeypatch, tmp_path):
    return FakeFashionMNIST(monkeypatch, tmp_path)


def test_cache_is_found_first(fake):
    fake.write(fake.cache)
    fake.write(fake.debian)
    assert fm.locate() == fake.cache
    fake.check(*load_dataset())


def test_debian_folder_is_used_when_the_cache_lacks_a_file(fake):
    fake.write(fake.cache, skip=["train-labels-idx1-ubyte"])
    fake.write(fake.debian, gz=False)  # raw files work as well as .gz
    assert fm.locate() == fake.debian
    fake.check(*load_dataset())
    assert fake.urls_opened == []


@pytest.mark.parametrize("how", ["argument", "env"])
def test_override_folder_is_used_even_when_the_cache_has_the_files(fake, tmp_path, monkeypatch, how):
    fake.write(fake.cache)
    mine = fake.write(tmp_path / "mine")
    if how == "env":
        monkeypatch.setenv("MINIALEX_DATA", str(mine))
    assert fm.locate(mine if how == "argument" else None) == mine


def test_data_dir_argument_beats_the_env_variable(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("MINIALEX_DATA", str(tmp_path / "does-not-exist"))
    assert fm.locate(fake.write(tmp_path / "mine")) == tmp_path / "mine"


@pytest.mark.parametrize("how", ["argument", "env"])
def test_override_lacking_files_is_an_error_with_no_fallback(fake, tmp_path, monkeypatch, how):
    fake.write(fake.cache)
    fake.write(fake.debian)
    mine = fake.write(tmp_path / "mine", skip=["t10k-images-idx3-ubyte"])
    if how == "env":
        monkeypatch.setenv("MINIALEX_DATA", str(mine))
    with pytest.raises(DataError) as e:
        load_dataset(data_dir=mine if how == "argument" else None)
    msg = str(e.value)
    assert str(mine) in msg and "t10k-images-idx3-ubyte" in msg and "train-images" not in msg
    assert ("data_dir" if how == "argument" else "MINIALEX_DATA") in msg
    assert fm.APT_HINT in msg and fm.MIRRORS[0] in msg  # and how to get the files
    assert fake.urls_opened == []


def test_override_folder_that_does_not_exist_is_an_error_that_says_how_to_get_the_data(fake, tmp_path):
    with pytest.raises(DataError, match="no such folder") as e:
        fm.locate(tmp_path / "nope")
    assert fm.APT_HINT in str(e.value) and "MINIALEX_DATA=DIR" in str(e.value)


def test_file_with_wrong_digest_is_rejected(fake):
    fake.write(fake.debian)
    images, labels = fake.arrays["train"]
    tampered = images.copy()
    tampered[3, 14, 14] ^= 1  # one pixel: still a perfectly valid IDX file
    write(fake.debian / "train-images-idx3-ubyte.gz", idx_bytes(tampered), gz=True)
    expected = fm.FILES["train"][0].sha256
    found = hashlib.sha256(idx_bytes(tampered)).hexdigest()
    with pytest.raises(DataError) as e:
        load_dataset()
    msg = str(e.value)
    assert "SHA-256" in msg and expected in msg and found in msg and "train-images-idx3-ubyte.gz" in msg


def test_no_files_and_no_network_says_how_to_get_the_data(fake):
    with pytest.raises(DataError) as e:
        load_dataset(progress=False)
    msg = str(e.value)
    for phrase in ["apt-get install dataset-fashion-mnist", fm.MIRRORS[0], "--data-dir", "MINIALEX_DATA",
                   str(fake.cache), str(fake.debian), "no network in tests"]:
        assert phrase in msg, phrase
    assert len(fake.urls_opened) == len(fm.MIRRORS)  # every mirror tried, for the first missing file
    assert not list(fake.cache.iterdir())  # nothing half-written


def test_download_false_never_touches_the_network(fake):
    with pytest.raises(DataError, match="download=False") as e:
        load_dataset(download=False)
    assert "apt-get install dataset-fashion-mnist" in str(e.value)
    assert fake.urls_opened == []


# --- downloading, from a local HTTP server --------------------------------------------------------------------

class Server:
    """Serves ``routes[path] = bytes`` (or a callable taking the handler) on 127.0.0.1; anything else is a 404."""

    def __init__(self):
        routes = self.routes = {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = routes.get(self.path)
                if callable(body):
                    return body(self)
                if body is None:
                    return self.send_error(404)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server(fake, monkeypatch):
    monkeypatch.setattr(fm, "urlopen", urllib.request.urlopen)  # the real opener, against localhost only
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    s = Server()
    monkeypatch.setattr(fm, "MIRRORS", (s.url + "/first/", s.url + "/second/"))
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def serve_all(server, fake, mirror):
    for name, raw in fake.raw.items():
        server.routes[f"/{mirror}/{name}.gz"] = gzip.compress(raw)


def test_download_fills_the_cache_then_loads_from_it(fake, server):
    serve_all(server, fake, "first")
    fake.check(*load_dataset(progress=False))
    assert sorted(p.name for p in fake.cache.iterdir()) == sorted(n + ".gz" for n in fake.raw)
    assert fm.locate(download=False) == fake.cache


def test_download_tries_the_next_mirror(fake, server):
    serve_all(server, fake, "second")  # the first mirror answers 404 to everything
    fake.check(*load_dataset(progress=False))


def test_download_only_fetches_what_the_cache_lacks(fake, server):
    fake.write(fake.cache, skip=["t10k-labels-idx1-ubyte"])
    server.routes["/first/t10k-labels-idx1-ubyte.gz"] = gzip.compress(fake.raw["t10k-labels-idx1-ubyte"])
    fake.check(*load_dataset(progress=False))


def test_download_shows_a_progress_bar(fake, server, capsys):
    serve_all(server, fake, "first")
    load_dataset(progress=True)
    assert "train-images-idx3-ubyte.gz" in capsys.readouterr().err


def test_download_with_wrong_digest_is_rejected_and_leaves_no_file(fake, server):
    serve_all(server, fake, "first")
    serve_all(server, fake, "second")
    bad = gzip.compress(idx_bytes(fake.arrays["train"][0][::-1].copy()))  # valid IDX, wrong contents
    server.routes["/first/train-images-idx3-ubyte.gz"] = server.routes["/second/train-images-idx3-ubyte.gz"] = bad
    with pytest.raises(DataError) as e:
        load_dataset(progress=False)
    assert "SHA-256" in str(e.value) and "/first/" in str(e.value) and "/second/" in str(e.value)
    assert not (fake.cache / "train-images-idx3-ubyte.gz").exists()
    assert not [p for p in fake.cache.iterdir() if p.name.endswith(".part")]


def test_interrupted_download_leaves_no_partial_file(fake, server):
    serve_all(server, fake, "first")
    body = server.routes["/first/train-images-idx3-ubyte.gz"]

    def cut_short(handler):  # promises the whole file, sends half, hangs up
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[:len(body) // 2])
        handler.wfile.flush()
        handler.close_connection = True

    server.routes["/first/train-images-idx3-ubyte.gz"] = cut_short
    with pytest.raises(DataError, match="could not download train-images-idx3-ubyte.gz"):
        load_dataset(progress=False)
    assert not (fake.cache / "train-images-idx3-ubyte.gz").exists()
    assert not [p for p in fake.cache.iterdir() if p.name.endswith(".part")]


def test_download_does_not_replace_a_file_until_it_is_verified(fake, server, monkeypatch):
    """The file appears under its real name only by os.replace, after the checks passed."""
    serve_all(server, fake, "first")
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((Path(src).name, Path(dst).name, Path(dst).exists()))
        real_replace(src, dst)

    monkeypatch.setattr(fm.os, "replace", spy)
    load_dataset(progress=False)
    assert len(seen) == 4
    assert all(src.endswith(".part") and dst.endswith(".gz") and not existed for src, dst, existed in seen)


# --- the real files, when present -----------------------------------------------------------------------------

def real_data_dir():
    for folder in (fm.cache_dir(), fm.DEBIAN_DIR):
        if not fm._missing(folder):
            return folder
    return None


@pytest.mark.skipif(real_data_dir() is None, reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist_loads_and_verifies():
    train, test = load_dataset(data_dir=real_data_dir(), download=False)
    assert (len(train), len(test)) == (60000, 10000)
    for ds in (train, test):
        assert ds.images.shape[1:] == (28, 28) and ds.images.dtype == np.uint8
        assert ds.labels.dtype == np.int64 and ds.labels.min() == 0 and ds.labels.max() == 9
    assert np.bincount(train.labels).tolist() == [6000] * 10
    assert test.labels[:5].tolist() == [9, 2, 1, 1, 6]  # ankle boot, pullover, trouser, trouser, shirt
    assert train.classes[9] == "ankle boot"
    for spec in fm.FILES["train"] + fm.FILES["test"]:  # the digests, checked again here by hand
        data = gzip.decompress(fm._find(real_data_dir(), spec.name).read_bytes())
        assert hashlib.sha256(data).hexdigest() == spec.sha256


# --- transforms.py --------------------------------------------------------------------------------------------

def test_upsampling_matrix_by_hand():
    # 2 -> 4: output centres fall at input coordinates -0.25, 0.25, 0.75, 1.25 (half-pixel convention);
    # the ends clamp to the edge pixels
    np.testing.assert_allclose(interpolation_matrix(2, 4), [[1, 0], [.75, .25], [.25, .75], [0, 1]])


def test_downsampling_matrix_is_antialiased_by_hand():
    # 4 -> 2: the triangle widens to half-width 2, so output 0 (centre 1.0) sees inputs at 0.5, 1.5, 2.5
    np.testing.assert_allclose(interpolation_matrix(4, 2)[0], np.array([.75, .75, .25, 0]) / 1.75)


def test_resize_by_hand():
    img = np.array([[[0, 255], [255, 0]]], np.uint8)
    expected = [[0, .25, .75, 1], [.25, .375, .625, .75], [.75, .625, .375, .25], [1, .75, .25, 0]]
    out = resize(img, 4)
    assert out.shape == (1, 1, 4, 4) and out.dtype == np.float32
    assert_close_f32(out[0, 0], expected, 2 * 2, what="resized")


def test_resize_none_only_scales_to_unit_range():
    out = resize(IMAGES, None)
    assert out.shape == (5, 1, 28, 28) and out.dtype == np.float32
    assert_close_f32(out[:, 0], IMAGES / 255, what="scaled")
    assert out.max() <= 1.0 and resize(np.full((1, 28, 28), 255, np.uint8), 224).min() == pytest.approx(1, abs=1e-6)


def test_resize_rejects_what_it_cannot_take():
    with pytest.raises(ValueError, match="uint8"):
        resize(IMAGES.astype(np.float32), 32)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        resize(IMAGES[:, None], 32)


@pytest.mark.parametrize("size, antialias", [(224, False), (96, False), (227, False), (29, False),
                                              (14, True), (5, True)])
def test_resize_equals_torch_interpolate(size, antialias):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(size).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    ref = torch.nn.functional.interpolate(torch.from_numpy(x[:, None] / 255).float(), size=(size, size),
                                          mode="bilinear", align_corners=False, antialias=antialias).numpy()
    assert_close_f32(resize(x, size), ref, 2 * 28, what="resized")  # a 28-term sum along each axis


def test_resize_is_within_one_grey_level_of_pil_as_d2l_uses_it():
    image_mod = pytest.importorskip("PIL.Image")
    x = np.random.default_rng(2).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    for size in (224, 96):
        pil = np.stack([np.asarray(image_mod.fromarray(im).resize((size, size), image_mod.BILINEAR)) for im in x])
        assert np.abs(resize(x, size)[:, 0] * 255 - pil).max() <= 1 + 1e-3


# --- loader.py ------------------------------------------------------------------------------------------------

def tiny_dataset(n=10):
    images = np.arange(n, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), np.uint8)  # image i is all i
    return Dataset(images, np.arange(n) % 10, tuple("abcdefghij"), "tiny")


def served(loader, epoch=None):
    """The example indices a pass serves (recovered from the pixel values), as a list of batches."""
    batches = loader if epoch is None else loader.batches(epoch)
    return [np.rint(as_array(x)[:, 0, 0, 0] * 255).astype(int).tolist() for x, _ in batches]


def test_each_epoch_is_a_permutation_reproducible_from_seed_and_epoch():
    a, b = DataLoader(tiny_dataset(), 4, seed=7), DataLoader(tiny_dataset(), 4, seed=7)
    epochs_a = [served(a) for _ in range(3)]
    assert a.epoch == 3
    assert epochs_a == [served(b) for _ in range(3)]
    for ep in epochs_a:
        assert sorted(sum(ep, [])) == list(range(10))
    assert epochs_a[0] != epochs_a[1] != epochs_a[2]
    c = DataLoader(tiny_dataset(), 4, seed=7)
    c.epoch = 2  # resume at epoch 2
    assert served(c) == epochs_a[2]
    assert served(c, epoch=1) == epochs_a[1]
    assert [x for x in served(DataLoader(tiny_dataset(), 4, seed=8))] != epochs_a[0]


def test_resuming_mid_epoch_serves_the_rest_of_that_epoch():
    loader = DataLoader(tiny_dataset(), 3, seed=1)
    whole = served(loader, epoch=5)
    assert [np.rint(as_array(x)[:, 0, 0, 0] * 255).astype(int).tolist() for x, _ in loader.batches(5, start=2)] == whole[2:]


def test_seed_none_comes_from_manual_seed():
    saved = backend.get_rng_state()
    try:
        backend.manual_seed(123)
        first = DataLoader(tiny_dataset(), 4).seed
        backend.manual_seed(123)
        assert DataLoader(tiny_dataset(), 4).seed == first
        assert DataLoader(tiny_dataset(), 4, shuffle=False).seed is None  # no draw when not shuffling
    finally:
        backend.set_rng_state(saved)


def test_last_partial_batch_is_kept_unless_drop_last():
    loader = DataLoader(tiny_dataset(10), 4, shuffle=False)
    assert len(loader) == 3 and [len(b) for b in served(loader)] == [4, 4, 2]
    dropped = DataLoader(tiny_dataset(10), 4, shuffle=False, drop_last=True)
    assert len(dropped) == 2 and [len(b) for b in served(dropped)] == [4, 4]
    assert len(DataLoader(tiny_dataset(8), 4, drop_last=False)) == 2


def test_unshuffled_is_in_order():
    assert served(DataLoader(tiny_dataset(10), 4, shuffle=False)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_limit_uses_only_the_first_examples():
    loader = DataLoader(tiny_dataset(10), 4, limit=6, seed=0)
    assert len(loader) == 2
    assert sorted(sum(served(loader), [])) == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match=r"limit must be in 1\.\.10"):
        DataLoader(tiny_dataset(10), 4, limit=11)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(tiny_dataset(10), 0)


def test_batches_are_resized_engine_arrays_with_matching_labels():
    ds = load_synthetic(n_train=20, n_test=10)[0]
    with backend.backend("numpy") as b:
        loader = DataLoader(ds, 8, resize=32, seed=3)
        order = loader.order(0)
        for i, (x, y) in enumerate(loader):
            idx = order[i * 8:(i + 1) * 8]
            assert isinstance(x, Tensor) and isinstance(x.data, b.xp.ndarray)  # as a PyTorch DataLoader: Tensors
            assert x.shape == (len(idx), 1, 32, 32) and x.dtype == np.float32
            x, y = as_array(x), as_array(y)
            assert y.dtype == np.int64
            np.testing.assert_array_equal(y, ds.labels[idx])
            assert_close_f32(x, resize(ds.images[idx], 32), 2 * 28, what="resized batch")


def test_load_data_gives_a_shuffled_train_and_an_ordered_test_loader():
    train, test = load_data(16, resize=40, name="synthetic", seed=0, limit=100, n_train=200, n_test=50)
    assert train.shuffle and not test.shuffle
    assert (train.size, test.size) == (100, 50)
    x, y = next(iter(train))
    assert x.shape == (16, 1, 40, 40)


# --- synthetic.py and load_dataset ----------------------------------------------------------------------------

def test_synthetic_is_deterministic_from_its_seed():
    a, b, c = load_synthetic(seed=5), load_synthetic(seed=5), load_synthetic(seed=6)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.images, y.images)
        np.testing.assert_array_equal(x.labels, y.labels)
    assert not np.array_equal(a[0].images, c[0].images)
    np.testing.assert_array_equal(load_synthetic(n_train=100, seed=5)[1].images, a[1].images)  # test set fixed


def test_synthetic_has_the_fashion_mnist_form_and_balanced_classes():
    train, test = load_dataset("synthetic", n_train=300, n_test=100)
    assert train.images.shape == (300, 28, 28) and train.images.dtype == np.uint8
    assert train.labels.dtype == np.int64 and np.bincount(train.labels).tolist() == [30] * 10
    assert len(test) == 100 and len(train.classes) == 10


def test_synthetic_is_learnable_by_nearest_class_mean():
    train, test = load_synthetic(n_train=1000, n_test=500, seed=0)
    means = np.stack([train.images[train.labels == k].reshape(-1, 784).mean(0) for k in range(10)])
    dist = ((test.images.reshape(-1, 1, 784).astype(float) - means) ** 2).sum(-1)
    accuracy = (dist.argmin(1) == test.labels).mean()
    assert accuracy > 0.75  # measured 0.85; chance is 0.1


def test_load_dataset_rejects_unknown_names_and_misplaced_options():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="no data_dir"):
        load_dataset("synthetic", data_dir="/tmp")
