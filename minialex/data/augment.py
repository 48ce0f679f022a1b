"""Data augmentation with torchvision's names and semantics, as transforms of whole batches on the engine's arrays.

    train_tf = Compose([RandomCrop(72, padding=4), RandomHorizontalFlip(), Normalize(0.286, 0.353)])
    train_iter = DataLoader(train_set, 128, resize=72, transform=train_tf)

A transform maps a float32 batch ``x`` (N, C, H, W) -- the loader's, after its resize and the division by 255, as
torchvision's transforms run after ``ToTensor`` -- to another, on the same array module (NumPy or CuPy). Each image
gets its own draw, as if torchvision's transform had been applied image by image, but nothing loops over images:
a crop is one gather, a flip one ``where``, a resized crop one pair of batched matrix products (one matrix per image).

Random transforms take ``rng``, a NumPy ``Generator``. The loader hands every batch its own,
``default_rng((seed, AUGMENT_STREAM, epoch, batch))``, so a batch's crops depend on (seed, epoch, batch) alone: a
resumed run draws exactly what an uninterrupted one does, and nothing needs to go into a checkpoint. The draws are a
few numbers per image, made on the host, so every engine sees the same crops; only the pixels move on the device.
Called without ``rng`` they draw from :func:`minialex.backend.host_rng`, as torchvision's draw from torch's global
generator (so ``manual_seed`` fixes them).
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from ..backend import array_module, host_rng
from ..errors import ConfigError
from .transforms import crop_interpolation, resize_float

AUGMENT_STREAM = 0xA6  # tells the loader's augmentation streams apart from its shuffling stream, (seed, epoch)


class Transform:
    """A batch transform: ``t(x, rng=None)``. ``random`` is False for those that draw nothing."""

    random = True

    def __call__(self, x, rng=None):
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


def apply(transform, x, rng=None):
    """``transform(x, rng)`` for a :class:`Transform`, ``transform(x)`` for any other callable."""
    return transform(x, rng) if isinstance(transform, Transform) else transform(x)


def evaluation_part(transform):
    """The part of ``transform`` that draws nothing (Resize, Normalize), for the test split; None if none is left."""
    if transform is None or not isinstance(transform, Transform):
        return transform
    if isinstance(transform, Compose):
        kept = [t for t in transform.transforms if not getattr(t, "random", False)]
        return Compose(kept) if kept else None
    return None if transform.random else transform


def _rng(rng) -> np.random.Generator:
    return host_rng() if rng is None else rng


def _pair(value, what: str) -> tuple[int, int]:
    """An int side or an (h, w) pair -> (h, w) of positive ints."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in pair):
        raise ConfigError(f"{what}: size must be a positive int or an (h, w) pair of them, got {value!r}")
    return pair


def _range(value, what: str, upper: float | None = None) -> tuple[float, float]:
    """A (lo, hi) pair with 0 < lo <= hi (<= upper)."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a (min, max) pair of numbers, got {value!r}") from None
    if not (0 < lo <= hi and math.isfinite(hi)) or (upper is not None and hi > upper):
        bound = f" <= {upper:g}" if upper is not None else ""
        raise ConfigError(f"{what} must satisfy 0 < min <= max{bound}, got ({lo:g}, {hi:g})")
    return lo, hi


def _check_batch(x, what: str):
    if getattr(x, "ndim", None) != 4:
        raise ConfigError(f"{what}: expected a batch (N, C, H, W), got shape {getattr(x, 'shape', None)}")


class Compose(Transform):
    """Apply ``transforms`` in order (torchvision's ``Compose``); each random one draws from the same ``rng``."""

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise ConfigError(f"Compose: every transform must be callable, got {t!r}")

    @property
    def random(self) -> bool:
        return any(getattr(t, "random", False) for t in self.transforms)

    def __call__(self, x, rng=None):
        rng = _rng(rng) if self.random else rng
        for t in self.transforms:
            x = apply(t, x, rng)
        return x

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(map(repr, self.transforms)) + "])"


class Resize(Transform):
    """Bilinear resize to ``size`` (an int: a square side, or (h, w)), antialiased when shrinking, as torchvision's
    ``Resize(size, antialias=True)`` on a square image (see :mod:`minialex.data.transforms`)."""

    random = False

    def __init__(self, size):
        self.size = _pair(size, "Resize")

    def __call__(self, x, rng=None):
        _check_batch(x, "Resize")
        return x if tuple(x.shape[2:]) == self.size else resize_float(x, self.size)


class RandomCrop(Transform):
    """A ``size`` window at a uniformly random place of the image zero-padded by ``padding`` on each side
    (torchvision's ``RandomCrop(size, padding)`` with ``fill=0``): offsets ``top`` in 0..H+2p-h, ``left`` in
    0..W+2p-w, each value equally likely. ``padding``: an int, (left/right, top/bottom) or (left, top, right, bottom),
    torchvision's order."""

    def __init__(self, size, padding=0):
        self.size = _pair(size, "RandomCrop")
        pad = (padding,) * 4 if isinstance(padding, int) else tuple(padding)
        pad = pad * 2 if len(pad) == 2 else pad
        if len(pad) != 4 or not all(isinstance(v, int) and v >= 0 for v in pad):
            raise ConfigError(f"RandomCrop: padding must be an int >= 0, or 2 or 4 of them, got {padding!r}")
        self.padding = pad  # left, top, right, bottom

    def params(self, rng, n: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """(top, left) of each image's window in the padded image."""
        left, top, right, bottom = self.padding
        hh, ww = h + top + bottom, w + left + right
        ch, cw = self.size
        if ch > hh or cw > ww:
            raise ConfigError(f"RandomCrop: the crop {ch}x{cw} is larger than the padded image {hh}x{ww} "
                             f"({h}x{w} with padding {self.padding}); use a smaller size or more padding")
        return rng.integers(0, hh - ch + 1, n), rng.integers(0, ww - cw + 1, n)

    def __call__(self, x, rng=None):
        _check_batch(x, "RandomCrop")
        n, _, h, w = x.shape
        top, left = self.params(_rng(rng), n, h, w)
        xp = array_module(x)
        pl, pt, pr, pb = self.padding
        if any(self.padding):
            x = xp.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
        ch, cw = self.size
        rows = xp.asarray(top)[:, None, None] + xp.arange(ch)[None, :, None]      # (N, ch, 1)
        cols = xp.asarray(left)[:, None, None] + xp.arange(cw)[None, None, :]     # (N, 1, cw)
        picked = x[xp.arange(n)[:, None, None], :, rows, cols]                     # (N, ch, cw, C)
        return xp.ascontiguousarray(picked.transpose(0, 3, 1, 2))


class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability ``p`` (torchvision's ``RandomHorizontalFlip(p)``)."""

    def __init__(self, p: float = 0.5):
        if not (isinstance(p, Real) and 0.0 <= p <= 1.0):
            raise ConfigError(f"RandomHorizontalFlip: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)

    def params(self, rng, n: int) -> np.ndarray:
        """Which images flip: (N,) bool."""
        return rng.random(n) < self.p

    def __call__(self, x, rng=None):
        _check_batch(x, "RandomHorizontalFlip")
        xp = array_module(x)
        flip = xp.asarray(self.params(_rng(rng), len(x)))
        return xp.where(flip[:, None, None, None], x[..., ::-1], x)


class RandomResizedCrop(Transform):
    """A window of random area and aspect ratio, resized to ``size`` (torchvision's ``RandomResizedCrop``).

    Per image, as torchvision's ``get_params``: up to 10 tries of an area ``scale``-fraction of the image's (uniform)
    and an aspect ratio w/h log-uniform in ``ratio``; sides ``round(sqrt(area * ratio))`` by ``round(sqrt(area /
    ratio))``; the first try that fits is placed uniformly at random. If none fits, the whole image, cut to the
    nearest allowed ratio, centred. The window is then resized bilinearly (antialiased) to ``size``.
    """

    TRIES = 10

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
        self.size = _pair(size, "RandomResizedCrop")
        self.scale = _range(scale, "RandomResizedCrop: scale", upper=1.0)
        self.ratio = _range(ratio, "RandomResizedCrop: ratio")

    def params(self, rng, n: int, h: int, w: int) -> tuple[np.ndarray, ...]:
        """(top, left, height, width) of each image's window, (N,) int64 each."""
        area = rng.uniform(*self.scale, (n, self.TRIES)) * (h * w)
        aspect = np.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1]), (n, self.TRIES)))
        widths = np.rint(np.sqrt(area * aspect)).astype(np.int64)
        heights = np.rint(np.sqrt(area / aspect)).astype(np.int64)
        fits = (widths >= 1) & (widths <= w) & (heights >= 1) & (heights <= h)
        first, found = fits.argmax(axis=1), fits.any(axis=1)
        # torchvision's fall-back: the whole image, cut to the nearest allowed ratio, centred
        fh, fw = h, w
        if w / h < self.ratio[0]:
            fh = round(w / self.ratio[0])
        elif w / h > self.ratio[1]:
            fw = round(h * self.ratio[1])
        height = np.where(found, heights[np.arange(n), first], fh)
        width = np.where(found, widths[np.arange(n), first], fw)
        top, left = rng.integers(0, h - height + 1), rng.integers(0, w - width + 1)
        top, left = np.where(found, top, (h - fh) // 2), np.where(found, left, (w - fw) // 2)
        return top, left, height, width

    def __call__(self, x, rng=None):
        _check_batch(x, "RandomResizedCrop")
        n, _, h, w = x.shape
        top, left, height, width = self.params(_rng(rng), n, h, w)
        xp = array_module(x)
        a_h = crop_interpolation(xp, xp.asarray(top), xp.asarray(height), h, self.size[0]).astype(xp.float32)
        a_w = crop_interpolation(xp, xp.asarray(left), xp.asarray(width), w, self.size[1]).astype(xp.float32)
        return a_h[:, None] @ x @ a_w[:, None].transpose(0, 1, 3, 2)   # (N, 1, h', H) @ (N, C, H, W) @ (N, 1, W, w')


class Normalize(Transform):
    """``(x - mean[c]) / std[c]`` per channel (torchvision's ``Normalize``); a number means every channel."""

    random = False

    def __init__(self, mean, std):
        self.mean = (float(mean),) if isinstance(mean, Real) else tuple(float(m) for m in mean)
        self.std = (float(std),) if isinstance(std, Real) else tuple(float(s) for s in std)
        if not all(math.isfinite(m) for m in self.mean) or not all(s > 0 and math.isfinite(s) for s in self.std):
            raise ConfigError(f"Normalize: mean must be finite and std > 0, got mean={mean!r}, std={std!r}")
        if len(self.mean) != len(self.std):
            raise ConfigError(f"Normalize: mean and std need one value per channel, got {len(self.mean)} and "
                             f"{len(self.std)}")

    def __call__(self, x, rng=None):
        _check_batch(x, "Normalize")
        c = x.shape[1]
        if len(self.mean) not in (1, c):
            raise ConfigError(f"Normalize: {len(self.mean)} means for a batch of {c} channels")
        xp = array_module(x)
        shape = (1, -1, 1, 1)
        mean = xp.asarray(self.mean, dtype=x.dtype).reshape(shape)
        return (x - mean) / xp.asarray(self.std, dtype=x.dtype).reshape(shape)
