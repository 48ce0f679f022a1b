import subprocess
import sys

import pytest

from minialex.cli import build_parser, main


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
