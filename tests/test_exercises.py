"""The exercise checker: it passes the reference solutions and names the mistake in deliberately broken ones.

Most broken versions are the reference solution with one line changed (``mutant``), so each test states its bug
as a one-line diff; the rest are written out in full.
"""

import ast

import numpy as np
import pytest

from minialex.cli import main
from minialex.errors import InputError
from minialex.tools.exercises import NAMES
from minialex.tools.exercises.catalog import EXERCISES
from minialex.tools.exercises.checker import check, compare, value_hints
from minialex.tools.exercises.files import exercise_path, skeleton, solution, write
from minialex.tools.exercises.ladder import CHECKERS, check_exercise, functions_of


def check_source(tmp_path, name, source):
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    return check_exercise(name, str(path))


def mutant(name, old, new):
    """The reference solution of ``name`` with ``old`` replaced by ``new`` (which must occur in it)."""
    source = solution(name)
    assert old in source, f"the solution of {name} no longer contains {old!r}: update this test"
    return source.replace(old, new)


def result(report, title_start):
    [found] = [c for c in report.checks if c.title.startswith(title_start)]
    return found


def text(check_result):
    return "\n".join(check_result.details)


# --- the good cases ------------------------------------------------------------------------------------------

def test_every_exercise_has_a_solution_and_a_checker():
    assert set(NAMES) == set(EXERCISES) | set(CHECKERS)
    assert not set(EXERCISES) & set(CHECKERS)
    for name in NAMES:
        assert solution(name)


@pytest.mark.parametrize("name", NAMES)
def test_reference_solution_passes_every_check(tmp_path, name):
    report = check_source(tmp_path, name, solution(name))
    assert report.ok, str(report)
    assert [c.status for c in report.checks][:2] == ["PASS", "PASS"]


@pytest.mark.parametrize("name", NAMES)
def test_skeleton_keeps_signatures_and_docstrings_but_no_bodies(tmp_path, name):
    source = skeleton(name)
    functions = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    assert [f.name for f in functions] == list(functions_of(name))
    for f in functions:
        assert ast.get_docstring(f)
        assert isinstance(f.body[1], ast.Raise) and len(f.body) == 2
    report = check_source(tmp_path, name, source)
    assert not report.ok
    assert "is not written yet" in text(report.checks[0])
    assert all(c.status == "SKIP" for c in report.checks[1:])


def test_cli_start_check_and_solution(tmp_path, capsys):
    d = str(tmp_path / "mine")
    assert main(["exercise", "start", "relu", "--dir", d]) == 0
    assert main(["exercise", "check", "relu", "--dir", d]) == 1
    assert "relu_forward is not written yet" in capsys.readouterr().out
    assert main(["exercise", "start", "relu", "--dir", d]) == 2  # never overwrites your work silently
    assert "already exists" in capsys.readouterr().err
    assert main(["exercise", "start", "relu", "--dir", d, "--solution", "--force"]) == 0
    assert main(["exercise", "check", "relu", "--dir", d]) == 0
    assert "relu: all 5 checks passed" in capsys.readouterr().out
    assert (tmp_path / "mine" / "relu.py.bak").read_text() == skeleton("relu")


def test_cli_unknown_exercise_suggests_a_name(capsys):
    assert main(["exercise", "start", "conv"]) == 2
    assert "Did you mean conv2d?" in capsys.readouterr().err


def test_write_refuses_to_overwrite_without_force(tmp_path):
    path = write("linear", str(tmp_path))
    assert path == exercise_path("linear", str(tmp_path))
    with pytest.raises(InputError, match="already exists"):
        write("linear", str(tmp_path), with_solution=True)


# --- broken implementations and what the checker says about them -----------------------------------------------

def test_wrong_sign_in_a_gradient(tmp_path):
    report = check_source(tmp_path, "linear", mutant("linear", "dout.T @ x", "-(dout.T @ x)"))
    grad = result(report, "gradient check")
    assert grad.status == "FAIL"
    assert "dw on" in text(grad) and "dw has the wrong sign" in text(grad)
    assert "dx" not in text(grad)  # only dw is reported
    assert result(report, "forward").status == "PASS"


def test_missing_padding_is_a_shape_error_on_the_padded_configs(tmp_path):
    source = mutant("conv2d", "x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))",
                    "x_pad = x")
    source = source.replace("oh = (h + 2 * padding - kh)", "oh = (h - kh)").replace(
        "ow = (wd + 2 * padding - kw)", "ow = (wd - kw)")
    shapes = result(check_source(tmp_path, "conv2d", source), "shapes")
    assert shapes.status == "FAIL" and shapes.summary == "3 of 8 configs wrong"
    assert "out has shape (2, 4, 3, 4), expected (2, 4, 5, 6)" in text(shapes)
    assert "rule: x (N, C, H, W)" in text(shapes)
    assert "it fails only where padding > 0" in text(shapes)


def test_off_by_one_output_size(tmp_path):
    source = mutant("conv2d", "oh = (h + 2 * padding - kh) // stride + 1", "oh = (h + 2 * padding - kh) // stride")
    report = check_source(tmp_path, "conv2d", source)
    shapes = result(report, "shapes")
    assert shapes.status == "FAIL" and shapes.summary == "8 of 8 configs wrong"
    assert "out has shape (1, 2, 1, 2), expected (1, 2, 2, 2)" in text(shapes)
    assert "oh = (H + 2*padding - kh) // stride + 1" in text(shapes)
    assert [c.status for c in report.checks[1:]] == ["SKIP"] * 4


def test_max_pool_gradient_assigned_instead_of_added_over_overlapping_windows(tmp_path):
    source = mutant("max_pool2d", "] += np.where(winner", "] = np.where(winner")
    report = check_source(tmp_path, "max_pool2d", source)
    assert result(report, "forward").status == "PASS"
    grad = result(report, "gradient check")
    assert grad.status == "FAIL"
    assert "window, stride 1, one maximum shared by 4 windows" in text(grad)
    assert "hint (dx): it fails only where windows overlap" in text(grad)
    assert result(report, "same as").status == "FAIL"


def test_conv_col2im_assigned_instead_of_added(tmp_path):
    report = check_source(tmp_path, "conv2d", mutant("conv2d", "] += dcol", "] = dcol"))
    grad = result(report, "gradient check")
    assert grad.status == "FAIL" and "dx on" in text(grad)
    assert "hint (dx): it fails only where windows overlap" in text(grad)
    assert "dw on" not in text(grad) and "db on" not in text(grad)


def test_bias_gradient_not_summed_over_the_batch(tmp_path):
    report = check_source(tmp_path, "conv2d", mutant("conv2d", "db = g.sum(axis=1)", "db = dout[0].sum(axis=(1, 2))"))
    grad = result(report, "gradient check")
    assert grad.status == "FAIL" and "db on" in text(grad)
    assert "hint (db): it fails only for batches of more than one example" in text(grad)


def test_gradient_off_by_the_batch_size(tmp_path):
    report = check_source(tmp_path, "cross_entropy", mutant("cross_entropy", "dlogits * (dloss / n)", "dlogits * dloss"))
    grad = result(report, "gradient check")
    assert "dlogits is 4 times the expected value, the batch size N: is there a sum where the formula divides by N?" \
        in text(grad)


def test_gradient_averaged_where_it_should_be_summed(tmp_path):
    report = check_source(tmp_path, "linear", mutant("linear", "dout.sum(axis=0)", "dout.mean(axis=0)"))
    assert "db is 1/4 of the expected value, 1/N for the batch size N = 4: is there a mean" \
        in text(result(report, "gradient"))


def test_gradient_never_computed(tmp_path):
    report = check_source(tmp_path, "relu", mutant("relu", "return dout * (out > 0)", "return np.zeros_like(dout)"))
    assert "dx is zero everywhere: did you compute the gradient and return it" in text(result(report, "gradient"))


@pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")
def test_softmax_without_the_max_shift_overflows(tmp_path):
    source = mutant("cross_entropy", "shifted = logits - logits.max(axis=1, keepdims=True)", "shifted = logits")
    forward = result(check_source(tmp_path, "cross_entropy", source), "forward")
    assert forward.status == "FAIL" and "scores around 1000" in text(forward)
    assert "exp() of a large score overflows" in text(forward)


def test_flipped_kernel_is_named(tmp_path):
    source = mutant("conv2d", "out = w.reshape(f, -1) @ col", "out = w[:, :, ::-1, ::-1].reshape(f, -1) @ col")
    forward = result(check_source(tmp_path, "conv2d", source), "forward")
    assert forward.status == "FAIL" and "this is a true convolution (kernel flipped)" in text(forward)


def test_cs231n_momentum_convention_is_named(tmp_path):
    source = '''
def sgd_step(w, dw, v, lr, momentum=0.0, weight_decay=0.0):
    v = momentum * v - lr * (dw + weight_decay * w)
    return w + v, v
'''
    forward = result(check_source(tmp_path, "sgd_step", source), "forward")
    assert forward.status == "FAIL" and "CS231n's convention" in text(forward)


def test_changing_the_input_in_place_is_reported(tmp_path):
    source = '''
def relu_forward(x):
    x[x < 0] = 0
    return x, x

def relu_backward(dout, cache):
    return dout * (cache > 0)
'''
    shapes = result(check_source(tmp_path, "relu", source), "shapes")
    assert "relu_forward changed its input x in place" in text(shapes)
    shapes = result(check_source(tmp_path, "relu", mutant("relu", "return dout * (out > 0)",
                                                          "dout[out <= 0] = 0\n    return dout")), "shapes")
    assert "relu_backward changed its input dout in place" in text(shapes)


def test_errors_in_the_learners_code_point_at_the_line(tmp_path):
    source = 'import numpy as np\n\ndef relu_forward(x):\n    return np.maximum(x, 0)\n\ndef relu_backward(dout, cache):\n    return dout\n'
    report = check_source(tmp_path, "relu", source)
    assert "relu_forward must return (out, cache); it returned an array of shape (7,)" in text(report.checks[0])
    broken = source.replace("return np.maximum(x, 0)", "return np.maxmum(x, 0), x")
    report = check_source(tmp_path, "relu", broken)
    assert "AttributeError" in text(report.checks[0]) and "at line 4 of relu.py" in text(report.checks[0])
    report = check_source(tmp_path, "relu", "def relu_forward(x:\n")
    assert report.checks[0].title.startswith("load") and "does not parse" in text(report.checks[0])


def test_compare_reports_the_worst_element():
    expected = np.arange(6.0).reshape(2, 3)
    got = expected.copy()
    got[1, 2] += 0.5
    c = compare("out", got, expected, atol=1e-8, rtol=1e-6)
    assert not c.ok and c.index == (1, 2) and c.expected == 5.0 and c.got == 5.5
    assert c.max_rel_error == pytest.approx(0.5 / 5.5)
    assert compare("out", expected, expected, atol=1e-8, rtol=1e-6).ok
    assert value_hints("dw", -expected, expected, batch=2) == ["dw has the wrong sign."]


# --- the rest of the catalogue: each deliberately broken op is caught and named ------------------------------

def test_missing_inverted_dropout_scale(tmp_path):
    forward = result(check_source(tmp_path, "dropout", mutant("dropout", "mask = (u >= p) / (1 - p)",
                                                              "mask = (u >= p) * 1.0")), "forward")
    assert forward.status == "FAIL"
    assert "out is (1 - p) = 0.7 times the expected value: inverted dropout scales the kept units by 1 / (1 - p)" \
        in text(forward)


def test_transposed_weight_gradient(tmp_path):
    shapes = result(check_source(tmp_path, "linear", mutant("linear", "dout.T @ x", "x.T @ dout")), "shapes")
    assert "dw has shape (4, 3), expected (3, 4) (the shape of w); it is transposed" in text(shapes)


def test_direct_convolution_col2im_by_loops_assigned_instead_of_added(tmp_path):
    source = mutant("conv2d_direct", "dx_pad[i_n, :, rows, cols] += ", "dx_pad[i_n, :, rows, cols] = ")
    grad = result(check_source(tmp_path, "conv2d_direct", source), "gradient check")
    assert grad.status == "FAIL" and "hint (dx): it fails only with more than one filter" in text(grad)
    assert "windows overlap" not in text(grad) and "dw on" not in text(grad)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_sigmoid_from_exp_x_overflows(tmp_path):
    source = mutant("sigmoid", "    e = np.exp(-np.abs(x))\n    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))",
                    "    out = np.exp(x) / (1 + np.exp(x))")
    forward = result(check_source(tmp_path, "sigmoid", source), "forward")
    assert forward.status == "FAIL" and 'on "scores around +-1000"' in text(forward)
    assert "exp() overflowed (exp(1000) is inf, and inf / inf is NaN)" in text(forward)
    assert "hint (out): it fails only for |x| around 1000" in text(forward)


def test_sigmoid_gradient_written_with_x_instead_of_out(tmp_path):
    source = mutant("sigmoid", "return dout * out * (1 - out)", "return dout * out")
    assert result(check_source(tmp_path, "sigmoid", source), "gradient check").status == "FAIL"


def test_avg_pool_padding_counted_when_it_should_not_be(tmp_path):
    source = mutant("avg_pool2d", "        if count_include_pad:\n            return end - start",
                    "        if True:\n            return end - start")
    forward = result(check_source(tmp_path, "avg_pool2d", source), "forward")
    assert forward.status == "FAIL" and "the padding not counted" in text(forward)
    assert "this is count_include_pad=True's answer: do not count the padding in the divisor" in text(forward)
    assert "hint (out): it fails only with count_include_pad=False" in text(forward)


def test_avg_pool_divided_by_k_squared_everywhere(tmp_path):
    source = mutant("avg_pool2d", "return total / d, ", "return total / (k * k), ")
    forward = result(check_source(tmp_path, "avg_pool2d", source), "forward")
    assert "every window is divided by k*k" in text(forward)


def test_avg_pool_without_ceil_mode_is_a_shape_error_on_those_configs(tmp_path):
    source = mutant("avg_pool2d", "out = (-(-span // s) if ceil_mode else span // s) + 1", "out = span // s + 1")
    shapes = result(check_source(tmp_path, "avg_pool2d", source), "shapes")
    assert shapes.summary == "2 of 7 configs wrong" and "it fails only with ceil_mode=True" in text(shapes)


def test_avg_pool_gradient_assigned_over_overlapping_windows(tmp_path):
    source = mutant("avg_pool2d", "] += g", "] = g")
    grad = result(check_source(tmp_path, "avg_pool2d", source), "gradient check")
    assert grad.status == "FAIL" and "hint (dx): it fails only where windows overlap" in text(grad)


def test_off_by_one_padding_in_the_dx_crop(tmp_path):
    # the crop ends at h instead of padding + h: with padding 1, dx is one row and one column short
    source = mutant("conv2d", "dx = dx_pad[:, :, padding:padding + h, padding:padding + wd]",
                    "dx = dx_pad[:, :, padding:h, padding:wd]")
    report = check_source(tmp_path, "conv2d", source)
    shapes = result(report, "shapes")
    assert shapes.status == "FAIL" and shapes.summary == "3 of 8 configs wrong"
    assert "dx has shape (2, 3, 4, 5), expected (2, 3, 5, 6) (the shape of x)" in text(shapes)
    assert "it fails only where padding > 0" in text(shapes)


def test_list_shows_in_ladder_order_which_exercises_pass(tmp_path, capsys):
    d = str(tmp_path)
    for name, how in (("relu", "--solution"), ("linear", None), ("sigmoid", "--solution"), ("conv2d", None)):
        assert main(["exercise", "start", name, "--dir", d] + ([how] if how else [])) == 0
    assert main(["exercise", "check", "relu", "--dir", d]) == 0
    assert main(["exercise", "check", "linear", "--dir", d]) == 1
    assert main(["exercise", "check", "sigmoid", "--dir", d]) == 0
    with open(exercise_path("sigmoid", d), "a") as f:
        f.write("\n# edited after its check\n")
    capsys.readouterr()
    assert main(["exercise", "list", "--dir", d]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()[1:len(NAMES) + 1]]
    assert [r[1] for r in rows] == list(NAMES) and [r[0] for r in rows] == [str(i) for i in range(1, len(NAMES) + 1)]
    state = {r[1]: r[2] for r in rows}
    assert (state["relu"], state["linear"], state["sigmoid"], state["conv2d"], state["autograd"]) == \
        ("passes", "fails", "changed", "unchecked", "-")
    assert f"1 of {len(NAMES)} pass." in out
