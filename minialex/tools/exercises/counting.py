"""Counting the multiplies that matter: data times filter, through whatever NumPy the learner writes.

Winograd's whole point is fewer multiplications of data by filter (the transforms multiply by constants, and
the filter's side is computed once per filter). So the checker hands the learner's function a *tracked* data
array and a tracked filter array: every array computed from them remembers which of the two it depends on,
and each multiply that joins a data-dependent operand with a filter-dependent one is counted --

    a * b              one per element of the (broadcast) result
    a @ b, np.dot      one per term of each sum: result size x the contracted length
    np.einsum          the product of the sizes of all its subscripts (two operands)
    np.tensordot       result size x the contracted length

Indexing keeps the tag (a scalar element comes back as a 0-d tracked array), so loops over elements count too;
while the learner's function runs, its module's ``np`` makes tracked arrays (``np.zeros``, ``np.empty``, ...),
and writing into one (``x_pad[...] = x``) adds the written value's tags to it.
A NumPy function that joins data and filter in a way not listed (``np.correlate``, ``np.convolve``) cannot be
counted; it is recorded by name, and the check says so instead of guessing.
"""

from __future__ import annotations

import math

import numpy as np

DATA, FILTER = "data", "filter"

PRODUCTS = {np.dot, np.tensordot, np.einsum, np.inner, np.outer, np.vdot, np.matmul}


class Tally:
    def __init__(self):
        self.multiplies = 0
        self.uncounted = set()   # names of functions that mixed data and filter and could not be counted


class Tracked(np.ndarray):
    """An ndarray that knows whether it depends on the data, the filter, or both."""

    def __new__(cls, array, sources, tally: Tally):
        obj = np.asarray(array).view(cls)
        obj.sources, obj.tally = frozenset(sources), tally
        return obj

    def __array_finalize__(self, obj):
        self.sources = getattr(obj, "sources", frozenset())
        self.tally = getattr(obj, "tally", None)

    def __getitem__(self, index):
        item = super().__getitem__(index)
        return item if isinstance(item, np.ndarray) else Tracked(item, self.sources, self.tally)

    def __setitem__(self, index, value):
        super().__setitem__(index, _plain(value))
        self.sources = self.sources | _sources(value)

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        sources = [_sources(a) for a in inputs]
        tally = _tally(inputs + (out or ()))
        args = [_plain(a) for a in inputs]
        if out is not None:
            kwargs["out"] = tuple(_plain(o) for o in out)
        result = getattr(ufunc, method)(*args, **kwargs)
        if method == "__call__" and ufunc in (np.multiply, np.matmul) and _mixed(sources):
            size = np.size(result)
            tally.multiplies += size if ufunc is np.multiply else size * np.shape(args[0])[-1]
        joined = frozenset().union(*sources)
        if method == "at" and isinstance(inputs[0], Tracked):  # np.add.at(a, index, values) writes into a
            inputs[0].sources = inputs[0].sources | joined
        if out is not None:
            for o in out:
                if isinstance(o, Tracked):
                    o.sources = o.sources | joined
            return out[0] if len(out) == 1 else out
        return _wrap(result, joined, tally)

    def __array_function__(self, func, types, args, kwargs):
        found = []
        _collect(args, found)
        _collect(kwargs, found)
        sources = [a.sources for a in found]
        tally = found[0].tally
        result = func(*_unwrap(args), **_unwrap(kwargs))
        if _mixed(sources):
            if func in PRODUCTS:
                tally.multiplies += _product_count(func, _unwrap(args), result)
            elif func not in _NO_PRODUCT:
                tally.uncounted.add(f"np.{func.__name__}")
        return _wrap(result, frozenset().union(*sources), tally)


# Functions that move, combine or reduce arrays without multiplying one by another.
_NO_PRODUCT = {np.concatenate, np.stack, np.hstack, np.vstack, np.pad, np.reshape, np.transpose, np.moveaxis,
               np.swapaxes, np.where, np.copy, np.zeros_like, np.ones_like, np.empty_like, np.full_like, np.sum,
               np.broadcast_to, np.flip, np.squeeze, np.expand_dims,
               np.array_equal, np.allclose, np.isclose, np.shape, np.ndim, np.size, np.atleast_1d, np.ravel}


def _product_count(func, args, result) -> int:
    if func is np.einsum:
        terms, operands = args[0].split("->")[0].split(","), args[1:]
        sizes = {}
        for term, op in zip(terms, operands):
            sizes.update(zip(term.strip(), np.shape(op)))
        return math.prod(sizes.values())
    a, b = np.asarray(args[0]), np.asarray(args[1])
    if func is np.outer:
        return a.size * b.size
    if func is np.vdot:
        return a.size
    if func is np.tensordot:  # (free_a * K) * (K * free_b) / (free_a * free_b) = K^2
        return int(np.size(result)) * round(math.sqrt(a.size * b.size / max(1, np.size(result))))
    return int(np.size(result)) * (a.shape[-1] if a.ndim else 1)  # dot, inner, matmul: K terms per element


def _sources(a):
    return a.sources if isinstance(a, Tracked) else frozenset()


def _tally(arrays):
    return next(a.tally for a in arrays if isinstance(a, Tracked))


def _mixed(sources) -> bool:
    return any(DATA in s and FILTER in t for i, s in enumerate(sources) for j, t in enumerate(sources) if i != j)


def _plain(a):
    return a.view(np.ndarray) if isinstance(a, Tracked) else a


def _wrap(result, sources, tally):
    if isinstance(result, np.ndarray) and not isinstance(result, Tracked):
        return Tracked(result, sources, tally)
    if isinstance(result, tuple):
        return tuple(_wrap(r, sources, tally) for r in result)
    return result


def _collect(value, found):
    if isinstance(value, Tracked):
        found.append(value)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _collect(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            _collect(v, found)


def _unwrap(value):
    if isinstance(value, Tracked):
        return value.view(np.ndarray)
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


CREATORS = ("zeros", "empty", "ones", "full", "array", "asarray", "zeros_like", "empty_like", "ones_like",
            "full_like", "concatenate", "stack")


class _TrackingNumpy:
    """numpy, except that the functions in CREATORS return tracked arrays (untagged unless made from tagged ones)."""

    def __init__(self, tally: Tally):
        self._tally = tally

    def __getattr__(self, name):
        attr = getattr(np, name)
        if name not in CREATORS:
            return attr

        def make(*args, **kwargs):
            result = attr(*args, **kwargs)
            return result if isinstance(result, Tracked) else Tracked(result, frozenset(), self._tally)
        return make


def count_multiplies(fn, data, filter_, *rest, call=lambda fn, *args: fn(*args)):
    """``call(fn, data, filter_, *rest)`` on tracked arrays -> (its result as plain arrays, the Tally)."""
    tally = Tally()
    names = [k for k, v in fn.__globals__.items() if v is np]
    for k in names:
        fn.__globals__[k] = _TrackingNumpy(tally)
    try:
        result = call(fn, Tracked(data, {DATA}, tally), Tracked(filter_, {FILTER}, tally), *rest)
    finally:
        for k in names:
            fn.__globals__[k] = np
    return _unwrap(result), tally
