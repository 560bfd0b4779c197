r"""Train the models shipped in ``fer_sklearn/pretrained/``, from the CSV, with a recorded seed.

Each model is fitted on the 28,709 FER2013 Training rows (less a validation
tenth with ``--holdout``) and scored on the
3,589 PublicTest rows (used for no choice of recipe; only to confirm that
float16 storage leaves the probabilities within 1e-3); the file written carries its
provenance as metadata (:func:`fer_sklearn.read_metadata`): the SHA-256 of the
data files, the library version and git commit, the recipe (every estimator
parameter), the seed, the PublicTest accuracy, per-class recall, the fit time
and the machine.

- ``fer2013``: the 7 FER2013 emotions, class labels their names ("happy").
- ``ferplus``: the 8 FER+ emotions (FER+ adds contempt), trained on the FER+
  majority labels of the same rows (rows without an unambiguous majority are
  dropped, as :func:`~fer_sklearn.datasets.load_fer2013` does); the accuracy is
  against the FER+ majority labels of PublicTest.

Weights are stored as float16 when that moves no PublicTest probability by
more than 1e-3, both forward passes in float32; else, if that keeps within
1e-3, float16 for the large kernels only and float32 for the rest (``"mixed"``,
:func:`storages`); else as float32. Recorded as ``weights_dtype``, with
``float16_max_proba_difference`` and ``mixed_max_proba_difference``.

``--members`` trains nothing: it joins files written here into one
:func:`~fer_sklearn.average_ensemble`, whose metadata keeps each member's
provenance (``members``) and whose figures are measured afresh.

``--continue FILE`` trains a file written here a few epochs more
(``warm_start``; members trained on one kind of target at once, on the same
batches; an ensemble whose members had different targets, as ``ferplus``'s,
network by network, each on its own), optionally with random zooms
(``--zoom``), and records both the file's provenance and the continuation.
``--from FILE`` does the same for ``ferplus`` from a ``fer2013`` file: its
networks, every layer kept, trained further on the FER+ labels (vote shares
by default), each FER2013 output starting the FER+ emotion of the same
meaning and contempt starting as neutral (:func:`transfer`).
For either, ``--schedule constant`` holds the rate at ``--lr`` instead of a
cosine fall, and with ``--holdout --snapshots N`` a one-network ``--holdout``
file continues on the same rows, keeping its last N epochs' weights: SWA
along a constant rate, which ``benchmarks/select_ensemble.py --swa`` scores.
``--cycles M`` trains a network afresh along M cosine cycles of the learning
rate, each restarting at the estimator's ``lr`` (SGDR); the last epoch of each
cycle, kept by ``--snapshots``, is a member of a snapshot ensemble (Huang et
al. 2017), which ``select_ensemble.py --snapshot-ensemble`` scores.
``--ema DECAY`` trains a network afresh keeping an exponential moving average
of its weights (:class:`~fer_sklearn.callbacks.WeightEMA`), which it ends
with; ``--snapshots 1`` keeps its last epoch's own weights, the baseline that
``select_ensemble.py`` scores the average against.
``--input-size N`` trains and scores a network afresh on the faces upsampled
to N×N pixels (bilinear, :func:`upsample`), as Barsoum et al. (2016) fed
VGG-13 64×64 FER+ faces; such a file takes N×N faces, so it joins, continues
and starts no 48×48 network, and it is for comparison, not for shipping.
``--faces`` names the result ``<model>_faces.skops``: the variant that
:func:`~fer_sklearn.pretrained.load_pretrained` uses behind
:class:`~fer_sklearn.faces.FaceAligner` (``faces=True``), trained to take the
face detector's framing, which varies more than FER2013's own (see
``docs/faces.rst``); ``--aligned`` trains it on the Training faces cut again
by YuNet's landmarks (:func:`recut_by_landmarks`), the framing the aligner
gives photographs.

Usage (one training at a time). The shipped ``fer2013`` averages four runs,
``ferplus`` two; the commands that made each one, and each run's time on 2
CPU cores (``fit_seconds``), are in its metadata and in
``docs/_pretrained_results.rst``::

    python benchmarks/pretrained.py fer2013 --holdout --seed 10 --checkpoint ckpt/fer2013_v10 \
        --out runs/fer2013_v10        # and the same with seeds 11, 12 and 13
    python benchmarks/pretrained.py fer2013 --members runs/fer2013_v1[0-3]/fer2013.skops \
        --test-time-shift 0 --large-tensor 18432
    python benchmarks/pretrained.py ferplus --max-epochs 30 --out runs/ferplus_s0
    python benchmarks/pretrained.py ferplus --labels distribution --seed 1 --max-epochs 30 \
        --out runs/ferplus_s1
    python benchmarks/pretrained.py ferplus --members runs/ferplus_s0/ferplus.skops \
        runs/ferplus_s1/ferplus.skops --test-time-shift 0
    python benchmarks/pretrained.py fer2013 --continue fer_sklearn/pretrained/fer2013.skops \
        --faces --aligned --max-epochs 3 --lr 5e-4 --zoom 0.9 1.1 --seed 7 --large-tensor 18432
    # tried, not shipped (docs/pretrained.rst):
    python benchmarks/pretrained.py ferplus --from fer_sklearn/pretrained/fer2013.skops \
        --max-epochs 8 --lr 1e-3 --out runs/ferplus_from
    python benchmarks/pretrained.py ferplus --labels distribution --seed 1 --max-epochs 16 \
        --input-size 64 --out runs/ferplus_64
    # networks for benchmarks/select_ensemble.py (ensembles, weight averages), each on
    # Training less one validation split, the last 15 epochs' weights kept:
    python benchmarks/pretrained.py fer2013 --holdout --snapshots 15 --seed 10 \
        --checkpoint ~/ckpt/fer2013_v10 --out ~/runs/fer2013_v10
    python benchmarks/pretrained.py ferplus --holdout --labels distribution --seed 20 \
        --checkpoint ~/ckpt/ferplus_v20 --out ~/runs/ferplus_v20
    # SWA along a constant rate (Izmailov et al. 2018): a --holdout network trained 10 epochs
    # more at a constant rate, its epochs kept; select_ensemble.py --swa averages them:
    python benchmarks/pretrained.py fer2013 --continue ~/runs/fer2013_v10/fer2013.skops \
        --holdout --snapshots 10 --max-epochs 10 --lr 3e-4 --schedule constant \
        --out ~/runs/fer2013_v10_swa
    # another recipe for the same comparison (--params: any estimator parameter), e.g. SGD
    # with Nesterov momentum and a plateau schedule (on the training loss: no validation),
    # with SGD's usual L2 weight decay rather than AdamW's decoupled 0.05:
    python benchmarks/pretrained.py fer2013 --holdout --snapshots 15 --seed 30 \
        --params '{"optimizer": "sgd", "lr": 0.01, "lr_schedule": "plateau", "weight_decay": 0.0001}' \
        --checkpoint ~/ckpt/fer2013_sgd --out ~/runs/fer2013_sgd
    # a snapshot ensemble (Huang et al. 2017): the rate restarted in 4 cycles, the last 46
    # epochs kept; select_ensemble.py --snapshot-ensemble averages the cycles' last epochs:
    python benchmarks/pretrained.py fer2013 --holdout --cycles 4 --snapshots 46 --seed 31 \
        --checkpoint ~/ckpt/fer2013_cycles --out ~/runs/fer2013_cycles
    # an exponential moving average of the weights, the last epoch's own weights kept:
    python benchmarks/pretrained.py fer2013 --holdout --ema 0.999 --snapshots 1 --seed 32 \
        --checkpoint ~/ckpt/fer2013_ema --out ~/runs/fer2013_ema
    python benchmarks/pretrained.py --docs   # docs/_pretrained_results.rst from the files
"""

import argparse
import hashlib
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from skorch.callbacks import Callback, LRScheduler
from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts

from fer2013 import cpu_description  # benchmarks/ is the script's directory
from fer_sklearn import (EMOTIONS, FERCNNClassifier, __version__, average_ensemble, load,
                         read_metadata, save)
from fer_sklearn.datasets import FERPLUS_CLASSES, load_fer2013
from fer_sklearn._output import atomic_open
from fer_sklearn.callbacks import WeightEMA
from fer_sklearn._precision import autocast_dtype
from fer_sklearn._test_time import n_views as _views_per_image
from fer_sklearn.pretrained._load import _file_name

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "fer2013"
OUT = REPO / "fer_sklearn" / "pretrained"
SEED = 0
# FER2013's faces are this many pixels a side; --input-size upsamples them.
SIDE = 48
# How a file's metadata names the targets it was trained on.
LABELS = {"majority": "majority labels", "distribution": "vote distributions"}
# The validation split that every --holdout network leaves out of Training: the same
# rows whatever the network's seed, so that benchmarks/select_ensemble.py scores single
# networks, their ensembles and their weight averages on faces none of them trained on.
HOLDOUT_FRACTION, HOLDOUT_SEED = 0.1, 0
# The starting learning rate of --continue: a sixth of the default's peak (3e-3).
CONTINUE_LR = 5e-4
# The FER+ emotion that each FER2013 emotion is (Barsoum et al., 2016, kept FER2013's
# seven and added contempt); --from starts each FER+ output from its FER2013 one.
FER2013_TO_FERPLUS = {"angry": "anger", "disgust": "disgust", "fear": "fear",
                      "happy": "happiness", "sad": "sadness", "surprise": "surprise",
                      "neutral": "neutral"}
# The tolerance the float16 weights must keep predict_proba within.
FLOAT16_TOLERANCE = 1e-3
# Where not every weight can be float16, tensors of at least this many values still may be:
# the rounding errors of a large kernel's many weights average out over its inputs, while
# each batch-norm value, like the first layers' few weights, shifts a whole channel. In the
# default network these are the last three kernels, 88% of its weights.
LARGE_TENSOR = 100_000


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def recipe(model):
    """The estimator's parameters that a JSON file can hold: its recipe."""
    return {k: v for k, v in model.get_params().items()
            if isinstance(v, (str, int, float, bool, type(None)))}


def n_views(recipe):
    """How many test-time views a recipe's predictions average (as ``predict_proba`` makes them)."""
    return _views_per_image(recipe["test_time_flip"], recipe["test_time_shift"])


def storages(model, large_tensor=LARGE_TENSOR):
    """The weight storages to try before float32, smallest first, as ``save``'s ``weights_dtype``.

    ``"float16"``: every weight; ``"mixed"``: the tensors of at least
    ``large_tensor`` values in float16, the others in float32.
    """
    large = {name: "float16" for name, tensor in model.module_.state_dict().items()
             if tensor.is_floating_point() and tensor.numel() >= large_tensor}
    # A network without large tensors has no mixed storage: it would be float32 by another name.
    return {"float16": "float16", **({"mixed": large} if large else {})}


def choose_storage(model, X, large_tensor=LARGE_TENSOR):
    """The smallest of :func:`storages` that keeps every probability of ``X`` within the tolerance.

    Both forward passes run in float32: under bfloat16 autocast the
    activations' own rounding turns the weights' tiny change into a larger
    one, which would be measured with it. Each trial is saved to a scratch
    file and loaded back, as the shipped file will be.

    Returns ``(label, storage, model as stored, {label tried: largest change})``,
    ``storage`` as ``save``'s ``weights_dtype``: ``"float32"`` and ``model``
    itself when no storage keeps within it. ``model`` keeps its precision,
    whatever happens.
    """
    precision = model.precision
    label, chosen, candidate, differences = "float32", "float32", model, {}
    try:
        reference = model.set_params(precision="float32").predict_proba(X)
        for trial_label, storage in storages(model, large_tensor).items():
            with tempfile.TemporaryDirectory() as scratch:
                trial = Path(scratch) / "trial.skops"
                save(model, trial, weights_dtype=storage)
                loaded = load(trial).set_params(precision="float32")
            differences[trial_label] = float(np.abs(loaded.predict_proba(X) - reference).max())
            if differences[trial_label] <= FLOAT16_TOLERANCE:
                label, chosen, candidate = trial_label, storage, loaded
                break
    finally:
        model.set_params(precision=precision)
    return label, chosen, candidate.set_params(precision=precision), differences


def precision_used(model):
    """The precision its forward passes run in on this machine, as its ``precision`` says."""
    return "float32" if autocast_dtype(model.precision, model.net_.device) is None else "bfloat16"


def machine():
    """Python, torch, processor, CPU model and torch threads of this run."""
    return {"python": platform.python_version(), "torch": torch.__version__,
            "processor": platform.processor() or platform.machine(),
            "cpu": cpu_description(), "torch_threads": torch.get_num_threads()}


def targets(info):
    """The kind of targets a file written here was trained on, per file or per member."""
    # Files written before --labels existed were trained on the majority labels.
    return info.get("labels", "majority")


def fit_params(kind, shares):
    """The fit parameters that train on ``kind`` targets: vote shares need ``target_proba``."""
    return {"target_proba": shares} if kind == "distribution" else {}


def load_data(name, csv, ferplus):
    """Training and PublicTest pixels with class-name labels, and the data files used.

    Returns ``(X_train, y_train, shares_train, X_test, y_test, data_sha256)``;
    ``shares_train`` are the FER+ vote shares of the Training rows, their
    columns in the order of the sorted class names (a fitted estimator's
    ``classes_``, which ``target_proba`` follows), or None for ``"fer2013"``.
    """
    if name == "fer2013":
        bunch = load_fer2013(csv)
        files = [csv]
    else:
        bunch = load_fer2013(csv, labels="ferplus-proba", ferplus_path=ferplus)
        files = [csv, ferplus]
    names = np.asarray(bunch.target_names)
    labels = names[bunch.target]
    train, test = bunch.usage == "Training", bunch.usage == "PublicTest"
    shares = None if name == "fer2013" else bunch.target_proba[train][:, np.argsort(names)]
    return (bunch.data[train], labels[train], shares, bunch.data[test], labels[test],
            {os.path.basename(f): sha256(f) for f in files})


def recut_by_landmarks(X, n_jobs=2, chunk=1000):
    """FER2013's faces cut again as FaceAligner cuts photographs: by YuNet's five landmarks.

    Each 48×48 face is upscaled to 144 px (bicubic) with its edge pixels
    repeated 96 px around it; YuNet (:func:`~fer_sklearn.faces.detect_faces`)
    finds its landmarks, and :func:`~fer_sklearn.faces.crop_face` cuts it
    again at 48 px by :data:`~fer_sklearn.faces.FER2013_LANDMARKS`: the
    framing, and its scatter around FER2013's own, that a network meets
    behind the aligner. A face where YuNet finds none overlapping the crop
    (IoU >= 0.3) is kept as it is. Returns the faces, shape (n, 2304), and how
    many were cut again.
    """
    from PIL import Image

    from fer_sklearn.faces import LANDMARKS, crop_face, detect_faces

    side, pad = 3 * SIDE, 2 * SIDE
    columns = [f"{point}_{axis}" for point in LANDMARKS for axis in "xy"]
    out, recut = np.array(X, dtype=np.float32), 0
    for start in range(0, len(X), chunk):
        canvases = [np.pad(np.asarray(Image.fromarray(np.uint8(face).reshape(SIDE, SIDE))
                                      .resize((side, side), Image.BICUBIC)), pad, mode="edge")
                    for face in X[start:start + chunk]]
        found = detect_faces(canvases, detector="yunet", n_jobs=n_jobs)
        for index, faces in found.groupby("image"):
            boxes = faces[["x", "y", "width", "height"]].to_numpy(float)
            x0, y0 = np.maximum(boxes[:, 0], pad), np.maximum(boxes[:, 1], pad)
            x1 = np.minimum(boxes[:, 0] + boxes[:, 2], pad + side)
            y1 = np.minimum(boxes[:, 1] + boxes[:, 3], pad + side)
            inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
            overlap = inter / (boxes[:, 2] * boxes[:, 3] + side * side - inter)
            if overlap.max() >= 0.3:
                face = faces.iloc[int(np.argmax(overlap))]
                out[start + index] = crop_face(canvases[index], boxes[np.argmax(overlap)],
                                               landmarks=face[columns].to_numpy(float),
                                               size=SIDE).ravel()
                recut += 1
    return out, recut


def upsample(X, size):
    """Flattened 48×48 faces, shape (n, 2304), as ``size``×``size`` ones, shape (n, size**2).

    Bilinear interpolation with the image's outer edges aligned, not its corner
    pixels' centres (``align_corners=False``, as OpenCV's and scikit-image's
    resizing), values kept in 0..255; adds no information, only the input size
    of Barsoum et al.'s (2016) FER+ VGG-13.
    """
    faces = torch.as_tensor(np.asarray(X, dtype=np.float32)).reshape(len(X), 1, SIDE, SIDE)
    faces = torch.nn.functional.interpolate(faces, size=(size, size), mode="bilinear",
                                            align_corners=False)
    return faces.clamp(0, 255).reshape(len(X), size * size).numpy()


def holdout_split(y):
    """Positions of the Training rows a ``--holdout`` network trains on, and of those it leaves out.

    ``y`` holds the rows' emotion names: FER2013's for ``fer2013``, the FER+
    majority for ``ferplus``, whose rows are those with one (the stratified
    draw depends on the labels' form, so integer codes would give other rows). A
    stratified :data:`HOLDOUT_FRACTION` of the rows, drawn with
    :data:`HOLDOUT_SEED` whatever the network's own seed; both index arrays
    sorted.
    """
    keep, held = train_test_split(np.arange(len(y)), test_size=HOLDOUT_FRACTION,
                                  random_state=HOLDOUT_SEED, stratify=y)
    return np.sort(keep), np.sort(held)


def holdout_record(y):
    """What a ``--holdout`` network's metadata says of the rows it left out of ``y``.

    The split's settings and the SHA-256 of the held-out positions, which
    ``select_ensemble.py`` compares with the split it makes, so that a network
    split on other rows, or by another scikit-learn's draw, is refused.
    """
    held = holdout_split(y)[1]
    return {"fraction": HOLDOUT_FRACTION, "seed": HOLDOUT_SEED, "rows": int(len(y)),
            "held_sha256": hashlib.sha256(held.astype(np.int64).tobytes()).hexdigest()}


class KeepWeights(Callback):
    """Write the network's weights after each of the last ``n`` epochs to ``folder/epoch_NN.pt``.

    The snapshots that ``benchmarks/select_ensemble.py`` averages (SWA,
    Izmailov et al. 2018) to see whether the mean of the last epochs' weights
    beats the last epoch's, or whose predictions it averages (a snapshot
    ensemble, Huang et al. 2017). Epochs are numbered as the estimator's
    ``history_`` numbers them: a fit continued from ``offset`` epochs (a warm
    start, whose skorch net counts its own epochs from 1) names its first
    ``offset + 1``. Each file is written atomically, so a run killed and
    resumed (``--checkpoint``) leaves only whole ones.
    """

    def __init__(self, folder, n, offset=0):
        self.folder = folder
        self.n = n
        self.offset = offset

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        if epoch > net.max_epochs - self.n:
            os.makedirs(self.folder, exist_ok=True)
            with atomic_open(Path(self.folder) / f"epoch_{self.offset + epoch:02d}.pt") as file:
                torch.save(net.module_.state_dict(), file)


def check_input_size(file, info, parser):
    """Stop if the file written here takes faces other than 48×48 (``--input-size``)."""
    size = info.get("input_size", SIDE)  # files written before --input-size took 48×48
    if size != SIDE:
        parser.error(f"{file} takes {size}x{size} faces (--input-size {size}); only networks "
                     f"that take {SIDE}x{SIDE} faces are joined, continued or started from")


def model_info(file, name, data_sha256, parser):
    """The metadata of a 48×48 ``name`` file written here from these data files, or stop."""
    info = read_metadata(file)
    if info.get("name") != name or info.get("data_sha256") != data_sha256:
        parser.error(f"{file} is not a {name!r} model trained on these data files")
    check_input_size(file, info, parser)
    return info


def combine(files, name, data_sha256, parser):
    """The :func:`~fer_sklearn.average_ensemble` of model files, and each one's provenance.

    Each file must have been written by this script for the model ``name``
    from the same data files; the provenance kept per member is what its
    training run recorded. A file that is itself an ensemble contributes its
    members' records, as :func:`~fer_sklearn.average_ensemble` takes its networks.
    """
    members, provenance = [], []
    for file in files:
        info = model_info(file, name, data_sha256, parser)
        if info.get("members") and info.get("continuation"):
            # Its networks were trained on after its members' runs: no record says how each is.
            parser.error(f"{file} is an ensemble trained further (--continue or --from); "
                         "join its members' own files instead")
        members.append(load(file))
        if info.get("members"):
            provenance += info["members"]
            continue
        provenance.append({
            "labels": targets(info),
            **{key: info[key] for key in ("trained_on", "seed", "recipe", "fit_seconds",
                                          "publictest_accuracy", "command", "git_commit",
                                          "machine")},
            # Parts of the recipe that the estimator's parameters do not hold.
            **{key: info.get(key) for key in ("params", "cycles", "ema")},
            "precision_used": info.get("precision_used", "float32"),
        })
    return average_ensemble(members), provenance


def continue_training(file, name, data_sha256, args, X, y, shares, parser):
    """The model of ``file`` trained ``args.max_epochs`` more epochs, and the continuation's record.

    ``warm_start`` keeps every member's weights; the learning rate falls from
    ``args.lr`` along a cosine, or stays there (``args.schedule``); ``args.zoom``
    adds random zooms (no turn, no shift: the estimator's own augmentation
    shifts) drawn with ``args.seed``; ``args.snapshots`` keeps the last epochs'
    weights of a one-network file (:class:`KeepWeights`), to average them as
    SWA does along a constant rate.
    Members trained on one kind of target train at once, on the same
    batches; an ensemble whose members were trained on different targets
    (ferplus: majority labels and vote shares) is split, each network trained
    on its own targets (``shares`` for vote shares), and joined again. The
    model returned has the file's parameters again (``warm_start=False``, its
    epochs and learning rate): a later ``fit`` trains afresh with the original
    recipe; the continuation is in the record. With ``args.transfer`` (``--from``)
    the networks of that fer2013 file are trained at once, on ``args.labels``
    (:func:`transfer`).
    """
    from fer_sklearn._ensemble import _split_members
    from fer_sklearn.callbacks import RandomAffine

    if args.transfer:
        model, info = transfer(file, y, data_sha256, parser)
        kinds = [args.labels] * model.n_members
    else:
        info = model_info(file, name, data_sha256, parser)
        model = load(file)
        labels = targets(info)
        kinds = labels if isinstance(labels, list) else [labels] * model.n_members
        # --members records one kind per file: a file that was itself an ensemble breaks the
        # one-kind-per-network reading.
        if len(kinds) != model.n_members or not all(isinstance(kind, str) for kind in kinds):
            parser.error(f"{file} records targets {labels!r} for {model.n_members} networks: "
                         "continue the files it joined, then join them")
    groups = ([(model, kinds[0])] if len(set(kinds)) == 1
              else list(zip(_split_members(model), kinds, strict=True)))
    training = ("warm_start", "max_epochs", "lr", "lr_schedule", "random_state", "callbacks",
                "verbose")
    lr, epochs = args.lr or CONTINUE_LR, args.max_epochs or 3
    schedule = {"cosine": "cosine", "constant": "none"}[args.schedule]
    if args.snapshots and model.n_members != 1:
        parser.error(f"--snapshots keeps one network's weights; {file} has {model.n_members}")
    start = time.perf_counter()
    for network, kind in groups:
        original = {key: value for key, value in network.get_params().items() if key in training}
        callbacks = []
        if args.zoom:
            callbacks = [("augment_zoom", RandomAffine(degrees=0, scale=tuple(args.zoom),
                                                        max_shift=0, random_state=args.seed))]
        if args.snapshots:
            callbacks.append(("keep_weights", KeepWeights(
                str(Path(args.out) / "snapshots"), args.snapshots, len(network.history_))))
        network.set_params(warm_start=True, max_epochs=epochs, lr=lr,
                           lr_schedule=schedule, random_state=args.seed, callbacks=callbacks,
                           verbose=1)
        print(f"continuing {file} ({kind}, {network.n_members} network(s)): {len(y):,} faces, "
              f"{epochs} epochs", flush=True)
        network.fit(X, y, **fit_params(kind, shares))
        network.set_params(**original)
    if len(groups) > 1:
        model = average_ensemble([network for network, _ in groups])
    record = {
        "from": {"sha256": sha256(file),
                 **{key: info.get(key) for key in ("command", "git_commit",
                                                   "publictest_accuracy", "fit_seconds")}},
        "epochs": epochs, "lr": lr, "lr_schedule": args.schedule,
        "zoom": args.zoom, "aligned": args.aligned, "seed": args.seed,
        "snapshots": args.snapshots,
        "separately": len(groups) > 1,
        "transfer": bool(args.transfer),
        "fit_seconds": time.perf_counter() - start,
    }
    return model, info, record


def transfer(file, y, data_sha256, parser):
    """The networks of a ``fer2013`` file written here, as a FER+ classifier to train further.

    Every layer is kept; the linear head's row (and bias) of each FER2013
    emotion becomes that of the FER+ emotion of the same meaning
    (:data:`FER2013_TO_FERPLUS`), and contempt, which FER2013 lacks, starts as
    neutral with its bias lowered by ``log(n_neutral / n_contempt)``, the
    counts of the majority labels ``y``: the network first sees contempt as a
    neutral face, as rare as contempt is. The pixel scaling learned on the
    28,709 FER2013 Training faces is kept (the FER+ rows are 26,940 of them).
    Returns the model and the file's metadata.
    """
    info = read_metadata(file)
    recorded = set(info.get("data_sha256", {}).items())
    if info.get("name") != "fer2013" or not recorded or not recorded <= set(data_sha256.items()):
        parser.error(f"--from {file} is not a 'fer2013' model trained on these data files")
    check_input_size(file, info, parser)
    counts = {name: int(np.sum(y == name)) for name in ("contempt", "neutral")}
    if not all(counts.values()):
        parser.error(f"--from needs contempt and neutral among the Training labels to set "
                     f"contempt's starting bias; these rows have {counts}")
    model = load(file)
    origin = {new: old for old, new in FER2013_TO_FERPLUS.items()} | {"contempt": "neutral"}
    classes = np.array(sorted(origin))
    source = [list(model.classes_).index(origin[name]) for name in classes]
    prior = np.log(counts["contempt"] / counts["neutral"])
    module = model.net_.module_
    for network in getattr(module, "members", [module]):
        old = network.head.fc
        # Every weight is copied below; the initial draw must not move the caller's torch RNG.
        with torch.random.fork_rng(devices=[]):
            fc = torch.nn.Linear(old.in_features, len(classes), device=old.weight.device,
                                 dtype=old.weight.dtype)
        with torch.no_grad():
            fc.weight.copy_(old.weight[source])
            fc.bias.copy_(old.bias[source])
            fc.bias[list(classes).index("contempt")] += float(prior)
        network.head.fc = fc
    model.classes_ = classes
    return model, info


def _trained(run):
    """How one training run is described: data, seed, time, machine, precision."""
    machine = run["machine"]
    return (f"{run['trained_on']}, seed {run['seed']}, ``max_epochs={run['recipe']['max_epochs']}``"
            f", {run['fit_seconds'] / 60:.0f} minutes on {machine['torch_threads']} CPU threads "
            f"(torch {machine['torch']}, {machine.get('cpu', machine['processor'])}, "
            # The first fer2013 file predates the key; it was trained in float32.
            f"{run.get('precision_used', 'float32')})")


def _table_row(name, faces, info, size_mb):
    """One shipped file's line of the table the page opens with: what, how good, how made."""
    from fer_sklearn.cli._study import _accuracy_interval

    members = info.get("members") or [info]
    continuation = info.get("continuation")
    low, high = _accuracy_interval(info["publictest_accuracy"], info["publictest_n"])
    labels = ("FER2013's 7 emotions" if name == "fer2013"
              else "FER+'s 8 emotions (" + ", ".join(
                  sorted({LABELS[run["labels"]] for run in members})) + ")")
    recipe = (f"{len(members)} network{'s' * (len(members) > 1)} x "
              f"{members[0]['recipe']['max_epochs']} epochs"
              + (", averaged" if len(members) > 1 else ""))
    if continuation:
        recipe += f"; then {continuation['epochs']} epochs more"
        recipe += " on zoomed faces" if continuation.get("zoom") else ""
        recipe += ", cut again by their landmarks" if continuation.get("aligned") else ""
    runs = members + ([info] if continuation else [])
    precisions = sorted({run.get("precision_used", "float32") for run in runs})
    # Files made before the CPU model was recorded name only the architecture.
    cpus = sorted({run["machine"].get("cpu", "CPU model not recorded in the file")
                   for run in runs})
    return [f"``{name}``" + (" (``faces=True``)" if faces else ""), labels, recipe,
            f"**{info['publictest_accuracy']:.1%}** ({low:.1%}-{high:.1%}), "
            f"{info['publictest_n']:,} faces",
            f"{info['predict_faces_per_second']:.0f} faces/s with {n_views(info['recipe'])} "
            f"views" + (f" on {info['machine']['cpu']}" if "cpu" in info["machine"] else "")
            + f"; {size_mb:.1f} MB",
            f"{info['fit_seconds'] / 60:.0f} min on {info['machine']['torch_threads']} CPU "
            f"threads ({', '.join(precisions)}; {'; '.join(cpus)})",
            f"``{info['command']}``"]


def _storage(info):
    """How a file's weights are stored, and how far float16 moved a PublicTest probability.

    Files written before the mixed storage compared forward passes in the
    precision they predict in, not in float32, and tried float16 alone.
    """
    whole, mixed = info["float16_max_proba_difference"], info.get("mixed_max_proba_difference")
    passes = info.get("float16_check_precision", info["precision_used"])
    measured = f"largest change of a PublicTest probability, {passes} forward passes"
    if info["weights_dtype"] == "float16":
        return f"Weights stored as float16 ({measured}: {whole:.1e})"
    if info["weights_dtype"] == "mixed":
        return (f"Weights stored as float16 in the {len(info['float16_tensors'])} tensors of at "
                f"least {info['large_tensor']:,} values, float32 elsewhere "
                f"({measured}: {mixed:.1e}; all in float16: {whole:.1e})")
    tried = "" if mixed is None else f"; the large tensors alone: {mixed:.1e}"
    return f"Weights stored as float32 (in float16, {measured}: {whole:.1e}{tried})"


def write_docs(path):
    """The shipped models' figures, as reStructuredText, from the files' own metadata.

    A table first (model, labels, recipe, PublicTest accuracy with its 95%
    Wilson interval, prediction speed and file size, training time, precision
    and machine, the command that wrote the file), then a paragraph per file
    with each network's own figures and command.
    """
    from fer_sklearn.pretrained import PRETRAINED, pretrained_info

    lines, table = [], []
    for name, faces in itertools.product(PRETRAINED, (False, True)):
        file = OUT / _file_name(name, faces)
        if not file.is_file():
            continue
        info = pretrained_info(name, faces=faces)
        table.append(_table_row(name, faces, info, file.stat().st_size / 1e6))
        views = n_views(info["recipe"])
        recall = ", ".join(f"{label} {value:.0%}"
                           for label, value in info["publictest_recall"].items())
        members = info.get("members")
        continuation = info.get("continuation")
        heading = (f"``{name}`` for detected faces (``load_pretrained({name!r}, faces=True)``)"
                   if faces else f"``{name}``")
        # A ferplus model trained from fer2013 networks (--from): the figures of its
        # members and of the model it starts from are against the FER2013 labels.
        transferred = bool(continuation and continuation.get("transfer"))
        source_labels = " on the FER2013 labels" if transferred else ""
        if continuation:
            zoom = continuation["zoom"]
            more = (
                f"trained {continuation['epochs']} epochs more, "
                + (f"on the FER+ {LABELS[info['labels']]} of the same Training faces, each "
                   "FER2013 output starting the FER+ emotion of the same meaning and contempt "
                   "starting as neutral, " if transferred else "")
                + ("each network alone, on the targets it was trained on"
                   if continuation.get("separately") else "all its networks at once")
                + " (``warm_start=True``), the learning rate "
                + (f"held at {continuation['lr']:g}"
                   if continuation.get("lr_schedule") == "constant"
                   else f"falling from {continuation['lr']:g} along a cosine")
                + (", on the Training faces cut again by YuNet's landmarks as FaceAligner "
                   "cuts photographs" if continuation.get("aligned") else "")
                + (f", with random zooms of {zoom[0]:g} to {zoom[1]:g}" if zoom else "")
                + f" (seed {continuation['seed']}): {continuation['fit_seconds'] / 60:.0f} "
                f"minutes on {info['machine']['torch_threads']} CPU threads "
                f"({info['precision_used']})")
            total = f"{info['fit_seconds'] / 60:.0f} minutes of training in all"
        if continuation and (faces or not members):
            # The model it continues is described by its command (for a variant for
            # faces: the shipped model above).
            lines += [f"{heading}: the ``{'fer2013' if transferred else name}`` model made by "
                      f"``{continuation['from']['command']}`` (PublicTest "
                      f"{continuation['from']['publictest_accuracy']:.1%}{source_labels}), "
                      f"{more}, {total}.",
                      ""]
        elif members:
            lines += [
                f"{heading}: the average of {len(members)} "
                ":class:`~fer_sklearn.FERCNNClassifier` networks with the library's defaults "
                f"but the epochs{_params_words(members)}, trained separately and joined by "
                f":func:`~fer_sklearn.average_ensemble` ({info['fit_seconds'] / 60:.0f} "
                "minutes of training in all):",
                "",
                *(f"{i}. {_trained(run)}: PublicTest accuracy "
                  f"{run['publictest_accuracy']:.1%}{source_labels} alone, with "
                  f"{n_views(run['recipe'])} test-time views; made by "
                  f"``{run['command']}``."
                  for i, run in enumerate(members, start=1)),
                "",
            ]
            if continuation:
                lines += [f"Joined by ``{continuation['from']['command']}`` (PublicTest "
                          f"{continuation['from']['publictest_accuracy']:.1%}{source_labels}, "
                          "SHA-256 "
                          f"``{continuation['from']['sha256'][:12]}``), then {more}.", ""]
        else:
            lines += [f"{heading}: a :class:`~fer_sklearn.FERCNNClassifier` with the "
                      f"library's defaults but the epochs{_params_words([info])}, trained on "
                      f"{_trained(info)}.", ""]
        lines += [
            f"- PublicTest accuracy, as shipped: **{info['publictest_accuracy']:.1%}** "
            f"({info['publictest_n']:,} faces, the {views} test-time views it ships with).",
            f"- Recall per class: {recall}.",
            f"- {_storage(info)}; file size {file.stat().st_size / 1e6:.1f} MB.",
            f"- Prediction: {info['predict_faces_per_second']:.0f} faces/s with the {views} "
            "views, measured when the file was made, on the same machine.",
            f"- Made by ``{info['command']}`` at commit ``{info['git_commit'][:12]}``.",
            "",
        ]
    header = ["model", "labels", "recipe", "PublicTest accuracy (95% interval)",
              "prediction; file size", "training (precision; machine)",
              "made by (each network's command below)"]
    head = [".. list-table::", "   :header-rows: 1", "   :widths: 10 12 14 14 12 16 22", ""]
    for row in [header, *table]:
        head += [f"   * - {row[0]}", *(f"     - {cell}" for cell in row[1:])]
    Path(path).write_text("\n".join(head + [""] + lines), encoding="utf-8")


def json_object(text):
    """``--params``'s value: a JSON object."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"a JSON object of estimator parameters is needed; "
                                         f"got {text!r}")
    return value


def check_params(params, parser):
    """Refuse, before the CSV is read, ``--params`` that ``fit`` would refuse or the flags set."""
    flags = {"random_state": "--seed", "checkpoint": "--checkpoint", "verbose": None,
             "max_epochs": "--max-epochs", "mixup": "--mixup", "callbacks": "--snapshots",
             # Its best epoch's weights, put back, would not be the last snapshot's.
             "early_stopping": None}
    for name in sorted(flags.keys() & params.keys()):
        parser.error(f"--params cannot set {name}" + (f": use {flags[name]}" if flags[name]
                                                      else ""))
    try:
        FERCNNClassifier().set_params(**params)._validate_params()
    except (ValueError, TypeError) as exc:  # unknown names; InvalidParameterError
        parser.error(f"--params: {exc}")


def _params_words(runs):
    """``", and <parameters>"`` for the runs' ``--params``, ``--cycles`` and ``--ema`` (the
    first run's of each), else ``""``."""
    params = [run.get("params") for run in runs if run.get("params")]
    cycles = [run.get("cycles") for run in runs if run.get("cycles")]
    ema = [run.get("ema") for run in runs if run.get("ema")]
    return ((f", and ``{json.dumps(params[0])}``" if params else "")
            + (f", the learning rate in {cycles[0]} cosine cycles" if cycles else "")
            + (f", ending with the moving average of its weights (decay {ema[0]})"
               if ema else ""))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", choices=("fer2013", "ferplus"))
    parser.add_argument("--docs", action="store_true",
                        help="write docs/_pretrained_results.rst from the shipped files, "
                             "and train nothing")
    parser.add_argument("--data", default=os.environ.get("FER2013_PATH",
                                                         str(DATA / "fer2013.csv.gz")))
    parser.add_argument("--ferplus", default=str(DATA / "fer2013new.csv"))
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="epochs (default: the estimator's 60); the shipped ferplus "
                             "networks used 30, which fit the 2-hour budget in float32")
    parser.add_argument("--limit", type=int, default=None,
                        help="train on the first N Training rows only (for a smoke test)")
    parser.add_argument("--labels", choices=("majority", "distribution"), default=None,
                        help="ferplus only: train on the majority label (default) or on the "
                             "vote shares (target_proba; the default with --from)")
    parser.add_argument("--checkpoint", metavar="DIR",
                        help="a network trained afresh keeps its training state in DIR after "
                             "every epoch; the same command run again after an interruption "
                             "resumes it (FERCNNClassifier's checkpoint)")
    parser.add_argument("--seed", type=int, default=SEED, help="the estimator's random_state")
    parser.add_argument("--params", type=json_object, default={}, metavar="JSON",
                        help="estimator parameters for a network trained afresh, as a JSON "
                             "object, e.g. '{\"optimizer\": \"sgd\", \"lr\": 0.01, "
                             "\"lr_schedule\": \"plateau\"}' (default: the library's "
                             "defaults); recorded with the rest of the recipe")
    parser.add_argument("--mixup", type=float, default=None, metavar="ALPHA",
                        help="the estimator's mixup (default: its 0, none) for a network "
                             "trained afresh; --continue keeps the file's")
    parser.add_argument("--input-size", type=int, default=SIDE, metavar="N",
                        help=f"train and score a network afresh on the faces upsampled to NxN "
                             f"pixels (default {SIDE}: as they are), for comparison")
    parser.add_argument("--members", nargs="+", metavar="FILE",
                        help="train nothing: ship the average_ensemble of these model files, "
                             "each written by this script for the same model and data (an "
                             "ensemble's file adds each of its networks)")
    parser.add_argument("--continue", dest="resume", metavar="FILE",
                        help="train this file, written by this script, --max-epochs more "
                             "(default 3) from --lr (--schedule)")
    parser.add_argument("--from", dest="transfer", metavar="FILE",
                        help="ferplus only: train the networks of this fer2013 file, written "
                             "by this script, --max-epochs more (default 3) from --lr "
                             "(--schedule), each FER2013 output starting the FER+ emotion "
                             "of the same meaning (--labels: default distribution); "
                             "written to --out, by default over the shipped ferplus file")
    parser.add_argument("--lr", type=float, default=None,
                        help=f"--continue and --from only: the starting learning rate, or the "
                             f"rate throughout with --schedule constant (default "
                             f"{CONTINUE_LR:g})")
    parser.add_argument("--schedule", choices=("cosine", "constant"), default=None,
                        help="--continue and --from only: the learning rate falls from --lr "
                             "along a cosine (default), or stays at --lr (SWA's constant rate, "
                             "with --snapshots)")
    parser.add_argument("--zoom", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        help="--continue and --from only: random zooms between these scales")
    parser.add_argument("--aligned", action="store_true",
                        help="--continue only: train on the Training faces cut again by "
                             "YuNet's landmarks, as FaceAligner cuts photographs")
    parser.add_argument("--faces", action="store_true",
                        help="write <model>_faces.skops, the variant load_pretrained(faces=True) "
                             "uses")
    parser.add_argument("--holdout", action="store_true",
                        help=f"train a network afresh, or --continue one that left out the same "
                             f"rows, on Training less its validation split "
                             f"({HOLDOUT_FRACTION:.0%}, the same rows for every seed), which "
                             f"benchmarks/select_ensemble.py scores")
    parser.add_argument("--cycles", type=int, default=None, metavar="M",
                        help="a network trained afresh: in place of its lr_schedule, M cycles "
                             "of max_epochs/M epochs, in each of which the learning rate falls "
                             "epoch by epoch along a cosine from the estimator's lr towards a "
                             "thousandth of it (a 15-epoch cycle's last epoch at 1.2%% of lr), "
                             "then restarts (SGDR, Loshchilov and Hutter 2017): the cycles of a "
                             "snapshot ensemble (Huang et al. 2017), whose members, the cycles' "
                             "last epochs, --snapshots keeps and select_ensemble.py "
                             "--snapshot-ensemble scores")
    parser.add_argument("--ema", type=float, default=None, metavar="DECAY",
                        help="a network trained afresh keeps an exponential moving average of "
                             "its weights, step by step, and ends with it (WeightEMA; 0.999 "
                             "spans about 1,000 steps, 5 epochs); --snapshots 1 keeps its own "
                             "last weights to compare")
    parser.add_argument("--snapshots", type=int, default=0, metavar="N",
                        help="a network trained afresh or continued (one network) also writes "
                             "its weights after each of its last N epochs to OUT/snapshots/ "
                             "(for weight averaging or a snapshot ensemble; --out must be named); "
                             "a --checkpoint resumes only with the same --out and N")
    parser.add_argument("--test-time-shift", type=int, default=None,
                        help="the shipped model's test_time_shift (default: the estimator's)")
    parser.add_argument("--large-tensor", type=int, default=LARGE_TENSOR, metavar="N",
                        help="where float16 weights everywhere move a probability too far, "
                             "try float16 in the tensors of at least N values only (default: "
                             "%(default)s)")
    args = parser.parse_args(argv)
    if args.docs:
        write_docs(REPO / "docs" / "_pretrained_results.rst")
        return
    if args.model is None:
        parser.error("name the model to train, or pass --docs")

    # Every check of the flags comes before the CSV is read.
    if args.labels == "distribution" and args.model != "ferplus":
        parser.error("--labels distribution needs the ferplus votes")
    if args.members and args.resume:
        parser.error("--members and --continue are separate steps")
    if args.transfer and args.model != "ferplus":
        parser.error("--from makes a ferplus model from a fer2013 file: name ferplus")
    if args.transfer and (args.members or args.resume):
        parser.error("--from starts a ferplus model alone: no --members, no --continue")
    if (args.zoom or args.lr or args.schedule) and not (args.resume or args.transfer):
        parser.error("--zoom, --lr and --schedule only apply with --continue or --from")
    args.schedule = args.schedule or "cosine"
    if args.checkpoint and (args.members or args.resume or args.transfer):
        parser.error("--checkpoint keeps the state of a network trained afresh: no --members, "
                     "--continue or --from")
    if args.snapshots and Path(args.out).resolve() == OUT.resolve():
        parser.error("--snapshots writes OUT/snapshots/: name an --out outside the package")
    if args.snapshots and args.resume and any((Path(args.out) / "snapshots").glob("epoch_*")):
        parser.error(f"{Path(args.out) / 'snapshots'} already holds snapshots: a continuation "
                     "would mix its epochs with them; name another --out")
    # The rows a continued network left out, None where it trained on all of them.
    resumed_holdout = read_metadata(args.resume).get("holdout") if args.resume else None
    if resumed_holdout and not args.holdout:
        parser.error(f"{args.resume} left out the --holdout validation split: pass --holdout "
                     "to keep those rows out (its validation figures hold only then)")
    if args.aligned and not (args.resume and args.faces):
        parser.error("--aligned trains the variant for photographs: it needs --continue "
                     "and --faces")
    if (args.holdout or args.snapshots) and (args.members or args.transfer):
        parser.error("--holdout and --snapshots apply to a network trained afresh or "
                     "continued: no --members or --from")
    if args.holdout and (args.limit or args.input_size != SIDE):
        parser.error("--holdout leaves out a split of all the Training rows, for networks "
                     f"that take {SIDE}x{SIDE} faces: no --limit or --input-size")
    if args.snapshots < 0:
        parser.error(f"--snapshots must be >= 0; got {args.snapshots}")
    if args.mixup is not None and not 0 <= args.mixup < float("inf"):
        parser.error(f"--mixup must be a number >= 0; got {args.mixup}")
    if args.mixup is not None and (args.members or args.resume or args.transfer):
        parser.error("--mixup applies to a network trained afresh: no --members, --continue "
                     "or --from")
    if args.params and (args.members or args.resume or args.transfer):
        parser.error("--params applies to a network trained afresh: no --members, --continue "
                     "or --from")
    check_params(args.params, parser)
    if args.cycles is not None:
        if args.members or args.resume or args.transfer:
            parser.error("--cycles applies to a network trained afresh: no --members, "
                         "--continue or --from")
        if "lr_schedule" in args.params:
            parser.error("--cycles takes the place of lr_schedule: drop it from --params")
        epochs = args.max_epochs or FERCNNClassifier().max_epochs
        if not 1 <= args.cycles <= epochs or epochs % args.cycles:
            parser.error(f"--cycles must divide the {epochs} epochs into cycles of whole "
                         f"epochs; got {args.cycles}")
        reach = epochs - epochs // args.cycles + 1  # back to the first cycle's last epoch
        if 0 < args.snapshots < reach:
            parser.error(f"--snapshots {args.snapshots} keeps too few epochs for the ends of "
                         f"all {args.cycles} cycles: pass at least {reach}")
    if args.ema is not None:
        if args.members or args.resume or args.transfer:
            parser.error("--ema applies to a network trained afresh: no --members, "
                         "--continue or --from")
        try:
            WeightEMA(args.ema).initialize()  # the callback's own check, before the CSV is read
        except ValueError as exc:
            parser.error(f"--ema: {exc}")
    if args.input_size < SIDE:
        parser.error(f"--input-size upsamples the {SIDE}x{SIDE} faces: it must be >= {SIDE}; "
                     f"got {args.input_size}")
    if args.input_size != SIDE and (args.members or args.resume or args.transfer
                                    or args.faces):
        parser.error("--input-size applies to a network trained afresh for comparison: no "
                     "--members, --continue, --from or --faces")
    if args.resume and args.labels is not None:
        parser.error("--continue trains each network on the targets it was trained on: "
                     "drop --labels")
    args.labels = args.labels or ("distribution" if args.transfer else "majority")
    path = Path(args.out) / _file_name(args.model, args.faces)
    if args.resume:
        if path.resolve() == Path(args.resume).resolve():
            parser.error(f"--continue {args.resume} would overwrite the file it continues: "
                         "pass --faces or another --out")
    X_train, y_train, shares, X_test, y_test, data_sha256 = load_data(args.model, args.data,
                                                                        args.ferplus)
    commit = git_commit()  # the code that trains, not what was committed while it ran
    continuation = None
    if args.limit:
        X_train, y_train = X_train[:args.limit], y_train[:args.limit]
        shares = None if shares is None else shares[:args.limit]
    y_train_all = y_train
    if args.holdout:
        keep = holdout_split(y_train)[0]
        X_train, y_train = X_train[keep], y_train[keep]
        shares = None if shares is None else shares[keep]
    if args.input_size != SIDE:
        X_train, X_test = upsample(X_train, args.input_size), upsample(X_test, args.input_size)
    if args.aligned:
        X_train, recut = recut_by_landmarks(X_train)
        print(f"cut again by YuNet's landmarks: {recut:,} of {len(X_train):,} Training faces",
              flush=True)
    if args.holdout and args.resume:
        # Its validation figures hold only if it never trained on those rows.
        if resumed_holdout != holdout_record(y_train_all):
            parser.error(f"--holdout continues a network that left out this validation split; "
                         + (f"{args.resume} was trained on all the Training rows"
                            if resumed_holdout is None
                            else f"{args.resume} left out another split ({resumed_holdout})"))
    if args.resume or args.transfer:
        model, base, continuation = continue_training(args.resume or args.transfer,
                                                      args.model, data_sha256, args, X_train,
                                                      y_train, shares, parser)
        members, cycles, ema = base.get("members"), base.get("cycles"), base.get("ema")
        fit_seconds = base["fit_seconds"] + continuation["fit_seconds"]
        seed, trained_on = base["seed"], base["trained_on"]
        labels = targets(base)
        if args.transfer:
            trained_on += (f"; then {len(y_train)} FER2013 Training rows with FER+ "
                           f"{LABELS[args.labels]}")
            labels = args.labels
    elif args.members:
        model, members = combine(args.members, args.model, data_sha256, parser)
        cycles = ema = None  # each member's record says
        fit_seconds = sum(member["fit_seconds"] for member in members)
        seed = [member["seed"] for member in members]
        labels = [member["labels"] for member in members]
        trained_on = "; ".join(f"{member['trained_on']} (seed {member['seed']})"
                               for member in members)
    else:
        # The library's defaults (the recipe measured in docs/fer2013_results.rst), but --params.
        model = FERCNNClassifier(random_state=args.seed, verbose=1, checkpoint=args.checkpoint)
        model.set_params(**args.params)
        if args.max_epochs:
            model.set_params(max_epochs=args.max_epochs)
        if args.mixup is not None:
            model.set_params(mixup=args.mixup)
        callbacks = []
        if args.cycles:
            # Stepped every epoch: each cycle's last epoch runs at about 1% of lr (for 15-epoch
            # cycles), the low rate Huang et al. take their snapshots at.
            model.set_params(lr_schedule="none")
            callbacks.append(("lr_schedule", LRScheduler(
                CosineAnnealingWarmRestarts, T_0=model.max_epochs // args.cycles,
                eta_min=model.lr * 1e-3)))
        if args.ema:
            callbacks.append(("weight_ema", WeightEMA(args.ema)))
        if args.snapshots:  # the network's own weights: WeightEMA swaps in its only at the end
            callbacks.append(("keep_weights", KeepWeights(
                str(Path(args.out) / "snapshots"), args.snapshots)))
        model.set_params(callbacks=callbacks or None)
        print(f"training {args.model}: {len(y_train):,} faces, {model.max_epochs} epochs",
              flush=True)
        start = time.perf_counter()
        model.fit(X_train, y_train, **fit_params(args.labels, shares))
        # A fit resumed from --checkpoint ran only its last epochs here: count them all.
        fit_seconds = max(time.perf_counter() - start, float(model.history_["dur"].sum()))
        # A scratch folder is no part of the recipe, nor is where the snapshots went.
        model.set_params(checkpoint=None, callbacks=None)
        members, seed, labels, cycles, ema = (None, args.seed, args.labels, args.cycles,
                                              args.ema)
        trained_on = (f"{len(y_train)} FER2013 Training rows"
                      + (f" with FER+ {LABELS[args.labels]}" if args.model == "ferplus" else "")
                      + (" (the --holdout validation split left out)" if args.holdout else ""))
    if args.test_time_shift is not None:
        model.set_params(test_time_shift=args.test_time_shift)

    os.makedirs(args.out, exist_ok=True)
    weights_dtype, storage, candidate, differences = choose_storage(model, X_test,
                                                                    args.large_tensor)
    start = time.perf_counter()
    shipped = candidate.predict_proba(X_test)
    predict_seconds = time.perf_counter() - start
    # The figures are those of the model as shipped.
    y_pred = model.classes_[shipped.argmax(axis=1)]
    accuracy = float(np.mean(y_pred == y_test))
    names = EMOTIONS if args.model == "fer2013" else FERPLUS_CLASSES
    metadata = {
        "name": args.model,
        "classes": [str(c) for c in model.classes_],
        "label_order_of_the_data": list(names),
        "trained_on": trained_on,
        "labels": labels,
        "data_sha256": data_sha256,
        "fer_sklearn_version": __version__,
        "git_commit": commit,
        "recipe": recipe(model),
        "params": args.params or None,
        "cycles": cycles,
        "ema": ema,
        "input_size": args.input_size,
        "seed": seed,
        "members": members,
        "continuation": continuation,
        "faces": args.faces,
        "holdout": holdout_record(y_train_all) if args.holdout else None,
        "publictest_accuracy": accuracy,
        "publictest_n": int(len(y_test)),
        "publictest_recall": {str(c): float(np.mean(y_pred[y_test == c] == c))
                              for c in model.classes_},
        "weights_dtype": weights_dtype,
        "float16_tensors": sorted(storage) if weights_dtype == "mixed" else None,
        "large_tensor": args.large_tensor,
        "float16_check_precision": "float32",
        "precision_used": precision_used(model),
        "float16_max_proba_difference": differences["float16"],
        "mixed_max_proba_difference": differences.get("mixed"),
        "fit_seconds": fit_seconds,
        "predict_faces_per_second": len(y_test) / predict_seconds,
        "machine": machine(),
        "command": "python benchmarks/pretrained.py " + " ".join(
            sys.argv[1:] if argv is None else argv),
    }
    save(model, path, metadata=metadata, weights_dtype=storage)
    print(json.dumps(metadata, indent=1))
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): PublicTest accuracy "
          f"{accuracy:.4f}")


if __name__ == "__main__":
    main()
