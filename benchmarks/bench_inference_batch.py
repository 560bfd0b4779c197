"""Faces/s and peak memory of ``predict_proba`` by the batch the network takes at once.

On a CPU fer_sklearn's nets take 32 images per forward pass without
gradients (prediction and validation), whatever the training batch
(``fer_sklearn._precision.CPU_INFERENCE_BATCH``). This script shows why: for
each shipped model and each batch size, in a fresh subprocess, it times
``predict_proba`` on synthetic 48x48 faces (speed does not depend on the
faces) with the model's own test-time views, and reads the peak memory the
call adds (``VmHWM`` reset just before each call; Linux only), the median
speed and the largest peak of ``--repeats`` calls.

Usage::

    python benchmarks/bench_inference_batch.py --sizes 16 32 64 128 --repeats 3
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _memory import reset_peak, status_mb  # benchmarks/ is the script's directory

REPO = Path(__file__).resolve().parents[1]


def child(model_name, batch, n_faces, threads, repeats):
    """In a fresh process: timed ``predict_proba`` calls; print their figures as JSON."""
    import torch

    from fer_sklearn.datasets import make_faces
    from fer_sklearn.pretrained import load_pretrained

    torch.set_num_threads(threads)
    model = load_pretrained(model_name)
    # An attribute, as skorch keeps it; set_params would re-initialise the net.
    model.net_.iterator_valid__batch_size = batch
    X = make_faces(n_faces, random_state=0, return_X_y=True)[0]
    model.predict_proba(X[:batch])  # first-call allocations out of the measure
    speeds, growths = [], []
    for _ in range(repeats):
        before = reset_peak()
        start = time.perf_counter()
        model.predict_proba(X)
        speeds.append(n_faces / (time.perf_counter() - start))
        growths.append(status_mb("VmHWM") - before)
    print(json.dumps({"faces_per_s": float(np.median(speeds)),
                      "peak_growth_mb": max(growths), "faces_per_s_runs": speeds}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["fer2013", "ferplus"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--faces", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks/results/inference_batch.json")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]), args.faces, args.threads, args.repeats)
        return
    from fer2013 import cpu_description

    results = {model: {} for model in args.models}
    for model in args.models:
        for size in args.sizes:
            done = subprocess.run(
                [sys.executable, __file__, "--child", model, str(size), "--faces",
                 str(args.faces), "--threads", str(args.threads), "--repeats",
                 str(args.repeats)], check=True, stdout=subprocess.PIPE, text=True)
            run = results[model][str(size)] = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{model}, batch {size}: {run['faces_per_s']:.1f} faces/s (median), "
                  f"+{run['peak_growth_mb']:.0f} MB", flush=True)
    report = {"command": "python benchmarks/bench_inference_batch.py " + " ".join(
                  argv if argv is not None else sys.argv[1:]),
              "cpu": cpu_description(), "cpu_count": os.cpu_count(), "threads": args.threads,
              "faces": args.faces, "repeats": args.repeats, "platform": platform.platform(),
              "results": results}
    print(f"{'model':<10}{'batch':>6}{'faces/s':>10}{'peak +MB':>10}")
    for model, by_size in results.items():
        for size, figures in by_size.items():
            print(f"{model:<10}{size:>6}{figures['faces_per_s']:>10.1f}"
                  f"{figures['peak_growth_mb']:>10.0f}")
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
