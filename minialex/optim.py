"""Stochastic gradient descent, with PyTorch's momentum and weight-decay conventions."""

from __future__ import annotations

from .backend import get_backend
from .tensor import no_grad


class SGD:
    """p <- p - lr * v,  v <- momentum * v + (g + weight_decay * p)   (v = g on the first step), as torch.optim.SGD."""

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        self.params = list(params)
        if not self.params:
            raise ValueError("SGD: got an empty parameter list")
        for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)):
            if not value >= 0.0:
                raise ValueError(f"SGD: {name} must be >= 0, got {value}")
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocity = [None] * len(self.params)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        with no_grad():
            for i, p in enumerate(self.params):
                if p.grad is None:
                    continue
                g = p.grad
                if self.weight_decay:
                    g = g + self.weight_decay * p.data
                if self.momentum:
                    if self.velocity[i] is None:
                        self.velocity[i] = g.copy()
                    else:
                        self.velocity[i] *= self.momentum
                        self.velocity[i] += g
                    g = self.velocity[i]
                p.data -= self.lr * g  # in place: the array stays the same object, no new allocation of p

    def state_dict(self) -> dict:
        to_numpy = get_backend().to_numpy
        return {"lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay,
                "velocity": [None if v is None else to_numpy(v).copy() for v in self.velocity]}

    def load_state_dict(self, state: dict) -> None:
        if len(state["velocity"]) != len(self.params):
            raise ValueError(f"SGD.load_state_dict: state has {len(state['velocity'])} parameters, "
                             f"the optimizer {len(self.params)}")
        self.lr, self.momentum, self.weight_decay = state["lr"], state["momentum"], state["weight_decay"]
        asarray = get_backend().asarray
        self.velocity = [None if v is None else asarray(v, dtype=p.dtype) for v, p in zip(state["velocity"], self.params)]
