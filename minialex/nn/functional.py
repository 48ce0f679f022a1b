"""``import minialex.nn.functional as F``: the ops under their PyTorch names."""

from ..ops import (avg_pool2d, conv2d, cross_entropy, dropout, flatten, linear, max_pool2d, relu,  # noqa: F401
                   sigmoid, softmax, tanh)
