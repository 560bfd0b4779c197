"""Choose the CNN's test-time views on a validation split of FER2013 Training.

Usage::

    python benchmarks/fer2013_test_time_views.py \\
        --model benchmarks/results/cnn_selection/cnn_val12_default.joblib \\
        --out benchmarks/results/cnn_selection/test_time_views.json

``--model`` is a ``FERCNNClassifier`` fitted by ``benchmarks/fer2013.py`` with
``validation_fraction`` set; its held-out rows of Training are recovered
exactly as ``fit`` drew them (same ``random_state``), so PublicTest plays no
part. Every view is predicted once: the image, shifted by ``s`` pixels along
the axes ("cross", 5 positions) or also diagonally ("grid", 9 positions), for
``s`` in ``--shifts``, each with its mirror. The validation accuracy of each
combination is printed with the paired count of images it fixes and breaks
against flips alone. ``test_time_shift=s`` of the estimators is the cross
with mirrors.
"""

import argparse
import json
import time
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.utils import check_random_state

from fer_sklearn._test_time import shifted
from fer_sklearn.datasets import load_fer2013

from fer2013 import DEFAULT_CSV  # the sibling script; benchmarks/ is on sys.path when run


def validation_split(est, csv):
    """The (X, y) that ``est.fit`` held out of Training, standardised as in fit."""
    X, y = load_fer2013(csv, usage="Training", return_X_y=True)
    X = X.reshape(len(X), -1).astype(np.float32)
    y = np.searchsorted(est.classes_, y)
    # fit draws its seed from random_state, then splits with it (_BaseFERClassifier.fit).
    seed = int(check_random_state(est.random_state).randint(np.iinfo(np.int32).max - 1))
    _, _, (X_valid, y_valid) = est._split(X, y, seed)
    return torch.as_tensor(X_valid).reshape(-1, 1, *est.image_shape_), y_valid


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", default=str(DEFAULT_CSV))
    parser.add_argument("--shifts", default="1,2")
    parser.add_argument("--out")
    args = parser.parse_args(argv)

    est = joblib.load(args.model)
    X, y = validation_split(est, args.data)
    shifts = [int(s) for s in args.shifts.split(",")]
    positions = {"cross": [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]}
    positions["grid"] = positions["cross"] + [(1, 1), (1, -1), (-1, 1), (-1, -1)]

    start = time.perf_counter()
    proba = {}  # (dy, dx, mirrored) -> probabilities
    for dy, dx in {(dy * s, dx * s) for s in [0, *shifts] for dy, dx in positions["grid"]}:
        view = shifted(X, dy, dx)  # gaps at 0, the mean intensity, as in predict_proba
        proba[dy, dx, False] = est.net_.predict_proba(view)
        proba[dy, dx, True] = est.net_.predict_proba(view.flip(-1))
    seconds = time.perf_counter() - start

    def predicted(keys):
        return np.mean([proba[k] for k in keys], axis=0).argmax(axis=1)

    flips = predicted([(0, 0, False), (0, 0, True)])
    results = {"model": args.model, "n_valid": len(y), "views_predicted": len(proba),
               "predict_s": seconds,
               "plain": float(np.mean(predicted([(0, 0, False)]) == y)),
               "flip": float(np.mean(flips == y))}
    print(f"{len(y)} validation images; plain {results['plain']:.4f}, flip {results['flip']:.4f}")
    for s in shifts:
        for layout, offsets in positions.items():
            keys = [(dy * s, dx * s, m) for dy, dx in offsets for m in (False, True)]
            pred = predicted(keys)
            name = f"flip_{layout}{s}"
            results[name] = {
                "views": len(keys), "accuracy": float(np.mean(pred == y)),
                "fixed_vs_flip": int(np.sum((pred == y) & (flips != y))),
                "broken_vs_flip": int(np.sum((pred != y) & (flips == y))),
            }
            r = results[name]
            print(f"{name} ({r['views']} views): {r['accuracy']:.4f}  "
                  f"fixes {r['fixed_vs_flip']}, breaks {r['broken_vs_flip']} vs flip")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
