"""Data: Fashion-MNIST (found, downloaded, verified), a synthetic stand-in, resizing, augmentation and batching.

    train, test = load_dataset("fashion-mnist")            # Dataset: uint8 images, int64 labels, class names
    train_iter, test_iter = load_data(256, resize=224)     # d2l's load_data_fashion_mnist
    for x, y in train_iter: ...                            # Tensors: x (256, 1, 224, 224) float32, y (256,) int64

Files: ``idx.py`` parses and validates IDX files, ``fashion_mnist.py`` finds / downloads / verifies them,
``synthetic.py`` draws the stand-in, ``transforms.py`` resizes, ``augment.py`` holds torchvision's random
transforms for whole batches (``Compose``, ``RandomCrop``, ``RandomHorizontalFlip``, ...), ``loader.py`` batches.
"""

from __future__ import annotations

from ..errors import ConfigError
from .augment import (Compose, Normalize, RandomCrop, RandomHorizontalFlip, RandomResizedCrop, Resize,
                      evaluation_part)
from .dataset import Dataset
from .fashion_mnist import load_fashion_mnist
from .idx import DataError
from .loader import DataLoader, as_array, epoch_batches
from .synthetic import load_synthetic
from .transforms import resize

DATASETS = ("fashion-mnist", "synthetic")

__all__ = ["DATASETS", "Compose", "DataError", "DataLoader", "Dataset", "Normalize", "RandomCrop",
           "RandomHorizontalFlip", "RandomResizedCrop", "Resize", "load_data", "load_dataset", "resize"]


def load_dataset(name: str = "fashion-mnist", data_dir=None, **options) -> tuple[Dataset, Dataset]:
    """The (train, test) splits of ``name``.

    Options -- fashion-mnist: ``download=True``, ``progress=True``; synthetic: ``n_train=2000``, ``n_test=500``,
    ``seed=0``. ``data_dir`` (fashion-mnist only) overrides where the files are looked for.
    """
    if name == "fashion-mnist":
        return (load_fashion_mnist("train", data_dir, **options),
                load_fashion_mnist("test", data_dir, **options))
    if name == "synthetic":
        if data_dir is not None:
            raise ConfigError("the synthetic dataset is generated; it takes no data_dir")
        return load_synthetic(**options)
    raise ConfigError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")


def load_data(batch_size: int, resize: int | None = None, *, name: str = "fashion-mnist", data_dir=None,
              seed: int | None = None, limit: int | None = None, transform=None, test_transform=None,
              **options) -> tuple[DataLoader, DataLoader]:
    """(train, test) loaders, as d2l's ``load_data_fashion_mnist``: train shuffled, test in order.

    ``limit`` keeps the first N examples of each split (of the test split, at most all of it). ``transform`` runs
    on each train batch after the resize (``Compose([RandomCrop(28, padding=2), RandomHorizontalFlip()])``);
    the test split gets ``test_transform`` or, if None, the part of ``transform`` that draws nothing (its
    ``Normalize``, say), so the test images are never cropped at random.
    """
    train, test = load_dataset(name, data_dir, **options)
    if test_transform is None:
        test_transform = evaluation_part(transform)
    return (DataLoader(train, batch_size, shuffle=True, resize=resize, seed=seed, limit=limit, transform=transform),
            DataLoader(test, batch_size, shuffle=False, resize=resize, transform=test_transform,
                       limit=None if limit is None else min(limit, len(test))))
