"""FER2013 benchmark: train on Training, report on PublicTest.

Each model is fitted on the 28,709 Training rows with the recipe named below and
evaluated on the 3,589 PublicTest rows (PublicTest is never used for a choice).
For every model it writes ``<out>/<model>.json`` (accuracy with the estimator's
own test-time views and, for fer_sklearn's, with none, with mirrors only and with
mirrors plus 1-pixel shifts; macro-F1, per-class recall, the most
confused pairs, fit time, training and inference images/s, peak memory) and the
fitted model as ``<out>/<model>.joblib``. ``--table`` merges the JSON files of a
folder into a Markdown table.

Usage::

    python benchmarks/fer2013.py --models cnn,dnn --out benchmarks/results
    python benchmarks/fer2013.py --table benchmarks/results > docs/_fer2013_table.md

Runs take hours on a laptop CPU: start them with ``nohup ... &``. On a machine
without the CSV, ``--arrays`` takes the same rows pre-parsed into an ``.npz``
(optionally ``.xz``-compressed) with ``X`` (uint8, n x 2304), ``y`` and a
boolean ``train`` column, which is how the GPU figures were produced.
"""

import argparse
import io
import json
import lzma
import os
import platform
import resource
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, f1_score, recall_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fer_sklearn import EMOTIONS, FERCNNClassifier, FERDNNClassifier

DEFAULT_CSV = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fer2013" / "fer2013.csv.gz"


def make_model(name, device):
    """The recipes compared; the names are the ``--models`` choices."""
    if name == "cnn":  # the library's defaults
        return FERCNNClassifier(device=device, random_state=0, verbose=1)
    if name == "cnn_long":  # the documented longer (GPU) recipe
        return FERCNNClassifier(n_filters=64, max_epochs=60, lr=2e-3, dropout=0.4,
                                device=device, random_state=0, verbose=1)
    if name == "study":  # the study: ~1M-parameter CNN, Adam, batch 128, 30 epochs,
        # lr 0.01 for 10 epochs then 0.002, per-epoch mirroring, float32, no other tricks.
        return FERCNNClassifier(optimizer="adam", lr=0.002, lr_schedule="study",
                                augment="study", max_epochs=30, weight_decay=0.0,
                                label_smoothing=0.0, test_time_flip=False, test_time_shift=0,
                                precision="float32", device=device, random_state=0, verbose=1)
    if name == "dnn":  # defaults, matched to the default CNN's parameter count
        return FERDNNClassifier(match_params=FERCNNClassifier(), device=device,
                                random_state=0, verbose=1)
    if name == "logreg":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=200))
    if name == "mlp":
        return make_pipeline(StandardScaler(), MLPClassifier(
            hidden_layer_sizes=(420, 420), early_stopping=True, random_state=0))
    raise SystemExit(f"unknown model {name!r}")


def load_arrays(args):
    if args.arrays:
        raw = Path(args.arrays).read_bytes()
        if args.arrays.endswith(".xz"):
            raw = lzma.decompress(raw)
        data = np.load(io.BytesIO(raw))
        X, y, train = data["X"], data["y"].astype(np.int64), data["train"].astype(bool)
        return X[train], y[train], X[~train], y[~train]
    from fer_sklearn.datasets import load_fer2013

    X_train, y_train = load_fer2013(args.data, usage="Training", return_X_y=True)
    X_test, y_test = load_fer2013(args.data, usage="PublicTest", return_X_y=True)
    return X_train, y_train, X_test, y_test


def peak_memory_mb(device):
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_description():
    """Name the CPU, so fit times from different machines are not compared blindly.

    Machines of the same kind differ (epochs of 57 s and 33 s for one recipe), and
    ``precision="auto"`` depends on whether the CPU has native bfloat16.
    """
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    fields = dict(line.split(":", 1) for line in info.splitlines()[:30] if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = set(fields.get("flags", "").split())
    return (f"{fields.get('model name', platform.machine())} (family {fields.get('cpu family')}, "
            f"model {fields.get('model')}), native bfloat16: {'avx512_bf16' in flags}")


def view_accuracies(model, X_test, y_test, y_pred):
    """PublicTest accuracy with no test-time views, mirrors only, and mirrors plus 1-px shifts.

    ``y_pred`` (the model's own predictions) is reused for the setting the model has.
    """
    own = (model.test_time_flip, model.test_time_shift)
    accuracies = {}
    for views, flip, shift in (("plain", False, 0), ("flip", True, 0), ("flip_shift1", True, 1)):
        if (flip, shift) != own:
            model.set_params(test_time_flip=flip, test_time_shift=shift)
            y_pred_views = model.predict(X_test)
        else:
            y_pred_views = model.classes_[y_pred]
        accuracies[views] = float(np.mean(y_pred_views == y_test))
    model.set_params(test_time_flip=own[0], test_time_shift=own[1])
    return accuracies


def evaluate(name, model, X_train, y_train, X_test, y_test, device):
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    epochs = getattr(model, "max_epochs", 1)
    start = time.perf_counter()
    proba = model.predict_proba(X_test)
    predict_s = time.perf_counter() - start
    y_pred = np.argmax(proba, axis=1)
    result = {"model": name, "params": model.get_params(deep=False) if hasattr(model, "n_params_") else str(model)}
    if hasattr(model, "test_time_flip"):
        views = view_accuracies(model, X_test, y_test, y_pred)
        result["accuracy"] = views["plain"]
        result["accuracy_tta"] = float(np.mean(y_pred == y_test))
        result["accuracy_views"] = views
        result["n_params"] = model.n_params_
        result["history"] = model.history_.to_dict(orient="list")
        if "valid_acc" in model.history_:
            result["valid_acc_last"] = float(model.history_["valid_acc"].iloc[-1])
    else:
        result["accuracy"] = float(np.mean(y_pred == y_test))
    cm = confusion_matrix(y_test, y_pred, normalize="true")
    off = cm - np.diag(np.diag(cm))
    pairs = np.dstack(np.unravel_index(np.argsort(off, axis=None)[::-1][:4], off.shape))[0]
    result.update(
        reported_accuracy=float(np.mean(y_pred == y_test)),
        macro_f1=float(f1_score(y_test, y_pred, average="macro")),
        recall={EMOTIONS[i]: float(r) for i, r in enumerate(recall_score(y_test, y_pred, average=None))},
        most_confused=[(EMOTIONS[t], EMOTIONS[p], float(off[t, p])) for t, p in pairs],
        fit_s=fit_s,
        train_images_per_s=len(X_train) * epochs / fit_s,
        predict_images_per_s=len(X_test) / predict_s,
        peak_memory_mb=peak_memory_mb(device),
        device=device if not device.startswith("cuda") else torch.cuda.get_device_name(),
        torch=torch.__version__, python=platform.python_version(), threads=torch.get_num_threads(),
        cpu=cpu_description(),
    )
    return result


def table(folder):
    # Rows are named by file: a kept earlier run (cnn_30epochs_run1.json) says "cnn" inside.
    rows = [{**json.loads(p.read_text()), "model": p.stem}
            for p in sorted(Path(folder).glob("*.json"))]
    print("| model | params | PublicTest acc | acc + default TTA | macro-F1 | fit | train img/s"
          " | device |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        tta = f"{r['accuracy_tta']:.4f}" if "accuracy_tta" in r else "-"
        print(f"| {r['model']} | {r.get('n_params', '-')} | {r['accuracy']:.3f} | {tta} | "
              f"{r['macro_f1']:.3f} | {r['fit_s'] / 60:.1f} min | {r['train_images_per_s']:.0f} | {r['device']} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.environ.get("FER2013_PATH", str(DEFAULT_CSV)))
    parser.add_argument("--arrays", help="pre-parsed .npz or .npz.xz instead of --data")
    parser.add_argument("--models", default="cnn,study,dnn,logreg,mlp")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--table", metavar="FOLDER", help="print the Markdown table of FOLDER")
    parser.add_argument("--params", default="{}",
                        help="JSON of parameters set on the (single) model, e.g. for a variant")
    parser.add_argument("--name", help="name of the result files (default: the model's)")
    args = parser.parse_args(argv)
    if args.table:
        return table(args.table)
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = "cpu" if device == "auto" else device
    X_train, y_train, X_test, y_test = load_arrays(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.models.split(","):
        model = make_model(name, device).set_params(**json.loads(args.params))
        name = args.name or name
        print(f"== {name}", flush=True)
        result = evaluate(name, model, X_train, y_train, X_test, y_test, device)
        (out / f"{name}.json").write_text(json.dumps(result, indent=1, default=str))
        joblib.dump(model, out / f"{name}.joblib")
        print(json.dumps({k: result[k] for k in ("model", "accuracy", "fit_s")}
                         | {"accuracy_tta": result.get("accuracy_tta")}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
