"""Turn uint8 images into the float32 NCHW batches a network eats, resizing on the way.

Bilinear resizing is linear and separable, so it is two matrix products, one per axis::

    out[n] = A_h @ img[n] @ A_w.T        A_h: (S, H), A_w: (S, W), each row's weights sum to 1

``A`` is built once per (input size, output size) and reused; the products run on whatever array module
owns the images (NumPy or CuPy), so the same code resizes on the CPU and the GPU.

Row ``i`` of ``A`` puts output pixel ``i``'s centre at input coordinate ``c = (i + 0.5) * in / out`` and
weighs input pixel ``j`` (centre ``j + 0.5``) by the triangle ``max(0, 1 - |j + 0.5 - c| / s)`` with
``s = max(in / out, 1)``, normalised to sum to 1 (pixels past the border get no weight).

* Upsampling (``s = 1``, d2l's 28 -> 224): this is exactly ``torch.nn.functional.interpolate(mode="bilinear",
  align_corners=False)``, half-pixel centres, edge pixels repeated.
* Downsampling (``s > 1``): the triangle widens to cover every input pixel, as PIL's and torchvision's
  ``Resize`` do (``antialias=True``). ``F.interpolate``'s default ``antialias=False`` instead samples only the two
  nearest pixels and aliases; results then differ.

d2l applies ``torchvision.transforms.Resize`` to PIL images, which rounds to uint8 after each axis before
``ToTensor`` divides by 255. We keep float32 throughout, so pixels differ from d2l's by at most 1/255.
"""

from __future__ import annotations

import numpy as np

from ..backend import array_module
from ..errors import InputError, ShapeError

_matrices: dict = {}


def interpolation_matrix(in_size: int, out_size: int) -> np.ndarray:
    """The (out_size, in_size) float64 matrix of bilinear weights described in the module docstring."""
    if in_size < 1 or out_size < 1:
        raise InputError(f"sizes must be positive, got in_size={in_size}, out_size={out_size}")
    return crop_interpolation(np, np.zeros(1), np.full(1, float(in_size)), in_size, out_size)[0]


def crop_interpolation(xp, starts, lengths, in_size: int, out_size: int):
    """(N, out_size, in_size) weights that resize, for each n, the window ``starts[n] : starts[n] + lengths[n]``
    of an axis of ``in_size`` pixels to ``out_size`` -- torchvision's crop-then-resize as one matrix per image.

    The same triangle as the module docstring's, with ``in`` the window's length and the centres shifted by its
    start; pixels outside the window get no weight, so the window's edge pixels repeat as an image's do.
    """
    starts, lengths = (xp.asarray(a, dtype=xp.float64)[:, None, None] for a in (starts, lengths))
    support = xp.maximum(lengths / out_size, 1.0)
    centres = starts + (xp.arange(out_size, dtype=xp.float64)[None, :, None] + 0.5) * lengths / out_size
    pixels = xp.arange(in_size, dtype=xp.float64)[None, None, :]
    inside = (pixels >= starts) & (pixels < starts + lengths)
    w = xp.maximum(0.0, 1.0 - xp.abs(pixels + 0.5 - centres) / support) * inside
    return w / w.sum(axis=2, keepdims=True)


def _matrix(xp, in_size: int, out_size: int, gain: float = 1.0):
    key = (xp.__name__, in_size, out_size, gain)
    if key not in _matrices:
        _matrices[key] = xp.asarray((interpolation_matrix(in_size, out_size) * gain).astype(np.float32))
    return _matrices[key]


def resize_float(x, size: tuple[int, int]):
    """(N, C, H, W) float32 -> (N, C, h, w), resized as :func:`resize` does (torchvision's ``Resize`` on tensors,
    ``antialias=True``); on the array module of ``x``."""
    xp = array_module(x)
    n, c, h, w = x.shape
    out_h, out_w = size
    rows = _matrix(xp, h, out_h) @ x                                  # (N, C, h, W)
    return rows @ _matrix(xp, w, out_w).T


def resize(images, size: int | None = None):
    """(N, H, W) uint8 -> (N, 1, S, S) float32 in [0, 1], bilinearly resized to ``size`` (None: keep H, W).

    Runs on the array module of ``images``: NumPy in, NumPy out; CuPy in, CuPy out.
    """
    xp = array_module(images)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ShapeError(f"expected (N, H, W) uint8 images, got shape {images.shape} dtype {images.dtype}")
    n, h, w = images.shape
    x = images.astype(xp.float32)
    if size is None or (size == h and size == w):
        return (x * xp.float32(1 / 255)).reshape(n, 1, h, w)
    if size < 1:
        raise InputError(f"size must be a positive int or None, got {size}")
    a_h = _matrix(xp, h, size, gain=1 / 255)  # the 1/255 rides along with the weights: one pass fewer
    a_w = _matrix(xp, w, size)
    rows = a_h @ x                                                   # (N, S, W): S x W per image
    return (rows.reshape(n * size, w) @ a_w.T).reshape(n, 1, size, size)  # one GEMM for the whole batch
