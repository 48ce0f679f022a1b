"""The dtype names PyTorch code writes -- ``torch.float32``, ``torch.long``, ... -- as NumPy's scalar types.

``minialex.float32 is numpy.float32``: a tensor's ``dtype`` is its array's NumPy dtype, and
``x.dtype == minialex.float32`` holds as ``x.dtype == torch.float32`` does. PyTorch's short names (``float``,
``double``, ``half``, ``int``, ``long``, ``bool``) are here too; they are left out of ``minialex.__all__`` so that
``from minialex import *`` does not hide Python's own ``float``, ``int`` and ``bool``.
"""

import numpy as np

float16 = half = np.float16
float32 = float = np.float32  # noqa: A001  (torch.float is float32)
float64 = double = np.float64
uint8 = np.uint8
int8 = np.int8
int16 = short = np.int16
int32 = int = np.int32  # noqa: A001
int64 = long = np.int64
bool = np.bool_  # noqa: A001

NAMES = ("float16", "float32", "float64", "uint8", "int8", "int16", "int32", "int64")
ALIASES = ("half", "float", "double", "short", "int", "long", "bool")
