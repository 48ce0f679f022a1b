"""Property-based checks: random configurations beyond the listed ones, shrunk to a one-line reproduction."""

import numpy as np
import pytest

from minialex.cli import main
from minialex.errors import ConfigError
from minialex.tools.exercises.files import solution
from minialex.tools.exercises.properties import SPACES, Space, parse_case, search, shrink

from test_exercises import check_source, mutant, result, text

# A conv2d that is right for batches of up to three images -- every listed configuration -- and wrong beyond.
BATCH_OF_FOUR = ("    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))\n",
                 "    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))\n"
                 "    x_pad[3:] *= 0.5\n")


def test_a_bug_the_listed_configurations_miss_is_found_and_shrunk(tmp_path):
    report = check_source(tmp_path, "conv2d", mutant("conv2d", *BATCH_OF_FOUR))
    assert [c.status for c in report.checks] == ["PASS", "PASS", "PASS", "PASS", "FAIL"]
    random = result(report, "30 random configurations")
    line = text(random).splitlines()[0]
    assert line.startswith("n=4 c=1 h=1 w=1 f=1 k=1 stride=1 padding=0 values="), line  # the smallest failing
    assert "out: worst element [3, 0, 0, 0]" in text(random)
    assert f'reproduce it: minialex exercise check conv2d --case "{line}"' in text(random)


def test_the_reproduction_line_reruns_that_case(tmp_path, capsys):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "conv2d.py").write_text(mutant("conv2d", *BATCH_OF_FOUR))
    case = "n=4 c=1 h=1 w=1 f=1 k=1 stride=1 padding=0 values=7"
    assert main(["exercise", "check", "conv2d", "--dir", str(d), "--case", case]) == 1
    assert "out: worst element [3, 0, 0, 0]" in capsys.readouterr().out
    assert main(["exercise", "check", "conv2d", "--dir", str(d), "--case", case.replace("n=4", "n=3")]) == 0
    assert main(["exercise", "check", "conv2d", "--dir", str(d), "--case", "n=4 c=1"]) == 2
    assert "--case: expected the keys n c h w f k stride padding values" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(SPACES))
def test_every_draw_of_the_reference_solution_passes(tmp_path, name):
    report = check_source(tmp_path, name, solution(name))
    assert result(report, "30 random configurations").status == "PASS", str(report)


def test_shrinking_lowers_each_parameter_to_the_smallest_that_fails():
    space = Space({"n": (1, 9), "k": (1, 9), "other": (0, 9)}, lambda p, rng: (p,))
    fails = lambda args: "wrong" if args[0]["n"] >= 3 and args[0]["k"] >= 2 else None  # noqa: E731
    assert shrink(fails, space, {"n": 8, "k": 7, "other": 5, "values": 1}) == \
        {"n": 3, "k": 2, "other": 0, "values": 1}
    tried, found = search(fails, space, draws=50, seed=3)
    assert found[0] == {"n": 3, "k": 2, "other": 0, "values": found[0]["values"]} and found[1] == "wrong"
    assert search(lambda args: None, space, draws=20, seed=3) == (20, None)


def test_draws_come_from_a_fresh_seed_at_each_check():
    space = SPACES["conv2d"]
    seen = []
    for _ in range(2):
        search(lambda args: seen.append(args[0].shape) or None, space, draws=5)
    assert seen[:5] != seen[5:]


def test_a_malformed_case_is_one_line():
    with pytest.raises(ConfigError, match="expected key=int items, got 'n:4'"):
        parse_case(SPACES["relu"], "n:4 c=1 values=1")
    assert parse_case(SPACES["relu"], "n=2 c=3 values=9") == {"n": 2, "c": 3, "values": 9}
    assert np.all(SPACES["relu"].build({"n": 2, "c": 3}, np.random.default_rng(0))[0] != 0)
