"""The layers: thin Modules over the ops in :mod:`minialex.ops`, plus the shape and FLOP rules ``summary`` uses."""

from __future__ import annotations

import math

import numpy as np

from . import init
from .. import ops
from ..errors import ConfigError, InputError, InputTypeError, ShapeError
from ..kernels.geometry import output_hw, pool_output_size
from ..ops import conv_algorithm, winograd
from ..ops.common import pair
from ..autograd import DEFAULT_DTYPE
from .module import Module, Parameter


class Sequential(Module):
    """Modules applied in order; names them ``0``, ``1``, ... as PyTorch does."""

    def __init__(self, *layers: Module):
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise InputTypeError(f"Sequential: argument {i} is a {type(layer).__name__}, not a Module")
            setattr(self, str(i), layer)

    def __iter__(self):
        return self.children()

    def __len__(self):
        return sum(1 for _ in self.children())

    def __getitem__(self, i: int) -> Module:
        return list(self.children())[i]

    def forward(self, x):
        for name, layer in self.named_children():
            try:
                x = layer(x)
            except InputError as e:
                raise type(e)(f"layer ({name}) {e}") from None
        return x

    def output_shape(self, shape):
        for layer in self:
            shape = layer.output_shape(shape)
        return shape


class Conv2d(Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, bias: bool = True,
                 algorithm: str | None = None, tile: int | None = None):
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride, self.padding = pair(stride, "stride", "Conv2d", 1), pair(padding, "padding", "Conv2d", 0)
        fan_in = in_channels * math.prod(self.kernel_size)
        self.weight = init.default_uniform_(
            Parameter(np.empty((out_channels, in_channels, *self.kernel_size), DEFAULT_DTYPE)), fan_in)
        self.bias = init.default_uniform_(Parameter(np.empty(out_channels, DEFAULT_DTYPE)), fan_in) if bias else None
        # None: the process default (minialex.use_conv_algorithm); checked now, so a layer Winograd cannot run
        # fails when it is built, not in the middle of a training step
        self.algorithm, self.tile = algorithm, None
        if algorithm is not None:
            conv_algorithm.choose(algorithm, (1, in_channels, 1, 1), self.weight.shape, self.stride, self.padding,
                                  layer=repr(self))
        # Winograd's output tile m, F(m x m, r x r), where Winograd runs; None: chosen from the map size
        if tile is not None:
            self.tile = winograd.check_tile(tile, self.kernel_size[0], repr(self))

    def forward(self, x):
        return ops.conv2d(x, self.weight, self.bias, self.stride, self.padding, algorithm=self.algorithm,
                          tile=self.tile)

    def algorithm_for(self, shape) -> str:
        """"im2col" or "winograd": what this layer runs on an input of ``shape`` (``auto`` resolved)."""
        return conv_algorithm.choose(self.algorithm, shape, self.weight.shape, self.stride, self.padding,
                                     layer=repr(self), dtype=self.weight.dtype)

    def tile_for(self, shape) -> int | None:
        """Winograd's output tile m on an input of ``shape``, or None where im2col runs."""
        if self.algorithm_for(shape) != "winograd":
            return None
        return self.tile or winograd.choose_tile(self.kernel_size[0], self.output_shape(shape)[2:])

    def output_shape(self, shape):
        n, c, h, w = _expect_nchw(self, shape, self.in_channels)
        oh, ow = output_hw(h, w, self.kernel_size, self.stride, self.padding)
        if oh < 1 or ow < 1:
            raise ShapeError(f"{self!r}: kernel {self.kernel_size} does not fit the padded {h}x{w} input")
        return (n, self.out_channels, oh, ow)

    def flops(self, shape):
        """Multiply-adds x 2 of the direct convolution, plus the bias add (whatever algorithm runs it)."""
        n, oc, oh, ow = self.output_shape(shape)
        return n * oc * oh * ow * (2 * self.in_channels * math.prod(self.kernel_size) + (self.bias is not None))

    def extra_repr(self):
        bias = "" if self.bias is not None else ", bias=False"
        algorithm = "" if self.algorithm is None else f", algorithm={self.algorithm!r}"
        tile = "" if self.tile is None else f", tile={self.tile}"
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}{bias}{algorithm}{tile}")


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        self.kernel_size = pair(kernel_size, "kernel_size", "MaxPool2d", 1)
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", "MaxPool2d", 1)
        self.padding = pair(padding, "padding", "MaxPool2d", 0)

    def forward(self, x):
        return ops.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def output_shape(self, shape):
        n, c, h, w = _expect_nchw(self, shape)
        oh, ow = output_hw(h, w, self.kernel_size, self.stride, self.padding)
        if oh < 1 or ow < 1:
            raise ShapeError(f"{self!r}: window {self.kernel_size} does not fit the {h}x{w} input")
        return (n, c, oh, ow)

    def flops(self, shape):
        """One comparison per window element."""
        return math.prod(self.output_shape(shape)) * (math.prod(self.kernel_size) - 1)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """The mean of each window, with PyTorch's arguments (see :func:`minialex.ops.avg_pool2d`)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None):
        self.kernel_size = pair(kernel_size, "kernel_size", "AvgPool2d", 1)
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", "AvgPool2d", 1)
        self.padding = pair(padding, "padding", "AvgPool2d", 0)
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, x):
        return ops.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                              self.divisor_override)

    def output_shape(self, shape):
        n, c, h, w = _expect_nchw(self, shape)
        oh, ow = (pool_output_size(size, k, s, p, self.ceil_mode)
                  for size, k, s, p in zip((h, w), self.kernel_size, self.stride, self.padding))
        if oh < 1 or ow < 1:
            raise ShapeError(f"{self!r}: window {self.kernel_size} does not fit the {h}x{w} input")
        return (n, c, oh, ow)

    def flops(self, shape):
        """The window's additions and one division per window."""
        return math.prod(self.output_shape(shape)) * math.prod(self.kernel_size)

    def extra_repr(self):
        options = "".join(f", {name}={value}" for name, value, default in (
            ("ceil_mode", self.ceil_mode, False), ("count_include_pad", self.count_include_pad, True),
            ("divisor_override", self.divisor_override, None)) if value != default)
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}{options}"


class ReLU(Module):
    def forward(self, x):
        return ops.relu(x)

    def output_shape(self, shape):
        return tuple(shape)

    def flops(self, shape):
        return math.prod(shape)


class Sigmoid(Module):
    def forward(self, x):
        return ops.sigmoid(x)

    def output_shape(self, shape):
        return tuple(shape)

    def flops(self, shape):
        """An exponential, an addition and a division per element, counted as 3."""
        return 3 * math.prod(shape)


class Tanh(Module):
    def forward(self, x):
        return ops.tanh(x)

    def output_shape(self, shape):
        return tuple(shape)

    def flops(self, shape):
        """Counted as one element-wise op each, as ReLU (libm's tanh costs more, and no FLOP count agrees on it)."""
        return math.prod(shape)


class Dropout(Module):
    def __init__(self, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"Dropout: p must be a probability in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        return ops.dropout(x, self.p, self.training)

    def output_shape(self, shape):
        return tuple(shape)

    def flops(self, shape):
        return math.prod(shape) if self.training else 0

    def extra_repr(self):
        return f"p={self.p}"


class Flatten(Module):
    def forward(self, x):
        return ops.flatten(x)

    def output_shape(self, shape):
        return (shape[0], math.prod(shape[1:]))

    def flops(self, shape):
        return 0


class Linear(Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        self.in_features, self.out_features = in_features, out_features
        self.weight = init.default_uniform_(Parameter(np.empty((out_features, in_features), DEFAULT_DTYPE)),
                                            in_features)
        self.bias = init.default_uniform_(Parameter(np.empty(out_features, DEFAULT_DTYPE)), in_features) \
            if bias else None

    def forward(self, x):
        return ops.linear(x, self.weight, self.bias)

    def output_shape(self, shape):
        if len(shape) != 2 or shape[1] != self.in_features:
            raise ShapeError(f"{self!r}: expected input of shape (N, {self.in_features}), got {tuple(shape)}")
        return (shape[0], self.out_features)

    def flops(self, shape):
        n = self.output_shape(shape)[0]
        return n * self.out_features * (2 * self.in_features + (self.bias is not None))

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def _expect_nchw(layer, shape, channels=None):
    if len(shape) != 4 or (channels is not None and shape[1] != channels):
        want = f"(N, {channels}, H, W)" if channels is not None else "(N, C, H, W)"
        raise ShapeError(f"{layer!r}: expected input of shape {want}, got {tuple(shape)}")
    return shape


class CrossEntropyLoss(Module):
    """``loss = nn.CrossEntropyLoss(); l = loss(y_hat, y)``: :func:`minialex.ops.cross_entropy` of logits (N, K)
    and class indices (N,), with PyTorch's ``reduction`` (``mean``, ``sum`` or ``none``)."""

    def __init__(self, reduction: str = "mean"):
        if reduction not in ops.loss.REDUCTIONS:
            raise ShapeError(f"CrossEntropyLoss: reduction must be one of {', '.join(ops.loss.REDUCTIONS)}, "
                             f"got {reduction!r}")
        self.reduction = reduction

    def forward(self, input, target):
        return ops.cross_entropy(input, target, self.reduction)

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"
