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
