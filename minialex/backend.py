"""The one place that knows which engine runs the arrays.

An *engine* is an array module (``xp``: NumPy or CuPy) plus a set of kernels (im2col, col2im, max-pool,
ReLU, dropout) with the same signatures in every engine:

========  =========  ==========================================================
engine    ``xp``     kernels
========  =========  ==========================================================
numpy     NumPy      :mod:`minialex.kernels.reference` -- plain, readable NumPy
numba     NumPy      :mod:`minialex.kernels.cpu_numba` -- the CPU default
cupy      CuPy       :mod:`minialex.kernels.gpu` -- CUDA kernels
========  =========  ==========================================================

Choose with :func:`use_backend` or the environment variable ``MINIALEX_BACKEND``. Nothing else in the
library imports NumPy-or-CuPy decisions: ops ask :func:`get_backend` for ``xp`` and ``kernels``.

The choice is the process's, as a device is in PyTorch: :func:`use_backend` sets it for every thread, and a
thread started later sees it too. ``with backend(name):`` overrides it for the block in this thread (or asyncio
task) only: it lives in a :class:`contextvars.ContextVar`, so an evaluation thread's block does not switch the
engine under a training thread's feet, and two threads' blocks each restore their own.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from .errors import ConfigError, MinialexError

ENGINES = ("numpy", "numba", "cupy")

_KERNEL_MODULES = {
    "numpy": "minialex.kernels.reference",
    "numba": "minialex.kernels.cpu_numba",
    "cupy": "minialex.kernels.gpu",
}


class BackendUnavailable(MinialexError, RuntimeError):
    """The requested engine cannot run here (library missing, no device)."""


@dataclass(frozen=True)
class Backend:
    name: str
    xp: ModuleType
    kernels: ModuleType

    @property
    def on_gpu(self) -> bool:
        return self.name == "cupy"

    def asarray(self, a, dtype=None):
        """Move ``a`` (NumPy, CuPy, list, scalar) onto this engine's device."""
        return self.xp.asarray(a, dtype=dtype)

    def synchronize(self) -> None:
        """Wait until the device has finished the work queued so far (a no-op on the CPU), so timers see it."""
        if self.on_gpu:
            self.xp.cuda.get_current_stream().synchronize()

    def to_numpy(self, a) -> np.ndarray:
        """A host NumPy copy-or-view of an array of this engine."""
        return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)

    def __repr__(self) -> str:
        return f"Backend({self.name!r})"


def _load_cupy() -> ModuleType:
    try:
        import cupy
    except ImportError as e:
        raise BackendUnavailable(
            "backend 'cupy' needs CuPy, which is not installed. Install the wheel matching your CUDA "
            "toolkit: pip install -e '.[cupy]' (cupy-cuda12x) or pip install cupy-cuda13x; "
            "or use --backend numba / numpy on the CPU."
        ) from e
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDA driver missing or broken
        raise BackendUnavailable(f"backend 'cupy': CuPy is installed but CUDA is not usable here ({e}). "
                                 "Use --backend numba or numpy on a machine without a GPU.") from e
    if count == 0:
        raise BackendUnavailable("backend 'cupy': no CUDA device found. Use --backend numba or numpy.")
    return cupy


def cuda_device_count() -> int:
    """How many CUDA devices CuPy can use here: 0 without CuPy, a working driver or a device. Never raises."""
    try:
        return _load_cupy().cuda.runtime.getDeviceCount()
    except BackendUnavailable:
        return 0


def _make_backend(name: str) -> Backend:
    if name not in ENGINES:
        raise ConfigError(f"unknown backend {name!r}; expected one of {', '.join(ENGINES)}")
    xp = _load_cupy() if name == "cupy" else np
    try:
        kernels = importlib.import_module(_KERNEL_MODULES[name])
    except ImportError as e:
        raise BackendUnavailable(f"backend {name!r} could not load its kernels: {e}") from e
    return Backend(name, xp, kernels)


def default_backend_name() -> str:
    """``MINIALEX_BACKEND`` if set, else ``numba`` when Numba is installed, else ``numpy``."""
    name = os.environ.get("MINIALEX_BACKEND", "").strip().lower()
    if name:
        return name
    return "numba" if importlib.util.find_spec("numba") is not None else "numpy"


_process: Backend | None = None  # use_backend's choice: every thread's
_block: contextvars.ContextVar[Backend | None] = contextvars.ContextVar("minialex_backend_block", default=None)


def get_backend() -> Backend:
    """The engine in force here: the innermost ``with backend(...)`` of this thread, else the process's (made on
    first use from ``MINIALEX_BACKEND``)."""
    global _process
    active = _block.get()
    if active is not None:
        return active
    if _process is None:
        _process = _make_backend(default_backend_name())
    return _process


def use_backend(name: str) -> Backend:
    """Switch the engine for all arrays created from now on, in every thread; returns it. Inside a
    ``with backend(...)`` block it switches that block's engine instead, until the block ends."""
    global _process
    chosen = _make_backend(name.strip().lower())
    if _block.get() is not None:
        _block.set(chosen)
    else:
        _process = chosen
    return chosen


@contextlib.contextmanager
def backend(name: str):
    """``with backend("numpy"): ...`` -- another engine for a block in this thread only, then the one before."""
    token = _block.set(_make_backend(name.strip().lower()))
    try:
        yield get_backend()
    finally:
        _block.reset(token)


def xp() -> ModuleType:
    """The active array module (NumPy or CuPy)."""
    return get_backend().xp


# ---------------------------------------------------------------------------------------------------------
# Random numbers: one seeded NumPy generator, the host stream, for everything minialex draws (weight init,
# shuffling seeds, dropout), so a seed gives the same weights on every engine and the host generator's state is
# the whole random state of a run: a checkpoint that keeps it resumes exactly, dropout included, on every engine.
# CPU engines draw dropout masks from the host stream itself; a GPU engine draws them on its device from a
# generator derived from the host stream (DeviceGenerator), so no device generator state needs keeping.

_rng = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Seed every random stream minialex uses (init, dropout, shuffling): the host stream, from which the rest
    derive."""
    global _rng
    _rng = np.random.default_rng(seed)


def host_rng() -> np.random.Generator:
    return _rng


class DeviceGenerator:
    """Uniform numbers made on a device, with no state of their own: each ``random()`` call draws one 64-bit seed
    from the host stream and fills the array from a fresh generator of the device's library seeded with it.

    Why: a device generator's state (cuRAND's, on the GPU) cannot be read back and stored, and rebuilding it from
    the run's seed on resume would replay the run's first dropout masks. Derived this way, the host generator's
    state, which every checkpoint keeps, determines every device draw to come. ``make(seed)`` builds the seeded
    generator (a NumPy one in tests: the same code path without a GPU); its ``random(shape, dtype=)`` fills.
    """

    def __init__(self, make):
        self.make = make

    def random(self, shape, dtype=np.float64):
        return self.make(int(_rng.integers(2 ** 63))).random(shape, dtype=dtype)


class _CupyUniform:
    """cuRAND's counter-based Philox, seeded: setting it up costs nothing (XORWOW, CuPy's default, initialises
    a large state on the device, which would cost a kernel launch at every dropout layer)."""

    def __init__(self, cupy, seed: int):
        self._state = cupy.random.RandomState(seed, method=cupy.cuda.curand.CURAND_RNG_PSEUDO_PHILOX4_32_10)

    def random(self, shape, dtype=np.float64):
        return self._state.random_sample(shape, dtype=dtype)


def device_rng():
    """The generator dropout draws from on the active engine: the host stream on CPU engines, a
    :class:`DeviceGenerator` derived from it on the GPU."""
    b = get_backend()
    if not b.on_gpu:
        return _rng
    cupy = b.xp
    return DeviceGenerator(lambda seed: _CupyUniform(cupy, seed))


def get_rng_state() -> dict:
    """Picklable state of the host generator (for checkpoints): the whole random state of a run, on every engine."""
    return _rng.bit_generator.state


def set_rng_state(state: dict) -> None:
    _rng.bit_generator.state = state


def array_module(a) -> ModuleType:
    """NumPy or CuPy, whichever owns ``a`` (Chainer's ``get_array_module``); never imports CuPy itself."""
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(a, cupy.ndarray):
        return cupy
    return np
