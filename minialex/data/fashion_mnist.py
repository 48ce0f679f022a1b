"""Fashion-MNIST: find the four IDX files, download them if need be, verify them, return arrays.

Where the files are looked for (the first folder holding all four wins):

0. ``data_dir=`` or the environment variable ``MINIALEX_DATA``. When given, this folder is the *only* place
   looked at: files missing there are an error, never a silent fall-back to another copy.
1. the cache, ``$XDG_CACHE_HOME/minialex/fashion-mnist`` (default ``~/.cache/minialex/fashion-mnist``);
2. ``/usr/share/datasets/fashion-mnist``, where Debian's ``dataset-fashion-mnist`` package puts them;
3. a download from :data:`MIRRORS` into the cache.

Each file may be gzip-compressed (``name.gz``) or raw (``name``). Every file is verified by the SHA-256 of its
*decompressed* contents, so any faithful copy passes whatever its gzip header says (Debian's .gz files are
recompressed: their bytes, and so their MD5s, differ from the official archives'; the data does not).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from urllib.request import urlopen


from ..errors import ConfigError
from .dataset import Dataset
from .idx import DataError, check_images, check_labels, parse_idx, read_bytes

CLASS_NAMES = ("t-shirt", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle boot")  # d2l's get_fashion_mnist_labels

MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # Zalando's bucket, as torchvision uses
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
APT_HINT = "apt-get install dataset-fashion-mnist"


@dataclass(frozen=True)
class IdxFile:
    name: str     # without ".gz"
    sha256: str   # of the decompressed contents
    gz_md5: str   # of the official .gz archive (torchvision's table); for reference, not checked


# The SHA-256s were computed from Debian's files after they parsed cleanly; they match digests published
# elsewhere for archives with the official MD5s below.
FILES = {
    "train": (IdxFile("train-images-idx3-ubyte",
                      "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                      "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
              IdxFile("train-labels-idx1-ubyte",
                      "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                      "25c81989df183df01b3e8a0aad5dffbe")),
    "test": (IdxFile("t10k-images-idx3-ubyte",
                     "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                     "bef4ecab320f06d8554ea6380940ec79"),
             IdxFile("t10k-labels-idx1-ubyte",
                     "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                     "bb300cfdad3c16e7a12a480ee83cd310")),
}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "minialex" / "fashion-mnist"


def _find(directory: Path, name: str) -> Path | None:
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    return None


def _all_files():
    return FILES["train"] + FILES["test"]


def _missing(directory: Path) -> list[str]:
    return [f.name for f in _all_files() if _find(directory, f.name) is None]


def _how_to_get(cache: Path, name_the_files: bool = True) -> str:
    return ("To get Fashion-MNIST, do one of:\n"
            f"  - {APT_HINT}   (Debian/Ubuntu; puts the files in {DEBIAN_DIR})\n"
            f"  - download the four .gz files from {MIRRORS[0]} into {cache}\n"
            "  - point at a folder that has them: --data-dir DIR, data_dir=DIR, or MINIALEX_DATA=DIR"
            + (f"\nThe files: {', '.join(f.name + '.gz' for f in _all_files())}" if name_the_files else ""))


def locate(data_dir=None, download: bool = True, progress: bool = True) -> Path:
    """The folder holding all four files, downloading them into the cache if nowhere else has them."""
    override = data_dir if data_dir is not None else os.environ.get("MINIALEX_DATA") or None
    if override is not None:
        folder = Path(override).expanduser()
        source = "data_dir" if data_dir is not None else "MINIALEX_DATA"
        if not folder.is_dir():
            raise DataError(f"{source}={folder}: no such folder. It should hold "
                            f"{', '.join(f.name + '[.gz]' for f in _all_files())}.\n" + _how_to_get(cache_dir(), False))
        missing = _missing(folder)
        if missing:
            raise DataError(f"{source}={folder} lacks {', '.join(m + '[.gz]' for m in missing)}. "
                            "(With data_dir/MINIALEX_DATA set, no other place is looked at.)\n"
                            + _how_to_get(cache_dir(), False))
        return folder

    cache = cache_dir()
    looked = []
    for folder, what in ((cache, "cache"), (DEBIAN_DIR, "Debian package")):
        missing = _missing(folder)
        if not missing:
            return folder
        looked.append(f"  {folder} ({what}): " + ("no such folder" if not folder.is_dir()
                                                   else "lacks " + ", ".join(missing)))
    looked = "Looked in:\n" + "\n".join(looked) + "\n"
    if not download:
        raise DataError("Fashion-MNIST not found, and download=False.\n" + looked + _how_to_get(cache))
    try:
        download_files(cache, [f for f in _all_files() if _find(cache, f.name) is None], progress=progress)
    except DataError as e:
        raise DataError(f"Fashion-MNIST not found, and downloading it failed.\n{looked}{e}\n"
                        + _how_to_get(cache)) from e
    return cache


def download_files(folder: Path, files, mirrors=None, progress: bool = True) -> None:
    """Fetch each file's .gz into ``folder``, trying ``mirrors`` in order; each is verified before it appears."""
    mirrors = MIRRORS if mirrors is None else mirrors
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the cache folder {folder}: {e}") from e
    for spec in files:
        failures = []
        for mirror in mirrors:
            url = mirror + spec.name + ".gz"
            try:
                _download_one(url, folder / (spec.name + ".gz"), spec, progress)
                break
            except (OSError, HTTPException, DataError) as e:  # URLError, HTTPError, timeouts; IncompleteRead
                failures.append(f"  {url}: {e}")
        else:
            raise DataError(f"could not download {spec.name}.gz:\n" + "\n".join(failures))


def _download_one(url: str, dest: Path, spec: IdxFile, progress: bool) -> None:
    """Stream ``url`` to a temporary file beside ``dest``, verify it, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urlopen(url, timeout=30) as response:
            total = response.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            got = 0
            from tqdm.auto import tqdm  # here, not at import: in Jupyter, tqdm.auto warns without ipywidgets
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name,
                      disable=not progress, leave=False) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
            if total is not None and got != total:
                raise DataError(f"incomplete download: {got} of {total} bytes")
        _load_verified(Path(tmp), spec, name=url)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_verified(path: Path, spec: IdxFile, name=None):
    """Parse, check and digest-verify one file; returns images (N, 28, 28) uint8 or labels (N,) int64."""
    name = name or str(path)
    data = read_bytes(path)
    arr = parse_idx(data, name)
    arr = check_images(arr, name) if "images" in spec.name else check_labels(arr, name)
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise DataError(f"{name}: not the official {spec.name}: SHA-256 of the decompressed contents is {digest}, "
                        f"expected {spec.sha256}. Delete or replace the file.")
    return arr


_memo: dict = {}


def _load_file(path: Path, spec: IdxFile):
    """:func:`_load_verified`, remembered per process for an unchanged file."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, spec.sha256)
    if key not in _memo:
        _memo[key] = _load_verified(path, spec)
    return _memo[key]


def load_fashion_mnist(split: str = "train", data_dir=None, download: bool = True,
                       progress: bool = True) -> Dataset:
    """``split`` "train" (60000 images) or "test" (10000): verified, read-only arrays."""
    if split not in FILES:
        raise ConfigError(f"split must be one of {', '.join(FILES)}, got {split!r}")
    folder = locate(data_dir, download, progress)
    image_spec, label_spec = FILES[split]
    images = _load_file(_find(folder, image_spec.name), image_spec)
    labels = _load_file(_find(folder, label_spec.name), label_spec)
    return Dataset(images, labels, CLASS_NAMES, f"fashion-mnist/{split}")
