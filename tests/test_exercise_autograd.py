"""The autograd exercise: the reference engine passes on minialex's real graphs; each classic bug is named."""

import pytest

from minialex.tools.exercises.files import solution

from test_exercises import check_source, mutant, result, text

NAIVE_WALK = '''
def backward(root, grad):
    stack = [(root, grad)]                 # no order at all: push every gradient down as it comes
    while stack:
        entry, g = stack.pop()
        if isinstance(entry, Node):
            for p, pg in zip(entry.parents, entry.backward(g)):
                if p is not None and pg is not None:
                    stack.append((p, pg))
        else:
            entry.grad = g if entry.grad is None else entry.grad + g
'''

BREADTH_FIRST = '''
def backward(root, grad):
    grads, queue, done = {id(root): grad}, [root], set()
    while queue:                           # each node once, but as soon as it is first reached
        entry = queue.pop(0)
        if id(entry) in done:
            continue
        done.add(id(entry))
        g = grads.pop(id(entry))
        if isinstance(entry, Node):
            for p, pg in zip(entry.parents, entry.backward(g)):
                if p is not None and pg is not None:
                    grads[id(p)] = pg if id(p) not in grads else grads[id(p)] + pg
                    queue.append(p)
        else:
            entry.grad = g if entry.grad is None else entry.grad + g
'''

RECURSIVE_ORDER = '''
def topological_order(root):
    order, visited = [], set()

    def visit(entry):
        if id(entry) not in visited:
            visited.add(id(entry))
            for p in getattr(entry, "parents", ()):
                if p is not None:
                    visit(p)
            order.append(entry)
    visit(root)
    return order
'''


def replace_function(name, source):
    """The reference solution of autograd with function ``name`` replaced by ``source``."""
    ref = solution("autograd")
    start = ref.index(f"def {name}(")
    end = ref.find("\ndef ", start + 1)
    return ref[:start] + source.strip() + "\n" + ("" if end < 0 else "\n" + ref[end:])


def check_autograd(tmp_path, source):
    return check_source(tmp_path, "autograd", source)


def test_reference_engine_equals_loss_backward_on_every_graph(tmp_path):
    report = check_autograd(tmp_path, solution("autograd"))
    assert report.ok, str(report)
    assert "max rel error 0.0e+00" in str(report)  # the same sums in the same order as tensor.py


def test_gradient_overwritten_instead_of_accumulated(tmp_path):
    report = check_autograd(tmp_path, mutant("autograd", "grads[key] = pg if key not in grads else grads[key] + pg",
                                             "grads[key] = pg"))
    grads = result(report, "gradients")
    assert grads.status == "FAIL" and result(report, "topological").status == "PASS"
    assert 'on "x times itself: sum(x * x)"' in text(grads)
    assert "overwrites (=) where gradients meet" in text(grads)
    assert "a chain: linear" not in text(grads)  # a graph without fan-out passes


def test_leaf_grad_replaced_instead_of_accumulated_over_backward_calls(tmp_path):
    report = check_autograd(tmp_path, mutant("autograd", "entry.grad = g if entry.grad is None else entry.grad + g",
                                             "entry.grad = g"))
    grads = result(report, "gradients")
    assert grads.summary == "1 of 8 graphs wrong"
    assert "two backward calls into the same leaves" in text(grads)
    assert "the gradient of the second call alone" in text(grads)


def test_node_listed_before_its_parent(tmp_path):
    source = mutant("autograd", "        stack.append((entry, True))\n", "        order.append(entry)\n")
    source = source.replace("        if parents_done:\n            order.append(entry)\n            continue\n", "")
    order = result(check_autograd(tmp_path, source), "topological")
    assert order.status == "FAIL"
    assert "the sum node (at 0) comes before its input the relu node (at 1)" in text(order)


def test_entry_listed_twice_without_a_visited_set(tmp_path):
    source = mutant("autograd", "        if id(entry) in visited:\n            continue\n", "")
    source = source.replace(" and id(p) not in visited", "")
    order = result(check_autograd(tmp_path, source), "topological")
    assert "the leaf x (3, 4) is listed twice" in text(order)


def test_recursion_limit_on_a_5000_op_chain(tmp_path):
    order = result(check_autograd(tmp_path, replace_function("topological_order", RECURSIVE_ORDER)), "topological")
    assert order.summary == "1 of 7 graphs wrong"
    assert 'on "a chain of 5000 ops' in text(order)
    assert "recursion limit" in text(order) and "stack of your own" in text(order)


def test_graph_walked_twice(tmp_path):
    grads = result(check_autograd(tmp_path, replace_function("backward", NAIVE_WALK)), "gradients")
    assert grads.status == "FAIL"
    assert "the relu node's backward ran 4 times: the graph was walked twice" in text(grads)


def test_node_visited_before_all_its_consumers(tmp_path):
    grads = result(check_autograd(tmp_path, replace_function("backward", BREADTH_FIRST)), "gradients")
    assert grads.status == "FAIL"
    assert "ran before" in text(grads) and "which uses its result, had passed its gradient" in text(grads)


def test_gradient_added_in_place_into_an_array_a_closure_returned(tmp_path):
    source = mutant("autograd", "grads[key] = pg if key not in grads else grads[key] + pg",
                    "grads[key] = pg if key not in grads else grads[key].__iadd__(pg)")
    grads = result(check_autograd(tmp_path, source), "gradients")
    assert "changed, in place, a gradient that the mul node's closure returned" in text(grads)


@pytest.mark.parametrize("name", ["topological_order", "backward"])
def test_a_missing_function_is_named(tmp_path, name):
    source = solution("autograd").replace(f"def {name}(", f"def {name}_renamed(")
    report = check_autograd(tmp_path, source)
    assert report.checks[0].title.startswith("load") and f"no function {name}" in text(report.checks[0])
