"""Tensor: an array that remembers how it was made, so gradients can flow back through it.

Every differentiable op returns ``Tensor.from_op(out, parents, backward)``: the result, the tensors it was
computed from, and a closure that maps dL/d(out) to one gradient per parent. The result carries a :class:`Node`
that records the parents' nodes and the closure. ``backward()`` sorts the nodes topologically and runs the
closures in reverse, summing gradients that meet at a node (a tensor used twice gets the sum). As in PyTorch,
only leaves keep ``.grad`` (and accumulate it until zeroed), and each node is freed as soon as its closure has
run, so the buffers it holds (masks, saved inputs) go during the backward pass, not after it.

A leaf's ``.grad`` is an engine array (NumPy or CuPy) that the leaf owns: writable, shared with no other leaf and
no view of anything else, so ``p.grad *= 0.5``, ``p.grad[...] = 0`` and ``nn.utils.clip_grad_norm_`` change that
leaf alone. A closure's result that nothing else can see (a matmul's fresh product) is kept as it is; one that is
shared (both sides of an add) or a view (a sum's broadcast gradient) is copied first. Later backward passes add
into ``.grad`` in place, as PyTorch's do.

The graph holds nodes, not the tensors an op returns: an intermediate result that no closure saved (a conv's
output, which only its ReLU reads) is freed once no variable refers to it, as in PyTorch -- 300 MiB of
AlexNet's activations at 224 px, batch 128.

Tools that watch ops (timing, recording) register with :func:`observe_ops` instead of patching the class.

:func:`no_grad` and :func:`observe_ops` hold for the thread (or asyncio task) that entered them: both live in
a :class:`contextvars.ContextVar`, as PyTorch's grad mode is thread-local. An evaluation thread under no_grad()
leaves the training thread's graph alone, a trace watches its own thread's ops, and a new thread starts with
gradients on and no observer.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import sys

import numpy as np

from . import devices
from .backend import get_backend
from .errors import InputError, ShapeError

_grad_enabled = contextvars.ContextVar("minialex_grad_enabled", default=True)
_op_observers: contextvars.ContextVar[tuple] = contextvars.ContextVar("minialex_op_observers", default=())

DEFAULT_DTYPE = np.float32

# PyTorch's legacy type names, which ``Tensor.type()`` prints
_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
               "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


@contextlib.contextmanager
def no_grad():
    """Within this block ops record no graph: for evaluation and parameter updates (this thread only)."""
    token = _grad_enabled.set(False)
    try:
        yield
    finally:
        _grad_enabled.reset(token)


def is_grad_enabled() -> bool:
    """False inside a :func:`no_grad` block of this thread."""
    return _grad_enabled.get()


@contextlib.contextmanager
def observe_ops(observer):
    """Within this block every op passes through ``observer(op_name, backward) -> backward`` as it is made.

    The hook for tools that watch the graph being built: the observer learns each op's name and returns its
    backward closure, wrapped (timed, logged) or as it is; ``backward()`` then runs whatever it returned.
    Observers nest, the innermost wrapping last; they see the ops of this thread only. ``minialex trace`` times
    each layer's backward this way.
    """
    token = _op_observers.set(_op_observers.get() + (observer,))
    try:
        yield observer
    finally:
        _op_observers.reset(token)


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
            raise InputError(f"only floating-point tensors can require gradients, got dtype {self.data.dtype}")
        self.requires_grad = requires_grad
        self.grad = None
        self._node: Node | None = None
        self._op = ""

    @classmethod
    def from_op(cls, data, parents, backward, op: str) -> "Tensor":
        """The result of an op; records a graph node only when some parent needs a gradient."""
        for observe in _op_observers.get():
            backward = observe(op, backward)
        out = cls.__new__(cls)
        out.data, out.grad, out._op = data, None, op
        out.requires_grad = _grad_enabled.get() and any(p.requires_grad for p in parents)
        out._node = Node(tuple(p._graph_entry() for p in parents), backward, op) if out.requires_grad else None
        return out

    @property
    def is_leaf(self) -> bool:
        """Made by the user (or under no_grad), not by an op that records gradients."""
        return self._node is None

    def _graph_entry(self):
        """What a node records for this input: None if it needs no gradient, the tensor itself for a leaf
        (its .grad is filled), else its node."""
        if not self.requires_grad:
            return None
        return self if self._node is None else self._node

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
            raise ShapeError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.data.reshape(()).item()

    def __float__(self) -> float:
        return float(self.item())

    def detach(self) -> "Tensor":
        return Tensor(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        op = f", op={self._op}" if self._op else ""
        return f"Tensor({self.numpy()!r}{grad}{op})"

    # --- PyTorch's idioms: the device, conversions, flags ----------------------------------------------------
    @property
    def device(self):
        """Where the data lives: ``cpu`` or ``cuda:i`` (a :class:`minialex.devices.Device`)."""
        return devices.Device.of(self.data)

    def to(self, *args, **kwargs) -> "Tensor":
        """``x.to(device)``, ``x.to(dtype)``, ``x.to(device, dtype)``, ``x.to(other_tensor)``, as PyTorch.

        ``self`` when nothing changes (d2l's ``X.to(device)`` on a batch already there costs nothing); else a new
        tensor whose gradient flows back to ``self``'s device and dtype. A device that is not here: RuntimeError.
        """
        target, dtype = devices.to_arguments("Tensor.to", args, kwargs)
        data = self.data if target is None else devices.move(self.data, target)
        if dtype is not None and data.dtype != dtype:
            data = data.astype(dtype)
        if data is self.data:
            return self
        source, source_dtype = self.device, self.dtype
        return Tensor.from_op(data, (self,), lambda g: (devices.move(g, source).astype(source_dtype, copy=False),),
                              "to")

    def type(self, dtype=None):
        """With a dtype: ``self.to(dtype)``; without: the type's name as PyTorch spells it (``minialex.FloatTensor``)."""
        if dtype is None:
            return f"minialex.{_TYPE_NAMES.get(self.dtype.name, self.dtype.name)}Tensor"
        return self.to(dtype=dtype)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Start (or stop) recording this leaf's operations for ``backward()``; in place, returns ``self``."""
        if requires_grad and self.dtype.kind != "f":
            raise ValueError(f"requires_grad_: only floating-point tensors can require gradients, got dtype "
                             f"{self.dtype}")
        if not self.is_leaf:
            raise RuntimeError("requires_grad_: only a leaf's flag can change (this tensor is the result of an op; "
                               "use .detach() for a leaf)")
        self.requires_grad = bool(requires_grad)
        return self

    def zero_(self) -> "Tensor":
        """Fill with zeros in place; returns ``self``. Refused on a leaf that requires grad unless under no_grad()."""
        if self.requires_grad and _grad_enabled.get():
            raise RuntimeError("zero_: a tensor that requires grad cannot change in place while gradients are "
                               "recorded; wrap it in minialex.no_grad()")
        self.data[...] = 0
        return self

    def __int__(self) -> int:
        return int(self.item())

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
            raise ShapeError(f"backward(): gradient shape {tuple(grad.shape)} does not match tensor shape {self.shape}")

        root = self._graph_entry()
        grads = {id(root): grad}
        del grad  # the dict holds the one reference, so a fresh gradient can be kept without a copy
        order = _topological_order(root)
        while order:
            # popped, not iterated: once its closure has run nothing here holds a node, so what only it kept is
            # freed during the backward pass rather than after it
            entry = order.pop()
            g = grads.pop(id(entry), None)
            if g is None:
                continue
            if isinstance(entry, Tensor):  # a leaf
                _accumulate(entry, g)
                continue
            _pass_back(entry, g, grads)


def _pass_back(node: "Node", g, grads: dict) -> None:
    """Run ``node``'s closure on its gradient ``g``, add each parent's share into ``grads``, free the node.

    A function of its own so that its variables die on return: a leaf's gradient must be referenced only by
    ``grads`` for :func:`_accumulate` to keep it without a copy."""
    if node.backward is None:
        raise RuntimeError(f"backward() through a graph that was already freed (op {node.op}): "
                           "run the forward pass again before a second backward()")
    for parent, pg in zip(node.parents, node.backward(g)):
        if pg is None or parent is None:
            continue
        key = id(parent)
        grads[key] = pg if key not in grads else grads[key] + pg
    node.parents, node.backward = (), None  # free the graph (and the buffers its closures hold)


def _accumulate(leaf: Tensor, g) -> None:
    """Add ``g`` into ``leaf.grad``: in place once the leaf has one; otherwise keep ``g`` itself if nothing else
    can see its memory, else a copy of it (see the module docstring)."""
    if leaf.grad is not None:
        leaf.grad += g
    elif _seen_by_nobody(g):
        leaf.grad = g
    else:
        leaf.grad = get_backend().xp.array(g, copy=True)  # also makes a broadcast view a whole, writable array


def _seen_by_nobody(a) -> bool:
    """True when nothing but ``backward()``'s own variable refers to ``a`` or to the memory it views.

    CPython's reference counts say so exactly (PyTorch's AccumulateGrad keeps a gradient the same way, by its
    use count). Expected for ``a``: backward's ``g``, _accumulate's ``g``, this parameter and getrefcount's
    argument; for each array along its ``base`` chain: the view's ``base``, the loop variable and getrefcount's
    argument. A count too high only costs a copy. A broadcast view (an axis of stride 0) is never kept: its
    elements share memory (CuPy has no read-only flag to tell it by)."""
    broadcast = any(stride == 0 and n > 1 for stride, n in zip(a.strides, a.shape))
    if broadcast or not getattr(a.flags, "writeable", True):
        return False
    if sys.getrefcount(a) > 4:
        return False
    while a.base is not None:
        a = a.base
        if sys.getrefcount(a) > 3:
            return False
    return True


class Node:
    """An op's record in the graph: its inputs' entries (see ``Tensor._graph_entry``) and its backward closure."""

    __slots__ = ("parents", "backward", "op")

    def __init__(self, parents: tuple, backward, op: str):
        self.parents, self.backward, self.op = parents, backward, op


def _topological_order(root) -> list:
    """Graph entries (nodes and leaf tensors) reachable from ``root``, parents before children (iterative DFS)."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        entry, expanded = stack.pop()
        if expanded:
            order.append(entry)
            continue
        if id(entry) in visited:
            continue
        visited.add(id(entry))
        stack.append((entry, True))
        if isinstance(entry, Node):
            stack.extend((p, False) for p in entry.parents if p is not None and id(p) not in visited)
    return order


def as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)
