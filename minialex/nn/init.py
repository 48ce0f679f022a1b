"""Weight initialisation, drawn on the host from the seeded generator so a seed gives the same weights on
every engine, then moved to the active device."""

from __future__ import annotations

import math

import numpy as np

from ..backend import get_backend, host_rng
from ..errors import ConfigError, ShapeError
from ..tensor import Tensor


def fan_in_and_fan_out(t: Tensor) -> tuple[int, int]:
    """As PyTorch: Linear (out, in) -> (in, out); Conv2d (out, in, kh, kw) -> (in*kh*kw, out*kh*kw)."""
    if t.ndim < 2:
        raise ShapeError(f"fan in/out need a weight with at least 2 dimensions, got shape {t.shape}")
    receptive = math.prod(t.shape[2:])
    return t.shape[1] * receptive, t.shape[0] * receptive


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """U(a, b), in place (PyTorch's ``nn.init.uniform_``)."""
    low, high = a, b
    # Drawn in blocks: the same numbers as one draw of the whole shape, without its float64 temporary (fc1's
    # 26M weights: 210 MB), which the allocator would keep for the rest of the run.
    out = np.empty(t.shape, dtype=t.dtype)
    flat, block = out.reshape(-1), 1 << 20
    for start in range(0, flat.size, block):
        flat[start:start + block] = host_rng().uniform(low, high, size=min(block, flat.size - start))
    t.data = get_backend().asarray(out)
    return t


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """N(mean, std^2), in place; d2l's softmax chapter: ``nn.init.normal_(m.weight, std=0.01)``."""
    if std < 0:
        raise ConfigError(f"normal_: std must be >= 0, got {std}")
    out = np.empty(t.shape, dtype=t.dtype)
    flat, block = out.reshape(-1), 1 << 20  # in blocks, as uniform_
    for start in range(0, flat.size, block):
        flat[start:start + block] = host_rng().normal(mean, std, size=min(block, flat.size - start))
    t.data = get_backend().asarray(out)
    return t


def constant_(t: Tensor, val: float) -> Tensor:
    t.data = get_backend().xp.full(t.shape, val, dtype=t.dtype)
    return t


def zeros_(t: Tensor) -> Tensor:
    return constant_(t, 0)


def ones_(t: Tensor) -> Tensor:
    return constant_(t, 1)


def xavier_uniform_(t: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot & Bengio (2010): U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)); what d2l's AlexNet uses."""
    fan_in, fan_out = fan_in_and_fan_out(t)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound)


def xavier_normal_(t: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot & Bengio (2010), normal form: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def default_uniform_(t: Tensor, fan_in: int) -> Tensor:
    """PyTorch's default for Linear/Conv2d weights and biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return uniform_(t, -bound, bound)
