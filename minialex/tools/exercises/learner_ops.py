"""The learner's exercise functions as minialex ops and layers, so a network can train on them (the capstone).

Each op exercise is a pair of plain functions on arrays, ``forward(*args) -> (out, cache)`` and
``backward(dout, cache) -> gradients``. :func:`as_op` makes them a differentiable op on Tensors: the forward
runs on the Tensors' arrays and the result is recorded with ``Tensor.from_op``, whose backward closure calls
the learner's backward -- the same contract every op of :mod:`minialex.ops` keeps, so nothing in the core
changes. The exercises are written for float64; training runs float32, so results are cast back to the
input's dtype (a learner's ``x * mask`` with a float64 mask would otherwise turn the whole network float64).

:class:`Swapped` layers hold the *same* Parameters as the layers they replace, so a network keeps its
initial weights and its parameter order when one op is swapped for the learner's.
"""

from __future__ import annotations

import numpy as np

from ... import nn
from ...errors import ConfigError
from ...autograd import Tensor, as_tensor


def _cast(value, like):
    return None if value is None else np.asarray(value, dtype=like.dtype)


def as_op(forward, backward, op: str, n_grads: int):
    """``fn(*tensors, *numbers) -> Tensor``: the learner's pair as an op; the first ``n_grads`` arguments are the
    tensors the backward returns gradients for, the rest are passed through as they are."""
    def fn(*args):
        tensors = [as_tensor(a) for a in args[:n_grads]]
        out, cache = forward(*(t.data for t in tensors), *args[n_grads:])
        out = _cast(out, tensors[0].data)

        def grads(g):
            result = backward(g, cache)
            result = result if isinstance(result, tuple) else (result,)
            return tuple(_cast(r, t.data) for r, t in zip(result, tensors))

        return Tensor.from_op(out, tuple(tensors), grads, f"{op} (yours)")
    return fn


def square(pair, what: str, layer) -> int:
    if pair[0] != pair[1]:
        raise ConfigError(f"{layer!r}: the exercise takes one int for {what}, this layer has {pair}")
    return pair[0]


class Swapped(nn.Module):
    """A layer of the network with its op replaced by the learner's (same parameters, same settings)."""

    def __init__(self, original: nn.Module, call):
        vars(self).update({k: v for k, v in vars(original).items() if k in ("weight", "bias")})
        self.original_repr, self.call = repr(original), call

    def forward(self, x):
        return self.call(self, x)

    def extra_repr(self):
        return f"yours, in place of {self.original_repr}"


def _conv2d(module):
    op = as_op(module.conv2d_forward, module.conv2d_backward, "conv2d", 3)

    def swap(layer):
        stride, padding = square(layer.stride, "stride", layer), square(layer.padding, "padding", layer)
        return Swapped(layer, lambda self, x: op(x, self.weight, self.bias, stride, padding))
    return nn.Conv2d, swap


def _linear(module):
    op = as_op(module.linear_forward, module.linear_backward, "linear", 3)
    return nn.Linear, lambda layer: Swapped(layer, lambda self, x: op(x, self.weight, self.bias))


def _relu(module):
    op = as_op(module.relu_forward, module.relu_backward, "relu", 1)
    return nn.ReLU, lambda layer: Swapped(layer, lambda self, x: op(x))


def _max_pool2d(module):
    op = as_op(module.max_pool2d_forward, module.max_pool2d_backward, "max_pool2d", 1)

    def swap(layer):
        k, stride = square(layer.kernel_size, "kernel_size", layer), square(layer.stride, "stride", layer)
        if layer.padding != (0, 0):
            raise ConfigError(f"{layer!r}: the max_pool2d exercise has no padding")
        return Swapped(layer, lambda self, x: op(x, k, stride))
    return nn.MaxPool2d, swap


LAYER_OPS = {"conv2d": _conv2d, "linear": _linear, "relu": _relu, "max_pool2d": _max_pool2d}
"""Ops that replace a layer type: name -> (learner module -> (layer class, layer -> its replacement))."""


def swap_layers(net: nn.Sequential, modules: dict) -> int:
    """Replace, in place, every layer whose op the learner wrote (``modules``: exercise name -> module).
    Returns how many layers were swapped."""
    swaps = dict(LAYER_OPS[name](m) for name, m in modules.items() if name in LAYER_OPS)
    count = 0
    for name, layer in list(net.named_children()):
        if type(layer) in swaps:
            setattr(net, name, swaps[type(layer)](layer))
            count += 1
    return count


def learner_cross_entropy(module):
    return as_op(module.cross_entropy_forward, module.cross_entropy_backward, "cross_entropy", 1)


def learner_dropout(module):
    """(x, p, seed, training) -> Tensor, the learner's inverted dropout."""
    return as_op(module.dropout_forward, module.dropout_backward, "dropout", 1)


class LearnerSGD:
    """SGD whose update is the learner's ``sgd_step(w, dw, v, lr, momentum, weight_decay) -> (w, v)``, with the
    momentum buffers starting at zero (so the first step has v = g, as minialex.optim.SGD)."""

    def __init__(self, params, sgd_step, lr: float, momentum: float, weight_decay: float):
        self.params, self.sgd_step = list(params), sgd_step
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocity = [np.zeros_like(p.data) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            w, v = self.sgd_step(p.data, p.grad, self.velocity[i], self.lr, self.momentum, self.weight_decay)
            p.data[...] = w  # in place: the Parameter keeps its array, as minialex.optim.SGD does
            self.velocity[i] = _cast(v, p.data)
