"""The same training recipe in PyTorch, on exactly the same inputs, for comparing learning curves.

    PYTHONPATH=. python benchmarks/torch_reference.py --resize 96 --out runs/torch-96
    PYTHONPATH=. python benchmarks/torch_reference.py --resize 72 --epochs 4 --lr 0.05 --momentum 0.9 --nesterov \
        --weight-decay 5e-4 --lr-schedule onecycle:pct_start=0.25 --out runs/torch-quick   # the quick preset

Batches come from ``minialex.data`` (same files, same bilinear resize, same order per (seed, epoch)), so both
frameworks see identical images in identical order. The network is d2l's AlexNet with Xavier-uniform weights and
PyTorch's default biases (d2l's ``init_cnn``); dropout and initial weights come from PyTorch's generator seeded
with ``--seed``, so they differ from minialex's draws. The loop, timing and ``metrics.jsonl`` format are
minialex's (see ``minialex/training/loop.py``): time counts forward + backward + update + reading the loss back,
the process's first step left out of ``examples_per_sec`` as minialex leaves it out (``warmup_seconds``), and the
run folder gets ``provenance.jsonl``, the machine record of the process, as minialex's does.

``--lr-schedule`` takes minialex's spec (``constant``, or ``onecycle[:key=value,...]``, parsed by
``minialex.training.config.parse_schedule`` with the same defaults) and builds ``torch.optim.lr_scheduler.OneCycleLR``
with the arguments minialex's ``Config.build_scheduler`` gives its own, stepped once per batch after the optimizer.
"""

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from minialex import backend
from minialex.data import DataLoader, load_dataset
from minialex.data.loader import as_array
from minialex.errors import ConfigError
from minialex.figures import plot_curves
from minialex.provenance import finish_record, machine_record
from minialex.tools.bench import torch_alexnet
from minialex.training.config import parse_schedule
from minialex.training.metrics import accuracy, mean_cross_entropy

SCHEDULES = ("constant", "onecycle")  # the --lr-schedule names built here


def d2l_alexnet(num_classes: int, input_size: int) -> nn.Sequential:
    """minialex.tools.bench's PyTorch AlexNet with d2l's init: Xavier-uniform weights, default biases."""
    net = torch_alexnet(input_size, num_classes)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
    return net


def build_scheduler(optimizer, spec: str, lr: float, epochs: int, batches_per_epoch: int):
    """PyTorch's scheduler for minialex's ``--lr-schedule`` ``spec`` (None for "constant"), with the arguments
    minialex's ``Config.build_scheduler`` passes to its own: stepped once per batch, spanning the whole run."""
    try:
        name, o = parse_schedule(spec)
    except ConfigError as e:
        raise SystemExit(f"torch_reference.py: --lr-schedule: {e}") from None
    if name not in SCHEDULES:
        raise SystemExit(f"torch_reference.py: --lr-schedule {spec!r}: only {' and '.join(SCHEDULES)} are built "
                         f"here, got {name!r}")
    if name == "constant":
        return None
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, lr, total_steps=epochs * batches_per_epoch, pct_start=o["pct_start"],
        anneal_strategy=o["anneal_strategy"], cycle_momentum=o["cycle_momentum"], base_momentum=o["base_momentum"],
        max_momentum=o["max_momentum"], div_factor=o["div_factor"], final_div_factor=o["final_div_factor"])


def resume(out: Path, net, optimizer, scheduler) -> list:
    state = torch.load(out / "torch_checkpoint.pt")
    net.load_state_dict(state["net"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])
    return state["history"]


def write_sessions(out: Path, sessions: list) -> None:
    (out / "provenance.jsonl.tmp").write_text("".join(json.dumps(r) + "\n" for r in sessions))
    os.replace(out / "provenance.jsonl.tmp", out / "provenance.jsonl")


def read_sessions(out: Path) -> list:
    try:
        return [json.loads(line) for line in open(out / "provenance.jsonl") if line.strip()]
    except (OSError, ValueError):
        return []


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--resize", type=int, default=96)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=False,
                   help="Nesterov momentum (needs --momentum > 0)")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--lr-schedule", default="constant", metavar="NAME[:k=v,...]",
                   help="minialex's spec: constant (default) or onecycle[:pct_start=0.25,...], peaking at --lr")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-limit", type=int, default=None)
    p.add_argument("--test-limit", type=int, default=None)
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", required=True)
    p.add_argument("--resume", action="store_true", help="continue from OUT/torch_checkpoint.pt (saved every epoch)")
    return p


def main():
    args = parser().parse_args()

    started = time.perf_counter()
    backend.use_backend("numpy")  # batches as host NumPy arrays, for torch.from_numpy
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_set, test_set = load_dataset("fashion-mnist", args.data_dir)
    train_iter = DataLoader(train_set, args.batch_size, resize=args.resize, seed=args.seed, limit=args.train_limit)
    test_iter = DataLoader(test_set, args.batch_size, shuffle=False, resize=args.resize, limit=args.test_limit)
    net = d2l_alexnet(len(train_set.classes), args.resize)
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum, nesterov=args.nesterov,
                                weight_decay=args.weight_decay)
    scheduler = build_scheduler(optimizer, args.lr_schedule, args.lr, args.epochs, len(train_iter))
    loss_fn = nn.CrossEntropyLoss()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = {**vars(args), "framework": f"torch {torch.__version__}", "threads": torch.get_num_threads()}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    history = resume(out, net, optimizer, scheduler) if args.resume else []
    sessions = [*(read_sessions(out) if args.resume else []),
                {**machine_record(), "from_epoch": len(history), "to_epoch": len(history)}]
    write_sessions(out, sessions)
    (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in history))
    first_step = True  # the process's first step is left out of examples/sec, as minialex's loop does
    for epoch in range(len(history), args.epochs):
        epoch_started = time.perf_counter()
        net.train()
        loss_sum = correct = count = timed_count = 0
        timed = warmup = 0.0
        for x, y in tqdm(train_iter.batches(epoch), total=len(train_iter), desc=f"epoch {epoch + 1}", leave=False,
                         mininterval=5.0):
            x, y = torch.from_numpy(as_array(x)), torch.from_numpy(as_array(y))
            t = time.perf_counter()
            logits = net(x)
            loss = loss_fn(logits, y)
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise SystemExit(f"loss became {loss_value} in epoch {epoch + 1}")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            correct += int((logits.argmax(dim=1) == y).sum())
            seconds = time.perf_counter() - t
            if first_step:
                warmup, first_step = seconds, False
            else:
                timed, timed_count = timed + seconds, timed_count + len(y)
            loss_sum += loss_value * len(y)
            count += len(y)
        net.eval()
        with torch.no_grad():
            scores = [(net(torch.from_numpy(as_array(x))).numpy(), as_array(y)) for x, y in test_iter.batches(0)]
        test_logits, test_labels = (np.concatenate(part) for part in zip(*scores))
        # without a timed step (an epoch of one batch, the warm-up): that step's rate, as minialex's record
        timed, timed_count = (timed, timed_count) if timed_count else (warmup, count)
        record = {"epoch": epoch + 1, "loss": loss_sum / count, "train_acc": correct / count,
                  "test_loss": mean_cross_entropy(test_logits, test_labels),
                  "test_acc": accuracy(test_logits, test_labels), "examples_per_sec": timed_count / timed,
                  "warmup_seconds": warmup, "seconds": time.perf_counter() - epoch_started}
        history.append(record)
        torch.save({"net": net.state_dict(), "optimizer": optimizer.state_dict(), "rng": torch.get_rng_state(),
                    "scheduler": None if scheduler is None else scheduler.state_dict(), "history": history},
                   out / "torch_checkpoint.pt.tmp")
        os.replace(out / "torch_checkpoint.pt.tmp", out / "torch_checkpoint.pt")
        with open(out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        finish_record(sessions[-1])["to_epoch"] = len(history)
        write_sessions(out, sessions)
        plot_curves(history, out / "curves.png", epochs=args.epochs, title="PyTorch")
        print(f"epoch {record['epoch']}/{args.epochs}: loss {record['loss']:.3f}, train acc {record['train_acc']:.3f}, "
              f"test acc {record['test_acc']:.3f}, {record['examples_per_sec']:.1f} examples/sec, "
              f"{record['seconds']:.0f} s", flush=True)
    print(f"done in {time.perf_counter() - started:.0f} s wall; results in {out}")


if __name__ == "__main__":
    main()
