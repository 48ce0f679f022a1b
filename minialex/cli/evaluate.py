"""``minialex evaluate CHECKPOINT``: test accuracy, per-class accuracy and the confusion matrix of a saved run."""

from __future__ import annotations

from pathlib import Path

from . import arguments


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="test accuracy, per-class accuracy and confusion matrix of a checkpoint")
    p.add_argument("checkpoint", help="a checkpoint.npz written by minialex train")
    arguments.data_dir(p)
    arguments.batch_size(p, "batch size (default: the training batch size)")
    arguments.test_limit(p)
    p.add_argument("--png", default=None, help="where to save the confusion matrix (default: confusion.png "
                                               "beside the checkpoint)")
    arguments.backend(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..figures import plot_confusion
    from ..training.evaluate import evaluate, report
    result = evaluate(args.checkpoint, args.data_dir, args.batch_size, args.test_limit)
    print(report(result))
    png = Path(args.png) if args.png else Path(args.checkpoint).with_name("confusion.png")
    plot_confusion(result["confusion"], result["per_class"], result["classes"], png,
                   title=f"test accuracy {result['accuracy']:.3f}")
    print(f"\nconfusion matrix saved to {png}")
    return 0
