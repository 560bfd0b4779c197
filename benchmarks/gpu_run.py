"""One prepared run for a lent GPU: check the library on CUDA, then train FER2013 networks.

A GPU machine is lent briefly (15 minutes of device time, its start included)
with Python 3.12 and a CUDA build of torch, without skorch and skops, and
with nothing to fetch; at most 64 MiB travel with the working tree, of which
the repository takes about 30 MB (27.6 MB the shipped models). Everything is
therefore prepared here, and the GPU's minutes go to training.

``pack`` (here, once) writes FER2013 as uint8 pixels, LZMA-compressed, in two
parts that travel in two calls: the Training and PublicTest pixels are 74.4
MB, 70.5 MB with zlib and 56.8 MB with LZMA, too much beside the repository's
30.2 MB for one call; ``part1`` (half the Training rows) is 25.3 MB and
``part2`` (the other half and PublicTest) 31.6 MB, measured with the full CSV::

    python benchmarks/gpu_run.py pack --out .gpu        # .gpu/part1, .gpu/part2

``run`` checks the library on the device -- ``fit``, ``predict_proba``,
bfloat16 autocast, ``save`` of the fitted model and ``load`` on the CPU --
then fits ``FERCNNClassifier()`` (the library's defaults, 60 epochs) with
seeds 0, 1, ... on the Training rows less the validation split that
``benchmarks/pretrained.py --holdout`` leaves out, as long as the next
network is expected to finish within ``--minutes``; each network is saved as
it finishes (with the metadata that ``benchmarks/select_ensemble.py`` needs
to score it beside the CPU's ``--holdout`` networks), scored on the
validation split and on PublicTest (10 test-time views) and written to
``run.json``, with the ensemble of those done so far. Its dry run, here, on the CPU::

    python benchmarks/gpu_run.py pack --out /tmp/gpu --n-samples 600
    python benchmarks/gpu_run.py run --data /tmp/gpu --out /tmp/gpu_out --device cpu \\
        --max-epochs 1 --max-networks 2

(23 s here; ``tests/test_gpu_run.py`` runs the same on synthetic faces.)

On the GPU, with the device tool (``.gpu`` and ``.whl`` listed in
``.git/info/exclude``; the wheels are skorch 1.4.0, skops 0.16.0, prettytable
and wcwidth, fetched here with the device README's ``pip download`` line for
Python 3.12): a first call carries ``.gpu/part1`` and ``.whl`` and only
unpacks nothing (``true``); the machine keeps ignored files between calls
while it is warm (30 s), so the second call, made at once, carries
``.gpu/part2`` and runs::

    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && \\
    PYTHONPATH=/tmp/site:. PYTHONUNBUFFERED=1 python3 benchmarks/gpu_run.py run \\
        --data .gpu --out $OUT --minutes 8
"""

import argparse
import json
import lzma
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CSV = Path(os.environ.get("FER2013_PATH",
                                  REPO.parent / "shared/data/fer2013/fer2013.csv.gz"))
SIDE = 48
PARTS = ("part1", "part2")


# ------------------------------------------------------------------- pack
def _write_part(folder, arrays):
    """``arrays`` as one LZMA file of raw bytes and a JSON index of names, dtypes, shapes."""
    folder.mkdir(parents=True, exist_ok=True)
    index, blobs = {}, []
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        index[name] = {"dtype": array.dtype.str, "shape": array.shape}
        blobs.append(array.tobytes())
    (folder / "arrays.xz").write_bytes(lzma.compress(b"".join(blobs), preset=6))
    (folder / "index.json").write_text(json.dumps(index))


def _read_part(folder):
    index = json.loads((folder / "index.json").read_text())
    raw, arrays, start = lzma.decompress((folder / "arrays.xz").read_bytes()), {}, 0
    for name, spec in index.items():
        dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
        size = dtype.itemsize * int(np.prod(shape))
        arrays[name] = np.frombuffer(raw[start:start + size], dtype).reshape(shape)
        start += size
    return arrays


def pack(args):
    from fer_sklearn.datasets import load_fer2013

    bunch = load_fer2013(args.data)
    train = np.flatnonzero(bunch.usage == "Training")[:args.n_samples]
    test = np.flatnonzero(bunch.usage == "PublicTest")[:args.n_samples]
    pixels = bunch.data.astype(np.uint8)
    half = len(train) // 2
    out = Path(args.out)
    _write_part(out / "part1", {"X_train": pixels[train[:half]],
                                "y_train": bunch.target[train[:half]].astype(np.int8)})
    _write_part(out / "part2", {"X_train": pixels[train[half:]],
                                "y_train": bunch.target[train[half:]].astype(np.int8),
                                "X_test": pixels[test],
                                "y_test": bunch.target[test].astype(np.int8)})
    from pretrained import sha256  # benchmarks/ is the script's directory

    # The CSV's digest, which select_ensemble.py checks the networks trained on it against;
    # none for a part of the rows (a dry run's), whose networks are no candidates there.
    (out / "part2" / "data.json").write_text(json.dumps({"data_sha256": None if args.n_samples
                                                         else {os.path.basename(args.data):
                                                               sha256(args.data)}}))
    for part in PARTS:
        size = sum(f.stat().st_size for f in (out / part).iterdir())
        print(f"{out / part}: {size / 1e6:.1f} MB")


def load_packed(folder):
    """``(X_train, y_train, X_test, y_test, data_sha256)`` from the parts ``pack`` wrote.

    Labels are FER2013's emotion names, as ``pretrained.py`` trains on them.
    """
    from fer_sklearn import EMOTIONS

    first, second = (_read_part(Path(folder) / part) for part in PARTS)
    names = np.asarray(EMOTIONS)
    data = json.loads((Path(folder) / "part2" / "data.json").read_text())
    return (np.concatenate([first["X_train"], second["X_train"]]),
            names[np.concatenate([first["y_train"], second["y_train"]])],
            second["X_test"], names[second["y_test"]], data["data_sha256"])


# -------------------------------------------------------------------- run
def _device_name(device):
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(device)
    return f"CPU {platform.processor() or platform.machine()}"


def check(device, folder):
    """The library on ``device``: fit, predict, bfloat16 autocast, save there and load on the CPU."""
    from fer_sklearn import FERCNNClassifier, load, save
    from fer_sklearn.datasets import make_faces

    X, y = make_faces(512, random_state=0, return_X_y=True)
    found = {}
    for precision in ("float32", "bfloat16"):
        start = time.perf_counter()
        model = FERCNNClassifier(n_filters=8, n_blocks=2, max_epochs=2, random_state=0,
                                 device=device, precision=precision).fit(X, y)
        proba = model.predict_proba(X)
        path = Path(folder) / f"check_{precision}.skops"
        save(model, path)
        on_cpu = load(path, device="cpu")
        found[precision] = {
            "fit_and_predict_seconds": round(time.perf_counter() - start, 2),
            "module_device": str(next(model.module_.parameters()).device),
            "train_accuracy": round(float(model.score(X, y)), 4),
            "proba_rows_sum_to_1": bool(np.allclose(proba.sum(axis=1), 1)),
            # The CPU's kernels against the device's: close, not bit-equal.
            "saved_on_device_loaded_on_cpu_max_proba_difference": float(
                np.abs(on_cpu.predict_proba(X) - proba).max()),
        }
        path.unlink()
    return found


def _write_json(path, record):
    temp = Path(f"{path}.tmp")
    temp.write_text(json.dumps(record, indent=1))
    os.replace(temp, path)


def run(args):
    import torch

    from pretrained import (git_commit, holdout_record, holdout_split, machine,
                            precision_used, recipe)  # benchmarks/ is the script's directory

    from fer_sklearn import FERCNNClassifier, save

    deadline = time.monotonic() + 60 * args.minutes
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = args.device
    record = {"command": " ".join(sys.argv), "device": _device_name(device),
              "torch": torch.__version__, "python": platform.python_version(),
              "max_epochs": args.max_epochs, "networks": []}
    record["check"] = check(device, out)
    _write_json(out / "run.json", record)
    print(json.dumps(record["check"], indent=1), flush=True)

    X, y, X_test, y_test, data_sha256 = load_packed(args.data)
    if args.n_samples:
        X, y, data_sha256 = X[:args.n_samples], y[:args.n_samples], None
    holdout = holdout_record(y)
    keep, held = holdout_split(y)
    X, y, X_valid, y_valid = X[keep], y[keep], X[held], y[held]
    probas, seed, per_network = {"validation": [], "publictest": []}, args.first_seed, None
    # Start a network only when the last one's time fits in what is left.
    while (time.monotonic() + (per_network or 0) < deadline
           and len(probas["publictest"]) < (args.max_networks or np.inf)):
        start = time.perf_counter()
        model = FERCNNClassifier(max_epochs=args.max_epochs, random_state=seed, device=device)
        model.fit(X, y)
        per_network = time.perf_counter() - start
        network = {"seed": seed, "fit_seconds": round(per_network, 1),
                   "epoch_seconds": round(float(model.history_["dur"].median()), 2)}
        for part, X_part, y_part in (("validation", X_valid, y_valid),
                                     ("publictest", X_test, y_test)):
            probas[part].append(model.predict_proba(X_part))
            for key, proba in ((part, probas[part][-1]),
                               (f"ensemble_{part}", np.mean(probas[part], axis=0))):
                network[f"{key}_accuracy"] = round(float(np.mean(
                    model.classes_[proba.argmax(axis=1)] == y_part)), 4)
        # The metadata pretrained.py writes, so that its --members joins these networks.
        save(model, out / f"fer2013_seed{seed}.skops", metadata={
            "name": "fer2013", "classes": [str(c) for c in model.classes_],
            "trained_on": f"{len(y)} FER2013 Training rows (the --holdout validation split "
                          "left out)",
            "labels": "majority", "data_sha256": data_sha256, "git_commit": git_commit(),
            "recipe": recipe(model), "input_size": SIDE, "seed": seed, "holdout": holdout,
            "publictest_accuracy": network["publictest_accuracy"],
            "publictest_n": int(len(y_test)), "precision_used": precision_used(model),
            "fit_seconds": per_network, "machine": {**machine(), "device": record["device"]},
            "command": record["command"]})
        record["networks"].append(network)
        _write_json(out / "run.json", record)
        print(json.dumps(record["networks"][-1]), flush=True)
        seed += 1
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack", help="write the data's parts (here)")
    packing.add_argument("--data", default=str(DEFAULT_CSV), help="the FER2013 CSV")
    packing.add_argument("--out", default=".gpu")
    packing.add_argument("--n-samples", type=int, default=None,
                         help="the first N Training and N PublicTest rows (a dry run's)")
    running = commands.add_parser("run", help="check the library, then train (on the GPU)")
    running.add_argument("--data", default=".gpu")
    running.add_argument("--out", required=True)
    running.add_argument("--device", default="cuda")
    running.add_argument("--minutes", type=float, default=8.0,
                         help="start no network that would end after this (default: 8)")
    running.add_argument("--max-epochs", type=int, default=60)
    running.add_argument("--first-seed", type=int, default=0)
    running.add_argument("--n-samples", type=int, default=None)
    running.add_argument("--max-networks", type=int, default=None)
    args = parser.parse_args(argv)
    return pack(args) if args.command == "pack" else run(args)


if __name__ == "__main__":
    main()
