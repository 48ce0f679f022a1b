"""sigmoid, tanh and avg_pool2d (LeNet's layers): PyTorch's values and gradients, stability, shapes, errors.

Their float64 gradient checks are in ``minialex.tools.gradient_checks.op_cases`` (run by test_ops.py and by
``minialex gradcheck``); the Numba kernels against the reference in test_kernels_lenet.py.
"""

import warnings

import numpy as np
import pytest

import minialex.nn.functional as F
from minialex import Tensor, nn, summary

from tolerances import assert_close

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def parity(ours_fn, theirs_fn, x, rtol=1e-5):
    """Forward and input gradient of ``ours_fn`` and ``theirs_fn`` on the same float32 ``x`` (any layout).

    Float32 tolerance: each result's sums have at most a window's few terms, so a few ulps of its largest value."""
    m, t = Tensor(x, requires_grad=True), torch.tensor(np.ascontiguousarray(x), requires_grad=True)
    y, yt = ours_fn(m), theirs_fn(t)
    g = np.random.default_rng(9).standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    yt.backward(torch.from_numpy(g))
    assert tuple(y.shape) == tuple(yt.shape), f"output shape {tuple(y.shape)}, PyTorch {tuple(yt.shape)}"
    for got, want, what in ((y.numpy(), yt.detach().numpy(), "forward"), (m.grad, t.grad.numpy(), "gradient")):
        assert_close(got, want, rtol, 8e-7 * max(1.0, float(np.abs(want).max())), what)


# kernel, stride, padding, ceil_mode, count_include_pad on odd, non-square inputs
AVG_GEOMETRIES = [
    (2, 2, 0, False, True),          # LeNet
    (3, 2, 1, True, True),           # ceil mode with padding: the last window hangs over the padding
    (3, 2, 1, True, False),
    (3, 2, 1, False, False),
    ((3, 2), (2, 1), (1, 0), True, True),
    (4, 3, 2, True, False),
    (3, None, 1, True, True),        # stride defaults to the kernel
    (5, 1, 2, False, False),         # the window larger than the 3-px side
]


@pytest.mark.parametrize("kernel,stride,padding,ceil_mode,count_include_pad", AVG_GEOMETRIES)
def test_avg_pool2d_matches_torch(engine, kernel, stride, padding, ceil_mode, count_include_pad):
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 7)).astype(np.float32)
    args = (kernel, stride, padding, ceil_mode, count_include_pad)
    parity(lambda t: F.avg_pool2d(t, *args), lambda t: TF.avg_pool2d(t, *args), x)


def test_avg_pool2d_window_larger_than_a_side_matches_torch(engine):
    x = np.random.default_rng(1).standard_normal((1, 2, 3, 8)).astype(np.float32)
    parity(lambda t: F.avg_pool2d(t, 5, 1, 2, False, False), lambda t: TF.avg_pool2d(t, 5, 1, 2, False, False), x)


def test_avg_pool2d_on_a_non_contiguous_input_matches_torch(engine):
    base = np.random.default_rng(2).standard_normal((2, 3, 8, 11)).astype(np.float32)
    x = base.transpose(0, 1, 3, 2)[:, :, 1:, ::2]  # (2, 3, 10, 4), strided
    assert not x.flags.c_contiguous
    parity(lambda t: F.avg_pool2d(t, 3, 2, 1, True, False), lambda t: TF.avg_pool2d(t, 3, 2, 1, True, False), x)


def test_avg_pool2d_divisor_override_matches_torch(engine):
    x = np.random.default_rng(3).standard_normal((2, 2, 7, 6)).astype(np.float32)
    parity(lambda t: F.avg_pool2d(t, 3, 2, 1, True, divisor_override=4),
           lambda t: TF.avg_pool2d(t, 3, 2, 1, True, divisor_override=4), x)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_sigmoid_and_tanh_match_torch(engine, name):
    x = (np.random.default_rng(4).standard_normal((3, 4, 5, 6)) * 6).astype(np.float32)
    parity(getattr(F, name), getattr(torch, name), x[:, :, ::2].transpose(0, 1, 3, 2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_and_tanh_saturate_exactly_without_overflow_warnings(engine, dtype):
    x = Tensor(np.array([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in exp() would be a RuntimeWarning, here an error
        y = F.sigmoid(x)
        y.backward(np.ones(5, dtype))
        t = F.tanh(Tensor(x.numpy()))
    assert y.numpy()[0] == 0.0 and y.numpy()[-1] == 1.0 and y.numpy()[2] == 0.5
    assert list(t.numpy()[[0, -1]]) == [-1.0, 1.0] and t.numpy()[2] == 0.0
    assert np.isfinite(x.grad).all() and x.grad[0] == 0.0 and x.grad[-1] == 0.0 and x.grad[2] == 0.25
    assert y.dtype == dtype and t.dtype == dtype


def test_avg_pool2d_averages_each_window(engine):
    x = Tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4), requires_grad=True)
    y = F.avg_pool2d(x, 2)
    np.testing.assert_array_equal(y.numpy()[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    y.backward(np.ones((1, 1, 2, 2), np.float32))
    np.testing.assert_array_equal(x.grad, np.full((1, 1, 4, 4), 0.25, np.float32))


@pytest.mark.parametrize("call,message", [
    (lambda: F.avg_pool2d(Tensor(np.zeros((1, 1, 8, 8), np.float32)), 2, padding=2),
     r"avg_pool2d: padding \(2, 2\) must be at most half the kernel size \(2, 2\)"),
    (lambda: F.avg_pool2d(Tensor(np.zeros((1, 1, 2, 2), np.float32)), 3),
     r"avg_pool2d: kernel 3x3 is larger than the padded input 2x2"),
    (lambda: F.avg_pool2d(Tensor(np.zeros((1, 8, 8), np.float32)), 2), r"avg_pool2d: expected a 4-D input"),
    (lambda: F.avg_pool2d(Tensor(np.zeros((1, 1, 8, 8), np.int64)), 2), r"avg_pool2d: expected a floating-point"),
    (lambda: F.avg_pool2d(Tensor(np.zeros((1, 1, 8, 8), np.float32)), 2, divisor_override=0),
     r"divisor_override must be a positive int"),
    (lambda: F.avg_pool2d(Tensor(np.zeros((1, 1, 8, 8), np.float32)), 0), r"kernel_size must be >= 1"),
    (lambda: F.sigmoid(Tensor(np.zeros(3, np.int64))), r"sigmoid: expected a floating-point input"),
    (lambda: F.tanh(Tensor(np.zeros(3, np.int64))), r"tanh: expected a floating-point input"),
])
def test_bad_input_is_a_one_line_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def d2l_lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


@pytest.mark.parametrize("layer,shape", [
    (nn.AvgPool2d(2, 2), (2, 6, 28, 28)),
    (nn.AvgPool2d(3, 2, 1, ceil_mode=True), (1, 2, 9, 7)),
    (nn.AvgPool2d((3, 2), (2, 1), (1, 0), ceil_mode=True, count_include_pad=False), (1, 2, 6, 5)),
    (nn.Sigmoid(), (2, 3, 4)),
    (nn.Tanh(), (2, 5)),
])
def test_layers_predict_their_output_shape(layer, shape):
    x = Tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    assert tuple(layer(x).shape) == layer.output_shape(shape)
    assert layer.flops(shape) > 0


def test_summary_of_d2l_lenet_gives_the_chapter_shapes_and_parameters():
    report = summary(d2l_lenet(), (1, 1, 28, 28))
    for shape in ("(1, 6, 28, 28)", "(1, 6, 14, 14)", "(1, 16, 10, 10)", "(1, 16, 5, 5)", "(1, 400)", "(1, 10)"):
        assert shape in report
    assert "61,706" in report  # d2l's LeNet: 156 + 2416 + 48120 + 10164 + 850 parameters
    assert "AvgPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))" in repr(d2l_lenet())
