"""Module and Parameter: the PyTorch-shaped containers that hold weights and name them."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import devices
from ..backend import get_backend
from ..errors import InputError, InputTypeError, ShapeError
from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor a module trains: a leaf that requires a gradient."""

    def __init__(self, data):
        super().__init__(data, requires_grad=True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class: parameters and sub-modules are found among the attributes, in assignment order."""

    training = True

    def forward(self, *args):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args):
        if any(True for _ in self.children()):
            return self.forward(*args)
        try:
            return self.forward(*args)
        except InputError as e:  # name the layer: "Conv2d(1, 96, ...): conv2d: expected ..."; a bug keeps its traceback
            raise type(e)(f"{self!r}: {e}") from None

    # --- walking the tree ---------------------------------------------------------------------------------
    def named_children(self):
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self):
        return (m for _, m in self.named_children())

    def modules(self):
        yield self
        for child in self.children():
            yield from child.modules()

    def named_parameters(self, prefix: str = ""):
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child.named_parameters(prefix + name + ".")

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    # --- modes and gradients ------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def to(self, *args, **kwargs) -> "Module":
        """``net.to(device)``, ``net.to(dtype)`` or both, in place (returns ``self``), as PyTorch.

        A dtype converts every parameter (``float32`` for training, ``float64`` for gradcheck). A device (``"cpu"``,
        ``"cuda:0"``, ``d2l.try_gpu()``) makes its engine the active one -- minialex runs every array on one engine
        -- and moves the parameters there; a no-op for those already there. A moved or converted parameter's
        gradient is dropped.
        """
        target, dtype = devices.to_arguments(f"{type(self).__name__}.to", args, kwargs)
        if target is not None:
            devices.activate(target)
            for p in self.parameters():
                moved = devices.move(p.data, target)
                if moved is not p.data:
                    p.data, p.grad = moved, None
        if dtype is not None:
            for p in self.parameters():
                p.data, p.grad = p.data.astype(dtype), None
        return self

    def apply(self, fn) -> "Module":
        """Call ``fn(module)`` on every sub-module, then on ``self`` (children first, as PyTorch); returns ``self``.
        d2l's ``net.apply(init_weights)``."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def add_module(self, name: str, module: "Module") -> None:
        """Register ``module`` under ``name`` (after the existing children, so a Sequential runs it last)."""
        if not isinstance(name, str) or not name or "." in name:
            raise InputError(f"add_module: name must be a non-empty string without '.', got {name!r}")
        if module is not None and not isinstance(module, Module):
            raise InputTypeError(f"add_module: {name!r} is a {type(module).__name__}, not a Module")
        if name in vars(self) and not isinstance(vars(self)[name], Module):
            raise KeyError(f"add_module: attribute {name!r} already exists and is not a module")
        setattr(self, name, module)

    def float(self) -> "Module":
        return self.to(np.float32)

    def double(self) -> "Module":
        return self.to(np.float64)

    # --- saving and loading -------------------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Host NumPy copies of every parameter, named as PyTorch names them (``0.weight``)."""
        to_numpy = get_backend().to_numpy
        return OrderedDict((name, np.array(to_numpy(p.data))) for name, p in self.named_parameters())

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy arrays into the parameters (onto the active device, in each parameter's dtype)."""
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        for name, p in params.items():
            if name not in state:
                continue
            value = state[name]
            if tuple(value.shape) != p.shape:
                raise ShapeError(f"load_state_dict: {name} has shape {tuple(value.shape)} in the state, "
                                 f"{p.shape} in the model")
            p.data = get_backend().asarray(value, dtype=p.dtype)

    # --- printing ---------------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in children]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"
