"""Overhead of the estimator against a hand-written PyTorch loop.

Trains the same module (the default ``FERCNN``, same initial weights) on the
same standardised data with the same batch size, optimizer and epochs, once
through ``FERCNNClassifier.fit`` and once through a plain loop; then times
``predict_proba`` against a plain ``torch.no_grad`` eval loop. Runs alternate
and the medians of ``--repeats`` runs are compared.

Usage::

    python benchmarks/bench_overhead.py --n-samples 2048 --epochs 2 --repeats 3
"""

import argparse
import statistics
import time

import numpy as np
import torch

from fer_sklearn import FERCNNClassifier
from fer_sklearn.datasets import make_faces


def estimator(epochs, batch_size):
    # Augmentation, schedule, label smoothing, test-time views and bfloat16 off:
    # the raw loop below does none of them.
    return FERCNNClassifier(max_epochs=epochs, batch_size=batch_size, augment="none",
                            lr_schedule="none", label_smoothing=0.0, test_time_flip=False,
                            test_time_shift=0, precision="float32", device="cpu",
                            random_state=0)


def raw_fit(module, X, y, epochs, batch_size, lr, weight_decay):
    optimizer = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(0)
    module.train()
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), batch_size):
            index = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(module(X[index]), y[index])
            loss.backward()
            optimizer.step()


def raw_predict_proba(module, X, batch_size):
    module.eval()
    with torch.no_grad():
        return torch.cat([torch.softmax(module(X[i:i + batch_size]), dim=1)
                          for i in range(0, len(X), batch_size)]).numpy()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    X, y = make_faces(args.n_samples, random_state=0, return_X_y=True)
    y_tensor = torch.as_tensor(y, dtype=torch.int64)
    times = {"fit": [], "raw_fit": [], "predict": [], "raw_predict": []}
    for _ in range(args.repeats):
        clf = estimator(args.epochs, args.batch_size)
        start = time.perf_counter()
        clf.fit(X, y)
        times["fit"].append(time.perf_counter() - start)

        X_tensor = clf.to_tensor(X)  # the estimator's own scaling, outside the timings
        torch.manual_seed(0)
        module = clf._build_module(7)
        start = time.perf_counter()
        raw_fit(module, X_tensor, y_tensor, args.epochs, args.batch_size, clf.lr,
                clf.weight_decay)
        times["raw_fit"].append(time.perf_counter() - start)

        start = time.perf_counter()
        proba = clf.predict_proba(X)
        times["predict"].append(time.perf_counter() - start)
        start = time.perf_counter()
        raw = raw_predict_proba(clf.module_, X_tensor, args.batch_size)
        times["raw_predict"].append(time.perf_counter() - start)
        np.testing.assert_allclose(proba, raw, atol=1e-5)

    median = {k: statistics.median(v) for k, v in times.items()}
    print(f"{args.n_samples} faces, {args.epochs} epochs, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads, medians of {args.repeats}:")
    print(f"fit:           estimator {median['fit']:.2f} s, raw loop {median['raw_fit']:.2f} s, "
          f"ratio {median['fit'] / median['raw_fit']:.3f}")
    print(f"predict_proba: estimator {median['predict']:.3f} s, raw loop "
          f"{median['raw_predict']:.3f} s, ratio {median['predict'] / median['raw_predict']:.3f}")
    print(f"train images/s (estimator): {args.n_samples * args.epochs / median['fit']:.0f}")


if __name__ == "__main__":
    main()
