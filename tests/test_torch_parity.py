"""Forward and gradients against PyTorch's own layers, within what float32 promises (skipped without torch).

Each comparison names the length of the sums behind one element of the result (tests/tolerances.py), so the
bound holds whichever BLAS kernel either library runs on."""

import numpy as np
import pytest

import minialex.nn.functional as F
from minialex import Tensor, models, nn, optim
from minialex.tools.bench import torch_alexnet

from tolerances import (assert_close, assert_close_f32, conv_terms, network_terms, rounding_atol, windows_per_pixel,
                        winograd_growth)

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def both(*arrays):
    """The same float32 data as a minialex leaf and a torch leaf."""
    return ([Tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def compare(ours, theirs, m_inputs, t_inputs, terms, growth=1.0):
    """Forward and every input's gradient; ``terms``: the sum length behind the forward and each gradient."""
    g = np.random.default_rng(9).standard_normal(ours.shape).astype(np.float32)
    ours.backward(g)
    theirs.backward(torch.from_numpy(g))
    pairs = [(ours.numpy(), theirs.detach().numpy(), "forward")]
    pairs += [(m.grad, t.grad.numpy(), f"gradient of input {i}") for i, (m, t) in enumerate(zip(m_inputs, t_inputs))]
    for (got, expected, what), k in zip(pairs, terms, strict=True):
        assert_close_f32(got, expected, k, growth, what)


def pool_terms(kernel, stride):
    """A max is exact; a pixel's gradient sums the windows it wins."""
    return [1, windows_per_pixel(kernel, stride)]


@pytest.mark.parametrize("stride,padding,kernel", [(1, 0, 3), (4, 1, 11), (1, 2, 5), ((2, 1), (1, 0), (3, 2))])
def test_conv2d_matches_torch(engine, stride, padding, kernel):
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 23, 19)).astype(np.float32)
    w = rng.standard_normal((5, 2, kh, kw)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    m, t = both(x, w, b)
    y = F.conv2d(*m, stride, padding, algorithm="im2col")
    compare(y, TF.conv2d(*t, stride=stride, padding=padding), m, t, conv_terms(w.shape, y.shape))


@pytest.mark.parametrize("kernel,padding", [(3, 0), (3, 1), (3, 2), (5, 2), (5, 4)])
def test_winograd_conv2d_matches_torch(engine, kernel, padding):
    """Winograd's float32 rounding is multiplied by its transforms' entries: ``growth`` is the largest."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 23, 19)).astype(np.float32)
    w = rng.standard_normal((6, 4, kernel, kernel)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    m, t = both(x, w, b)
    y = F.conv2d(*m, 1, padding, algorithm="winograd")
    compare(y, TF.conv2d(*t, padding=padding), m, t, conv_terms(w.shape, y.shape), winograd_growth(kernel))


@pytest.mark.parametrize("kernel,stride,padding", [(3, 2, 0), (2, 2, 1), (3, 1, 1), ((3, 2), (2, 1), (1, 0))])
def test_max_pool2d_matches_torch(engine, kernel, stride, padding):
    x = np.random.default_rng(1).permutation(4 * 3 * 11 * 12).reshape(4, 3, 11, 12).astype(np.float32)
    m, t = both(x)
    compare(F.max_pool2d(*m, kernel, stride, padding), TF.max_pool2d(*t, kernel, stride, padding), m, t,
            pool_terms(kernel, stride))


def test_max_pool2d_ties_match_torch(engine):
    x = np.random.default_rng(2).integers(0, 3, (2, 2, 9, 9)).astype(np.float32)  # many ties
    m, t = both(x)
    compare(F.max_pool2d(*m, 3, 2), TF.max_pool2d(*t, 3, 2), m, t, pool_terms(3, 2))


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
    assert_close_f32(ours.item(), theirs.item(), 6 * 7, what="loss")  # a mean of 6 log-sum-exps of 7 logits
    for i, k in enumerate([7, 6, 6]):  # dx sums over the 7 classes; dw and db over the 6 images
        assert_close_f32(m[i].grad, t[i].grad.numpy(), k, what=f"gradient {i}")


FLIPPED_UNITS = 1e-3  # of the step's largest move; see below


def test_alexnet_training_steps_match_torch(engine):
    """Same weights, same batch, eval mode (no dropout): three SGD steps with momentum and weight decay agree.

    Both float32 runs are held to PyTorch's float64 run of the same steps: each parameter within what float32
    promises for storing it (one rounding per step) plus for computing the step (the chain's sums)."""
    net = models.alexnet(input_size=67).eval()
    start = {k: v.copy() for k, v in net.state_dict().items()}
    tnets = {dtype: torch_alexnet(67).eval().to(dtype) for dtype in (torch.float32, torch.float64)}
    for tnet in tnets.values():
        tnet.load_state_dict({k: torch.from_numpy(v) for k, v in start.items()})
    opts = [optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)]
    opts += [torch.optim.SGD(t.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3) for t in tnets.values()]
    rng = np.random.default_rng(4)
    x, y = rng.random((8, 1, 67, 67), dtype=np.float32), rng.integers(0, 10, 8)
    terms = network_terms(net, x.shape)
    for step in range(3):
        losses = [F.cross_entropy(net(Tensor(x)), y)]
        losses += [TF.cross_entropy(t(torch.from_numpy(x).to(d)), torch.from_numpy(y)) for d, t in tnets.items()]
        for loss, opt in zip(losses, opts):
            opt.zero_grad()
            loss.backward()
            opt.step()
        ours, theirs, exact = (loss.item() for loss in losses)
        for got, who in [(ours, "minialex"), (theirs, "PyTorch float32")]:
            assert_close_f32(got, exact, terms, what=f"{who}'s loss at step {step}")
    exact = {k: v.numpy() for k, v in tnets[torch.float64].state_dict().items()}
    theirs = {k: v.numpy() for k, v in tnets[torch.float32].state_dict().items()}
    # Beyond rounding, a ReLU that sits at its threshold can flip under one BLAS kernel's rounding and not under
    # another's (OpenBLAS Haswell: conv1's weights and 3.bias moved 6e-6 and 1e-5 where the step's largest
    # move is 4e-2): a discrete change, bounded by a share of the whole step's size, not by rounding. A wrong gradient or
    # update rule is off by the whole step.
    step = max(float(np.abs(ref - start[name]).max()) for name, ref in exact.items())
    for name, ref in exact.items():
        atol = rounding_atol(ref, 3) + rounding_atol(step, terms) + FLIPPED_UNITS * step
        for got, who in [(net.state_dict()[name], "minialex"), (theirs[name], "PyTorch float32")]:
            assert_close(got, ref, 0, atol, f"{who}'s {name} after 3 steps")


def test_max_pool2d_minus_infinity_never_loses_to_padding(engine):
    x = np.full((1, 2, 5, 5), -np.inf, dtype=np.float32)
    x[0, 1, 2, 2] = 1.0
    m, t = both(x)
    ours, theirs = F.max_pool2d(*m, 2, 2, 1), TF.max_pool2d(*t, 2, 2, 1)
    g = np.ones(ours.shape, np.float32)
    ours.backward(g)
    theirs.backward(torch.from_numpy(g))
    assert_close_f32(m[0].grad, t[0].grad.numpy(), windows_per_pixel(2, 2), what="gradient routed from all -inf windows")
