"""Learning-rate schedules: PyTorch's lr at every step, hand-computed cases, and exact resumes from a state_dict."""

import json
import math

import numpy as np
import pytest

import minialex
from minialex import nn, optim
from minialex.training import checkpoint
from minialex.nn import Parameter
from minialex.optim.lr_scheduler import (CosineAnnealingLR, ExponentialLR, LinearLR, MultiStepLR, OneCycleLR,
                                         ReduceLROnPlateau, SequentialLR, StepLR)


def sgd(lr=0.1, momentum=0.0):
    return optim.SGD([Parameter(np.zeros(3))], lr=lr, momentum=momentum)


def lrs_of_a_run(scheduler, steps):
    """get_last_lr() after construction and after each of ``steps`` steps (group 0)."""
    out = [scheduler.get_last_lr()[0]]
    for _ in range(steps):
        scheduler.step()
        out.append(scheduler.get_last_lr()[0])
    return out


def test_the_package_keeps_sgd_where_it_was():
    assert minialex.optim.SGD is optim.SGD is optim.sgd.SGD
    assert minialex.optim.lr_scheduler.StepLR is StepLR


# --- by hand ---------------------------------------------------------------------------------------------------

def test_step_lr_multiplies_by_gamma_every_step_size_steps():
    assert lrs_of_a_run(StepLR(sgd(0.1), step_size=2, gamma=0.5), 4) == [0.1, 0.1, 0.05, 0.05, 0.025]


def test_cosine_annealing_goes_down_half_a_cosine_and_back_up():
    # T_max = 2: cos(0), cos(pi/2), cos(pi) -> 1, 0.5, 0; then past T_max back up: 0.5, 1
    got = lrs_of_a_run(CosineAnnealingLR(sgd(1.0), T_max=2), 4)
    np.testing.assert_allclose(got, [1.0, 0.5, 0.0, 0.5, 1.0], atol=1e-15)


def test_cosine_annealing_stops_at_eta_min():
    got = lrs_of_a_run(CosineAnnealingLR(sgd(1.0), T_max=4, eta_min=0.2), 4)
    np.testing.assert_allclose(got, [0.2 + 0.4 * (1 + math.cos(math.pi * t / 4)) for t in range(5)], rtol=1e-14)


def test_linear_lr_ramps_the_factor_then_holds():
    got = lrs_of_a_run(LinearLR(sgd(1.0), start_factor=0.5, total_iters=2), 4)
    np.testing.assert_allclose(got, [0.5, 0.75, 1.0, 1.0, 1.0], rtol=1e-15)


def test_one_cycle_linear_by_hand():
    # initial_lr = 1/10, min_lr = 0.1/100; the rise ends at step 0.5*10 - 1 = 4, the fall at step 9
    opt = sgd()
    s = OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.5, anneal_strategy="linear", div_factor=10,
                   final_div_factor=100)
    lrs, momenta = [s.get_last_lr()[0]], [opt.momentum]
    for _ in range(9):
        s.step()
        lrs.append(s.get_last_lr()[0])
        momenta.append(opt.momentum)
    np.testing.assert_allclose(lrs[:5], [0.1, 0.325, 0.55, 0.775, 1.0], rtol=1e-14)
    np.testing.assert_allclose(lrs[4:], [1.0 - 0.999 * k / 5 for k in range(6)], rtol=1e-14)
    np.testing.assert_allclose(momenta, [0.95, 0.925, 0.9, 0.875, 0.85, 0.87, 0.89, 0.91, 0.93, 0.95], rtol=1e-14)


def test_one_cycle_cos_peaks_at_max_lr_and_ends_at_min_lr():
    s = OneCycleLR(sgd(), max_lr=0.4, epochs=2, steps_per_epoch=10)
    got = lrs_of_a_run(s, 19)
    assert got[0] == pytest.approx(0.4 / 25) and max(got) == pytest.approx(0.4) and got.index(max(got)) == 5
    assert got[-1] == pytest.approx(0.4 / 25 / 1e4)
    s.step()  # the 20th step, after the last batch, is allowed; a 21st is not
    with pytest.raises(ValueError, match="stepped 21 times, past total_steps=20"):
        s.step()


def test_the_optimizer_steps_with_the_scheduled_lr():
    p = Parameter(np.array([1.0]))
    opt = optim.SGD([p], lr=1.0)
    s = StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad = np.array([1.0])
        opt.step()
        s.step()
    assert p.numpy()[0] == 1.0 - (1.0 + 0.5 + 0.25)


def test_one_cycle_cycles_momentum_in_sgd_built_without_it():
    p = Parameter(np.array([1.0]))
    opt = optim.SGD([p], lr=0.1)
    OneCycleLR(opt, max_lr=0.1, total_steps=10)
    assert opt.momentum == 0.95
    p.grad = np.array([1.0])
    opt.step()
    assert opt.velocity[0] is not None  # the update did use momentum


# --- against PyTorch -------------------------------------------------------------------------------------------

CASES = [
    ("StepLR", dict(step_size=3), 12),
    ("StepLR", dict(step_size=1, gamma=0.7), 8),
    ("MultiStepLR", dict(milestones=[2, 5, 9]), 12),
    ("MultiStepLR", dict(milestones=[3, 3, 7], gamma=0.5), 10),  # a milestone listed twice: gamma squared
    ("ExponentialLR", dict(gamma=0.9), 15),
    ("ExponentialLR", dict(gamma=0.999), 40),
    ("CosineAnnealingLR", dict(T_max=10), 25),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=1e-3), 30),
    ("LinearLR", dict(), 8),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.5, total_iters=6), 10),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.0, total_iters=4), 6),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=50), 50),
    ("OneCycleLR", dict(max_lr=0.05, epochs=3, steps_per_epoch=7, anneal_strategy="linear", pct_start=0.25), 21),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=40, three_phase=True, div_factor=10.0, final_div_factor=100.0), 40),
    ("OneCycleLR", dict(max_lr=0.2, total_steps=30, base_momentum=0.8, max_momentum=0.9), 30),
    ("OneCycleLR", dict(max_lr=0.2, total_steps=30, cycle_momentum=False), 30),
]


@pytest.mark.parametrize("name, kwargs, steps", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_lr_and_momentum_at_every_step_equal_pytorchs(name, kwargs, steps, momentum):
    torch = pytest.importorskip("torch")
    tparam = torch.nn.Parameter(torch.zeros(3))
    topt = torch.optim.SGD([tparam], lr=0.02, momentum=momentum)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    mopt = optim.SGD([Parameter(np.zeros(3))], lr=0.02, momentum=momentum)
    msched = getattr(optim.lr_scheduler, name)(mopt, **kwargs)
    for step in range(steps + 1):
        what = f"{name}{kwargs} at step {step}"
        assert msched.get_last_lr() == tsched.get_last_lr(), what
        assert msched.last_epoch == tsched.last_epoch == step, what
        assert mopt.lr == topt.param_groups[0]["lr"], what
        assert mopt.momentum == topt.param_groups[0]["momentum"], what
        if step < steps:
            topt.step()  # PyTorch warns when the scheduler steps before the optimizer
            mopt.step()
            tsched.step()
            msched.step()


def torch_and_minialex(momentum=0.0, lr=0.02):
    torch = pytest.importorskip("torch")
    topt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(3))], lr=lr, momentum=momentum)
    return torch, topt, optim.SGD([Parameter(np.zeros(3))], lr=lr, momentum=momentum)


def assert_same_steps(tsched, topt, msched, mopt, steps, what, metrics=None):
    """Step both side by side (with ``metrics[i]`` for a plateau schedule); the lr and state agree at every step."""
    for step in range(steps + 1):
        here = f"{what} at step {step}"
        assert msched.get_last_lr() == tsched.get_last_lr(), here
        assert mopt.lr == topt.param_groups[0]["lr"] and mopt.momentum == topt.param_groups[0]["momentum"], here
        assert msched.last_epoch == tsched.last_epoch, here
        if step < steps:
            topt.step()
            mopt.step()
            if metrics is None:
                tsched.step()
                msched.step()
            else:
                tsched.step(metrics[step])
                msched.step(metrics[step])


SEQUENCES = {  # (schedulers built on an optimizer, milestones, steps)
    "warmup-cosine": (lambda lrs, opt: [lrs.LinearLR(opt, start_factor=0.1, total_iters=4),
                                        lrs.CosineAnnealingLR(opt, T_max=12, eta_min=1e-4)], [4], 20),
    "warmup-cosine-default-linear": (lambda lrs, opt: [lrs.LinearLR(opt), lrs.CosineAnnealingLR(opt, T_max=6)],
                                     [5], 14),
    "step-exp-multistep": (lambda lrs, opt: [lrs.StepLR(opt, step_size=2, gamma=0.5), lrs.ExponentialLR(opt, 0.8),
                                             lrs.MultiStepLR(opt, milestones=[2, 4])], [5, 9], 16),
    "onecycle-then-constant-exp": (lambda lrs, opt: [lrs.OneCycleLR(opt, max_lr=0.1, total_steps=6),
                                                     lrs.ExponentialLR(opt, gamma=1.0)], [6], 10),
    "milestone-at-0": (lambda lrs, opt: [lrs.ExponentialLR(opt, 0.5), lrs.LinearLR(opt, total_iters=3)], [0], 6),
}


@pytest.mark.parametrize("name", SEQUENCES)
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sequential_lr_at_every_step_equals_pytorchs(name, momentum):
    make, milestones, steps = SEQUENCES[name]
    torch, topt, mopt = torch_and_minialex(momentum)
    tsched = torch.optim.lr_scheduler.SequentialLR(topt, make(torch.optim.lr_scheduler, topt), milestones)
    msched = SequentialLR(mopt, make(optim.lr_scheduler, mopt), milestones)
    assert_same_steps(tsched, topt, msched, mopt, steps, name)


PLATEAUS = [  # settings, and the metric each epoch: improving, stalling, noisy, flat at the threshold
    (dict(), [1.0, 0.9, 0.9, 0.95, 0.9] * 4 + [0.5] * 15),
    (dict(patience=1, factor=0.5), [1.0, 0.99, 0.98, 0.99, 1.0, 0.97, 0.97, 0.97, 0.96, 0.99, 0.99, 0.99, 0.99]),
    (dict(patience=0, factor=0.5, cooldown=2), [3.0, 2.0, 2.5, 2.5, 2.5, 2.5, 1.0, 1.5, 1.5, 1.5, 1.5, 1.5]),
    (dict(mode="max", patience=2, factor=0.3), [0.1, 0.3, 0.5, 0.5, 0.5, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]),
    (dict(mode="max", threshold_mode="abs", threshold=0.05, patience=1),
     [0.50, 0.54, 0.56, 0.60, 0.62, 0.64, 0.70, 0.71, 0.72, 0.73, 0.74]),
    (dict(threshold_mode="abs", threshold=0.1, patience=1, min_lr=0.004, factor=0.2),
     [2.0, 1.95, 1.85, 1.8, 1.79, 1.75, 1.72, 1.71, 1.70, 1.69, 1.68, 1.67]),
    (dict(threshold=0.1, patience=0, eps=0.004, factor=0.9), [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
    (dict(patience=0, min_lr=[0.01]), [1.0] * 8),
]


@pytest.mark.parametrize("kwargs, metrics", PLATEAUS, ids=[str(i) for i in range(len(PLATEAUS))])
def test_reduce_lr_on_plateau_at_every_step_equals_pytorchs(kwargs, metrics):
    torch, topt, mopt = torch_and_minialex(momentum=0.9)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    msched = ReduceLROnPlateau(mopt, **kwargs)
    assert_same_steps(tsched, topt, msched, mopt, len(metrics), f"ReduceLROnPlateau{kwargs}", metrics)
    assert (msched.best, msched.num_bad_epochs, msched.cooldown_counter) == \
        (tsched.best, tsched.num_bad_epochs, tsched.cooldown_counter)
    assert set(msched.state_dict()) == set(tsched.state_dict())
    assert mopt.lr < 0.02 or kwargs.get("eps")  # each setting does reduce the lr (or shows eps refusing to)


MID_RUN = [  # (name, kwargs, steps before the "resume", steps after)
    ("StepLR", dict(step_size=3, gamma=0.5), 5, 8),
    ("StepLR", dict(step_size=3, gamma=0.5), 2, 6),  # built at last_epoch=2: its first step lands on a multiple
    ("MultiStepLR", dict(milestones=[2, 4, 7]), 3, 8),
    ("MultiStepLR", dict(milestones=[2, 4, 7]), 1, 8),
    ("ExponentialLR", dict(gamma=0.8), 4, 6),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001), 4, 12),
    ("CosineAnnealingLR", dict(T_max=5), 9, 6),
    ("LinearLR", dict(start_factor=0.25, total_iters=6), 3, 6),
    ("LinearLR", dict(start_factor=0.25, total_iters=6), 0, 8),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=20), 7, 12),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=20, three_phase=True, anneal_strategy="linear"), 11, 8),
]


@pytest.mark.parametrize("name, kwargs, before, after", MID_RUN, ids=[f"{c[0]}-{i}" for i, c in enumerate(MID_RUN)])
def test_a_schedule_built_mid_run_equals_pytorchs(name, kwargs, before, after):
    """As on a resume: a run's optimizer group (lr, initial_lr, ...) after ``before`` steps, and a schedule built
    on it with last_epoch=before; PyTorch's and minialex's then agree at every step."""
    torch, first, _ = torch_and_minialex(momentum=0.9)
    warm = getattr(torch.optim.lr_scheduler, name)(first, **kwargs)
    for _ in range(before):
        first.step()
        warm.step()
    group = {k: v for k, v in first.param_groups[0].items() if k != "params"}
    torch, topt, mopt = torch_and_minialex(momentum=0.9)
    topt.param_groups[0].update(group)
    mopt.param_groups[0].update(group)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs, last_epoch=before)
    msched = getattr(optim.lr_scheduler, name)(mopt, **kwargs, last_epoch=before)
    assert_same_steps(tsched, topt, msched, mopt, after, f"{name}{kwargs} from last_epoch={before}")


# --- resuming --------------------------------------------------------------------------------------------------

SCHEDULES = {
    "StepLR": lambda opt: StepLR(opt, step_size=3, gamma=0.5),
    "CosineAnnealingLR": lambda opt: CosineAnnealingLR(opt, T_max=8, eta_min=0.001),
    "LinearLR": lambda opt: LinearLR(opt, start_factor=0.2, total_iters=6),
    "OneCycleLR": lambda opt: OneCycleLR(opt, max_lr=0.5, total_steps=12, three_phase=True),
    "MultiStepLR": lambda opt: MultiStepLR(opt, milestones=[2, 6, 6, 9], gamma=0.5),
    "ExponentialLR": lambda opt: ExponentialLR(opt, gamma=0.7),
    "SequentialLR": lambda opt: SequentialLR(opt, [LinearLR(opt, start_factor=0.1, total_iters=4),
                                                   CosineAnnealingLR(opt, T_max=8)], milestones=[4]),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_state_dicts_resume_the_schedule_exactly(name):
    whole_opt = sgd(0.1, momentum=0.9)
    whole = lrs_of_a_run(SCHEDULES[name](whole_opt), 12)

    opt = sgd(0.1, momentum=0.9)
    sched = SCHEDULES[name](opt)
    first = lrs_of_a_run(sched, 5)
    # through JSON, as a checkpoint's metadata keeps them
    saved = json.loads(json.dumps({"optimizer": {k: v for k, v in opt.state_dict().items() if k != "velocity"},
                                   "scheduler": sched.state_dict()}))
    resumed_opt = sgd(0.1, momentum=0.9)
    resumed = SCHEDULES[name](resumed_opt)  # as PyTorch: build both, then load the optimizer, then the scheduler
    resumed_opt.load_state_dict({**saved["optimizer"], "velocity": [None]})
    resumed.load_state_dict(saved["scheduler"])
    rest = lrs_of_a_run(resumed, 7)
    assert first + rest[1:] == whole
    assert resumed_opt.momentum == whole_opt.momentum  # OneCycleLR's cycled momentum too


def test_a_plateau_schedule_resumes_exactly_through_json():
    metrics = [1.0, 0.8, 0.8, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7, 0.6, 0.6, 0.6]
    whole_opt = sgd(0.1)
    whole = ReduceLROnPlateau(whole_opt, patience=1, factor=0.5, cooldown=1)
    expected = []
    for m in metrics:
        whole.step(m)
        expected.append(whole.get_last_lr()[0])
    opt = sgd(0.1)
    sched = ReduceLROnPlateau(opt, patience=1, factor=0.5, cooldown=1)
    got = []
    for m in metrics[:3]:  # the best so far (0.8) and one bad epoch are in the state
        sched.step(m)
        got.append(sched.get_last_lr()[0])
    saved = json.loads(json.dumps({"lr": opt.lr, "scheduler": sched.state_dict()}))
    resumed_opt = sgd(0.1)
    resumed = ReduceLROnPlateau(resumed_opt, patience=1, factor=0.5, cooldown=1)
    resumed_opt.lr = saved["lr"]
    resumed.load_state_dict(saved["scheduler"])
    for m in metrics[3:]:
        resumed.step(m)
        got.append(resumed.get_last_lr()[0])
    assert got == expected and min(expected) < 0.1


def test_scheduled_optimizer_state_survives_a_checkpoint(tmp_path):
    net = nn.Sequential(nn.Linear(2, 2))
    opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    sched = OneCycleLR(opt, max_lr=0.3, total_steps=10)
    for _ in range(4):
        sched.step()
    checkpoint.save(tmp_path / "c.npz", net, opt, scheduler=sched.state_dict())
    net2 = nn.Sequential(nn.Linear(2, 2))
    opt2 = optim.SGD(net2.parameters(), lr=0.1, momentum=0.9)
    sched2 = OneCycleLR(opt2, max_lr=0.3, total_steps=10)
    meta = checkpoint.restore(tmp_path / "c.npz", net2, opt2)
    sched2.load_state_dict(meta["scheduler"])
    assert (opt2.lr, opt2.momentum) == (opt.lr, opt.momentum)
    assert lrs_of_a_run(sched2, 6) == lrs_of_a_run(sched, 6)


def test_state_dict_is_a_copy():
    sched = StepLR(sgd(), step_size=2)
    state = sched.state_dict()
    state["base_lrs"].append(99.0)
    assert sched.base_lrs == [0.1]


def test_loading_another_schedulers_state_is_refused():
    with pytest.raises(ValueError, match="another kind of scheduler"):
        StepLR(sgd(), step_size=2).load_state_dict(CosineAnnealingLR(sgd(), T_max=3).state_dict())


# --- bad arguments ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda: StepLR(sgd(), step_size=0), "step_size must be a positive int, got 0"),
    (lambda: StepLR(sgd(), step_size=2.5), "step_size must be a positive int, got 2.5"),
    (lambda: StepLR(sgd(), step_size=2, gamma=0), "gamma must be a positive number, got 0"),
    (lambda: CosineAnnealingLR(sgd(), T_max=0), "T_max must be a positive int"),
    (lambda: CosineAnnealingLR(sgd(), T_max=5, eta_min=-1), r"eta_min must be a number >= 0, got -1"),
    (lambda: LinearLR(sgd(), start_factor=0), r"start_factor must be in \(0, 1\], got 0"),
    (lambda: LinearLR(sgd(), end_factor=1.5), r"end_factor must be in \[0, 1\], got 1.5"),
    (lambda: LinearLR(sgd(), total_iters=0), "total_iters must be a positive int"),
    (lambda: OneCycleLR(sgd(), max_lr=0.1), "give total_steps, or both epochs and steps_per_epoch"),
    (lambda: OneCycleLR(sgd(), max_lr=0.1, total_steps=0), "total_steps must be a positive int, got 0"),
    (lambda: OneCycleLR(sgd(), max_lr=0.1, total_steps=10, pct_start=1.5), r"pct_start must be a number in \[0, 1\]"),
    (lambda: OneCycleLR(sgd(), max_lr=0.1, total_steps=10, anneal_strategy="exp"),
     "anneal_strategy must be 'cos' or 'linear', got 'exp'"),
    (lambda: OneCycleLR(sgd(), max_lr=[0.1, 0.2], total_steps=10), "max_lr has 2 values, the optimizer 1 param groups"),
    (lambda: OneCycleLR(sgd(), max_lr=-0.1, total_steps=10), "max_lr must be a positive number"),
    (lambda: OneCycleLR(sgd(), max_lr=0.1, total_steps=10, pct_start=0.1), "leaves a phase of length 0"),
    (lambda: StepLR(object(), step_size=2), "expected an optimizer with param_groups"),
    (lambda: StepLR(sgd(), step_size=2, last_epoch=3), "has no 'initial_lr'. Resuming needs the optimizer's saved"),
    (lambda: StepLR(sgd(), step_size=2, last_epoch=-2), "last_epoch must be an int >= -1"),
    (lambda: MultiStepLR(sgd(), milestones=[]), r"milestones must be a list of ints >= 0, got \[\]"),
    (lambda: MultiStepLR(sgd(), milestones=[2, 1.5]), "milestones must be a list of ints >= 0"),
    (lambda: ExponentialLR(sgd(), gamma=0), "gamma must be a positive number, got 0"),
    (lambda: SequentialLR(sgd(), [], milestones=[]), "expects at least one scheduler"),
    (lambda: SequentialLR(sgd(), [StepLR(sgd(), 2)], milestones=[]), "belongs to another optimizer"),
    (lambda: (lambda o: SequentialLR(o, [StepLR(o, 2), StepLR(o, 3)], milestones=[]))(sgd()),
     r"expected 1 milestones \(ints >= 0"),
    (lambda: (lambda o: SequentialLR(o, [ReduceLROnPlateau(o)], milestones=[]))(sgd()), "cannot be sequenced"),
    (lambda: ReduceLROnPlateau(sgd(), factor=1.0), r"factor must be a number in \[0, 1\), got 1.0"),
    (lambda: ReduceLROnPlateau(sgd(), mode="up"), "mode must be 'min' or 'max', got 'up'"),
    (lambda: ReduceLROnPlateau(sgd(), threshold_mode="pct"), "threshold_mode must be 'rel' or 'abs'"),
    (lambda: ReduceLROnPlateau(sgd(), patience=-1), "patience must be an int >= 0, got -1"),
    (lambda: ReduceLROnPlateau(sgd(), cooldown=1.5), "cooldown must be an int >= 0, got 1.5"),
    (lambda: ReduceLROnPlateau(sgd(), min_lr=[0.1, 0.2]), "min_lr has 2 values, the optimizer 1 param groups"),
    (lambda: ReduceLROnPlateau(sgd()).step("low"), "expected the metric as a number, got 'low'"),
])
def test_bad_arguments_are_clear_value_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()
