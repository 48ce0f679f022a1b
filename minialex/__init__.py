"""minialex: AlexNet from scratch on NumPy, Numba and CuPy -- every layer and its backward pass, readable."""

import os as _os
import sys as _sys

# OpenBLAS keeps its worker threads spinning for 2**28 cycles (~0.1 s) after each matmul. On a 2-core machine the
# spinning thread holds the core that the next Numba kernel needs until the scheduler preempts it: each ReLU in
# an AlexNet step took ~7.5 ms instead of 0.1-1 ms, and the 96 px step 0.97 s instead of 0.77 s. 2**4 cycles lets
# the workers sleep at once; waking them for the next matmul costs microseconds. OpenBLAS reads the variable when
# it loads, so this only takes effect if minialex is imported before NumPy (as the ``minialex`` command does);
# a value already set wins. See docs/performance.md.
if "numpy" not in _sys.modules:
    _os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from . import ops  # noqa: F401  (attaches Tensor's operators)
from .backend import get_backend, manual_seed, use_backend
from .gradcheck import gradcheck
from .ops.conv_algorithm import conv_algorithm, get_conv_algorithm, use_conv_algorithm
from .summary import summary
from .tensor import Tensor, no_grad

from . import models, nn, optim  # noqa: E402
from .tensor import Size  # noqa: E402

# PyTorch's factories and dtype names, so ``import minialex as torch`` runs d2l's cells. Imported last: the
# function ``tensor`` takes the attribute name ``minialex.tensor`` from the module (still importable as
# ``from minialex.tensor import Tensor``: Python finds loaded modules in sys.modules, not by attribute).
from .creation import arange, ones, rand, randn, tensor, zeros  # noqa: E402
from .devices import device  # noqa: E402
from .ops import argmax, cat, exp, log, matmul, mean, softmax, sum  # noqa: E402,A004
from .serialization import load, save  # noqa: E402
from .dtypes import (bool, double, float, float16, float32, float64, half, int, int8, int16, int32,  # noqa: E402,A004
                     int64, long, short, uint8)

__version__ = "0.1.0"
__all__ = ["Tensor", "Size", "no_grad", "gradcheck", "summary", "use_backend", "get_backend", "manual_seed",
           "use_conv_algorithm", "get_conv_algorithm", "conv_algorithm",
           "randn", "rand", "zeros", "ones", "tensor", "arange",
           "float16", "float32", "float64", "uint8", "int8", "int16", "int32", "int64",
           "device", "exp", "log", "softmax", "matmul", "cat", "argmax", "sum", "mean", "save", "load",
           "nn", "optim", "models"]
