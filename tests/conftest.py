import numpy as np
import pytest

import minialex
from minialex import backend

CPU_ENGINES = ["numpy", "numba"]


@pytest.fixture(params=CPU_ENGINES)
def engine(request):
    """Run the test once per CPU engine; restores the previous engine afterwards."""
    with backend.backend(request.param) as b:
        yield b


@pytest.fixture(autouse=True)
def _seed():
    minialex.manual_seed(0)
    yield


def rel_error(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))) if a.size else 0.0


def assert_close(got, expected, rtol=1e-5, atol=1e-6, what="value"):
    """assert_allclose with a CS231n-style report: the worst element, expected vs got."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, expected {expected.shape}"
    err = np.abs(got - expected) - (atol + rtol * np.abs(expected))
    if err.size and err.max() > 0:
        idx = np.unravel_index(np.argmax(err), err.shape)
        raise AssertionError(f"{what}: worst element {idx}: got {got[idx]!r}, expected {expected[idx]!r} "
                             f"(rel error {rel_error(got, expected):.2e})")
