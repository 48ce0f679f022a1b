"""Forward and gradients against PyTorch's own layers, to float32 tolerance (skipped without torch)."""

import numpy as np
import pytest

import minialex.nn.functional as F
from minialex import Tensor, models, optim
from minialex.tools.bench import torch_alexnet

from conftest import assert_close

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def both(*arrays):
    """The same float32 data as a minialex leaf and a torch leaf."""
    return ([Tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def compare(ours, theirs, m_inputs, t_inputs, rtol=1e-4, atol=1e-5, atol_of_max=None):
    """Forward and every input's gradient; ``atol_of_max`` makes atol that fraction of each result's max |value|."""
    g = np.random.default_rng(9).standard_normal(ours.shape).astype(np.float32)
    ours.backward(g)
    theirs.backward(torch.from_numpy(g))
    pairs = [(ours.numpy(), theirs.detach().numpy(), "forward")]
    pairs += [(m.grad, t.grad.numpy(), f"gradient of input {i}") for i, (m, t) in enumerate(zip(m_inputs, t_inputs))]
    for got, expected, what in pairs:
        tol = atol if atol_of_max is None else atol_of_max * float(np.abs(expected).max())
        assert_close(got, expected, rtol, tol, what)


@pytest.mark.parametrize("stride,padding,kernel", [(1, 0, 3), (4, 1, 11), (1, 2, 5), ((2, 1), (1, 0), (3, 2))])
def test_conv2d_matches_torch(engine, stride, padding, kernel):
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 23, 19)).astype(np.float32)
    w = rng.standard_normal((5, 2, kh, kw)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    m, t = both(x, w, b)
    compare(F.conv2d(*m, stride, padding, algorithm="im2col"), TF.conv2d(*t, stride=stride, padding=padding), m, t)


@pytest.mark.parametrize("kernel,padding", [(3, 0), (3, 1), (3, 2), (5, 2), (5, 4)])
def test_winograd_conv2d_matches_torch(engine, kernel, padding):
    """Winograd's float32 rounding grows with the transforms' entries (up to 21 for F(4, 5)), so it is bounded
    against the largest value of each result, not per element: 3e-5 of max|y|, five times what was measured."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 23, 19)).astype(np.float32)
    w = rng.standard_normal((6, 4, kernel, kernel)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    m, t = both(x, w, b)
    compare(F.conv2d(*m, 1, padding, algorithm="winograd"), TF.conv2d(*t, padding=padding), m, t,
            rtol=0, atol_of_max=3e-5)


@pytest.mark.parametrize("kernel,stride,padding", [(3, 2, 0), (2, 2, 1), (3, 1, 1), ((3, 2), (2, 1), (1, 0))])
def test_max_pool2d_matches_torch(engine, kernel, stride, padding):
    x = np.random.default_rng(1).permutation(4 * 3 * 11 * 12).reshape(4, 3, 11, 12).astype(np.float32)
    m, t = both(x)
    compare(F.max_pool2d(*m, kernel, stride, padding), TF.max_pool2d(*t, kernel, stride, padding), m, t)


def test_max_pool2d_ties_match_torch(engine):
    x = np.random.default_rng(2).integers(0, 3, (2, 2, 9, 9)).astype(np.float32)  # many ties
    m, t = both(x)
    compare(F.max_pool2d(*m, 3, 2), TF.max_pool2d(*t, 3, 2), m, t)


def test_relu_linear_flatten_cross_entropy_match_torch(engine):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 2, 3, 4)).astype(np.float32)
    w = rng.standard_normal((7, 24)).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32)
    target = rng.integers(0, 7, 6)
    m, t = both(x, w, b)
    ours = F.cross_entropy(F.linear(F.flatten(F.relu(m[0])), m[1], m[2]), target)
    theirs = TF.cross_entropy(TF.linear(torch.flatten(TF.relu(t[0]), 1), t[1], t[2]), torch.from_numpy(target))
    ours.backward()
    theirs.backward()
    assert_close(ours.item(), theirs.item(), 1e-5, 1e-6, "loss")
    for i in range(3):
        assert_close(m[i].grad, t[i].grad.numpy(), 1e-4, 1e-6, f"gradient {i}")


def test_alexnet_training_steps_match_torch(engine):
    """Same weights, same batch, eval mode (no dropout): three SGD steps with momentum and weight decay agree."""
    net = models.alexnet(input_size=67).eval()
    tnet = torch_alexnet(67).eval()
    tnet.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})
    opt = optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    topt = torch.optim.SGD(tnet.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    rng = np.random.default_rng(4)
    x, y = rng.random((8, 1, 67, 67), dtype=np.float32), rng.integers(0, 10, 8)
    for step in range(3):
        loss = F.cross_entropy(net(Tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tloss = TF.cross_entropy(tnet(torch.from_numpy(x)), torch.from_numpy(y))
        topt.zero_grad()
        tloss.backward()
        topt.step()
        assert abs(loss.item() - tloss.item()) < 1e-5, f"step {step}: {loss.item()} vs {tloss.item()}"
    for name, value in tnet.state_dict().items():
        assert_close(net.state_dict()[name], value.numpy(), 1e-3, 2e-5, name)  # float32 after 3 updates


def test_max_pool2d_minus_infinity_never_loses_to_padding(engine):
    x = np.full((1, 2, 5, 5), -np.inf, dtype=np.float32)
    x[0, 1, 2, 2] = 1.0
    m, t = both(x)
    ours, theirs = F.max_pool2d(*m, 2, 2, 1), TF.max_pool2d(*t, 2, 2, 1)
    g = np.ones(ours.shape, np.float32)
    ours.backward(g)
    theirs.backward(torch.from_numpy(g))
    assert_close(m[0].grad, t[0].grad.numpy(), what="gradient routed from all -inf windows")
