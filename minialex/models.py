"""The networks: d2l's AlexNet (sized for Fashion-MNIST), its ablations, and d2l's LeNet; :func:`build` makes any by
name."""

from __future__ import annotations

from . import nn
from .errors import ConfigError
from .kernels.geometry import output_size

# AlexNet with one of its changes to LeNet undone (``minialex ablate``): the options of :func:`alexnet` they set.
ALEXNET_ABLATIONS = {
    "alexnet-sigmoid": dict(activation="sigmoid"),   # LeNet's sigmoid for every ReLU
    "alexnet-avgpool": dict(pool="avg"),             # LeNet's average pooling for max pooling
    "alexnet-nodropout": dict(dropout=0.0),          # no dropout after the dense layers
}
MODELS = ("alexnet", "lenet", "lenet-relu-maxpool", *ALEXNET_ABLATIONS)
MIN_ALEXNET_INPUT = 65  # below this the third max-pool has no window left


def build(name: str = "alexnet", num_classes: int = 10, in_channels: int = 1,
          input_size: int | None = None) -> nn.Sequential:
    """The network ``name`` for ``input_size`` px images (None: its own size, 224 for AlexNet, 28 for LeNet)."""
    size = check_input_size(name, input_size)
    if name == "lenet":
        return lenet(num_classes, in_channels)
    if name == "lenet-relu-maxpool":
        return lenet_relu_maxpool(num_classes, in_channels)
    return alexnet(num_classes, in_channels, size, **ALEXNET_ABLATIONS.get(name, {}))


def check_input_size(name: str, input_size: int | None = None) -> int:
    """The image side ``name`` takes for ``input_size`` (None: its own); ValueError, saying why, if it cannot."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; expected one of {', '.join(MODELS)}")
    if name.startswith("lenet"):
        if input_size not in (None, 28):
            raise ConfigError(f"{name} takes 28x28 inputs only (its first dense layer is 16*5*5 wide), "
                             f"got input size {input_size}")
        return 28
    if input_size is None:
        return 224
    if input_size < MIN_ALEXNET_INPUT:
        raise ConfigError(f"{name}: input_size must be at least {MIN_ALEXNET_INPUT} pixels (below that its third "
                         f"max-pool has no window left), got {input_size}; use lenet for 28 px")
    return input_size


def alexnet_feature_size(input_size: int) -> int:
    """Side length after AlexNet's conv/pool stack: 224 -> 54 -> 26 -> 12 -> 5."""
    s = output_size(input_size, 11, 4, 1)   # conv1
    s = output_size(s, 3, 2, 0)             # pool1
    s = output_size(s, 3, 2, 0)             # conv2 keeps the size (5x5, padding 2), pool2 halves it
    return output_size(s, 3, 2, 0)          # conv3-5 keep it (3x3, padding 1), pool3 halves it


def alexnet(num_classes: int = 10, in_channels: int = 1, input_size: int = 224, *, activation: str = "relu",
            pool: str = "max", dropout: float = 0.5) -> nn.Sequential:
    """d2l's AlexNet (chapter 8.1): five convolutions, three max-pools, three dense layers with dropout.

    The first dense layer's width follows ``input_size`` (6400 = 256 * 5 * 5 at 224). Weights are Xavier-uniform,
    biases keep PyTorch's default, as d2l initialises them. The options undo AlexNet's changes to LeNet, one at a
    time (:data:`ALEXNET_ABLATIONS`): ``activation="sigmoid"``, ``pool="avg"`` (same 3x3/2 windows),
    ``dropout=0`` (the Dropout layers left out).
    """
    s = alexnet_feature_size(check_input_size("alexnet", input_size))
    activations = {"relu": lambda: nn.ReLU(), "sigmoid": lambda: nn.Sigmoid()}
    pools = {"max": lambda: nn.MaxPool2d(kernel_size=3, stride=2), "avg": lambda: nn.AvgPool2d(kernel_size=3, stride=2)}
    if activation not in activations or pool not in pools:
        raise ConfigError(f"alexnet: activation must be one of {', '.join(activations)} and pool one of "
                         f"{', '.join(pools)}, got {activation!r}, {pool!r}")
    act, pooling = activations[activation], pools[pool]
    drop = (lambda: [nn.Dropout(p=dropout)]) if dropout else (lambda: [])
    net = nn.Sequential(
        nn.Conv2d(in_channels, 96, kernel_size=11, stride=4, padding=1), act(), pooling(),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), act(), pooling(),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), act(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), act(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), act(),
        pooling(),
        nn.Flatten(),
        nn.Linear(256 * s * s, 4096), act(), *drop(),
        nn.Linear(4096, 4096), act(), *drop(),
        nn.Linear(4096, num_classes),
    )
    return xavier_init(net)


def lenet(num_classes: int = 10, in_channels: int = 1) -> nn.Sequential:
    """d2l's LeNet-5 (chapter 6.6) for 28x28 inputs: sigmoid activations and average pooling, as LeCun's.

    ``nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2), ...`` --
    the network AlexNet changes (ReLU, max-pooling, dropout); 61,706 parameters. Xavier-uniform weights, as
    d2l's ``train_ch6`` sets them.
    """
    net = nn.Sequential(
        nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, num_classes),
    )
    return xavier_init(net)


def lenet_relu_maxpool(num_classes: int = 10, in_channels: int = 1) -> nn.Sequential:
    """LeNet's shapes with AlexNet's layers: ReLU for the sigmoid, max- for average pooling (d2l's exercise, and
    what ``models.lenet`` was before it became d2l's own). Learns much faster at a small learning rate."""
    net = nn.Sequential(
        nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, num_classes),
    )
    return xavier_init(net)


def xavier_init(net: nn.Module) -> nn.Module:
    """Xavier-uniform weights for every Conv2d and Linear (d2l's ``init_cnn``)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
    return net
