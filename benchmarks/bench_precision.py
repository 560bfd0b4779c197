"""bfloat16 autocast against float32 for the default CNN estimator.

Times ``FERCNNClassifier(precision=...).fit`` (default recipe: flips, shifts,
one-cycle schedule) for ``--epochs`` epochs on ``--n-samples`` synthetic faces,
and ``predict_proba`` on them with one test-time view, for each precision in
turn; the two precisions alternate and the medians of ``--repeats`` runs are
compared. Accuracy is not measured here (see the FER2013 benchmark).

Usage::

    python benchmarks/bench_precision.py --n-samples 2048 --epochs 1 --repeats 5
"""

import argparse
import statistics
import time

import torch

from fer_sklearn import FERCNNClassifier
from fer_sklearn._precision import native_bfloat16
from fer_sklearn.datasets import make_faces

PRECISIONS = ("float32", "bfloat16")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    X, y = make_faces(args.n_samples, random_state=0, return_X_y=True)
    times = {(p, kind): [] for p in PRECISIONS for kind in ("fit", "predict")}
    for _ in range(args.repeats):
        for precision in PRECISIONS:
            clf = FERCNNClassifier(max_epochs=args.epochs, precision=precision,
                                   test_time_flip=False, test_time_shift=0, device="cpu",
                                   random_state=0)
            start = time.perf_counter()
            clf.fit(X, y)
            times[precision, "fit"].append(time.perf_counter() - start)
            start = time.perf_counter()
            clf.predict_proba(X)
            times[precision, "predict"].append(time.perf_counter() - start)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, native bfloat16: "
          f"{native_bfloat16('cpu')}; {args.n_samples} faces, {args.epochs} epoch(s), "
          f"medians of {args.repeats} alternating runs")
    for kind in ("fit", "predict"):
        fp32, bf16 = (statistics.median(times[p, kind]) for p in PRECISIONS)
        images = args.n_samples * (args.epochs if kind == "fit" else 1)
        print(f"{kind:8s} float32 {fp32:7.2f} s ({images / fp32:4.0f} images/s)  "
              f"bfloat16 {bf16:7.2f} s ({images / bf16:4.0f} images/s)  "
              f"speed-up {fp32 / bf16:.2f}x")


if __name__ == "__main__":
    main()
