"""``minialex.save`` / ``minialex.load``: tensors and state dicts in a NumPy ``.npz`` archive -- no pickle.

    minialex.save(net.state_dict(), "lenet.params")      # d2l's torch.save(net.state_dict(), ...)
    net.load_state_dict(minialex.load("lenet.params"))

An archive holds named arrays only, and ``load`` never unpickles (``allow_pickle=False``), so loading a file from
someone else cannot run their code -- the risk of ``torch.load`` on a pickle. Saved: a dict of names to tensors or
arrays (a state dict), or one tensor or array. Loaded: an ``OrderedDict`` of host NumPy arrays in the saved order
(what ``load_state_dict`` takes), or one Tensor on the active engine.
"""

from __future__ import annotations

import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .backend import get_backend
from .errors import CheckpointError, InputTypeError
from .tensor import Tensor

# the key under which a single saved tensor is stored (a state dict's names are never this)
_ONE_TENSOR = "__minialex_tensor__"


def _host(value, name: str):
    if isinstance(value, Tensor):
        return value.numpy()
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return get_backend().to_numpy(value)
    raise InputTypeError(f"save: {name} is a {type(value).__name__}; expected a Tensor or an array (save stores "
                    "tensors and state dicts of them, not arbitrary objects)")


def save(obj, f) -> None:
    """Write ``obj`` -- a dict of names to tensors/arrays, or one tensor/array -- to the path or file ``f``."""
    if isinstance(obj, dict):
        bad = [k for k in obj if not isinstance(k, str) or k == _ONE_TENSOR]
        if bad:
            raise InputTypeError(f"save: state-dict keys must be strings, got {bad[:3]!r}")
        arrays = {k: _host(v, f"entry {k!r}") for k, v in obj.items()}
    else:
        arrays = {_ONE_TENSOR: _host(obj, "the object")}
    if isinstance(f, (str, Path)):
        with open(f, "wb") as handle:  # np.savez would append ".npz" to a path that lacks it
            np.savez(handle, **arrays)
    else:
        np.savez(f, **arrays)


def load(f, map_location=None, weights_only: bool = True):
    """Read what :func:`save` wrote: an ``OrderedDict`` of NumPy arrays, or one Tensor (on the active engine).

    ``map_location`` and ``weights_only`` are accepted for PyTorch's signature; arrays always come to the host
    (``load_state_dict`` moves them to the engine) and nothing but arrays can be in the file."""
    try:
        with np.load(f, allow_pickle=False) as archive:
            arrays = OrderedDict((k, archive[k]) for k in archive.files)
    except FileNotFoundError:
        raise FileNotFoundError(f"load: no such file: {f}") from None
    except (ValueError, OSError, zipfile.BadZipFile, EOFError):
        # NumPy's own message would call any other file "pickled data": say what is expected instead
        raise CheckpointError(f"load: {f} is not a file minialex.save wrote (expected an .npz archive of arrays; "
                         "pickles, such as PyTorch's .pt files, are never read)") from None
    if list(arrays) == [_ONE_TENSOR]:
        return Tensor(arrays[_ONE_TENSOR])
    return arrays
