"""Learning-rate schedules with PyTorch's names, arguments and arithmetic (``torch.optim.lr_scheduler``).

A scheduler owns no learning rate: it rewrites ``group["lr"]`` in the optimizer's ``param_groups`` each time
``step()`` is called, and the optimizer reads it at its next ``step()``. The loop is PyTorch's::

    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)   # sets the lr of step 0 (last_epoch = 0)
    for epoch in range(100):
        train(...)                                            # optimizer.step() at each batch
        scheduler.step()                                      # last_epoch += 1, then the lr of that step

``last_epoch`` counts ``scheduler.step()`` calls -- epochs for StepLR/MultiStepLR/ExponentialLR/
CosineAnnealingLR/LinearLR as usually used, batches for OneCycleLR. Those five compute each lr from the previous
one (PyTorch's "chainable" recursions, so the numbers agree with PyTorch's to the last bit, and a change made to
``group["lr"]`` from outside carries on); OneCycleLR computes it from the step number alone. SequentialLR runs
schedules one after another (a warm-up, then a cosine); ReduceLROnPlateau is the one stepped with a metric,
``step(test_loss)``, and lowers the lr when the metric stops improving. A schedule built mid-run
(``last_epoch >= 0``, on an optimizer whose groups have their ``initial_lr``) behaves as PyTorch's does.

``state_dict()`` holds every attribute but the optimizer, as plain numbers, lists and dicts (JSON-friendly, for
checkpoints). To resume: build the optimizer and the scheduler as before, then load the optimizer's state (it
brings back ``group["lr"]``) and the scheduler's. Unlike PyTorch, ``step(epoch)`` (deprecated there) is not
offered.
"""

from __future__ import annotations

import bisect
import copy
import math
import numbers
from collections import Counter

from ..errors import ConfigError

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR", "OneCycleLR",
           "SequentialLR", "ReduceLROnPlateau"]


def _check(name: str, value, ok: bool, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{name} must be {expected}, got {value!r}")


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _param_groups(scheduler, optimizer) -> list:
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(groups, list) or not groups or not all(isinstance(g, dict) and "lr" in g for g in groups):
        raise ConfigError(f"{type(scheduler).__name__}: expected an optimizer with param_groups (a list of dicts "
                         f"with 'lr'), such as minialex.optim.SGD; got {type(optimizer).__name__}")
    return groups


def _per_group(name: str, optimizer, value) -> list:
    """One value per param group: a list as given (of the right length), a number repeated."""
    groups = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != groups:
            raise ConfigError(f"{name} has {len(value)} values, the optimizer {groups} param groups")
        return list(value)
    return [value] * groups


class LRScheduler:
    """Base class: ``step()`` advances ``last_epoch`` and writes ``get_lr()`` into every ``group["lr"]``.

    ``last_epoch=-1`` starts a schedule: each group's current lr becomes its ``initial_lr`` (kept in the group;
    ``base_lrs`` copies them), and the constructor takes the first step, to ``last_epoch = 0``.
    """

    def __init__(self, optimizer, last_epoch: int = -1):
        groups = _param_groups(self, optimizer)
        _check("last_epoch", last_epoch, _is_int(last_epoch) and last_epoch >= -1, "an int >= -1")
        if last_epoch == -1:
            for group in groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(groups):
                if "initial_lr" not in group:
                    raise ConfigError(f"{type(self).__name__}(last_epoch={last_epoch}): param_groups[{i}] has no "
                                     "'initial_lr'. Resuming needs the optimizer's saved state loaded first; "
                                     "a fresh schedule starts at last_epoch=-1")
        self.optimizer = optimizer
        self.base_lrs = [group["initial_lr"] for group in groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """The constructor's step: it sets the lr of ``last_epoch + 1`` without advancing a schedule that chains."""
        self._step_count = 0
        self._is_initial = True
        self.step()
        self._is_initial = False

    def get_lr(self) -> list[float]:
        """The lr of step ``last_epoch`` for each group (called by ``step()`` after it advanced ``last_epoch``)."""
        raise NotImplementedError(f"{type(self).__name__} must define get_lr()")

    def step(self) -> None:
        """Advance one step (call it after ``optimizer.step()``) and set each group's lr for the next."""
        self._step_count += 1
        self._update_lr()

    def _update_lr(self, epoch: int | None = None) -> None:
        """Set the lr of step ``last_epoch + 1`` (``get_lr``'s recursion), or of step ``epoch`` (the closed form,
        where the schedule has one: how SequentialLR starts a schedule at its milestone, as PyTorch's does)."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_closed_form_lr", None)
            values = self.get_lr() if closed_form is None else closed_form()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The lrs the last ``step()`` set, one per param group."""
        return list(self._last_lr)

    def _group_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """Every attribute but the optimizer (copies: changing the dict does not change the scheduler)."""
        return copy.deepcopy({k: v for k, v in vars(self).items() if k != "optimizer"})

    def load_state_dict(self, state: dict) -> None:
        mine = set(vars(self)) - {"optimizer"}
        if set(state) != mine:
            raise ConfigError(f"{type(self).__name__}.load_state_dict: the state has keys {sorted(state)}, this "
                             f"scheduler {sorted(mine)} (the state of another kind of scheduler?)")
        self.__dict__.update(copy.deepcopy(state))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr})"


class StepLR(LRScheduler):
    """lr_t = base_lr * gamma ** (t // step_size): multiply the lr by ``gamma`` every ``step_size`` steps.

    Computed as PyTorch does, from the previous lr: lr_t = lr_{t-1} * gamma when t > 0 and t % step_size == 0,
    else lr_t = lr_{t-1}.
    """

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        _check("step_size", step_size, _is_int(step_size) and step_size >= 1, "a positive int")
        _check("gamma", gamma, _is_real(gamma) and gamma > 0, "a positive number")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]

    def _closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr_t = base_lr * gamma ** (the number of milestones <= t): multiply the lr by ``gamma`` at each milestone
    (a milestone listed twice multiplies twice).

    Computed as PyTorch does, from the previous lr: lr_t = lr_{t-1} * gamma ** (times t is listed) at a milestone,
    else lr_t = lr_{t-1}. ``milestones`` is a Counter, as PyTorch's; ``state_dict()`` keeps it as a sorted list.
    """

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        try:
            listed = list(milestones)
        except TypeError:
            listed = [milestones]
        _check("milestones", milestones, bool(listed) and all(_is_int(m) and m >= 0 for m in listed),
               "a list of ints >= 0")
        _check("gamma", gamma, _is_real(gamma) and gamma > 0, "a positive number")
        self.milestones, self.gamma = Counter(listed), gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._group_lrs()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._group_lrs()]

    def _closed_form_lr(self) -> list[float]:
        passed = bisect.bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [base * self.gamma ** passed for base in self.base_lrs]

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["milestones"] = sorted(self.milestones.elements())  # JSON has no int keys
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.milestones = Counter(self.milestones)


class ExponentialLR(LRScheduler):
    """lr_t = base_lr * gamma ** t: multiply the lr by ``gamma`` at every step.

    Computed as PyTorch does, from the previous lr: lr_t = lr_{t-1} * gamma (the constructor's step leaves the lr).
    """

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        _check("gamma", gamma, _is_real(gamma) and gamma > 0, "a positive number")
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]

    def _closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr_t = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2: half a cosine from base_lr down to
    eta_min over T_max steps (and, stepped past T_max, back up, as PyTorch's does -- no restarts).

    Computed as PyTorch does, from the previous lr:
        lr_t = eta_min + (lr_{t-1} - eta_min) * (1 + cos(pi t / T_max)) / (1 + cos(pi (t-1) / T_max)),
    except at the trough's far side, t - 1 - T_max = 0 (mod 2 T_max), where that ratio is 0/0 and
        lr_t = lr_{t-1} + (base_lr - eta_min) * (1 - cos(pi / T_max)) / 2.
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        _check("T_max", T_max, _is_int(T_max) and T_max >= 1, "a positive int")
        _check("eta_min", eta_min, _is_real(eta_min) and eta_min >= 0, "a number >= 0")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._group_lrs()
        if (t - 1 - T) % (2 * T) == 0:
            return [lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base, lr in zip(self.base_lrs, self._group_lrs())]
        return [(1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (lr - eta_min) + eta_min
                for lr in self._group_lrs()]

    def _closed_form_lr(self) -> list[float]:
        return [self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base in self.base_lrs]


class LinearLR(LRScheduler):
    """lr_t = base_lr * (start_factor + (end_factor - start_factor) * min(t, total_iters) / total_iters): a linear
    ramp of the factor over ``total_iters`` steps (a warm-up with the defaults 1/3 -> 1), then constant.

    Computed as PyTorch does: lr_0 = lr * start_factor, then
        lr_t = lr_{t-1} * (1 + (end - start) / (total_iters * start + (t - 1) * (end - start)))  for t <= total_iters.
    """

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5,
                 last_epoch: int = -1):
        _check("start_factor", start_factor, _is_real(start_factor) and 0 < start_factor <= 1, "in (0, 1]")
        _check("end_factor", end_factor, _is_real(end_factor) and 0 <= end_factor <= 1, "in [0, 1]")
        _check("total_iters", total_iters, _is_int(total_iters) and total_iters >= 1, "a positive int")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, start, end = self.last_epoch, self.start_factor, self.end_factor
        if t == 0:
            return [lr * start for lr in self._group_lrs()]
        if self._is_initial or t > self.total_iters:
            return self._group_lrs()
        return [lr * (1.0 + (end - start) / (self.total_iters * start + (t - 1) * (end - start)))
                for lr in self._group_lrs()]

    def _closed_form_lr(self) -> list[float]:
        start, end = self.start_factor, self.end_factor
        return [base * (start + (end - start) * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base in self.base_lrs]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, "Super-Convergence", 2017), stepped once per batch, as PyTorch's.

    With initial_lr = max_lr / div_factor and min_lr = initial_lr / final_div_factor, over ``total_steps`` steps
    (or ``epochs * steps_per_epoch``) the lr goes

    * two phases (default, fastai's): initial_lr -> max_lr over steps 0..p, then max_lr -> min_lr over
      p..total_steps-1;
    * three phases (the paper's): initial_lr -> max_lr over 0..p, max_lr -> initial_lr over p..2p,
      initial_lr -> min_lr over 2p..total_steps-1,

    where p = pct_start * total_steps - 1 (PyTorch's phase ends: p, 2p and total_steps - 1; a float). Within a
    phase from a to b, at fraction f = (t - phase start) / (phase length), the lr is
    b + (a - b) * (1 + cos(pi f)) / 2 (``anneal_strategy="cos"``) or a + (b - a) f (``"linear"``).

    ``cycle_momentum`` (default True) moves ``group["momentum"]`` the opposite way, max_momentum -> base_momentum
    -> max_momentum, and sets it to max_momentum at once -- also for an optimizer built without momentum, as in
    PyTorch. Stepping past ``total_steps`` is an error.
    """

    def __init__(self, optimizer, max_lr, total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum=0.85, max_momentum=0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False, last_epoch: int = -1):
        if not isinstance(getattr(optimizer, "param_groups", None), list):
            raise ConfigError(f"OneCycleLR: expected an optimizer with param_groups, got {type(optimizer).__name__}")
        if total_steps is not None:
            _check("total_steps", total_steps, _is_int(total_steps) and total_steps >= 1, "a positive int")
        elif epochs is not None and steps_per_epoch is not None:
            _check("epochs", epochs, _is_int(epochs) and epochs >= 1, "a positive int")
            _check("steps_per_epoch", steps_per_epoch, _is_int(steps_per_epoch) and steps_per_epoch >= 1,
                   "a positive int")
            total_steps = epochs * steps_per_epoch
        else:
            raise ConfigError("OneCycleLR: give total_steps, or both epochs and steps_per_epoch")
        _check("pct_start", pct_start, _is_real(pct_start) and 0 <= pct_start <= 1, "a number in [0, 1]")
        _check("anneal_strategy", anneal_strategy, anneal_strategy in ("cos", "linear"), "'cos' or 'linear'")
        _check("div_factor", div_factor, _is_real(div_factor) and div_factor > 0, "a positive number")
        _check("final_div_factor", final_div_factor, _is_real(final_div_factor) and final_div_factor > 0,
               "a positive number")
        self.total_steps = total_steps
        self.anneal_strategy = anneal_strategy
        self.cycle_momentum = cycle_momentum
        rise = float(pct_start * total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                {"end_step": rise, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": float(2 * pct_start * total_steps) - 2, "start_lr": "max_lr", "end_lr": "initial_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
                {"end_step": total_steps - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
                 "start_momentum": "max_momentum", "end_momentum": "max_momentum"}]
        else:
            self._schedule_phases = [
                {"end_step": rise, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": total_steps - 1, "start_lr": "max_lr", "end_lr": "min_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"}]

        ends = [0.0] + [phase["end_step"] for phase in self._schedule_phases]
        if any(b == a for a, b in zip(ends, ends[1:])):
            # PyTorch divides by the phase's length and fails with a ZeroDivisionError when it reaches it
            raise ConfigError(f"OneCycleLR: pct_start={pct_start} with total_steps={total_steps} leaves a phase of "
                             f"length 0 (phases end at steps {ends[1:]}); change pct_start")

        groups = optimizer.param_groups
        max_lrs = _per_group("max_lr", optimizer, max_lr)
        for v in max_lrs:
            _check("max_lr", v, _is_real(v) and v > 0, "a positive number (or one per param group)")
        if last_epoch == -1:
            for group, top in zip(groups, max_lrs):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        if cycle_momentum:
            if not all("momentum" in group for group in groups):
                raise ConfigError("OneCycleLR: cycle_momentum=True needs an optimizer with momentum (SGD); "
                                 "pass cycle_momentum=False")
            base_momenta = _per_group("base_momentum", optimizer, base_momentum)
            max_momenta = _per_group("max_momentum", optimizer, max_momentum)
            for v in base_momenta + max_momenta:
                _check("base_momentum and max_momentum", v, _is_real(v) and v >= 0, "numbers >= 0")
            if last_epoch == -1:
                for group, low, high in zip(groups, base_momenta, max_momenta):
                    group["momentum"] = high
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ConfigError(f"OneCycleLR: stepped {step} times, past total_steps={self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        group["momentum"] = self._anneal(group[phase["start_momentum"]],
                                                         group[phase["end_momentum"]], pct)
                    break
                start_step = end_step
        return lrs


class SequentialLR(LRScheduler):
    """Several schedules one after the other: ``schedulers[i]`` runs from ``milestones[i-1]`` (step 0 for the
    first) until the next milestone, e.g. a linear warm-up then a cosine::

        warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
        cosine = CosineAnnealingLR(opt, T_max=95)
        scheduler = SequentialLR(opt, [warmup, cosine], milestones=[5])

    As PyTorch's: the constructor puts every group's lr back to its ``initial_lr``, undoes the step each schedule's
    constructor took, and takes the first schedule's first step again; at a milestone the next schedule starts at
    its own step 0 (its closed form, where it has one), and steps on from there.
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        groups = _param_groups(self, optimizer)
        schedulers, milestones = list(schedulers), list(milestones)
        if not schedulers:
            raise ConfigError("SequentialLR expects at least one scheduler, got none")
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ConfigError(f"SequentialLR: schedulers[{i}] is a ReduceLROnPlateau, whose step() needs a "
                                 "metric; it cannot be sequenced")
            if getattr(scheduler, "optimizer", None) is not optimizer:
                raise ConfigError(f"SequentialLR: schedulers[{i}] ({type(scheduler).__name__}) belongs to another "
                                 "optimizer; every schedule must drive the one given")
        if len(milestones) != len(schedulers) - 1 or not all(_is_int(m) and m >= 0 for m in milestones):
            raise ConfigError(f"SequentialLR: expected {len(schedulers) - 1} milestones (ints >= 0, one fewer than "
                             f"the {len(schedulers)} schedulers), got {milestones!r}")
        _check("last_epoch", last_epoch, _is_int(last_epoch) and last_epoch >= -1, "an int >= -1")
        self._schedulers, self._milestones = schedulers, milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in groups:
            group["lr"] = group["initial_lr"]
        self._undo_initial_steps(self)
        first = self._schedulers[bisect.bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def _undo_initial_steps(self, scheduler) -> None:
        if hasattr(scheduler, "_schedulers"):
            for inner in scheduler._schedulers:
                self._undo_initial_steps(inner)
        elif hasattr(scheduler, "last_epoch"):
            scheduler.last_epoch -= 1

    def step(self) -> None:
        self.last_epoch += 1
        i = bisect.bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[i]
        if i > 0 and self._milestones[i - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict:
        state = copy.deepcopy({k: v for k, v in vars(self).items() if k not in ("optimizer", "_schedulers")})
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state: dict) -> None:
        mine = set(vars(self)) - {"optimizer"}
        inner = state.get("_schedulers")
        if set(state) != mine or not isinstance(inner, list) or len(inner) != len(self._schedulers):
            raise ConfigError(f"SequentialLR.load_state_dict: expected the keys {sorted(mine)} with the states of "
                             f"{len(self._schedulers)} schedulers (the state of another kind of scheduler?)")
        self.__dict__.update(copy.deepcopy({k: v for k, v in state.items() if k != "_schedulers"}))
        for scheduler, saved in zip(self._schedulers, inner):
            scheduler.load_state_dict(saved)


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by ``factor`` once a metric has stopped improving for ``patience`` steps; ``step(metric)``,
    once per epoch, after the evaluation. PyTorch's rules and arithmetic:

    * better: ``mode="min"`` with ``threshold_mode="rel"``: metric < best * (1 - threshold); ``"abs"``:
      metric < best - threshold; ``mode="max"``: metric > best * (1 + threshold), or > best + threshold;
    * a better metric becomes ``best`` and resets the count of bad epochs, any other adds one; during a cooldown
      (``cooldown`` steps after a reduction) bad epochs are not counted;
    * when the count exceeds ``patience``: lr <- max(lr * factor, min_lr) in each group, unless that changes the
      lr by ``eps`` or less; then the cooldown starts and the count restarts.
    """

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr=0.0,
                 eps: float = 1e-8):
        groups = _param_groups(self, optimizer)
        _check("factor", factor, _is_real(factor) and 0 <= factor < 1, "a number in [0, 1)")
        _check("mode", mode, mode in ("min", "max"), "'min' or 'max'")
        _check("threshold_mode", threshold_mode, threshold_mode in ("rel", "abs"), "'rel' or 'abs'")
        _check("threshold", threshold, _is_real(threshold) and threshold >= 0, "a number >= 0")
        _check("patience", patience, _is_int(patience) and patience >= 0, "an int >= 0")
        _check("cooldown", cooldown, _is_int(cooldown) and cooldown >= 0, "an int >= 0")
        _check("eps", eps, _is_real(eps) and eps >= 0, "a number >= 0")
        self.factor = factor
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr, self.min_lrs = None, _per_group("min_lr", optimizer, min_lr)
        else:
            self.default_min_lr, self.min_lrs = min_lr, [min_lr] * len(groups)
        for v in self.min_lrs:
            _check("min_lr", v, _is_real(v) and v >= 0, "a number >= 0 (or one per param group)")
        self.patience, self.cooldown, self.eps = patience, cooldown, eps
        self.last_epoch = 0
        self._last_lr = self._group_lrs()
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode
        self.best, self.cooldown_counter, self.num_bad_epochs = self.mode_worse, 0, 0

    def step(self, metrics) -> None:  # noqa: D102 -- the class docstring says what a step does
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise ConfigError(f"ReduceLROnPlateau.step: expected the metric as a number, got {metrics!r}") from None
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, low in zip(self.optimizer.param_groups, self.min_lrs):
                old = float(group["lr"])
                new = max(old * self.factor, low)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = self._group_lrs()

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            return a < best * (1.0 - self.threshold) if self.threshold_mode == "rel" else a < best - self.threshold
        return a > best * (self.threshold + 1.0) if self.threshold_mode == "rel" else a > best + self.threshold
