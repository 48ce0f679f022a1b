"""The Numba engine's sigmoid, tanh and average-pooling kernels equal the reference kernels.

Average pooling sums each window in the same row-major order on both engines, so the forward matches bit for
bit; the backward adds overlapping windows' shares in a different order (up to rounding). Sigmoid and tanh call
libm's exp/tanh where NumPy calls its own vectorised versions: a few units in the last place apart.
"""

import numpy as np
import pytest

from minialex.kernels import cpu_numba, reference
from minialex.kernels.geometry import pool_divisors, pool_output_size

from test_kernels import DTYPES, LAYOUTS, as_layout, assert_same, randn  # tests/ is on sys.path
from tolerances import assert_close_to_rounding, windows_per_pixel

# (N, C, H, W), kernel, stride, padding, ceil_mode, count_include_pad
AVG_CASES = [
    ((2, 3, 28, 28), (2, 2), (2, 2), (0, 0), False, True),   # LeNet's pools
    ((2, 3, 7, 9), (3, 3), (2, 2), (1, 1), True, False),     # ceil mode with padding: a partial last window
    ((2, 3, 7, 9), (3, 3), (2, 2), (1, 1), True, True),
    ((1, 2, 6, 5), (3, 2), (2, 1), (1, 0), True, True),      # non-square everything
    ((3, 13, 9, 8), (3, 3), (1, 1), (1, 1), False, False),   # overlapping windows, many planes
    ((1, 2, 8, 7), (4, 4), (3, 3), (2, 2), True, False),
    ((1, 1, 3, 3), (5, 5), (1, 1), (2, 2), False, True),     # window larger than the input
]


def ids(case):
    shape, k, s, p, ceil, include = case
    return ("x".join(map(str, shape)) + f"-k{k[0]}{k[1]}-s{s[0]}{s[1]}-p{p[0]}{p[1]}"
            + ("-ceil" if ceil else "") + ("" if include else "-nopad"))


def divisor(case, dtype):
    shape, k, s, p, ceil, include = case
    out = [pool_output_size(size, *a, ceil) for size, a in zip(shape[2:], zip(k, s, p))]
    dh, dw = (pool_divisors(size, *a, o, include) for size, a, o in zip(shape[2:], zip(k, s, p), out))
    return np.outer(np.asarray(dh, dtype), np.asarray(dw, dtype))


def close_in_ulps(got, want, ulps=4):
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    tol = ulps * np.finfo(want.dtype).eps
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", AVG_CASES, ids=ids)
def test_avgpool_forward_equals_reference(case, dtype, layout):
    shape, k, s, p = case[:4]
    x, d = randn(shape, dtype), divisor(case, dtype)
    assert_same(cpu_numba.avgpool_forward(as_layout(x, layout), k, s, p, d), reference.avgpool_forward(x, k, s, p, d))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", AVG_CASES, ids=ids)
def test_avgpool_backward_equals_reference(case, dtype, layout):
    shape, k, s, p = case[:4]
    d = divisor(case, dtype)
    gy = randn(shape[:2] + d.shape, dtype, seed=1)
    got = cpu_numba.avgpool_backward(as_layout(gy, layout), shape, k, s, p, d)
    want = reference.avgpool_backward(gy, shape, k, s, p, d)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    assert_close_to_rounding(got, want, windows_per_pixel(k, s), what="avgpool_backward")


@pytest.mark.parametrize("case", AVG_CASES, ids=ids)
def test_reference_avgpool_backward_is_the_adjoint_of_the_forward(case):
    """<avgpool(x), g> = <x, avgpool_backward(g)> for every x and g: the backward is the forward's transpose."""
    shape, k, s, p = case[:4]
    d = divisor(case, np.float64)
    x, g = randn(shape, np.float64), randn(shape[:2] + d.shape, np.float64, seed=2)
    lhs = np.vdot(reference.avgpool_forward(x, k, s, p, d), g)
    rhs = np.vdot(x, reference.avgpool_backward(g, shape, k, s, p, d))
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))


def saturating(dtype):
    """Normal values plus the ends where a careless formula overflows, and NaN."""
    x = randn((4, 3, 5, 6), dtype) * 4
    x.flat[:8] = [0.0, -0.0, 1000.0, -1000.0, np.inf, -np.inf, np.nan, 88.8]
    return x


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_sigmoid_and_tanh_equal_reference(name, dtype, layout):
    x = saturating(dtype)
    forward, backward = (f"{name}_forward", f"{name}_backward")
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow on the way to 0 or 1
        y = getattr(cpu_numba, forward)(as_layout(x, layout))
        y_ref = getattr(reference, forward)(x)
    close_in_ulps(y, y_ref)
    gy = randn(x.shape, dtype, seed=3)
    close_in_ulps(getattr(cpu_numba, backward)(as_layout(gy, layout), as_layout(y_ref, layout)),
                  getattr(reference, backward)(gy, y_ref))
