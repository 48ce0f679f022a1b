"""Which algorithm a convolution runs: the one switch, like the engine's in :mod:`minialex.backend`.

==========  =========================================================================================
im2col      every shape; the readable reference (:mod:`minialex.ops.conv`)
winograd    stride 1, square 3x3 or 5x5 kernels, padding <= r - 1 (:mod:`minialex.ops.winograd`)
auto        Winograd where :func:`prefers_winograd` says it was measured faster, im2col elsewhere
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


# "auto" runs Winograd only where at least this share of its tiles' outputs are real outputs (see below)
MIN_TILE_USE = 0.6


def prefers_winograd(out_hw, r: int) -> bool:
    """Where Winograd beat im2col in docs/winograd.md's measurements (forward + backward, float32, numba).

    On AlexNet's stride-1 layers Winograd won wherever its tiles are mostly real outputs. A tile that hangs
    over the output computes pixels that are thrown away, so on tiny maps (conv3-5 at 72 px are 3x3: one 4x4
    tile each, 44% of it thrown away) im2col's GEMM does less work.
    """
    m = winograd.choose_tile(r, out_hw)
    oh, ow = out_hw
    used = oh * ow / (winograd.tiles_per_axis(oh, m) * winograd.tiles_per_axis(ow, m) * m * m)
    return used >= MIN_TILE_USE


def choose(name, x_shape, w_shape, stride, padding, layer: str = "conv2d") -> str:
    """The algorithm a convolution of these shapes runs: "im2col" or "winograd".

    ``name`` None means the process default, where "winograd" means "wherever it can run" (AlexNet's conv1 then
    stays im2col); a layer or call that names "winograd" itself and cannot run it is a ValueError.
    """
    explicit = name is not None
    name = _checked(name, layer) if explicit else get_conv_algorithm()
    if name == "im2col":
        return name
    reason = winograd.why_not(tuple(w_shape[2:]), stride, padding)
    if name == "winograd":
        if reason is not None and not explicit:
            return "im2col"
        if reason is not None:
            raise ConfigError(f"{layer}: algorithm 'winograd' cannot run this convolution: {reason} "
                             "(use algorithm='im2col' or 'auto')")
        return name
    if reason is not None:
        return "im2col"
    return "winograd" if prefers_winograd(output_hw(*x_shape[2:], tuple(w_shape[2:]), stride, padding), w_shape[2]) \
        else "im2col"
