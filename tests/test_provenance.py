"""minialex.provenance: the machine record, and results files that carry it with the command that made them."""

import json
import shutil
import subprocess
import sys

import pytest

from minialex import provenance


def test_machine_record_names_the_cpu_blas_versions_and_commit():
    record = provenance.machine_record()
    assert record["cpu"]["model"] and record["cpu"]["logical_cpus"] >= 1
    assert set(record["versions"]) >= {"python", "numpy", "numba"}
    assert set(record["git"]) == {"commit", "dirty"}
    assert record["finished"] is None and record["load_average_after"] is None
    provenance.finish_record(record)
    assert record["finished"] >= record["date"]
    assert "commit" in provenance.describe(record)


def test_command_line_is_typed_from_the_repository_root(monkeypatch):
    script = provenance.REPOSITORY / "benchmarks" / "winograd_tiles.py"
    monkeypatch.setattr(sys, "argv", [str(script), "--json", "out dir/x.json"])
    assert provenance.command_line() == "python benchmarks/winograd_tiles.py --json 'out dir/x.json'"


def test_write_results_records_the_command_the_machine_and_the_results(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["benchmarks/kernels.py", "--reps", "3"])
    out = tmp_path / "sub" / "kernels.json"
    provenance.write_results(out, {"rows": [1, 2], "batch": 8}, provenance.machine_record())
    saved = json.loads(out.read_text())
    assert saved["command"] == "python benchmarks/kernels.py --reps 3"
    assert saved["rows"] == [1, 2] and saved["batch"] == 8
    record = saved["provenance"]
    assert record["cpu"]["model"] and record["blas"] is not None
    assert record["finished"] is not None and record["load_average_after"] is not None  # finished on writing


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_write_results_records_the_commit_of_the_checkout(tmp_path):
    head = subprocess.run(["git", "-C", str(provenance.REPOSITORY), "rev-parse", "HEAD"], capture_output=True,
                          text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    out = tmp_path / "r.json"
    provenance.write_results(out, {}, provenance.machine_record())
    assert json.loads(out.read_text())["provenance"]["git"]["commit"] == head.stdout.strip()


def test_write_results_replaces_the_file_whole_and_leaves_no_partial(tmp_path):
    out = tmp_path / "r.json"
    (tmp_path / "r.json.partial").write_text('{"half": ')  # what a kill during an earlier write left
    out.write_text('{"old": true}\n')
    provenance.write_results(out, {"new": 1}, provenance.machine_record())
    assert json.loads(out.read_text())["new"] == 1
    assert not (tmp_path / "r.json.partial").exists()


def test_a_failed_write_keeps_the_previous_file(tmp_path):
    out = tmp_path / "r.json"
    out.write_text('{"old": true}\n')
    with pytest.raises(TypeError):
        provenance.write_results(out, {"rows": [object()]}, provenance.machine_record())  # not JSON
    assert json.loads(out.read_text()) == {"old": True}
    assert list(tmp_path.iterdir()) == [out]


def test_results_may_not_hold_the_keys_write_results_records(tmp_path):
    with pytest.raises(ValueError, match="command"):
        provenance.write_results(tmp_path / "r.json", {"command": "mine"}, provenance.machine_record())
    assert not (tmp_path / "r.json").exists()
