"""Tests of fer_sklearn.calibration: ECE values worked out by hand, bins, validation, the display,
and temperature scaling of a network with scikit-learn's CalibratedClassifierCV."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import sklearn  # noqa: E402
from numpy.testing import assert_allclose, assert_array_equal  # noqa: E402
from sklearn.calibration import CalibratedClassifierCV  # noqa: E402
from sklearn.frozen import FrozenEstimator  # noqa: E402
from sklearn.linear_model import RidgeClassifier  # noqa: E402
from sklearn.metrics import log_loss  # noqa: E402
from sklearn.utils.fixes import parse_version  # noqa: E402

from fer_sklearn import FERCNNClassifier  # noqa: E402
from fer_sklearn.calibration import ReliabilityDisplay, expected_calibration_error  # noqa: E402
from fer_sklearn.datasets import make_faces  # noqa: E402

ece = expected_calibration_error
HAS_TEMPERATURE = parse_version(sklearn.__version__).release >= (1, 8)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def small_cnn():
    """A small CNN that learns something in 3 s: about 35% accuracy on 7 emotions, under-confident.

    (With 4 filters, 2 blocks and 2 epochs a CNN stays at chance on these faces,
    and the fitted temperature runs into the optimiser's bound.)
    """
    X, y = make_faces(1400, random_state=0, return_X_y=True)
    clf = FERCNNClassifier(n_filters=8, n_blocks=3, convs_per_block=1, max_epochs=5,
                           augment="none", test_time_shift=0, random_state=0)
    return clf.fit(X, y)


@pytest.fixture(scope="module")
def calib_faces():
    return make_faces(420, random_state=1, return_X_y=True)


@pytest.fixture(scope="module")
def eval_faces():
    return make_faces(420, random_state=2, return_X_y=True)


def _binary(confidence, correct):
    """Two-class probabilities, top label class 0 at ``confidence``; y is 0 where ``correct``."""
    confidence = np.asarray(confidence, dtype=float)
    return np.where(correct, 0, 1), np.column_stack([confidence, 1 - confidence])


# -- values -------------------------------------------------------------------

def test_known_miscalibration_gives_the_exact_value():
    # 10 faces at 0.9 confidence, half right: gap 0.4; 30 at 0.7, all right: gap 0.3.
    y, proba = _binary([0.9] * 10 + [0.7] * 30, [True, False] * 5 + [True] * 30)
    assert ece(y, proba) == pytest.approx(10 / 40 * 0.4 + 30 / 40 * 0.3, abs=1e-12)
    # Calibrated within each bin: 0.8-confident and right 8 times in 10, 0.6 and 6 in 10.
    y, proba = _binary([0.8] * 10 + [0.6] * 10, [True] * 8 + [False] * 2 + [True] * 6 + [False] * 4)
    assert ece(y, proba) == pytest.approx(0, abs=1e-12)


def test_multiclass_top_label_and_classwise_by_hand():
    # Every row [0.5, 0.3, 0.2]; true classes 0, 0, 1, 2.
    proba, y = np.tile([0.5, 0.3, 0.2], (4, 1)), np.array([0, 0, 1, 2])
    assert ece(y, proba) == pytest.approx(0, abs=1e-12)  # 0.5 confident, half right
    # Per class: |0.5 - 2/4| = 0, |0.3 - 1/4| = 0.05, |0.2 - 1/4| = 0.05; mean 1/30.
    assert ece(y, proba, kind="classwise") == pytest.approx(0.1 / 3, abs=1e-12)


def test_sampled_calibration():
    """Right with probability equal to the confidence: ECE near 0; with its square: near 1/6."""
    rng = np.random.RandomState(0)
    confidence = rng.uniform(0.5, 1, 200_000)
    draw = rng.uniform(size=len(confidence))
    assert ece(*_binary(confidence, draw < confidence)) < 0.01
    # E[c - c^2] for c uniform on [0.5, 1] is 1/6, and the gap has one sign in every bin.
    for strategy in ("uniform", "quantile"):
        value = ece(*_binary(confidence, draw < confidence ** 2), strategy=strategy)
        assert value == pytest.approx(1 / 6, abs=0.01)


def test_string_labels_and_column_order():
    rng = np.random.RandomState(0)
    proba = rng.dirichlet(np.ones(3), 50)
    y = rng.choice(["angry", "happy", "sad"], 50)
    reference = ece(y, proba)  # columns in sorted order
    order = [2, 0, 1]
    permuted = ece(y, proba[:, order], labels=np.array(["angry", "happy", "sad"])[order])
    assert permuted == pytest.approx(reference, abs=1e-12)
    # labels name classes y_true lacks; here y_true only has happy and sad.
    y2 = np.where(y == "angry", "sad", y)
    assert 0 <= ece(y2, proba, labels=["angry", "happy", "sad"]) <= 1


# -- bins ---------------------------------------------------------------------

def test_bins_are_closed_on_the_right():
    # Edges of 5 uniform bins: 0, .2, .4, .6, .8, 1.
    y, proba = _binary([0.5, 0.6, 0.6000001, 0.8, 1.0], [True] * 5)
    disp = ReliabilityDisplay.from_predictions(y, proba, labels=[0, 1], n_bins=5)
    assert_array_equal(disp.bin_edges, np.linspace(0, 1, 6))
    assert_array_equal(disp.bin_counts, [0, 0, 2, 2, 1])
    assert_allclose(disp.bin_confidence[2:], [0.55, 0.70000005, 1.0])
    assert np.isnan(disp.bin_accuracy[:2]).all() and np.isnan(disp.bin_confidence[:2]).all()
    # A probability of 0 falls in the first bin (class-wise: class 1's probabilities here).
    assert ece([0], [[1.0, 0.0]], labels=[0, 1], kind="classwise") == 0


def test_number_of_bins_changes_what_averages_out():
    # 0.91 right and 0.99 wrong share the bin (0.9, 1] of 10 bins, but not of 100.
    y, proba = _binary([0.91, 0.99], [True, False])
    assert ece(y, proba, n_bins=10) == pytest.approx(abs(0.5 - 0.95), abs=1e-12)
    assert ece(y, proba, n_bins=100) == pytest.approx((0.09 + 0.99) / 2, abs=1e-12)
    # One bin: overall accuracy against mean confidence.
    y, proba = _binary([0.9, 0.6], [True, False])
    assert ece(y, proba, n_bins=1) == pytest.approx(abs(0.5 - 0.75), abs=1e-12)
    assert ece(y, proba) == pytest.approx((0.1 + 0.6) / 2, abs=1e-12)


def test_quantile_bins():
    y, proba = _binary([0.6, 0.7, 0.8, 0.9], [True, False, True, True])
    # Edges at the quantiles 0.6, 0.75, 0.9: bins {0.6, 0.7} and {0.8, 0.9}, gaps 0.15 each.
    assert ece(y, proba, n_bins=2, strategy="quantile") == pytest.approx(0.15, abs=1e-12)
    assert ece(y, proba, n_bins=2) == pytest.approx(0, abs=1e-12)  # (0.5, 1]: 0.75 vs 0.75
    disp = ReliabilityDisplay.from_predictions(y, proba, n_bins=2, strategy="quantile")
    assert_allclose(disp.bin_edges, [0.6, 0.75, 0.9])
    # All confidences equal: every quantile edge is the same, one bin holds everything.
    y, proba = _binary([0.7] * 4, [True, True, True, False])
    disp = ReliabilityDisplay.from_predictions(y, proba, n_bins=3, strategy="quantile")
    assert_array_equal(disp.bin_counts, [4, 0, 0])
    assert disp.ece == pytest.approx(0.05, abs=1e-12)


# -- validation ---------------------------------------------------------------

Y3 = [0, 1, 2]
P3 = np.eye(3) * 0.7 + 0.1


@pytest.mark.parametrize("y_true, y_proba, params, match", [
    (Y3, [0.7, 0.2, 0.9], {}, r"y_proba must be a 2-D array .* got shape \(3,\)"),
    ([0, 0], [[1.0], [1.0]], {}, "at least 2 classes"),
    (Y3, P3 - 0.2, {}, r"probabilities in \[0, 1\]"),
    (Y3, P3 * 0.9, {}, r"row 0 sums to 0.9 \(3 such rows\)"),
    (Y3, np.where(np.eye(3) > 0, np.nan, 0.5), {}, "y_proba contains NaN"),
    (Y3, np.zeros((0, 3)), {}, "y_proba holds 0 samples"),
    ([0, 1], P3, {}, "got 2 labels and 3 rows"),
    ([[0], [1], [2]], P3, {}, r"y_true must be a 1-D array .* \(3, 1\)"),
    ([0, 1, 1], P3, {}, "y_true holds 2 distinct labels but y_proba has 3 columns; pass labels"),
    (Y3, P3, {"labels": [0, 1]}, "labels must name the 3 columns"),
    (Y3, P3, {"labels": [0, 1, 1]}, "labels must be unique; 1"),
    ([0, 1, 5], P3, {"labels": [0, 1, 2]}, r"not in labels: \[5\]"),
    (Y3, P3, {"n_bins": 0}, "'n_bins' parameter"),
    (Y3, P3, {"n_bins": True}, "'n_bins' parameter"),
    (Y3, P3, {"strategy": "equal"}, "'strategy' parameter"),
    (Y3, P3, {"kind": "marginal"}, "'kind' parameter"),
])
def test_invalid_inputs_name_the_parameter(y_true, y_proba, params, match):
    with pytest.raises(ValueError, match=match):
        ece(y_true, y_proba, **params)
    if "kind" not in params:  # the display validates as the metric does
        with pytest.raises(ValueError, match=match):
            ReliabilityDisplay.from_predictions(y_true, y_proba, **params)


# -- display ------------------------------------------------------------------

def test_display_values_and_artists():
    y, proba = _binary([0.9] * 10 + [0.7] * 30, [True, False] * 5 + [True] * 30)
    disp = ReliabilityDisplay.from_predictions(y, proba, n_bins=10, name="model")
    assert disp.ece == ece(y, proba, n_bins=10)
    assert disp.bin_counts.sum() == 40 and disp.bin_counts[6] == 30 and disp.bin_counts[8] == 10
    assert_allclose(disp.line_.get_xdata(), [0.7, 0.9])
    assert_allclose(disp.line_.get_ydata(), [1.0, 0.5])
    assert_allclose(disp.counts_.get_data().values, disp.bin_counts / 40)
    assert disp.ax_.figure is disp.figure_
    labels = disp.ax_.get_legend_handles_labels()[1]
    assert labels == ["Perfectly calibrated", f"model, ECE {disp.ece:.3f}"]

    # Overlay on the same axes: one diagonal; redraw from stored values alone.
    fig, ax = plt.subplots()
    first = disp.plot(ax=ax)
    again = ReliabilityDisplay(list(disp.bin_accuracy), list(disp.bin_confidence),
                               list(disp.bin_counts), list(disp.bin_edges))
    again.plot(ax=ax, name="redrawn", counts=False, color="C3")
    assert first.figure_ is fig and again.ax_ is ax and again.counts_ is None
    assert ax.get_legend_handles_labels()[1] == ["Perfectly calibrated",
                                                 f"model, ECE {disp.ece:.3f}", "redrawn"]
    assert_allclose(again.line_.get_ydata(), first.line_.get_ydata())
    assert ax.get_ylabel() == "Accuracy (line), share of samples (shaded)"
    _, ax = plt.subplots()
    assert again.plot(ax=ax, counts=False).ax_.get_ylabel() == "Accuracy"


def test_display_from_estimator(small_cnn, eval_faces):
    X, y = eval_faces
    disp = ReliabilityDisplay.from_estimator(small_cnn, X, y, n_bins=10)
    proba = small_cnn.predict_proba(X)
    assert disp.ece == pytest.approx(ece(y, proba, labels=small_cnn.classes_, n_bins=10),
                                     abs=1e-12)
    assert disp.bin_counts.sum() == len(y)
    assert disp.ax_.get_legend_handles_labels()[1][1].startswith("FERCNNClassifier, ECE ")
    with pytest.raises(ValueError, match="must have predict_proba; RidgeClassifier"):
        ReliabilityDisplay.from_estimator(RidgeClassifier(), X, y)


# -- temperature scaling ------------------------------------------------------

# The network's probabilities are float32 softmax outputs: their rows sum to 1
# within about 1e-7, not within the float64 precision log_loss checks for.
@pytest.mark.filterwarnings("ignore:The y_prob values do not sum to one:UserWarning")
@pytest.mark.skipif(not HAS_TEMPERATURE,
                    reason=f"method='temperature' needs scikit-learn >= 1.8; "
                           f"{sklearn.__version__} is installed")
def test_temperature_scaling_of_a_frozen_network(small_cnn, calib_faces, eval_faces):
    X, y = calib_faces
    calibrated = CalibratedClassifierCV(FrozenEstimator(small_cnn), method="temperature")
    calibrated.fit(X, y)
    before, after = small_cnn.predict_proba(X), calibrated.predict_proba(X)
    beta = calibrated.calibrated_classifiers_[0].calibrators[0].beta_  # 1 / temperature
    assert 0.05 < 1 / beta < 0.5  # under-confident, and not at the optimiser's bounds (e^+-10)
    # What it does: softmax(log(p) / T), the same T for every face and class...
    scaled = np.exp(beta * np.log(before + 1e-12))
    assert_allclose(after, scaled / scaled.sum(axis=1, keepdims=True), rtol=1e-6, atol=1e-9)
    # ...so the predicted emotions stay; and T minimises the log-loss on the faces it was fitted on.
    assert_array_equal(calibrated.predict(X), small_cnn.predict(X))
    assert log_loss(y, after, labels=calibrated.classes_) < log_loss(y, before,
                                                                     labels=small_cnn.classes_)
    # On other faces the ECE falls too (0.17 to 0.08 here).
    X_eval, y_eval = eval_faces
    disp = ReliabilityDisplay.from_estimator(calibrated, X_eval, y_eval)
    assert disp.ax_.get_legend_handles_labels()[1][1].startswith("CalibratedClassifierCV")
    assert disp.ece < 0.6 * ece(y_eval, small_cnn.predict_proba(X_eval),
                                labels=small_cnn.classes_)
