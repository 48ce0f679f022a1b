"""Every engine's kernels equal the reference kernels; the reference equals plain Python loops.

Copies (im2col, max-pool forward, layout changes) must match bit for bit; sums (col2im, max-pool
backward) up to rounding. Inputs come contiguous and as non-contiguous views with the same values.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from minialex.kernels import cpu_numba, reference

from kernel_loops import im2col_loops, maxpool_loops  # tests/ is on sys.path under pytest
from tolerances import assert_close_to_rounding, windows_per_pixel

ENGINES = {"numba": cpu_numba}
DTYPES = [np.float32, np.float64]

# (N, C, H, W), kernel, stride, padding
CONV_CASES = [
    ((2, 3, 7, 7), (3, 3), (1, 1), (1, 1)),
    ((1, 2, 8, 5), (3, 3), (2, 2), (0, 0)),      # non-square input
    ((2, 1, 11, 13), (5, 3), (2, 1), (2, 1)),    # non-square kernel, stride, padding
    ((3, 2, 9, 9), (1, 1), (2, 2), (0, 0)),      # kernel smaller than stride: pixels skipped
    ((1, 3, 12, 10), (2, 2), (4, 4), (0, 0)),
    ((2, 2, 19, 17), (11, 11), (4, 4), (1, 1)),  # conv1-like: kernel much larger than stride
    ((1, 4, 6, 6), (5, 5), (1, 1), (2, 2)),
    ((2, 3, 5, 5), (3, 3), (1, 1), (2, 2)),      # padding wider than half the kernel: whole rows of zeros
    ((1, 1, 4, 4), (4, 4), (1, 1), (0, 0)),      # one window covers the input
    ((2, 2, 10, 7), (3, 2), (2, 4), (1, 0)),
    ((1, 2, 3, 3), (5, 5), (1, 1), (2, 2)),      # kernel larger than the input
    ((2, 1, 13, 13), (3, 3), (2, 2), (1, 1)),
    # more planes (N*C) than the Numba engine cuts its parallel loops into: each task then reuses its scratch
    ((3, 13, 9, 8), (3, 3), (2, 2), (1, 1)),
    ((2, 21, 6, 7), (5, 5), (1, 1), (2, 2)),
]
# PyTorch's rule for pooling: padding at most half the kernel, so no window lies wholly in the padding
POOL_CASES = [c for c in CONV_CASES if c[3][0] <= c[1][0] // 2 and c[3][1] <= c[1][1] // 2]
LAYOUTS = ["contiguous", "transposed", "sliced", "channels_last"]


def ids(case):
    shape, k, s, p = case
    return "x".join(map(str, shape)) + f"-k{k[0]}{k[1]}-s{s[0]}{s[1]}-p{p[0]}{p[1]}"


def as_layout(a, layout):
    """The same values as ``a`` in memory laid out as ``layout`` (all but "contiguous" are strided views)."""
    if layout == "contiguous":
        return a
    if layout == "transposed":
        view = np.ascontiguousarray(a.swapaxes(-1, -2)).swapaxes(-1, -2)
    elif layout == "sliced":
        junk = np.nan if np.issubdtype(a.dtype, np.floating) else -1  # what a kernel reading the gaps would see
        big = np.full(a.shape[:-2] + (2 * a.shape[-2], 3 * a.shape[-1]), junk, dtype=a.dtype)
        big[..., ::2, ::3] = a
        view = big[..., ::2, ::3]
    elif layout == "channels_last":
        view = np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    assert np.array_equal(view, a, equal_nan=True)
    return view


def randn(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def assert_same(got, want):
    """Bit-for-bit equal values (NaN equal to NaN), same shape and dtype."""
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    np.testing.assert_array_equal(got, want)


@pytest.fixture(params=list(ENGINES), scope="module")
def kernels(request):
    """The kernel module of each engine under test (conftest's ``engine`` switches whole backends instead)."""
    return ENGINES[request.param]


# ---------------------------------------------------------------------------------------------------------
# Convolution


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=ids)
def test_im2col_equals_reference(kernels, case, dtype, layout):
    shape, k, s, p = case
    x = randn(shape, dtype)
    assert_same(kernels.im2col(as_layout(x, layout), k, s, p), reference.im2col(x, k, s, p))


@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=ids)
def test_col2im_equals_reference(kernels, case, dtype, layout):
    shape, k, s, p = case
    col_shape = reference.im2col(np.zeros(shape, dtype), k, s, p).shape
    col = randn(col_shape, dtype, seed=1)
    view = np.asfortranarray(col) if layout == "transposed" else col
    assert_close_to_rounding(kernels.col2im(view, shape, k, s, p), reference.col2im(col, shape, k, s, p),
                             windows_per_pixel(k, s), what="col2im")


@pytest.mark.parametrize("case", CONV_CASES, ids=ids)
def test_col2im_is_the_adjoint_of_im2col(kernels, case):
    """<im2col(x), c> == <x, col2im(c)>: the backward of a copy sums what the copy duplicated."""
    shape, k, s, p = case
    x = randn(shape, np.float64)
    c = randn(reference.im2col(x, k, s, p).shape, np.float64, seed=1)
    lhs = np.vdot(kernels.im2col(x, k, s, p), c)
    rhs = np.vdot(x, kernels.col2im(c, shape, k, s, p))
    assert lhs == pytest.approx(rhs, rel=1e-12)


@pytest.mark.parametrize("case", CONV_CASES[:6], ids=ids)
def test_reference_im2col_equals_python_loops(case):
    shape, k, s, p = case
    x = randn(shape, np.float32)
    assert_same(reference.im2col(x, k, s, p), im2col_loops(x, k, s, p))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("layout", ["contiguous", "fortran"])
def test_gemm_to_nchw_equals_reference(kernels, dtype, with_bias, layout):
    n, oc, L = 3, 5, 7
    y = randn((oc, n * L), dtype)
    bias = randn(oc, dtype, seed=2) if with_bias else None
    view = np.asfortranarray(y) if layout == "fortran" else y
    got = kernels.gemm_to_nchw(view, n, bias)
    assert got.flags.c_contiguous
    assert_same(got, reference.gemm_to_nchw(y, n, bias))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_nchw_to_gemm_equals_reference(kernels, dtype, layout):
    g = randn((3, 4, 5, 6), dtype)
    got = kernels.nchw_to_gemm(as_layout(g, layout))
    assert got.flags.c_contiguous
    assert_same(got, reference.nchw_to_gemm(g))


# ---------------------------------------------------------------------------------------------------------
# Max-pooling


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES, ids=ids)
def test_maxpool_forward_equals_reference(kernels, case, dtype, layout):
    shape, k, s, p = case
    x = randn(shape, dtype)
    y, argmax = kernels.maxpool_forward(as_layout(x, layout), k, s, p)
    y_ref, argmax_ref = reference.maxpool_forward(x, k, s, p)
    assert_same(y, y_ref)
    assert_same(argmax, argmax_ref)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES, ids=ids)
def test_maxpool_ties_go_to_the_first_maximum_in_row_major_order(kernels, case, dtype):
    shape, k, s, p = case
    x = np.random.default_rng(3).integers(0, 3, shape).astype(dtype)  # three values: ties in most windows
    y, argmax = kernels.maxpool_forward(x, k, s, p)
    y_loops, argmax_loops = maxpool_loops(x, k, s, p)
    assert_same(y, y_loops)
    assert_same(argmax, argmax_loops)
    assert_same(argmax, reference.maxpool_forward(x, k, s, p)[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES, ids=ids)
def test_maxpool_nan_wins_its_window(kernels, case, dtype):
    shape, k, s, p = case
    x = randn(shape, dtype)
    x.flat[::7] = np.nan
    x.flat[3::11] = np.nan  # some windows hold two NaNs: the first one wins
    y, argmax = kernels.maxpool_forward(x, k, s, p)
    y_ref, argmax_ref = reference.maxpool_forward(x, k, s, p)
    assert_same(y, y_ref)
    assert_same(argmax, argmax_ref)
    assert_same(argmax, maxpool_loops(x, k, s, p)[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_maxpool_minus_infinity_beats_padding(kernels, dtype):
    x = np.full((1, 2, 5, 5), -np.inf, dtype=dtype)
    x[0, 1, 2, 2] = 1.0
    y, argmax = kernels.maxpool_forward(x, (2, 2), (2, 2), (1, 1))
    assert_same(y, reference.maxpool_forward(x, (2, 2), (2, 2), (1, 1))[0])
    assert_same(argmax, reference.maxpool_forward(x, (2, 2), (2, 2), (1, 1))[1])
    assert_same(argmax, maxpool_loops(x, (2, 2), (2, 2), (1, 1))[1])
    assert argmax.min() >= 0 and argmax.max() < 25


@pytest.mark.parametrize("case", POOL_CASES, ids=ids)
def test_reference_maxpool_equals_python_loops(case):
    shape, k, s, p = case
    x = randn(shape, np.float32)
    x.flat[::13] = np.nan
    for got, want in zip(reference.maxpool_forward(x, k, s, p), maxpool_loops(x, k, s, p)):
        assert_same(got, want)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES, ids=ids)
def test_maxpool_backward_equals_reference(kernels, case, dtype, layout):
    shape, k, s, p = case
    x = np.random.default_rng(4).integers(0, 3, shape).astype(dtype)  # ties: one input wins several windows
    _, argmax = reference.maxpool_forward(x, k, s, p)
    gy = randn(argmax.shape, dtype, seed=5)
    got = kernels.maxpool_backward(as_layout(gy, layout), as_layout(argmax, layout), shape, k, s, p)
    assert_close_to_rounding(got, reference.maxpool_backward(gy, argmax, shape, k, s, p), windows_per_pixel(k, s),
                             what="maxpool_backward")


# ---------------------------------------------------------------------------------------------------------
# Element-wise


def special_values(dtype):
    """Normal values plus the awkward ones: +-0, +-inf, NaN."""
    x = randn((4, 3, 5, 6), dtype)
    x.flat[:6] = [0.0, -0.0, np.inf, -np.inf, np.nan, -1.0]
    return x


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_equals_reference(kernels, dtype, layout):
    x = special_values(dtype)
    assert_same(kernels.relu_forward(as_layout(x, layout)), reference.relu_forward(x))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_backward_equals_reference(kernels, dtype, layout):
    gy, y = special_values(dtype), reference.relu_forward(randn((4, 3, 5, 6), dtype, seed=1))
    got = kernels.relu_backward(as_layout(gy, layout), as_layout(y, layout))
    with np.errstate(invalid="ignore"):  # inf * 0 -> NaN, on purpose
        want = reference.relu_backward(gy, y)
    assert_same(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.0, 0.5, 0.7, 1.0])
def test_dropout_mask_equals_reference(kernels, dtype, p):
    u = np.random.default_rng(6).random((64, 100)).astype(dtype)
    u.flat[:3] = [0.0, p, np.nextafter(dtype(p), dtype(0))]  # exactly p is kept; just below is dropped
    assert_same(kernels.dropout_mask(u, p), reference.dropout_mask(u, p))
    assert_same(kernels.dropout_mask(u[:, ::2], p), reference.dropout_mask(u[:, ::2], p))


# ---------------------------------------------------------------------------------------------------------
# Numba's on-disk cache


_COMPILE_AND_CHECK = textwrap.dedent("""
    import sys, numpy as np
    from minialex.kernels import cpu_numba, reference
    x = np.linspace(-2, 2, 60, dtype=sys.argv[1]).reshape(1, 3, 4, 5)
    for k in (cpu_numba.relu_forward, cpu_numba.nchw_to_gemm):
        got = k(x)
        assert got.dtype == x.dtype and np.array_equal(got, getattr(reference, k.__name__)(x)), k.__name__
""")


def test_processes_compiling_different_dtypes_at_once_share_the_cache(tmp_path):
    """Two processes fill an empty cache at the same moment, one with float32, one with float64 signatures;
    afterwards a third process loads both from that cache and gets correct results for each."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), PYTHONPATH=root)
    run = [sys.executable, "-c", _COMPILE_AND_CHECK]
    procs = [subprocess.Popen(run + [dtype], env=env, stderr=subprocess.PIPE, text=True)
             for dtype in ("float32", "float64")]
    for proc in procs:
        assert proc.wait(timeout=300) == 0, proc.stderr.read()
    assert list(tmp_path.rglob("*.nbi")), "nothing was cached"
    check = "\n".join([_COMPILE_AND_CHECK.replace("sys.argv[1]", repr(d)) for d in ("float32", "float64")])
    subprocess.run([sys.executable, "-c", check], env=env, check=True, timeout=300)
