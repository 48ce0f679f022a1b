"""Every op: forward against plain-loop references, shape rules, gradient checks, awkward inputs, clear errors."""

import numpy as np
import pytest

import minialex.nn.functional as F
from minialex import Tensor, gradcheck
from minialex.tools.exercises import loops
from minialex.tools.gradient_checks import op_cases

from tolerances import assert_close

CONV_CONFIGS = [  # (input shape, weight shape, stride, padding)
    ((2, 3, 7, 7), (4, 3, 3, 3), (1, 1), (0, 0)),
    ((2, 3, 7, 7), (4, 3, 3, 3), (2, 2), (1, 1)),
    ((1, 2, 9, 6), (3, 2, 5, 3), (2, 1), (2, 0)),
    ((3, 1, 13, 13), (2, 1, 11, 11), (4, 4), (1, 1)),
    ((2, 4, 5, 8), (5, 4, 1, 1), (1, 3), (0, 1)),
    ((1, 2, 4, 4), (2, 2, 4, 4), (1, 1), (0, 0)),   # kernel as large as the input
]


@pytest.mark.parametrize("xs,ws,stride,padding", CONV_CONFIGS)
def test_conv2d_forward_matches_plain_loops(engine, xs, ws, stride, padding):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    y = F.conv2d(Tensor(x), Tensor(w), Tensor(b), stride, padding)
    assert_close(y.numpy(), loops.conv2d(x, w, b, stride, padding), what="conv2d forward")


@pytest.mark.parametrize("side, kernel, stride, padding, expected", [
    (224, 11, 4, 1, 54),  # AlexNet's conv1 (d2l: 54x54)
    (7, 3, 2, 1, 4),
    (8, 3, 2, 0, 3),      # floor mode: the last window that does not fit is dropped, as in PyTorch
    (4, 4, 1, 0, 1),      # kernel as large as the input
    (5, 1, 3, 1, 3),      # padding alone makes positions
])
def test_conv2d_output_side_matches_pytorch_floor_mode(side, kernel, stride, padding, expected):
    y = F.conv2d(Tensor(np.zeros((1, 1, side, side), np.float32)), Tensor(np.zeros((2, 1, kernel, kernel), np.float32)),
                 None, stride, padding)
    assert y.shape == (1, 2, expected, expected)


POOL_CONFIGS = [((2, 3, 7, 8), (3, 3), (2, 2), (0, 0)), ((1, 2, 5, 5), (2, 2), (2, 2), (1, 1)),
                ((2, 1, 6, 4), (3, 2), (1, 2), (1, 0)), ((1, 1, 3, 3), (3, 3), (3, 3), (0, 0)),
                ((2, 2, 9, 9), (3, 3), (2, 2), (1, 1))]


@pytest.mark.parametrize("xs,kernel,stride,padding", POOL_CONFIGS)
def test_max_pool2d_forward_matches_plain_loops(engine, xs, kernel, stride, padding):
    x = np.random.default_rng(2).standard_normal(xs) - 3.0  # all negative: padding must act as -inf, not 0
    y = F.max_pool2d(Tensor(x), kernel, stride, padding)
    assert_close(y.numpy(), loops.max_pool2d(x, kernel, stride, padding), what="max_pool2d forward")


def test_max_pool2d_ties_send_the_gradient_to_one_winner(engine):
    x = Tensor(np.ones((1, 1, 4, 4)), requires_grad=True)
    F.max_pool2d(x, 2, 2).backward(np.ones((1, 1, 2, 2)))
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1.0  # the first maximum of each window, in row-major order
    assert_close(x.grad[0, 0], expected, what="dx with ties")


def test_max_pool2d_overlapping_windows_add_up_at_a_shared_maximum(engine):
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 2, 2] = 9.0  # the centre belongs to all four 3x3/stride-2 windows
    t = Tensor(x, requires_grad=True)
    F.max_pool2d(t, 3, 2).backward(np.ones((1, 1, 2, 2)))
    assert t.grad[0, 0, 2, 2] == 4.0 and t.grad.sum() == 4.0


@pytest.mark.parametrize("name,fn,inputs", op_cases(), ids=[c[0] for c in op_cases()])
def test_gradient_matches_finite_differences(engine, name, fn, inputs):
    gradcheck(fn, inputs)  # raises with the worst element if any gradient is off


def test_non_contiguous_inputs_give_the_same_results(engine):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((5, 2, 8, 9))
    x_nc = base.transpose(0, 1, 3, 2)[:, :, ::1, 1:]  # (5, 2, 9, 7), not C-contiguous
    assert not x_nc.flags.c_contiguous
    w = Tensor(rng.standard_normal((3, 2, 3, 3)))
    for op in (lambda t: F.conv2d(t, w, None, 2, 1), lambda t: F.max_pool2d(t, 3, 2, 1), F.relu):
        a = Tensor(x_nc, requires_grad=True)
        b = Tensor(np.ascontiguousarray(x_nc), requires_grad=True)
        ya, yb = op(a), op(b)
        g = rng.standard_normal(ya.shape)
        ya.backward(g)
        yb.backward(g)
        assert_close(ya.numpy(), yb.numpy(), what="forward")
        assert_close(a.grad, b.grad, what="gradient")


def test_float32_stays_float32(engine):
    rng = np.random.default_rng(4)
    x = Tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32), requires_grad=True)
    w = Tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    y = F.relu(F.max_pool2d(F.conv2d(x, w, None, 1, 1), 2))
    loss = F.cross_entropy(F.flatten(y), np.zeros(2, np.int64))
    loss.backward()
    assert y.dtype == np.float32 and loss.dtype == np.float32
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_dropout_scales_kept_units_and_is_identity_in_eval(engine):
    x = Tensor(np.ones((200, 50)), requires_grad=True)
    y = F.dropout(x, p=0.4, training=True)
    kept = y.numpy() != 0
    assert set(np.unique(y.numpy())) <= {0.0, 1 / 0.6}
    assert abs(kept.mean() - 0.6) < 0.02
    y.backward(np.ones(y.shape))
    assert_close(x.grad, kept / 0.6, what="dropout gradient")
    assert F.dropout(x, p=0.4, training=False) is x
    assert not F.dropout(Tensor(np.ones(10)), p=1.0).numpy().any()


def test_cross_entropy_is_stable_for_huge_logits(engine):
    z = Tensor(np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]]), requires_grad=True)
    loss = F.cross_entropy(z, np.array([0, 2]))
    assert np.isfinite(loss.item())
    assert abs(loss.item() - np.log(3) / 2) < 1e-9
    loss.backward()
    assert np.isfinite(z.grad).all()


# --- clear errors ----------------------------------------------------------------------------------------------

def _t(*shape, dtype=np.float32):
    return Tensor(np.zeros(shape, dtype))


@pytest.mark.parametrize("call,message", [
    (lambda: F.conv2d(_t(3, 8, 8), _t(4, 3, 3, 3)), r"conv2d: expected a 4-D input \(N, C, H, W\), got shape \(3, 8, 8\)"),
    (lambda: F.conv2d(_t(1, 2, 8, 8), _t(4, 3, 3, 3)), r"expected input with 3 channels, shape \(N, 3, H, W\)"),
    (lambda: F.conv2d(_t(1, 3, 4, 4), _t(4, 3, 7, 7), padding=1), r"kernel 7x7 is larger than the padded input 6x6"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), stride=0), r"stride must be >= 1"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), padding=(1, 2, 3)), r"padding must be an int or a pair"),
    (lambda: F.conv2d(_t(1, 3, 8, 8, dtype=np.int32), _t(4, 3, 3, 3)), r"floating-point input"),
    (lambda: F.conv2d(_t(1, 3, 8, 8, dtype=np.float64), _t(4, 3, 3, 3)), r"dtypes differ"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), _t(5)), r"expected bias of shape \(4,\)"),
    (lambda: F.max_pool2d(_t(1, 1, 2, 2), 3), r"kernel 3x3 is larger than the padded input"),
    (lambda: F.max_pool2d(_t(1, 1, 8, 8), 2, padding=2), r"padding \(2, 2\) must be at most half the kernel"),
    (lambda: F.linear(_t(2, 5), _t(4, 6)), r"linear: expected input of shape \(N, 6\), got \(2, 5\)"),
    (lambda: F.cross_entropy(_t(2, 3), np.array([0, 3])), r"targets must lie in \[0, 2\]"),
    (lambda: F.cross_entropy(_t(2, 3), np.array([0.0, 1.0])), r"expected integer class targets of shape \(2,\)"),
    (lambda: F.dropout(_t(2), p=1.5), r"p must be a probability"),
])
def test_bad_input_gets_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("algorithm", ["im2col", "winograd"])
def test_whole_small_alexnet_gradient_matches_finite_differences(engine, algorithm):
    from minialex.tools.gradient_checks import network_case
    name, fn, inputs, names = network_case(algorithm=algorithm)
    result = gradcheck(fn, inputs, names=names)  # every element of the input and of every parameter
    assert result.max_rel_error < 1e-4 and len(result.inputs) == 1 + 10
