"""Winograd convolution (minialex.ops.winograd) and the algorithm switch (minialex.ops.conv_algorithm).

The transforms are checked as matrices (the 1-D identity they exist for, Lavin & Gray's published F(2, 3)), the op
as a whole against finite differences and against im2col, its kernels against the reference and as adjoints, and
the switch by what it chooses, what it refuses and what it puts back. PyTorch: tests/test_torch_parity.py.
"""

import re

import numpy as np
import pytest

import minialex
import minialex.nn.functional as F
from minialex import Tensor, backend, gradcheck, models, nn
from minialex.kernels import cpu_numba, reference
from minialex.kernels.geometry import output_hw
from minialex.ops import conv_algorithm, winograd
from minialex.summary import layer_table

from tolerances import assert_close, assert_close_f32, assert_close_to_rounding, conv_terms, winograd_growth


@pytest.fixture(autouse=True)
def _no_process_default(monkeypatch):
    """Each test starts with no use_conv_algorithm() in force and no MINIALEX_CONV_ALGORITHM, and leaves none."""
    monkeypatch.setattr(conv_algorithm, "_default", None)
    monkeypatch.delenv("MINIALEX_CONV_ALGORITHM", raising=False)


def run(x, w, b, padding, algorithm, g=None, dtype=np.float64, tile=None):
    """Forward and backward of one conv2d: [y, dx, dw, db] as NumPy arrays (db None without a bias)."""
    ts = [None if a is None else Tensor(np.asarray(a, dtype), requires_grad=True) for a in (x, w, b)]
    y = F.conv2d(ts[0], ts[1], ts[2], 1, padding, algorithm=algorithm, tile=tile)
    y.backward(np.ones(y.shape, dtype) if g is None else np.asarray(g, dtype))
    return [y.numpy()] + [None if t is None else t.grad for t in ts]


def alexnet_like(rng, n, c, oc, h, w, r):
    """ReLU'd standard-normal activations and Xavier-uniform weights: the magnitudes AlexNet's conv2-5 see."""
    x = np.maximum(rng.standard_normal((n, c, h, w)), 0)
    limit = np.sqrt(6 / ((c + oc) * r * r))
    return x, rng.uniform(-limit, limit, (oc, c, r, r)), rng.uniform(-0.1, 0.1, oc)


# --- the transforms -----------------------------------------------------------------------------------------------

DEFINED = [(m, r) for m in range(2, 7) for r in range(2, 6) if m + r - 2 <= len(winograd.POINTS)]


@pytest.mark.parametrize("m,r", DEFINED, ids=lambda v: str(v))
def test_transforms_turn_the_elementwise_product_into_a_1d_correlation(m, r):
    """A^T [(G g) * (B^T d)] = y, y_i = sum_k g_k d_(i+k), for every g and d: being bilinear, it is enough that
    the tap g = e_k gives the correlation with e_k, the matrix that shifts d by k."""
    at, g, bt = winograd.transforms(m, r)
    a = m + r - 1
    assert at.shape == (m, a) and g.shape == (a, r) and bt.shape == (a, a)
    for k in range(r):
        shift = np.eye(m, a, k)  # row i picks d_(i+k)
        assert_close(at @ np.diag(g[:, k]) @ bt, shift, rtol=0, atol=1e-11, what=f"F({m}, {r}), tap {k}")


EVERY_TILE = [(m, r) for r in sorted(winograd.TILES) for m in winograd.TILES[r]]


def test_the_tiles_are_those_whose_float32_error_was_measured():
    assert winograd.TILES == {3: (2, 3, 4, 5, 6), 5: (2, 3, 4)}


@pytest.mark.parametrize("m,r", EVERY_TILE, ids=lambda v: str(v))
def test_the_tiles_that_run_compute_a_2d_correlation(m, r):
    at, g, bt = winograd.transforms(m, r)
    rng = np.random.default_rng(0)
    d, k = rng.standard_normal((m + r - 1, m + r - 1)), rng.standard_normal((r, r))
    direct = np.array([[np.sum(d[i:i + r, j:j + r] * k) for j in range(m)] for i in range(m)])
    assert_close(at @ ((g @ k @ g.T) * (bt @ d @ bt.T)) @ at.T, direct, rtol=0, atol=1e-12, what=f"F({m}x{m}, {r}x{r})")


def test_f2_3_is_lavin_and_grays_up_to_the_sign_of_the_point_at_infinity():
    """Their B^T, G, A^T (2015, eq. 7) with the last row of B^T and the last column of A^T negated: the sign of
    the point at infinity's row, which cancels in the product."""
    bt = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], float)
    g = np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]])
    at = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], float)
    ours_at, ours_g, ours_bt = winograd.transforms(2, 3)
    np.testing.assert_array_equal(ours_g, g)
    np.testing.assert_array_equal(ours_bt[:-1], bt[:-1])
    np.testing.assert_array_equal(ours_bt[-1], -bt[-1])
    np.testing.assert_array_equal(ours_at[:, :-1], at[:, :-1])
    np.testing.assert_array_equal(ours_at[:, -1], -at[:, -1])


def test_a_tile_needing_more_points_than_are_defined_is_a_clear_error():
    with pytest.raises(ValueError, match="F\\(10, 5\\) needs 13 interpolation points; at most 11 are defined"):
        winograd.transforms(10, 5)


# --- the op against finite differences ----------------------------------------------------------------------------

GRAD_CASES = [  # x shape, weight shape, padding; F(4x4, r x r) tiles of 4 outputs
    ((2, 3, 6, 7), (4, 3, 3, 3), 0),   # outputs 4x5: one side a multiple of the tile, one not
    ((1, 2, 5, 9), (3, 2, 3, 3), 1),   # batch 1, outputs 5x9
    ((2, 1, 7, 5), (2, 1, 3, 3), 2),   # one channel, padding r - 1, outputs 9x7
    ((2, 2, 7, 6), (3, 2, 5, 5), 2),   # F(4x4, 5x5), AlexNet's conv2 padding, outputs 7x6
    ((1, 1, 9, 5), (2, 1, 5, 5), 4),   # padding r - 1 = 4, outputs 13x9
    ((1, 2, 6, 6), (2, 2, 5, 5), 0),   # outputs 2x2: smaller than one tile
]


@pytest.mark.parametrize("xs,ws,padding", GRAD_CASES, ids=lambda v: str(v))
def test_winograd_gradient_matches_finite_differences_at_every_element(engine, xs, ws, padding):
    rng = np.random.default_rng(1)
    x, w, b = (Tensor(rng.standard_normal(s), requires_grad=True) for s in (xs, ws, ws[:1]))
    result = gradcheck(lambda x, w, b: F.conv2d(x, w, b, 1, padding, algorithm="winograd"), [x, w, b])
    assert [r.checked for r in result.inputs] == [x.size, w.size, b.size]


# For every tile: outputs that are whole tiles, and outputs that are not (the last tile hangs over, or one tile
# is larger than the whole map), so every cropping path of the transforms is checked.
def _tile_grad_cases():
    for m, r in EVERY_TILE:
        for side in (m, m + 1 + (m > 2), max(1, m - 1)):
            yield m, r, side


@pytest.mark.parametrize("m,r,side", list(_tile_grad_cases()), ids=lambda v: str(v))
def test_every_tile_gradient_matches_finite_differences(engine, m, r, side):
    rng = np.random.default_rng(100 + 10 * m + side)
    padding = r // 2
    h = side + r - 1 - 2 * padding
    x, w, b = (Tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 2, h, h + 1), (2, 2, r, r), (2,)))
    result = gradcheck(lambda x, w, b: F.conv2d(x, w, b, 1, padding, algorithm="winograd", tile=m), [x, w, b])
    assert [t.checked for t in result.inputs] == [x.size, w.size, b.size]


def test_winograd_gradient_is_right_for_non_contiguous_inputs(engine):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 9, 8)).transpose(0, 1, 3, 2)[:, :, 1:, ::-1]   # (2, 3, 7, 9), a view
    w = rng.standard_normal((4, 3, 3, 3)).transpose(0, 1, 3, 2)
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    x, w = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    assert not x.data.flags.c_contiguous
    gradcheck(lambda x, w: F.conv2d(x, w, None, 1, 1, algorithm="winograd"), [x, w])


def test_non_contiguous_inputs_and_gradients_give_what_contiguous_ones_give(engine):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 12, 10))[:, ::2, ::-1, 1:]    # (3, 2, 12, 9)
    w = rng.standard_normal((5, 2, 5, 5)).transpose(0, 1, 3, 2)
    g = rng.standard_normal((3, 5, 12, 9)).transpose(0, 1, 3, 2).copy().transpose(0, 1, 3, 2)
    assert not (x.flags.c_contiguous or w.flags.c_contiguous or g.flags.c_contiguous)
    strided = run(x, w, None, 2, "winograd", g)
    contiguous = run(*(np.ascontiguousarray(a) for a in (x, w)), None, 2, "winograd", np.ascontiguousarray(g))
    for got, expected, what in zip(strided, contiguous, ["y", "dx", "dw"]):
        assert_close(got, expected, rtol=1e-12, atol=1e-12, what=what)


# --- the op against im2col, against itself chunked, across engines ------------------------------------------------

AGAINST_IM2COL = GRAD_CASES + [
    ((2, 96, 13, 13), (64, 96, 3, 3), 1),   # AlexNet's conv3-5 shape at 72-96 px, fewer channels
    ((2, 48, 27, 26), (64, 48, 5, 5), 2),   # conv2's at 224 px, fewer channels
]


@pytest.mark.parametrize("xs,ws,padding", AGAINST_IM2COL, ids=lambda v: str(v))
def test_winograd_equals_im2col_in_float64(engine, xs, ws, padding):
    """Float64 leaves only rounding, amplified by the transforms' entries (up to 32 for F(6, 3)): 1e-10 of max."""
    x, w, b = (np.random.default_rng(4).standard_normal(s) for s in (xs, ws, ws[:1]))
    g = np.random.default_rng(5).standard_normal((xs[0], ws[0], *output_hw(*xs[2:], ws[2:], (1, 1), (padding,) * 2)))
    direct = run(x, w, b, padding, "im2col", g)
    for m in winograd.TILES[ws[2]]:
        ours = run(x, w, b, padding, "winograd", g, tile=m)
        for got, expected, what in zip(ours, direct, ["y", "dx", "dw", "db"]):
            assert_close(got, expected, rtol=0, atol=1e-10 * np.abs(expected).max(), what=f"F({m},{ws[2]}) {what}")
    ours = run(x, w, b, padding, "winograd", g)  # the tile choose_tile picks
    for got, expected, what in zip(ours, direct, ["y", "dx", "dw", "db"]):
        assert_close(got, expected, rtol=0, atol=1e-10 * np.abs(expected).max(), what=what)


@pytest.mark.parametrize("c,oc,h,w,r,padding", [(96, 128, 13, 14, 3, 1), (48, 64, 27, 26, 5, 2)])
@pytest.mark.parametrize("tile", [None, "largest"])
def test_float32_winograd_is_within_float32_rounding_of_the_float64_direct_result(engine, c, oc, h, w, r, padding,
                                                                                  tile):
    """Float32 rounding is multiplied by the transforms' entries and summed over C*r*r terms: the bound of
    tests/tolerances.py with Winograd's growth. Measured on AlexNet-like data (ReLU'd inputs, Xavier weights): y,
    dx, dw within 2-9e-6 of their max |value| for F(4, 3), 6-10e-6 for F(4, 5); float32 im2col within 3-6e-7.
    A wrong transform entry is off by O(max |y|)."""
    x, wt, b = alexnet_like(np.random.default_rng(6), 2, c, oc, h, w, r)
    g = np.random.default_rng(7).standard_normal((2, oc, *output_hw(h, w, (r, r), (1, 1), (padding, padding))))
    m = max(winograd.TILES[r]) if tile else winograd.choose_tile(r, output_hw(h, w, (r, r), (1, 1), (padding,) * 2))
    ours = run(x, wt, b, padding, "winograd", g, np.float32, tile=m)
    exact = run(x, wt, b, padding, "im2col", g, np.float64)
    for got, expected, what, terms in zip(ours, exact, ["y", "dx", "dw", "db"], conv_terms(wt.shape, ours[0].shape)):
        assert got.dtype == np.float32
        assert_close_f32(got, expected, terms, winograd_growth(r, m), what=f"float32 F({m},{r}) {what}")


@pytest.mark.parametrize("chunk_bytes", [1, 30_000])   # one image per chunk; 2 + 2 + 1 images
def test_images_in_chunks_give_what_the_whole_batch_gives(engine, chunk_bytes):
    rng = np.random.default_rng(8)
    x, w, b = rng.standard_normal((5, 3, 9, 11)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    g = rng.standard_normal((5, 4, 9, 11))

    def conv(chunk):
        ts = [Tensor(a, requires_grad=True) for a in (x, w, b)]
        y = winograd.conv2d_winograd(*ts, (1, 1), (9, 11), tile=4, chunk_bytes=chunk)
        y.backward(g)
        return [y.numpy()] + [t.grad for t in ts]

    for got, expected, what in zip(conv(chunk_bytes), conv(None), ["y", "dx", "dw", "db"]):
        assert_close(got, expected, rtol=1e-12, atol=1e-12, what=f"chunked {what}")


@pytest.mark.parametrize("n,cap,sizes", [(128, 50, [43, 43, 42]), (128, 128, [128]), (5, 2, [2, 2, 1]),
                                         (7, 1, [1] * 7), (3, 10, [3])])
def test_chunks_are_balanced(n, cap, sizes):
    per_image = 6 * 6 * 4 * 3 * 3 * 4   # F(4, 3): a*a * max(C, OC) * tiles * float32 bytes, 9x9 outputs
    step, nbytes = winograd.chunk_images(n, 3, 4, 4, 3, (9, 9), 4, cap * per_image)
    chunks = [min(step, n - s) for s in range(0, n, step)]
    assert chunks == sizes and nbytes == step * per_image


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_engines_agree_on_winograd(dtype):
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal((2, 6, 11, 9)), rng.standard_normal((5, 6, 5, 5)), rng.standard_normal(5)
    results = {}
    for name in ("numpy", "numba"):
        with backend.backend(name):
            results[name] = run(x, w, b, 2, "winograd", dtype=dtype, tile=4)
    terms = conv_terms(w.shape, results["numpy"][0].shape)
    for got, expected, what, k in zip(results["numba"], results["numpy"], ["y", "dx", "dw", "db"], terms):
        assert_close_to_rounding(got, expected, k, winograd_growth(5, 4), what=f"numba vs numpy {what}")


def test_a_whole_alexnet_step_with_auto_equals_the_im2col_step(engine):
    """AlexNet at 96 px, float64: auto runs conv2-5 by Winograd; loss, every gradient and the SGD step agree."""
    rng = np.random.default_rng(10)
    x, y = rng.standard_normal((2, 1, 96, 96)), rng.integers(0, 10, 2)
    minialex.manual_seed(0)
    net = models.alexnet(input_size=96).double()
    start = [p.data.copy() for p in net.parameters()]
    chosen = [r.algorithm for r in layer_table(net, x.shape) if r.algorithm]
    assert chosen == ["im2col"] + ["winograd"] * 4, chosen
    steps = {}
    for algorithm in ("auto", "im2col"):
        for p, p0 in zip(net.parameters(), start):
            p.data[...] = p0
        opt = minialex.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        with minialex.conv_algorithm(algorithm):
            minialex.manual_seed(1)  # the same dropout masks
            loss = F.cross_entropy(net(Tensor(x)), y)
            opt.zero_grad()
            loss.backward()
            grads = [p.grad.copy() for p in net.parameters()]
            opt.step()
        steps[algorithm] = (loss.item(), grads, [p.data.copy() for p in net.parameters()])
    (loss_a, grads_a, after_a), (loss_i, grads_i, after_i) = steps["auto"], steps["im2col"]
    assert loss_a == pytest.approx(loss_i, rel=1e-12)
    for (name, _), ga, gi, pa, pi in zip(net.named_parameters(), grads_a, grads_i, after_a, after_i):
        assert_close(ga, gi, rtol=0, atol=1e-10 * np.abs(gi).max(), what=f"gradient of {name}")
        assert_close(pa, pi, rtol=0, atol=1e-12 * np.abs(pi).max(), what=f"{name} after the step")


# --- the tile kernels ---------------------------------------------------------------------------------------------

KERNEL_CASES = [  # m, r, (N, C, H, W), padding: the tiles hang over the output, fit it, or are larger than it
    (4, 3, (2, 3, 9, 12), (1, 1)),     # outputs 9x12 in 3x3 tiles of 4
    (3, 3, (1, 2, 3, 3), (1, 1)),      # conv3-5 at 72 px: one exact 3x3 tile
    (6, 3, (2, 2, 4, 5), (2, 0)),      # one tile larger than the 6x3 output, uneven padding
    (4, 5, (3, 2, 7, 7), (2, 2)),      # conv2 at 72 px
    (2, 5, (1, 3, 6, 9), (4, 4)),      # padding r - 1
]


def _kernel_inputs(m, r, shape, padding, dtype, seed=0):
    rng = np.random.default_rng(seed)
    n, c, h, w = shape
    out_hw = output_hw(h, w, (r, r), (1, 1), padding)
    tiles = tuple(winograd.tiles_per_axis(o, m) for o in out_hw)
    at, _, bt = (t.astype(dtype) for t in winograd.transforms(m, r))
    return rng, out_hw, tiles, at, bt


@pytest.mark.parametrize("m,r,shape,padding", KERNEL_CASES, ids=lambda v: str(v))
def test_the_input_transform_is_b_transposed_d_b_of_each_tile_read_from_the_padded_input(m, r, shape, padding):
    rng, out_hw, (th, tw), at, bt = _kernel_inputs(m, r, shape, padding, np.float64)
    x = rng.standard_normal(shape)
    a = m + r - 1
    v = reference.winograd_input_transform(x, bt, m, padding, (th, tw))
    n, c = shape[:2]
    assert v.shape == (a * a, c, n * th * tw)
    big = np.zeros((n, c, m * th + r, m * tw + r))   # room for tiles that hang over the padded input
    big[:, :, padding[0]:padding[0] + shape[2], padding[1]:padding[1] + shape[3]] = x
    for i, (nn_, ci, ty, tx) in enumerate(np.ndindex(n, c, th, tw)):
        d = big[nn_, ci, m * ty:m * ty + a, m * tx:m * tx + a]
        expected = (bt @ d @ bt.T).reshape(-1)
        p = (nn_ * th + ty) * tw + tx
        np.testing.assert_allclose(v[:, ci, p], expected, rtol=0, atol=1e-12, err_msg=f"tile {i}")


@pytest.mark.parametrize("m,r,shape,padding", KERNEL_CASES, ids=lambda v: str(v))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_tile_kernels_equal_the_reference(m, r, shape, padding, dtype):
    rng, out_hw, tiles, at, bt = _kernel_inputs(m, r, shape, padding, dtype)
    n, c, h, w = shape
    a, oc, p = m + r - 1, 4, n * tiles[0] * tiles[1]
    x = rng.standard_normal(shape).astype(dtype)
    mm = rng.standard_normal((a * a, oc, p)).astype(dtype)
    dv = rng.standard_normal((a * a, c, p)).astype(dtype)
    gy = rng.standard_normal((n, oc) + out_hw).astype(dtype)
    bias = rng.standard_normal(oc).astype(dtype)
    pairs = [
        ("input transform", lambda k: k.winograd_input_transform(x, bt, m, padding, tiles)),
        ("input gradient", lambda k: k.winograd_input_gradient(dv, bt, m, padding, tiles, shape)),
        ("output transform", lambda k: k.winograd_output_transform(mm, at, out_hw, tiles, bias)),
        ("output gradient", lambda k: k.winograd_output_gradient(gy, at, tiles)),
        ("strided gradient", lambda k: k.winograd_output_gradient(gy[:, :, ::-1], at, tiles)),
    ]
    for what, call in pairs:
        got, expected = call(cpu_numba), call(reference)
        assert got.dtype == dtype
        assert_close_to_rounding(got, expected, a * a, winograd_growth(r, m), what=what)


@pytest.mark.parametrize("kernels", [reference, cpu_numba], ids=["reference", "numba"])
def test_the_kernels_write_into_slices_of_a_larger_array(kernels):
    m, r, shape, padding = KERNEL_CASES[0]
    rng, out_hw, tiles, at, bt = _kernel_inputs(m, r, shape, padding, np.float64)
    a, oc, p = m + r - 1, 4, shape[0] * tiles[0] * tiles[1]
    mm, dv = rng.standard_normal((a * a, oc, p)), rng.standard_normal((a * a, shape[1], p))
    y = np.full((shape[0] + 1, oc) + out_hw, 7.0)
    kernels.winograd_output_transform(mm, at, out_hw, tiles, None, out=y[1:])
    np.testing.assert_array_equal(y[1:], kernels.winograd_output_transform(mm, at, out_hw, tiles))
    assert (y[0] == 7).all()
    dx = np.full((shape[0] + 1,) + shape[1:], 7.0)
    kernels.winograd_input_gradient(dv, bt, m, padding, tiles, shape, out=dx[:-1])
    np.testing.assert_array_equal(dx[:-1], kernels.winograd_input_gradient(dv, bt, m, padding, tiles, shape))
    assert (dx[-1] == 7).all()


@pytest.mark.parametrize("kernels", [reference, cpu_numba], ids=["reference", "numba"])
@pytest.mark.parametrize("m,r,shape,padding", KERNEL_CASES, ids=lambda v: str(v))
def test_each_gradient_kernel_is_the_adjoint_of_its_transform(kernels, m, r, shape, padding):
    """<T(x), v> = <x, T*(v)> for the input transform and its gradient, and for the output transform and its
    gradient: what the backward relies on, the padding and the cropped tiles included."""
    rng, out_hw, tiles, at, bt = _kernel_inputs(m, r, shape, padding, np.float64)
    a, oc, p = m + r - 1, 3, shape[0] * tiles[0] * tiles[1]
    x, dv = rng.standard_normal(shape), rng.standard_normal((a * a, shape[1], p))
    left = np.vdot(kernels.winograd_input_transform(x, bt, m, padding, tiles), dv)
    right = np.vdot(x, kernels.winograd_input_gradient(dv, bt, m, padding, tiles, shape))
    assert left == pytest.approx(right, rel=1e-12)
    mm, gy = rng.standard_normal((a * a, oc, p)), rng.standard_normal((shape[0], oc) + out_hw)
    left = np.vdot(kernels.winograd_output_transform(mm, at, out_hw, tiles), gy)
    right = np.vdot(mm, kernels.winograd_output_gradient(gy, at, tiles))
    assert left == pytest.approx(right, rel=1e-12)


# --- the tile and the algorithm auto picks: literal tables ------------------------------------------------------------

@pytest.mark.parametrize("r,side,m", [
    (3, 1, 2), (3, 2, 2), (3, 3, 3), (3, 4, 4), (3, 5, 5), (3, 6, 6), (3, 7, 4), (3, 8, 4), (3, 9, 5),
    (3, 10, 5), (3, 12, 6), (3, 13, 5), (3, 16, 4), (3, 26, 6), (3, 28, 6),
    (5, 1, 2), (5, 2, 2), (5, 3, 3), (5, 4, 4), (5, 7, 4), (5, 10, 4), (5, 14, 4), (5, 26, 4), (5, 28, 4),
])
def test_choose_tile_gives_the_fewest_multiplies_as_tabled(r, side, m):
    """The table of docs/winograd.md, written out: tiles * a^2 smallest, ties to the smaller tile."""
    assert winograd.choose_tile(r, (side, side)) == m


# What auto runs on each conv layer on the numba engine (docs/winograd.md's table), written out by hand.
AUTO = {
    ("alexnet", 224): ["im2col", "F(4,5)", "F(6,3)", "F(6,3)", "F(6,3)"],
    ("alexnet", 96): ["im2col", "F(4,5)", "F(4,3)", "F(4,3)", "F(4,3)"],
    ("alexnet", 72): ["im2col", "F(4,5)", "im2col", "im2col", "im2col"],
    ("lenet", 28): ["im2col", "im2col"],
}


@pytest.mark.parametrize("model,size", sorted(AUTO))
def test_auto_runs_the_tabled_algorithm_and_tile_on_each_layer(model, size):
    net = models.build(model, input_size=size if model == "alexnet" else None)
    shape, chosen = (8, 1, size, size), []
    with backend.backend("numba"):
        for layer in net:
            if isinstance(layer, nn.Conv2d):
                m = layer.tile_for(shape)
                chosen.append("im2col" if m is None else f"F({m},{layer.kernel_size[0]})")
            shape = layer.output_shape(shape)
    assert chosen == AUTO[model, size]


def test_auto_runs_im2col_on_cupy_until_a_gpu_measures_it():
    for r, side, c in [(3, 12, 256), (5, 26, 96)]:
        assert conv_algorithm.prefers_winograd((side, side), r, c, "numba")
        assert not conv_algorithm.prefers_winograd((side, side), r, c, "cupy")


def test_float16_never_reaches_winograd():
    x, w = Tensor(np.ones((1, 16, 12, 12), np.float16)), Tensor(np.ones((16, 16, 3, 3), np.float16))
    assert conv_algorithm.choose(None, x.shape, w.shape, (1, 1), (1, 1), dtype=np.float16) == "im2col"
    with pytest.raises(ValueError, match="dtype must be float32 or float64.*got float16"):
        F.conv2d(x, w, None, 1, 1, algorithm="winograd")


@pytest.mark.parametrize("call, message", [
    (lambda: F.conv2d(Tensor(np.ones((1, 1, 8, 8))), Tensor(np.ones((1, 1, 3, 3))), tile=7),
     "conv2d: tile=7 is not a measured Winograd tile for a 3x3 kernel; expected one of 2, 3, 4, 5, 6"),
    (lambda: nn.Conv2d(3, 4, 5, tile=6), r"tile=6 is not a measured Winograd tile for a 5x5 kernel; expected one of 2, 3, 4"),
    (lambda: nn.Conv2d(3, 4, 3, tile=True), r"tile=True is not a measured Winograd tile"),
])
def test_a_tile_that_was_not_measured_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_layer_runs_the_tile_it_was_given(monkeypatch):
    seen = []
    real = winograd.conv2d_winograd
    monkeypatch.setattr(winograd, "conv2d_winograd", lambda *a, **k: seen.append(k.get("tile")) or real(*a, **k))
    layer = nn.Conv2d(2, 3, 3, padding=1, algorithm="winograd", tile=2)
    layer(Tensor(np.ones((1, 2, 8, 8), np.float32)))
    assert seen == [2] and layer.tile_for((1, 2, 8, 8)) == 2 and "tile=2" in repr(layer)


def test_auto_runs_what_it_chooses_and_f_conv2d_passes_the_algorithm_on(monkeypatch):
    calls = []
    real = winograd.conv2d_winograd
    monkeypatch.setattr(winograd, "conv2d_winograd", lambda *a, **k: calls.append(1) or real(*a, **k))
    w = Tensor(np.ones((3, 16, 3, 3)))

    def x(side, c=16):
        return Tensor(np.ones((1, c, side, side)))

    with backend.backend("numba"):
        F.conv2d(x(8), w, None, 1, 1)                        # 8x8 outputs, F(4,3): 0.25 of im2col's multiplies
        F.conv2d(x(8), w, None, 1, 1, algorithm="im2col")
        F.conv2d(x(8), w, None, 2, 1)                        # stride 2: auto falls back to im2col
        F.conv2d(x(12), w, None, 1, 1)                       # 12x12 outputs, F(6,3): 0.20
        F.conv2d(x(3), w, None, 1, 1)                        # 3x3 outputs, F(3,3): 0.31, auto takes im2col
        F.conv2d(x(3), w)                                    # 1x1 output: 4 / 9 of the multiplies saved at best
        F.conv2d(x(8, 2), Tensor(np.ones((3, 2, 3, 3))), None, 1, 1)  # 2 input channels: im2col
        F.conv2d(x(3), w, None, 1, 1, algorithm="winograd")  # 3x3 outputs: auto would not
    assert calls == [1, 1, 1]


@pytest.mark.parametrize("call, message", [
    (lambda: F.conv2d(Tensor(np.ones((1, 1, 5, 5))), Tensor(np.ones((1, 1, 3, 3))), algorithm="fft"),
     "conv2d: unknown convolution algorithm 'fft'; expected one of auto, im2col, winograd"),
    (lambda: nn.Conv2d(3, 4, 3, algorithm="FFT"),
     r"Conv2d\(3, 4, kernel_size=\(3, 3\).*\): unknown convolution algorithm 'FFT'; expected one of auto, im2col"),
    (lambda: minialex.use_conv_algorithm("direct"),
     "use_conv_algorithm: unknown convolution algorithm 'direct'; expected one of auto, im2col, winograd"),
])
def test_an_unknown_algorithm_name_is_an_error_that_lists_the_known_ones(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_an_unknown_algorithm_in_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("MINIALEX_CONV_ALGORITHM", "fast")
    with pytest.raises(ValueError, match="MINIALEX_CONV_ALGORITHM: unknown convolution algorithm 'fast'"):
        F.conv2d(Tensor(np.ones((1, 1, 5, 5))), Tensor(np.ones((1, 1, 3, 3))))


@pytest.mark.parametrize("kwargs, rule", [
    (dict(kernel_size=3, stride=2), "stride must be 1, got 2x2"),
    (dict(kernel_size=11, stride=4, padding=1), r"kernel must be square with size in \[3, 5\], got 11x11"),
    (dict(kernel_size=(3, 5), padding=1), r"kernel must be square with size in \[3, 5\], got 3x5"),
    (dict(kernel_size=3, padding=3), "padding must be at most kernel_size - 1 = 2, got 3x3"),
    (dict(kernel_size=5, padding=(2, 5)), "padding must be at most kernel_size - 1 = 4, got 2x5"),
])
def test_winograd_for_a_layer_it_cannot_run_names_the_layer_and_the_rule(kwargs, rule):
    layer = nn.Conv2d(3, 4, **kwargs)
    named = re.escape(repr(layer)[:-1] + ", algorithm='winograd')")  # the layer as it was asked for
    with pytest.raises(ValueError, match=f"^{named}: algorithm 'winograd' cannot run this convolution: {rule}"):
        nn.Conv2d(3, 4, **kwargs, algorithm="winograd")
    with pytest.raises(ValueError, match=f"^conv2d: algorithm 'winograd' cannot run this convolution: {rule}"):
        F.conv2d(Tensor(np.ones((1, 3, 12, 12), np.float32)), Tensor(layer.weight.data), None, layer.stride, layer.padding,
                 algorithm="winograd")


def test_winograd_as_the_default_runs_wherever_it_can_and_im2col_elsewhere(monkeypatch):
    calls = []
    real = winograd.conv2d_winograd
    monkeypatch.setattr(winograd, "conv2d_winograd", lambda *a, **k: calls.append(a[1].shape) or real(*a, **k))
    net = models.alexnet(input_size=65)
    with minialex.conv_algorithm("winograd"):
        net(Tensor(np.zeros((1, 1, 65, 65), np.float32)))  # conv1 (11x11, stride 4) runs im2col, no error
    assert [shape[2:] for shape in calls] == [(5, 5), (3, 3), (3, 3), (3, 3)]  # conv2-conv5, even on 1x1 maps


def test_the_default_comes_from_use_conv_algorithm_else_the_environment_else_auto(monkeypatch):
    assert minialex.get_conv_algorithm() == "auto"
    monkeypatch.setenv("MINIALEX_CONV_ALGORITHM", " Im2Col ")
    assert minialex.get_conv_algorithm() == "im2col"
    assert minialex.use_conv_algorithm("winograd") == "winograd"
    assert minialex.get_conv_algorithm() == "winograd"  # the call wins over the variable


def test_the_context_manager_puts_the_previous_default_back_even_after_an_error():
    minialex.use_conv_algorithm("im2col")
    with minialex.conv_algorithm("winograd") as name:
        assert name == minialex.get_conv_algorithm() == "winograd"
        with minialex.conv_algorithm("auto"):
            assert minialex.get_conv_algorithm() == "auto"
        assert minialex.get_conv_algorithm() == "winograd"
    assert minialex.get_conv_algorithm() == "im2col"
    with pytest.raises(RuntimeError), minialex.conv_algorithm("winograd"):
        raise RuntimeError("boom")
    assert minialex.get_conv_algorithm() == "im2col"
    with pytest.raises(ValueError), minialex.conv_algorithm("nope"):
        pass
    assert minialex.get_conv_algorithm() == "im2col"


def test_a_layer_that_names_its_algorithm_overrides_the_default():
    layer = nn.Conv2d(2, 3, 3, padding=1, algorithm="im2col")
    with minialex.conv_algorithm("winograd"):
        assert layer.algorithm_for((1, 2, 8, 8)) == "im2col"
        assert nn.Conv2d(2, 3, 3, padding=1).algorithm_for((1, 2, 8, 8)) == "winograd"


def test_the_switch_is_exported_where_users_look_for_it():
    for name in ("use_conv_algorithm", "get_conv_algorithm", "conv_algorithm"):
        assert name in minialex.__all__ and getattr(minialex, name) is getattr(conv_algorithm, name)


# --- PyTorch as the reference, for every tile the rule picks ------------------------------------------------------

@pytest.mark.parametrize("r,side", [(3, 1), (3, 2), (3, 3), (3, 4), (3, 5), (3, 6), (3, 9), (3, 12), (3, 26),
                                    (5, 1), (5, 3), (5, 4), (5, 7), (5, 26)])
def test_winograd_matches_pytorch_on_every_tile_the_rule_picks(engine, r, side):
    """Forward, dx, dW and db against torch.nn.functional.conv2d in float64, with the tile choose_tile picks for
    that map (F(2..6, 3), F(2..4, 5) all appear)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(200 + side)
    padding = r // 2
    x, w, b = rng.standard_normal((2, 3, side, side + 1)), rng.standard_normal((4, 3, r, r)), rng.standard_normal(4)
    out = output_hw(side, side + 1, (r, r), (1, 1), (padding, padding))
    g = rng.standard_normal((2, 4) + out)
    ours = run(x, w, b, padding, "winograd", g)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, padding=padding)
    ty.backward(torch.tensor(g))
    theirs = [ty.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy()]
    for got, expected, what in zip(ours, theirs, ["y", "dx", "dw", "db"]):
        assert_close(got, expected, rtol=0, atol=1e-10 * max(1.0, np.abs(expected).max()),
                     what=f"F({winograd.choose_tile(r, out)},{r}) {what}")
