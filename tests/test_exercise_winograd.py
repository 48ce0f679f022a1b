"""The Winograd exercises: reference solutions pass; a wrong transform entry, a scatter without +=, a direct
convolution in disguise and a float64 detour are each caught and named."""

import numpy as np
import pytest

from minialex.ops.winograd import transforms
from minialex.tools.exercises.counting import count_multiplies
from minialex.tools.exercises.winograd_check import bilinear, target

from test_exercises import check_source, mutant, result, text

DIRECT_1D = '''
def winograd_conv1d_forward(d, g):
    """not Winograd at all"""
    y = np.array([np.sum(d[i:i + 3] * g) for i in range(d.shape[0] - 2)])
    return y, (d, g)
'''


def replace_function(name, function, source):
    start = source.index(f"def {function}(")
    end = source.find("\ndef ", start + 1)
    return source[:start] + source_of(DIRECT_1D) + ("" if end < 0 else "\n" + source[end:])


def source_of(text_):
    return text_.strip() + "\n"


@pytest.mark.parametrize("name", ["winograd1d", "winograd2d"])
def test_reference_solution_passes_with_fewer_multiplies(tmp_path, name):
    from minialex.tools.exercises.files import solution
    report = check_source(tmp_path, name, solution(name))
    assert report.ok, str(report)
    mult = result(report, "multiplies")
    assert ("yours 2 per output, direct 3" if name == "winograd1d" else
            "yours 4 per output and input channel, im2col 9") in mult.summary


def test_minialex_transforms_satisfy_the_identity_the_checker_uses():
    at, g, bt = transforms(2, 3)
    assert np.array_equal(bilinear(bt, g, at), target())


@pytest.mark.parametrize("name", ["winograd1d", "winograd2d"])
def test_one_wrong_sign_in_a_transform_is_named(tmp_path, name):
    old = "[0, -1, 0, 1]], dtype"
    report = check_source(tmp_path, name, mutant(name, old, old.replace("-1", "1")))
    transforms_check = report.checks[0]
    assert transforms_check.status == "FAIL"
    assert "yours gives y1 = d1 g0 + 2 d1 g2 + d2 g1 + d3 g2" in text(transforms_check)
    assert "hint: BT[3, 1] has the wrong sign" in text(transforms_check)
    assert all(c.status == "SKIP" for c in report.checks[1:])


def test_a_wrong_value_in_g_is_named_with_the_right_one(tmp_path):
    report = check_source(tmp_path, "winograd1d", mutant("winograd1d", "[0.5, -0.5, 0.5],", "[0.5, -0.25, 0.5],"))
    assert "hint: G[2, 1] should be -0.5: with -0.5 there instead of -0.25" in text(report.checks[0])


def test_b_instead_of_b_transposed_is_named(tmp_path):
    report = check_source(tmp_path, "winograd1d", mutant("winograd1d", "    return bt, g, at", "    return bt.T, g, at"))
    assert "you returned B, not B^T" in text(report.checks[0])


def test_tile_gradients_assigned_instead_of_added(tmp_path):
    report = check_source(tmp_path, "winograd2d", mutant("winograd2d", "] += dd[..., p, q]", "] = dd[..., p, q]"))
    backward = result(report, "backward")
    assert backward.status == "FAIL" and result(report, "forward").status == "PASS"
    assert "dx: worst element" in text(backward) and "dw:" not in text(backward)
    assert "tiles overlap; scatter dD back with +=" in text(backward)


def test_1d_tile_gradients_assigned_instead_of_added(tmp_path):
    source = mutant("winograd1d", "    np.add.at(dd, index, (dm * u) @ bt)",
                    "    dd[index] = (dm * u) @ bt")
    backward = result(check_source(tmp_path, "winograd1d", source), "backward")
    assert "dg is right and dd is not: tiles overlap by two inputs" in text(backward)


def test_direct_convolution_in_disguise_fails_the_multiply_count(tmp_path):
    from minialex.tools.exercises.files import solution
    source = replace_function("winograd1d", "winograd_conv1d_forward", solution("winograd1d"))
    report = check_source(tmp_path, "winograd1d", source)
    mult = result(report, "multiplies")
    assert result(report, "forward").status == "PASS" and mult.status == "FAIL"
    assert "48 multiplies for 16 outputs; Winograd needs 32 (the direct method needs 48)" in text(mult)


def test_an_uncountable_product_is_said_so(tmp_path):
    source = mutant("winograd1d", "    m = u * v ", "    m = np.einsum('a,ta->ta', u, v) * 1 + 0 * np.correlate(v[0], u) ")
    mult = result(check_source(tmp_path, "winograd1d", source), "multiplies")
    assert mult.status == "FAIL" and "np.correlate" in text(mult)


def test_a_float64_detour_makes_the_float32_error_meaningless(tmp_path):
    source = mutant("winograd2d", "(m.astype(x.dtype) for m in f23_transforms())", "f23_transforms()")
    f32 = result(check_source(tmp_path, "winograd2d", source), "float32")
    assert f32.status == "FAIL" and "float32 inputs gave a float64 result" in text(f32)


def test_the_counter_counts_each_way_of_writing_a_product():
    d, g = np.arange(6.0), np.array([1.0, 2.0, 3.0])
    assert count_multiplies(lambda d, g: d[:3] * g, d, g)[1].multiplies == 3
    assert count_multiplies(lambda d, g: d[:3] @ g, d, g)[1].multiplies == 3
    assert count_multiplies(lambda d, g: np.outer(d, g), d, g)[1].multiplies == 18
    assert count_multiplies(lambda d, g: np.einsum("i,j->ij", d, g), d, g)[1].multiplies == 18
    assert count_multiplies(lambda d, g: (2 * d[:3]) * (g + 1) + 3 * d[:3], d, g)[1].multiplies == 3
    assert count_multiplies(lambda d, g: sum(d[i] * g[0] for i in range(4)), d, g)[1].multiplies == 4
    (y, tally) = count_multiplies(lambda d, g: d * 2.0, d, g)
    assert tally.multiplies == 0 and isinstance(y, np.ndarray) and type(y) is np.ndarray
