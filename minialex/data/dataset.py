"""The one shape every data source hands over: uint8 images, int64 labels, class names."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class Dataset:
    """``images`` (N, H, W) uint8 on the host, ``labels`` (N,) int64 in 0..len(classes)-1."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    name: str = ""

    def __post_init__(self):
        if self.images.dtype != np.uint8 or self.images.ndim != 3:
            raise InputError(f"{self.name}: images must be (N, H, W) uint8, got {self.images.shape} {self.images.dtype}")
        if self.labels.dtype != np.int64 or self.labels.shape != self.images.shape[:1]:
            raise InputError(f"{self.name}: labels must be ({len(self.images)},) int64, "
                             f"got {self.labels.shape} {self.labels.dtype}")

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, {len(self)} images {self.images.shape[1]}x{self.images.shape[2]}, " \
               f"{len(self.classes)} classes)"
