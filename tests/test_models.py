"""AlexNet as d2l builds it, and that it can learn."""

import numpy as np
import pytest

import minialex
import minialex.nn.functional as F
from minialex import Tensor, models, nn, no_grad, optim
from minialex.summary import layer_table

from tolerances import assert_close_f32, network_terms


def assert_scores_each_image_on_its_own(net, size):
    """In eval mode (no dropout) an image's row of logits is the same in a batch as alone."""
    x = np.random.default_rng(0).random((3, 1, size, size), dtype=np.float32)
    with no_grad():
        batch, alone = net.eval()(Tensor(x)).numpy(), net(Tensor(x[1:2])).numpy()
    assert batch.shape == (3, 10)
    assert_close_f32(batch[1:2], alone, network_terms(net, x.shape, backward=False), what="logits in a batch")


@pytest.mark.parametrize("size", [224, 96])
def test_alexnet_in_eval_mode_scores_each_image_on_its_own(size):
    assert_scores_each_image_on_its_own(models.alexnet(input_size=size), size)


def test_build_makes_each_model_by_name_and_refuses_what_it_cannot_make():
    assert models.build("alexnet", 7, 3, 96)[14].in_features == 256 and models.build("alexnet")[14].in_features == 6400
    assert models.build("lenet", 4)[-1].out_features == 4
    with pytest.raises(ValueError, match="lenet takes 28x28 inputs only"):
        models.build("lenet", input_size=32)
    with pytest.raises(ValueError, match="unknown model 'vgg'; expected one of alexnet, lenet"):
        models.build("vgg")


def test_alexnet_has_d2l_parameter_count_and_true_shapes():
    net = models.alexnet()
    assert net.num_parameters() == 46_764_746
    shapes = {r.name: r.output_shape for r in layer_table(net, (1, 1, 224, 224))}
    assert shapes["0"] == (1, 96, 54, 54)
    assert shapes["2"] == (1, 96, 26, 26)      # pool1 keeps 96 channels
    assert shapes["3"] == (1, 256, 26, 26)     # conv2 has stride 1
    assert shapes["5"] == (1, 256, 12, 12)
    assert shapes["12"] == (1, 256, 5, 5)
    assert shapes["13"] == (1, 6400)


def test_alexnet_rejects_inputs_too_small_for_its_pools():
    models.alexnet(input_size=65)
    with pytest.raises(ValueError, match="at least 65"):
        models.alexnet(input_size=64)


def test_summary_flops_match_hand_count():
    rows = {r.name: r for r in layer_table(models.alexnet(), (1, 1, 224, 224))}
    assert rows["3"].flops == 256 * 26 * 26 * (2 * 96 * 25 + 1)
    assert rows["14"].flops == 4096 * (2 * 6400 + 1)


def _train(net, x, y, steps, lr):
    opt = optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_sgd_steps_on_alexnet_reduce_the_loss():
    rng = np.random.default_rng(0)
    net = models.alexnet(input_size=67).eval()  # eval: no dropout noise, so every step must go down
    losses = _train(net, Tensor(rng.random((16, 1, 67, 67), dtype=np.float32)), np.arange(16) % 10, 5, 0.05)
    assert all(b < a for a, b in zip(losses, losses[1:])), losses


def test_a_small_alexnet_like_net_overfits_32_examples():
    rng = np.random.default_rng(0)
    net = models.xavier_init(nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=5, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 10)))
    x, y = Tensor(rng.standard_normal((32, 1, 23, 23)).astype(np.float32)), np.arange(32) % 10
    _train(net, x, y, 60, 0.05)
    with no_grad():
        assert F.cross_entropy(net.eval()(x), y).item() < 0.1


def test_lenet_in_eval_mode_scores_each_image_on_its_own():
    assert_scores_each_image_on_its_own(models.lenet(), 28)
