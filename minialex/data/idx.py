"""Read IDX files, the format of MNIST and Fashion-MNIST, and refuse anything malformed.

An IDX file is a header and a flat block of big-endian numbers::

    bytes 0-1   0x00 0x00               (magic)
    byte  2     type code               (0x08 = uint8, 0x09 = int8, 0x0B = int16, 0x0C = int32,
                                         0x0D = float32, 0x0E = float64)
    byte  3     ndim
    4 * ndim    each dimension, a big-endian uint32
    the rest    prod(dims) numbers of that type, row-major

Files may be gzip-compressed; that is told from the first two bytes (0x1f 0x8b), never from the name.
Every check runs before an array is returned, so a bad file raises :class:`DataError` and is never half-used.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError

GZIP_MAGIC = b"\x1f\x8b"

DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_bytes(path) -> bytes:
    """The file's contents, decompressed when it starts with the gzip magic."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from e
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
            raise DataError(f"{path}: corrupt gzip data ({e})") from e
    return data


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode an uncompressed IDX blob into a read-only array of its native dtype."""
    if len(data) < 4:
        raise DataError(f"{name}: {len(data)} bytes is too short for an IDX header (need at least 4)")
    zero, code, ndim = data[:2], data[2], data[3]
    if zero != b"\x00\x00" or code not in DTYPES:
        raise DataError(f"{name}: bad IDX magic {data[:4].hex(' ')}; expected 00 00 <type> <ndim> with type "
                        f"one of {', '.join(f'{c:#04x}' for c in DTYPES)}")
    if ndim == 0:
        raise DataError(f"{name}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{name}: truncated header: {ndim} dimensions need {header} bytes, file has {len(data)}")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = DTYPES[code]
    expected = header + math.prod(dims) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "oversized"
        raise DataError(f"{name}: {what}: header says {dims} x {dtype.itemsize} bytes, so the file should be "
                        f"{expected} bytes, found {len(data)}")
    arr = np.frombuffer(data, dtype, offset=header).reshape(dims)
    if not dtype.isnative:
        arr = arr.astype(dtype.newbyteorder("="))
    arr.flags.writeable = False
    return arr


def read_idx(path) -> np.ndarray:
    """Any IDX file (gzip or raw) -> a read-only array."""
    return parse_idx(read_bytes(path), str(path))


def check_images(arr: np.ndarray, name: str, size: tuple[int, int] = (28, 28)) -> np.ndarray:
    """Require (N, 28, 28) uint8."""
    if arr.dtype != np.uint8:
        raise DataError(f"{name}: images must be uint8 (IDX type 0x08), found {arr.dtype}")
    if arr.ndim != 3:
        raise DataError(f"{name}: images must have 3 dimensions (N, H, W), found {arr.ndim}: {arr.shape}")
    if arr.shape[1:] != size:
        raise DataError(f"{name}: images must be {size[0]}x{size[1]}, found {arr.shape[1]}x{arr.shape[2]}")
    return arr


def check_labels(arr: np.ndarray, name: str, num_classes: int = 10) -> np.ndarray:
    """Require (N,) uint8 with values in 0..num_classes-1; returns them as read-only int64."""
    if arr.dtype != np.uint8:
        raise DataError(f"{name}: labels must be uint8 (IDX type 0x08), found {arr.dtype}")
    if arr.ndim != 1:
        raise DataError(f"{name}: labels must have 1 dimension (N,), found {arr.ndim}: {arr.shape}")
    bad = np.flatnonzero(arr >= num_classes)
    if bad.size:
        raise DataError(f"{name}: labels must be in 0..{num_classes - 1}, found {arr[bad[0]]} at index {bad[0]} "
                        f"({bad.size} out of range)")
    out = arr.astype(np.int64)
    out.flags.writeable = False
    return out


def read_images(path) -> np.ndarray:
    """An IDX image file -> (N, 28, 28) uint8, read-only."""
    return check_images(read_idx(path), str(path))


def read_labels(path, num_classes: int = 10) -> np.ndarray:
    """An IDX label file -> (N,) int64 in 0..num_classes-1, read-only."""
    return check_labels(read_idx(path), str(path), num_classes)
