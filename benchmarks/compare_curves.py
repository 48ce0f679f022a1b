"""Two runs' learning curves in one picture, and a per-epoch table (Markdown) of both.

    PYTHONPATH=. python benchmarks/compare_curves.py runs/d2l-96/metrics.jsonl runs/torch-96/metrics.jsonl \
        --labels minialex PyTorch --png docs/curves-96px.png
"""

import argparse
import json
from pathlib import Path

from minialex.figures import CURVES, epoch_axis, figure, save


def read(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def table(runs, labels) -> str:
    head = "| epoch | " + " | ".join(f"{lab} loss | {lab} train acc | {lab} test acc | {lab} img/s"
                                     for lab in labels) + " | test acc diff |"
    lines = [head, "|" + "---|" * (2 + 4 * len(labels))]
    for i in range(max(len(r) for r in runs)):
        cells = []
        for run in runs:
            r = run[i] if i < len(run) else None
            cells += ([f"{r['loss']:.3f}", f"{r['train_acc']:.3f}", f"{r['test_acc']:.3f}",
                       f"{r['examples_per_sec']:.0f}"] if r else ["", "", "", ""])
        both = all(i < len(run) for run in runs[:2])
        diff = f"{runs[0][i]['test_acc'] - runs[1][i]['test_acc']:+.3f}" if both and len(runs) > 1 else ""
        lines.append(f"| {i + 1} | " + " | ".join(cells) + f" | {diff} |")
    return "\n".join(lines)


def plot(runs, labels, path, title=None) -> None:
    fig = figure(5.5, 3.6)
    ax = fig.subplots()
    for (key, name, _), color in zip(CURVES, ("C0", "C1", "C2")):
        for run, label, style in zip(runs, labels, ("-o", "--s", ":^")):
            ax.plot([r["epoch"] for r in run], [r[key] for r in run], style, color=color, markersize=3,
                    label=f"{name} ({label})")
    epoch_axis(ax)
    ax.legend(fontsize=7, ncol=len(runs))
    if title:
        ax.set_title(title, fontsize=9)
    save(fig, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("metrics", nargs="+", help="metrics.jsonl files (the first is compared with the second)")
    p.add_argument("--labels", nargs="+", default=None)
    p.add_argument("--png", default=None, help="where to draw both curves")
    p.add_argument("--title", default=None)
    args = p.parse_args()
    labels = args.labels or [Path(m).parent.name for m in args.metrics]
    runs = [read(m) for m in args.metrics]
    print(table(runs, labels))
    if args.png:
        plot(runs, labels, args.png, args.title)
        print(f"\nplot: {args.png}")


if __name__ == "__main__":
    main()
