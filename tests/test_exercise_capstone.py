"""The capstone: AlexNet trained on the reference solutions follows minialex's own curve; one broken op leaves it;
an op that fails its check stops the capstone before it starts."""

import pytest

from minialex.cli import main
from minialex.tools.exercises import capstone
from minialex.tools.exercises.files import solution

from test_exercises import mutant

TINY = capstone.Budget(epochs=1, train_images=64, test_images=32)  # two batches of 32


def folder(tmp_path, **replaced):
    for name in capstone.OPS:
        (tmp_path / f"{name}.py").write_text(replaced.get(name, solution(name)))
    return str(tmp_path)


def train(tmp_path, use=capstone.OPS, budget=TINY, **replaced):
    return capstone.run(use, folder(tmp_path, **replaced), budget, input_size=65, dataset="synthetic", check=False,
                        figure=str(tmp_path / "curve.png"), log=None)


def test_the_reference_solutions_train_to_minialex_s_own_numbers(tmp_path):
    results = train(tmp_path)
    ref, yours = results["reference"], results["yours"]
    assert len(ref["steps"]) == len(yours["steps"]) == 2
    d = results["divergence"]
    assert d["max_rel"] <= 1e-6 and d["max_grad_rel"] <= 1e-5 and d["first_step"] is None
    assert len(yours["grad_norms"]) == 2 and len(yours["grad_norms"][0]) == len(yours["names"]) == 16
    if results["engine"] == "numba":  # the solutions add in the order its kernels do: the same float32 numbers
        # (norms of differently laid-out arrays may differ in float64's last bits)
        assert d["max_rel"] == 0.0 and d["max_grad_rel"] <= 1e-12, d
    assert [e["test_acc"] for e in yours["epochs"]] == [e["test_acc"] for e in ref["epochs"]]
    assert (tmp_path / "curve.png").stat().st_size > 0
    assert "your curve follows minialex's" in capstone.summary(results)


def test_one_wrong_backward_leaves_the_curve_within_a_few_steps(tmp_path):
    # conv2d's dx assigned where overlapping windows add up: the layers before each conv get wrong gradients
    results = train(tmp_path, use=("conv2d",), budget=capstone.Budget(1, 128, 32),
                    conv2d=mutant("conv2d", "] += dcol", "] = dcol"))
    d, ref, yours = results["divergence"], results["reference"]["steps"], results["yours"]["steps"]
    assert ref[0] == yours[0]  # the forward is right: the loss moves only after the first (wrong) update
    assert d["first_step"] == 1 and d["gradient"].endswith(".weight"), d
    assert "your curve leaves minialex's at step 1 (the gradient norm of" in capstone.summary(results)


def test_refuses_to_start_while_an_op_fails_its_check(tmp_path):
    directory = folder(tmp_path, relu=mutant("relu", "return dout * (out > 0)", "return dout"))
    with pytest.raises(capstone.CapstoneError, match=r"relu does not pass its check yet: \[3/5\] gradient check"):
        capstone.run(("linear", "relu"), directory, TINY, dataset="synthetic", log=None)


def test_flags_are_checked_in_one_line(tmp_path, capsys):
    assert main(["exercise", "capstone", "--use", "relu,softmax", "--dir", str(tmp_path)]) == 2
    assert "--use: unknown op softmax" in capsys.readouterr().err
    assert main(["exercise", "capstone", "--budget", "3 epochs", "--dir", str(tmp_path)]) == 2
    assert "--budget: expected EPOCHSxIMAGES such as 3x2000" in capsys.readouterr().err
    assert main(["exercise", "capstone", "--use", "relu", "--dir", str(tmp_path)]) == 2
    assert "no file" in capsys.readouterr().err
    assert capstone.parse_use("relu,conv2d") == ("conv2d", "relu")


def test_a_late_drift_with_equal_first_steps_is_called_rounding_not_a_bug():
    ref = {"steps": [2.3] * 30, "grad_norms": [[1.0, 2.0]] * 30, "names": ["0.weight", "0.bias"]}
    drift = {"steps": [2.3] * 30, "grad_norms": [[1.0, 2.0 * (1 + 1e-8 * 4 ** i)] for i in range(30)]}
    d = capstone.divergence(ref, drift)
    assert d["first_step"] == 11 and d["gradient"] == "0.bias" and d["early"] < 1e-6
    results = {"divergence": d, "reference": {**ref, "epochs": [], "seconds": 1.0},
               "yours": {**drift, "epochs": [], "seconds": 1.0}}
    assert "drifts from minialex's from step 11" in capstone.summary(results)
    wrong = {"steps": [2.3] * 30, "grad_norms": [[0.5, 2.0]] * 30}
    assert capstone.divergence(ref, wrong)["first_step"] == 1
