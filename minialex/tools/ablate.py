"""AlexNet's four changes to LeNet, undone one at a time: ``minialex ablate --out DIR``.

The chapter explains AlexNet by what it changed in LeNet: ReLU for the sigmoid, max for average pooling, dropout
after the dense layers, data augmentation. This trains the same short recipe once per :data:`VARIANTS` entry -- the
full AlexNet, AlexNet with one change undone, and d2l's LeNet -- each a training run of its own in ``DIR/<variant>``
(:func:`minialex.training.fit`: checkpoints every epoch and on Ctrl-C, so running the same command again continues
where it stopped and skips what has finished). Then it writes

* ``ablation.md`` and ``ablation.json``: final train loss, train and test accuracy, training time, parameters and
  forward FLOPs per image, one row per variant;
* ``curves.png``: every variant's train loss and accuracies against the epoch;
* ``gradient_norms.png`` (and each probed run's ``gradient_norms.json``): each layer's weight-gradient norm over the
  first steps of the ReLU and the sigmoid network -- the same initialisation and batches as their runs -- which
  shows why the sigmoid network does not learn: its gradient shrinks layer by layer on the way back to conv1.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import figures, nn, ops
from ..errors import ConfigError
from ..backend import get_backend, manual_seed
from ..data import as_array, load_dataset
from ..ops.conv_algorithm import conv_algorithm
from ..summary import layer_table
from ..training import Config, Interrupted, TrainingError, fit
from ..training.loop import make_loaders

AUGMENT = "crop:padding=4,flip"   # the full AlexNet's augmentation: a random shift of up to 4 px, a mirror


@dataclass(frozen=True)
class Variant:
    model: str
    augment: bool   # the recipe's augmentation, or none
    change: str     # what is undone, for the table


VARIANTS = {
    "alexnet": Variant("alexnet", True, "none: ReLU, max pooling, dropout, augmentation"),
    "sigmoid": Variant("alexnet-sigmoid", True, "sigmoid for ReLU"),
    "avgpool": Variant("alexnet-avgpool", True, "average for max pooling"),
    "no-dropout": Variant("alexnet-nodropout", True, "no dropout"),
    "no-augment": Variant("alexnet", False, "no augmentation"),
    "lenet": Variant("lenet", False, "all four: d2l's LeNet (sigmoid, average pooling, 28 px)"),
}
GRADIENT_PROBES = ("alexnet", "sigmoid")   # the ReLU and the sigmoid network


def recipe(**overrides) -> Config:
    """The short recipe every variant trains with: the ``quick`` preset's optimizer and schedule, at 72 px, on the
    first 8000 training images for 2 epochs, tested on the first 2000."""
    base = dict(resize=72, epochs=2, train_limit=8000, test_limit=2000, augment=AUGMENT)
    return Config.preset("quick", **{**base, **{k: v for k, v in overrides.items() if v is not None}})


def parse_variants(spec: str | None) -> list[str]:
    """``"alexnet,sigmoid"`` -> those names, in the order of :data:`VARIANTS`; None or "all": every one."""
    if spec in (None, "all"):
        return list(VARIANTS)
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or not names:
        raise ConfigError(f"unknown variant {unknown[0] if unknown else spec!r}; expected a comma-separated list "
                         f"of {', '.join(VARIANTS)} (or all)")
    return [n for n in VARIANTS if n in names]


def variant_config(name: str, base: Config) -> Config:
    """``base`` with variant ``name``'s network (LeNet at its own 28 px) and augmentation."""
    v = VARIANTS[name]
    return dataclasses.replace(base, model=v.model, augment=base.augment if v.augment else "none",
                               resize=None if v.model == "lenet" else base.resize).validate()


def finished(folder: Path, config: Config) -> list | None:
    """The run's epoch records if ``folder`` holds it finished, else None."""
    history = _history(folder)
    return history if len(history) >= config.epochs and (folder / "checkpoint.npz").is_file() else None


def size_of(config: Config, num_classes: int = 10) -> tuple[int, int]:
    """(parameters, forward FLOPs for one image) of the recipe's network, from the shape rules."""
    rows = layer_table(config.build_model(num_classes), (1, 1, config.image_size, config.image_size))
    return sum(r.params for r in rows), sum(r.flops for r in rows)


def ablate(out_dir, variants=None, base: Config | None = None, *, data_dir=None, gradient_steps: int = 30,
           progress: bool = True, log=print) -> list[dict]:
    """Train each variant (resuming or skipping what ``out_dir`` already holds), then write the table and figures.

    Returns the table's rows. Raises ValueError (an unknown variant), :class:`TrainingError` (a run that cannot
    start) or :class:`Interrupted` (Ctrl-C; what was done is saved, and calling again continues).
    """
    from tqdm.auto import tqdm
    names = parse_variants(variants) if not isinstance(variants, list) else parse_variants(",".join(variants))
    base = recipe() if base is None else base
    if gradient_steps < 0:
        raise ConfigError(f"gradient_steps must be >= 0, got {gradient_steps}")
    configs = {name: variant_config(name, base) for name in names}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    histories = {}
    total = sum(c.epochs for c in configs.values())
    with tqdm(total=total, unit="epoch", desc="ablation", disable=not progress, position=0) as bar:
        say = bar.write if progress else log
        for name, config in configs.items():
            folder = out / name
            done = finished(folder, config)
            if done is None:
                bar.set_postfix_str(name)
                resume = (folder / "checkpoint.npz").is_file()
                bar.update(len(_history(folder)) if resume else 0)
                try:
                    done = fit(config, folder, data_dir=data_dir, resume=resume, progress=progress, log=say,
                               on_epoch=lambda record: bar.update(1))
                except Interrupted:
                    raise Interrupted(f"interrupted in variant {name!r}; its run so far is saved in {folder}. "
                                      "Run the same minialex ablate command again to continue.") from None
            else:
                bar.update(len(done))
                say(f"{name}: already finished in {folder}, skipped")
            histories[name] = done
    for name in (n for n in GRADIENT_PROBES if n in configs and gradient_steps):
        probe = out / name / "gradient_norms.json"
        if not probe.is_file() or json.loads(probe.read_text())["asked"] != gradient_steps:
            log(f"{name}: each layer's gradient norm over the first {gradient_steps} steps ...")
            write_json(probe, {"asked": gradient_steps,
                               "layers": gradient_norms(configs[name], gradient_steps, data_dir)})
    rows = table_rows(configs, histories)
    write_json(out / "ablation.json", {"recipe": dataclasses.asdict(base), "backend": get_backend().name,
                                       "variants": rows})
    (out / "ablation.md").write_text(markdown_table(rows, base))
    figures.plot_ablation_curves({n: (histories[n], _points(out / n)) for n in names}, out / "curves.png",
                                 epochs=base.epochs)
    probes = {f"{configs[n].model} ({'sigmoid' if 'sigmoid' in configs[n].model else 'ReLU'})":
              json.loads((out / n / "gradient_norms.json").read_text())["layers"]
              for n in GRADIENT_PROBES if n in configs and gradient_steps}
    if probes:
        figures.plot_gradient_norms(probes, out / "gradient_norms.png")
    log(f"wrote {out / 'ablation.md'}, {out / 'ablation.json'}, {out / 'curves.png'}"
        + (f", {out / 'gradient_norms.png'}" if probes else ""))
    return rows


def gradient_norms(config: Config, steps: int, data_dir=None) -> dict:
    """{layer: [|dL/dW| at step 1, 2, ...]} for each Conv2d and Linear over the first ``steps`` training steps of
    ``config``'s run (at most all of them): the same seed, so the same initial weights, batches, augmentation
    and schedule."""
    train_set, test_set = load_dataset(config.dataset, data_dir)
    loader, _ = make_loaders(config, train_set, test_set)
    manual_seed(config.seed)
    net = config.build_model(len(train_set.classes))
    optimizer = config.build_optimizer(net.parameters())
    scheduler = config.build_scheduler(optimizer, len(loader))
    layers, counts = {}, {"Conv2d": 0, "Linear": 0}
    for layer in net:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            kind = type(layer).__name__
            counts[kind] += 1
            layers[f"{'conv' if kind == 'Conv2d' else 'fc'}{counts[kind]}"] = layer
    norms = {name: [] for name in layers}
    backend = get_backend()
    net.train()
    with conv_algorithm(config.conv_algorithm):
        for step in range(min(steps, config.epochs * len(loader))):
            epoch, batch = divmod(step, len(loader))
            x, y = next(loader.batches(epoch, start=batch))
            loss = ops.cross_entropy(net(x), as_array(y))
            optimizer.zero_grad()
            loss.backward()
            for name, layer in layers.items():
                grad = getattr(layer.weight.grad, "data", layer.weight.grad)
                norms[name].append(float(np.linalg.norm(backend.to_numpy(grad).astype(np.float64))))
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
    return norms


def table_rows(configs: dict, histories: dict) -> list[dict]:
    rows = []
    for name, config in configs.items():
        last = histories[name][-1]
        params, flops = size_of(config)
        rows.append({"variant": name, "undone": VARIANTS[name].change, "model": config.model,
                     "augment": config.augment, "input_size": config.image_size, "epochs": len(histories[name]),
                     "loss": last["loss"], "train_acc": last["train_acc"], "test_acc": last["test_acc"],
                     "seconds": sum(r["seconds"] for r in histories[name]), "parameters": params, "flops": flops})
    return rows


def markdown_table(rows: list[dict], base: Config) -> str:
    lines = [f"Recipe: the `quick` preset's SGD (lr {base.lr}, momentum {base.momentum}"
             f"{', Nesterov' if base.nesterov else ''}, weight decay {base.weight_decay}, {base.lr_schedule}), "
             f"batch {base.batch_size}, {base.epochs} epochs on the first {base.train_limit or 'all'} training "
             f"images, tested on the first {base.test_limit or 'all'} test images, seed {base.seed}; AlexNet at "
             f"{base.image_size} px, LeNet at 28 px; augmentation `{base.augment}`.", "",
             "| variant | undone | final train loss | train acc | test acc | time (s) | parameters | FLOPs / image |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['undone']} | {r['loss']:.3f} | {r['train_acc']:.3f} | "
                     f"{r['test_acc']:.3f} | {r['seconds']:.0f} | {r['parameters']:,} | {r['flops'] / 1e6:,.1f} M |")
    return "\n".join(lines) + "\n"


def _history(folder: Path) -> list:
    try:
        return [json.loads(line) for line in open(folder / "metrics.jsonl")]
    except OSError:
        return []


def _points(folder: Path) -> list:
    try:
        return [json.loads(line) for line in open(folder / "curve.jsonl")]
    except OSError:
        return []


def write_json(path: Path, data) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
