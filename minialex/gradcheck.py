"""Compare hand-written backward passes with central finite differences, in float64.

For ``f: inputs -> output``, contract the output with a fixed random tensor ``r`` so one scalar
``L = sum(f(x) * r)`` exercises every output element. Then for each checked input element

    numeric  = (L(x + eps) - L(x - eps)) / (2 eps)          error O(eps^2)
    analytic = dL/dx from backward(r)

and report the worst ``|numeric - analytic| / max(atol, |numeric|, |analytic|)`` and where it is.
:func:`central_difference` is that one numeric step; the exercise checker uses it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .backend import get_backend
from .errors import InputError, InputTypeError
from .tensor import Tensor


class GradcheckError(AssertionError):
    pass


@dataclass
class InputReport:
    name: str
    shape: tuple
    checked: int
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple
    numeric: float
    analytic: float
    ok: bool

    def __str__(self):
        status = "ok" if self.ok else "FAIL"
        return (f"{self.name} {self.shape}: {status}  max rel error {self.max_rel_error:.2e}, max abs error "
                f"{self.max_abs_error:.2e} over {self.checked} elements; worst at {self.worst_index}: "
                f"numeric {self.numeric:.8g}, analytic {self.analytic:.8g}")


@dataclass
class GradcheckResult:
    inputs: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.inputs)

    @property
    def max_rel_error(self) -> float:
        return max((r.max_rel_error for r in self.inputs), default=0.0)

    def __bool__(self):
        return self.ok

    def __str__(self):
        return "\n".join(str(r) for r in self.inputs)


def central_difference(loss, x, index, eps: float) -> float:
    """``(loss() with x[index] + eps  -  loss() with x[index] - eps) / (2 eps)``, changing ``x`` in place and
    putting the element back; error O(eps^2)."""
    original = float(x[index])
    x[index] = original + eps
    plus = loss()
    x[index] = original - eps
    minus = loss()
    x[index] = original
    with np.errstate(invalid="ignore"):  # inf - inf where the loss overflows: NaN, for the caller to report
        return float((plus - minus) / (2 * eps))


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4, max_elements: int | None = None,
              seed: int = 0, names=None, raise_exception: bool = True) -> GradcheckResult:
    """Check ``fn(*inputs)``'s gradient with respect to every input that requires one.

    ``inputs``: float64 Tensors. Every element is perturbed unless ``max_elements`` is given, in which case that
    many randomly chosen elements per input are (for large tensors). An element passes when
    ``|numeric - analytic| <= atol + rtol * |numeric|``. ``fn`` must be deterministic (seed dropout inside it).
    """
    inputs = list(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise InputTypeError(f"gradcheck: input {i} is a {type(t).__name__}, expected a Tensor")
        if t.requires_grad and t.dtype != np.float64:
            raise InputError(f"gradcheck: input {i} has dtype {t.dtype}; finite differences need float64 "
                             "(use model.double() and float64 inputs)")
    names = names or [f"input {i}" for i in range(len(inputs))]
    xp = get_backend().xp
    rng = np.random.default_rng(seed)

    probe = fn(*inputs)
    r = xp.asarray(rng.standard_normal(probe.shape))

    def scalar_loss() -> float:
        return float((fn(*inputs).data * r).sum())

    for t in inputs:
        t.grad = None
    fn(*inputs).backward(r)

    result = GradcheckResult()
    for name, t in zip(names, inputs):
        if not t.requires_grad:
            continue
        analytic = get_backend().to_numpy(t.grad if t.grad is not None else xp.zeros(t.shape))
        count = t.size if max_elements is None else min(max_elements, t.size)
        chosen = np.arange(t.size) if count == t.size else rng.choice(t.size, count, replace=False)
        worst = (-1.0, (0,) * t.ndim, 0.0, 0.0)  # (relative error, index, numeric, analytic)
        max_abs, ok = 0.0, True
        for flat_index in chosen:
            index = tuple(int(i) for i in np.unravel_index(flat_index, t.shape))  # works for any strides
            numeric = central_difference(scalar_loss, t.data, index, eps)
            got = float(analytic[index])
            abs_err = abs(numeric - got)
            max_abs = max(max_abs, abs_err)
            ok &= abs_err <= atol + rtol * abs(numeric)
            rel_err = abs_err / max(atol, abs(numeric), abs(got))
            if rel_err > worst[0]:
                worst = (rel_err, index, numeric, got)
        rel, index, numeric, got = worst
        result.inputs.append(InputReport(name, t.shape, int(count), max_abs, max(rel, 0.0), index, numeric, got, ok))
        t.grad = None

    if raise_exception and not result.ok:
        raise GradcheckError("gradient check failed:\n" + str(result))
    return result
