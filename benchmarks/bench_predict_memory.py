"""Peak memory of ``predict_proba``: test-time views built per batch against all at once.

``predict_proba`` averages over the test-time views (by default for the CNN:
each face, its mirror, and copies shifted 1 pixel up, down, left and right,
each mirrored: 10 views). Before, it converted the whole input to float32,
standardised it, and passed each view of the *whole* array to skorch, so its
memory grew with the number of faces times a few float32 copies. Now it
converts, standardises and builds the views ``batch_size`` faces at a time.

This script runs both, the old approach reproduced below as
``predict_proba_all_views``, for each size, each in a fresh subprocess, on
uint8 faces (as ``load_fer2013`` returns them). A subprocess measures its own
peak resident memory (``VmHWM`` of ``/proc/self/status``, reset just before
``predict_proba`` by writing 5 to ``/proc/self/clear_refs``, Linux only)
against its resident memory at that moment (Python, torch, the model and the
input already loaded), so the growth is what ``predict_proba`` itself adds.
The model is small and barely trained (1 epoch on 200 faces): memory does
not depend on the weights, and prediction stays quick.

Usage::

    python benchmarks/bench_predict_memory.py --sizes 10000 100000 \\
        --out benchmarks/results/predict_memory.json
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
from _memory import reset_peak, status_mb  # benchmarks/ is the script's directory

MODES = ("all_views", "per_batch")


def predict_proba_all_views(clf, X):
    """``predict_proba`` as it was before batching: every view of the whole array.

    ``to_tensor`` on all of ``X`` converts it to float32 and standardises it
    at once (as the old ``to_tensor`` did), then each full-size view goes to
    skorch, which batches only the forward passes.
    """
    from fer_sklearn._test_time import prediction_views

    flip, shift = clf._test_time_views()
    views = prediction_views(clf.to_tensor(X), flip, shift)
    return np.mean([clf.net_.predict_proba(view).astype(np.float64) for view in views], axis=0)


def faces(n_samples):
    """``n_samples`` uint8 faces of 48x48, as rows: 200 synthetic faces repeated."""
    from fer_sklearn.datasets import make_faces

    base = make_faces(200, random_state=0, return_X_y=True)[0].astype(np.uint8)
    return np.tile(base, (-(-n_samples // len(base)), 1))[:n_samples]


def child(model_path, n_samples, mode, threads):
    """Load the model, build the faces, run one predict_proba; print the figures as JSON."""
    import torch

    from fer_sklearn import load

    torch.set_num_threads(threads)
    clf = load(model_path)
    X = faces(n_samples)
    predict = clf.predict_proba if mode == "per_batch" else (
        lambda X: predict_proba_all_views(clf, X))
    predict(X[:2])  # first-call allocations (skorch, oneDNN) before the measure
    before = reset_peak()
    start = time.perf_counter()
    proba = predict(X)
    seconds = time.perf_counter() - start
    peak = status_mb("VmHWM")
    print(json.dumps({
        "n_samples": n_samples, "mode": mode, "input_mb": X.nbytes / 2**20,
        "rss_before_mb": before, "peak_rss_mb": peak, "growth_mb": peak - before,
        "growth_over_input": (peak - before) / (X.nbytes / 2**20), "seconds": seconds,
        # To check that both modes predict the same.
        "proba_column_sums": proba.sum(axis=0).tolist(),
    }))


def fit_model(path):
    from fer_sklearn import FERCNNClassifier, save
    from fer_sklearn.datasets import make_faces

    X, y = make_faces(200, random_state=0, return_X_y=True)
    # Default test-time views (flip, shift 1: 10 views); a small network, 1 epoch.
    clf = FERCNNClassifier(n_filters=8, n_blocks=3, convs_per_block=1, max_epochs=1,
                           precision="float32", device="cpu", random_state=0).fit(X, y)
    save(clf, path)
    return clf


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=None, help="JSON file for the results")
    parser.add_argument("--child", nargs=3, metavar=("MODEL", "N", "MODE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        model, n_samples, mode = args.child
        child(model, int(n_samples), mode, args.threads)
        return

    import sklearn
    import skorch
    import torch
    from fer2013 import cpu_description  # benchmarks/ is the script's directory

    from fer_sklearn._test_time import n_views

    with tempfile.TemporaryDirectory() as tmp:
        model_path = os.path.join(tmp, "model.skops")
        clf = fit_model(model_path)
        results = []
        for n_samples in args.sizes:
            for mode in MODES:
                done = subprocess.run(
                    [sys.executable, __file__, "--threads", str(args.threads),
                     "--child", model_path, str(n_samples), mode],
                    check=True, capture_output=True, text=True,
                )
                results.append(json.loads(done.stdout.strip().splitlines()[-1]))
                row = results[-1]
                print(f"{n_samples:>7} faces ({row['input_mb']:6.1f} MB uint8)  {mode:<9}  "
                      f"growth {row['growth_mb']:7.1f} MB ({row['growth_over_input']:5.2f}x "
                      f"input)  peak RSS {row['peak_rss_mb']:7.1f} MB  {row['seconds']:6.1f} s",
                      flush=True)
            old, new = results[-2:]
            np.testing.assert_allclose(new["proba_column_sums"], old["proba_column_sums"],
                                       rtol=1e-4)
    report = {
        "benchmark": "predict_proba peak memory, test-time views per batch vs all at once",
        "command": "python benchmarks/bench_predict_memory.py " + " ".join(
            argv if argv is not None else sys.argv[1:]),
        "model": {"estimator": "FERCNNClassifier", "n_filters": 8, "n_blocks": 3,
                  "convs_per_block": 1, "n_params": clf.n_params_,
                  "model_mb": clf.n_params_ * 4 / 2**20, "batch_size": clf.batch_size,
                  "test_time_flip": clf.test_time_flip,
                  "test_time_shift": clf.test_time_shift,
                  "n_views": n_views(clf.test_time_flip, clf.test_time_shift)},
        "machine": {"cpu": cpu_description(), "cpu_count": os.cpu_count(),
                    "torch_threads": args.threads},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "skorch": skorch.__version__, "sklearn": sklearn.__version__},
        "results": results,
    }
    if args.out:
        with open(args.out, "w") as file:
            json.dump(report, file, indent=2)
            file.write("\n")


if __name__ == "__main__":
    main()
