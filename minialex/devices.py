"""Devices as PyTorch names them -- ``cpu``, ``cuda:0`` -- and the minialex engine each stands for.

minialex runs every array on one engine at a time (:mod:`minialex.backend`); a device is a name for an engine that
PyTorch code can pass around: ``cuda:i`` is the ``cupy`` engine, ``cpu`` the active CPU engine (``numba`` or
``numpy``). ``net.to(device)`` switches the engine and moves the parameters; ``X.to(device)`` moves one tensor (a
no-op when it is there already). A device that is not here is a one-line error, before anything moves.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass

import numpy as np

from . import backend as _backend
from .errors import ConfigError, InputTypeError


@dataclass(frozen=True)
class Device:
    """A device as ``torch.device`` prints it -- ``cuda:0`` or ``cpu`` -- and the minialex engine it means."""

    type: str
    index: int | None = None

    def __post_init__(self):
        if self.type not in ("cpu", "cuda"):
            raise ConfigError(f"device type must be 'cpu' or 'cuda', got {self.type!r}")
        if self.type == "cuda" and not (isinstance(self.index, int) and self.index >= 0):
            raise ConfigError(f"a cuda device needs an index >= 0, got {self.index!r}")

    @classmethod
    def parse(cls, spec) -> "Device":
        """``Device``, ``"cpu"``, ``"cuda"`` (= cuda:0) or ``"cuda:1"``."""
        if isinstance(spec, Device):
            return spec
        kind, _, index = str(spec).partition(":")
        if kind == "cuda":
            if index and not index.isdigit():
                raise ConfigError(f"device {spec!r}: expected 'cpu', 'cuda' or 'cuda:N'")
            return cls("cuda", int(index or 0))
        if kind == "cpu" and not index:
            return cls("cpu")
        raise ConfigError(f"device {spec!r}: expected 'cpu', 'cuda' or 'cuda:N'")

    @classmethod
    def of(cls, array) -> "Device":
        """Where ``array`` lives: ``cuda:i`` for a CuPy array on GPU i, else ``cpu``."""
        cupy = sys.modules.get("cupy")
        if cupy is not None and isinstance(array, cupy.ndarray):
            return cls("cuda", int(array.device.id))
        return cls("cpu")

    @property
    def engine(self) -> str:
        """``cupy`` for a GPU; for the CPU the active engine if it is a CPU one, else the CPU default."""
        if self.type == "cuda":
            return "cupy"
        active = _backend.get_backend().name
        if active != "cupy":
            return active
        return "numba" if importlib.util.find_spec("numba") is not None else "numpy"

    def check_available(self) -> "Device":
        """This device, or a RuntimeError saying why it is not here (no CuPy, no driver, no such GPU)."""
        if self.type == "cpu":
            return self
        try:
            cupy = _backend._load_cupy()  # BackendUnavailable, saying why: no CuPy, no working driver, no GPU
        except _backend.BackendUnavailable as e:
            raise _backend.BackendUnavailable(f"device {self} is not available: {e}") from None
        count, current = cupy.cuda.runtime.getDeviceCount(), cupy.cuda.runtime.getDevice()
        if self.index >= count:
            raise _backend.BackendUnavailable(f"device {self} is not available: CuPy sees {count} CUDA device(s) "
                               f"(cuda:0 to cuda:{count - 1}); use one of those or 'cpu'")
        if self.index != current:
            raise _backend.BackendUnavailable(f"device {self}: minialex runs on one GPU, CuPy's current device cuda:{current}; "
                               f"select GPU {self.index} first with cupy.cuda.Device({self.index}).use()")
        return self

    def __bool__(self) -> bool:  # d2l's ``if not device:`` means "no device given"
        return True

    def __str__(self) -> str:
        return f"cuda:{self.index}" if self.type == "cuda" else "cpu"

    def __repr__(self) -> str:
        return f"device(type='cuda', index={self.index})" if self.type == "cuda" else "device(type='cpu')"


def device(spec) -> Device:
    """``minialex.device("cuda:0")``, as ``torch.device``."""
    return Device.parse(spec)


def move(array, target: Device):
    """``array`` on ``target``'s engine (itself when it is there already)."""
    if Device.of(array) == target:
        return array
    target.check_available()
    if target.type == "cpu":
        return np.asarray(_backend.get_backend().to_numpy(array))
    with _backend.backend("cupy") as gpu:
        return gpu.asarray(array)


def activate(target: Device) -> bool:
    """Make ``target``'s engine the active one; True if that switched engines."""
    target.check_available()
    if target.engine == _backend.get_backend().name:
        return False
    _backend.use_backend(target.engine)
    return True


def to_arguments(what: str, args: tuple, kwargs: dict):
    """``.to()``'s arguments -> (Device or None, NumPy dtype or None), as PyTorch takes them: a device (or its
    name), a dtype, both, or a tensor whose device and dtype to copy; ``device=`` and ``dtype=`` as keywords."""
    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "copy"}
    if unknown:
        raise InputTypeError(f"{what}: unexpected keyword argument(s) {sorted(unknown)}")
    from .tensor import Tensor  # tensor.py imports this module
    target, dtype = kwargs.get("device"), kwargs.get("dtype")
    for arg in args:
        if isinstance(arg, Tensor):
            target, dtype = arg.device, arg.dtype
        elif isinstance(arg, (Device, str)):
            target = arg
        else:
            try:
                dtype = np.dtype(arg)
            except TypeError:
                raise ConfigError(f"{what}: expected a device ('cpu', 'cuda:0', d2l.try_gpu()) or a dtype "
                                 f"(minialex.float32), got {arg!r}") from None
    return (None if target is None else Device.parse(target)), (None if dtype is None else np.dtype(dtype))
