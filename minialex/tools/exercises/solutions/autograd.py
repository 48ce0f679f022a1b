"""Exercise autograd: the engine behind ``loss.backward()`` -- a topological sort and the backward walk.

Fill in the two functions (keep their names and signatures), then run

    minialex exercise check autograd

The graph is minialex's own (minialex/tensor.py). Every op's result records a Node:

    node.op         the op's name, "linear", "relu", ...
    node.parents    one graph entry per input of the op:
                      None       this input needs no gradient (the data, a label)
                      a Tensor   a leaf: a parameter or an input made with requires_grad=True; it has .grad
                      a Node     the node of an intermediate result
    node.backward   the op's closure: node.backward(g) -> one gradient per parent (None where nothing flows),
                    where g is dL/d(the op's result), an array shaped like that result

The checker builds graphs with minialex's real ops (conv2d, relu, linear, cross_entropy, ...) and hands you
the root, the Node of the loss, and dL/dloss (ones). Your engine must fill every leaf's .grad with
dL/d(leaf), as ``loss.backward()`` does -- the capstone trains AlexNet with it.
"""

from minialex.autograd import Node


def topological_order(root):
    """Every entry reachable from ``root`` (Nodes and leaf Tensors, each once, never None), every entry after all
    of its parents, so ``root`` comes last.

    A depth-first search that appends an entry once all its parents are in (post-order) does it. Write it with a
    stack of your own, not recursion: a chain of 5000 ops is deeper than Python's recursion limit (about 1000).
    Remember what you have visited (by ``id(entry)``): an entry reached along two paths is listed once.
    """
    order, visited = [], set()
    stack = [(root, False)]                    # (entry, are its parents done?)
    while stack:
        entry, parents_done = stack.pop()
        if parents_done:
            order.append(entry)
            continue
        if id(entry) in visited:
            continue
        visited.add(id(entry))
        stack.append((entry, True))
        if isinstance(entry, Node):
            stack.extend((p, False) for p in entry.parents if p is not None and id(p) not in visited)
    return order


def backward(root, grad):
    """Push ``grad`` = dL/d(root's result) back to every leaf; returns nothing.

    In reverse topological order (consumers before what they consume), each Node's closure runs exactly once,
    with the *sum* of the gradients of every op that used its result: a tensor that feeds two ops gets both.
    Keep the sums in a dict by ``id(entry)``, and add new arrays (``a + b``), never in place: a closure may hand
    the same array to two parents. A leaf ends with ``leaf.grad = g`` if its .grad is None, else
    ``leaf.grad + g``: leaves accumulate over backward calls until zeroed, as in PyTorch.
    """
    grads = {id(root): grad}
    for entry in reversed(topological_order(root)):
        g = grads.pop(id(entry), None)
        if g is None:                          # nothing flows here (every consumer returned None)
            continue
        if isinstance(entry, Node):
            for parent, pg in zip(entry.parents, entry.backward(g)):
                if parent is not None and pg is not None:
                    key = id(parent)
                    grads[key] = pg if key not in grads else grads[key] + pg
        else:
            entry.grad = g if entry.grad is None else entry.grad + g
