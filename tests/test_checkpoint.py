"""Resumable fits (``checkpoint=``): an interrupted fit, resumed, ends where an
uninterrupted one does -- the same weights, bit for bit, on the same machine."""

import copy
import json
import os
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch

from fer_sklearn import CheckpointError, FERCNNClassifier, FERDNNClassifier
from fer_sklearn._checkpoint import CHECKPOINT_FILE, read_checkpoint
from fer_sklearn._weighting import WeightedNeuralNetClassifier
from fer_sklearn.callbacks import WeightEMA
from fer_sklearn.datasets import make_faces

# 240 faces, 20% held out: 6 training batches of 32 per epoch.
STEPS_PER_EPOCH = 6
SMALL_CNN = dict(n_filters=4, n_blocks=2, batch_size=32, validation_fraction=0.2,
                 random_state=0)
RECIPES = {
    # The defaults' augmentation (flip, shift, erase) and one-cycle schedule, stepped per batch.
    "cnn-defaults": (FERCNNClassifier, dict(SMALL_CNN, max_epochs=4)),
    # Epoch mirroring, SGD, a plateau schedule, mixup and an early stop that ends the fit.
    "cnn-early-stop": (FERCNNClassifier, dict(
        SMALL_CNN, max_epochs=8, augment="study", optimizer="sgd", lr=0.05,
        lr_schedule="plateau", mixup=0.2, early_stopping=True, n_iter_no_change=2)),
    # A moving average of the weights, kept in the checkpoint and swapped in at the end.
    "cnn-ema": (FERCNNClassifier, dict(SMALL_CNN, max_epochs=3,
                                       callbacks=[WeightEMA(decay=0.9)])),
    # A DNN with a cosine schedule, rotations and zooms, and class weights.
    "dnn-cosine": (FERDNNClassifier, dict(
        hidden_layer_sizes=(32,), max_epochs=4, batch_size=32, validation_fraction=0.2,
        lr_schedule="cosine", augment="flip_affine", class_weight="balanced", random_state=0)),
}


@pytest.fixture(scope="module")
def data():
    return make_faces(240, random_state=0, return_X_y=True)


def _same_weights(a, b):
    state_a, state_b = a.module_.state_dict(), b.module_.state_dict()
    assert list(state_a) == list(state_b)
    return all(torch.equal(state_a[name], state_b[name]) for name in state_a)


def _same_history(a, b):
    columns = [c for c in a.history_.columns if c != "dur"]  # wall time differs
    return a.history_[columns].equals(b.history_[columns])


def _interrupt_at(monkeypatch, step, exception=KeyboardInterrupt):
    """Make the ``step``-th training step (1-based) raise ``exception``."""
    original = WeightedNeuralNetClassifier.train_step
    count = {"steps": 0}

    def train_step(self, batch, **fit_params):
        count["steps"] += 1
        if count["steps"] == step:
            raise exception
        return original(self, batch, **fit_params)

    monkeypatch.setattr(WeightedNeuralNetClassifier, "train_step", train_step)
    return lambda: monkeypatch.setattr(WeightedNeuralNetClassifier, "train_step", original)


def _fit_until_interrupted(monkeypatch, model, X, y, step=STEPS_PER_EPOCH + 1, match=None):
    """``model.fit`` with Ctrl-C at training step ``step``: it must raise; steps run normally after."""
    undo = _interrupt_at(monkeypatch, step)
    try:
        with pytest.raises(KeyboardInterrupt, match=match):
            model.fit(X, y)
    finally:
        undo()


@pytest.mark.parametrize("recipe", RECIPES)
def test_a_fit_interrupted_by_ctrl_c_resumes_to_the_uninterrupted_weights(
        recipe, data, tmp_path, monkeypatch):
    X, y = data
    cls, params = RECIPES[recipe]
    reference = cls(**params).fit(X, y)

    interrupted = cls(checkpoint=tmp_path, **params)
    _fit_until_interrupted(monkeypatch, interrupted, X, y, STEPS_PER_EPOCH + 3,  # 2nd epoch
                           match="after 1 of .* call fit again")
    assert not hasattr(interrupted, "classes_")  # left as it was: unfitted
    assert read_checkpoint(tmp_path)["epochs"] == 1

    resumed = cls(checkpoint=tmp_path, **params).fit(X, y)
    assert resumed.n_iter_ == reference.n_iter_ and not resumed.interrupted_
    assert _same_history(resumed, reference)
    assert _same_weights(resumed, reference)
    np.testing.assert_array_equal(resumed.predict_proba(X), reference.predict_proba(X))
    if recipe == "cnn-early-stop":  # the early stop itself was part of what resumed
        assert reference.n_iter_ < params["max_epochs"]
    assert os.listdir(tmp_path) == [CHECKPOINT_FILE]


def test_a_killed_fit_resumes_to_the_uninterrupted_weights(data, tmp_path):
    """SIGKILL in the middle of the third epoch: no cleanup runs at all."""
    X, y = data
    params = dict(SMALL_CNN, max_epochs=4, precision="float32")
    child = textwrap.dedent(f"""
        import json, os, signal, sys
        import torch
        torch.set_num_threads({torch.get_num_threads()})
        from fer_sklearn import FERCNNClassifier
        from fer_sklearn._weighting import WeightedNeuralNetClassifier
        from fer_sklearn.datasets import make_faces

        original, steps = WeightedNeuralNetClassifier.train_step, []
        def train_step(self, batch, **fit_params):
            steps.append(1)
            if len(steps) == {2 * STEPS_PER_EPOCH + 3}:
                os.kill(os.getpid(), signal.SIGKILL)
            return original(self, batch, **fit_params)
        WeightedNeuralNetClassifier.train_step = train_step
        X, y = make_faces(240, random_state=0, return_X_y=True)
        FERCNNClassifier(checkpoint=sys.argv[1], **json.loads(sys.argv[2])).fit(X, y)
    """)
    run = subprocess.run([sys.executable, "-c", child, str(tmp_path), json.dumps(params)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert read_checkpoint(tmp_path)["epochs"] == 2

    resumed = FERCNNClassifier(checkpoint=tmp_path, **params).fit(X, y)
    reference = FERCNNClassifier(**params).fit(X, y)
    assert resumed.n_iter_ == 4 and len(resumed.history_) == 4
    assert _same_history(resumed, reference)
    assert _same_weights(resumed, reference)


def test_a_finished_checkpoint_gives_back_its_model_without_training(data, tmp_path,
                                                                    monkeypatch):
    X, y = data
    params = dict(SMALL_CNN, max_epochs=2)
    first = FERCNNClassifier(checkpoint=tmp_path, **params).fit(X, y)
    assert read_checkpoint(tmp_path)["finished"]
    _interrupt_at(monkeypatch, 1, AssertionError("a finished fit trained again"))
    again = FERCNNClassifier(checkpoint=tmp_path, **params).fit(X, y)
    assert again.n_iter_ == 2 and _same_weights(again, first)
    np.testing.assert_array_equal(again.predict(X), first.predict(X))


def test_an_interrupted_write_leaves_the_previous_checkpoint(data, tmp_path, monkeypatch):
    """An interrupt while the third epoch's checkpoint is written: the second's stays."""
    import fer_sklearn._checkpoint as checkpoint

    X, y = data
    params = dict(SMALL_CNN, max_epochs=4)
    original, calls = torch.save, []

    def torn_save(state, file):
        calls.append(1)
        if len(calls) == 3:
            file.write(b"PK\x03\x04 half a zip")
            raise KeyboardInterrupt
        original(state, file)

    monkeypatch.setattr(checkpoint.torch, "save", torn_save)
    with pytest.raises(KeyboardInterrupt):
        FERCNNClassifier(checkpoint=tmp_path, **params).fit(X, y)
    assert os.listdir(tmp_path) == [CHECKPOINT_FILE]  # no temporary file left
    assert read_checkpoint(tmp_path)["epochs"] == 2
    monkeypatch.setattr(checkpoint.torch, "save", original)
    resumed = FERCNNClassifier(checkpoint=tmp_path, **params).fit(X, y)
    assert _same_weights(resumed, FERCNNClassifier(**params).fit(X, y))


@pytest.mark.parametrize("change, message", [
    (dict(lr=0.01), r"lr=0.003 \(this fit: 0.01\)"),
    (dict(augment="flip"), r"augment='flip_shift_erase' \(this fit: 'flip'\)"),
    (dict(random_state=1), r"random_state=0 \(this fit: 1\).*seed"),
    (dict(n_samples=200), r"the training data: 240 samples .* \(this fit: 200 samples"),
])
def test_a_checkpoint_of_another_fit_is_refused_naming_what_differs(
        change, message, data, tmp_path, monkeypatch):
    X, y = data
    params = dict(SMALL_CNN, max_epochs=4)
    _fit_until_interrupted(monkeypatch, FERCNNClassifier(checkpoint=tmp_path, **params), X, y)
    before = (tmp_path / CHECKPOINT_FILE).read_bytes()
    n = change.pop("n_samples", len(y))
    model = FERCNNClassifier(checkpoint=tmp_path, **{**params, **change})
    with pytest.raises(CheckpointError, match=message):
        model.fit(X[:n], y[:n])
    assert not hasattr(model, "classes_")  # a refused fit leaves the estimator unfitted
    assert (tmp_path / CHECKPOINT_FILE).read_bytes() == before


def test_verbose_and_device_may_change_on_resumption(data, tmp_path, monkeypatch, capsys):
    X, y = data
    params = dict(SMALL_CNN, max_epochs=3)
    _fit_until_interrupted(monkeypatch, FERCNNClassifier(checkpoint=tmp_path, **params), X, y)
    resumed = FERCNNClassifier(checkpoint=tmp_path, verbose=1, device="cpu", **params).fit(X, y)
    table = capsys.readouterr().out
    assert resumed.n_iter_ == 3 and "valid_acc" in table
    assert _same_weights(resumed, FERCNNClassifier(**params).fit(X, y))


def test_random_state_none_resumes_with_the_seed_its_checkpoint_drew(data, tmp_path,
                                                                     monkeypatch):
    X, y = data
    params = dict(SMALL_CNN, max_epochs=3, random_state=None)
    _fit_until_interrupted(monkeypatch, FERCNNClassifier(checkpoint=tmp_path, **params), X, y,
                           2 * STEPS_PER_EPOCH + 1)
    kept = [epoch["train_loss"] for epoch in read_checkpoint(tmp_path)["history"]]
    resumed = FERCNNClassifier(checkpoint=tmp_path, **params).fit(X, y)
    assert resumed.n_iter_ == 3
    # The first two epochs are the checkpoint's, not those of a fresh seed.
    assert resumed.history_["train_loss"][:2].tolist() == kept


@pytest.mark.parametrize("damage", ["truncated", "other file", "folder is a file"])
def test_a_damaged_checkpoint_is_refused_and_left_as_it_is(damage, data, tmp_path):
    X, y = data
    params = dict(SMALL_CNN, max_epochs=1)
    folder = tmp_path / "run"
    FERCNNClassifier(checkpoint=folder, **params).fit(X, y)
    path = folder / CHECKPOINT_FILE
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:5000])
        message = "damaged or not written by fer_sklearn"
    elif damage == "other file":
        torch.save({"weights": torch.zeros(3)}, path)
        message = "its contents are not those of a checkpoint"
    else:
        folder = tmp_path / "file"
        folder.write_text("mine")
        path, message = folder, "must name a folder"
    before = path.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CheckpointError, match=message):
            FERCNNClassifier(checkpoint=folder, **params).fit(X, y)
    assert path.read_bytes() == before


def test_an_interrupted_warm_start_resumes_from_the_same_starting_weights(data, tmp_path,
                                                                         monkeypatch):
    X, y = data
    params = dict(SMALL_CNN, max_epochs=2, warm_start=True)
    model = FERCNNClassifier(**params).fit(X, y)
    reference = copy.deepcopy(model).fit(X, y)  # the second warm fit, never interrupted
    _fit_until_interrupted(monkeypatch, model.set_params(checkpoint=tmp_path), X, y)
    assert len(model.history_) == 2  # as before the interrupted call
    model.fit(X, y)
    assert len(model.history_) == 4 and _same_weights(model, reference)
    # Other starting weights: another fit.
    with pytest.raises(CheckpointError, match="the weights training starts from"):
        FERCNNClassifier(**params).set_params(max_epochs=2, random_state=1).fit(X, y).set_params(
            random_state=0, checkpoint=tmp_path).fit(X, y)


def test_fingerprints_are_the_same_in_every_process_and_skip_where_a_fit_runs():
    """Functions, callbacks and a matched CNN are described without memory addresses,
    and without the verbosity, device or folder of a nested estimator."""
    from skorch.callbacks import EpochScoring, ProgressBar

    from fer_sklearn._checkpoint import fingerprint

    def described(**params):
        return fingerprint(FERDNNClassifier(**params), "0" * 64, 10, 0, None)

    cnn = FERCNNClassifier(n_filters=4)
    scoring = [EpochScoring("f1_macro", name="valid_f1"), ProgressBar()]
    first = described(match_params=cnn, callbacks=scoring)
    assert "0x" not in str(first) and "to_numpy" in str(first)
    loud = FERCNNClassifier(n_filters=4, verbose=1, device="cpu", checkpoint="elsewhere")
    assert described(match_params=loud, callbacks=scoring) == first
    assert described(match_params=FERCNNClassifier(n_filters=8), callbacks=scoring) != first
    child = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        from skorch.callbacks import EpochScoring, ProgressBar
        from fer_sklearn import FERCNNClassifier, FERDNNClassifier
        from fer_sklearn._checkpoint import fingerprint
        print(fingerprint(FERDNNClassifier(
            match_params=FERCNNClassifier(n_filters=4),
            callbacks=[EpochScoring("f1_macro", name="valid_f1"), ProgressBar()]),
            "0" * 64, 10, 0, None))
    """)], capture_output=True, text=True, timeout=120)
    assert child.stdout.strip() == str(first), child.stderr


def test_a_progress_bar_callback_is_no_obstacle(data, tmp_path, monkeypatch):
    """Callbacks whose state cannot be pickled (a progress bar's stream) only show."""
    from skorch.callbacks import ProgressBar

    X, y = data
    params = dict(SMALL_CNN, max_epochs=2, callbacks=[ProgressBar()])
    _fit_until_interrupted(monkeypatch, FERCNNClassifier(checkpoint=tmp_path, **params), X, y)
    (tmp_path / f".{CHECKPOINT_FILE}.0123456789ab.tmp.pt").write_bytes(b"left by a kill")
    resumed = FERCNNClassifier(checkpoint=tmp_path, **params).fit(X, y)
    assert _same_weights(resumed, FERCNNClassifier(**params).fit(X, y))
    assert os.listdir(tmp_path) == [CHECKPOINT_FILE]  # the killed write's leftover removed


def test_the_time_left_line_of_a_resumed_fit_counts_the_kept_epochs(data, tmp_path,
                                                                    monkeypatch, capsys):
    import fer_sklearn._estimators as estimators

    X, y = data
    params = dict(SMALL_CNN, max_epochs=3)
    _fit_until_interrupted(monkeypatch, FERCNNClassifier(checkpoint=tmp_path, **params), X, y)
    capsys.readouterr()
    monkeypatch.setattr(estimators, "shows_time_left", lambda verbose: True)  # a terminal
    FERCNNClassifier(checkpoint=tmp_path, verbose=1, **params).fit(X, y)
    drawn = capsys.readouterr().err
    assert "FERCNNClassifier: 1/3 epochs" in drawn and "0/3 epochs" not in drawn
    assert "FERCNNClassifier: 2/3 epochs, " in drawn and " left" in drawn
