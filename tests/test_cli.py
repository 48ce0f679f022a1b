import subprocess
import sys

from minialex.cli import main


def test_summary_prints_true_shapes_and_d2l_parameter_count(capsys):
    assert main(["summary"]) == 0
    out = capsys.readouterr().out
    assert "(1, 96, 26, 26)" in out and "(1, 6400)" in out and "46,764,746" in out


def test_gradcheck_command_passes_every_check(capsys):
    assert main(["gradcheck", "--backend", "numpy", "--max-elements", "30"]) == 0
    out = capsys.readouterr().out
    assert "15 of 15 checks passed" in out and "conv2d 11x11 s4 p1" in out


def test_asking_for_cupy_without_it_is_one_clear_line():
    r = subprocess.run([sys.executable, "-m", "minialex.cli", "gradcheck", "--backend", "cupy"],
                       capture_output=True, text=True)
    if r.returncode == 0:  # a machine with a GPU and CuPy
        return
    assert r.returncode == 2 and "Traceback" not in r.stderr and "cupy" in r.stderr.lower()


def test_too_small_input_size_is_a_clear_error(capsys):
    assert main(["summary", "--input-size", "50"]) == 2
    assert "input_size must be at least 65" in capsys.readouterr().err
