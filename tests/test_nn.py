"""Modules: names, state dicts, modes, repr, layer-named errors."""

import numpy as np
import pytest

import minialex
from minialex import Tensor, models, nn


def small_net():
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Dropout(0.5), nn.Linear(2 * 4 * 4, 3))


def test_parameter_names_follow_pytorch():
    names = [n for n, _ in small_net().named_parameters()]
    assert names == ["0.weight", "0.bias", "5.weight", "5.bias"]


def test_state_dict_round_trip_and_errors():
    a, b = small_net(), small_net()
    b.load_state_dict(a.state_dict())
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(pa.numpy(), pb.numpy())
    state = a.state_dict()
    state["5.weight"] = np.zeros((3, 7), np.float32)
    with pytest.raises(ValueError, match=r"5.weight has shape \(3, 7\) in the state, \(3, 32\) in the model"):
        b.load_state_dict(state)
    with pytest.raises(KeyError, match="missing keys"):
        b.load_state_dict({"0.weight": state["0.weight"]})


def test_train_and_eval_reach_every_layer():
    net = small_net().eval()
    assert not any(m.training for m in net.modules())
    x = Tensor(np.random.default_rng(0).random((2, 1, 8, 8), dtype=np.float32))
    np.testing.assert_array_equal(net(x).numpy(), net(x).numpy())  # dropout is off in eval
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_clears_every_parameter():
    net = small_net()
    x = Tensor(np.ones((2, 1, 8, 8), np.float32))
    minialex.nn.functional.cross_entropy(net(x), np.array([0, 1])).backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_double_converts_parameters():
    net = small_net().double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net(Tensor(np.ones((1, 1, 8, 8)))).dtype == np.float64


def test_repr_reads_like_pytorch():
    text = repr(models.alexnet())
    assert "(0): Conv2d(1, 96, kernel_size=(11, 11), stride=(4, 4), padding=(1, 1))" in text
    assert "(2): MaxPool2d(kernel_size=(3, 3), stride=(2, 2), padding=(0, 0))" in text
    assert "(14): Linear(in_features=6400, out_features=4096, bias=True)" in text
    assert "(16): Dropout(p=0.5)" in text


def test_wrong_input_names_the_layer_and_the_expected_shape():
    net = models.alexnet(input_size=96)
    with pytest.raises(ValueError, match=r"layer \(0\) Conv2d\(1, 96, .*expected input with 1 channels, "
                                         r"shape \(N, 1, H, W\), got \(2, 3, 96, 96\)"):
        net(Tensor(np.zeros((2, 3, 96, 96), np.float32)))
    with pytest.raises(ValueError, match=r"layer \(14\) Linear\(in_features=256.*expected input of shape "
                                         r"\(N, 256\), got \(2, 6400\)"):
        net(Tensor(np.zeros((2, 1, 224, 224), np.float32)))


def test_init_bounds():
    w = nn.Linear(300, 100).weight
    nn.init.xavier_uniform_(w)
    bound = np.sqrt(6 / 400)
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.9 * bound
    c = nn.Conv2d(3, 8, 5)
    assert np.abs(c.bias.numpy()).max() <= 1 / np.sqrt(75)
