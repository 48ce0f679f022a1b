"""Check the autograd exercise: the learner's engine runs on graphs of minialex's real ops.

The seam is the graph minialex already records (:class:`minialex.tensor.Node`): the checker builds a graph
with the library's ops, hands its root to the learner's ``topological_order`` / ``backward``, and compares
the leaves' ``.grad`` with what ``loss.backward()`` gives on an identical graph. To see *how* a walk went,
the graphs are built inside :func:`minialex.tensor.observe_ops`, whose observer wraps each op's closure to
log when it runs and with which gradient -- the hook tools use, so tensor.py is not touched.

The classic bugs are named by their symptom: a node listed before one of its parents (or twice, or never),
a closure that ran before every consumer had passed its gradient, a closure that ran twice (the graph walked
twice), a gradient overwritten (``=``) where a tensor feeds several ops (``+=``), a leaf's .grad replaced
instead of accumulated, and recursion too deep for a 5000-op chain.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .checker import FORWARD_TOLERANCE, CheckResult, LearnerError, Report, _describe_exception, compare, load_module

FUNCTIONS = {"autograd": ("topological_order", "backward")}
SUMMARIES = {"autograd": "the engine of loss.backward(): topological order, the backward walk, accumulation"}
DEEP = 5000  # ops in the deep chain: five times Python's default recursion limit


@dataclass
class Graph:
    """A loss built from minialex ops, its leaves by name, and the log of its closures' calls."""
    label: str
    loss: object
    leaves: dict
    calls: list = field(default_factory=list)     # node ids in the order their closures ran
    returned: list = field(default_factory=list)  # (closure id, an array it returned, a copy made then)
    tags: frozenset = frozenset()

    @property
    def root(self):
        return self.loss._graph_entry()


# --- the graphs ------------------------------------------------------------------------------------------------

def _chain(rng, T, ops):
    x = T(rng.standard_normal((4, 5)))
    w, b = T(rng.standard_normal((3, 5)), True), T(rng.standard_normal(3), True)
    return ops.sum(ops.relu(ops.linear(x, w, b))), {"w": w, "b": b}


def _squared(rng, T, ops):
    x = T(rng.standard_normal((3, 4)), True)
    return ops.sum(x * x), {"x": x}


def _fan_out_leaf(rng, T, ops):
    x = T(rng.standard_normal((3, 4)), True)
    return ops.sum(x * x + ops.relu(x)), {"x": x}


def _fan_out_node(rng, T, ops):
    x, w = T(rng.standard_normal((4, 5))), T(rng.standard_normal((3, 5)), True)
    h = ops.relu(ops.linear(x, w))               # h feeds three ops below
    return ops.sum(h * h) + ops.sum(h) + ops.mean(h * 3.0), {"w": w}


def _shared_weight(rng, T, ops):
    x, w = T(rng.standard_normal((2, 4))), T(rng.standard_normal((4, 4)), True)
    return ops.sum(ops.linear(ops.relu(ops.linear(x, w)), w)), {"w": w}


def _small_cnn(rng, T, ops):
    x, y = T(rng.standard_normal((2, 1, 6, 6))), rng.integers(0, 3, 2)
    w, b = T(rng.standard_normal((2, 1, 3, 3)), True), T(rng.standard_normal(2), True)
    v, c = T(rng.standard_normal((3, 8)), True), T(rng.standard_normal(3), True)
    h = ops.max_pool2d(ops.relu(ops.conv2d(x, w, b, padding=1)), 3, 3)
    return ops.cross_entropy(ops.linear(ops.flatten(h), v, c), y), {"conv weight": w, "conv bias": b,
                                                                     "linear weight": v, "linear bias": c}


def _deep_chain(rng, T, ops):
    x = T(rng.standard_normal(3), True)
    y = x
    for _ in range(DEEP):
        y = y * 1.0001
    return ops.sum(y), {"x": x}


GRAPHS = [
    ("a chain: linear -> relu -> sum", _chain, ()),
    ("x times itself: sum(x * x)", _squared, ("fan-out",)),
    ("x feeds two ops: sum(x * x + relu(x))", _fan_out_leaf, ("fan-out",)),
    ("an intermediate h feeds three ops: sum(h*h) + sum(h) + mean(3h)", _fan_out_node, ("fan-out",)),
    ("one weight in two layers: linear(relu(linear(x, w)), w)", _shared_weight, ("fan-out",)),
    ("a small CNN: conv2d, relu, max_pool2d, linear, cross_entropy", _small_cnn, ("fan-out",)),
    (f"a chain of {DEEP} ops: x * 1.0001 * 1.0001 * ...", _deep_chain, ("deep",)),
]


def build(label: str, make: Callable, tags, seed: int) -> Graph:
    """``make``'s graph from ``seed``, in float64 on the NumPy engine, with every closure's calls logged."""
    from ... import ops
    from ...autograd import Tensor, observe_ops
    graph = Graph(label, None, {}, tags=frozenset(tags))

    def observer(op, closure):
        def logged(g):
            graph.calls.append(id(logged))
            result = closure(g)
            graph.returned += [(id(logged), r, np.array(r)) for r in result if isinstance(r, np.ndarray)]
            return result
        return logged

    with observe_ops(observer):
        graph.loss, graph.leaves = make(np.random.default_rng(seed),
                                        lambda a, grad=False: Tensor(a, requires_grad=grad), ops)
    return graph


# --- looking at a graph ----------------------------------------------------------------------------------------

def _entries(root):
    """Every entry reachable from root, and for each node id the ids of the nodes that consume it."""
    from ...autograd import Node
    seen, stack, consumers = {id(root): root}, [root], {}
    while stack:
        entry = stack.pop()
        if isinstance(entry, Node):
            for p in entry.parents:
                if p is None:
                    continue
                consumers.setdefault(id(p), set()).add(id(entry))
                if id(p) not in seen:
                    seen[id(p)] = p
                    stack.append(p)
    return seen, consumers


def _name(entry, graph: Graph) -> str:
    from ...autograd import Node
    if isinstance(entry, Node):
        return f"the {entry.op} node"
    names = {id(t): n for n, t in graph.leaves.items()}
    return f"the leaf {names.get(id(entry), 'tensor')} {tuple(entry.shape)}" if hasattr(entry, "shape") else \
        f"a {type(entry).__name__} (not a graph entry)"


def _call(fn, *args):
    try:
        return fn(*args)
    except NotImplementedError:
        raise LearnerError(f"{fn.__name__} is not written yet (it raises NotImplementedError).") from None
    except RecursionError:
        raise LearnerError(f"{fn.__name__} hit Python's recursion limit ({sys.getrecursionlimit()} nested calls): "
                           "a recursive walk cannot go down a chain of thousands of ops; keep the entries still to "
                           "visit on a stack of your own (a list) and loop.") from None
    except Exception as e:  # noqa: BLE001 -- whatever the learner's code raises, report it
        raise LearnerError(f"{fn.__name__} raised an error:\n{_describe_exception(e, fn.__code__.co_filename)}") \
            from None


def order_problems(order, graph: Graph) -> list[str]:
    """What is wrong with ``order`` as a topological order of the graph: missing, extra, repeated, misplaced."""
    from ...autograd import Node
    if not isinstance(order, (list, tuple)):
        return [f"topological_order must return a list of entries; it returned a {type(order).__name__}"]
    seen, _ = _entries(graph.root)
    position = {}
    for i, entry in enumerate(order):
        if entry is None:
            return [f"entry {i} of your order is None: None parents need no gradient, leave them out"]
        if id(entry) in position:
            return [f"{_name(entry, graph)} is listed twice (at {position[id(entry)]} and {i}): reached along two "
                    "paths, it must still be listed once -- remember what you visited (a set of id(entry))"]
        position[id(entry)] = i
    missing = [e for k, e in seen.items() if k not in position]
    if missing:
        return [f"your order misses {len(missing)} of the {len(seen)} entries, e.g. {_name(missing[0], graph)}"]
    extra = [e for e in order if id(e) not in seen]
    if extra:
        return [f"your order holds {_name(extra[0], graph)}, which is not in the graph"]
    for entry in order:
        if isinstance(entry, Node):
            for p in entry.parents:
                if p is not None and position[id(p)] > position[id(entry)]:
                    return [f"{_name(entry, graph)} (at {position[id(entry)]}) comes before its input "
                            f"{_name(p, graph)} (at {position[id(p)]}): every entry must come after all of its "
                            "parents -- append an entry only once its parents are in (post-order)"]
    if order[-1] is not graph.root:
        return ["the root (the loss) must come last"]
    return []


def walk_problems(graph: Graph) -> list[str]:
    """What the log of closure calls says about the learner's walk: twice, or too early."""
    seen, consumers = _entries(graph.root)
    by_closure = {id(e.backward): e for e in seen.values() if hasattr(e, "backward")}
    order = {}
    for i, call in enumerate(graph.calls):
        order.setdefault(call, i)
    for call, count in Counter(graph.calls).items():
        if count > 1:
            return [f"{_name(by_closure[call], graph)}'s backward ran {count} times: the graph was walked twice "
                    "(or a node reached along two paths was visited again); each closure must run once, with the "
                    "sum of the gradients"]
    for call, array, then in graph.returned:
        if not np.array_equal(array, then):
            return [f"your backward changed, in place, a gradient that {_name(by_closure[call], graph)}'s closure "
                    "returned: add new arrays (a + b), never a += b -- a closure may hand one array to two "
                    "parents (add does), and += on one changes the other's gradient too"]
    for call, first in order.items():
        node = by_closure.get(call)
        for consumer in consumers.get(id(node), ()):
            c = seen[consumer]
            if hasattr(c, "backward") and order.get(id(c.backward), -1) > first:
                return [f"{_name(node, graph)}'s backward ran before {_name(c, graph)}, which uses its result, had "
                        "passed its gradient: a node must wait for all of its consumers -- walk in reverse "
                        "topological order"]
    return []


def overwrite_engine(root, grad):
    """The classic wrong engine: topological order right, but ``grads[parent] = g`` (the last one wins)."""
    from ...autograd import Node
    from .solutions.autograd import topological_order
    grads = {id(root): grad}
    for entry in reversed(topological_order(root)):
        g = grads.pop(id(entry), None)
        if g is None:
            continue
        if isinstance(entry, Node):
            for parent, pg in zip(entry.parents, entry.backward(g)):
                if parent is not None and pg is not None:
                    grads[id(parent)] = pg
        else:
            entry.grad = g


# --- the checks ------------------------------------------------------------------------------------------------

def _module_functions(path):
    module = load_module(path)
    missing = [f for f in FUNCTIONS["autograd"] if not callable(getattr(module, f, None))]
    if missing:
        raise LearnerError(f"{path} has no function {' or '.join(missing)}; keep the names of the skeleton")
    return module


def check_order(module, seed: int) -> CheckResult:
    title = f"topological order on {len(GRAPHS)} graphs"
    details, failed = [], 0
    for label, make, tags in GRAPHS:
        graph = build(label, make, tags, seed)
        try:
            problems = order_problems(_call(module.topological_order, graph.root), graph)
        except LearnerError as e:
            problems = [str(e)]
        if problems:
            failed += 1
            details += [f'on "{label}":'] + ["  " + p.replace("\n", "\n  ") for p in problems]
    if not failed:
        return CheckResult(title, "PASS")
    return CheckResult(title, "FAIL", f"{failed} of {len(GRAPHS)} graphs wrong", details)


def _leaf_grads(graph: Graph) -> dict:
    return {name: (None if t.grad is None else np.array(t.grad)) for name, t in graph.leaves.items()}


def _reference(label, make, tags, seed, engine=None, times: int = 1) -> dict:
    graphs = [build(label, make, tags, seed) for _ in range(times)]
    _share_leaves(graphs)
    for g in graphs:
        (engine(g.root, np.ones(g.loss.shape)) if engine else g.loss.backward())
    return _leaf_grads(graphs[0])


def _share_leaves(graphs):
    """Graphs built from one seed have equal leaves; make the later ones use the first's leaf objects, so two
    backward calls meet at the same .grad (the accumulation case)."""
    if len(graphs) < 2:
        return
    # rebuild the later graphs' nodes to point at the first graph's leaves
    first = graphs[0].leaves
    for g in graphs[1:]:
        mapping = {id(t): first[n] for n, t in g.leaves.items()}
        seen, _ = _entries(g.root)
        for entry in seen.values():
            if hasattr(entry, "parents"):
                entry.parents = tuple(mapping.get(id(p), p) if p is not None else None for p in entry.parents)
        g.leaves = first


def check_backward(module, seed: int) -> CheckResult:
    title = f"gradients vs loss.backward() on {len(GRAPHS) + 1} graphs"
    details, failed, worst = [], 0, 0.0
    cases = [(label, make, tags, 1) for label, make, tags in GRAPHS]
    cases.append(("two backward calls into the same leaves, no zero_grad between", _chain, ("accumulate",), 2))
    for label, make, tags, times in cases:
        expected = _reference(label, make, tags, seed, times=times)
        graphs = [build(label, make, tags, seed) for _ in range(times)]
        _share_leaves(graphs)
        problems = []
        try:
            for g in graphs:
                grad = np.ones(g.loss.shape)
                _call(module.backward, g.root, grad)
                if not np.all(grad == 1):
                    problems.append("your backward changed the gradient it was given in place: add new arrays "
                                    "(a + b), never a += b on an array a closure handed you")
                problems += walk_problems(g)
        except LearnerError as e:
            problems.append(str(e))
        if not problems:
            got = _leaf_grads(graphs[0])
            for name, want in expected.items():
                if got[name] is None:
                    problems.append(f"the leaf {name}'s .grad is None: no gradient reached it")
                    continue
                c = compare(f"{name}.grad", got[name], want, **FORWARD_TOLERANCE)
                worst = max(worst, c.max_rel_error)
                if not c.ok:
                    problems.append(f"{name}.grad, {c.describe(FORWARD_TOLERANCE['rtol'])}")
                    problems += _value_diagnosis(name, got[name], label, make, tags, seed, times)
                    break
        if problems:
            failed += 1
            details += [f'on "{label}":'] + ["  " + p.replace("\n", "\n  ") for p in problems]
    summary = f"max rel error {worst:.1e}"
    if not failed:
        return CheckResult(title, "PASS", summary)
    return CheckResult(title, "FAIL", f"{failed} of {len(cases)} graphs wrong", details)


def _value_diagnosis(name, got, label, make, tags, seed, times) -> list[str]:
    """Wrong numbers: do they equal a known wrong engine's?"""
    if "accumulate" in tags:
        once = _reference(label, make, tags, seed)[name]
        if np.allclose(got, once):
            return ["hint: that is the gradient of the second call alone: a leaf's .grad was replaced; leaves "
                    "accumulate (leaf.grad + g) over backward calls until zero_grad()"]
    overwritten = _reference(label, make, tags, seed, engine=overwrite_engine, times=times)[name]
    if overwritten is not None and np.allclose(got, overwritten):
        return ["hint: exactly what an engine gives that overwrites (=) where gradients meet: a tensor that feeds "
                "several ops gets the sum of their gradients (+=)"]
    return []


def check(name: str, path: str) -> Report:
    from ...backend import backend
    report = Report(name, path)
    try:
        module = _module_functions(path)
    except LearnerError as e:
        report.checks.append(CheckResult(f"load {os.path.basename(path)}", "FAIL", details=[str(e)]))
        return report
    seed = int.from_bytes(os.urandom(4), "little")  # the graphs' values; any draw must pass
    with backend("numpy"):
        order = check_order(module, seed)
        report.checks.append(order)
        report.checks.append(check_backward(module, seed) if order.ok else
                             CheckResult(f"gradients vs loss.backward() on {len(GRAPHS) + 1} graphs", "SKIP",
                                         "fix the order first"))
    return report
