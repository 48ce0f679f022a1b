"""Compile every gpu kernel to PTX for a real GPU, on a machine without one.

The simulator runs kernels as Python, so it accepts code the CUDA compiler rejects (Numba 0.68's built-in
CUDA target cannot compile ``max()``, for one). Compiling to PTX catches that without a device. It needs
libNVVM: from the ``nvidia-cuda-nvcc-cu12`` wheel (pointed to by ``CUDA_HOME``), a CUDA toolkit, or
``numba-cuda[cu12]``. Run by ``test_gpu_kernels.py``, in a child process because of the patch below::

    CUDA_HOME=.../site-packages/nvidia/cuda_nvcc PYTHONPATH=. python tests/gpu_kernels_ptx.py

Prints one line per kernel and dtype; exits 1 if any fails to compile, 2 if NVVM is missing.
"""

import sys
import types

import numba.cuda.dispatcher
from numba import cuda
from numba import types as nb
from numba.cuda.cudadrv.error import NvvmSupportError

from minialex.kernels import gpu

COMPUTE_CAPABILITY = (8, 0)

# compile_ptx needs no GPU, but the device functions a kernel calls ask the current device for its compute
# capability. This process only compiles, so answer for them.
numba.cuda.dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=COMPUTE_CAPABILITY)


def signatures(dtype):
    def array(dt, ndim):
        return nb.Array(dt, ndim, "C")
    pair = nb.UniTuple(nb.int64, 2)
    index = array(nb.int32, 4)
    return {
        "_im2col_kernel": (array(dtype, 4), array(dtype, 2), pair, pair, pair, pair),
        "_col2im_kernel": (array(dtype, 2), array(dtype, 4), pair, pair, pair, pair),
        "_maxpool_forward_kernel": (array(dtype, 4), array(dtype, 4), index, pair, pair, pair),
        "_maxpool_backward_kernel": (array(dtype, 4), index, array(dtype, 4), pair, pair, pair),
        "_avgpool_forward_kernel": (array(dtype, 4), array(dtype, 2), array(dtype, 4), pair, pair, pair),
        "_avgpool_backward_kernel": (array(dtype, 4), array(dtype, 2), array(dtype, 4), pair, pair, pair),
        "_winograd_input_kernel": (array(dtype, 4), array(dtype, 2), array(dtype, 3), nb.int64, pair, pair),
        "_winograd_input_gradient_kernel": (array(dtype, 3), array(dtype, 2), array(dtype, 4), nb.int64, pair,
                                            pair),
        "_winograd_output_kernel": (array(dtype, 3), array(dtype, 2), array(dtype, 1), array(dtype, 4), pair),
        "_winograd_output_gradient_kernel": (array(dtype, 4), array(dtype, 2), array(dtype, 3), pair),
    }


def main():
    failed = False
    for dtype in (nb.float32, nb.float64):
        for name, signature in signatures(dtype).items():
            try:
                ptx, _ = cuda.compile_ptx(getattr(gpu, name).py_func, signature, cc=COMPUTE_CAPABILITY)
            except Exception as e:  # noqa: BLE001 -- report every kernel, then fail
                if isinstance(e, NvvmSupportError) or "libdevice" in str(e):
                    print(f"libNVVM not found: {e}")
                    return 2
                print(f"{name}[{dtype}]: FAILED to compile: {type(e).__name__}: {e}")
                failed = True
                continue
            # float32 kernels must not compute in float64 (1/32..1/64 the speed on most GPUs).
            f64 = sum(".f64" in line for line in ptx.splitlines() if not line.lstrip().startswith("//"))
            if dtype == nb.float32 and f64:
                print(f"{name}[{dtype}]: FAILED: {f64} PTX lines compute in float64")
                failed = True
                continue
            print(f"{name}[{dtype}]: ok ({len(ptx.splitlines())} PTX lines)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
