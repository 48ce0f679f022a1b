"""The standard gradient checks: every op on small float64 inputs, and a reduced AlexNet end to end.

Used by ``minialex gradcheck`` and by the tests, so the command checks exactly what CI checks.
"""

from __future__ import annotations

import numpy as np

from .. import models, nn
from ..backend import manual_seed
from ..errors import ConfigError
from ..gradcheck import gradcheck
from ..ops import avg_pool2d, conv2d, cross_entropy, dropout, flatten, linear, max_pool2d, relu, sigmoid, tanh
from ..tensor import Tensor

# the algorithms a convolution can run (``auto`` only picks one of them)
CONV_ALGORITHMS = ("im2col", "winograd")


def _leaf(rng, *shape, distinct=False):
    """float64 input; ``distinct`` spaces values apart so max-pool has no ties and eps never flips an arg-max."""
    if distinct:
        values = rng.permutation(np.prod(shape)).reshape(shape) * 0.01 + 0.1
    else:
        values = rng.standard_normal(shape)
    return Tensor(values.astype(np.float64), requires_grad=True)


def _away_from_zero(rng, *shape):
    """ReLU's kink is at 0; keep |x| > 0.1 so a finite difference never straddles it."""
    v = rng.standard_normal(shape)
    return Tensor(np.where(np.abs(v) < 0.1, 0.5 * np.sign(v) + v, v).astype(np.float64), requires_grad=True)


def _seeded_dropout(x):
    manual_seed(7)  # the same mask on every evaluation
    return dropout(x, p=0.3, training=True)


def _conv(stride, padding, algorithm):
    return lambda x, w, b=None: conv2d(x, w, b, stride, padding, algorithm=algorithm)


def op_cases(seed: int = 0, algorithms=CONV_ALGORITHMS):
    """(name, fn, inputs) triples covering every op with strides, paddings, odd sizes and batch > 1.

    Every conv case names its algorithm, so both are checked whatever the process default; ``algorithms`` keeps
    only the conv cases of those. The Winograd cases have outputs that are not a multiple of the 4x4 tile and
    non-square inputs, so the cropped tiles and the extra padding of the last tile are checked too."""
    rng = np.random.default_rng(seed)
    L = lambda *s, **k: _leaf(rng, *s, **k)  # noqa: E731
    target = rng.integers(0, 5, size=4)
    convs = {
        "im2col": [
            ("conv2d 3x3 s1 p1", _conv(1, 1, "im2col"), [L(2, 3, 5, 6), L(4, 3, 3, 3), L(4)]),
            ("conv2d 3x2 s(2,1) p(0,1)", _conv((2, 1), (0, 1), "im2col"), [L(2, 2, 7, 5), L(3, 2, 3, 2), L(3)]),
            ("conv2d 5x5 s2 p2, no bias", _conv(2, 2, "im2col"), [L(1, 2, 6, 7), L(2, 2, 5, 5)]),
            ("conv2d 11x11 s4 p1 (conv1)", _conv(4, 1, "im2col"), [L(2, 1, 19, 19), L(3, 1, 11, 11), L(3)]),
        ],
        "winograd": [
            ("winograd 3x3 p0", _conv(1, 0, "winograd"), [L(2, 2, 7, 9), L(3, 2, 3, 3), L(3)]),
            ("winograd 3x3 p1", _conv(1, 1, "winograd"), [L(2, 3, 5, 6), L(4, 3, 3, 3), L(4)]),
            ("winograd 3x3 p2, no bias", _conv(1, 2, "winograd"), [L(1, 2, 6, 5), L(2, 2, 3, 3)]),
            ("winograd 5x5 p2", _conv(1, 2, "winograd"), [L(2, 2, 7, 6), L(3, 2, 5, 5), L(3)]),
        ],
    }
    unknown = set(algorithms) - set(convs)
    if unknown:
        raise ConfigError(f"gradient checks: no conv cases for {sorted(unknown)}; expected some of {sorted(convs)}")
    return [case for name in algorithms for case in convs[name]] + [
        ("max_pool2d 3x3 s2", lambda x: max_pool2d(x, 3, 2), [L(2, 3, 7, 8, distinct=True)]),
        ("max_pool2d 2x2 s2 p1", lambda x: max_pool2d(x, 2, 2, 1), [L(2, 2, 5, 5, distinct=True)]),
        ("max_pool2d 3x2 s1", lambda x: max_pool2d(x, (3, 2), 1), [L(1, 2, 5, 4, distinct=True)]),
        ("avg_pool2d 2x2 s2 (LeNet)", lambda x: avg_pool2d(x, 2, 2), [L(2, 3, 6, 6)]),
        ("avg_pool2d 3x3 s2 p1 ceil no-pad", lambda x: avg_pool2d(x, 3, 2, 1, True, False), [L(2, 2, 6, 7)]),
        ("avg_pool2d 3x2 s2,1 p1,0 ceil", lambda x: avg_pool2d(x, (3, 2), (2, 1), (1, 0), True),
         [L(1, 2, 6, 5)]),
        ("avg_pool2d 3x3 s1 divisor 5", lambda x: avg_pool2d(x, 3, 1, 1, divisor_override=5), [L(1, 2, 4, 5)]),
        ("relu", relu, [_away_from_zero(rng, 3, 4, 5)]),
        ("sigmoid", sigmoid, [L(3, 4, 5)]),
        ("tanh", tanh, [L(3, 4, 5)]),
        ("dropout p=0.3", _seeded_dropout, [L(4, 6)]),
        ("linear", linear, [L(3, 5), L(4, 5), L(4)]),
        ("flatten", flatten, [L(2, 3, 2, 2)]),
        ("cross_entropy", lambda z: cross_entropy(z, target), [L(4, 5)]),
        ("add/mul/div/sub broadcast", lambda a, b: ((a * b + b) / (b * b + 1.0) - a).sum(axis=0),
         [L(3, 4), L(4)]),
        ("matmul", lambda a, b: a @ b, [L(3, 4), L(4, 2)]),
    ]


def small_alexnet(num_classes: int = 5, algorithm: str = "im2col") -> nn.Sequential:
    """AlexNet's layer sequence with few channels, for an end-to-end check of the whole graph. ``algorithm`` is
    the stride-1 convs'; the strided first conv, like AlexNet's, always runs im2col."""
    return models.xavier_init(nn.Sequential(
        nn.Conv2d(1, 4, kernel_size=5, stride=2, padding=1, algorithm="im2col"), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(4, 6, kernel_size=3, padding=1, algorithm=algorithm), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(6, 6, kernel_size=3, padding=1, algorithm=algorithm), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(6 * 2 * 2, 8), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(8, num_classes),
    ))


def network_case(seed: int = 0, algorithm: str = "im2col"):
    """(name, fn, inputs, names): cross-entropy of the small AlexNet on a batch, gradients w.r.t. input and every
    weight, with ``algorithm`` running its stride-1 convs."""
    rng = np.random.default_rng(seed)
    manual_seed(seed)
    net = small_alexnet(algorithm=algorithm).double()
    x = Tensor(rng.standard_normal((3, 1, 23, 23)), requires_grad=True)  # 23 -> 11 -> 5 -> 5 -> 2
    target = rng.integers(0, 5, size=3)
    params = net.parameters()

    def loss(x, *_params):
        manual_seed(11)  # same dropout mask each evaluation
        return cross_entropy(net(x), target)

    return (f"small AlexNet, {algorithm}", loss, [x, *params], ["input"] + [n for n, _ in net.named_parameters()])


def run_all(max_elements: int | None = None, raise_exception: bool = False, algorithms=CONV_ALGORITHMS):
    """Run every check, the conv cases and the small AlexNet once per algorithm in ``algorithms``; returns
    [(name, GradcheckResult)]."""
    results = []
    for name, fn, inputs in op_cases(algorithms=algorithms):
        results.append((name, gradcheck(fn, inputs, max_elements=max_elements, raise_exception=raise_exception)))
    for algorithm in algorithms:
        name, fn, inputs, names = network_case(algorithm=algorithm)
        results.append((name, gradcheck(fn, inputs, names=names, max_elements=max_elements,
                                        raise_exception=raise_exception)))
    return results
