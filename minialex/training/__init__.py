"""Training AlexNet as d2l's ``train_ch6`` does, with a run folder that records, checkpoints and resumes.

    config = Config.preset("quick", epochs=3)       # a recipe: d2l's, or a faster one for a CPU
    history = fit(config, "runs/quick")             # one dict per epoch, also in runs/quick/metrics.jsonl

Files: ``config.py`` (the recipe, validated before any work), ``loop.py`` (epochs and batches, Ctrl-C),
``run_folder.py`` (the ``--out`` folder and where a run stands), ``checkpoint.py`` (atomic save / load, the model
a checkpoint holds), ``metrics.py`` (accuracy, confusion matrix), ``evaluate.py`` (the prediction loop, scoring).
"""

from .config import PRESETS, Config, TrainingError
from .evaluate import evaluate, predict, score
from .loop import Diverged, Interrupted, fit

__all__ = ["PRESETS", "Config", "TrainingError", "Diverged", "Interrupted", "fit", "evaluate", "predict", "score"]
