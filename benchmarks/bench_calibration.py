"""Calibration of the shipped models on FER2013 PublicTest: accuracy, ECE, temperature scaling.

For each shipped model (``fer2013``: the 7 FER2013 labels; ``ferplus``: the
FER+ majority labels of the same faces, :func:`~fer_sklearn.datasets.load_fer2013`
with ``labels="ferplus"``), on the PublicTest rows, which no model was
trained or tuned on:

- accuracy, top-label and class-wise ECE (15 uniform bins), log-loss and
  mean confidence on all of PublicTest, as shipped;
- temperature scaling: ``CalibratedClassifierCV(FrozenEstimator(model),
  method="temperature")`` (scikit-learn >= 1.8) fitted on one half of
  PublicTest (stratified, seed 0) and scored on the other half, against the
  model as shipped on that same half. Neither half was seen in training, and
  the half it is scored on was not seen by the calibration. The temperature
  ``T`` is ``1 / beta_`` of the fitted calibrator: the calibrated
  probabilities are ``softmax(log(p) / T)``;
- on the scored half, the ECE's spread over 1,000 bootstrap resamples of the
  faces, and what abstaining would give: the share of faces kept and the
  accuracy on them when a face is called "uncertain" below a top
  probability threshold, before and after scaling.

Results go to ``benchmarks/results/calibration.json``; ``--docs`` writes
``docs/_calibration_results.rst`` and the figure it shows from that file
(predicting nothing). Each model predicts PublicTest twice (a minute in all
for the two shipped models on 2 CPU cores).

Usage::

    python benchmarks/bench_calibration.py
    python benchmarks/bench_calibration.py --model-file ferplus=path/to/ferplus.skops
    python benchmarks/bench_calibration.py --docs
"""

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from fer_sklearn import load, read_metadata
from fer_sklearn.calibration import ReliabilityDisplay, expected_calibration_error
from fer_sklearn.calibration._ece import _check_proba, _reliability_bins, _top_label
from fer_sklearn.datasets import load_fer2013
from fer_sklearn.pretrained import PRETRAINED
from pretrained import git_commit, sha256  # benchmarks/ is the script's directory

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FER2013_PATH", REPO.parent / "shared/data/fer2013/fer2013.csv.gz"))
OUT = REPO / "benchmarks/results/calibration.json"
DOCS = REPO / "docs/_calibration_results.rst"
FIGURE = REPO / "docs/_calibration_reliability.png"
N_BINS = 15
SEED = 0
N_BOOTSTRAP = 1000
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


def model_file(name, overrides):
    """The model file: ``--model-file NAME=PATH``, else the one the package ships (or None)."""
    if name in overrides:
        return Path(overrides[name])
    path = REPO / "fer_sklearn/pretrained" / f"{name}.skops"
    return path if path.is_file() else None


def public_test(name, ferplus):
    """PublicTest pixels and labels as class names (the shipped models' classes_)."""
    if name == "fer2013":
        bunch = load_fer2013(DATA, usage="PublicTest")
    else:
        bunch = load_fer2013(DATA, usage="PublicTest", labels="ferplus", ferplus_path=ferplus)
    return bunch.data, np.asarray(bunch.target_names)[bunch.target]


def bins(y, proba, labels):
    """The reliability diagram's arrays, JSON-ready (empty bins as null)."""
    edges, counts, confidence, accuracy = _reliability_bins(
        *_top_label(*_check_proba(y, proba, labels)), N_BINS, "uniform")
    null = lambda values: [None if np.isnan(v) else float(v) for v in values]  # noqa: E731
    return {"edges": edges.tolist(), "counts": counts.tolist(), "confidence": null(confidence),
            "accuracy": null(accuracy)}


def scores(y, proba, labels):
    """Accuracy, ECEs, log-loss and mean confidence of one set of probabilities."""
    predicted = np.asarray(labels)[np.argmax(proba, axis=1)]
    return {"n": len(y), "accuracy": float(np.mean(predicted == y)),
            "ece": expected_calibration_error(y, proba, labels=labels, n_bins=N_BINS),
            "ece_classwise": expected_calibration_error(y, proba, labels=labels, n_bins=N_BINS,
                                                        kind="classwise"),
            "log_loss": float(log_loss(y, proba, labels=labels)),
            "mean_confidence": float(proba.max(axis=1).mean()),
            "bins": bins(y, proba, labels)}


def bootstrap_ece(y, proba_before, proba_after, labels):
    """Spread of the ECE before and after, and of their difference, over resamples of the faces.

    Only the standard deviations: the ECE of a resample is biased upwards
    (repeated faces add noise to each bin), so its mean is not the estimate.
    """
    rng = np.random.RandomState(SEED)
    draws = []
    for _ in range(N_BOOTSTRAP):
        rows = rng.randint(len(y), size=len(y))
        before = expected_calibration_error(y[rows], proba_before[rows], labels=labels,
                                            n_bins=N_BINS)
        after = expected_calibration_error(y[rows], proba_after[rows], labels=labels,
                                           n_bins=N_BINS)
        draws.append((before, after, before - after))
    draws = np.array(draws)
    return {"sd_before": float(draws[:, 0].std(ddof=1)),
            "sd_after": float(draws[:, 1].std(ddof=1)),
            "sd_reduction": float(draws[:, 2].std(ddof=1)),
            "share_reduced": float(np.mean(draws[:, 2] > 0))}


def ece_if_calibrated(proba, labels):
    """The ECE that sampling noise alone gives: labels drawn from ``proba`` itself.

    Were ``proba`` perfectly calibrated, its measured ECE on this many faces
    would scatter as these do (mean and 95th percentile).
    """
    rng = np.random.RandomState(SEED)
    cumulative = np.cumsum(proba, axis=1)
    values = []
    for _ in range(N_BOOTSTRAP):
        drawn = (rng.uniform(size=(len(proba), 1)) * cumulative[:, -1:] > cumulative).sum(axis=1)
        values.append(expected_calibration_error(np.asarray(labels)[drawn], proba,
                                                 labels=labels, n_bins=N_BINS))
    return {"mean": float(np.mean(values)), "p95": float(np.percentile(values, 95))}


def abstention(y, proba, labels):
    """Share of faces kept and accuracy on them when the top probability must reach t."""
    confidence = proba.max(axis=1)
    correct = np.asarray(labels)[np.argmax(proba, axis=1)] == y
    return {f"{t:.1f}": {"coverage": float(np.mean(confidence >= t)),
                         "accuracy": float(correct[confidence >= t].mean())
                         if np.any(confidence >= t) else None}
            for t in THRESHOLDS}


def temperature_scaled(proba, beta):
    """softmax(beta * log p): what CalibratedClassifierCV(method="temperature") returns."""
    scaled = np.exp(beta * np.log(proba + 1e-12))
    return scaled / scaled.sum(axis=1, keepdims=True)


def measure(name, path, ferplus, limit=None):
    model = load(path)
    info = read_metadata(path)
    X, y = public_test(name, ferplus)
    if limit:
        X, y = X[:limit], y[:limit]
    labels = model.classes_
    print(f"{name}: {len(y):,} PublicTest faces, classes {list(labels)}", flush=True)
    start = time.perf_counter()
    proba = model.predict_proba(X)
    predict_s = time.perf_counter() - start
    result = {"file": str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path),
              "file_sha256": sha256(path), "trained_git_commit": info.get("git_commit"),
              "recorded_publictest_accuracy": info.get("publictest_accuracy"),
              "predict_seconds": predict_s, "publictest": scores(y, proba, labels)}
    print(json.dumps({k: v for k, v in result["publictest"].items() if k != "bins"}), flush=True)

    rows = np.arange(len(y))
    fit_rows, eval_rows = train_test_split(rows, test_size=0.5, stratify=y, random_state=SEED)
    start = time.perf_counter()
    calibrated = CalibratedClassifierCV(FrozenEstimator(model), method="temperature")
    calibrated.fit(X[fit_rows], y[fit_rows])
    fit_s = time.perf_counter() - start
    beta = float(calibrated.calibrated_classifiers_[0].calibrators[0].beta_)
    after = calibrated.predict_proba(X[eval_rows])
    before = proba[eval_rows]
    y_eval = y[eval_rows]
    result["temperature_scaling"] = {
        "fitted_on": f"{len(fit_rows):,} PublicTest faces (stratified half, seed {SEED})",
        "scored_on": f"the other {len(eval_rows):,}",
        "temperature": 1 / beta, "beta": beta, "fit_seconds": fit_s,
        "max_difference_from_softmax_log_p_over_T": float(
            np.abs(after - temperature_scaled(before, beta)).max()),
        "fit_half_log_loss": {
            "before": float(log_loss(y[fit_rows], proba[fit_rows], labels=labels)),
            "after": float(log_loss(y[fit_rows], temperature_scaled(proba[fit_rows], beta),
                                    labels=labels))},
        "before": scores(y_eval, before, labels),
        "after": scores(y_eval, after, labels),
        "bootstrap_ece": bootstrap_ece(y_eval, before, after, labels),
        "ece_if_calibrated": ece_if_calibrated(after, labels),
        "abstain_before": abstention(y_eval, before, labels),
        "abstain_after": abstention(y_eval, after, labels)}
    summary = {k: v for k, v in result["temperature_scaling"].items()
               if k in ("temperature", "fit_half_log_loss")}
    summary.update({f"{when}_{key}": result["temperature_scaling"][when][key]
                    for when in ("before", "after") for key in ("ece", "log_loss", "accuracy")})
    print(json.dumps(summary), flush=True)
    return result


def run(args):
    # The networks' rows of probabilities sum to 1 to float32 precision, not to
    # the float64 precision log_loss checks for.
    warnings.filterwarnings("ignore", "The y_prob values do not sum to one", UserWarning)
    overrides = dict(item.split("=", 1) for item in args.model_file)
    unknown = set(overrides) - set(PRETRAINED)
    if unknown:
        sys.exit(f"--model-file names unknown models {sorted(unknown)}; the names are "
                 f"{list(PRETRAINED)}")
    start = time.perf_counter()
    result = {"command": "python benchmarks/bench_calibration.py " + " ".join(args.argv),
              "git_commit": git_commit(), "data_sha256": sha256(DATA),
              "n_bins": N_BINS, "strategy": "uniform", "seed": SEED,
              "machine": {"processor": platform.machine(), "python": platform.python_version(),
                          "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                          "sklearn": sklearn.__version__, "load_average": os.getloadavg()[0]},
              "models": {}}
    for name in PRETRAINED:
        path = model_file(name, overrides)
        if path is None:
            print(f"{name}: not shipped in this checkout; skipped (pass --model-file "
                  f"{name}=PATH)", flush=True)
            continue
        result["models"][name] = measure(name, path, args.ferplus, args.limit)
    result["seconds"] = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out} in {result['seconds']:.0f} s", flush=True)


def _display(stored, name):
    def array(values):
        return np.array([np.nan if v is None else v for v in values], dtype=float)

    return ReliabilityDisplay(array(stored["bins"]["accuracy"]),
                              array(stored["bins"]["confidence"]),
                              np.array(stored["bins"]["counts"]), np.array(stored["bins"]["edges"]),
                              ece=stored["ece"], estimator_name=name)


def write_figure(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = result["models"]
    fig, axes = plt.subplots(1, len(models), figsize=(4.6 * len(models), 4.8), squeeze=False)
    for ax, (name, model) in zip(axes[0], models.items()):
        scaling = model["temperature_scaling"]
        _display(scaling["before"], "as shipped").plot(ax=ax)
        _display(scaling["after"], f"T = {scaling['temperature']:.2f}").plot(ax=ax, counts=False)
        ax.set_title(f"{name}: {scaling['after']['n']:,} PublicTest faces", fontsize="medium")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def _pct(value):
    return f"{100 * value:.1f}%"


def write_docs(result, path):
    """docs/_calibration_results.rst: the tables and the figure, from the results file."""
    lines = []
    for name, model in result["models"].items():
        full, scaling = model["publictest"], model["temperature_scaling"]
        before, after, boot = scaling["before"], scaling["after"], scaling["bootstrap_ece"]
        lines += [
            f"``{name}``, on all {full['n']:,} PublicTest faces as shipped: accuracy "
            f"{_pct(full['accuracy'])}, mean confidence {_pct(full['mean_confidence'])}, "
            f"ECE {full['ece']:.3f} (class-wise {full['ece_classwise']:.3f}), log-loss "
            f"{full['log_loss']:.3f}. Temperature scaling, fitted on "
            f"{scaling['fitted_on']}, scored on {scaling['scored_on']}:",
            "",
            ".. list-table::",
            "   :header-rows: 1",
            "",
            "   * -",
            "     - as shipped",
            f"     - T = {scaling['temperature']:.2f}",
        ]
        for label, key, fmt in (("accuracy", "accuracy", _pct),
                                ("mean confidence", "mean_confidence", _pct),
                                ("ECE (15 bins)", "ece", "{:.3f}".format),
                                ("class-wise ECE", "ece_classwise", "{:.3f}".format),
                                ("log-loss", "log_loss", "{:.3f}".format)):
            lines += [f"   * - {label}", f"     - {fmt(before[key])}", f"     - {fmt(after[key])}"]
        floor = scaling["ece_if_calibrated"]
        lines += [
            "",
            f"On {after['n']:,} faces the ECE is noisy: over {N_BOOTSTRAP:,} bootstrap "
            f"resamples of them its standard deviation is {boot['sd_before']:.3f} as shipped "
            f"and {boot['sd_after']:.3f} after scaling, and the reduction is positive in "
            f"{boot['share_reduced']:.0%} of them (standard deviation "
            f"{boot['sd_reduction']:.3f}). Had the scaled probabilities been perfectly "
            f"calibrated, sampling alone would give an ECE of {floor['mean']:.3f} on average "
            f"(95th percentile {floor['p95']:.3f}).",
            "",
        ]
    lines += [
        "Abstaining below a threshold on the calibrated top probability (share of the "
        "scored faces kept, and accuracy on them):",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - threshold",
    ]
    lines += [f"     - ``{name}``" for name in result["models"]]
    for t in THRESHOLDS:
        lines.append(f"   * - {t:.1f}")
        for model in result["models"].values():
            kept = model["temperature_scaling"]["abstain_after"][f"{t:.1f}"]
            lines.append(f"     - {_pct(kept['coverage'])} kept, {_pct(kept['accuracy'])} right"
                         if kept["accuracy"] is not None else "     - none kept")
    machine = result["machine"]
    lines += [
        "",
        f".. figure:: {FIGURE.name}",
        "   :alt: Reliability diagrams of the shipped models before and after temperature "
        "scaling",
        "",
        "   Accuracy against confidence on the scored half of PublicTest, in 15 bins; "
        "shaded: the share of faces per bin, as shipped. Below the diagonal is "
        "over-confident, above it under-confident.",
        "",
        "Made by ``python benchmarks/bench_calibration.py`` at commit "
        f"``{result['git_commit'][:12]}`` (scikit-learn {machine['sklearn']}, torch "
        f"{machine['torch']}, {machine['torch_threads']} CPU threads) in "
        f"{result['seconds']:.0f} s (load average {machine['load_average']:.1f} at "
        "the start), from the model files "
        + ", ".join(f"``{name}`` (SHA-256 ``{model['file_sha256'][:12]}``)"
                    for name, model in result["models"].items()) + ".",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    write_figure(result, path.parent / FIGURE.name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", action="store_true",
                        help=f"write {DOCS.relative_to(REPO)} and its figure from --out, "
                             "and predict nothing")
    parser.add_argument("--ferplus", default=str(DATA.parent / "fer2013new.csv"))
    parser.add_argument("--model-file", action="append", default=[], metavar="NAME=PATH",
                        help="use this file for a model rather than the one the package ships")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--limit", type=int, default=None,
                        help="the first N PublicTest faces only (for a smoke test)")
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    if args.docs:
        write_docs(json.loads(args.out.read_text()), DOCS)
        print(f"wrote {DOCS} and {FIGURE}")
        return
    run(args)


if __name__ == "__main__":
    main()
