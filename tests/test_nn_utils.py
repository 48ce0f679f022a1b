"""nn.utils.clip_grad_norm_ / clip_grad_value_ against PyTorch's, in place on each leaf's own gradient."""

import numpy as np
import pytest

from minialex import Tensor, nn

from tolerances import assert_close_f32

torch = pytest.importorskip("torch")


def parameter_pairs(scale=1.0, seed=0, shapes=((4, 3), (3,), (2, 2, 3))):
    """minialex and torch parameters with the same float32 gradients (one parameter without a gradient)."""
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for shape in shapes:
        value, grad = rng.standard_normal(shape).astype(np.float32), (scale * rng.standard_normal(shape)).astype(np.float32)
        p, t = nn.Parameter(value), torch.nn.Parameter(torch.from_numpy(value.copy()))
        p.grad, t.grad = grad.copy(), torch.from_numpy(grad.copy())
        ours.append(p)
        theirs.append(t)
    ours.append(nn.Parameter(np.zeros(2, np.float32)))  # never given a gradient: skipped by both
    theirs.append(torch.nn.Parameter(torch.zeros(2)))
    return ours, theirs


def assert_same_grads(ours, theirs, terms):
    for i, (p, t) in enumerate(zip(ours, theirs)):
        assert (p.grad is None) == (t.grad is None)
        if p.grad is not None:
            assert_close_f32(p.grad, t.grad.numpy(), terms, what=f"gradient {i}")


@pytest.mark.parametrize("max_norm", [0.5, 1e3])  # clipped, and left alone (the factor is then 1)
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, float("inf")])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    ours, theirs = parameter_pairs()
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    terms = sum(p.size for p in ours)
    assert isinstance(total, Tensor) and total.shape == () and total.dtype == np.float32
    assert_close_f32(total.item(), expected.item(), terms, what="total norm")
    assert_same_grads(ours, theirs, terms)
    if max_norm < 1:
        assert float(nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)) == pytest.approx(max_norm, 1e-5)


def test_clip_grad_norm_of_one_tensor_and_of_no_gradient_at_all():
    ours, theirs = parameter_pairs()
    assert_close_f32(float(nn.utils.clip_grad_norm_(ours[0], 0.1)), float(torch.nn.utils.clip_grad_norm_(theirs[0], 0.1)), 12)
    assert_same_grads(ours[:1], theirs[:1], 12)
    assert float(nn.utils.clip_grad_norm_([nn.Parameter(np.zeros(3, np.float32))], 1.0)) == 0.0


@pytest.mark.filterwarnings("ignore:invalid value encountered in multiply")  # inf * 0, on purpose
def test_clip_grad_norm_with_a_non_finite_gradient_raises_only_when_asked():
    ours, theirs = parameter_pairs()
    ours[1].grad[0], theirs[1].grad[0] = np.inf, float("inf")
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    total = nn.utils.clip_grad_norm_(ours, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert total.item() == expected.item() == float("inf")
    for p, t in zip(ours, theirs):  # scaled by 0: zeros, and inf * 0 = nan, as in PyTorch
        if p.grad is not None:
            np.testing.assert_array_equal(p.grad, t.grad.numpy())


def test_clip_grad_value_matches_torch():
    ours, theirs = parameter_pairs(scale=3.0)
    assert nn.utils.clip_grad_value_(ours, 1.5) is None
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for p, t in zip(ours, theirs):
        if p.grad is not None:
            np.testing.assert_array_equal(p.grad, t.grad.numpy())  # a clamp is exact
    assert max(np.abs(p.grad).max() for p in ours if p.grad is not None) == 1.5


def test_clipping_after_backward_changes_each_leaf_alone():
    """Gradients from one add are the leaves' own arrays: clipping scales each once, not a shared one twice."""
    a, b = nn.Parameter(np.ones(3, np.float32)), nn.Parameter(np.ones(3, np.float32))
    ((a + b) * 4.0).sum().backward()
    ta, tb = (torch.nn.Parameter(torch.ones(3)) for _ in range(2))
    ((ta + tb) * 4.0).sum().backward()
    nn.utils.clip_grad_norm_([a, b], 1.0)
    torch.nn.utils.clip_grad_norm_([ta, tb], 1.0)
    assert_same_grads([a, b], [ta, tb], 6)
