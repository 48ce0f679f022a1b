"""Exercise gpu_max_pool2d: max-pooling's forward pass as a CUDA kernel, in Python, with numba.cuda.

Fill in the kernel (keep its name and signature), then run

    minialex exercise check gpu_max_pool2d

No GPU needed: the checker runs your kernel under Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1), which runs
every CUDA thread as a Python thread -- slowly, so the cases are small -- and, where a GPU is present, on it too.

The launch (the checker's, as a host program would do it):

    threads = (8, 8)                                            # a block of 8 x 8 threads
    blocks  = (ceil(ow / 8), ceil(oh / 8), N * C)               # enough blocks to cover every output, per plane
    max_pool2d_kernel[blocks, threads](x, out, kernel_size, stride)

so thread (j, i) of the grid, in plane p = cuda.blockIdx.z, computes out[n, c, i, j] with n, c = divmod(p, C).
The grid is rounded up to whole blocks: some threads have no output, and must not touch memory.

Memory is the cost on a GPU. The checker counts, per output, the reads of x and the writes of out that your
thread makes (the GPU-Puzzles idea): a window of k x k elements needs k*k reads and 1 write.
"""

import math

from numba import cuda


@cuda.jit
def max_pool2d_kernel(x, out, kernel_size, stride):
    """out[n, c, i, j] = max over p, q < k of  x[n, c, i*stride + p, j*stride + q]   (k = kernel_size, no padding)

    One thread, one output. Return at once if (i, j) is outside out. Keep the running maximum in a local
    variable (a register), reading each window element once, and write out[n, c, i, j] once, at the end.
    """
    j, i = cuda.grid(2)                      # x of the grid runs along the columns, y along the rows
    plane = cuda.blockIdx.z
    if i >= out.shape[2] or j >= out.shape[3]:
        return
    n, c = plane // x.shape[1], plane % x.shape[1]
    best = -math.inf
    for p in range(kernel_size):
        for q in range(kernel_size):
            v = x[n, c, i * stride + p, j * stride + q]
            if v > best:
                best = v
    out[n, c, i, j] = best
