"""The gpu kernels must equal minialex.kernels.reference: the checks, and the cases run under the simulator.

Not collected on its own (no ``test_`` prefix): the simulator must be switched on before ``numba.cuda``
is first imported, so ``test_gpu_kernels.py`` runs this file in a child pytest with
``NUMBA_ENABLE_CUDASIM=1``. To run it by hand::

    NUMBA_ENABLE_CUDASIM=1 PYTHONPATH=. python -m pytest tests/gpu_kernel_cases.py

The ``check_*`` functions take ``to_device``, which puts a NumPy array where the kernels run: NumPy itself
under the simulator, ``cupy.asarray`` on a GPU (``test_cupy_backend.py`` reuses them there). The reference
always runs on NumPy, so the two never share code paths.
"""

import numpy as np
import pytest

from minialex.kernels import gpu, reference
from minialex.kernels.geometry import output_hw

from tolerances import rounding_atol, windows_per_pixel

SHAPE = (2, 3, 7, 7)  # tiny: the simulator runs every CUDA thread as Python

GEOMETRIES = {  # (kernel, stride, padding)
    "k3-s1-p1": ((3, 3), (1, 1), (1, 1)),
    "k3-s2-p0-alexnet-pool": ((3, 3), (2, 2), (0, 0)),
    "k2-s2-p0-no-overlap": ((2, 2), (2, 2), (0, 0)),
    "k5-s2-p2": ((5, 5), (2, 2), (2, 2)),
    "k3x2-s2x1-p1x0-asymmetric": ((3, 2), (2, 1), (1, 0)),
    "k1-s1-p0": ((1, 1), (1, 1), (0, 0)),
    "k4-s3-p1-last-row-unused": ((4, 4), (3, 3), (1, 1)),
}
DTYPES = (np.float32, np.float64)


def geometries():
    return pytest.mark.parametrize("geometry", GEOMETRIES.values(), ids=GEOMETRIES.keys())


def dtypes():
    return pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)


# ---------------------------------------------------------------------------------------------------------
# Inputs


def images(shape, dtype, kind="normal", seed=0):
    """``normal``: no two values equal. ``ties``: values from {-1, 0, 1}, so most windows tie.
    ``nan``: ties plus a sprinkling of NaN, which must win any window it is in."""
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.standard_normal(shape).astype(dtype)
    x = rng.integers(-1, 2, shape).astype(dtype)
    if kind == "nan":
        x[rng.random(shape) < 0.1] = np.nan
    return x


def col_shape(x_shape, geometry):
    n, c, h, w = x_shape
    (kh, kw), _, _ = geometry
    oh, ow = output_hw(h, w, *geometry)
    return c * kh * kw, n * oh * ow


def strided(to_device):
    """``to_device``, but the array it gives is a non-contiguous view (a transposed copy, transposed back)."""
    def to_device_strided(a):
        view = to_device(np.ascontiguousarray(np.swapaxes(a, -1, -2))).swapaxes(-1, -2)
        assert not view.flags.c_contiguous
        return view
    return to_device_strided


# ---------------------------------------------------------------------------------------------------------
# Comparison, reported as CS231n does: the worst element, expected vs got, its errors


def summed(expected, geometry):
    """The tolerance of a kernel that sums the windows covering each pixel (tests/tolerances.py)."""
    (kernel, stride, _) = geometry
    return dict(atol=rounding_atol(expected, windows_per_pixel(kernel, stride), dtype=expected.dtype))


def host(a):
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


def assert_matches(got, expected, what, rtol=0.0, atol=0.0):
    got = host(got)
    assert (got.shape, got.dtype) == (expected.shape, expected.dtype), \
        f"{what}: got {got.dtype}{got.shape}, expected {expected.dtype}{expected.shape}"
    bad = ~np.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    if not bad.any():
        return
    abs_err = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    abs_err[bad & np.isnan(abs_err)] = np.inf  # NaN on one side only
    worst = np.unravel_index(np.argmax(np.where(bad, abs_err, -1.0)), got.shape)
    e, g = float(expected[worst]), float(got[worst])
    rel_err = abs_err[worst] / max(1e-8, abs(e) + abs(g))  # CS231n's rel_error
    raise AssertionError(
        f"{what}: {bad.sum()} of {bad.size} elements differ (rtol={rtol}, atol={atol}); worst at index "
        f"{tuple(int(i) for i in worst)}: expected {expected[worst]!r}, got {got[worst]!r}, "
        f"abs err {abs_err[worst]:.3g}, rel err {rel_err:.3g}")


# ---------------------------------------------------------------------------------------------------------
# The checks (shared with test_cupy_backend.py)


def check_im2col(to_device, x, geometry):
    assert_matches(gpu.im2col(to_device(x), *geometry), reference.im2col(x, *geometry), "im2col")


def check_col2im(to_device, x_shape, geometry, dtype, seed=0):
    col = np.random.default_rng(seed).standard_normal(col_shape(x_shape, geometry)).astype(dtype)
    expected = reference.col2im(col, x_shape, *geometry)
    assert_matches(gpu.col2im(to_device(col), x_shape, *geometry), expected, "col2im", **summed(expected, geometry))


def check_maxpool_forward(to_device, x, geometry):
    y, argmax = gpu.maxpool_forward(to_device(x), *geometry)
    expected_y, expected_argmax = reference.maxpool_forward(x, *geometry)
    assert_matches(argmax, expected_argmax, "maxpool_forward argmax")
    assert_matches(y, expected_y, "maxpool_forward y")


def check_maxpool_backward(to_device, x, geometry, seed=0):
    """Through the arg-max of a tie-heavy input, so a pixel can win several overlapping windows."""
    _, argmax = reference.maxpool_forward(x, *geometry)
    gy = np.random.default_rng(seed).standard_normal(argmax.shape).astype(x.dtype)
    got = gpu.maxpool_backward(to_device(gy), to_device(argmax), x.shape, *geometry)
    expected = reference.maxpool_backward(gy, argmax, x.shape, *geometry)
    assert_matches(got, expected, "maxpool_backward", **summed(expected, geometry))


# ---------------------------------------------------------------------------------------------------------
# The cases, on NumPy arrays under the simulator


@dtypes()
@geometries()
def test_im2col_copies_each_window_into_a_column(geometry, dtype):
    check_im2col(np.asarray, images(SHAPE, dtype), geometry)


@dtypes()
@geometries()
def test_col2im_sums_every_column_that_touches_a_pixel(geometry, dtype):
    check_col2im(np.asarray, SHAPE, geometry, dtype)


@pytest.mark.parametrize("kind", ["normal", "ties", "nan"])
@dtypes()
@geometries()
def test_maxpool_forward_takes_the_first_max_and_nan_wins(geometry, dtype, kind):
    check_maxpool_forward(np.asarray, images(SHAPE, dtype, kind), geometry)


@dtypes()
@geometries()
def test_maxpool_backward_gathers_from_the_windows_a_pixel_won(geometry, dtype):
    check_maxpool_backward(np.asarray, images(SHAPE, dtype, "ties"), geometry)


@pytest.mark.parametrize("name", ["k3-s2-p0-alexnet-pool", "k3x2-s2x1-p1x0-asymmetric"])
def test_non_contiguous_inputs_give_the_same_results(name):
    geometry, x_shape = GEOMETRIES[name], (2, 3, 6, 7)  # non-square, so a wrong transpose cannot pass
    x = images(x_shape, np.float32, "ties")
    check_im2col(strided(np.asarray), x, geometry)
    check_col2im(strided(np.asarray), x_shape, geometry, np.float32)
    check_maxpool_forward(strided(np.asarray), x, geometry)
    check_maxpool_backward(strided(np.asarray), x, geometry)


def test_an_empty_batch_launches_no_threads():
    x = np.zeros((0, 3, 7, 7), np.float32)
    geometry = GEOMETRIES["k3-s1-p1"]
    assert gpu.im2col(x, *geometry).shape == (27, 0)
    assert gpu.col2im(np.zeros((27, 0), np.float32), x.shape, *geometry).shape == x.shape
    y, argmax = gpu.maxpool_forward(x, *geometry)
    assert gpu.maxpool_backward(y, argmax, x.shape, *geometry).shape == x.shape


# ---------------------------------------------------------------------------------------------------------
# LeNet's layers: average pooling (kernels) and sigmoid/tanh (the reference expressions, on the device's arrays)

AVG_GEOMETRIES = {  # (kernel, stride, padding), ceil_mode, count_include_pad
    "k2-s2-p0-lenet": (((2, 2), (2, 2), (0, 0)), False, True),
    "k3-s2-p1-ceil-nopad": (((3, 3), (2, 2), (1, 1)), True, False),
    "k3x2-s2x1-p1x0-ceil": (((3, 2), (2, 1), (1, 0)), True, True),
    "k3-s1-p1-overlapping": (((3, 3), (1, 1), (1, 1)), False, False),
}


def avg_divisor(x_shape, geometry, ceil_mode, count_include_pad, dtype):
    from minialex.kernels.geometry import pool_divisors, pool_output_size
    axes = list(zip(x_shape[2:], *geometry))
    out = [pool_output_size(size, k, s, p, ceil_mode) for size, k, s, p in axes]
    dh, dw = (pool_divisors(size, k, s, p, o, count_include_pad) for (size, k, s, p), o in zip(axes, out))
    return np.outer(np.asarray(dh, dtype), np.asarray(dw, dtype))


def check_avgpool_forward(to_device, x, geometry, ceil_mode, count_include_pad):
    d = avg_divisor(x.shape, geometry, ceil_mode, count_include_pad, x.dtype)
    expected = reference.avgpool_forward(x, *geometry, d)      # a mean of kh*kw terms
    assert_matches(gpu.avgpool_forward(to_device(x), *geometry, to_device(d)), expected, "avgpool_forward",
                   atol=rounding_atol(expected, int(np.prod(geometry[0])), dtype=x.dtype))


def check_avgpool_backward(to_device, x_shape, geometry, ceil_mode, count_include_pad, dtype, seed=0):
    d = avg_divisor(x_shape, geometry, ceil_mode, count_include_pad, dtype)
    gy = np.random.default_rng(seed).standard_normal(x_shape[:2] + d.shape).astype(dtype)
    assert_matches(gpu.avgpool_backward(to_device(gy), x_shape, *geometry, to_device(d)),
                   reference.avgpool_backward(gy, x_shape, *geometry, d), "avgpool_backward",
                   **summed(reference.avgpool_backward(gy, x_shape, *geometry, d), geometry))


def avg_geometries():
    return pytest.mark.parametrize("geometry,ceil_mode,count_include_pad", AVG_GEOMETRIES.values(),
                                   ids=AVG_GEOMETRIES.keys())


@dtypes()
@avg_geometries()
def test_avgpool_forward_divides_each_window_sum(geometry, ceil_mode, count_include_pad, dtype):
    check_avgpool_forward(np.asarray, images(SHAPE, dtype), geometry, ceil_mode, count_include_pad)


@dtypes()
@avg_geometries()
def test_avgpool_backward_gathers_every_window_share(geometry, ceil_mode, count_include_pad, dtype):
    check_avgpool_backward(np.asarray, SHAPE, geometry, ceil_mode, count_include_pad, dtype)


def test_avgpool_on_non_contiguous_inputs():
    geometry, ceil_mode, include = AVG_GEOMETRIES["k3x2-s2x1-p1x0-ceil"]
    x_shape = (2, 3, 6, 7)
    check_avgpool_forward(strided(np.asarray), images(x_shape, np.float32), geometry, ceil_mode, include)
    check_avgpool_backward(strided(np.asarray), x_shape, geometry, ceil_mode, include, np.float32)


@dtypes()
def test_sigmoid_and_tanh_are_the_reference_expressions(dtype):
    x = images(SHAPE, dtype) * 50
    for name in ("sigmoid", "tanh"):
        y = getattr(gpu, f"{name}_forward")(x)
        assert_matches(y, getattr(reference, f"{name}_forward")(x), f"{name}_forward")
        g = images(SHAPE, dtype, seed=1)
        assert_matches(getattr(gpu, f"{name}_backward")(g, y), getattr(reference, f"{name}_backward")(g, y),
                       f"{name}_backward")


# ---------------------------------------------------------------------------------------------------------
# Winograd's tile transforms (small: every thread runs as Python under the simulator)

WINOGRAD_CASES = {  # m, r, (N, C, H, W), padding
    "F(2,3)-overhang": (2, 3, (2, 2, 5, 6), (1, 1)),
    "F(3,3)-exact-3x3": (3, 3, (1, 2, 3, 3), (1, 1)),
    "F(6,3)-one-tile-uneven-padding": (6, 3, (1, 2, 4, 5), (2, 0)),
    "F(4,5)-alexnet-conv2-72px": (4, 5, (1, 2, 7, 7), (2, 2)),
}


@dtypes()
@pytest.mark.parametrize("m,r,x_shape,padding", WINOGRAD_CASES.values(), ids=WINOGRAD_CASES.keys())
def test_winograd_tile_kernels_equal_the_reference(m, r, x_shape, padding, dtype):
    from minialex.ops import winograd
    at, _, bt = (t.astype(dtype) for t in winograd.transforms(m, r))
    a = m + r - 1
    out_hw = output_hw(*x_shape[2:], (r, r), (1, 1), padding)
    tiles = tuple(winograd.tiles_per_axis(o, m) for o in out_hw)
    p, oc = x_shape[0] * tiles[0] * tiles[1], 3
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    dv = rng.standard_normal((a * a, x_shape[1], p)).astype(dtype)
    mm = rng.standard_normal((a * a, oc, p)).astype(dtype)
    gy = rng.standard_normal((x_shape[0], oc) + out_hw).astype(dtype)
    bias = rng.standard_normal(oc).astype(dtype)
    growth = float(max(np.abs(t).max() for t in (at, bt))) ** 2
    cases = [
        ("winograd_input_transform", lambda k: k.winograd_input_transform(x, bt, m, padding, tiles)),
        ("winograd_input_gradient", lambda k: k.winograd_input_gradient(dv, bt, m, padding, tiles, x_shape)),
        ("winograd_output_transform", lambda k: k.winograd_output_transform(mm, at, out_hw, tiles, bias)),
        ("winograd_output_gradient", lambda k: k.winograd_output_gradient(gy, at, tiles)),
    ]
    for what, call in cases:
        expected = call(reference)
        assert_matches(call(gpu), expected, what,
                       atol=growth * rounding_atol(expected, 4 * a * a, dtype=expected.dtype))


def test_winograd_kernels_write_into_the_slice_they_are_given():
    from minialex.ops import winograd
    m, r, x_shape, padding = WINOGRAD_CASES["F(2,3)-overhang"]
    at, _, bt = winograd.transforms(m, r)
    rng = np.random.default_rng(1)
    dv, mm = rng.standard_normal((16, 2, 18)), rng.standard_normal((16, 3, 18))
    dx = np.full((3,) + x_shape[1:], 7.0)
    gpu.winograd_input_gradient(dv, bt, m, padding, (3, 3), x_shape, out=dx[1:])
    assert (dx[0] == 7).all()
    assert_matches(dx[1:], reference.winograd_input_gradient(dv, bt, m, padding, (3, 3), x_shape), "dx slice",
                   atol=1e-12)
    y = np.full((3, 3, 5, 6), 7.0)
    gpu.winograd_output_transform(mm, at, (5, 6), (3, 3), None, out=y[:2])
    assert (y[2] == 7).all()
    assert_matches(y[:2], reference.winograd_output_transform(mm, at, (5, 6), (3, 3)), "y slice", atol=1e-12)
