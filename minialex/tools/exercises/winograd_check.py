"""Check the Winograd exercises: the transforms, the algorithm, its multiplies, and its float32 error.

winograd1d  F(2, 3) on a 1-D signal: transforms, forward, backward, multiplies, float32 error.
winograd2d  F(2x2, 3x3) as a conv2d layer (stride 1, 3x3): transforms, shapes, forward and backward against
            minialex's conv2d, random configurations, multiplies against im2col's, float32 error beside im2col's.

The transforms are checked by the identity they must satisfy, not against one set of matrices (any scaling
of G's rows against B^T's that keeps the product is as right): for all d, g,
``A^T [(G g) * (B^T d)] = [d0 g0 + d1 g1 + d2 g2, d1 g0 + d2 g1 + d3 g2]``. That identity is bilinear, so it
is a tensor ``K[o, i, j]`` (the coefficient of d_i g_j in y_o) computed from the three matrices exactly; when it
is wrong the report prints what your y0 and y1 are, and if changing one entry would make it right, which entry
and to what (a sign lost in the derivation is the usual one).

Multiplies are counted by :mod:`.counting`: the data and the filter go in as tracked arrays and every multiply
of something data-dependent by something filter-dependent is counted.
"""

from __future__ import annotations

import os

import numpy as np

from .checker import FORWARD_TOLERANCE, CheckResult, LearnerError, Report, _call, _kind, compare, load_module
from .counting import count_multiplies

FUNCTIONS = {"winograd1d": ("f23_transforms", "winograd_conv1d_forward", "winograd_conv1d_backward"),
             "winograd2d": ("f23_transforms", "winograd_conv2d_forward", "winograd_conv2d_backward")}
SUMMARIES = {"winograd1d": "Winograd F(2,3) in 1-D: derive B^T, G, A^T; 4 multiplies for 2 outputs, and back",
             "winograd2d": "a 3x3 conv layer by F(2x2,3x3), forward and backward: 16 multiplies per 2x2 block"}
SHAPES = (("BT", (4, 4)), ("G", (4, 3)), ("AT", (2, 4)))
FLOAT32_LIMIT = 1e-4  # max error / max|y| allowed in float32; im2col's is ~1e-7, minialex's F(4x4) ~1e-6


# --- the transforms ------------------------------------------------------------------------------------------

def target() -> np.ndarray:
    """K[o, i, j] = 1 where d_i g_j appears in y_o of a 3-tap correlation: i = o + j."""
    k = np.zeros((2, 4, 3))
    for o in range(2):
        for j in range(3):
            k[o, o + j, j] = 1
    return k


def bilinear(bt, g, at) -> np.ndarray:
    """K[o, i, j] = sum_a AT[o, a] G[a, j] BT[a, i]: y_o = sum K[o, i, j] d_i g_j."""
    return np.einsum("oa,aj,ai->oij", at, g, bt)


def expression(k_o) -> str:
    terms = []
    for (i, j), v in np.ndenumerate(k_o):
        if abs(v) > 1e-12:
            coefficient = "" if np.isclose(abs(v), 1) else f"{abs(v):.4g} "
            terms.append(("- " if v < 0 else "+ ") + f"{coefficient}d{i} g{j}")
    text = " ".join(terms).lstrip("+ ")
    return text or "0"


def one_entry_fix(mats) -> str | None:
    """If changing one entry of one matrix makes the identity hold, say which and to what."""
    want = target()
    for index, (name, _) in enumerate(SHAPES):
        for pos in np.ndindex(mats[index].shape):
            unit, zero = [m.copy() for m in mats], [m.copy() for m in mats]
            unit[index][pos], zero[index][pos] = 1.0, 0.0
            base, slope = bilinear(*zero), bilinear(*unit) - bilinear(*zero)
            if not np.any(slope):
                continue
            value = float(np.vdot(slope, want - base) / np.vdot(slope, slope))
            if np.allclose(base + value * slope, want, atol=1e-10):
                old = mats[index][pos]
                what = "has the wrong sign" if np.isclose(value, -old) else f"should be {value:.4g}"
                return f"{name}[{pos[0]}, {pos[1]}] {what}: with {value:.4g} there instead of {old:.4g} the " \
                       "identity holds"
    return None


def check_transforms(module) -> CheckResult:
    title = "transforms: A^T [(G g) * (B^T d)] = the correlation"
    try:
        mats = _call(module.f23_transforms)
    except LearnerError as e:
        return CheckResult(title, "FAIL", details=[str(e)])
    if not isinstance(mats, tuple) or len(mats) != 3:
        return CheckResult(title, "FAIL", details=[f"f23_transforms must return (BT, G, AT); it returned "
                                                   f"{_kind(mats)}"])
    mats = [np.asarray(m, dtype=np.float64) for m in mats]
    wrong = [f"{name} has shape {m.shape}, expected {shape}" for (name, shape), m in zip(SHAPES, mats)
             if m.shape != shape]
    if wrong:
        return CheckResult(title, "FAIL", details=wrong + ["BT is B^T (4 x 4), G (4 x 3), AT is A^T (2 x 4)"])
    got, want = bilinear(*mats), target()
    if np.allclose(got, want, atol=1e-10):
        return CheckResult(title, "PASS", "exact for every d and g")
    details = [f"yours gives y{o} = {expression(got[o])}" for o in range(2) if not np.allclose(got[o], want[o])]
    details += [f"      expected y{o} = {expression(want[o])}" for o in range(2) if not np.allclose(got[o], want[o])]
    fix = one_entry_fix(mats)
    if fix:
        details.append("hint: " + fix)
    elif np.allclose(bilinear(mats[0].T, *mats[1:]), want, atol=1e-10):
        details.append("hint: with BT transposed the identity holds: you returned B, not B^T")
    else:
        details.append("hint: derive each matrix from the points 0, 1, -1, infinity (docs/winograd.md): G evaluates "
                       "g, B^T is the transposed inverse of the data's evaluation, A^T evaluates the outputs")
    return CheckResult(title, "FAIL", "the identity does not hold", details)


# --- shared pieces ---------------------------------------------------------------------------------------------

def _result(title: str, records: list, failures: list, rtol: float = FORWARD_TOLERANCE["rtol"]) -> CheckResult:
    """records: (label, Comparison); failures: (label, message) of calls that went wrong."""
    worst = {}
    for _, c in records:
        worst[c.name] = max(worst.get(c.name, 0.0), c.max_rel_error)
    summary = "max rel error " + ", ".join(f"{n} {e:.1e}" for n, e in worst.items()) if worst else ""
    bad = [(label, f"{c.name}: {c.describe(rtol)}") for label, c in records if not c.ok] + failures
    if not bad:
        return CheckResult(title, "PASS", summary)
    details = []
    for label, message in bad[:3]:
        details += [f"on {label}:", "  " + message.replace("\n", "\n  ")]
    if len(bad) > 3:
        details.append(f"... and {len(bad) - 3} more")
    return CheckResult(title, "FAIL", summary, details)


def _pair(result, fn_name: str, names):
    if not isinstance(result, tuple) or len(result) != len(names):
        raise LearnerError(f"{fn_name} must return ({', '.join(names)}); it returned {_kind(result)}")
    if names[-1] == "cache":
        return (np.asarray(result[0]),) + tuple(result[1:])
    return tuple(np.asarray(r) for r in result)


def _float32_error(fn, exact, *args):
    y32 = np.asarray(fn(*args))
    if y32.dtype != np.float32:
        raise LearnerError(f"float32 inputs gave a {y32.dtype} result: the arithmetic ran in {y32.dtype}, so its "
                           "float32 error says nothing; cast the transforms to the input's dtype (m.astype(x.dtype))")
    return float(np.abs(y32.astype(np.float64) - exact).max() / np.abs(exact).max())


# --- winograd1d -------------------------------------------------------------------------------------------------

def correlate(d, g):
    return np.array([d[i] * g[0] + d[i + 1] * g[1] + d[i + 2] * g[2] for i in range(len(d) - 2)])


def correlate_backward(d, g, dy):
    dd, dg = np.zeros(len(d)), np.zeros(3)
    for i in range(len(dy)):
        for k in range(3):
            dd[i + k] += dy[i] * g[k]
            dg[k] += dy[i] * d[i + k]
    return dd, dg


LENGTHS = (3, 4, 5, 6, 9, 10, 17)


def check_1d(module, rng) -> list[CheckResult]:
    forward, backward = module.winograd_conv1d_forward, module.winograd_conv1d_backward
    fwd, bwd, fwd_fail, bwd_fail = [], [], [], []
    for length in LENGTHS:
        label = f"L = {length} ({length - 2} outputs)"
        d, g, dy = rng.standard_normal(length), rng.standard_normal(3), rng.standard_normal(length - 2)
        try:
            y, cache = _pair(_call(forward, d.copy(), g.copy()), "winograd_conv1d_forward", ("y", "cache"))
        except LearnerError as e:
            fwd_fail.append((label, str(e)))
            continue
        if y.shape != (length - 2,):
            fwd_fail.append((label, f"y has shape {y.shape}, expected {(length - 2,)}"))
            continue
        fwd.append((label, compare("y", y, correlate(d, g), **FORWARD_TOLERANCE)))
        try:
            grads = _pair(_call(backward, dy.copy(), cache), "winograd_conv1d_backward", ("dd", "dg"))
        except LearnerError as e:
            bwd_fail.append((label, str(e)))
            continue
        for name, got, want in zip(("dd", "dg"), grads, correlate_backward(d, g, dy)):
            if got.shape != want.shape:
                bwd_fail.append((label, f"{name} has shape {got.shape}, expected {want.shape}"))
            else:
                bwd.append((label, compare(name, got, want, **FORWARD_TOLERANCE)))
    forward_result = _result(f"forward on {len(LENGTHS)} lengths vs the plain correlation", fwd, fwd_fail)
    backward_result = _result("backward (dd, dg) vs the plain correlation's", bwd, bwd_fail)
    if backward_result.status == "FAIL" and all(c.ok for _, c in bwd if c.name == "dg") and \
            any(not c.ok for _, c in bwd if c.name == "dd"):
        backward_result.details.append("hint: dg is right and dd is not: tiles overlap by two inputs, so an input "
                                       "read by two tiles gets the sum of both tiles' gradients (+=, np.add.at)")
    if not forward_result.ok:
        return [forward_result, CheckResult(backward_result.title, "SKIP", "fix the forward first")]
    return [forward_result, backward_result]


def check_1d_multiplies(module, rng) -> CheckResult:
    length = 18
    n_out, tiles = length - 2, (length - 1) // 2
    title = "multiplies: data x filter, counted"
    try:
        result, tally = count_multiplies(module.winograd_conv1d_forward, rng.standard_normal(length),
                                         rng.standard_normal(3), call=_call)
    except LearnerError as e:
        return CheckResult(title, "FAIL", details=[str(e)])
    return _multiplies_verdict(title, tally, n_out, 4 * tiles, 3 * n_out, "per output", "direct")


def _multiplies_verdict(title, tally, outputs, winograd, direct, unit, direct_name) -> CheckResult:
    count = tally.multiplies
    summary = f"yours {count / outputs:.3g} {unit}, {direct_name} {direct / outputs:.3g}"
    if tally.uncounted:
        return CheckResult(title, "FAIL", "not countable", [
            f"data and filter meet in {', '.join(sorted(tally.uncounted))}, which the counter cannot see into; "
            "write the transform-domain product as an array operation, M = U * V (or np.einsum)"])
    if count == 0:
        return CheckResult(title, "FAIL", "none counted", [
            "no multiply of data by filter was seen: was the product done outside NumPy (float(), .item(), "
            "math.*)? Keep M = U * V on the arrays"])
    if count > winograd:
        return CheckResult(title, "FAIL", summary, [
            f"{count} multiplies for {outputs} outputs; Winograd needs {winograd}"
            + (f" (the {direct_name} method needs {direct})" if count >= direct else "")
            + ": transform the filter once (U = G g), and let only the element-wise product M = U * V multiply "
              "data by filter"])
    return CheckResult(title, "PASS", summary + f" ({count} for {outputs} outputs, {direct / count:.2f}x fewer)")


def check_1d_float32(module, rng) -> CheckResult:
    d, g = rng.standard_normal(1002), rng.standard_normal(3)
    exact = correlate(d, g)
    title = "float32 error (max error / max|y|, 1000 outputs)"
    try:
        yours = _float32_error(lambda *a: _call(module.winograd_conv1d_forward, *a)[0], exact,
                               d.astype(np.float32), g.astype(np.float32))
    except LearnerError as e:
        return CheckResult(title, "FAIL", details=[str(e)])
    direct = _float32_error(correlate, exact, d.astype(np.float32), g.astype(np.float32))
    return CheckResult(title, "PASS" if yours <= FLOAT32_LIMIT else "FAIL",
                       f"yours {yours:.1e}, direct {direct:.1e}")


# --- winograd2d -------------------------------------------------------------------------------------------------

CONFIGS_2D = [
    ("1 image, 1 channel, 4x4: one tile", (1, 1, 4, 4), 1, 0),
    ("5x5, no padding: 3x3 outputs, the last tiles cropped", (1, 2, 5, 5), 2, 0),
    ("2 images, 6x7, padding 1", (2, 3, 6, 7), 4, 1),
    ("3x3 input, padding 2", (1, 2, 3, 3), 2, 2),
    ("AlexNet's conv3, small: 8 -> 16 channels, 7x7, padding 1", (2, 8, 7, 7), 16, 1),
]


def library_conv2d(x, w, b, padding, dout=None):
    """minialex's conv2d (im2col) in float64: out, and (dx, dw, db) for ``dout``."""
    from ... import ops
    from ...autograd import Tensor
    tx, tw, tb = (Tensor(a, requires_grad=True) for a in (x, w, b))
    out = ops.conv2d(tx, tw, tb, 1, padding, algorithm="im2col")
    if dout is None:
        return out.numpy(), None
    out.backward(np.asarray(dout, dtype=out.dtype))
    return out.numpy(), (tx.grad, tw.grad, tb.grad)


def _draw_2d(rng, shape, f):
    return rng.standard_normal(shape), rng.standard_normal((f, shape[1], 3, 3)), rng.standard_normal(f)


def run_2d(module, x, w, b, padding, rng):
    """(label-free) comparisons of one configuration: list of Comparisons, or raises LearnerError."""
    out, cache = _pair(_call(module.winograd_conv2d_forward, x.copy(), w.copy(), b.copy(), padding),
                       "winograd_conv2d_forward", ("out", "cache"))
    dout = rng.standard_normal(library_conv2d(x, w, b, padding)[0].shape)
    expected_out, expected_grads = library_conv2d(x, w, b, padding, dout)
    if out.shape != expected_out.shape:
        raise LearnerError(f"out has shape {out.shape}, expected {expected_out.shape} (oh = H + 2*padding - 2)")
    grads = _pair(_call(module.winograd_conv2d_backward, dout.copy(), cache), "winograd_conv2d_backward",
                  ("dx", "dw", "db"))
    for name, got, want in zip(("dx", "dw", "db"), grads, expected_grads):
        if got.shape != want.shape:
            raise LearnerError(f"{name} has shape {got.shape}, expected {want.shape}")
    forward = [compare("out", out, expected_out, **FORWARD_TOLERANCE)]
    backward = [compare(n, g, e, **FORWARD_TOLERANCE) for n, g, e in zip(("dx", "dw", "db"), grads, expected_grads)]
    return forward, backward


def check_2d(module, rng) -> list[CheckResult]:
    fwd, bwd, failures = [], [], []
    for label, shape, f, padding in CONFIGS_2D:
        x, w, b = _draw_2d(rng, shape, f)
        where = f'"{label}" (x {shape}, w {(f, shape[1], 3, 3)}, padding {padding})'
        try:
            forward, backward = run_2d(module, x, w, b, padding, rng)
        except LearnerError as e:
            failures.append((where, str(e)))
            continue
        fwd += [(where, c) for c in forward]
        bwd += [(where, c) for c in backward]
    if failures:
        shapes = _result(f"shapes and calls on {len(CONFIGS_2D)} configs", [], failures)
        return [shapes] + [CheckResult(t, "SKIP", "fix the shapes first") for t in
                           ("forward vs minialex.ops.conv2d", "backward vs minialex.ops.conv2d")]
    forward_result = _result("forward vs minialex.ops.conv2d", fwd, [])
    backward_result = _result("backward vs minialex.ops.conv2d", bwd, [])
    if backward_result.status == "FAIL" and all(c.ok for _, c in bwd if c.name != "dx"):
        backward_result.details.append("hint: dw and db are right and dx is not: a 4x4 tile is read every 2 pixels, "
                                       "so tiles overlap; scatter dD back with += (and cut the padding off again)")
    return [CheckResult(f"shapes and calls on {len(CONFIGS_2D)} configs", "PASS"), forward_result, backward_result]


def check_2d_random(module) -> CheckResult:
    from .properties import DRAWS, Space, case_line, search
    space = Space({"n": (1, 3), "c": (1, 3), "h": (1, 7), "w": (1, 7), "f": (1, 3), "padding": (0, 2)},
                  lambda p, rng: None if min(p["h"], p["w"]) + 2 * p["padding"] < 3 else
                  _draw_2d(rng, (p["n"], p["c"], p["h"], p["w"]), p["f"]) + (p["padding"],))

    def run(args):
        x, w, b, padding = args
        try:
            forward, backward = run_2d(module, x, w, b, padding, np.random.default_rng(5))
        except LearnerError as e:
            return str(e)
        bad = [c for c in forward + backward if not c.ok]
        return f"{bad[0].name}: {bad[0].describe(FORWARD_TOLERANCE['rtol'])}" if bad else None

    title = f"{DRAWS} random configurations vs minialex.ops.conv2d"
    tried, failed = search(run, space)
    if failed is None:
        return CheckResult(title, "PASS", f"{tried} drawn afresh, all equal")
    params, message = failed
    return CheckResult(title, "FAIL", "a drawn configuration differs; the smallest that still does:",
                       [case_line(params), "  " + message])


def check_2d_multiplies(module, rng) -> CheckResult:
    n, c, h, w, f, padding = 2, 3, 8, 8, 4, 1
    oh, ow = h + 2 * padding - 2, w + 2 * padding - 2
    tiles = -(-oh // 2) * -(-ow // 2)
    title = "multiplies: data x filter, counted against im2col's"
    try:
        _, tally = count_multiplies(module.winograd_conv2d_forward, rng.standard_normal((n, c, h, w)),
                                    rng.standard_normal((f, c, 3, 3)), rng.standard_normal(f), padding, call=_call)
    except LearnerError as e:
        return CheckResult(title, "FAIL", details=[str(e)])
    per = n * f * c * oh * ow  # outputs x input channels
    return _multiplies_verdict(title, tally, per, n * f * c * tiles * 16, per * 9,
                               "per output and input channel", "im2col")


def check_2d_float32(module, rng) -> CheckResult:
    from ... import ops
    from ...autograd import Tensor
    x, w, b = _draw_2d(rng, (2, 16, 12, 12), 16)
    exact = library_conv2d(x, w, b, 1)[0]
    f32 = [a.astype(np.float32) for a in (x, w, b)]
    title = "float32 error (max error / max|y|, a 16 -> 16 channel layer)"
    try:
        yours = _float32_error(lambda *a: _call(module.winograd_conv2d_forward, *a)[0], exact, *f32, 1)
    except LearnerError as e:
        return CheckResult(title, "FAIL", details=[str(e)])
    im2col = _float32_error(lambda *a: ops.conv2d(*(Tensor(v) for v in a), 1, 1, algorithm="im2col").numpy(),
                            exact, *f32)
    return CheckResult(title, "PASS" if yours <= FLOAT32_LIMIT else "FAIL",
                       f"yours {yours:.1e}, minialex's im2col {im2col:.1e}")


# --- the report --------------------------------------------------------------------------------------------------

def check(name: str, path: str) -> Report:
    from ...backend import backend
    report = Report(name, path)
    try:
        module = load_module(path)
        missing = [f for f in FUNCTIONS[name] if not callable(getattr(module, f, None))]
        if missing:
            raise LearnerError(f"{path} has no function {' or '.join(missing)}; keep the names of the skeleton")
    except LearnerError as e:
        report.checks.append(CheckResult(f"load {os.path.basename(path)}", "FAIL", details=[str(e)]))
        return report
    rng = np.random.default_rng(int.from_bytes(os.urandom(4), "little"))
    transforms = check_transforms(module)
    report.checks.append(transforms)
    with backend("numpy"):
        if name == "winograd1d":
            later = (lambda: check_1d(module, rng), lambda: [check_1d_multiplies(module, rng)],
                     lambda: [check_1d_float32(module, rng)])
            titles = ["forward", "backward", "multiplies", "float32 error"]
        else:
            later = (lambda: check_2d(module, rng), lambda: [check_2d_random(module)],
                     lambda: [check_2d_multiplies(module, rng)], lambda: [check_2d_float32(module, rng)])
            titles = ["shapes", "forward", "backward", "random configurations", "multiplies", "float32 error"]
        if not transforms.ok:
            report.checks += [CheckResult(t, "SKIP", "fix the transforms first") for t in titles]
            return report
        for step in later:
            results = step()
            report.checks += results
            if any(not r.ok and r.title.startswith(("forward", "shapes")) for r in results):
                done = len(report.checks) - 1
                report.checks += [CheckResult(t, "SKIP", "fix the forward first") for t in titles[done:]]
                break
    return report
