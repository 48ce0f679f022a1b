"""Which algorithm a convolution runs: the one switch, like the engine's in :mod:`minialex.backend`.

==========  =========================================================================================
im2col      every shape; the readable reference (:mod:`minialex.ops.conv`)
winograd    stride 1, square 3x3 or 5x5 kernels, padding <= r - 1 (:mod:`minialex.ops.winograd`)
auto        Winograd where :func:`prefers_winograd` says it was measured faster on this engine, im2col elsewhere
==========  =========================================================================================

The process default is "auto"; change it with :func:`use_conv_algorithm` or ``MINIALEX_CONV_ALGORITHM``
(every thread, including those started later, sees it); ``with conv_algorithm(name):`` overrides it for a block
in this thread or asyncio task only (a :class:`contextvars.ContextVar`), so two threads' blocks never leave each
other's default behind.
A layer or call that names an algorithm (``nn.Conv2d(..., algorithm="im2col")``) overrides it. As the process
default, "winograd" runs Winograd wherever it can and im2col elsewhere; named by a layer it cannot serve, it is
an error.
"""

from __future__ import annotations

import contextlib
import contextvars
import os

from . import winograd
from ..backend import get_backend
from ..errors import ConfigError
from ..kernels.geometry import output_hw

ALGORITHMS = ("auto", "im2col", "winograd")

_default: str | None = None  # use_conv_algorithm's: every thread's
_block: contextvars.ContextVar[str | None] = contextvars.ContextVar("minialex_conv_algorithm_block", default=None)


def _checked(name, where: str) -> str:
    value = str(name).strip().lower()
    if value not in ALGORITHMS:
        raise ConfigError(f"{where}: unknown convolution algorithm {name!r}; expected one of {', '.join(ALGORITHMS)}")
    return value


def get_conv_algorithm() -> str:
    """The default in force here: the innermost ``with conv_algorithm(...)`` of this thread, else the process
    default set by :func:`use_conv_algorithm`, else ``MINIALEX_CONV_ALGORITHM``, else "auto"."""
    if _block.get() is not None:
        return _block.get()
    if _default is not None:
        return _default
    return _checked(os.environ.get("MINIALEX_CONV_ALGORITHM", "").strip() or "auto", "MINIALEX_CONV_ALGORITHM")


def use_conv_algorithm(name: str) -> str:
    """Set the algorithm every convolution that names none runs from now on, in every thread; returns it.
    Inside a ``with conv_algorithm(...)`` block it changes that block's default instead, until the block ends."""
    global _default
    chosen = _checked(name, "use_conv_algorithm")
    if _block.get() is not None:
        _block.set(chosen)
    else:
        _default = chosen
    return chosen


@contextlib.contextmanager
def conv_algorithm(name: str):
    """``with conv_algorithm("im2col"): ...`` -- a different default for a block in this thread, then the old one."""
    token = _block.set(_checked(name, "conv_algorithm"))
    try:
        yield _block.get()
    finally:
        _block.reset(token)


# auto's rule, per engine: Winograd where its transform-domain GEMMs need at most this share of im2col's
# multiplies (winograd.multiply_ratio of the tile choose_tile picks) and the layer has at least MIN_CHANNELS
# input channels. Below either, the transforms (a pass over the input, one over the output, per chunk) cost more
# than the multiplies saved. Measured per AlexNet and LeNet layer, forward + backward, float32, batch 128:
# benchmarks/winograd_tiles.py, results in benchmarks/results/winograd_tiles.json, the table in docs/winograd.md.
# CuPy: 0, im2col everywhere, until a GPU measures it: there one cuBLAS GEMM per layer runs near peak, and the
# Winograd transforms' CUDA kernels (one thread per element, a^2 products each) have only run under the simulator.
MAX_MULTIPLY_RATIO = {"numba": 0.28, "numpy": 0.28, "cupy": 0.0}
MIN_CHANNELS = 16


def prefers_winograd(out_hw, r: int, in_channels: int, engine: str | None = None) -> bool:
    """Whether ``auto`` runs Winograd on a stride-1 r x r convolution with ``in_channels`` inputs and an
    (oh, ow) output on ``engine`` (default: the active one). docs/winograd.md has the measurements behind it.

    On AlexNet at 224 px conv2-5 win by 1.7-2x (multiply ratio 0.2-0.25); on 3x3 maps (conv3-5 at 72 px) even
    F(3, 3), which fits them exactly, needs 0.31 of im2col's multiplies and only ties with it."""
    engine = get_backend().name if engine is None else engine
    m = winograd.choose_tile(r, out_hw)
    return in_channels >= MIN_CHANNELS and winograd.multiply_ratio(out_hw, r, m) <= MAX_MULTIPLY_RATIO[engine]


def choose(name, x_shape, w_shape, stride, padding, layer: str = "conv2d", dtype=None) -> str:
    """The algorithm a convolution of these shapes (and ``dtype``, when known) runs: "im2col" or "winograd".

    ``name`` None means the process default, where "winograd" means "wherever it can run" (AlexNet's conv1 then
    stays im2col); a layer or call that names "winograd" itself and cannot run it is a ConfigError.
    """
    explicit = name is not None
    name = _checked(name, layer) if explicit else get_conv_algorithm()
    if name == "im2col":
        return name
    reason = winograd.why_not(tuple(w_shape[2:]), stride, padding, dtype)
    if name == "winograd":
        if reason is not None and not explicit:
            return "im2col"
        if reason is not None:
            raise ConfigError(f"{layer}: algorithm 'winograd' cannot run this convolution: {reason} "
                              "(use algorithm='im2col' or 'auto')")
        return name
    if reason is not None:
        return "im2col"
    out = output_hw(*x_shape[2:], tuple(w_shape[2:]), stride, padding)
    return "winograd" if prefers_winograd(out, w_shape[2], w_shape[1]) else "im2col"
