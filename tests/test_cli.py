import subprocess
import sys

import pytest

from minialex import nn

from minialex.cli import build_parser, main


def test_summary_prints_true_shapes_and_d2l_parameter_count(capsys):
    assert main(["summary"]) == 0
    out = capsys.readouterr().out
    assert "(1, 96, 26, 26)" in out and "(1, 6400)" in out and "46,764,746" in out


def test_gradcheck_command_passes_every_check(capsys):
    assert main(["gradcheck", "--backend", "numpy", "--max-elements", "30"]) == 0
    out = capsys.readouterr().out
    assert "26 of 26 checks passed" in out and "conv2d 11x11 s4 p1" in out and "avg_pool2d" in out
    assert "winograd 5x5 p2" in out and "small AlexNet, im2col" in out and "small AlexNet, winograd" in out


def test_asking_for_cupy_without_it_is_one_clear_line():
    r = subprocess.run([sys.executable, "-m", "minialex.cli", "gradcheck", "--backend", "cupy"],
                       capture_output=True, text=True)
    if r.returncode == 0:  # a machine with a GPU and CuPy
        return
    assert r.returncode == 2 and "Traceback" not in r.stderr and "cupy" in r.stderr.lower()


def test_too_small_input_size_is_a_clear_error(capsys):
    assert main(["summary", "--input-size", "50"]) == 2
    assert "input_size must be at least 65" in capsys.readouterr().err
    assert main(["summary", "--resize", "50"]) == 2


def test_version_prints_the_package_version(capsys):
    import minialex
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"minialex {minialex.__version__}"


@pytest.mark.parametrize("command", ["summary", "train", "trace", "bench"])
def test_every_command_that_sets_an_input_size_takes_both_spellings(command):
    parser = build_parser()
    by_size, by_resize = (parser.parse_args([command, flag, "96"]) for flag in ("--input-size", "--resize"))
    assert by_size.input_size == by_resize.input_size in (96, [96])


@pytest.mark.parametrize("command", ["summary", "train", "evaluate CKPT", "trace", "bench"])
def test_every_command_that_takes_a_batch_size_takes_both_spellings(command):
    parser = build_parser()
    by_size, by_batch = (parser.parse_args([*command.split(), flag, "4"]) for flag in ("--batch-size", "--batch"))
    assert by_size.batch_size == by_batch.batch_size == 4


@pytest.mark.parametrize("command", ["train", "trace", "bench", "gradcheck"])
def test_every_command_that_convolves_takes_the_conv_algorithm_flag_with_the_three_choices(command, capsys):
    parser = build_parser()
    for name in ("auto", "im2col", "winograd"):
        assert parser.parse_args([command, "--conv-algorithm", name]).conv_algorithm == name
    assert parser.parse_args([command]).conv_algorithm is None  # not given: the process default stands
    with pytest.raises(SystemExit):
        parser.parse_args([command, "--conv-algorithm", "fft"])
    assert "invalid choice: 'fft'" in capsys.readouterr().err


def test_the_flag_is_the_default_while_the_command_runs_and_not_after(monkeypatch):
    import minialex
    from minialex.cli import trace
    seen, before = [], minialex.get_conv_algorithm()
    monkeypatch.setattr(trace, "run", lambda args: seen.append(minialex.get_conv_algorithm()) or 0)
    assert main(["trace", "--conv-algorithm", "winograd"]) == 0 and seen == ["winograd"]
    assert minialex.get_conv_algorithm() == before


def test_summary_says_which_algorithm_each_conv_runs_under_the_process_default(capsys, monkeypatch):
    assert main(["summary", "--input-size", "96"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "algorithm" in lines[0]
    by_layer = {line.split()[0]: line.split()[-1] for line in lines[3:24]}
    assert by_layer["0"] == "im2col" and all(by_layer[i] == "winograd" for i in ("3", "6", "8", "10"))
    assert by_layer["1"] == "46,464"  # ReLU: no algorithm, the line ends with its FLOPs
    monkeypatch.setenv("MINIALEX_CONV_ALGORITHM", "im2col")
    assert main(["summary", "--input-size", "96"]) == 0
    assert "winograd" not in capsys.readouterr().out


def test_winograd_as_the_default_runs_wherever_it_can_and_im2col_elsewhere(capsys, monkeypatch):
    monkeypatch.setenv("MINIALEX_CONV_ALGORITHM", "winograd")
    assert main(["summary"]) == 0
    rows = {line.split()[0]: line.split()[-1] for line in capsys.readouterr().out.splitlines() if "Conv2d" in line}
    assert rows == {"0": "im2col", "3": "winograd", "6": "winograd", "8": "winograd", "10": "winograd"}


def test_a_layer_that_names_winograd_and_cannot_run_it_names_itself_and_the_rule():
    with pytest.raises(ValueError, match=r"Conv2d\(1, 96, kernel_size=\(11, 11\), stride=\(4, 4\).*"
                                         "kernel must be square with size in \\[3, 5\\], got 11x11"):
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1, algorithm="winograd")


def test_an_unknown_algorithm_in_the_environment_is_one_clear_line(capsys, monkeypatch):
    monkeypatch.setenv("MINIALEX_CONV_ALGORITHM", "fft")
    assert main(["summary"]) == 2
    assert "MINIALEX_CONV_ALGORITHM: unknown convolution algorithm 'fft'; expected one of auto, im2col, winograd" \
        in capsys.readouterr().err


def test_trace_with_the_flag_runs_and_reports_that_algorithm(capsys):
    assert main(["trace", "--input-size", "65", "--batch", "2", "--warmup", "0", "--backend", "numpy",
                 "--conv-algorithm", "im2col"]) == 0
    out = capsys.readouterr().out
    assert "conv algorithm im2col" in out and " winograd " not in out and "conv buffer" in out


def test_gradcheck_with_one_algorithm_checks_only_its_conv_cases(capsys):
    assert main(["gradcheck", "--backend", "numpy", "--max-elements", "5", "--conv-algorithm", "winograd"]) == 0
    out = capsys.readouterr().out
    assert "small AlexNet, winograd" in out and "winograd 3x3 p0" in out
    assert "small AlexNet, im2col" not in out and "conv2d 11x11" not in out and "21 of 21 checks passed" in out
