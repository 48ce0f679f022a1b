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


def test_an_intermediate_no_backward_saved_is_freed_with_its_last_variable():
    """The graph holds nodes, not tensors: a conv's output, which only its ReLU reads, goes once the forward moves on."""
    import gc
    import weakref

    from minialex.ops import conv2d, relu
    x = Tensor(np.ones((1, 1, 5, 5)), requires_grad=True)
    w = Tensor(np.ones((2, 1, 3, 3)), requires_grad=True)
    y = conv2d(x, w, None, 1, 1)
    alive = weakref.ref(y)
    out = relu(y).sum()
    del y
    gc.collect()
    assert alive() is None  # relu keeps its own output, the graph keeps y's node: nobody keeps y
    out.backward()
    assert x.grad.shape == (1, 1, 5, 5) and float(w.grad.sum()) > 0  # the gradient still flows through y's node


def test_backward_frees_each_node_while_it_runs():
    """What a closure saved is released as soon as that closure has run, not at the end of backward()."""
    import weakref

    a = Tensor(np.ones(3), requires_grad=True)
    seen = []
    first = Tensor.from_op(a.data * 2, (a,), lambda g: (seen.append(later_buffer() is None) or g,), "first")
    saved = np.ones(3)  # what the later op's backward needs, e.g. a mask
    later_buffer = weakref.ref(saved)
    later = Tensor.from_op(first.data * saved, (first,), lambda g, saved=saved: (g * saved,), "later")
    del saved, first
    later.sum().backward()
    assert seen == [True]  # by the time the earlier op's backward ran, the later op's buffer was gone
    np.testing.assert_array_equal(a.grad, np.ones(3))


# --- a leaf owns its gradient ------------------------------------------------------------------------------------

def test_leaves_of_one_add_get_gradients_of_their_own():
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    assert a.grad is not b.grad and not np.shares_memory(a.grad, b.grad)
    a.grad *= 0.5
    np.testing.assert_array_equal(a.grad, [0.5, 0.5])
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


def test_a_sums_gradient_is_a_writable_array_not_a_broadcast_view():
    c = Tensor(np.ones((2, 3)), requires_grad=True)
    c.sum().backward()
    assert c.grad.flags.writeable and c.grad.base is None and c.grad.strides != (0, 0)
    c.grad *= 0.5
    c.grad[0] = 0.0  # zeroing in place, as PyTorch code does with p.grad.zero_()
    np.testing.assert_array_equal(c.grad, [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_the_gradient_passed_to_backward_stays_the_callers():
    x = Tensor(np.zeros(3), requires_grad=True)
    g = np.ones(3)
    x.backward(g)
    x.grad *= 3.0
    np.testing.assert_array_equal(g, np.ones(3))
    (x * 2.0).backward(g)  # the second pass adds in place into the leaf's own array
    np.testing.assert_array_equal(x.grad, [5.0, 5.0, 5.0])
    np.testing.assert_array_equal(g, np.ones(3))


def test_a_leaf_and_an_intermediate_sharing_a_gradient_do_not_share_it():
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    ((a + b) * 3.0 + a).sum().backward()
    np.testing.assert_array_equal(a.grad, [4.0, 4.0])
    np.testing.assert_array_equal(b.grad, [3.0, 3.0])
    a.grad[...] = 0
    np.testing.assert_array_equal(b.grad, [3.0, 3.0])


@pytest.mark.parametrize("layer", ["linear", "conv"])
def test_a_fresh_weight_gradient_is_kept_without_a_copy(layer):
    """The closure's dW (a matmul's product, or a reshape of one) is seen by nothing else: the leaf keeps
    that very array (AlexNet's fc6 gradient is 100 MB), while the bias's gradient, also fresh, is kept too."""
    import weakref

    from minialex import nn
    from minialex.tensor import observe_ops
    net, x = (nn.Linear(4, 3), np.ones((5, 4), np.float32)) if layer == "linear" else \
        (nn.Conv2d(2, 3, 3), np.ones((2, 2, 6, 6), np.float32))
    returned = []

    def remember(op, backward):
        def wrapped(g):
            grads = backward(g)
            returned.extend(weakref.ref(a) for a in grads if a is not None)  # weak: a strong one would count
            return grads
        return wrapped

    with observe_ops(remember):
        y = net(Tensor(x))
    y.sum().backward()
    assert len(returned) == 2
    assert returned[0]() is net.weight.grad and returned[1]() is net.bias.grad
