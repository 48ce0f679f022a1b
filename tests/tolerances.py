"""How close two results must be: one rule for every test that compares floating-point results.

A result that sums ``terms`` products in precision eps carries rounding error that grows like sqrt(terms)
(independent roundings, as a blocked BLAS kernel accumulates) times the size of what is summed; for data of
mixed signs that size is bounded by the largest |value| of the result. So the bound is

    atol = HEADROOM * growth * eps * sqrt(terms) * max |expected|

``growth`` is for algorithms that multiply rounding by their own constants (Winograd's transforms); it is 1 for
a plain sum. The bound does not depend on the order the sum is taken in, so it holds on any BLAS kernel and
thread count, while an off-by-one index or a wrong term is off by O(max |expected|), thousands of times more.

Report in CS231n's manner: the worst element, expected vs got, its relative error.
"""

import math

import numpy as np

EPS32 = float(np.finfo(np.float32).eps)  # 1.19e-7: one unit in the last place at 1.0
HEADROOM = 8  # over the sqrt(terms) estimate: both sides round (ours and the reference), and partial sums grow


def rel_error(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))) if a.size else 0.0


def assert_close(got, expected, rtol=1e-5, atol=1e-6, what="value"):
    """assert_allclose with a CS231n-style report: the worst element, expected vs got."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, expected {expected.shape}"
    err = np.abs(got - expected) - (atol + rtol * np.abs(expected))
    if err.size and err.max() > 0:
        idx = np.unravel_index(np.argmax(err), err.shape)
        raise AssertionError(f"{what}: worst element {idx}: got {got[idx]!r}, expected {expected[idx]!r} "
                             f"(abs error {abs(got[idx] - expected[idx]):.2e}, allowed {atol + rtol * abs(expected[idx]):.2e}; "
                             f"rel error {rel_error(got, expected):.2e})")


def rounding_atol(expected, terms=1, growth=1.0, dtype=np.float32):
    """What ``dtype`` can promise for a result made of sums of ``terms`` products (see the module docstring)."""
    eps = float(np.finfo(dtype).eps)
    scale = float(np.max(np.abs(np.asarray(expected, np.float64)), initial=0.0))
    return HEADROOM * growth * eps * math.sqrt(max(terms, 1)) * scale


def assert_close_f32(got, expected, terms=1, growth=1.0, what="value"):
    """A float32 result against its reference (PyTorch's, another engine's, or a float64 one), within what
    float32 can promise for a sum of ``terms`` products: ``terms`` is the longest sum behind one element
    (C*kh*kw for a conv's output, N*OH*OW for its weight gradient, 1 for an element-wise op)."""
    assert_close(got, expected, rtol=0, atol=rounding_atol(expected, terms, growth), what=f"{what} ({terms} terms)")


def assert_close_to_rounding(got, expected, terms=1, growth=1.0, what="value"):
    """Same shape and dtype, and within what that dtype promises for a sum of ``terms`` (float32 or float64)."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert (got.shape, got.dtype) == (expected.shape, expected.dtype), \
        f"{what}: got {got.dtype}{got.shape}, expected {expected.dtype}{expected.shape}"
    atol = rounding_atol(expected, terms, growth, expected.dtype)
    assert_close(got, expected, 0, atol, f"{what} ({terms} terms)")


def windows_per_pixel(kernel, stride):
    """How many kh x kw windows at stride (sh, sw) can cover one pixel: the terms of col2im's and max-pool
    backward's sums."""
    (kh, kw), (sh, sw) = ((k, k) if isinstance(k, int) else tuple(k) for k in (kernel, stride))
    return -(-kh // sh) * -(-kw // sw)


def network_terms(net, input_shape, backward=True):
    """The sums of a forward (and, with ``backward``, a backward) pass through a flat nn.Sequential, added up:
    rounding along a chain of layers adds in quadrature, so the chain's sum lengths add. Per conv or linear
    layer: the forward's C*kh*kw; the backward's OC*kh*kw (input gradient) and N*OH*OW (weight gradient)."""
    from minialex import nn
    terms, shape = 0, tuple(input_shape)
    for layer in net.children():
        shape = layer.output_shape(shape)
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            w = layer.weight.shape
            terms += int(np.prod(w[1:]))
            if backward:
                terms += w[0] * int(np.prod(w[2:])) + int(np.prod(shape[:1] + shape[2:]))
    return terms


def conv_terms(w_shape, y_shape):
    """A conv2d's sum lengths: y sums C*kh*kw products, dx at most OC*kh*kw, dw and db N*OH*OW."""
    (oc, c, kh, kw), (n, _, oh, ow) = w_shape, y_shape
    return [c * kh * kw, oc * kh * kw, n * oh * ow, n * oh * ow]


def winograd_growth(r, m=None):
    """Winograd multiplies rounding by its transforms' entries: the largest entry of A^T, G, B^T of F(m, r)
    (8 for F(4, 3), 21 for F(4, 5)); m None: the largest over every tile an r x r kernel may run."""
    from minialex.ops import winograd
    tiles = winograd.TILES[r] if m is None else (m,)
    return max(float(np.abs(t).max()) for m in tiles for t in winograd.transforms(m, r))
