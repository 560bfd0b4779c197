r"""Score networks trained with ``pretrained.py --holdout`` on the validation split they left out.

The levers for the shipped models are chosen here, on the ``Training`` faces that no
``--holdout`` network of the model trained on (:func:`pretrained.holdout_split`:
10%, stratified, the same rows whatever a network's seed: 2,871 faces for
``fer2013``; for ``ferplus``, a tenth of the rows with a FER+ majority, scored
against it), never on ``PublicTest``; every prediction uses the estimator's
own test-time views
(chosen by ``benchmarks/fer2013_test_time_views.py``):

- **weight averaging** (SWA, Izmailov et al. 2018): the mean of the weights
  of a network's last k epochs (``pretrained.py --snapshots``), its
  batch-norm statistics computed again on its training faces
  (:func:`torch.optim.swa_utils.update_bn`), against the last epoch's
  weights as trained (float32, the running statistics of the augmented
  batches); k = 1 separates what the recomputed statistics alone do;
- **ensembles**: every subset of k networks, for k = 1 .. all, averaging
  their probabilities as :func:`~fer_sklearn.average_ensemble` does: the
  mean, lowest and highest accuracy of the subsets of each size, and which
  subset scored highest (the one to join with ``pretrained.py --members``).
  Files written by ``gpu_run.py`` on a GPU join those of the CPU;
- **snapshot ensembles** (Huang et al. 2017): the probabilities of one
  network's weights at chosen epochs averaged, each snapshot with its own
  batch-norm statistics (``--snapshot-ensemble``; the last epochs of the
  learning-rate cycles of ``pretrained.py --cycles``), against the last
  epoch alone; each snapshot alone is scored too;
- **an exponential moving average of the weights** (``pretrained.py --ema``,
  whose file holds the average): the file as saved against its last epoch's
  own weights, kept by ``--snapshots 1`` (any ``--swa`` value scores it).

Accuracies carry their 95% Wilson interval; two choices scored on the same
faces are compared by their paired difference (and the faces one fixes and
breaks against the other), which varies less than the intervals suggest.
Writes the figures to ``--out`` (JSON) and prints them.

Usage (after training each network, one at a time)::

    python benchmarks/pretrained.py fer2013 --holdout --snapshots 15 --seed 10 \
        --checkpoint ~/ckpt/fer2013_v10 --out ~/runs/fer2013_v10
    python benchmarks/select_ensemble.py ~/runs/fer2013_v*/fer2013.skops \
        --out benchmarks/results/selection/fer2013_levers.json
    # a snapshot ensemble: the last epochs of the 4 cycles of pretrained.py --cycles 4
    python benchmarks/pretrained.py fer2013 --holdout --cycles 4 --snapshots 46 --seed 31 \
        --checkpoint ~/ckpt/fer2013_cycles --out ~/runs/fer2013_cycles
    python benchmarks/select_ensemble.py ~/runs/fer2013_cycles/fer2013.skops --swa \
        --snapshot-ensemble 15 30 45 60 --out benchmarks/results/selection/fer2013_cycles.json
    # a moving average of the weights against the last epoch's own:
    python benchmarks/pretrained.py fer2013 --holdout --ema 0.999 --snapshots 1 --seed 32 \
        --checkpoint ~/ckpt/fer2013_ema --out ~/runs/fer2013_ema
    python benchmarks/select_ensemble.py ~/runs/fer2013_ema/fer2013.skops --swa 1 \
        --out benchmarks/results/selection/fer2013_ema.json
"""

import argparse
import copy
import itertools
import json
import os
from pathlib import Path

import numpy as np
import torch
from pretrained import (DATA, REPO, holdout_record, holdout_split, load_data, machine,
                        model_info)  # benchmarks/ is the script's directory
from torch.optim.swa_utils import update_bn

from fer_sklearn import load, read_metadata
from fer_sklearn.cli._study import _accuracy_interval

# Weight averages over this many of the last epochs (--swa), where the snapshots reach.
SWA_EPOCHS = [1, 2, 3, 5, 10, 15]


def score(right, baseline=None):
    """Accuracy, interval and the paired difference to ``baseline`` of per-face hits."""
    figures = {"accuracy": float(right.mean()),
               "interval": _accuracy_interval(float(right.mean()), len(right))}
    if baseline is not None:
        figures["minus_baseline"] = float(right.mean() - baseline.mean())
        figures["won_lost"] = [int((right & ~baseline).sum()), int((~right & baseline).sum())]
    return figures


def snapshots(file, model, parser):
    """The snapshot files of ``file``'s network, epoch by epoch up to its last; [] if none."""
    folder = Path(file).parent / "snapshots"
    found = {int(path.stem.split("_")[1]): path for path in folder.glob("epoch_*.pt")}
    if not found:
        return []
    last = len(model.history_)
    epochs = range(min(found), last + 1)
    if sorted(found) != list(epochs):
        parser.error(f"{folder} holds epochs {sorted(found)}, not the last ones up to the "
                     f"network's {last} without gaps")
    return [found[epoch] for epoch in epochs]


def with_weights(model, snapshots, X_fit=None):
    """``model`` with the mean of the ``snapshots``' weights.

    With ``X_fit``, the batch-norm statistics are computed again on those
    faces (SWA's last step); without, they are the last snapshot's.
    """
    states = [torch.load(path, map_location="cpu", weights_only=True) for path in snapshots]
    mean = {name: (torch.stack([s[name].float() for s in states]).mean(0).to(value.dtype)
                   if value.is_floating_point() else value)
            for name, value in states[-1].items()}
    averaged = copy.deepcopy(model)
    module = averaged.net_.module_
    module.load_state_dict(mean)
    if X_fit is not None:
        loader = torch.utils.data.DataLoader(model._standardise(X_fit), batch_size=256)
        with torch.no_grad():
            update_bn(loader, module)
    module.eval()
    return averaged


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="files of one model (fer2013 or ferplus) written by pretrained.py "
                             "--holdout, or by gpu_run.py")
    parser.add_argument("--data", default=os.environ.get("FER2013_PATH",
                                                         str(DATA / "fer2013.csv.gz")))
    parser.add_argument("--ferplus", default=str(DATA / "fer2013new.csv"),
                        help="the FER+ votes, for ferplus files")
    parser.add_argument("--swa", type=int, nargs="*", default=SWA_EPOCHS, metavar="K",
                        help=f"average the last K epochs' weights, for each K given (default "
                             f"{' '.join(map(str, SWA_EPOCHS))}; none: ensembles only, which "
                             f"is quicker: each K recomputes batch-norm statistics)")
    parser.add_argument("--snapshot-ensemble", type=int, nargs="+", default=None,
                        metavar="EPOCH",
                        help="also average the probabilities of each network's snapshots of "
                             "these epochs, numbered as in its history_ and its epoch_NN.pt "
                             "files, each as it was trained")
    parser.add_argument("--out", help="the JSON file written (default: "
                                      "benchmarks/results/selection/<model>_levers.json)")
    args = parser.parse_args(argv)
    if len(set(args.files)) != len(args.files):
        parser.error("a file is named twice")
    if args.snapshot_ensemble and len(set(args.snapshot_ensemble)) != len(args.snapshot_ensemble):
        parser.error("--snapshot-ensemble names an epoch twice")
    name = read_metadata(args.files[0]).get("name")
    if name not in ("fer2013", "ferplus"):
        parser.error(f"{args.files[0]} is not a fer2013 or ferplus file written by "
                     "pretrained.py")
    X, y, _, _, _, data_sha256 = load_data(name, args.data, args.ferplus)
    keep, held = holdout_split(y)
    expected = holdout_record(y)
    for file in args.files:
        info = model_info(file, name, data_sha256, parser)
        if info.get("holdout") != expected:
            parser.error(f"{file} did not leave out this validation split: its holdout is "
                         f"{info.get('holdout')}, the split here {expected}")
    X_fit, X_val, y_val = X[keep], X[held], y[held]
    results = {"model": name, "validation_faces": int(len(held)),
               "data": args.data if name == "fer2013" else [args.data, args.ferplus],
               "machine": machine(),
               "networks": {}, "ensembles": {}}
    proba = {}
    for file in args.files:
        model = load(file, device="cpu")
        proba[file] = model.predict_proba(X_val)
        kept = snapshots(file, model, parser)
        if args.snapshot_ensemble:
            first = len(model.history_) - len(kept) + 1  # the epoch of kept[0]
            missing = sorted(set(args.snapshot_ensemble) - set(range(first, first + len(kept))))
            if missing:
                parser.error(f"{file} keeps no snapshot of epoch(s) {missing}: its snapshots "
                             + (f"are of epochs {first} to {first + len(kept) - 1}" if kept
                                else "folder is empty or absent"))
        # The last epoch's weights as trained: what every lever here is measured against
        # (a --ema file's own weights are its average's, hence "file as saved" against it too).
        last, baseline = None, None
        if kept and (args.swa or args.snapshot_ensemble):
            last = with_weights(model, kept[-1:]).predict_proba(X_val)
            baseline = model.classes_[last.argmax(axis=1)] == y_val
        network = {"file as saved": score(model.classes_[proba[file].argmax(axis=1)] == y_val,
                                          baseline)}
        if baseline is not None:
            network["last epoch"] = score(baseline)
        if args.snapshot_ensemble:
            members = {epoch: last if epoch == first + len(kept) - 1 else
                       with_weights(model, [kept[epoch - first]]).predict_proba(X_val)
                       for epoch in args.snapshot_ensemble}
            network["snapshot ensemble"] = {
                "epochs": args.snapshot_ensemble,
                "alone": {str(epoch): score(model.classes_[p.argmax(axis=1)] == y_val,
                                            baseline)
                          for epoch, p in members.items()},
                **score(model.classes_[np.mean(list(members.values()), axis=0).argmax(axis=1)]
                        == y_val, baseline)}
        if kept and args.swa:
            network["swa"] = {
                f"last {k} epochs": score(
                    with_weights(model, kept[-k:], X_fit).predict(X_val) == y_val, baseline)
                for k in args.swa if k <= len(kept)}
        results["networks"][file] = network
        print(file, json.dumps(network, indent=1), flush=True)
    # Every subset of k networks, averaging their probabilities as average_ensemble does.
    for k in range(1, len(args.files) + 1):
        subsets = list(itertools.combinations(args.files, k))
        right = [model.classes_[np.mean([proba[f] for f in subset], axis=0).argmax(axis=1)]
                 == y_val for subset in subsets]
        accuracies = [float(r.mean()) for r in right]
        best = int(np.argmax(accuracies))  # the first of equals, in the order given
        results["ensembles"][str(k)] = {"mean": float(np.mean(accuracies)),
                                        "min": min(accuracies), "max": max(accuracies),
                                        "subsets": len(accuracies),
                                        "best": {"files": list(subsets[best]),
                                                 **score(right[best])}}
        print(f"{k} networks: {results['ensembles'][str(k)]}", flush=True)
    out = Path(args.out or REPO / "benchmarks" / "results" / "selection" / f"{name}_levers.json")
    os.makedirs(out.parent, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
