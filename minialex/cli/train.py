"""``minialex train``: a preset recipe, any flag given on top, recorded in a run folder."""

from __future__ import annotations

import argparse
import os
import sys
import time

from . import arguments

# Flags that are fields of the recipe (minialex.training.Config); --input-size/--resize is its ``resize``.
RECIPE_FLAGS = ("model", "dataset", "epochs", "batch_size", "lr", "momentum", "nesterov", "weight_decay",
                "lr_schedule", "augment", "seed", "train_limit", "test_limit", "conv_algorithm")


def add_parser(subparsers) -> None:
    from ..data import DATASETS
    from ..training.config import PRESETS
    from ..training.loop import DEFAULT_CHECKPOINT_EVERY
    p = subparsers.add_parser(
        "train", help="train AlexNet on Fashion-MNIST (d2l's train_ch6), with checkpoints and curves",
        description="Train with a preset recipe; any flag given overrides the preset. Presets: "
                    + "; ".join(f"{n}: " + ", ".join(f"{k}={v}" for k, v in p.items()) for n, p in PRESETS.items()))
    p.add_argument("--preset", choices=list(PRESETS), default=None, help="recipe to start from (default d2l)")
    arguments.model(p)
    p.add_argument("--dataset", choices=DATASETS, default=None)
    arguments.data_dir(p)
    arguments.input_size(p, "image side in pixels (d2l: 224)")
    p.add_argument("--epochs", type=int, default=None)
    arguments.batch_size(p)
    p.add_argument("--lr", type=float, default=None, help="learning rate")
    p.add_argument("--momentum", type=float, default=None)
    p.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=None,
                   help="Nesterov momentum (needs --momentum > 0)")
    p.add_argument("--weight-decay", type=float, default=None)
    p.add_argument("--lr-schedule", default=None, metavar="NAME[:k=v,...]",
                   help="constant, step, multistep, exponential, cosine, linear, warmup_cosine or onecycle, "
                        "stepped per batch, or plateau, stepped per epoch on the test loss or accuracy; options "
                        "after a colon, e.g. onecycle:pct_start=0.25, multistep:milestones=2+4,gamma=0.1 or "
                        "plateau:patience=2 (docs/training.md)")
    p.add_argument("--augment", default=None, metavar="NAME[:k=v,...],...",
                   help="the train images' augmentation, after the resize: crop (RandomCrop, padding=4), flip "
                        "(RandomHorizontalFlip, p=0.5), resizedcrop (RandomResizedCrop, scale=0.08-1, "
                        "ratio=0.75-1.333), normalize (mean=, std=), or none (the default); comma-separated, e.g. "
                        "crop:padding=4,flip; recorded in config.json, so --resume keeps it")
    arguments.seed(p, "seeds init, dropout, shuffling and augmentation (default 0)")
    p.add_argument("--train-limit", type=int, default=None, metavar="N", help="use the first N train images")
    arguments.test_limit(p)
    p.add_argument("--out", default=None, metavar="DIR", help="run folder (default runs/PRESET-DATE-TIME)")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out (one stopped before "
                                                          "its first checkpoint starts again from the beginning)")
    p.add_argument("--checkpoint-every", default=DEFAULT_CHECKPOINT_EVERY, metavar="TIME|N|epoch",
                   help="also checkpoint inside an epoch, every TIME (10m, 90s, 1h) or every N batches; 'epoch': "
                        f"only at the end of each (default {DEFAULT_CHECKPOINT_EVERY}); a kill loses at most that")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (epoch lines only)")
    arguments.backend(p)
    arguments.conv_algorithm(p, "how convolutions run: im2col, winograd or auto; recorded in config.json, so "
                                "--resume keeps it (default: $MINIALEX_CONV_ALGORITHM, else auto)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..training import Config, Diverged, Interrupted, TrainingError, fit
    overrides = {k: getattr(args, k) for k in RECIPE_FLAGS}
    overrides["resize"] = args.input_size
    try:
        if args.resume:
            if args.out is None:
                raise TrainingError("--resume needs --out DIR, the folder of the run to continue")
            config = Config.saved(args.out, preset=args.preset, **overrides)
        else:
            config = Config.preset(args.preset or "d2l", **overrides)
        out = args.out or os.path.join("runs", f"{config.preset}-{time.strftime('%Y%m%d-%H%M%S')}")
        fit(config, out, data_dir=args.data_dir, resume=args.resume, progress=not args.no_progress,
            checkpoint_every=args.checkpoint_every)
    except Interrupted as e:
        print(f"minialex train: {e}", file=sys.stderr)
        return 130
    except Diverged as e:
        print(f"minialex train: {e}", file=sys.stderr)
        return 1
    return 0
