"""Stochastic gradient descent, with PyTorch's momentum and weight-decay conventions."""

from __future__ import annotations

from ..backend import get_backend
from ..errors import ConfigError
from ..tensor import no_grad

HYPERPARAMETERS = ("lr", "momentum", "weight_decay")


class SGD:
    """p <- p - lr * v,  v <- momentum * v + (g + weight_decay * p)   (v = g on the first step), as torch.optim.SGD.

    ``nesterov=True`` steps along the look-ahead instead, as PyTorch's: p <- p - lr * (g' + momentum * v), with
    g' = g + weight_decay * p and v updated first.

    The hyperparameters live in ``param_groups[0]`` (one group: every parameter), read afresh at each ``step()``,
    so a learning-rate scheduler sets them there as it does in PyTorch; ``lr``, ``momentum`` and ``weight_decay``
    are views of that group.
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False):
        self.params = list(params)
        if not self.params:
            raise ConfigError("SGD: got an empty parameter list")
        if any(isinstance(p, dict) for p in self.params):
            raise ConfigError("SGD: takes one list of parameters; per-group options (a list of dicts) are not supported")
        for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)):
            if not value >= 0.0:
                raise ConfigError(f"SGD: {name} must be >= 0, got {value}")
        if nesterov and momentum <= 0:
            raise ConfigError("SGD: nesterov=True needs a momentum > 0")
        self.defaults = {"lr": lr, "momentum": momentum, "weight_decay": weight_decay, "nesterov": bool(nesterov)}
        self.param_groups = [{"params": self.params, **self.defaults}]
        self.velocity = [None] * len(self.params)

    lr = property(lambda self: self.param_groups[0]["lr"],
                  lambda self, value: self.param_groups[0].__setitem__("lr", value))
    momentum = property(lambda self: self.param_groups[0]["momentum"],
                        lambda self, value: self.param_groups[0].__setitem__("momentum", value))
    weight_decay = property(lambda self: self.param_groups[0]["weight_decay"],
                            lambda self, value: self.param_groups[0].__setitem__("weight_decay", value))

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        lr, momentum, weight_decay = (self.param_groups[0][k] for k in HYPERPARAMETERS)
        nesterov = self.param_groups[0].get("nesterov", False)
        with no_grad():
            for i, p in enumerate(self.params):
                if p.grad is None:
                    continue
                g = p.grad
                if weight_decay:
                    g = g + weight_decay * p.data
                if momentum:
                    if self.velocity[i] is None:
                        self.velocity[i] = g.copy()
                    else:
                        self.velocity[i] *= momentum
                        self.velocity[i] += g
                    g = g + momentum * self.velocity[i] if nesterov else self.velocity[i]
                p.data -= lr * g  # in place: the array stays the same object, no new allocation of p

    def state_dict(self) -> dict:
        """The group's settings (``lr``, ``momentum``, ``weight_decay`` and whatever a scheduler keeps there, such as
        ``initial_lr``) and the momentum buffers as host arrays."""
        to_numpy = get_backend().to_numpy
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        return {**group, "velocity": [None if v is None else to_numpy(v).copy() for v in self.velocity]}

    def load_state_dict(self, state: dict) -> None:
        if len(state["velocity"]) != len(self.params):
            raise ConfigError(f"SGD.load_state_dict: state has {len(state['velocity'])} parameters, "
                             f"the optimizer {len(self.params)}")
        missing = [k for k in HYPERPARAMETERS if k not in state]
        if missing:
            raise ConfigError(f"SGD.load_state_dict: the state lacks {', '.join(missing)}")
        self.param_groups[0].update((k, v) for k, v in state.items() if k != "velocity")
        asarray = get_backend().asarray
        self.velocity = [None if v is None else asarray(v, dtype=p.dtype) for v, p in zip(state["velocity"], self.params)]
