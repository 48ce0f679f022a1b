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


def run(x, w, b, padding, algorithm, g=None, dtype=np.float64):
    """Forward and backward of one conv2d: [y, dx, dw, db] as NumPy arrays (db None without a bias)."""
    ts = [None if a is None else Tensor(np.asarray(a, dtype), requires_grad=True) for a in (x, w, b)]
    y = F.conv2d(ts[0], ts[1], ts[2], 1, padding, algorithm=algorithm)
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


@pytest.mark.parametrize("r", sorted(winograd.TILE))
def test_the_tiles_that_run_compute_a_2d_correlation(r):
    m = winograd.TILE[r]
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
    """Float64 leaves only rounding, amplified by the transforms' entries (up to 21 for F(4, 5)): 1e-10 of max."""
    x, w, b = (np.random.default_rng(4).standard_normal(s) for s in (xs, ws, ws[:1]))
    g = np.random.default_rng(5).standard_normal((xs[0], ws[0], *output_hw(*xs[2:], ws[2:], (1, 1), (padding,) * 2)))
    ours, direct = run(x, w, b, padding, "winograd", g), run(x, w, b, padding, "im2col", g)
    for got, expected, what in zip(ours, direct, ["y", "dx", "dw", "db"]):
        assert_close(got, expected, rtol=0, atol=1e-10 * np.abs(expected).max(), what=what)


@pytest.mark.parametrize("c,oc,h,w,r,padding", [(96, 128, 13, 14, 3, 1), (48, 64, 27, 26, 5, 2)])
def test_float32_winograd_is_within_float32_rounding_of_the_float64_direct_result(engine, c, oc, h, w, r, padding):
    """Float32 rounding is multiplied by the transforms' entries and summed over C*r*r terms: the bound of
    tests/tolerances.py with Winograd's growth. Measured on AlexNet-like data (ReLU'd inputs, Xavier weights): y,
    dx, dw within 2-9e-6 of their max |value| for F(4, 3), 6-10e-6 for F(4, 5); float32 im2col within 3-6e-7.
    A wrong transform entry is off by O(max |y|)."""
    x, wt, b = alexnet_like(np.random.default_rng(6), 2, c, oc, h, w, r)
    g = np.random.default_rng(7).standard_normal((2, oc, *output_hw(h, w, (r, r), (1, 1), (padding, padding))))
    ours = run(x, wt, b, padding, "winograd", g, np.float32)
    exact = run(x, wt, b, padding, "im2col", g, np.float64)
    for got, expected, what, terms in zip(ours, exact, ["y", "dx", "dw", "db"], conv_terms(wt.shape, ours[0].shape)):
        assert got.dtype == np.float32
        assert_close_f32(got, expected, terms, winograd_growth(r), what=f"float32 {what}")


def test_images_in_chunks_give_what_the_whole_batch_gives(engine, monkeypatch):
    rng = np.random.default_rng(8)
    x, w, b = rng.standard_normal((5, 3, 9, 11)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    g = rng.standard_normal((5, 4, 9, 11))
    whole = run(x, w, b, 1, "winograd", g)
    monkeypatch.setattr(winograd, "CHUNK_BYTES", 1)  # one image per chunk
    chunked = run(x, w, b, 1, "winograd", g)
    for got, expected, what in zip(chunked, whole, ["y", "dx", "dw", "db"]):
        assert_close(got, expected, rtol=1e-12, atol=1e-12, what=f"chunked {what}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_engines_agree_on_winograd(dtype):
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal((2, 6, 11, 9)), rng.standard_normal((5, 6, 5, 5)), rng.standard_normal(5)
    results = {}
    for name in ("numpy", "numba"):
        with backend.backend(name):
            results[name] = run(x, w, b, 2, "winograd", dtype=dtype)
    terms = conv_terms(w.shape, results["numpy"][0].shape)
    for got, expected, what, k in zip(results["numba"], results["numpy"], ["y", "dx", "dw", "db"], terms):
        assert_close_to_rounding(got, expected, k, winograd_growth(5), what=f"numba vs numpy {what}")


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

TILE_CASES = [  # m, OC, N, th, tw, (oh, ow)
    (4, 3, 2, 2, 3, (7, 10)),    # the last tiles hang over by one row and two columns
    (4, 2, 1, 1, 1, (2, 3)),     # one tile, mostly cropped
    (2, 5, 3, 3, 2, (6, 4)),     # no overhang
]


@pytest.mark.parametrize("m,oc,n,th,tw,out_hw", TILE_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_bias", [False, True])
def test_numba_tiles_to_nchw_equals_reference(m, oc, n, th, tw, out_hw, dtype, with_bias):
    rng = np.random.default_rng(11)
    t = rng.standard_normal((m, m, oc, n, th, tw)).astype(dtype)
    bias = rng.standard_normal(oc).astype(dtype) if with_bias else None
    expected = reference.tiles_to_nchw(t, out_hw, bias)
    np.testing.assert_array_equal(cpu_numba.tiles_to_nchw(t, out_hw, bias), expected)
    out = np.full((n + 1, oc) + out_hw, np.nan, dtype)
    cpu_numba.tiles_to_nchw(t, out_hw, bias, out=out[1:])  # into a slice of a larger array, as the op does
    np.testing.assert_array_equal(out[1:], expected)
    assert np.isnan(out[0]).all()


@pytest.mark.parametrize("m,oc,n,th,tw,out_hw", TILE_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_nchw_to_tiles_equals_reference_also_for_strided_gradients(m, oc, n, th, tw, out_hw, dtype):
    rng = np.random.default_rng(12)
    g = rng.standard_normal((n, oc) + out_hw[::-1]).astype(dtype).transpose(0, 1, 3, 2)
    assert not g.flags.c_contiguous
    expected = reference.nchw_to_tiles(np.ascontiguousarray(g), m, th, tw)
    np.testing.assert_array_equal(reference.nchw_to_tiles(g, m, th, tw), expected)
    np.testing.assert_array_equal(cpu_numba.nchw_to_tiles(g, m, th, tw), expected)


@pytest.mark.parametrize("kernels", [reference, cpu_numba], ids=["reference", "numba"])
@pytest.mark.parametrize("m,oc,n,th,tw,out_hw", TILE_CASES)
def test_nchw_to_tiles_is_the_adjoint_of_tiles_to_nchw(kernels, m, oc, n, th, tw, out_hw):
    """<tiles_to_nchw(t), g> = <t, nchw_to_tiles(g)>: what the backward relies on, cropped tiles included."""
    rng = np.random.default_rng(13)
    t, g = rng.standard_normal((m, m, oc, n, th, tw)), rng.standard_normal((n, oc) + out_hw)
    left = np.vdot(kernels.tiles_to_nchw(t, out_hw), g)
    right = np.vdot(t, kernels.nchw_to_tiles(g, m, th, tw))
    assert left == pytest.approx(right, rel=1e-12)


# --- the switch: what auto chooses, what is refused, what is put back ---------------------------------------------

@pytest.mark.parametrize("size", [224, 96, 72])
def test_auto_chooses_as_prefers_winograd_says_on_alexnets_layers(size):
    net = models.alexnet(input_size=size)
    shape, chosen = (8, 1, size, size), {}
    for name, layer in net.named_children():
        if isinstance(layer, nn.Conv2d):
            reason = winograd.why_not(layer.kernel_size, layer.stride, layer.padding)
            oh, ow = layer.output_shape(shape)[2:]
            expected = "winograd" if reason is None and conv_algorithm.prefers_winograd((oh, ow),
                                                                                       layer.kernel_size[0]) \
                else "im2col"
            chosen[name] = layer.algorithm_for(shape)
            assert chosen[name] == expected, f"{size} px, layer {name}"
        shape = layer.output_shape(shape)
    assert chosen["0"] == "im2col"  # 11x11 at stride 4: never Winograd


def test_auto_runs_what_it_chooses_and_f_conv2d_passes_the_algorithm_on(monkeypatch):
    calls = []
    real = winograd.conv2d_winograd
    monkeypatch.setattr(winograd, "conv2d_winograd", lambda *a: calls.append(1) or real(*a))
    x, w = Tensor(np.ones((1, 2, 8, 8))), Tensor(np.ones((3, 2, 3, 3)))
    F.conv2d(x, w, None, 1, 1)                        # 8x8 outputs, whole tiles: auto picks Winograd
    F.conv2d(x, w, None, 1, 1, algorithm="im2col")
    F.conv2d(x, w, None, 2, 1)                        # stride 2: auto falls back to im2col
    F.conv2d(Tensor(np.ones((1, 2, 7, 7))), w, None, 1, 1)  # 7x7 outputs in 8x8 of tiles: 77% used, Winograd
    F.conv2d(Tensor(np.ones((1, 2, 5, 5))), w)        # 3x3 outputs in a 4x4 tile: 56% used, auto takes im2col
    F.conv2d(Tensor(np.ones((1, 2, 3, 3))), w)        # 1x1 output: 1/16 of the tile used, auto takes im2col
    F.conv2d(Tensor(np.ones((1, 2, 3, 3))), w, None, 1, 1, algorithm="winograd")  # 3x3 outputs: auto would not
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
    monkeypatch.setattr(winograd, "conv2d_winograd", lambda *a: calls.append(a[1].shape) or real(*a))
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
