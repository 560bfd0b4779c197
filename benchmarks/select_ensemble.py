r"""Score networks trained with ``pretrained.py --holdout`` on the validation split they left out.

The levers of issue 40 are chosen here, on the 2,871 ``Training`` faces that
no ``--holdout`` network trained on (:func:`pretrained.holdout_split`: 10%,
stratified, the same rows whatever a network's seed), never on ``PublicTest``:

- **test-time views**: each network predicting 1 view, 2 (the face and its
  mirror), 10 (also shifted 1 pixel up, down, left and right: the defaults)
  and 10 shifted 2 pixels;
- **weight averaging** (SWA, Izmailov et al. 2018): the mean of the weights
  of a network's last k epochs (``pretrained.py --snapshots``), its
  batch-norm statistics computed again on its training faces
  (:func:`torch.optim.swa_utils.update_bn`), against the last epoch's;
- **ensembles**: the average of the probabilities of every subset of k
  networks (:func:`~fer_sklearn.average_ensemble`), for k = 1 .. all.

Accuracies carry their 95% Wilson interval; two choices on the same faces
differ by less than those intervals suggest, so the paired difference to the
single network's default is given as well. Writes the figures to ``--out``
(JSON) and prints them.

Usage (after training each network, one at a time)::

    python benchmarks/pretrained.py fer2013 --holdout --snapshots 15 --seed 10 \
        --checkpoint ~/ckpt/fer2013_v10 --out ~/runs/fer2013_v10
    python benchmarks/select_ensemble.py ~/runs/fer2013_v*/fer2013.skops \
        --out benchmarks/results/selection/fer2013_levers.json
"""

import argparse
import copy
import itertools
import json
import os
from pathlib import Path

import numpy as np
import torch
from pretrained import (DATA, HOLDOUT_FRACTION, HOLDOUT_SEED, REPO, holdout_split, load_data,
                        machine)  # benchmarks/ is the script's directory
from torch.optim.swa_utils import update_bn

from fer_sklearn import average_ensemble, load, read_metadata

# Weight averages over this many of the last epochs, where the snapshots reach.
SWA_EPOCHS = (2, 3, 5, 10, 15)
# Test-time views: (test_time_flip, test_time_shift) and what they are called.
VIEWS = {"1 view": (False, 0), "2 views (mirror)": (True, 0),
         "10 views (1-pixel shifts)": (True, 1), "10 views (2-pixel shifts)": (True, 2)}
DEFAULT_VIEWS = "10 views (1-pixel shifts)"


def wilson(correct, n, z=1.96):
    """The 95% Wilson score interval of an accuracy of ``correct`` out of ``n``."""
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [float(centre - half), float(centre + half)]


def score(right, baseline=None):
    """Accuracy, interval and the paired difference to ``baseline`` of per-face hits."""
    figures = {"accuracy": float(right.mean()), "interval": wilson(int(right.sum()), len(right))}
    if baseline is not None:
        figures["minus_baseline"] = float(right.mean() - baseline.mean())
        figures["won_lost"] = [int((right & ~baseline).sum()), int((~right & baseline).sum())]
    return figures


def averaged(model, snapshots, X_fit):
    """``model`` with the mean of the ``snapshots``' weights and batch-norm statistics refitted."""
    states = [torch.load(path, map_location="cpu", weights_only=True) for path in snapshots]
    mean = {name: (torch.stack([s[name].float() for s in states]).mean(0).to(value.dtype)
                   if value.is_floating_point() else value)
            for name, value in states[-1].items()}
    swa = copy.deepcopy(model)
    module = swa.net_.module_
    module.load_state_dict(mean)
    faces = model._standardise(X_fit)
    loader = torch.utils.data.DataLoader(faces, batch_size=256)
    with torch.no_grad():
        update_bn(loader, module)
    module.eval()
    return swa


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="fer2013 files written by pretrained.py --holdout")
    parser.add_argument("--data", default=os.environ.get("FER2013_PATH",
                                                         str(DATA / "fer2013.csv.gz")))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "selection"
                                             / "fer2013_levers.json"))
    args = parser.parse_args(argv)
    X, y, _, _, _, data_sha256 = load_data("fer2013", args.data, None)
    keep, held = holdout_split(y)
    for file in args.files:
        info = read_metadata(file)
        expected = {"fraction": HOLDOUT_FRACTION, "seed": HOLDOUT_SEED}
        if info.get("holdout") != expected or info["data_sha256"] != data_sha256:
            parser.error(f"{file} was not trained by pretrained.py --holdout on this data: "
                         f"its holdout is {info.get('holdout')}")
    X_val, y_val = X[held], y[held]
    results = {"validation_faces": int(len(held)), "files": args.files, "machine": machine(),
               "networks": {}, "ensembles": {}}
    default_hits = {}
    for file in args.files:
        model = load(file)
        name = f"seed {read_metadata(file)['seed']}"
        figures = {}
        for label, (flip, shift) in VIEWS.items():
            model.set_params(test_time_flip=flip, test_time_shift=shift)
            right = model.predict(X_val) == y_val
            if label == DEFAULT_VIEWS:
                default_hits[file] = right
            figures[label] = right
        model.set_params(test_time_flip=True, test_time_shift=1)
        baseline = default_hits[file]
        network = {"views": {label: score(right, baseline) for label, right in figures.items()}}
        snapshots = sorted((Path(file).parent / "snapshots").glob("epoch_*.pt"))
        network["swa"] = {}
        for k in SWA_EPOCHS:
            if k <= len(snapshots):
                swa = averaged(model, snapshots[-k:], X[keep])
                network["swa"][f"last {k} epochs"] = score(swa.predict(X_val) == y_val,
                                                           baseline)
        results["networks"][name] = network
        print(name, json.dumps(network, indent=1), flush=True)
    # Ensembles: every subset of k networks, at the default views.
    models = {file: load(file) for file in args.files}
    for k in range(1, len(args.files) + 1):
        accuracies = []
        for subset in itertools.combinations(args.files, k):
            ensemble = average_ensemble([models[f] for f in subset])
            accuracies.append(float(np.mean(ensemble.predict(X_val) == y_val)))
        results["ensembles"][str(k)] = {"mean": float(np.mean(accuracies)),
                                        "min": min(accuracies), "max": max(accuracies),
                                        "subsets": len(accuracies)}
        print(f"{k} networks: {results['ensembles'][str(k)]}", flush=True)
    os.makedirs(Path(args.out).parent, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
