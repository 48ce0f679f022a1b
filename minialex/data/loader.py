"""Mini-batches of a :class:`Dataset` on the active engine, shuffled reproducibly per epoch."""

from __future__ import annotations

import numpy as np

from ..backend import get_backend, host_rng
from ..errors import ConfigError
from ..tensor import Tensor
from .augment import AUGMENT_STREAM, apply
from .dataset import Dataset
from .transforms import resize as resize_images


class DataLoader:
    """Iterate ``(x, y)`` batches: ``x`` (B, 1, S, S) float32 in [0, 1], ``y`` (B,) int64, as Tensors (as a PyTorch
    DataLoader yields them) on the active engine, each wrapping the batch's array without a copy (``x.data``).

    Each ``for x, y in loader`` runs one epoch, and the next one runs the next epoch. Epoch ``k``'s order depends
    on ``(seed, k)`` alone -- ``numpy.random.default_rng((seed, k)).permutation(n)`` -- so resuming a run at
    epoch ``k`` is ``loader.epoch = k`` (mid-epoch: ``loader.batches(k, start=b)``): a checkpoint need only keep
    ``loader.seed`` and the epoch.

    Images stay uint8 on the host. Each batch is gathered there, moved to the device once (as uint8, 4x less
    to copy), and resized there -- never the whole set at once (60000 images at 224 px are 12 GB of float32).

    ``transform`` (:mod:`minialex.data.augment`: ``Compose([RandomCrop(72, padding=4), ...])``, or any callable
    on a batch) runs on each resized batch; a random one draws from ``default_rng((seed, AUGMENT_STREAM, epoch,
    batch))``, so it too depends on (seed, epoch, batch) alone and resumes exactly.

    ``limit=N`` keeps the first N examples; ``drop_last=False`` (as in d2l) keeps a last, smaller batch.
    ``seed=None`` draws one from :func:`minialex.backend.host_rng` (only when shuffling or augmenting), so
    ``manual_seed`` fixes it too.
    """

    def __init__(self, dataset: Dataset, batch_size: int, *, shuffle: bool = True, resize: int | None = None,
                 seed: int | None = None, limit: int | None = None, drop_last: bool = False, transform=None):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive int, got {batch_size!r}")
        n = len(dataset)
        if limit is not None and not 0 < limit <= n:
            raise ConfigError(f"limit must be in 1..{n} (the size of {dataset.name or 'the dataset'}), got {limit}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.resize = resize
        self.size = n if limit is None else limit
        self.drop_last = drop_last
        if transform is not None and not callable(transform):
            raise ConfigError(f"transform must be callable (a minialex.data.augment transform), got {transform!r}")
        self.transform = transform
        if seed is None and (shuffle or getattr(transform, "random", transform is not None)):
            seed = int(host_rng().integers(2**63))
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        """Batches per epoch."""
        whole, rest = divmod(self.size, self.batch_size)
        return whole if self.drop_last or rest == 0 else whole + 1

    def order(self, epoch: int) -> np.ndarray:
        """The example indices of epoch ``epoch``, in the order they are served."""
        if not self.shuffle:
            return np.arange(self.size)
        return np.random.default_rng((self.seed, epoch)).permutation(self.size)

    def augment_rng(self, epoch: int, batch: int) -> np.random.Generator:
        """The generator batch ``batch`` of epoch ``epoch`` draws its augmentation from."""
        return np.random.default_rng((self.seed or 0, AUGMENT_STREAM, epoch, batch))

    def batches(self, epoch: int, start: int = 0):
        """Yield epoch ``epoch``'s batches from batch number ``start`` on."""
        backend = get_backend()
        order = self.order(epoch)
        images, labels = self.dataset.images, self.dataset.labels
        for b in range(start, len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            x = resize_images(backend.asarray(images[idx]), self.resize)
            if self.transform is not None:
                x = apply(self.transform, x, self.augment_rng(epoch, b))
            yield Tensor(x), Tensor(backend.asarray(labels[idx]))

    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        return self.batches(epoch)

    def __repr__(self) -> str:
        return (f"DataLoader({self.dataset.name or 'dataset'}, {self.size} examples, batch_size={self.batch_size}, "
                f"{len(self)} batches, shuffle={self.shuffle}, resize={self.resize}, seed={self.seed}"
                + (f", transform={self.transform!r})" if self.transform is not None else ")"))



def epoch_batches(loader, epoch: int, start: int = 0):
    """The batches of epoch ``epoch`` from batch ``start`` on: a DataLoader's own (seeded order, exact resume), or
    any other iterable of ``(x, y)`` batches -- a list of them, a slice of a loader -- iterated from the start."""
    if hasattr(loader, "batches"):
        return loader.batches(epoch, start)
    if start:
        raise ConfigError(f"resuming at batch {start} needs a minialex DataLoader, whose order is a function of "
                         f"its seed; got a {type(loader).__name__}")
    return iter(loader)


def as_array(batch_part):
    """A batch's ``x`` or ``y`` as an array of the engine: a Tensor's data, an array as it is."""
    return batch_part.data if isinstance(batch_part, Tensor) else batch_part
