"""The cupy engine on a real GPU: every gpu kernel on CuPy arrays equals the reference on NumPy.

Marked ``gpu``: deselected by default, run with ``python -m pytest -m gpu``. Skips when CuPy or a CUDA
device is missing. The kernel checks are the ones the CPU runs under the simulator (gpu_kernel_cases.py);
here they also run on AlexNet-sized layers, on a non-default stream, and twice for determinism.
"""

import numpy as np
import pytest

from gpu_kernel_cases import (DTYPES, GEOMETRIES, SHAPE, assert_matches, check_col2im, check_im2col,
                              check_maxpool_backward, check_maxpool_forward, images, strided, summed)

pytestmark = pytest.mark.gpu

cupy = pytest.importorskip("cupy")
try:
    _devices = cupy.cuda.runtime.getDeviceCount()
except Exception as e:  # noqa: BLE001 -- a missing or broken driver raises CUDARuntimeError
    pytest.skip(f"CuPy cannot reach a CUDA device: {e}", allow_module_level=True)
if _devices == 0:
    pytest.skip("no CUDA device", allow_module_level=True)

from minialex import backend  # noqa: E402
from minialex.kernels import gpu, reference  # noqa: E402

LAYOUTS = {"contiguous": cupy.asarray, "non-contiguous": strided(cupy.asarray)}
layouts = pytest.mark.parametrize("to_device", LAYOUTS.values(), ids=LAYOUTS.keys())
geometries = pytest.mark.parametrize("geometry", GEOMETRIES.values(), ids=GEOMETRIES.keys())
dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)

# AlexNet's (d2l, 224x224) layers whose kernels these are, on a batch of 4.
ALEXNET = {  # id: (x_shape, (kernel, stride, padding))
    "conv1-11x11-s4-p1": ((4, 1, 224, 224), ((11, 11), (4, 4), (1, 1))),
    "pool1-3x3-s2": ((4, 96, 54, 54), ((3, 3), (2, 2), (0, 0))),
    "conv2-5x5-p2": ((4, 96, 26, 26), ((5, 5), (1, 1), (2, 2))),
    "conv3-3x3-p1": ((4, 256, 12, 12), ((3, 3), (1, 1), (1, 1))),
}
alexnet = pytest.mark.parametrize("x_shape, geometry", ALEXNET.values(), ids=ALEXNET.keys())


def test_the_cupy_engine_uses_these_kernels():
    with backend.backend("cupy") as b:
        assert b.xp is cupy and b.kernels is gpu


@layouts
@dtypes
@geometries
def test_im2col(geometry, dtype, to_device):
    check_im2col(to_device, images(SHAPE, dtype), geometry)


@layouts
@dtypes
@geometries
def test_col2im(geometry, dtype, to_device):
    check_col2im(to_device, SHAPE, geometry, dtype)


@pytest.mark.parametrize("kind", ["normal", "ties", "nan"])
@dtypes
@geometries
def test_maxpool_forward(geometry, dtype, kind):
    check_maxpool_forward(cupy.asarray, images(SHAPE, dtype, kind), geometry)


@layouts
@dtypes
@geometries
def test_maxpool_backward(geometry, dtype, to_device):
    check_maxpool_backward(to_device, images(SHAPE, dtype, "ties"), geometry)


@alexnet
def test_alexnet_sized_layers(x_shape, geometry):
    x = images(x_shape, np.float32, "ties")
    check_im2col(cupy.asarray, x, geometry)
    check_col2im(cupy.asarray, x_shape, geometry, np.float32)
    check_maxpool_forward(cupy.asarray, x, geometry)
    check_maxpool_backward(cupy.asarray, x, geometry)


def test_kernels_run_in_order_on_a_non_default_stream():
    """Launched on CuPy's current stream: each kernel sees its inputs finished and its output is read after."""
    x = images((8, 16, 31, 31), np.float32, "ties")
    geometry = GEOMETRIES["k3-s2-p0-alexnet-pool"]
    with cupy.cuda.Stream(non_blocking=True):
        xd = cupy.asarray(x) * 2  # queued on the stream just before the kernel that reads it
        y, argmax = gpu.maxpool_forward(xd, *geometry)
        dx = gpu.maxpool_backward(y, argmax, x.shape, *geometry)
        dx_host = cupy.asnumpy(dx)
    expected_y, expected_argmax = reference.maxpool_forward(x * 2, *geometry)
    expected = reference.maxpool_backward(expected_y, expected_argmax, x.shape, *geometry)
    assert_matches(dx_host, expected, "on a stream", **summed(expected, geometry))


@alexnet
def test_the_gathers_are_bit_for_bit_deterministic(x_shape, geometry):
    x = cupy.asarray(images(x_shape, np.float32))
    col = gpu.im2col(x, *geometry)
    assert (gpu.col2im(col, x_shape, *geometry) == gpu.col2im(col, x_shape, *geometry)).all()
    y, argmax = gpu.maxpool_forward(x, *geometry)
    assert (gpu.maxpool_backward(y, argmax, x_shape, *geometry)
            == gpu.maxpool_backward(y, argmax, x_shape, *geometry)).all()


@dtypes
def test_the_array_op_kernels_on_cupy(dtype):
    """ReLU, dropout masks and the GEMM layout shuffles are the reference functions running on CuPy."""
    x = images((2, 4, 5, 5), dtype)
    xd = cupy.asarray(x)
    assert_matches(gpu.relu_forward(xd), reference.relu_forward(x), "relu_forward")
    assert_matches(gpu.relu_backward(xd, xd), reference.relu_backward(x, x), "relu_backward")
    u = np.random.default_rng(1).random((3, 7)).astype(dtype)
    assert_matches(gpu.dropout_mask(cupy.asarray(u), 0.5), reference.dropout_mask(u, 0.5), "dropout_mask")
    assert_matches(gpu.nchw_to_gemm(xd), reference.nchw_to_gemm(x), "nchw_to_gemm")
    g, bias = x.reshape(4, -1), np.arange(4, dtype=dtype)
    assert_matches(gpu.gemm_to_nchw(cupy.asarray(g), 2, cupy.asarray(bias)), reference.gemm_to_nchw(g, 2, bias),
                   "gemm_to_nchw")


@pytest.mark.parametrize("kernel, padding, side", [(3, 1, 12), (3, 0, 7), (5, 2, 26), (5, 2, 10)])
def test_winograd_conv2d_on_the_gpu_equals_numpy(kernel, padding, side):
    """The Winograd op is array code over xp: on CuPy its forward and both gradients equal the numpy engine's."""
    from minialex import Tensor
    from minialex.ops import conv2d
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 8, side, side))
    w = rng.standard_normal((6, 8, kernel, kernel))
    g = rng.standard_normal((3, 6, side + 2 * padding - kernel + 1, side + 2 * padding - kernel + 1))
    results = {}
    for engine in ("numpy", "cupy"):
        with backend.backend(engine) as b:
            xt, wt = Tensor(b.asarray(x), requires_grad=True), Tensor(b.asarray(w), requires_grad=True)
            y = conv2d(xt, wt, None, 1, padding, algorithm="winograd")
            y.backward(b.asarray(g))
            results[engine] = [b.to_numpy(a) for a in (y.data, xt.grad, wt.grad)]
    for ours, reference_ in zip(results["cupy"], results["numpy"]):
        np.testing.assert_allclose(ours, reference_, rtol=1e-9, atol=1e-9 * np.abs(reference_).max())


# LeNet's layers: average pooling and sigmoid/tanh, the simulator's checks on CuPy arrays
from gpu_kernel_cases import AVG_GEOMETRIES, check_avgpool_backward, check_avgpool_forward  # noqa: E402

avg_geometries = pytest.mark.parametrize("geometry,ceil_mode,count_include_pad", AVG_GEOMETRIES.values(),
                                         ids=AVG_GEOMETRIES.keys())


@layouts
@dtypes
@avg_geometries
def test_avgpool(geometry, ceil_mode, count_include_pad, dtype, to_device):
    check_avgpool_forward(to_device, images(SHAPE, dtype), geometry, ceil_mode, count_include_pad)
    check_avgpool_backward(to_device, SHAPE, geometry, ceil_mode, count_include_pad, dtype)


def test_lenet_sized_avgpool():
    geometry, ceil_mode, include = AVG_GEOMETRIES["k2-s2-p0-lenet"]
    check_avgpool_forward(cupy.asarray, images((256, 6, 28, 28), np.float32), geometry, ceil_mode, include)
    check_avgpool_backward(cupy.asarray, (256, 6, 28, 28), geometry, ceil_mode, include, np.float32)


@dtypes
def test_sigmoid_and_tanh_saturate_on_the_gpu(dtype):
    x = cupy.asarray(np.array([-1000.0, 0.0, 1000.0], dtype))
    assert gpu.sigmoid_forward(x).get().tolist() == [0.0, 0.5, 1.0]
    assert gpu.tanh_forward(x).get().tolist() == [-1.0, 0.0, 1.0]
