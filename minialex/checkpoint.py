"""Checkpoints: model and optimizer state plus JSON metadata in one ``.npz``, written atomically.

Layout inside the archive: ``model/<name>`` for each parameter (PyTorch-style names), ``optim/velocity/<i>`` for
SGD's momentum buffers, and ``meta`` (a JSON string: epoch, config, RNG state, metrics...). Arrays are stored as
host NumPy arrays, so a checkpoint written on the GPU loads on the CPU and the other way round.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np


class CheckpointError(ValueError):
    pass


def save(path, model, optimizer=None, **meta) -> None:
    """Write to a temporary file in the same directory, fsync, then rename: a crash never leaves half a file."""
    arrays = {f"model/{name}": value for name, value in model.state_dict().items()}
    if optimizer is not None:
        state = optimizer.state_dict()
        velocity = state.pop("velocity")
        state["num_params"] = len(velocity)
        for i, v in enumerate(velocity):
            if v is not None:
                arrays[f"optim/velocity/{i}"] = v
        meta["optimizer"] = state
    arrays["meta"] = np.array(json.dumps(meta))
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", suffix=".npz.tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path) -> tuple[dict, dict, dict]:
    """-> (model state, optimizer state or {}, meta). Raises CheckpointError naming the file if it is unreadable."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            data = {k: archive[k] for k in archive.files}
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path}: no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise CheckpointError(f"checkpoint {path}: not a readable minialex checkpoint ({e})") from None
    if "meta" not in data:
        raise CheckpointError(f"checkpoint {path}: no 'meta' entry; not a minialex checkpoint")
    meta = json.loads(str(data.pop("meta")))
    model_state = {k[len("model/"):]: v for k, v in data.items() if k.startswith("model/")}
    optimizer_state = meta.pop("optimizer", None) or {}
    if optimizer_state:
        velocity = {int(k.rsplit("/", 1)[1]): v for k, v in data.items() if k.startswith("optim/velocity/")}
        optimizer_state["velocity"] = [velocity.get(i) for i in range(optimizer_state.pop("num_params"))]
    return model_state, optimizer_state, meta


def restore(path, model, optimizer=None) -> dict:
    """Load a checkpoint into ``model`` (and ``optimizer``); returns its metadata."""
    model_state, optimizer_state, meta = load(path)
    try:
        model.load_state_dict(model_state)
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} does not fit this model: {e}") from None
    if optimizer is not None and optimizer_state:
        optimizer.load_state_dict(optimizer_state)
    return meta
