"""Gradient clipping with PyTorch's names and semantics: ``nn.utils.clip_grad_norm_``, ``nn.utils.clip_grad_value_``.

Both change each parameter's ``.grad`` in place, which is safe because a leaf owns its gradient (see
:mod:`minialex.tensor`). Parameters without a gradient are skipped.
"""

from __future__ import annotations

import math

from ..backend import get_backend
from ..tensor import Tensor


def _grads(parameters) -> list:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in params if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``; return that norm before
    clipping, as a 0-d Tensor.

    total = || (||g_1||_p, ..., ||g_k||_p) ||_p   (p = ``norm_type``; inf: the largest |element|)
    every g_i *= min(1, max_norm / (total + 1e-6))

    As in PyTorch the factor is applied even when it is 1, and a non-finite total scales the gradients by a
    non-finite factor unless ``error_if_nonfinite`` raises instead. ``foreach`` is accepted and ignored.
    """
    xp = get_backend().xp
    grads = _grads(parameters)
    if not grads:
        return Tensor(0.0)
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        norms = xp.stack([xp.abs(g).max() for g in grads])
        total = norms.max()
    else:
        norms = xp.stack([xp.linalg.norm(g.ravel(), norm_type) for g in grads])
        total = xp.linalg.norm(norms, norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           "it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")
    coef = xp.minimum(xp.asarray(max_norm, total.dtype) / (total + xp.asarray(1e-6, total.dtype)), 1.0)
    for g in grads:
        g *= coef.astype(g.dtype)
    return Tensor(total)


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        get_backend().xp.clip(g, -clip_value, clip_value, out=g)
