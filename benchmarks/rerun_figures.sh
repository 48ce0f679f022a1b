#!/usr/bin/env bash
# Run again every command whose results file a figure in README.md or docs/ cites (docs/figures.toml), then check
# the figures against the new files. They are timings: run on a quiet machine (no tests, no other jobs), from the
# repository's root. The whole list takes a few hours on 2 cores (the quick preset and PyTorch's alone about an
# hour; minialex bench at 72/96/224 px about 5 minutes). Figures transcribed from runs whose files were not kept
# are listed as such: they cannot be rerun by command.
#   bash benchmarks/rerun_figures.sh            # run them all
#   bash benchmarks/rerun_figures.sh --list     # print the commands only (--dry-run: the same)
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [[ "${1:-}" == "--list" || "${1:-}" == "--dry-run" ]]; then
    exec python benchmarks/figures.py list
fi
echo "rerun_figures: these are timings; the machine must be quiet (load average now: $(cut -d' ' -f1 /proc/loadavg))" >&2
python benchmarks/figures.py list | grep -v '^#' | while IFS= read -r command; do
    echo "== $command" >&2
    bash -c "$command" </dev/null
done
python benchmarks/figures.py list | grep '^#' >&2 || true
python benchmarks/figures.py check
