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
