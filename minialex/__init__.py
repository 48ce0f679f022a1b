"""minialex: AlexNet from scratch on NumPy, Numba and CuPy -- every layer and its backward pass, readable."""

from . import ops  # noqa: F401  (attaches Tensor's operators)
from .backend import get_backend, manual_seed, use_backend
from .gradcheck import gradcheck
from .summary import summary
from .tensor import Tensor, no_grad

from . import models, nn, optim  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Tensor", "no_grad", "gradcheck", "summary", "use_backend", "get_backend", "manual_seed",
           "nn", "optim", "models"]
