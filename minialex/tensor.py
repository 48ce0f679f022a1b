"""Tensor: an array that remembers how it was made, so gradients can flow back through it.

Every differentiable op returns ``Tensor.from_op(out, parents, backward)``: the result, the tensors it was
computed from, and a closure that maps dL/d(out) to one gradient per parent. ``backward()`` sorts the graph
topologically and runs the closures in reverse, summing gradients that meet at a tensor (a tensor used twice
gets the sum). As in PyTorch, only leaves keep ``.grad`` (and accumulate it until zeroed), and the graph is
freed after ``backward()`` so the buffers its closures hold (im2col matrices, masks) go with it.

Tools that watch ops (timing, recording) register with :func:`observe_ops` instead of patching the class.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from .backend import get_backend

_grad_enabled = True
_op_observers = []

DEFAULT_DTYPE = np.float32


@contextlib.contextmanager
def no_grad():
    """Within this block ops record no graph: for evaluation and parameter updates."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    return _grad_enabled


@contextlib.contextmanager
def observe_ops(observer):
    """Within this block every op passes through ``observer(op_name, backward) -> backward`` as it is made.

    The hook for tools that watch the graph being built: the observer learns each op's name and returns its
    backward closure, wrapped (timed, logged) or as it is; ``backward()`` then runs whatever it returned.
    Observers nest, the innermost wrapping last. ``minialex trace`` times each layer's backward this way.
    """
    _op_observers.append(observer)
    try:
        yield observer
    finally:
        _op_observers.remove(observer)


class Size(tuple):
    """A shape: a tuple that prints as PyTorch's ``torch.Size`` does, ``minialex.Size([1, 96, 54, 54])``."""

    def __repr__(self):
        return f"minialex.Size({list(self)})"

    def __format__(self, spec):
        # f-strings (the library's error messages) keep the tuple form, (N, C, H, W), as the text around it reads
        return tuple.__repr__(self) if spec == "" else format(tuple(self), spec)

    def numel(self) -> int:
        return math.prod(self)


class Tensor:
    __array_priority__ = 1000  # so ndarray + Tensor defers to Tensor.__radd__

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        xp = get_backend().xp
        if dtype is None and not hasattr(data, "dtype"):
            # Python numbers and lists: floats become the default dtype, integers stay integers (class labels).
            probe = np.asarray(data)
            dtype = DEFAULT_DTYPE if probe.dtype.kind == "f" else None
        self.data = xp.asarray(data, dtype=dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise ValueError(f"only floating-point tensors can require gradients, got dtype {self.data.dtype}")
        self.requires_grad = requires_grad
        self.grad = None
        self._parents: tuple[Tensor, ...] = ()
        self._backward = None
        self._op = ""
        self.is_leaf = True

    @classmethod
    def from_op(cls, data, parents, backward, op: str) -> "Tensor":
        """The result of an op; records the graph edge only when some parent needs a gradient."""
        for observe in _op_observers:
            backward = observe(op, backward)
        out = cls.__new__(cls)
        out.data, out.grad = data, None
        out.requires_grad = _grad_enabled and any(p.requires_grad for p in parents)
        out._parents = tuple(parents) if out.requires_grad else ()
        out._backward = backward if out.requires_grad else None
        out._op = op
        out.is_leaf = not out.requires_grad
        return out

    # --- array-like facts -------------------------------------------------------------------------------------
    shape = property(lambda self: Size(self.data.shape))
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: int(self.data.size))

    def __len__(self):
        return len(self.data)

    def numel(self) -> int:
        return self.size

    def numpy(self) -> np.ndarray:
        """A host NumPy array (copied from the GPU when needed)."""
        return get_backend().to_numpy(self.data)

    def item(self) -> float:
        if self.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.data.reshape(()).item()

    def detach(self) -> "Tensor":
        return Tensor(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        op = f", op={self._op}" if self._op else ""
        return f"Tensor({self.numpy()!r}{grad}{op})"

    # --- autograd -------------------------------------------------------------------------------------------
    def backward(self, grad=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` that requires it.

        ``grad`` defaults to 1 for a scalar; a non-scalar needs the upstream gradient explicitly.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad (no parameter or input needs a "
                               "gradient, or it was computed under no_grad())")
        xp = get_backend().xp
        if grad is None:
            if self.size != 1:
                raise RuntimeError(f"backward() without a gradient needs a scalar; this tensor has shape {self.shape}")
            grad = xp.ones(self.data.shape, dtype=self.dtype)
        grad = grad.data if isinstance(grad, Tensor) else xp.asarray(grad, dtype=self.dtype)
        if grad.shape != self.data.shape:
            raise ValueError(f"backward(): gradient shape {tuple(grad.shape)} does not match tensor shape {self.shape}")

        grads = {id(self): grad}
        order = _topological_order(self)
        while order:
            # popped, not iterated: once its closure has run, nothing here holds a node, so the activations
            # and buffers only it kept are freed during the backward pass rather than after it
            node = order.pop()
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node.is_leaf:
                # g may be shared with another parent (e.g. both sides of an add): never modify it in place.
                node.grad = g if node.grad is None else node.grad + g
                continue
            if node._backward is None:
                raise RuntimeError(f"backward() through a graph that was already freed (op {node._op}): "
                                   "run the forward pass again before a second backward()")
            for parent, pg in zip(node._parents, node._backward(g)):
                if pg is None or not parent.requires_grad:
                    continue
                key = id(parent)
                grads[key] = pg if key not in grads else grads[key] + pg
            node._parents, node._backward = (), None  # free the graph (and the buffers its closures hold)


def _topological_order(root: Tensor) -> list[Tensor]:
    """Nodes reachable from ``root`` that need gradients, parents before children (iterative DFS)."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p in node._parents if p.requires_grad and id(p) not in visited)
    return order


def as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)
