"""A tiny built-in stand-in for Fashion-MNIST: ten drawn shapes, jittered and noisy, no files needed.

Same form as the real thing -- (N, 28, 28) uint8 images, (N,) int64 labels in 0..9 -- and learnable (each
class is one shape; a nearest-class-mean classifier already gets most right), so smoke tests can check that
training makes progress. Fully determined by the seed; train and test come from separate child seeds, so
changing ``n_train`` does not change the test set.
"""

from __future__ import annotations

import numpy as np

from .dataset import Dataset

CLASS_NAMES = ("hbars", "vbars", "diagonal", "antidiagonal", "ring",
               "disk", "square", "cross", "checker", "triangle")

SHIFT = 3  # pixels of random translation each way


def templates() -> np.ndarray:
    """(10, 28, 28) float masks in {0, 1}, one shape per class."""
    y, x = np.mgrid[0:28, 0:28] + 0.5
    dy, dx = y - 14, x - 14
    r = np.hypot(dy, dx)
    inside = (np.abs(dy) < 10) & (np.abs(dx) < 10)
    shapes = [
        inside & (y // 4 % 2 == 0),                                   # horizontal bars
        inside & (x // 4 % 2 == 0),                                   # vertical bars
        inside & (np.abs(dy - dx) < 2.5),                             # diagonal
        inside & (np.abs(dy + dx) < 2.5),                             # anti-diagonal
        (r > 6.5) & (r < 10),                                         # ring
        r < 6,                                                        # disk
        inside & ((np.abs(dy) > 7) | (np.abs(dx) > 7)),               # square outline
        inside & ((np.abs(dy) < 2) | (np.abs(dx) < 2)),               # cross
        inside & ((y // 5 + x // 5) % 2 == 0),                        # checkerboard
        (dy > -8) & (dy < 8) & (np.abs(dx) < (dy + 8) * 0.6),         # triangle
    ]
    return np.stack(shapes).astype(np.float64)


def make_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each label's shape, shifted up to SHIFT pixels, scaled in brightness, plus Gaussian noise -> uint8."""
    n = len(labels)
    padded = np.pad(templates(), ((0, 0), (SHIFT, SHIFT), (SHIFT, SHIFT)))
    oy, ox = (rng.integers(0, 2 * SHIFT + 1, n)[:, None, None] for _ in range(2))
    rows = oy + np.arange(28)[None, :, None]
    cols = ox + np.arange(28)[None, None, :]
    shapes = padded[labels[:, None, None], rows, cols]                        # (n, 28, 28)
    brightness = rng.uniform(120, 255, (n, 1, 1))
    noisy = shapes * brightness + rng.normal(0, 30, shapes.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def make_split(n: int, rng: np.random.Generator, name: str) -> Dataset:
    labels = rng.permutation(np.arange(n) % len(CLASS_NAMES)).astype(np.int64)  # balanced classes
    return Dataset(make_images(labels, rng), labels, CLASS_NAMES, name)


def load_synthetic(n_train: int = 2000, n_test: int = 500, seed: int = 0) -> tuple[Dataset, Dataset]:
    """(train, test) synthetic datasets, identical for identical arguments."""
    train_seq, test_seq = np.random.SeedSequence(seed).spawn(2)
    return (make_split(n_train, np.random.default_rng(train_seq), "synthetic/train"),
            make_split(n_test, np.random.default_rng(test_seq), "synthetic/test"))
