"""FER+ with majority labels against FER+ with the vote distributions: same recipe, same seed.

FER+ (Barsoum et al., 2016) gives each FER2013 face ten crowd votes. This
script trains :class:`~fer_sklearn.FERCNNClassifier` on the FER+ labels of
the Training rows (rows without an unambiguous majority dropped, as
``load_fer2013(labels="ferplus")`` does) either on the majority label
(``--labels majority``) or with cross-entropy on the vote shares
(``--labels distribution``: ``fit(X, y, target_proba=shares)``), everything
else equal: the library's defaults but ``--max-epochs``, seed 0. It reports
on the PublicTest rows (FER+'s "valid" split; its test split, the
PrivateTest rows, is withheld): accuracy against the majority label,
per-class recall, macro-F1, the top-label ECE (:mod:`fer_sklearn.calibration`)
and the cross-entropy of the predictions to the votes, and writes them to
``benchmarks/results/ferplus_<labels>.json``.

``--model PATH`` evaluates a fitted model instead of training one, such as a
file written by ``benchmarks/pretrained.py``, which records the labels, seed
and command it was trained with. ``--labels ensemble`` evaluates an
:func:`~fer_sklearn.average_ensemble` of runs on both kinds of labels, such as
the shipped ``ferplus`` model, whose first member is the majority-label run of
this recipe (30 epochs, seed 0).

Usage::

    python benchmarks/bench_ferplus.py --labels distribution --max-epochs 30   # 1-1.5 h
    python benchmarks/bench_ferplus.py --labels majority --model MAJORITY_RUN.skops
    python benchmarks/bench_ferplus.py --labels ensemble --model fer_sklearn/pretrained/ferplus.skops
    python benchmarks/bench_ferplus.py --docs   # docs/_ferplus_results.rst from the JSON files
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from fer2013 import cpu_description  # benchmarks/ is the script's directory
from pretrained import (DATA, REPO, SEED, fit_params, git_commit, machine, n_views,
                        precision_used, recipe, sha256)
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from fer_sklearn import FERCNNClassifier, load, read_metadata, save
from fer_sklearn.calibration import expected_calibration_error
from fer_sklearn.datasets import load_fer2013

RESULTS = REPO / "benchmarks" / "results"
# The kinds of training targets compared, in the table's order.
RUNS = ("majority", "distribution", "ensemble")


def load_votes(csv, ferplus):
    """Training and PublicTest pixels, majority labels (class names) and vote shares.

    The shares' columns are reordered to the sorted class names, the order of
    a fitted estimator's ``classes_``, which ``target_proba`` follows.
    """
    bunch = load_fer2013(csv, labels="ferplus-proba", ferplus_path=ferplus)
    names = np.asarray(bunch.target_names)
    order = np.argsort(names)
    labels, shares = names[bunch.target], bunch.target_proba[:, order]
    split = {usage: bunch.usage == usage for usage in ("Training", "PublicTest")}
    return ({usage: (bunch.data[rows], labels[rows], shares[rows])
             for usage, rows in split.items()}, names[order].tolist())


def evaluate(model, X, y, shares, classes):
    if list(model.classes_) != classes:
        raise ValueError(f"the model's classes {list(model.classes_)} are not the FER+ "
                         f"classes {classes}")
    proba = model.predict_proba(X)
    y_pred = model.classes_[proba.argmax(axis=1)]
    return {
        "accuracy": float(np.mean(y_pred == y)),
        "n_faces": int(len(y)),
        "recall": {c: float(np.mean(y_pred[y == c] == c)) for c in classes},
        "macro_f1": float(f1_score(y, y_pred, average="macro")),
        "ece": float(expected_calibration_error(y, proba, labels=classes)),
        "cross_entropy_to_votes": float(-(shares * np.log(np.clip(proba, 1e-12, 1)))
                                        .sum(axis=1).mean()),
    }


def write_docs(path):
    """The runs' figures side by side, as reStructuredText."""
    runs = {labels: json.loads((RESULTS / f"ferplus_{labels}.json").read_text())
            for labels in RUNS
            if (RESULTS / f"ferplus_{labels}.json").is_file()}
    classes = next(iter(runs.values()))["classes"]
    # Views beside the figures, which depend on them: the runs were scored with the views each
    # file held, 10 for the single runs and 2 for the shipped ensemble.
    header = ["Training labels", "Test-time views", "Accuracy", "Macro-F1", "ECE",
              "Cross-entropy to votes",
              *(f"Recall: {c}" for c in classes)]
    rows = [[labels, str(n_views(run["recipe"])), f"{run['publictest']['accuracy']:.1%}",
             f"{run['publictest']['macro_f1']:.3f}", f"{run['publictest']['ece']:.3f}",
             f"{run['publictest']['cross_entropy_to_votes']:.3f}",
             *(f"{run['publictest']['recall'][c]:.0%}" for c in classes)]
            for labels, run in runs.items()]
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        lines += [f"   * - {row[0]}", *(f"     - {cell}" for cell in row[1:])]
    lines.append("")
    for labels, run in runs.items():
        # The commit, because a command names files (the shipped one) that change later.
        made = (f"trained by ``{run['trained_by']}``, evaluated by ``{run['command']}``"
                if run["trained_by"] != run["command"] else f"``{run['command']}``")
        machine = run["machine"]
        seeds = run["seed"] if isinstance(run["seed"], list) else [run["seed"]]
        lines.append(f"- {labels}: {made} at commit ``{run['git_commit'][:12]}``; "
                     f"{run['recipe']['max_epochs']} epochs, seed "
                     f"{' and '.join(map(str, seeds))}, fit {run['fit_seconds'] / 60:.0f} min on "
                     f"{machine['torch_threads']} threads "
                     f"({machine.get('cpu') or machine['processor']}); evaluated in "
                     f"{run['precision_used']}.")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", choices=RUNS,
                        help="the training targets; 'ensemble': an average_ensemble of "
                             "majority- and distribution-label runs (with --model only)")
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--model", help="evaluate this fitted model instead of training")
    parser.add_argument("--save", help="also save the trained model to this .skops file")
    parser.add_argument("--data", default=os.environ.get("FER2013_PATH",
                                                         str(DATA / "fer2013.csv.gz")))
    parser.add_argument("--ferplus", default=str(DATA / "fer2013new.csv"))
    parser.add_argument("--limit", type=int, default=None,
                        help="train on N Training rows only, a stratified sample (a smoke test)")
    parser.add_argument("--docs", action="store_true",
                        help="write docs/_ferplus_results.rst from the JSON files; train nothing")
    args = parser.parse_args(argv)
    if args.docs:
        write_docs(REPO / "docs" / "_ferplus_results.rst")
        return
    if args.labels is None:
        parser.error("--labels is needed (or --docs)")
    splits, classes = load_votes(args.data, args.ferplus)
    X, y, shares = splits["Training"]
    if args.limit:
        # Stratified, so that every class, contempt too, is among the rows.
        X, _, y, _, shares, _ = train_test_split(X, y, shares, train_size=args.limit,
                                                 stratify=y, random_state=SEED)
    command = "python benchmarks/bench_ferplus.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    if args.model:
        model = load(args.model)
        metadata = read_metadata(args.model)
        fit_seconds, trained_by = metadata.get("fit_seconds"), metadata.get("command")
        trained_on = metadata.get("machine")
        # The labels it was trained on, as --save and benchmarks/pretrained.py record them:
        # one kind, or a list of its members' (files made before the key: majority).
        recorded = metadata.get("labels") or (
            "distribution" if "--labels distribution" in (trained_by or "") else "majority")
        trained_labels = "ensemble" if isinstance(recorded, list) else recorded
        seed = metadata.get("seed", SEED)
        if trained_labels != args.labels:
            parser.error(f"{args.model} was trained on {trained_labels} labels, "
                         f"not {args.labels}")
    else:
        if args.labels == "ensemble":
            parser.error("--labels ensemble evaluates a --model file; it trains nothing")
        model = FERCNNClassifier(random_state=SEED, max_epochs=args.max_epochs, verbose=1)
        start = time.perf_counter()
        model.fit(X, y, **fit_params(args.labels, shares))
        fit_seconds, trained_by = time.perf_counter() - start, command
        trained_on, seed = None, SEED
        if args.save:
            save(model, args.save, metadata={"command": command, "fit_seconds": fit_seconds,
                                             "labels": args.labels})
    report = {
        "labels": args.labels,
        "command": command,
        "trained_by": trained_by,
        "classes": classes,
        "n_train": int(len(y)),
        "recipe": recipe(model),
        "seed": seed,
        "fit_seconds": fit_seconds,
        "publictest": evaluate(model, *splits["PublicTest"], classes),
        "data_sha256": {os.path.basename(f): sha256(f) for f in (args.data, args.ferplus)},
        "git_commit": git_commit(),
        "precision_used": precision_used(model),
        "machine": trained_on or {**machine(), "cpu": cpu_description()},
    }
    out = RESULTS / f"ferplus_{args.labels}.json"
    if args.limit:
        out = out.with_name(f"ferplus_{args.labels}_limit{args.limit}.json")
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["publictest"], indent=1))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
