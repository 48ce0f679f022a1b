"""docs/alexnet.ipynb runs from top to bottom (on a tiny budget), so the chapter it shows cannot rot."""

import re
from pathlib import Path

import pytest

from minialex.data import DataError, load_dataset

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).parent.parent
NOTEBOOK = ROOT / "docs" / "alexnet.ipynb"
TINY = {"ALEXNET_RESIZE": "65", "ALEXNET_EPOCHS": "1", "ALEXNET_LIMIT": "256", "ALEXNET_LR": "0.01"}


def outputs(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_the_notebook_runs_as_saved_and_shows_the_chapter(monkeypatch):
    try:
        load_dataset("fashion-mnist", download=False, progress=False)
    except DataError as e:
        pytest.skip(f"Fashion-MNIST is not on this machine: {e}")
    for name, value in TINY.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MINIALEX_BACKEND", "numba")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # The kernel starts in the repository's root, so it imports this checkout's minialex.
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    cells = {c.source.splitlines()[0]: c for c in nb.cells if c.cell_type == "code" and c.source}
    shapes = outputs(cells["X = torch.randn(1, 1, 224, 224)"]).splitlines()
    assert shapes[0] == "Conv2d output shape:\t minialex.Size([1, 96, 54, 54])" and len(shapes) == 21
    training = cells["from minialex import models"]
    assert re.search(r"loss \d\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}\n"
                     r"\d+\.\d examples/sec on cpu\n", outputs(training))
    kinds = ["image/png" if "image/png" in o.get("data", {}) else o.output_type for o in training.outputs]
    assert kinds == ["image/png", "stream"]  # the live plot's last picture, then d2l's closing lines
    assert "backward() took" in outputs(cells["from minialex.tools.trace import format_trace, trace_step"])


def test_the_saved_notebook_has_its_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code) and sum(bool(c.outputs) for c in code) >= 6


def _saved_stream(nb, first_line: str) -> str:
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.splitlines()[:1] == [first_line])
    return outputs(cell)


def test_the_saved_outputs_have_the_current_codes_headers_and_columns():
    """The saved tables are the current code's: the trace's and the summary's header lines (their columns) equal
    what the code prints now on a tiny net, and every layer row has the algorithm column's value."""
    from minialex import models, randn, summary
    from minialex.tools.trace import format_trace, trace_step
    nb = nbformat.read(NOTEBOOK, as_version=4)
    net = models.alexnet(input_size=65)
    x, y = randn(2, 1, 65, 65), __import__("numpy").zeros(2, dtype="int64")
    trace_header = format_trace(trace_step(net.train(), x, y)).splitlines()[0]
    saved_trace = _saved_stream(nb, "from minialex.tools.trace import format_trace, trace_step").splitlines()
    assert saved_trace[0].split() == trace_header.split()
    assert sum(("im2col" in line or "winograd" in line) for line in saved_trace) >= 5  # the five convolutions
    import contextlib
    import io
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        summary(net, (1, 1, 65, 65))
    saved_summary = _saved_stream(nb, "torch.summary(net, (1, 1, 224, 224));").splitlines()
    assert saved_summary[0].split() == printed.getvalue().splitlines()[0].split()


def test_the_saved_notebook_says_where_it_was_made():
    meta = nbformat.read(NOTEBOOK, as_version=4).metadata["minialex"]
    record = meta["provenance"]
    assert "regenerate_notebook.py" in meta["command"]
    assert re.fullmatch(r"[0-9a-f]{40}", record["git"]["commit"]) and record["cpu"]["model"]
    assert record["load_average_before"][0] <= meta["max_load"]
