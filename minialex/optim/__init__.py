"""Optimizers and learning-rate schedules, with PyTorch's names: ``optim.SGD``, ``optim.lr_scheduler.StepLR``, ..."""

from . import lr_scheduler
from .sgd import SGD

__all__ = ["SGD", "lr_scheduler"]
