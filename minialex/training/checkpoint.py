"""Checkpoints: model and optimizer state plus JSON metadata in one ``.npz``, written atomically.

:func:`model_from_checkpoint` rebuilds the network a checkpoint holds, from its ``meta["config"]`` or, without
one, from its parameter names and shapes. Layout inside the archive: ``model/<name>`` for each parameter (PyTorch-style names), ``optim/velocity/<i>`` for
SGD's momentum buffers, and ``meta`` (a JSON string: epoch, config, RNG state, metrics...). Arrays are stored as
host NumPy arrays, so a checkpoint written on the GPU loads on the CPU and the other way round.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile

import numpy as np

from .. import models
from ..errors import CheckpointError


TEMPORARY_PREFIX, TEMPORARY_SUFFIX = ".checkpoint-", ".npz.tmp"


def save(path, model, optimizer=None, **meta) -> None:
    """Write to a temporary file in the same directory, fsync, rename, fsync the directory: a kill or a power cut
    leaves the previous checkpoint or the new one, never half a file (only, at worst, a temporary file, which
    :func:`remove_partial_writes` clears)."""
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
    fd, tmp = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=TEMPORARY_SUFFIX, dir=directory)
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
    _fsync_directory(directory)


def _fsync_directory(directory) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_partial_writes(directory) -> list:
    """Delete the temporary files a checkpoint write killed midway left in ``directory``; returns their names."""
    names = sorted(n for n in os.listdir(directory) if n.startswith(TEMPORARY_PREFIX) and n.endswith(TEMPORARY_SUFFIX))
    for name in names:
        os.unlink(os.path.join(directory, name))
    return names


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


def infer_config(state: dict) -> dict:
    """For a checkpoint without ``meta["config"]``: the architecture from its parameter names and shapes.

    AlexNet's first dense layer is ``14`` (256*s*s inputs, s the side of the last feature map), LeNet's ``7``.
    Several input sizes give the same s; 224 (d2l's) or 96 is taken when it fits, else the smallest that does.
    """
    if "0.weight" not in state:
        raise CheckpointError("cannot tell the architecture: the checkpoint has no parameter 0.weight (a first conv)")
    in_channels, num_classes = int(state["0.weight"].shape[1]), _classes(state)
    if "14.weight" in state:
        side = math.isqrt(state["14.weight"].shape[1] // 256)
        if 256 * side * side != state["14.weight"].shape[1]:
            raise CheckpointError(f"layer 14 has {state['14.weight'].shape[1]} inputs, not 256*s*s: not an AlexNet")
        sizes = [n for n in range(models.MIN_ALEXNET_INPUT, 1025) if models.alexnet_feature_size(n) == side]
        if not sizes:
            raise CheckpointError(f"no AlexNet input size up to 1024 px gives a {side}x{side} last feature map")
        size = next((n for n in (224, 96) if n in sizes), sizes[0])
        return {"model": "alexnet", "resize": size, "num_classes": num_classes, "in_channels": in_channels}
    if "7.weight" in state:
        return {"model": "lenet", "resize": 28, "num_classes": num_classes, "in_channels": in_channels}
    raise CheckpointError(f"cannot tell the architecture from the parameter names {sorted(state)}")


def _classes(state: dict) -> int:
    """The width of the last layer: the rows of the weight with the highest layer number (10 if there is none)."""
    weights = [k for k in state if k.endswith(".weight") and k.split(".")[0].isdigit()]
    return int(state[max(weights, key=lambda k: int(k.split(".")[0]))].shape[0]) if weights else 10


def model_from_checkpoint(path) -> tuple:
    """(model with the checkpoint's weights, in eval mode; its input size; the checkpoint's meta).

    The model is ``meta["config"]``'s (a training run's, or ``{"model", "resize", "num_classes", "in_channels"}``),
    else the one :func:`infer_config` reads off the parameters; a class count the config lacks is the last layer's.
    """
    state, _, meta = load(path)
    config = meta.get("config") or infer_config(state)
    name = config.get("model", "alexnet")
    try:
        size = models.check_input_size(name, config.get("resize"))
        model = models.build(name, config.get("num_classes") or _classes(state), config.get("in_channels", 1), size)
        model.load_state_dict(state)
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} does not fit the model its config describes ({config}): {e}") \
            from None
    meta.setdefault("config", config)
    return model.eval(), size, meta
