"""Layers with PyTorch's names, so d2l code ports almost word for word."""

from . import functional, init, utils
from .layers import Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential
from .module import Module, Parameter

__all__ = ["Module", "Parameter", "Sequential", "Conv2d", "MaxPool2d", "ReLU", "Dropout", "Flatten", "Linear",
           "functional", "init", "utils"]
