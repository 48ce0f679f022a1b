"""Autograd semantics: accumulation, reuse, no_grad, freed graphs."""

import numpy as np
import pytest

import minialex.nn.functional as F
from minialex import Tensor, no_grad


def test_a_tensor_used_twice_gets_the_sum_of_both_gradients():
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * np.array([1.0, -2.0, 3.0]) + 1)


def test_diamond_graph_sums_gradients_once_per_path():
    x = Tensor([2.0], requires_grad=True)
    a, b = x * 3.0, x * 5.0
    (a * b).sum().backward()           # d(15 x^2)/dx = 30 x
    assert x.grad[0] == 60.0


def test_leaf_gradients_accumulate_until_zeroed():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, [6.0, 6.0])
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])


def test_only_leaves_keep_grad():
    x = Tensor([1.0], requires_grad=True)
    y = x * 2.0
    (y * y).sum().backward()
    assert x.grad is not None and y.grad is None and not y.is_leaf


def test_no_grad_records_nothing():
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        y = x * 2.0
    assert not y.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_backward_needs_a_gradient_for_non_scalars():
    x = Tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(RuntimeError, match="needs a scalar"):
        (x * 2.0).backward()
    (x * 2.0).backward(np.ones((2, 2)))
    np.testing.assert_allclose(x.grad, 2 * np.ones((2, 2)))


def test_second_backward_through_a_freed_graph_is_an_error():
    x = Tensor([1.0], requires_grad=True)
    y = (x * 2.0) * 3.0
    y.backward(np.ones(1))
    with pytest.raises(RuntimeError, match="already freed"):
        y.backward(np.ones(1))


def test_gradient_does_not_flow_into_tensors_that_do_not_need_it():
    x, w = Tensor(np.ones((2, 3))), Tensor(np.ones((4, 3)), requires_grad=True)
    F.linear(x, w).sum().backward()
    assert x.grad is None and w.grad.shape == (4, 3)


def test_deep_graph_needs_no_recursion():
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y + 1.0
    y.sum().backward()
    assert x.grad[0] == 1.0


def test_tensor_facts():
    t = Tensor([[1.5, 2.0]])
    assert t.shape == (1, 2) and t.dtype == np.float32 and t.ndim == 2 and t.size == 2
    assert Tensor([1, 2]).dtype.kind == "i"
    assert Tensor(np.zeros(3)).dtype == np.float64
    assert Tensor([3.5]).item() == 3.5
    assert isinstance(t.numpy(), np.ndarray)
    with pytest.raises(ValueError, match="only floating-point"):
        Tensor([1, 2], requires_grad=True)
