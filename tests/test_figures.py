"""The figures quoted in README.md and docs/ agree with the results files they cite (docs/figures.toml), each
beside the command that made its file, each file with its machine record (benchmarks/figures.py)."""

import importlib.util
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
_spec = importlib.util.spec_from_file_location("figures", ROOT / "benchmarks" / "figures.py")
figures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(figures)
ENTRIES = figures.load()


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"{e['doc']}:{e['text'][:40]}" for e in ENTRIES])
def test_the_figure_is_what_its_results_file_says(entry):
    assert figures.problems(entry) == []


def test_the_registry_covers_the_readme_and_the_docs_it_names():
    docs = {e["doc"] for e in ENTRIES}
    assert {"README.md", "docs/training.md", "docs/porting_from_d2l.md", "docs/performance.md",
            "docs/winograd.md"} <= docs


def test_a_figure_that_disagrees_with_its_file_is_caught():
    entry = next(e for e in ENTRIES if e["text"] == "0.96x")
    assert figures.problems({**entry, "format": "{:.3f}x"})[0].endswith("gives '0.964x'")
    assert "not in the doc" in figures.problems({**entry, "text": "0.97x"})[0]
    assert "command" in figures.problems({**entry, "command": "minialex bench --out elsewhere"})[0]
    assert "does not exist" in figures.problems({**entry, "results": "benchmarks/results/nothing.json"})[0]


def test_a_file_without_a_machine_record_needs_the_machine_named_in_the_doc():
    entry = next(e for e in ENTRIES if e.get("machine") == "Zen 5")
    assert figures.problems(entry) == []
    assert "no machine record" in figures.problems({k: v for k, v in entry.items() if k != "machine"})[0]
    assert "does not name the machine" in figures.problems({**entry, "machine": "Zen 9"})[0]


def test_a_transcribed_figure_must_say_so(tmp_path, monkeypatch):
    doc = tmp_path / "doc.md"
    doc.write_text("# A\n\naccuracy 0.815, typed from the log (transcribed)\n\n# B\n\naccuracy 0.817\n")
    monkeypatch.setattr(figures, "ROOT", tmp_path)
    entry = {"doc": "doc.md", "results": "x.jsonl", "value": "[0].a", "command": "c", "transcribed": "why"}
    assert figures.problems({**entry, "text": "0.815"}) == []
    assert "does not say so" in figures.problems({**entry, "text": "0.817"})[0]


def test_lookup_reads_keys_indices_and_matching_elements():
    data = {"steps": [{"size": 96, "engine": "a", "v": 1}, {"size": 224, "engine": "a (x, y unset)", "v": 2}],
            "rows": [[10, 20]]}
    assert figures.lookup(data, "steps[size=224; engine=a (x, y unset)].v") == 2
    assert figures.lookup(data, "steps[0].v") == 1 and figures.lookup(data, "rows.0.1") == 20
    with pytest.raises(KeyError, match="0 elements match"):
        figures.lookup(data, "steps[size=72].v")


def test_the_rerun_script_lists_every_command_and_what_cannot_be_rerun():
    out = subprocess.run(["bash", str(ROOT / "benchmarks" / "rerun_figures.sh"), "--list"], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert [line for line in out if not line.startswith("#")] == figures.commands(ENTRIES)
    assert any(line.startswith("# cannot rerun README.md '0.815': transcribed") for line in out)
