import numpy as np
import pytest


from minialex.nn import Parameter
from minialex.optim import SGD


def test_plain_sgd_step_by_hand():
    p = Parameter(np.array([1.0, -2.0]))
    p.grad = np.array([0.5, 0.25])
    SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.numpy(), [0.95, -2.025])


def test_momentum_and_weight_decay_by_hand():
    p = Parameter(np.array([1.0]))
    opt = SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1)
    p.grad = np.array([1.0])
    opt.step()                       # v = 1 + 0.1*1 = 1.1;            p = 1 - 0.11 = 0.89
    assert np.isclose(p.numpy()[0], 0.89)
    p.grad = np.array([1.0])
    opt.step()                       # v = 0.9*1.1 + 1 + 0.089 = 2.079; p = 0.89 - 0.2079
    assert np.isclose(p.numpy()[0], 0.89 - 0.2079)


def test_nesterov_by_hand():
    p = Parameter(np.array([1.0]))
    opt = SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    p.grad = np.array([1.0])
    opt.step()                       # v = 1;            p = 1 - 0.1 * (1 + 0.9 * 1) = 0.81
    assert np.isclose(p.numpy()[0], 0.81)
    p.grad = np.array([1.0])
    opt.step()                       # v = 0.9 + 1 = 1.9; p = 0.81 - 0.1 * (1 + 0.9 * 1.9) = 0.539
    assert np.isclose(p.numpy()[0], 0.539)


def test_nesterov_with_weight_decay_equals_pytorchs_at_every_step():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    start, grads = rng.standard_normal(4), rng.standard_normal((5, 4))
    p, tp = Parameter(start.copy()), torch.nn.Parameter(torch.tensor(start))
    opt = SGD([p], lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True)
    topt = torch.optim.SGD([tp], lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True)
    for g in grads:
        p.grad, tp.grad = g.copy(), torch.tensor(g)
        opt.step()
        topt.step()
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-12, atol=1e-15)


def test_step_updates_in_place_and_skips_parameters_without_grad():
    p, q = Parameter(np.ones(3)), Parameter(np.ones(3))
    data = p.data
    p.grad = np.ones(3)
    SGD([p, q], lr=1.0).step()
    assert p.data is data and np.all(p.numpy() == 0) and np.all(q.numpy() == 1)


def test_state_dict_round_trip():
    p = Parameter(np.ones(2))
    opt = SGD([p], lr=0.1, momentum=0.9)
    p.grad = np.ones(2)
    opt.step()
    other = SGD([Parameter(np.ones(2))], lr=0.5)
    other.load_state_dict(opt.state_dict())
    assert other.momentum == 0.9 and np.allclose(other.velocity[0], opt.velocity[0])


def test_bad_arguments():
    with pytest.raises(ValueError, match="lr must be >= 0"):
        SGD([Parameter(np.ones(1))], lr=-1)
    with pytest.raises(ValueError, match="nesterov=True needs a momentum"):
        SGD([Parameter(np.ones(1))], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
