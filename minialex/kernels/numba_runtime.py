"""The Numba engine's runtime: how its kernels are compiled, and the process settings they run under.

:mod:`minialex.kernels.cpu_numba` holds the kernels, function for function beside
:mod:`minialex.kernels.reference`; this module holds what they need from the process. Importing it makes two
process-wide settings, each with an environment switch -- Numba's workqueue threading layer, and glibc keeping
freed memory for reuse (the measurements behind both are below) -- and :func:`jit` compiles each kernel,
cached on disk, the first compile of each signature under a file lock shared by this user's processes.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import platform
import tempfile

import numba
from numba import njit

# ---------------------------------------------------------------------------------------------------------
# Two process-wide settings, made when the Numba engine is imported; each has an environment switch.

# Numba's default OpenMP layer keeps its worker spinning after each parallel loop. On a two-core machine that
# worker competes with the next kernel and with NumPy's BLAS threads for the same cores: a ReLU over a
# (128, 384, 12, 12) batch took 7-16 ms under OpenMP and 2-4.5 ms under the workqueue pool, whose workers sleep
# between loops (large kernels such as im2col ran equally fast in both). The workqueue pool must not be
# entered from two Python threads at once, which minialex never does. NUMBA_THREADING_LAYER still decides.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"


def _keep_freed_memory() -> None:
    """Have glibc keep freed memory for the next allocation instead of returning it to the system.

    A training step allocates the same large arrays every time (conv2's im2col matrix alone is 792 MiB at
    batch 128, 224 px). glibc serves blocks that large with mmap and unmaps them on free, so every step
    page-faults them in afresh: 2.3-3.5 s of system time per step on a 2-core VM, where AlexNet's step went
    from 11.8-13.2 s to 9.6-9.8 s once freed memory was kept. The price: the process stays at its peak size
    (peak RSS 3.3 -> 4.0 GB there). MINIALEX_KEEP_FREED_MEMORY=0 leaves the allocator alone.
    """
    if os.environ.get("MINIALEX_KEEP_FREED_MEMORY", "1") == "0" or platform.libc_ver()[0] != "glibc":
        return
    M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # from <malloc.h>
    libc = ctypes.CDLL(None)
    libc.mallopt(M_MMAP_MAX, 0)         # large blocks come from the heap, where free() keeps them...
    libc.mallopt(M_TRIM_THRESHOLD, -1)  # ...and the heap never shrinks


_keep_freed_memory()

try:
    import fcntl
except ImportError:  # Windows: no flock; concurrent first runs there may still race on Numba's cache index
    fcntl = None


def _open_lock_file():
    """The lock file shared by this user's processes, or None where there is no flock or no writable folder."""
    if fcntl is None:
        return None
    folder = os.environ.get("NUMBA_CACHE_DIR") or tempfile.gettempdir()
    try:
        os.makedirs(folder, exist_ok=True)
        return open(os.path.join(folder, f"minialex-numba-{os.getuid()}.lock"), "a")
    except OSError:  # better an unlikely race than no kernels
        return None


@contextlib.contextmanager
def _cache_lock():
    """Hold an exclusive lock, across processes, while a kernel compiles or loads from the cache."""
    f = _open_lock_file()
    if f is None:
        yield
        return
    with f:  # closing the file releases the lock
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def jit(fn):
    """``njit(parallel=True, cache=True)``, compiling each new signature under :func:`_cache_lock`.

    Numba writes each cache file atomically (temp file + ``os.replace``), so no process ever reads a torn
    file. But it updates a function's index (signature -> data file ``<name>.N.nbc``) by read-modify-write
    without a lock (``IndexDataCacheFile.save`` in numba 0.68): two processes saving *different* signatures
    of one kernel at the same moment (float32 here, float64 there) can both pick the same N, and the index
    can end up pointing one signature at the other's machine code. The window is tiny (not seen in 25
    tries) but the failure is bad; numba/numba#10128 is the same class of race, and its maintainers
    suggest a file lock. Holding one around the first compile of each signature serialises the updates:
    the second process finds the first one's entry and loads it. Later calls never touch the lock.
    """
    kernel = njit(parallel=True, cache=True, fastmath=False)(fn)

    @functools.wraps(fn)
    def call(*args):
        types = tuple(kernel.typeof_pyval(a) for a in args)
        if types not in kernel.overloads:
            with _cache_lock():
                kernel.compile(types)
        return kernel(*args)

    call.dispatcher = kernel
    return call
