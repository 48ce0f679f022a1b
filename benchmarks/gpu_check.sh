#!/usr/bin/env bash
# The cupy engine on a GPU machine, end to end, in under 5 minutes:
#   1. the environment (GPU, driver, versions); CuPy installed if missing (the one download: cupy-cuda12x
#      or cupy-cuda13x, whichever the driver supports), and one Numba kernel launched on a CuPy array;
#   2. the test suite with MINIALEX_BACKEND=cupy: python -m pytest -m "not slow and not gpu", then -m gpu;
#   3. minialex bench --quick --backend cupy;
#   4. minialex train --epochs 1 --resize 224 --batch-size 128 --backend cupy, and its images/s.
# Every step has its own time limit and log; a failed step is reported and the others still run; the
# script exits non-zero if any step failed.
#
# Usage: benchmarks/gpu_check.sh [LOG_DIR]        (default: ./gpu_check_out)
# Environment: PYTHON (default python3), CUPY_WHEEL (force cupy-cuda12x or cupy-cuda13x),
#              TRAIN_ARGS (more arguments for minialex train, e.g. where the data is).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "${1:-gpu_check_out}"
LOG_DIR=$(cd "${1:-gpu_check_out}" && pwd)
PY=${PYTHON:-python3}
cd "$ROOT"
# This tree, not an installed minialex; the cupy engine for every test and command.
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" MINIALEX_BACKEND=cupy PYTHONUNBUFFERED=1

# Seconds per step: the four main steps add up to 285 s. Setup is seconds unless something is installed.
LIMIT_SETUP=120 LIMIT_TESTS=110 LIMIT_GPU_TESTS=45 LIMIT_BENCH=40 LIMIT_TRAIN=90

failed=()
last_rc=0

# step NAME LIMIT COMMAND...: run with a time limit, output to LOG_DIR/NAME.log; show the tail if it fails.
step() {
    local name=$1 limit=$2 start=$SECONDS rc=0
    shift 2
    echo "== $name (limit ${limit} s; log $LOG_DIR/$name.log)"
    timeout --kill-after=10 "$limit" "$@" >"$LOG_DIR/$name.log" 2>&1 </dev/null || rc=$?
    last_rc=$rc
    if [ "$rc" -eq 0 ]; then
        echo "   ok in $((SECONDS - start)) s"
    else
        [ "$rc" -eq 124 ] && echo "   TIMED OUT after $limit s" || echo "   FAILED (exit $rc) after $((SECONDS - start)) s"
        tail -n 40 "$LOG_DIR/$name.log" | sed 's/^/   | /'
        failed+=("$name")
    fi
    return 0
}

# The CLI of this tree (the console script exists only after pip install); an array, so timeout can run it.
MINIALEX=("$PY" -c 'import sys; from minialex.cli import main; sys.exit(main())')

# --- 1. environment ------------------------------------------------------------------------------------
{
    nvidia-smi || echo "nvidia-smi: not found"
    "$PY" --version
    "$PY" -c 'import numpy, numba; print("numpy", numpy.__version__, "| numba", numba.__version__)'
} 2>&1 | tee "$LOG_DIR/environment.log"

# CuPy: the wheel must match the CUDA major version the driver supports ("CUDA Version: 13.0").
if ! "$PY" -c 'import cupy' 2>/dev/null; then
    cuda_major=$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9]*\).*/\1/p' | head -n 1 || true)
    wheel=${CUPY_WHEEL:-$([ "${cuda_major:-12}" -ge 13 ] && echo cupy-cuda13x || echo cupy-cuda12x)}
    step install-cupy "$LIMIT_SETUP" "$PY" -m pip install --timeout 20 --retries 1 "$wheel"
fi

# One Numba kernel on a CuPy array. Numba's CUDA target needs libNVVM: from a CUDA toolkit, or from the
# numba-cuda package and its NVIDIA wheels, installed here if the first try fails.
numba_on_cupy() {
    step numba-on-cupy "$LIMIT_SETUP" "$PY" -c '
import cupy, numba
from numba import cuda
from minialex.kernels import gpu, reference
x = cupy.random.default_rng(0).standard_normal((2, 3, 9, 9), dtype=cupy.float32)
col = gpu.im2col(x, (3, 3), (2, 2), (1, 1))
assert (cupy.asnumpy(col) == reference.im2col(cupy.asnumpy(x), (3, 3), (2, 2), (1, 1))).all(), "im2col differs"
print("cupy", cupy.__version__, "| numba", numba.__version__, "| numba.cuda:", getattr(cuda, "implementation", "?"),
      "| device:", cupy.cuda.runtime.getDeviceProperties(0)["name"].decode())'
}
numba_on_cupy
if [ "$last_rc" -ne 0 ] && "$PY" -c 'import cupy' 2>/dev/null; then
    unset 'failed[-1]'  # CuPy works, so Numba's CUDA target is what failed: try again with numba-cuda
    cuda_major=$("$PY" -c 'import cupy; print(cupy.cuda.runtime.runtimeGetVersion() // 1000)' 2>/dev/null || echo 12)
    step install-numba-cuda "$LIMIT_SETUP" "$PY" -m pip install --timeout 20 --retries 1 "numba-cuda[cu$cuda_major]"
    numba_on_cupy
fi
[ "$last_rc" -eq 0 ] && sed 's/^/   /' "$LOG_DIR/numba-on-cupy.log"

# --- 2. tests --------------------------------------------------------------------------------------------
step tests "$LIMIT_TESTS" "$PY" -m pytest -m "not slow and not gpu" -q -p no:cacheprovider
step gpu-tests "$LIMIT_GPU_TESTS" "$PY" -m pytest -m gpu -q -p no:cacheprovider -rs
tail -n 1 "$LOG_DIR/tests.log" "$LOG_DIR/gpu-tests.log"
if grep -q "skipped" "$LOG_DIR/gpu-tests.log"; then  # here a skip means the GPU went untested
    grep "^SKIPPED" "$LOG_DIR/gpu-tests.log" | sed 's/^/   | /'
    failed+=(gpu-tests-skipped)
fi

# --- 3. benchmark ----------------------------------------------------------------------------------------
step bench "$LIMIT_BENCH" "${MINIALEX[@]}" bench --quick --backend cupy
tail -n 25 "$LOG_DIR/bench.log"

# --- 4. one epoch of training ------------------------------------------------------------------------------
# shellcheck disable=SC2086  # TRAIN_ARGS is a list of words on purpose
step train "$LIMIT_TRAIN" "${MINIALEX[@]}" train --epochs 1 --resize 224 --batch-size 128 --backend cupy \
    --out "$LOG_DIR/train" ${TRAIN_ARGS:-}
echo "images/s:"
grep -iE 'images?/s|img/s' "$LOG_DIR/train.log" | tail -n 3 || echo "   (no images/s line in train.log)"

if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED steps: ${failed[*]} (logs in $LOG_DIR)"
    exit 1
fi
echo "all steps passed (logs in $LOG_DIR)"
