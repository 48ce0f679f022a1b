"""The same training recipe in PyTorch, on exactly the same inputs, for comparing learning curves.

    PYTHONPATH=. python benchmarks/torch_reference.py --resize 96 --out runs/torch-96

Batches come from ``minialex.data`` (same files, same bilinear resize, same order per (seed, epoch)), so both
frameworks see identical images in identical order. The network is d2l's AlexNet with Xavier-uniform weights and
PyTorch's default biases (d2l's ``init_cnn``); dropout and initial weights come from PyTorch's generator seeded
with ``--seed``, so they differ from minialex's draws. The loop, timing and ``metrics.jsonl`` format are
minialex's (see ``minialex/training/loop.py``): time counts forward + backward + update + reading the loss back.
"""

import argparse
import json
import math
import os
import time
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from minialex import backend
from minialex.data import DataLoader, load_dataset
from minialex.figures import plot_curves
from minialex.tools.bench import torch_alexnet


def d2l_alexnet(num_classes: int, input_size: int) -> nn.Sequential:
    """minialex.tools.bench's PyTorch AlexNet with d2l's init: Xavier-uniform weights, default biases."""
    net = torch_alexnet(input_size, num_classes)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
    return net


def resume(out: Path, net, optimizer) -> list:
    state = torch.load(out / "torch_checkpoint.pt")
    net.load_state_dict(state["net"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    return state["history"]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--resize", type=int, default=96)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-limit", type=int, default=None)
    p.add_argument("--test-limit", type=int, default=None)
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", required=True)
    p.add_argument("--resume", action="store_true", help="continue from OUT/torch_checkpoint.pt (saved every epoch)")
    args = p.parse_args()

    started = time.perf_counter()
    backend.use_backend("numpy")  # batches as host NumPy arrays, for torch.from_numpy
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_set, test_set = load_dataset("fashion-mnist", args.data_dir)
    train_iter = DataLoader(train_set, args.batch_size, resize=args.resize, seed=args.seed, limit=args.train_limit)
    test_iter = DataLoader(test_set, args.batch_size, shuffle=False, resize=args.resize, limit=args.test_limit)
    net = d2l_alexnet(len(train_set.classes), args.resize)
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = {**vars(args), "framework": f"torch {torch.__version__}", "threads": torch.get_num_threads()}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    history = resume(out, net, optimizer) if args.resume else []
    (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in history))
    for epoch in range(len(history), args.epochs):
        epoch_started = time.perf_counter()
        net.train()
        loss_sum = correct = count = 0
        timed = 0.0
        for x, y in tqdm(train_iter.batches(epoch), total=len(train_iter), desc=f"epoch {epoch + 1}", leave=False,
                         mininterval=5.0):
            x, y = torch.from_numpy(x), torch.from_numpy(y)
            t = time.perf_counter()
            logits = net(x)
            loss = loss_fn(logits, y)
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise SystemExit(f"loss became {loss_value} in epoch {epoch + 1}")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            correct += int((logits.argmax(dim=1) == y).sum())
            timed += time.perf_counter() - t
            loss_sum += loss_value * len(y)
            count += len(y)
        net.eval()
        test_correct = test_count = 0
        with torch.no_grad():
            for x, y in test_iter.batches(0):
                test_correct += int((net(torch.from_numpy(x)).argmax(dim=1) == torch.from_numpy(y)).sum())
                test_count += len(y)
        record = {"epoch": epoch + 1, "loss": loss_sum / count, "train_acc": correct / count,
                  "test_acc": test_correct / test_count, "examples_per_sec": count / timed,
                  "seconds": time.perf_counter() - epoch_started}
        history.append(record)
        torch.save({"net": net.state_dict(), "optimizer": optimizer.state_dict(), "rng": torch.get_rng_state(),
                    "history": history}, out / "torch_checkpoint.pt.tmp")
        os.replace(out / "torch_checkpoint.pt.tmp", out / "torch_checkpoint.pt")
        with open(out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        plot_curves(history, out / "curves.png", epochs=args.epochs, title="PyTorch")
        print(f"epoch {record['epoch']}/{args.epochs}: loss {record['loss']:.3f}, train acc {record['train_acc']:.3f}, "
              f"test acc {record['test_acc']:.3f}, {record['examples_per_sec']:.1f} examples/sec, "
              f"{record['seconds']:.0f} s", flush=True)
    print(f"done in {time.perf_counter() - started:.0f} s wall; results in {out}")


if __name__ == "__main__":
    main()
