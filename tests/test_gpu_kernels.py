"""The cupy engine's CUDA kernels (minialex.kernels.gpu), checked on a machine without a GPU.

Three children, each a fresh Python, because what they need must be settled before ``numba.cuda`` is
first imported (and must not leak into the other tests):

* the kernels under Numba's CUDA simulator equal the reference -- ``gpu_kernel_cases.py``;
* the kernels compile to PTX for a real GPU -- ``gpu_kernels_ptx.py`` (skipped without libNVVM);
* importing the module needs neither CuPy nor a GPU.

A failing child's output is shown in full: its failing cases with the worst element, expected vs got.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def run_child(args, **env):
    """Run ``python *args`` from the repository root with ``env`` added; minialex importable from this tree."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env={**os.environ, "PYTHONPATH": path, **env},
                          capture_output=True, text=True, timeout=900)


def output(proc):
    return f"exit code {proc.returncode}\n--- stdout ---\n{proc.stdout[-20000:]}\n--- stderr ---\n{proc.stderr[-5000:]}"


def test_kernels_equal_the_reference_under_the_cuda_simulator():
    proc = run_child(["-m", "pytest", str(TESTS / "gpu_kernel_cases.py"), "-q", "--tb=line", "-p", "no:cacheprovider"],
                     NUMBA_ENABLE_CUDASIM="1")
    if proc.returncode != 0 or " passed" not in proc.stdout:  # failed, or collected no case
        pytest.fail("gpu kernels under the CUDA simulator:\n" + output(proc), pytrace=False)


def test_kernels_compile_for_a_real_gpu():
    proc = run_child([str(TESTS / "gpu_kernels_ptx.py")], NUMBA_ENABLE_CUDASIM="0")
    if proc.returncode == 2:
        pytest.skip("libNVVM not found (install a CUDA toolkit or the nvidia-cuda-nvcc-cu12 wheel): "
                    + proc.stdout.strip())
    if proc.returncode != 0:
        pytest.fail("gpu kernels compiled to PTX:\n" + output(proc), pytrace=False)


def test_importing_the_gpu_kernels_needs_no_cupy_and_no_gpu():
    proc = run_child(["-c", "import sys, minialex.kernels.gpu; assert 'cupy' not in sys.modules, 'imported cupy'"],
                     NUMBA_ENABLE_CUDASIM="0")
    if proc.returncode != 0:
        pytest.fail(output(proc), pytrace=False)
