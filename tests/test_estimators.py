"""FERCNNClassifier and FERDNNClassifier inside the scikit-learn ecosystem."""

import copy
import io
import pickle
import re
import sys
import tracemalloc
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from skorch.callbacks import Callback, EarlyStopping
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import VotingClassifier
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from fer_sklearn import (
    EMOTIONS, FERCNNClassifier, FERDNNClassifier, FitInterruptedWarning, PixelRangeWarning, save,
)
from fer_sklearn import load as load_model
from fer_sklearn._test_time import prediction_views
from fer_sklearn.datasets import make_faces


def small_cnn(**params):
    base = dict(n_filters=8, n_blocks=3, convs_per_block=1, max_epochs=4, batch_size=32,
                lr=3e-3, augment="none", lr_schedule="none", random_state=0)
    return FERCNNClassifier(**{**base, **params})


def small_dnn(**params):
    base = dict(hidden_layer_sizes=(64,), max_epochs=4, batch_size=32, augment="none",
                lr_schedule="none", random_state=0)
    return FERDNNClassifier(**{**base, **params})


@pytest.fixture(scope="module")
def fitted_cnn(faces):
    X, y = faces
    return small_cnn(max_epochs=8).fit(X, y)


def test_cnn_learns_synthetic_faces(fitted_cnn, faces_test):
    X_test, y_test = faces_test
    assert fitted_cnn.score(X_test, y_test) > 2 / 7  # chance is 1/7
    history = fitted_cnn.history_
    assert list(history["epoch"]) == list(range(1, 9))
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert {"train_acc", "lr", "dur"} <= set(history.columns)


def test_default_architecture_has_about_a_million_parameters():
    assert 0.9e6 < FERCNNClassifier().count_params() < 1.3e6
    assert FERCNNClassifier().count_params() == FERCNNClassifier(
        n_filters=32).count_params(2304, 7)


def test_fitted_attributes(fitted_cnn, faces):
    X, y = faces
    assert fitted_cnn.n_features_in_ == 2304
    assert fitted_cnn.image_shape_ == (48, 48)
    np.testing.assert_array_equal(fitted_cnn.classes_, np.arange(7))
    assert fitted_cnn.n_params_ == sum(p.numel() for p in fitted_cnn.module_.parameters())
    assert not fitted_cnn.module_.training
    assert fitted_cnn.pixel_mean_ == pytest.approx(X.mean(), rel=1e-4)
    assert fitted_cnn.pixel_range_ == (0.0, 255.0)
    assert fitted_cnn.n_iter_ == 8 and fitted_cnn.interrupted_ is False


def test_to_tensor_is_the_documented_transform(fitted_cnn, faces):
    X, _ = faces
    tensor = fitted_cnn.to_tensor(X[:5])
    assert tensor.shape == (5, 1, 48, 48) and tensor.dtype == torch.float32
    expected = (X[:5].reshape(5, 1, 48, 48) - fitted_cnn.pixel_mean_) / fitted_cnn.pixel_std_
    np.testing.assert_allclose(tensor.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_image_shaped_dataframe_and_list_inputs_agree(fitted_cnn, faces):
    X, _ = faces
    X = X[:20]
    flat = fitted_cnn.predict_proba(X)
    np.testing.assert_allclose(fitted_cnn.predict_proba(X.reshape(-1, 48, 48)), flat)
    np.testing.assert_allclose(fitted_cnn.predict_proba(X.reshape(-1, 1, 48, 48)), flat)
    np.testing.assert_allclose(fitted_cnn.predict_proba(X.tolist()), flat)
    np.testing.assert_allclose(fitted_cnn.predict_proba(pd.DataFrame(X)), flat)


def test_scaling_is_learned_so_0_1_and_0_255_inputs_give_the_same_model(faces):
    X, y = faces
    # float32: bfloat16 rounding would magnify the ~1e-7 gap between the two scalings.
    on_255 = small_cnn(max_epochs=2, precision="float32").fit(X, y)
    on_1 = small_cnn(max_epochs=2, precision="float32").fit(X / 255.0, y)
    np.testing.assert_allclose(on_1.predict_proba(X[:30] / 255.0),
                               on_255.predict_proba(X[:30]), atol=1e-4)


def test_image_input_sets_image_shape_and_rejects_other_shapes(faces):
    X, y = faces
    clf = small_cnn(max_epochs=1).fit(X.reshape(-1, 48, 48), y)
    assert clf.image_shape_ == (48, 48) and clf.n_features_in_ == 2304
    with pytest.raises(ValueError, match=r"images of shape \(24, 96\)"):
        clf.predict(X.reshape(-1, 24, 96))
    with pytest.raises(ValueError, match=r"\(n_samples, 1, height, width\)"):
        clf.predict(np.repeat(X.reshape(-1, 1, 48, 48), 3, axis=1))


def test_non_square_input_is_a_one_row_image_and_is_not_augmented():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 10))
    y = (X[:, 0] > 0).astype(int)
    clf = small_cnn(n_blocks=2, augment="flip", test_time_flip=True, max_epochs=10).fit(X, y)
    assert clf.image_shape_ == (1, 10)
    assert "augment_flip" not in dict(clf.net_.callbacks)
    assert clf.score(X, y) > 0.8


def test_string_labels(faces):
    X, y = faces
    labels = np.array(EMOTIONS)[y]
    clf = small_dnn().fit(X, labels)
    np.testing.assert_array_equal(clf.classes_, np.sort(np.unique(labels)))
    assert set(clf.predict(X)) <= set(EMOTIONS)


def test_same_random_state_gives_identical_probabilities(faces):
    X, y = faces
    params = dict(max_epochs=2, augment="flip_shift", lr_schedule="onecycle",
                  validation_fraction=0.2)
    first = small_cnn(**params).fit(X, y).predict_proba(X[:40])
    second = small_cnn(**params).fit(X, y).predict_proba(X[:40])
    other_seed = small_cnn(random_state=1, **params).fit(X, y).predict_proba(X[:40])
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other_seed)


def test_fit_leaves_global_torch_rng_alone(faces):
    X, y = faces
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    small_dnn(max_epochs=1).fit(X, y)
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_clone_and_nested_params():
    clf = small_cnn(lr=0.05)
    pipe = make_pipeline(FunctionTransformer(), clf)
    pipe.set_params(fercnnclassifier__lr=0.01, fercnnclassifier__n_filters=4)
    assert pipe.get_params()["fercnnclassifier__lr"] == 0.01
    cloned = clone(pipe)
    assert cloned.steps[1][1] is not clf
    assert cloned.steps[1][1].get_params() == clf.get_params()


def test_grid_search_over_lr_and_architecture_in_parallel(faces):
    X, y = faces
    search = GridSearchCV(small_cnn(max_epochs=2), {"lr": [1e-3, 3e-3], "n_filters": [4, 8]},
                          cv=2, n_jobs=2)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["lr"] in (1e-3, 3e-3)
    assert search.best_estimator_.n_filters == search.best_params_["n_filters"]


def test_cross_val_score_and_pipeline_with_preprocessing(faces):
    X, y = faces
    scores = cross_val_score(small_dnn(max_epochs=2), X, y, cv=3)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    pipe = make_pipeline(FunctionTransformer(lambda A: 255.0 - A), small_cnn(max_epochs=1))
    assert pipe.fit(X, y).predict(X[:5]).shape == (5,)


def test_confusion_matrix_display(fitted_cnn, faces_test):
    X, y = faces_test
    display = ConfusionMatrixDisplay.from_estimator(fitted_cnn, X, y, normalize="true")
    assert display.confusion_matrix.shape == (7, 7)
    np.testing.assert_allclose(display.confusion_matrix.sum(axis=1), 1.0)


def test_calibration_and_soft_voting(faces, faces_test):
    X, y = faces
    X_test, y_test = faces_test
    calibrated = CalibratedClassifierCV(small_cnn(max_epochs=2), cv=2).fit(X, y)
    np.testing.assert_allclose(calibrated.predict_proba(X_test).sum(axis=1), 1.0)
    voting = VotingClassifier([("cnn", small_cnn(max_epochs=2)), ("dnn", small_dnn())],
                              voting="soft").fit(X, y)
    cnn, dnn = voting.estimators_
    expected = (cnn.predict_proba(X_test) + dnn.predict_proba(X_test)) / 2
    np.testing.assert_allclose(voting.predict_proba(X_test), expected)


@pytest.mark.parametrize("dump, load", [
    (pickle.dumps, pickle.loads),
    (lambda est: joblib.dump(est, "model.joblib") and "model.joblib", joblib.load),
])
def test_pickle_and_joblib_round_trip(fitted_cnn, faces_test, dump, load, tmp_path,
                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    X, _ = faces_test
    restored = load(dump(fitted_cnn))
    np.testing.assert_array_equal(restored.predict_proba(X), fitted_cnn.predict_proba(X))
    # One network, not two copies: the module skorch was given is the one it trained.
    assert restored.net_.module is restored.net_.module_


def test_a_pickled_model_holds_its_weights_once(faces, tmp_path):
    # skorch pickles module_ apart from the other attributes; the instance it was given as
    # ``module`` (the same network) must not be written a second time.
    X, y = faces
    fitted = small_cnn(n_filters=16, convs_per_block=2, max_epochs=1).fit(X, y)
    save(fitted, tmp_path / "model.skops")
    loaded = load_model(tmp_path / "model.skops")
    weights = sum(t.numel() * t.element_size() for t in loaded.module_.state_dict().values())
    assert weights > 200_000  # large beside what the rest of the estimator pickles to
    assert len(pickle.dumps(loaded)) < 1.5 * weights


@pytest.mark.parametrize("target", [50_000, 300_000, 1_174_439])
def test_match_params_within_two_percent(target, faces):
    X, y = faces
    dnn = small_dnn(hidden_layer_sizes=(1, 1), match_params=target, max_epochs=1).fit(X, y)
    assert abs(dnn.n_params_ - target) / target < 0.02
    assert len(dnn.hidden_layer_sizes_) == 2


def test_match_params_takes_fitted_and_unfitted_estimators(faces):
    X, y = faces
    fitted = small_cnn(n_filters=16, convs_per_block=2, max_epochs=1).fit(X, y)
    for reference, target in [(fitted, fitted.n_params_),
                              (FERCNNClassifier(), FERCNNClassifier().count_params())]:
        dnn = small_dnn(match_params=reference, max_epochs=1).fit(X, y)
        assert abs(dnn.n_params_ - target) / target < 0.02


@pytest.mark.parametrize("augment, key", [("study", "mirror"), ("flip", "n_flipped"),
                                          ("flip_shift", "mean_abs_shift"),
                                          ("flip_shift_erase", "n_erased")])
def test_augment_options_run_their_callback(augment, key, faces):
    X, y = faces
    clf = small_dnn(augment=augment, max_epochs=6, random_state=2).fit(X, y)
    history = clf.net_.history
    if augment == "study":
        assert set(history[:, "mirror"]) <= {"none", "left-right", "up-down"}
        assert set(history[:, "mirror"]) - {"none"}
    else:
        values = [b[key] for epoch in history for b in epoch["batches"]]
        assert len(values) == 6 * int(np.ceil(len(X) / 32)) and all(v > 0 for v in values)
    if augment == "flip_shift":
        assert 0 < np.mean(values) <= 4  # shifts of at most 4 px on 48x48
    assert "n_flipped" not in small_dnn(augment="none", max_epochs=1).fit(X, y).net_.history[-1]["batches"][0]


def test_lr_schedules_follow_their_documented_shape(faces):
    X, y = faces
    lrs = {schedule: small_dnn(lr_schedule=schedule, lr=1e-3, max_epochs=12).fit(X, y)
           .history_["lr"].to_numpy()
           for schedule in ["none", "study", "cosine", "onecycle"]}
    np.testing.assert_allclose(lrs["none"], 1e-3)
    np.testing.assert_allclose(lrs["study"], [0.01] * 10 + [1e-3] * 2)
    assert lrs["cosine"][0] == pytest.approx(1e-3) and np.all(np.diff(lrs["cosine"]) < 0)
    peak = np.argmax(lrs["onecycle"])
    assert 0 < peak < 11 and lrs["onecycle"].max() <= 1e-3 + 1e-12
    assert np.all(np.diff(lrs["onecycle"][: peak + 1]) > 0)
    assert np.all(np.diff(lrs["onecycle"][peak:]) < 0)


def test_plateau_schedule_lowers_a_stuck_learning_rate(faces):
    X, y = faces
    # Full-batch SGD without dropout at lr=1e-7: the training loss is flat,
    # so the plateau schedule must halve the rate.
    clf = small_dnn(lr_schedule="plateau", optimizer="sgd", lr=1e-7, max_epochs=8,
                    dropout=0.0, batch_size=len(X)).fit(X, y)
    lrs = clf.history_["lr"].to_numpy()
    assert lrs[0] == 1e-7 and lrs[-1] < 1e-7
    np.testing.assert_allclose(np.unique(lrs), 1e-7 / 2.0 ** np.arange(len(np.unique(lrs)))[::-1])
    assert dict(clf.net_.callbacks)["lr_schedule"].monitor == "train_loss"
    with_valid = small_dnn(lr_schedule="plateau", validation_fraction=0.2, max_epochs=1)
    assert dict(with_valid.fit(X, y).net_.callbacks)["lr_schedule"].monitor == "valid_loss"


def test_validation_and_early_stopping(faces):
    X, y = faces
    clf = small_dnn(early_stopping=True, n_iter_no_change=2, lr=1e-9, max_epochs=20).fit(X, y)
    # A learning rate of 1e-9 cannot improve the validation loss: training
    # stops after the first epoch plus the patience.
    assert len(clf.history_) == 3
    assert {"valid_loss", "valid_acc"} <= set(clf.history_.columns)


def test_class_weight_balanced_and_dict(faces):
    X, y = faces
    keep = (y != 1) | (np.arange(len(y)) % 4 == 0)  # make "disgust" rare
    X, y = X[keep], y[keep]
    clf = small_dnn(class_weight="balanced", max_epochs=1).fit(X, y)
    weight = clf.net_.criterion_.weight.numpy()
    counts = np.bincount(y)
    np.testing.assert_allclose(weight, len(y) / (7 * counts), rtol=1e-6)
    clf = small_dnn(class_weight={1: 5.0}, max_epochs=1).fit(X, y)
    np.testing.assert_allclose(clf.net_.criterion_.weight.numpy(), [1, 5, 1, 1, 1, 1, 1])
    with pytest.raises(ValueError, match="class_weight has labels"):
        small_dnn(class_weight={"happy": 2.0}, max_epochs=1).fit(X, y)


def test_warm_start_continues_training(faces):
    X, y = faces
    clf = small_dnn(warm_start=True, max_epochs=2).fit(X, y)
    weights = clf.module_.layers.fc1.weight.detach().clone()
    clf.fit(X, y)
    assert list(clf.history_["epoch"]) == [1, 2, 3, 4]
    assert not torch.equal(weights, clf.module_.layers.fc1.weight)
    with pytest.raises(ValueError, match="not seen in the first fit"):
        clf.fit(X, np.where(y == 0, 99, y))
    cold = small_dnn(max_epochs=2).fit(X, y).fit(X, y)
    assert len(cold.history_) == 2


# ------------------------------------------------------------ interrupts
class _RaiseAt(Callback):
    """Raise ``error`` at the end of epoch ``epoch`` (or at its first batch, ``in_batch``)."""

    def __init__(self, error, epoch, in_batch=False):
        self.error = error
        self.epoch = epoch
        self.in_batch = in_batch

    def on_batch_end(self, net, **kwargs):
        if self.in_batch and len(net.history) == self.epoch:
            raise self.error

    def on_epoch_end(self, net, **kwargs):
        if not self.in_batch and len(net.history) == self.epoch:
            raise self.error


class _Abort(BaseException):
    """Like the CLI's signal exception: not a KeyboardInterrupt, so skorch lets it through."""


@pytest.fixture(scope="module")
def tiny_faces():
    return make_faces(140, random_state=0, return_X_y=True)


def tiny_cnn(**params):
    return small_cnn(**{"n_filters": 4, "n_blocks": 2, "max_epochs": 5, **params})


def test_ctrl_c_in_fit_warns_and_records_the_epochs_done(tiny_faces):
    X, y = tiny_faces
    clf = tiny_cnn(callbacks=[_RaiseAt(KeyboardInterrupt, epoch=2)])
    with pytest.warns(FitInterruptedWarning, match="interrupted .* after 2 of 5 epochs"):
        clf.fit(X, y)
    assert clf.n_iter_ == 2 and clf.interrupted_ is True
    assert list(clf.history_["epoch"]) == [1, 2]
    assert clf.predict(X[:3]).shape == (3,)  # skorch's behaviour kept: a usable model


def test_ctrl_c_within_an_epoch_counts_only_completed_epochs(tiny_faces):
    X, y = tiny_faces
    clf = tiny_cnn(callbacks=[_RaiseAt(KeyboardInterrupt, epoch=3, in_batch=True)])
    with pytest.warns(FitInterruptedWarning, match="after 2 of 5 epochs"):
        clf.fit(X, y)
    assert clf.n_iter_ == 2 and len(clf.history_) == 2
    assert not clf.history_["train_loss"].isna().any()


def test_early_stopping_is_not_an_interrupt(tiny_faces):
    X, y = tiny_faces
    # An improvement of 10 in the loss is never reached: EarlyStopping stops
    # at epoch 2, by raising KeyboardInterrupt inside skorch.
    stop = EarlyStopping(monitor="train_loss", patience=1, threshold=10, threshold_mode="abs")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitInterruptedWarning)
        clf = tiny_cnn(callbacks=[stop]).fit(X, y)
    assert clf.n_iter_ == 2 and clf.interrupted_ is False
    assert len(clf.history_) == 2


def test_other_base_exceptions_leave_an_unfitted_estimator_unfitted(tiny_faces):
    X, y = tiny_faces
    clf = tiny_cnn(callbacks=[_RaiseAt(_Abort(), epoch=2)])
    params = clf.get_params(deep=False)
    with pytest.raises(_Abort):
        clf.fit(X, y)
    assert set(vars(clf)) == set(params)  # no classes_, pixel_mean_, image_shape_ ...
    with pytest.raises(NotFittedError):
        clf.predict(X[:3])


def test_an_aborted_warm_start_keeps_the_fitted_network(tiny_faces):
    X, y = tiny_faces
    clf = tiny_cnn(warm_start=True, max_epochs=2).fit(X, y)
    before = clf.predict_proba(X[:20])
    history, net = clf.history_, clf.net_
    clf.set_params(callbacks=[_RaiseAt(_Abort(), epoch=1, in_batch=True)])
    with pytest.raises(_Abort):
        clf.fit(X, y)
    assert clf.net_ is net and clf.history_ is history and clf.n_iter_ == 2
    np.testing.assert_array_equal(clf.predict_proba(X[:20]), before)


# -------------------------------------------------------- test-time views
def test_test_time_flip_averages_image_and_mirror(fitted_cnn, faces):
    X, _ = faces
    X = X[:10]
    plain = clone(fitted_cnn)
    plain.__dict__.update({k: v for k, v in fitted_cnn.__dict__.items() if k.endswith("_")})
    plain.set_params(test_time_flip=False, test_time_shift=0)
    mirrored = X.reshape(-1, 48, 48)[:, :, ::-1].reshape(10, -1)
    expected = (plain.predict_proba(X) + plain.predict_proba(mirrored)) / 2
    flipped = copy.copy(fitted_cnn).set_params(test_time_flip=True, test_time_shift=0)
    np.testing.assert_allclose(flipped.predict_proba(X), expected, rtol=1e-6)


def _moved(images, dy, dx, fill):
    """Numpy reference: images moved dy rows down and dx columns right, gaps filled."""
    out = np.full_like(images, fill)
    h, w = images.shape[1:]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        images[:, max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


@pytest.mark.parametrize("shift", [1, 3])
def test_test_time_shift_averages_shifted_copies_and_their_mirrors(fitted_cnn, faces, shift):
    X = faces[0][:10].astype(np.float64)
    # copy.copy: prediction-time switches on the shared fitted net, no refit.
    plain = copy.copy(fitted_cnn).set_params(test_time_flip=False, test_time_shift=0)
    images = X.reshape(-1, 48, 48)
    # Shifted-in pixels are the mean intensity (0 after standardisation).
    views = [_moved(images, dy, dx, plain.pixel_mean_)
             for dy, dx in [(0, 0), (shift, 0), (-shift, 0), (0, shift), (0, -shift)]]
    views += [view[:, :, ::-1] for view in views]
    expected = np.mean([plain.predict_proba(view.reshape(10, -1)) for view in views], axis=0)
    shifted = copy.copy(fitted_cnn).set_params(test_time_flip=True, test_time_shift=shift)
    np.testing.assert_allclose(shifted.predict_proba(X), expected, rtol=1e-5, atol=1e-7)
    # The views change the prediction: the average is not the plain one.
    assert np.abs(shifted.predict_proba(X) - plain.predict_proba(X)).max() > 1e-3


def test_predict_proba_in_batches_equals_the_whole_array_at_once(tiny_faces):
    X, y = tiny_faces
    clf = tiny_cnn(max_epochs=1, test_time_flip=True, test_time_shift=2,
                   precision="float32").fit(X, y)
    X = X[:50].astype(np.uint8)
    # The approach before batching: every view of the whole array, one at a time.
    whole = np.mean([clf.net_.predict_proba(view).astype(np.float64)
                     for view in prediction_views(clf.to_tensor(X), True, 2)], axis=0)
    for batch_size in (1, 7, 32, 1000):  # 7 and 32 do not divide 50
        batched = copy.copy(clf).set_params(batch_size=batch_size).predict_proba(X)
        np.testing.assert_allclose(batched, whole, rtol=0, atol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(X.astype(np.float64)), whole, atol=1e-6)


def test_probability_rows_sum_to_one_in_float64(tiny_faces):
    from sklearn.metrics import log_loss

    X, y = tiny_faces
    clf = tiny_cnn(max_epochs=1, precision="float32").fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=4 * np.finfo(float).eps)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log_loss warns when rows do not sum to 1
        assert np.isfinite(log_loss(y, proba, labels=clf.classes_))


def test_predict_proba_converts_one_batch_at_a_time(tiny_faces):
    X, y = tiny_faces
    # One view: the views are torch tensors, which tracemalloc does not see.
    clf = tiny_cnn(max_epochs=1, batch_size=16, test_time_flip=False, test_time_shift=0)
    clf.fit(X, y)
    X = np.tile(X.astype(np.uint8), (4, 1))  # 560 faces: 35 batches
    clf.predict_proba(X[:2])  # first-call allocations (skorch, torch) out of the measure
    tracemalloc.start()
    try:
        clf.predict_proba(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # numpy's allocations stay a few float32 batches (the batch, the standardising
    # temporaries), where converting all of X at once would take 35.
    assert peak < 8 * 16 * 2304 * 4


# ------------------------------------------------------------ pixel range
def test_input_on_another_pixel_scale_warns(fitted_cnn, faces):
    X, _ = faces
    with pytest.warns(PixelRangeWarning, match=r"values in \[0, 1\].*fitted on values in "
                                               r"\[0, 255\]"):
        fitted_cnn.predict(X[:20] / 255.0)
    with pytest.warns(PixelRangeWarning):
        fitted_cnn.to_tensor(X[:2] / 255.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Checked once over all batches, not once per batch.
        copy.copy(fitted_cnn).set_params(batch_size=3).predict_proba(X[:20] / 255.0)
        assert [w.category for w in caught] == [PixelRangeWarning]
        caught.clear()
        fitted_cnn.predict_proba(X[:20])
        fitted_cnn.predict_proba(X[:1] * 0.3)  # one dark face is still on the 0..255 scale
        fitted_cnn.to_tensor(X[:5].astype(np.uint8))
    assert caught == []


def test_0_255_input_to_a_model_fitted_on_0_1_warns(tiny_faces):
    X, y = tiny_faces
    clf = tiny_cnn(max_epochs=1).fit(X / 255.0, y)
    assert clf.pixel_range_ == (0.0, 1.0)
    with pytest.warns(PixelRangeWarning, match=r"fitted on values in \[0, 1\]"):
        clf.predict(X[:5])
    with warnings.catch_warnings():
        warnings.simplefilter("error", PixelRangeWarning)
        clf.predict(X[:5] / 255.0)


# ------------------------------------------------------- parameter checks
def test_dnn_predicts_from_one_view_by_default(faces):
    X, y = faces
    dnn = small_dnn(max_epochs=1).fit(X, y)
    assert dnn.test_time_shift == 0
    logits = dnn.module_(dnn.to_tensor(X[:5]))
    mirrored = dnn.module_(dnn.to_tensor(X[:5].reshape(-1, 48, 48)[:, :, ::-1].reshape(5, -1)))
    expected = (logits.softmax(1) + mirrored.softmax(1)).detach().numpy() / 2
    np.testing.assert_allclose(dnn.predict_proba(X[:5]), expected, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("make", [small_cnn, small_dnn])
def test_bad_input_is_refused_with_a_clear_message(make, faces):
    X, y = faces
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        make().fit(X_nan, y)
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        make().fit(X_inf, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        make().fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="Unknown label type"):
        make().fit(X, np.linspace(0, 1, len(y)))
    with pytest.raises(ValueError, match="0 sample"):
        make().fit(np.empty((0, 2304)), [])
    with pytest.raises(TypeError, match="[Ss]parse"):
        make().fit(sp.csr_matrix(X), y)
    clf = make(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="X has 100 features"):
        clf.predict(X[:, :100])


@pytest.mark.parametrize("param, value, message", [
    ("lr", -1.0, "'lr' parameter"),
    ("lr", True, "'lr' parameter"),
    ("max_epochs", 0, "'max_epochs' parameter"),
    ("max_epochs", True, "'max_epochs' parameter"),
    ("batch_size", True, "'batch_size' parameter"),
    ("n_iter_no_change", True, "'n_iter_no_change' parameter"),
    ("augment", "rotate", "'augment' parameter"),
    ("lr_schedule", "linear", "'lr_schedule' parameter"),
    ("optimizer", "lbfgs", "'optimizer' parameter"),
    ("dropout", 1.5, "'dropout' parameter"),
    ("n_filters", 0, "'n_filters' parameter"),
    ("n_filters", True, "'n_filters' parameter"),
    ("n_blocks", True, "'n_blocks' parameter"),
    ("convs_per_block", False, "'convs_per_block' parameter"),
    ("test_time_shift", -1, "'test_time_shift' parameter"),
    ("test_time_shift", True, r"'test_time_shift' parameter .* Got True"),
    ("test_time_shift", 48, r"'test_time_shift' parameter .* range \[0, 48\)\. Got 48"),
    ("test_time_flip", 1, "'test_time_flip' parameter"),
    ("device", "tpu", "device must be"),
])
def test_unknown_parameter_values_are_refused_at_fit(param, value, message, faces):
    X, y = faces
    clf = small_cnn(**{param: value})  # __init__ only stores
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y)
    assert not hasattr(clf, "classes_")


@pytest.mark.parametrize("value", [(64, True), (64, 0), (), [[64]], "64", 2.5])
def test_hidden_layer_sizes_must_be_positive_ints(value, faces):
    X, y = faces
    with pytest.raises(ValueError, match="'hidden_layer_sizes' parameter .* must be an int "
                                         r">= 1 or a non-empty sequence"):
        small_dnn(hidden_layer_sizes=value).fit(X, y)


def test_match_params_refuses_a_boolean(faces):
    X, y = faces
    with pytest.raises(ValueError, match="'match_params' parameter"):
        small_dnn(match_params=True).fit(X, y)


def test_hidden_layer_sizes_may_be_one_int(faces):
    X, y = faces
    dnn = small_dnn(hidden_layer_sizes=16, max_epochs=1).fit(X, y)
    assert dnn.hidden_layer_sizes_ == (16,)
    assert small_dnn(hidden_layer_sizes=16).count_params() == dnn.n_params_


@pytest.mark.parametrize("param, value", [
    ("test_time_shift", 48), ("test_time_shift", -1), ("test_time_shift", 1.5),
    ("test_time_shift", True), ("test_time_flip", "yes"), ("batch_size", 0),
    ("batch_size", True),
])
def test_parameters_set_after_fit_fail_at_predict_as_at_fit(fitted_cnn, faces, param, value):
    X, y = faces
    with pytest.raises(ValueError) as at_fit:
        clone(fitted_cnn).set_params(**{param: value}).fit(X, y)
    clf = copy.copy(fitted_cnn).set_params(**{param: value})
    with pytest.raises(ValueError) as at_predict:
        clf.predict(X[:2])
    assert str(at_predict.value) == str(at_fit.value)
    assert f"'{param}' parameter of FERCNNClassifier" in str(at_fit.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(faces):
    X, y = faces
    with pytest.raises(ValueError, match="no CUDA device"):
        small_cnn(device="cuda").fit(X, y)


@pytest.mark.parametrize("n_samples", [130, 300, 600])
def test_onecycle_with_few_batches_trains(patch_faces, n_samples):
    """2 to 5 batches in all once divided by zero inside torch's OneCycleLR."""
    X, y = patch_faces(n_samples)
    clf = FERCNNClassifier(n_filters=4, n_blocks=2, max_epochs=1, random_state=0).fit(X, y)
    assert clf.n_iter_ == 1
    # A constant rate: the first (and only) epoch runs at lr.
    assert clf.history_["lr"].tolist() == [clf.lr]


class _Terminal(io.TextIOWrapper):
    """A terminal in memory: it says it is one and, like a real one, cannot be pickled."""

    def __init__(self):
        super().__init__(io.BytesIO(), encoding="utf-8", write_through=True)

    def isatty(self):
        return True

    def screen(self):
        """The lines left on screen once carriage returns and line erasures are applied."""
        text = re.sub(r"\x1b\[[0-9;]*m", "", self.buffer.getvalue().decode())  # colours
        lines, column = [""], 0
        for token in re.findall(r"\x1b\[K|\r|\n|[^\r\n\x1b]+", text):
            if token == "\x1b[K":
                lines[-1] = lines[-1][:column]
            elif token == "\r":
                column = 0
            elif token == "\n":
                lines, column = lines + [""], 0
            else:
                lines[-1] = lines[-1][:column] + token + lines[-1][column + len(token):]
                column += len(token)
        return lines


def test_verbose_fit_shows_time_left_on_a_terminal_only(monkeypatch, capsys):
    X, y = make_faces(70, random_state=0, return_X_y=True)
    FERCNNClassifier(n_filters=2, n_blocks=1, max_epochs=2, verbose=1, random_state=0).fit(X, y)
    captured = capsys.readouterr()  # pipes: the table, and no progress line
    assert captured.out.count("train_loss") == 1 and captured.err == ""

    # On a terminal (stdout and stderr both on screen), with early stopping,
    # which prints its own message at the end of an epoch.
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setattr(sys, "stderr", terminal)
    clf = FERCNNClassifier(n_filters=2, n_blocks=1, max_epochs=20, verbose=1, lr=0.5,
                           early_stopping=True, validation_fraction=0.3, n_iter_no_change=1,
                           random_state=0).fit(X, y)
    drawn = terminal.buffer.getvalue().decode()
    assert "FERCNNClassifier: 0/20 epochs" in drawn
    assert re.search(r"FERCNNClassifier: 1/20 epochs, ([\d.]+ epochs/s|[\w ]+/epoch), "
                     r"[\w ]+ left", drawn)
    screen = terminal.screen()
    # Every line drawn was erased before anything else was written: the screen
    # holds the table and skorch's messages, each on a line of its own.
    assert not any("FERCNNClassifier:" in line for line in screen), screen
    assert any(line.startswith("Stopping since valid_loss has not improved") for line in screen)
    # Early stopping ends the fit before the table prints the last epoch's row.
    rows = [line.split()[0] for line in screen if re.match(r"\s+\d+\s", line)]
    assert rows == [str(epoch) for epoch in range(1, len(clf.history_))]
    pickle.loads(pickle.dumps(clf))  # the fitted estimator holds no reference to the terminal
