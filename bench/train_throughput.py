#!/usr/bin/python3
"""Training-epoch throughput of the MLP and the small CNN in Python PyTorch.

The Python twin of secateurs_bench_train: the same layer shapes as the plugins
model.mlp (784-512-256-10, ReLU) and model.small_cnn (conv3x3(32, pad 1) + ReLU +
maxpool2, conv3x3(64, pad 1) + ReLU + maxpool2, Linear(64*7*7, 128) + ReLU,
Linear(128, 10)), the same batch size and the same loop as host::fit (data pre-loaded as
tensors, randperm each epoch, index_select per batch, zero_grad, forward, cross_entropy,
loss.item() with a finiteness check, backward, the batch accuracy, SGD step with
momentum 0.9, lr 0.05 and the trainer's default weight decay 5e-4).

Run it with Debian's interpreter, which has python3-torch 1.13.1 (the same LibTorch as
the C++ build): /usr/bin/python3 bench/train_throughput.py --threads 1
"""

import argparse
import ctypes
import gzip
import json
import math
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DATA_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def load_fashion_mnist(directory, limit):
    images = read_idx(os.path.join(directory, "train-images-idx3-ubyte.gz"), 16)
    labels = read_idx(os.path.join(directory, "train-labels-idx1-ubyte.gz"), 8)
    images = images.reshape(-1, 1, 28, 28)
    if limit > 0:
        images, labels = images[:limit], labels[:limit]
    inputs = torch.from_numpy(images.astype(np.float32) / 255.0)
    targets = torch.from_numpy(labels.astype(np.int64))
    return inputs.contiguous(), targets.contiguous()


def make_model(name):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256),
                             nn.ReLU(), nn.Linear(256, 10))
    if name == "small_cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
    raise SystemExit(f"unknown model {name!r}")


def dense_macs(name):
    if name == "mlp":
        return 784 * 512 + 512 * 256 + 256 * 10
    return (28 * 28 * 32 * 1 * 9 + 14 * 14 * 64 * 32 * 9 + 64 * 7 * 7 * 128 + 128 * 10)


def train_epoch(model, optimizer, inputs, labels, batch_size, generator):
    """One epoch as host::fit runs it; returns (seconds, samples, mean loss)."""
    start = time.perf_counter()
    model.train(True)
    order = torch.randperm(labels.size(0), generator=generator)
    loss_sum, correct, counted = 0.0, 0, 0
    for first in range(0, order.size(0), batch_size):
        positions = order[first:first + batch_size]
        x = inputs.index_select(0, positions)
        y = labels.index_select(0, positions)
        optimizer.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        value = loss.item()
        if not math.isfinite(value):
            raise SystemExit(f"training diverged: loss {value}")
        loss.backward()
        n = y.size(0)
        loss_sum += value * n
        correct += logits.detach().argmax(1).eq(y).sum().item()
        counted += n
        optimizer.step()
    return time.perf_counter() - start, counted, loss_sum / counted


def openblas():
    """OpenBLAS as loaded by torch (libblas.so.3 -> openblas-pthread), or None."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
    except OSError:
        return None
    lib.openblas_get_config.restype = ctypes.c_char_p
    lib.openblas_get_corename.restype = ctypes.c_char_p
    return lib


def evaluate(model, inputs, labels, batch_size):
    """Inference as host::evaluate runs it: eval mode, no grad, batches of batch_size."""
    model.train(False)
    with torch.no_grad():
        logits = torch.cat([model(inputs[i:i + batch_size]).float()
                            for i in range(0, inputs.size(0), batch_size)])
        loss = F.cross_entropy(logits.double(), labels).item()
        accuracy = logits.argmax(1).eq(labels).double().mean().item()
    return loss, accuracy


def gemm_peak(size, repetitions):
    a = torch.rand(size, size)
    b = torch.rand(size, size)
    c = torch.empty(size, size)
    torch.mm(a, b, out=c)
    best = math.inf
    for _ in range(repetitions):
        start = time.perf_counter()
        torch.mm(a, b, out=c)
        best = min(best, time.perf_counter() - start)
    return 2.0 * size ** 3 / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="all", choices=["mlp", "small_cnn", "all"])
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--blas-threads", type=int, default=0,
                        help="OpenBLAS threads (0: the same as --threads)")
    parser.add_argument("--samples", type=int, default=60000,
                        help="first N training images (default 60000, all)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs after the warm-up")
    parser.add_argument("--warmup", type=int, default=1, help="untimed epochs first")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--channels-last", action="store_true",
                        help="CNN weights and inputs in channels-last memory format")
    parser.add_argument("--no-mkldnn", action="store_true",
                        help="torch.backends.mkldnn.enabled = False")
    parser.add_argument("--eval-batch", type=int, default=1024,
                        help="after training, time inference on the training images in "
                             "batches of this size, as host::evaluate (0: skip)")
    parser.add_argument("--gemm-size", type=int, default=2048, help="0 skips the GEMM")
    parser.add_argument("--gemm-reps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", default=DATA_DIR)
    parser.add_argument("--json", help="append one JSON line per model to this file")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    blas = openblas()
    if blas is not None:
        # OpenBLAS has its own thread pool, which torch.set_num_threads does not reach.
        blas.openblas_set_num_threads(args.blas_threads or args.threads)
    torch.manual_seed(args.seed)
    if args.no_mkldnn:
        torch.backends.mkldnn.enabled = False
    inputs, labels = load_fashion_mnist(args.data, args.samples)
    print(f"python {sys.version.split()[0]} torch {torch.__version__} ({torch.__file__}); "
          f"threads {torch.get_num_threads()}; mkldnn available "
          f"{torch.backends.mkldnn.is_available()} enabled {torch.backends.mkldnn.enabled}; "
          f"{labels.size(0)} samples, batch {args.batch_size}")

    if blas is not None:
        print(f"BLAS: {blas.openblas_get_config().decode()}, core "
              f"{blas.openblas_get_corename().decode()}, threads {blas.openblas_get_num_threads()}")
    models = ["mlp", "small_cnn"] if args.model == "all" else [args.model]
    results = []
    for name in models:
        generator = torch.Generator().manual_seed(args.seed)
        model = make_model(name)
        x = inputs
        if args.channels_last and name == "small_cnn":
            model = model.to(memory_format=torch.channels_last)
            x = inputs.to(memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                                    weight_decay=args.weight_decay)
        rates, losses = [], []
        usage = None
        for epoch in range(args.warmup + args.epochs):
            if epoch == args.warmup:
                usage = resource.getrusage(resource.RUSAGE_SELF)
            seconds, samples, loss = train_epoch(model, optimizer, x, labels, args.batch_size,
                                                 generator)
            losses.append(loss)
            if epoch >= args.warmup:
                rates.append(samples / seconds)
        end = resource.getrusage(resource.RUSAGE_SELF)
        r = {"model": name, "rates": rates, "rate": statistics.median(rates),
             "user": end.ru_utime - usage.ru_utime, "sys": end.ru_stime - usage.ru_stime,
             "faults": end.ru_minflt - usage.ru_minflt, "loss": losses[-1]}
        if args.eval_batch > 0:
            start = time.perf_counter()
            evaluate(model, x, labels, args.eval_batch)
            r["eval_rate"] = labels.size(0) / (time.perf_counter() - start)
        print(f"  {name}: epochs {' '.join(f'{v:.0f}' for v in rates)} samples/s; user "
              f"{r['user']:.2f} s, sys {r['sys']:.2f} s, minor faults {r['faults']}; loss "
              f"{r['loss']:.4f}" + (f"; evaluate (batch {args.eval_batch}) "
                                    f"{r['eval_rate']:.0f} samples/s" if args.eval_batch > 0
                                    else ""), flush=True)
        results.append(r)

    # After the training, as in the C++ program: the GEMM's buffers would otherwise raise
    # glibc's dynamic mmap threshold before the models run.
    peak = gemm_peak(args.gemm_size, args.gemm_reps) if args.gemm_size > 0 else float("nan")
    if args.gemm_size > 0:
        print(f"  GEMM {args.gemm_size}^3 float32 via torch.mm, best of {args.gemm_reps}: "
              f"{peak / 1e9:.1f} GFLOP/s")

    print(f"\n{'model':<10} {'threads':>7} {'samples/s':>10} {'min':>9} {'max':>9} "
          f"{'GFLOP/s':>8} {'peak':>8} {'%peak':>6} {'sys/s':>7}")
    for r in results:
        name, rate, rates = r["model"], r["rate"], r["rates"]
        # Training FLOPs per example: forward 2*MACs, backward about twice the forward.
        flops = rate * 3 * 2 * dense_macs(name)
        timed = sum(len(labels) / v for v in rates)
        print(f"{name:<10} {args.threads:>7} {rate:>10.0f} {min(rates):>9.0f} {max(rates):>9.0f} "
              f"{flops / 1e9:>8.1f} {peak / 1e9:>8.1f} {100 * flops / peak:>5.1f}% "
              f"{r['sys'] / timed:>7.3f}")
        if args.json:
            with open(args.json, "a", encoding="utf-8") as out:
                out.write(json.dumps({
                    "impl": "python", "model": name, "threads": args.threads,
                    "batch_size": args.batch_size, "samples": int(labels.size(0)),
                    "samples_per_s": rate, "epoch_rates": rates,
                    "macs_per_example": dense_macs(name), "train_flops_per_s": flops,
                    "gemm_flops_per_s": peak, "user_s": r["user"], "sys_s": r["sys"],
                    "eval_samples_per_s": r.get("eval_rate"),
                    "channels_last": args.channels_last,
                    "mkldnn": torch.backends.mkldnn.enabled}) + "\n")
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB")
    print("(FLOP/s = samples/s * 3 * 2 * MACs per example; peak: the torch.mm GEMM, same "
          "threads; sys/s: system CPU seconds per second of the timed epochs)")


if __name__ == "__main__":
    main()
