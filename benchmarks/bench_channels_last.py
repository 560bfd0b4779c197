"""Channels-last against contiguous (NCHW) weights for the default CNN.

``FERCNN`` stores its weights channels-last so that oneDNN (CPU) and cuDNN
pick their NHWC convolution kernels. This times one AdamW training step and
one inference batch of the default module both ways, on the same plain NCHW
input batch, alternating the two layouts; medians of ``--repeats`` runs of
``--steps`` steps each.

Usage::

    python benchmarks/bench_channels_last.py --repeats 5 --steps 8
"""

import argparse
import statistics
import time

import torch

from fer_sklearn._modules import FERCNN


def step_seconds(module, X, y, steps):
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    module.train()
    for step in range(steps + 2):  # two warm-up steps
        if step == 2:
            start = time.perf_counter()
        optimizer.zero_grad()
        loss_fn(module(X), y).backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps


def predict_seconds(module, X, steps):
    module.eval()
    with torch.no_grad():
        module(X)
        start = time.perf_counter()
        for _ in range(steps):
            module(X)
    return (time.perf_counter() - start) / steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    X = torch.randn(args.batch_size, 1, 48, 48)
    y = torch.randint(0, 7, (args.batch_size,))
    layouts = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}
    times = {(name, kind): [] for name in layouts for kind in ("train", "predict")}
    for _ in range(args.repeats):
        for name, layout in layouts.items():
            torch.manual_seed(0)
            module = FERCNN(7).to(memory_format=layout)
            times[name, "train"].append(step_seconds(module, X, y, args.steps))
            times[name, "predict"].append(predict_seconds(module, X, args.steps))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"batch {args.batch_size}, medians of {args.repeats} x {args.steps} steps")
    for kind in ("train", "predict"):
        fast = statistics.median(times["channels_last", kind])
        slow = statistics.median(times["contiguous", kind])
        print(f"{kind:8s} channels_last {fast * 1e3:7.1f} ms  contiguous {slow * 1e3:7.1f} ms  "
              f"speed-up {slow / fast:.2f}x")


if __name__ == "__main__":
    main()
