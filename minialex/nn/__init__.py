"""Layers with PyTorch's names, so d2l code ports almost word for word."""

from . import functional, init, utils
from .layers import AvgPool2d, Conv2d, CrossEntropyLoss, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential, Sigmoid, Tanh
from .module import Module, Parameter

__all__ = ["Module", "Parameter", "Sequential", "Conv2d", "MaxPool2d", "AvgPool2d", "ReLU", "Sigmoid", "Tanh",
           "Dropout", "Flatten", "Linear", "CrossEntropyLoss", "functional", "init", "utils"]
