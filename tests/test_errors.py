"""Errors that tell bad input from a bug: the hierarchy (minialex.errors), and how the minialex command prints them."""

import numpy as np
import pytest

import minialex.nn.functional as F
from minialex import Tensor, errors, models, nn
from minialex.cli import main


def test_the_library_errors_are_the_builtin_errors_pytorch_users_catch():
    assert issubclass(errors.ShapeError, ValueError) and issubclass(errors.ConfigError, ValueError)
    assert issubclass(errors.DataError, ValueError) and issubclass(errors.CheckpointError, ValueError)
    assert issubclass(errors.InputTypeError, TypeError)
    for cls in (errors.InputError, errors.ShapeError, errors.InputTypeError):
        assert issubclass(cls, errors.MinialexError)
    from minialex.backend import BackendUnavailable
    from minialex.data import DataError
    from minialex.training import TrainingError
    from minialex.training.checkpoint import CheckpointError
    assert DataError is errors.DataError and CheckpointError is errors.CheckpointError
    assert issubclass(BackendUnavailable, errors.MinialexError) and issubclass(TrainingError, errors.MinialexError)


@pytest.mark.parametrize("call, cls", [
    (lambda: F.conv2d(Tensor(np.zeros((3, 8, 8), np.float32)), Tensor(np.zeros((4, 3, 3, 3), np.float32))),
     errors.ShapeError),
    (lambda: models.build("resnet"), errors.ConfigError),
    (lambda: nn.Sequential(nn.ReLU(), [1]), errors.InputTypeError),
    (lambda: nn.Sequential(nn.Linear(4, 2))(Tensor(np.zeros((1, 5), np.float32))), errors.ShapeError),
])
def test_bad_input_raises_the_error_that_names_its_kind(call, cls):
    with pytest.raises(cls):
        call()


def test_a_layer_names_itself_in_bad_input_errors_but_leaves_a_bugs_error_alone():
    class Buggy(nn.Module):
        def forward(self, x):
            raise ValueError("an internal bug")

    with pytest.raises(errors.ShapeError, match=r"layer \(0\) Linear"):
        nn.Sequential(nn.Linear(4, 2))(Tensor(np.zeros((1, 5), np.float32)))
    with pytest.raises(ValueError, match="^an internal bug$") as e:
        nn.Sequential(Buggy())(Tensor(np.zeros(1, np.float32)))
    assert not isinstance(e.value, errors.MinialexError)
    assert any(frame.name == "forward" for frame in e.traceback)  # the traceback reaches the bug


def test_the_command_prints_bad_input_as_one_line(capsys):
    assert main(["summary", "--input-size", "50"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("minialex summary: ") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_debug_shows_the_traceback_of_a_one_line_error(capsys, monkeypatch, how):
    argv = ["summary", "--input-size", "50"]
    if how == "flag":
        argv = ["--debug", *argv]
    else:
        monkeypatch.setenv("MINIALEX_DEBUG", "1")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "ConfigError" in err
    assert err.rstrip().splitlines()[-1].startswith("minialex summary: ")


def test_an_internal_bug_is_not_mistaken_for_bad_input(monkeypatch):
    """A plain ValueError from inside the library is a bug: main lets it through, so Python shows its traceback."""
    def broken(*args, **kwargs):
        raise ValueError("an internal bug")
    monkeypatch.setattr(models, "alexnet", broken)
    with pytest.raises(ValueError, match="an internal bug") as e:
        main(["summary"])
    assert not isinstance(e.value, errors.MinialexError)
