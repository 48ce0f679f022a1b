"""Check a learner's op, in four steps, and say what is wrong in the words of CS231n's notebooks.

1. shapes      every configuration: the forward returns (outputs..., cache) of the right shapes, the backward one
               gradient per input, shaped like it; neither changes its inputs in place.
2. forward     against the plain-loop definition (:mod:`.loops`).
3. gradients   the learner's backward against central finite differences of the learner's *own* forward,
               in float64: ``L = sum(out * dout)``, ``dL/dx[i] ~ (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)``.
4. library     forward and backward against :mod:`minialex.ops` on fresh random inputs (larger ones too).
5. random      configurations drawn at random from a seed the learner does not see, against the library;
               the first failing one is shrunk to the smallest and printed as a one-line reproduction
               (:mod:`.properties`).

Each comparison reports the worst element: where, expected, got, and its relative error
``|got - expected| / max(atol, |expected|, |got|)``; an element passes when
``|got - expected| <= atol + rtol * |expected|``.
"""

from __future__ import annotations

import importlib.util
import os
import traceback
from dataclasses import dataclass, field

import numpy as np

from ...gradcheck import central_difference
from .catalog import EXERCISES, TAG_HINTS, Case, Exercise

FORWARD_TOLERANCE = dict(atol=1e-8, rtol=1e-6)   # float64 against float64: only rounding differs
GRADIENT_TOLERANCE = dict(atol=1e-6, rtol=1e-5)  # central differences with EPS are good to ~1e-7 here
EPS = 1e-5
SHOWN = 2  # failing configurations printed in full per check


class LearnerError(Exception):
    """The learner's code raised, or returned something of the wrong form; the message says which."""


# --- results -----------------------------------------------------------------------------------------------------

@dataclass
class Comparison:
    name: str
    ok: bool
    max_rel_error: float
    index: tuple
    expected: float
    got: float

    def describe(self, rtol: float) -> str:
        where = "the value" if self.index == () else f"worst element {list(self.index)}"
        return (f"{where}: expected {self.expected:.8g}, got {self.got:.8g}, rel error {self.max_rel_error:.1e} "
                f"(tolerance {rtol:.0e})")


@dataclass
class CheckResult:
    title: str
    status: str                                  # PASS, FAIL, SKIP (an earlier check failed), N/A
    summary: str = ""
    details: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in ("PASS", "N/A")


@dataclass
class Report:
    exercise: str
    path: str
    checks: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def __str__(self) -> str:
        lines = [f"Checking {self.exercise} in {self.path}", ""]
        for i, c in enumerate(self.checks, 1):
            head = f"[{i}/{len(self.checks)}] {c.title} "
            lines.append(f"{head:.<62} {c.status}" + (f"   {c.summary}" if c.summary else ""))
            lines += ["      " + line for d in c.details for line in d.splitlines()]
        passed = sum(c.ok for c in self.checks)
        lines += ["", f"{self.exercise}: all {passed} checks passed." if self.ok else
                  f"{self.exercise}: {passed} of {len(self.checks)} checks passed."]
        return "\n".join(lines)


# --- comparing arrays --------------------------------------------------------------------------------------------

def compare(name: str, got, expected, atol: float, rtol: float) -> Comparison:
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    diff = np.abs(got - expected)
    with np.errstate(invalid="ignore"):
        rel = diff / np.maximum(atol, np.maximum(np.abs(expected), np.abs(got)))
    rel = np.where(np.isnan(rel), np.inf, rel)
    ok = bool(np.all(diff <= atol + rtol * np.abs(expected)))  # NaN compares False: fails
    flat = int(np.argmax(rel)) if rel.size else 0
    index = tuple(int(i) for i in np.unravel_index(flat, rel.shape)) if rel.ndim else ()
    return Comparison(name, ok, float(rel.max(initial=0.0)), index, float(expected[index]), float(got[index]))


def value_hints(name: str, got, expected, batch: int) -> list[str]:
    """What a wrong array's relation to the right one suggests: missing, negated, scaled."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if not np.all(np.isfinite(got)):
        return [f"{name} contains NaN or inf."]
    if not np.any(got) and np.any(expected):
        what = "the gradient" if name.startswith("d") else "it"
        return [f"{name} is zero everywhere: did you compute {what} and return it (not a fresh np.zeros)?"]
    scale = float(np.vdot(got, expected) / np.vdot(expected, expected)) if np.any(expected) else 0.0
    if scale and not np.isclose(scale, 1.0) and np.allclose(got, scale * expected, rtol=1e-6, atol=1e-9):
        if np.isclose(scale, -1.0):
            return [f"{name} has the wrong sign."]
        if batch > 1 and np.isclose(scale, batch):
            return [f"{name} is {batch} times the expected value, the batch size N: is there a sum where the formula "
                    "divides by N?"]
        if batch > 1 and np.isclose(scale, 1 / batch):
            return [f"{name} is 1/{batch} of the expected value, 1/N for the batch size N = {batch}: is there a mean "
                    "where the formula has a sum?"]
        return [f"{name} is {scale:.4g} times the expected value."]
    return []


def tag_hints(failing: list[Case], passing: list[Case]) -> list[str]:
    """The tags every failing configuration has and no passing one has, as hints."""
    if not failing:
        return []
    common = frozenset.intersection(*(c.tags for c in failing))
    seen_ok = frozenset().union(*(c.tags for c in passing))
    return [TAG_HINTS[t] for t in sorted(common - seen_ok) if t in TAG_HINTS]


# --- calling the learner's code ----------------------------------------------------------------------------------

def load_module(path: str):
    if not os.path.isfile(path):
        raise LearnerError(f"no file at {path}")
    spec = importlib.util.spec_from_file_location(f"minialex_exercise_{os.path.basename(path)[:-3]}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise LearnerError(f"{path} does not parse: {e.msg} at line {e.lineno}\n    {(e.text or '').strip()}") \
            from None
    except Exception as e:  # noqa: BLE001 -- whatever the learner's module raises, report it
        raise LearnerError(f"importing {path} failed:\n{_describe_exception(e, path)}") from None
    return module


def _describe_exception(e: BaseException, path: str) -> str:
    frames = [f for f in traceback.extract_tb(e.__traceback__) if os.path.samefile(f.filename, path)] \
        if os.path.exists(path) else []
    where = f"\n  at line {frames[-1].lineno} of {os.path.basename(path)}: {frames[-1].line}" if frames else ""
    return f"  {type(e).__name__}: {e}{where}"


def _call(fn, *args):
    try:
        return fn(*args)
    except NotImplementedError:
        raise LearnerError(f"{fn.__name__} is not written yet (it raises NotImplementedError).") from None
    except Exception as e:  # noqa: BLE001
        raise LearnerError(f"{fn.__name__} raised an error:\n{_describe_exception(e, fn.__code__.co_filename)}") \
            from None


def _kind(value) -> str:
    if isinstance(value, tuple):
        return f"a tuple of {len(value)} values"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return "None" if value is None else f"a {type(value).__name__}"


def _copies(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


class Learner:
    """The learner's functions, called the way the exercise defines them, with their results checked for form."""

    def __init__(self, exercise: Exercise, module):
        self.ex = exercise
        missing = [f for f in exercise.functions if not callable(getattr(module, f, None))]
        if missing:
            raise LearnerError(f"{module.__file__} has no function {' or '.join(missing)}; keep the names of the "
                               "skeleton")
        self.forward_fn = getattr(module, exercise.forward)
        self.backward_fn = getattr(module, exercise.backward) if exercise.backward else None

    def forward(self, args):
        """-> (outputs as a tuple of float64-or-not arrays, cache)."""
        ex = self.ex
        result = _call(self.forward_fn, *args)
        names = ex.outputs + (("cache",) if ex.backward else ())
        if not isinstance(result, tuple) or len(result) != len(names):
            raise LearnerError(f"{ex.forward} must return ({', '.join(names)}); it returned {_kind(result)}.")
        for name, value in zip(ex.outputs, result):
            if value is None:
                raise LearnerError(f"{ex.forward} returned None for {name}.")
        outputs = tuple(np.asarray(v) for v in result[:len(ex.outputs)])
        return outputs, (result[-1] if ex.backward else None)

    def backward(self, dout, cache):
        """-> the gradients as a tuple, in the order of ``exercise.grads``."""
        ex = self.ex
        result = _call(self.backward_fn, dout, cache)
        names = [f"d{g}" for g in ex.grads]
        if len(names) == 1 and not isinstance(result, tuple):
            result = (result,)
        if not isinstance(result, tuple) or len(result) != len(names):
            raise LearnerError(f"{ex.backward} must return {', '.join(names)}; it returned {_kind(result)}.")
        for name, value in zip(names, result):
            if value is None:
                raise LearnerError(f"{ex.backward} returned None for {name}.")
        return tuple(np.asarray(g) for g in result)


def _describe_case(ex: Exercise, case: Case) -> str:
    parts = [f"{n} {a.shape}" if isinstance(a, np.ndarray) else f"{n} {a}" for n, a in zip(ex.params, case.args)]
    return f'"{case.label}" ({", ".join(parts)})'


def _batch(case: Case) -> int:
    first = case.args[0]
    return first.shape[0] if isinstance(first, np.ndarray) and first.ndim >= 2 else 1


def _dout(rng, shape):
    """A random upstream gradient; a Python float for a scalar output (a loss)."""
    return float(rng.standard_normal()) if shape == () else rng.standard_normal(shape)


# --- the four checks ---------------------------------------------------------------------------------------------

def check_shapes(learner: Learner, cases) -> CheckResult:
    ex, rng = learner.ex, np.random.default_rng(2)
    failures, passing = [], []
    for case in cases:
        problems = []
        try:
            expected, _ = ex.library(_copies(case.args), None)
            args = _copies(case.args)
            outputs, cache = learner.forward(args)
            problems += _changed(ex.forward, ex.params, args, case.args) if ex.pure else []
            for name, got, want in zip(ex.outputs, outputs, expected):
                if got.shape != want.shape:
                    problems.append(f"{name} has shape {got.shape}, expected {want.shape}")
                elif got.dtype != np.float64:
                    problems.append(f"{name} has dtype {got.dtype}; keep float64 (the inputs are float64)")
            if ex.backward and not problems:
                dout = _dout(rng, expected[0].shape)
                dout_arg = _copies((dout,))[0]
                grads = learner.backward(dout_arg, cache)
                problems += _changed(ex.backward, ("dout",), (dout_arg,), (dout,))
                inputs = [case.args[ex.params.index(g)] for g in ex.grads]
                for g, got, x in zip(ex.grads, grads, inputs):
                    if got.shape != x.shape:
                        problems.append(f"d{g} has shape {got.shape}, expected {x.shape} (the shape of {g})"
                                        + ("; it is transposed" if got.ndim == 2 and got.shape == x.shape[::-1]
                                           else ""))
        except LearnerError as e:
            problems.append(str(e))
        (failures if problems else passing).append((case, problems))
    if not failures:
        return CheckResult(f"shapes on {len(cases)} configs", "PASS")
    details = []
    groups = {}  # the same problems on several configs are printed once
    for case, problems in failures:
        groups.setdefault(tuple(problems), []).append(case)
    for problems, group in list(groups.items())[:SHOWN]:
        where = f"on {_describe_case(ex, group[0])}" if len(group) == 1 else \
            f"on all {len(cases)} configs" if len(group) == len(cases) else \
            f"on {len(group)} configs, e.g. {_describe_case(ex, group[0])}"
        details += [where + ":"] + ["  " + p for p in problems]
    if len(groups) > SHOWN:
        details.append(f"... and {len(groups) - SHOWN} more kinds of problem")
    if ex.shape_rule and any("has shape" in p for problems in groups for p in problems):
        details.append(f"rule: {ex.shape_rule}")
    details += ["hint: " + h for h in tag_hints([c for c, _ in failures], [c for c, _ in passing])]
    return CheckResult(f"shapes on {len(cases)} configs", "FAIL",
                       f"{len(failures)} of {len(cases)} configs wrong", details)


def _changed(fn_name, params, after, before) -> list[str]:
    return [f"{fn_name} changed its input {name} in place; compute new arrays instead"
            for name, a, b in zip(params, after, before)
            if isinstance(b, np.ndarray) and not np.array_equal(a, b, equal_nan=True)]


def _comparison_result(title: str, ex: Exercise, records, rtol: float) -> CheckResult:
    """records: (case, Comparison or LearnerError, hints). Summarise as one check."""
    names = list(dict.fromkeys(c.name for _, c, _ in records if isinstance(c, Comparison)))
    worst = {n: max(c.max_rel_error for _, c, _ in records if isinstance(c, Comparison) and c.name == n)
             for n in names}
    summary = "max rel error " + ", ".join(f"{n} {e:.1e}" for n, e in worst.items())
    failed = [r for r in records if not isinstance(r[1], Comparison) or not r[1].ok]
    if not failed:
        return CheckResult(title, "PASS", summary)
    details, shown, errors = [], [], {}
    for case, c, hints in failed:
        if isinstance(c, LearnerError):  # an error that every config raises is printed once
            errors.setdefault(str(c), []).append(case)
            if len(errors[str(c)]) > 1:
                continue
        shown.append((case, c, hints))
    for case, c, hints in shown[:SHOWN]:
        if isinstance(c, LearnerError):
            count = len(errors[str(c)])
            where = _describe_case(ex, case) if count == 1 else f"{count} configs, e.g. {_describe_case(ex, case)}"
            details += [f"on {where}:", "  " + str(c).replace("\n", "\n  ")]
        else:
            details += [f"{c.name} on {_describe_case(ex, case)}:", "  " + c.describe(rtol)]
            details += ["  hint: " + h for h in hints]
    if len(shown) > SHOWN:
        more = len(shown) - SHOWN
        details.append(f"... and {more} more failure{'s' if more > 1 else ''}")
    for name in dict.fromkeys(c.name for _, c, _ in failed if isinstance(c, Comparison)):
        bad = {id(case): case for case, c, _ in failed if isinstance(c, Comparison) and c.name == name}
        good = [case for case, c, _ in records if isinstance(c, Comparison) and c.name == name and c.ok]
        details += [f"hint ({name}): {h}" for h in tag_hints(list(bad.values()), good)]
    return CheckResult(title, "FAIL", summary if names else "", details)


def _compare_all(ex, case, names, got, expected, tolerance, hint=True):
    records = []
    for name, g, e in zip(names, got, expected):
        c = compare(name, g, e, **tolerance)
        hints = [] if c.ok or not hint else value_hints(name, g, e, _batch(case)) + \
            (ex.hints(name, g, e, case) if ex.hints else [])
        records.append((case, c, hints))
    return records


def check_forward(learner: Learner, cases) -> CheckResult:
    ex, records = learner.ex, []
    for case in cases:
        try:
            got, _ = learner.forward(_copies(case.args))
        except LearnerError as e:
            records.append((case, e, []))
            continue
        expected = ex.loop(*_copies(case.args))
        expected = expected if isinstance(expected, tuple) else (expected,)
        records += _compare_all(ex, case, ex.outputs, got, expected, FORWARD_TOLERANCE)
    return _comparison_result("forward vs a plain-loop reference", ex, records, FORWARD_TOLERANCE["rtol"])


def numeric_gradient(f, args, position, dout, eps=EPS):
    """d sum(f(args) * dout) / d args[position], element by element with central differences."""
    args = list(_copies(args))
    x = args[position]
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):  # an overflowing forward gives NaN here, reported by the comparison
        grad[index] = central_difference(lambda: np.sum(f(args) * dout), x, index, eps)
    return grad


def check_gradients(learner: Learner, cases) -> CheckResult:
    ex, rng, records = learner.ex, np.random.default_rng(3), []
    title = "gradient check (float64, central differences)"
    if ex.backward is None:
        return CheckResult(title, "N/A", f"{ex.name} has no backward")
    for case in cases:
        try:
            outputs, cache = learner.forward(_copies(case.args))
            dout = _dout(rng, outputs[0].shape)
            grads = learner.backward(_copies((dout,))[0], cache)
            f = lambda args: learner.forward(_copies(args))[0][0]  # noqa: E731
            numeric = [numeric_gradient(f, case.args, ex.params.index(g), dout) for g in ex.grads]
        except LearnerError as e:
            records.append((case, e, []))
            continue
        records += _compare_all(ex, case, [f"d{g}" for g in ex.grads], grads, numeric, GRADIENT_TOLERANCE)
    return _comparison_result(title, ex, records, GRADIENT_TOLERANCE["rtol"])


def check_library(learner: Learner, cases) -> CheckResult:
    ex, rng, records = learner.ex, np.random.default_rng(4), []
    module = "minialex.optim.SGD" if ex.backward is None else f"minialex.ops.{ex.op or ex.name}"
    for case in cases:
        try:
            outputs, cache = learner.forward(_copies(case.args))
            dout = _dout(rng, outputs[0].shape) if ex.backward else None
            expected_out, expected_grads = ex.library(_copies(case.args), dout)
            grads = learner.backward(_copies((dout,))[0], cache) if ex.backward else ()
        except LearnerError as e:
            records.append((case, e, []))
            continue
        records += _compare_all(ex, case, ex.outputs, outputs, expected_out, FORWARD_TOLERANCE)
        records += _compare_all(ex, case, [f"d{g}" for g in ex.grads], grads, expected_grads, FORWARD_TOLERANCE)
    return _comparison_result(f"same as {module} on random inputs", ex, records, FORWARD_TOLERANCE["rtol"])


def random_case_runner(learner: Learner):
    """args -> None when the learner's forward and backward equal the library's on them, else what differs."""
    ex = learner.ex

    def run(args):
        try:
            outputs, cache = learner.forward(_copies(args))
            dout = _dout(np.random.default_rng(5), outputs[0].shape) if ex.backward else None
            expected_out, expected_grads = ex.library(_copies(args), dout)
            grads = learner.backward(_copies((dout,))[0], cache) if ex.backward else ()
        except LearnerError as e:
            return str(e)
        names = list(ex.outputs) + [f"d{g}" for g in ex.grads]
        for name, got, want in zip(names, list(outputs) + list(grads), list(expected_out) + list(expected_grads)):
            want = np.asarray(want)
            if got.shape != want.shape:
                return f"{name} has shape {got.shape}, expected {want.shape}"
            c = compare(name, got, want, **FORWARD_TOLERANCE)
            if not c.ok:
                return f"{name}: {c.describe(FORWARD_TOLERANCE['rtol'])}"
        return None
    return run


def check_random(learner: Learner) -> CheckResult:
    from .properties import DRAWS, SPACES, case_line, search
    title = f"{DRAWS} random configurations vs the library"
    if learner.ex.name not in SPACES:
        return CheckResult(title, "N/A", "no random configurations for this exercise")
    tried, failed = search(random_case_runner(learner), SPACES[learner.ex.name])
    if failed is None:
        return CheckResult(title, "PASS", f"{tried} drawn afresh, all equal")
    params, message = failed
    return CheckResult(title, "FAIL", "a drawn configuration differs; the smallest that still does:", [
        case_line(params), "  " + message.replace("\n", "\n  "),
        f"reproduce it: minialex exercise check {learner.ex.name} --case \"{case_line(params)}\""])


def check(name: str, path: str) -> Report:
    """Run the five checks on the learner's file ``path`` for exercise ``name``."""
    from ...backend import backend
    ex = EXERCISES[name]
    report = Report(name, path)
    try:
        learner = Learner(ex, load_module(path))
    except LearnerError as e:
        report.checks.append(CheckResult(f"load {os.path.basename(path)}", "FAIL", details=[str(e)]))
        return report
    with backend("numpy"):  # the library's reference engine: NumPy arrays in, NumPy arrays out
        cases = ex.cases(np.random.default_rng(0))
        shapes = check_shapes(learner, cases)
        report.checks.append(shapes)
        later = [("forward vs a plain-loop reference", check_forward, [c for c in cases if c.small]),
                 ("gradient check (float64, central differences)", check_gradients, [c for c in cases if c.small]),
                 ("same as the library on random inputs", check_library, ex.cases(np.random.default_rng(1)))]
        for title, run, subset in later:
            report.checks.append(run(learner, subset) if shapes.ok else
                                 CheckResult(title, "SKIP", "fix the shapes first"))
        report.checks.append(check_random(learner) if shapes.ok else
                             CheckResult("random configurations vs the library", "SKIP", "fix the shapes first"))
    return report
