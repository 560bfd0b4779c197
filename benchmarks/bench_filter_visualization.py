"""Batched vs one-filter-at-a-time filter visualisation (fer_sklearn.interpret.visualize_filters).

Both runs do the same work: 64 filters of one layer, the same number of
gradient-ascent steps. "batched" optimises all 64 images in one batch per
step (what ``visualize_filters`` does); "sequential" calls it once per filter.
Each is timed ``--repeats`` times and the median is reported.

To show how much any batching could gain, the script also counts the
floating-point work of the batched run (torch's FlopCounterMode: convolution
forward and input-gradient work) and divides it by the rate this machine
reaches on a large matrix product: no implementation of these steps can be
faster than that time, so ``sequential / that time`` bounds the speed-up.

Usage::

    python benchmarks/bench_filter_visualization.py [--n-steps 64] [--repeats 3] [--threads 2]
"""

import argparse
import platform
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from fer_sklearn import FERCNNClassifier
from fer_sklearn.datasets import make_faces
from fer_sklearn.interpret import visualize_filters


def median_seconds(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), times


MATMUL_SIZE = 2048


def matmul_flops_per_second(repeats, size=MATMUL_SIZE):
    """This machine's dense float32 rate: the median over ``repeats`` products."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    seconds, _ = median_seconds(lambda: [a @ b for _ in range(4)], repeats)
    return 4 * 2 * size ** 3 / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-steps", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--layer", default="relu3_2")
    parser.add_argument("--n-filters", type=int, default=16,
                        help="filters of the first block; the layer needs 64 channels")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    # Trained briefly: the timing does not depend on how well. The width
    # doubles per block, so relu3_2 of a 16-filter net has 64 channels.
    X, y = make_faces(256, random_state=0, return_X_y=True)
    clf = FERCNNClassifier(n_filters=args.n_filters, n_blocks=3, max_epochs=1, random_state=0,
                           device="cpu").fit(X, y)
    filters = np.arange(64)

    def batched():
        visualize_filters(clf, args.layer, filters, n_steps=args.n_steps, random_state=0)

    def sequential():
        for f in filters:
            visualize_filters(clf, args.layer, [f], n_steps=args.n_steps, random_state=0)

    batched()  # warm-up (allocator, oneDNN kernels)
    t_batched, all_batched = median_seconds(batched, args.repeats)
    t_sequential, all_sequential = median_seconds(sequential, args.repeats)
    with FlopCounterMode(display=False) as counter:
        batched()
    flops = counter.get_total_flops()
    peak = matmul_flops_per_second(args.repeats)
    t_bound = flops / peak
    print(f"torch {torch.__version__}, {args.threads} threads, {platform.processor() or platform.machine()}")
    print(f"layer {args.layer}, 64 filters, {args.n_steps} steps, median of {args.repeats} runs")
    print(f"batched    : {t_batched:8.2f} s  (runs: {', '.join(f'{t:.2f}' for t in all_batched)})")
    print(f"sequential : {t_sequential:8.2f} s  (runs: {', '.join(f'{t:.2f}' for t in all_sequential)})")
    print(f"speed-up   : {t_sequential / t_batched:8.1f}x")
    print(f"work       : {flops / 1e9:8.1f} GFLOP in the batched run, "
          f"{flops / 1e9 / t_batched:.0f} GFLOP/s")
    print(f"matmul rate: {peak / 1e9:8.0f} GFLOP/s "
          f"({MATMUL_SIZE}x{MATMUL_SIZE} float32 products)")
    print(f"bound      : {t_bound:8.2f} s at the matmul rate, so at most "
          f"{t_sequential / t_bound:.1f}x over sequential")


if __name__ == "__main__":
    main()
