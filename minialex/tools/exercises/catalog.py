"""The exercises: for each op, the configurations it is checked on, its plain-loop definition, and how to run
the library's own op (:mod:`minialex.ops`, the reference) on the same arguments.

A configuration's *tags* say what it exercises: ``batch`` (more than one example), ``overlap`` (windows share
input elements), ``padding``, ``state`` (a non-zero momentum buffer). When a check fails only on configurations
with a tag that every passing one lacks, the checker names the likely cause (see ``TAG_HINTS``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from . import loops

TAG_HINTS = {
    "batch": "it fails only for batches of more than one example: look at what happens along the batch axis "
             "(a shared parameter's gradient is the sum of every example's; an average divides by N once).",
    "overlap": "it fails only where windows overlap (kernel larger than stride): an input element that several "
               "windows share must receive the sum of their gradients (+=, or np.add.at), not the last one "
               "assigned.",
    "padding": "it fails only where padding > 0: pad x with zeros before sliding the window, and cut the padding "
               "off dx again.",
    "state": "it fails only when the momentum buffer v is not zero: v = momentum * v + g keeps the old velocity.",
    "filters": "it fails only with more than one filter: every filter reads the same window of x, so dx there is "
               "the sum of all filters' shares (+=), not the last filter's.",
    "large": "it fails only for large scores: exp() overflows; subtract each row's maximum before exp().",
    "extreme": "it fails only for |x| around 1000: exp() overflows there; compute from e = exp(-|x|), at most 1.",
    "ceil": "it fails only with ceil_mode=True: one more, partial window at the end (unless it would start past "
            "the input and its left padding), divided by its size clipped to the padded input.",
    "exclude": "it fails only with count_include_pad=False: divide by the number of input pixels in the window, "
               "not counting the padding it covers.",
}


@dataclass(frozen=True)
class Case:
    label: str
    args: tuple                    # the forward's positional arguments: arrays and numbers, in signature order
    tags: frozenset = frozenset()
    small: bool = True             # small enough for the plain loops and for finite differences


@dataclass(frozen=True)
class Exercise:
    name: str
    summary: str
    forward: str                   # function names in the learner's file
    backward: str | None
    params: tuple                  # the forward's parameter names
    outputs: tuple                 # names of what the forward returns before its cache
    grads: tuple                   # the parameters the backward returns gradients for, in order
    cases: Callable                # rng -> list[Case]
    loop: Callable                 # plain-loop forward, from loops.py
    library: Callable              # (args, dout) -> (outputs, gradients) computed by minialex
    shape_rule: str = ""
    hints: Callable | None = None  # (output or gradient name, got, expected, case) -> list of extra hints
    pure: bool = True              # the forward must leave its inputs unchanged
    op: str = ""                   # the library op it equals, when not named like the exercise

    @property
    def functions(self) -> tuple:
        return (self.forward,) if self.backward is None else (self.forward, self.backward)


# --- running minialex's own ops on raw arrays ------------------------------------------------------------------

def _autograd(fn, args, grad_positions, dout):
    """fn on Tensors made from ``args`` (those at grad_positions require grad); backward(dout)."""
    from ...autograd import Tensor
    tensors = [Tensor(a, requires_grad=True) if i in grad_positions else a for i, a in enumerate(args)]
    out = fn(*tensors)
    if dout is not None:
        out.backward(np.asarray(dout, dtype=out.dtype))
    grads = tuple(tensors[i].grad for i in grad_positions) if dout is not None else ()
    return (out.numpy(),), grads


def _library_conv2d(args, dout):
    from ... import ops
    return _autograd(ops.conv2d, args, (0, 1, 2), dout)


def _library_max_pool2d(args, dout):
    from ... import ops
    return _autograd(ops.max_pool2d, args, (0,), dout)


def _library_sigmoid(args, dout):
    from ... import ops
    return _autograd(ops.sigmoid, args, (0,), dout)


def _library_avg_pool2d(args, dout):
    from ... import ops
    x, k, stride, padding, ceil_mode, count_include_pad = args
    return _autograd(lambda x: ops.avg_pool2d(x, k, stride, padding, ceil_mode, count_include_pad), (x,), (0,), dout)


def _library_relu(args, dout):
    from ... import ops
    return _autograd(ops.relu, args, (0,), dout)


def _library_dropout(args, dout):
    from ... import ops
    x, p, seed, training = args
    return _autograd(lambda x: ops.dropout(x, p, training, generator=np.random.default_rng(seed)), (x,), (0,), dout)


def _library_linear(args, dout):
    from ... import ops
    return _autograd(ops.linear, args, (0, 1, 2), dout)


def _library_cross_entropy(args, dout):
    from ... import ops
    return _autograd(ops.cross_entropy, args, (0,), dout)


def _library_sgd_step(args, dout):
    from ...nn import Parameter
    from ...optim import SGD
    w, dw, v, lr, momentum, weight_decay = args
    p = Parameter(w.copy())
    p.grad = dw.copy()
    optimizer = SGD([p], lr, momentum, weight_decay)
    optimizer.velocity = [v.copy()]  # resume with this momentum buffer (zeros = the first step)
    optimizer.step()
    return (p.data, optimizer.velocity[0]), ()


# --- inputs ------------------------------------------------------------------------------------------------------

def _distinct(rng, *shape):
    """Values spaced 0.01 apart: no ties for max-pool, and a finite difference never changes the arg-max."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01 - 0.5


def _away_from_zero(rng, *shape):
    """Normal values with |x| >= 0.1, so a finite difference never crosses ReLU's kink."""
    v = rng.standard_normal(shape)
    return np.where(np.abs(v) < 0.1, v + 0.5 * np.sign(v + 1e-12), v)


def _conv2d_cases(rng):
    def case(label, x_shape, w_shape, stride, padding, tags, small=True):
        x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
        tags = frozenset(tags) | ({"filters"} if w_shape[0] > 1 else set())
        return Case(label, (x, w, b, stride, padding), tags, small)
    return [
        case("1 image, 1 filter, 2x2 kernel, stride 2", (1, 2, 4, 4), (1, 2, 2, 2), 2, 0, ()),
        case("1 image, 2x2 kernel, stride 2", (1, 1, 4, 4), (2, 1, 2, 2), 2, 0, ()),
        case("1 image, 3x3 kernel, stride 1", (1, 2, 5, 5), (2, 2, 3, 3), 1, 0, ("overlap",)),
        case("2 images, 3x3 kernel, stride 1, padding 1", (2, 3, 5, 6), (4, 3, 3, 3), 1, 1,
             ("batch", "overlap", "padding")),
        case("2 images, 3x3 kernel, stride 2", (2, 2, 7, 7), (3, 2, 3, 3), 2, 0, ("batch", "overlap")),
        case("3 images, 2x2 kernel, stride 2", (3, 1, 6, 6), (2, 1, 2, 2), 2, 0, ("batch",)),
        case("AlexNet's conv1: 11x11 kernel, stride 4, padding 1", (1, 1, 17, 17), (2, 1, 11, 11), 4, 1,
             ("overlap", "padding")),
        case("AlexNet's conv2: 5x5 kernel, padding 2, 8 -> 16 channels", (2, 8, 13, 13), (16, 8, 5, 5), 1, 2,
             ("batch", "overlap", "padding"), small=False),
    ]


def _shared_maximum(x, row, col):
    """x with its largest value at (row, col) of every map: overlapping windows around it all pick it."""
    x[:, :, row, col] = x.max() + 1
    return x


def _max_pool2d_cases(rng):
    return [
        Case("1 image, 2x2 window, stride 2", (_distinct(rng, 1, 1, 4, 4), 2, 2)),
        Case("1 image, 2x2 window, stride 1, one maximum shared by 4 windows",
             (_shared_maximum(_distinct(rng, 1, 2, 5, 4), 2, 1), 2, 1), frozenset({"overlap"})),
        Case("2 images, 3x3 window, stride 2, one maximum shared by 4 windows",
             (_shared_maximum(_distinct(rng, 2, 3, 7, 8), 2, 2), 3, 2), frozenset({"batch", "overlap"})),
        Case("2 images, 2x2 window, stride 2", (_distinct(rng, 2, 2, 6, 6), 2, 2), frozenset({"batch"})),
        Case("AlexNet's pooling: 3x3 window, stride 2, 13x13", (_distinct(rng, 4, 16, 13, 13), 3, 2),
             frozenset({"batch", "overlap"}), small=False),
    ]


def _relu_cases(rng):
    return [
        Case("a vector", (_away_from_zero(rng, 7),)),
        Case("a batch of feature maps", (_away_from_zero(rng, 2, 3, 4, 5),)),
        Case("AlexNet-sized activations", (_away_from_zero(rng, 4, 256, 6, 6),), small=False),
    ]


def _sigmoid_cases(rng):
    return [
        Case("a vector", (rng.standard_normal(7),)),
        Case("a batch of feature maps", (2 * rng.standard_normal((2, 3, 4, 4)),)),
        Case("scores around +-1000", (np.array([[-1000.0, -700.0, -30.0, 0.5], [1000.0, 700.0, 30.0, -0.5]]),),
             frozenset({"extreme"})),
        Case("LeNet-sized activations", (rng.standard_normal((16, 6, 14, 14)),), small=False),
    ]


def _avg_pool2d_cases(rng):
    def case(label, shape, k, stride, padding, ceil_mode, include, tags, small=True):
        return Case(label, (rng.standard_normal(shape), k, stride, padding, ceil_mode, include), frozenset(tags),
                    small)
    return [
        case("1 image, 2x2 window, stride 2", (1, 1, 4, 4), 2, 2, 0, False, True, ()),
        case("2 images, 3x3 window, stride 2 (windows overlap)", (2, 2, 7, 7), 3, 2, 0, False, True,
             ("batch", "overlap")),
        case("3x3, stride 1, padding 1, the padding counted", (1, 2, 5, 6), 3, 1, 1, False, True,
             ("overlap", "padding")),
        case("3x3, stride 2, padding 1, the padding not counted", (2, 2, 6, 5), 3, 2, 1, False, False,
             ("batch", "overlap", "padding", "exclude")),
        case("ceil_mode: 2x2, stride 2 on 5x5, a last partial window", (1, 1, 5, 5), 2, 2, 0, True, True,
             ("ceil",)),
        case("ceil_mode with padding 1, not counted: 3x3, stride 2 on 6x6", (1, 2, 6, 6), 3, 2, 1, True, False,
             ("overlap", "padding", "ceil", "exclude")),
        case("LeNet's pooling: 2x2, stride 2 on 28x28, 6 channels", (8, 6, 28, 28), 2, 2, 0, False, True,
             ("batch",), small=False),
    ]


def _dropout_cases(rng):
    return [
        Case("p = 0.3, training", (rng.standard_normal((4, 6)), 0.3, 11, True)),
        Case("p = 0.5, training, 4-D", (rng.standard_normal((2, 3, 4, 4)), 0.5, 12, True)),
        Case("p = 0.3, not training (identity)", (rng.standard_normal((5, 5)), 0.3, 13, False)),
        Case("AlexNet's dense layers: p = 0.5", (rng.standard_normal((16, 4096)), 0.5, 14, True), small=False),
    ]


def _linear_cases(rng):
    def case(label, n, d, m, tags, small=True):
        x, w, b = rng.standard_normal((n, d)), rng.standard_normal((m, d)), rng.standard_normal(m)
        return Case(label, (x, w, b), frozenset(tags), small)
    return [
        case("1 example, 4 -> 3", 1, 4, 3, ()),
        case("4 examples, 5 -> 3", 4, 5, 3, ("batch",)),
        case("3 examples, 6 -> 2", 3, 6, 2, ("batch",)),
        case("LeNet's first dense layer: 32 examples, 400 -> 120", 32, 400, 120, ("batch",), small=False),
    ]


def _cross_entropy_cases(rng):
    def case(label, n, k, tags, scale=1.0, offset=0.0, small=True):
        logits = scale * rng.standard_normal((n, k)) + offset
        return Case(label, (logits, rng.integers(0, k, n)), frozenset(tags), small)
    return [
        case("1 example, 3 classes", 1, 3, ()),
        case("4 examples, 5 classes", 4, 5, ("batch",)),
        case("3 examples, 4 classes, scores around 1000", 3, 4, ("batch", "large"), scale=3.0, offset=1000.0),
        case("a Fashion-MNIST batch: 64 examples, 10 classes", 64, 10, ("batch",), scale=3.0, small=False),
    ]


def _sgd_step_cases(rng):
    def case(label, shape, lr, momentum, weight_decay, first, tags=()):
        w, dw = rng.standard_normal(shape), rng.standard_normal(shape)
        v = np.zeros(shape) if first else rng.standard_normal(shape)
        return Case(label, (w, dw, v, lr, momentum, weight_decay), frozenset(tags))
    return [
        case("first step (v = 0), momentum 0.9", (3, 4), 0.1, 0.9, 0.0, True),
        case("a later step, momentum 0.9", (3, 4), 0.1, 0.9, 0.0, False, ("state",)),
        case("a later step, momentum 0.5, weight decay 5e-4", (2, 3, 3), 0.01, 0.5, 5e-4, False, ("state",)),
        case("first step, weight decay 0.1", (5,), 0.05, 0.9, 0.1, True),
    ]


# --- op-specific hints ---------------------------------------------------------------------------------------------

def _conv2d_hints(name, got, expected, case):
    if name != "out" or got.shape != expected.shape:
        return []
    x, w, b, stride, padding = case.args
    if np.allclose(got, loops.conv2d(x, w[:, :, ::-1, ::-1], b, stride, padding)):
        return ["this is a true convolution (kernel flipped); deep-learning layers compute cross-correlation: "
                "use w[f, c, p, q] as it is."]
    if np.allclose(got + b[None, :, None, None], expected):
        return ["out is exactly the expected value minus the bias: add b[f] to every output of filter f."]
    return []


def _sigmoid_hints(name, got, expected, case):
    if name == "out" and not np.all(np.isfinite(got)):
        return ["out is not finite: exp() overflowed (exp(1000) is inf, and inf / inf is NaN); compute from "
                "e = exp(-|x|)."]
    return []


def _avg_pool2d_hints(name, got, expected, case):
    if name != "out" or got.shape != expected.shape:
        return []
    x, k, stride, padding, ceil_mode, include = case.args
    if np.allclose(got, loops.avg_pool2d(x, k, stride, padding, ceil_mode, True, divisor_override=k * k)):
        return ["every window is divided by k*k: a window clipped by the padded input (ceil_mode's last one) "
                "is smaller, and with count_include_pad=False the padding does not count either."]
    if np.allclose(got, loops.avg_pool2d(x, k, stride, padding, ceil_mode, not include)):
        return ["this is count_include_pad=" + ("True" if not include else "False") + "'s answer: "
                + ("do not count the padding in the divisor." if not include else
                   "count the padding the window covers in the divisor.")]
    return []


def _cross_entropy_hints(name, got, expected, case):
    if name == "out" and not np.all(np.isfinite(got)):
        return ["the loss is not finite: exp() of a large score overflows; subtract each row's maximum first."]
    return []


def _dropout_hints(name, got, expected, case):
    x, p, seed, training = case.args
    if training and p and np.any(expected) and np.allclose(got, expected * (1 - p)):
        return [f"out is (1 - p) = {1 - p:g} times the expected value: inverted dropout scales the kept units by "
                "1 / (1 - p), so nothing needs rescaling at test time."]
    return []


def _sgd_step_hints(name, got, expected, case):
    w, dw, v, lr, momentum, weight_decay = case.args
    if name == "v" and np.allclose(got, momentum * v - lr * (dw + weight_decay * w)):
        return ["this is CS231n's convention (v = momentum * v - lr * dw, w = w + v); minialex and PyTorch keep "
                "v = momentum * v + g and step w = w - lr * v."]
    return []


EXERCISES = {ex.name: ex for ex in [
    Exercise("relu", "ReLU: max(x, 0) and its gradient mask",
             "relu_forward", "relu_backward", ("x",), ("out",), ("x",), _relu_cases, loops.relu, _library_relu),
    Exercise("sigmoid", "the logistic function, stable for |x| ~ 1000, and its vanishing gradient",
             "sigmoid_forward", "sigmoid_backward", ("x",), ("out",), ("x",), _sigmoid_cases, loops.sigmoid,
             _library_sigmoid, hints=_sigmoid_hints),
    Exercise("linear", "a dense layer: x @ w.T + b, and dx, dw, db",
             "linear_forward", "linear_backward", ("x", "w", "b"), ("out",), ("x", "w", "b"), _linear_cases,
             loops.linear, _library_linear, shape_rule="x (N, D), w (M, D), b (M,) -> out (N, M)"),
    Exercise("cross_entropy", "softmax cross-entropy loss, stable for large scores",
             "cross_entropy_forward", "cross_entropy_backward", ("logits", "target"), ("out",), ("logits",),
             _cross_entropy_cases, loops.cross_entropy, _library_cross_entropy,
             shape_rule="logits (N, K), target (N,) -> a scalar loss; dlogits (N, K)", hints=_cross_entropy_hints),
    Exercise("sgd_step", "one SGD update with momentum and weight decay (PyTorch's convention)",
             "sgd_step", None, ("w", "dw", "v", "lr", "momentum", "weight_decay"), ("w", "v"), (),
             _sgd_step_cases, loops.sgd_step, _library_sgd_step, shape_rule="w, dw, v -> w, v of the same shape",
             hints=_sgd_step_hints),
    Exercise("dropout", "inverted dropout with a seeded mask",
             "dropout_forward", "dropout_backward", ("x", "p", "seed", "training"), ("out",), ("x",),
             _dropout_cases, loops.dropout, _library_dropout, hints=_dropout_hints),
    Exercise("max_pool2d", "max-pooling and its arg-max gradient routing",
             "max_pool2d_forward", "max_pool2d_backward", ("x", "kernel_size", "stride"), ("out",), ("x",),
             _max_pool2d_cases, loops.max_pool2d, _library_max_pool2d,
             shape_rule="x (N, C, H, W) -> out (N, C, oh, ow), oh = (H - k) // stride + 1, ow likewise"),
    Exercise("avg_pool2d", "average pooling with PyTorch's padding, ceil_mode and count_include_pad",
             "avg_pool2d_forward", "avg_pool2d_backward",
             ("x", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"), ("out",), ("x",),
             _avg_pool2d_cases, loops.avg_pool2d, _library_avg_pool2d,
             shape_rule="x (N, C, H, W) -> out (N, C, oh, ow), oh = (H + 2*padding - k) // stride + 1 "
                        "(ceil_mode: rounded up, less one if the last window starts past H + padding)",
             hints=_avg_pool2d_hints),
    Exercise("conv2d", "a convolution layer (stride, padding) and its three gradients",
             "conv2d_forward", "conv2d_backward", ("x", "w", "b", "stride", "padding"), ("out",), ("x", "w", "b"),
             _conv2d_cases, loops.conv2d, _library_conv2d,
             shape_rule="x (N, C, H, W), w (F, C, kh, kw), b (F,) -> out (N, F, oh, ow) with "
                        "oh = (H + 2*padding - kh) // stride + 1, ow = (W + 2*padding - kw) // stride + 1",
             hints=_conv2d_hints),
]}
# The convolution ladder's first rung: the same layer, checked the same way, written as loops.
EXERCISES["conv2d_direct"] = replace(EXERCISES["conv2d"], name="conv2d_direct", op="conv2d",
                                     summary="the same layer straight from its formula, by loops",
                                     forward="conv2d_direct_forward", backward="conv2d_direct_backward")
