"""Expected calibration error, and the binning it shares with :class:`ReliabilityDisplay`."""

import numpy as np
from sklearn.utils._param_validation import StrOptions, validate_params
from sklearn.utils.validation import check_array

from .._estimators import _POSITIVE_INT

# How far a row of y_proba may sum from 1: float32 softmax outputs and
# probabilities rounded to float16 pass; scores, logits and a subset of the
# columns do not.
_SUM_TOLERANCE = 1e-3


def _check_proba(y_true, y_proba, labels):
    """Validate the inputs; return the column index of each true label and the probabilities.

    Returns
    -------
    codes : ndarray of int of shape (n_samples,)
        ``codes[i]`` is the column of ``y_proba`` that holds the class of ``y_true[i]``.
    proba : ndarray of float64 of shape (n_samples, n_classes)
    """
    proba = check_array(y_proba, ensure_2d=False, ensure_min_samples=0, dtype=np.float64,
                        input_name="y_proba")
    if proba.ndim != 2:
        raise ValueError(f"y_proba must be a 2-D array of shape (n_samples, n_classes), as "
                         f"predict_proba returns it; got shape {proba.shape}")
    n_samples, n_classes = proba.shape
    if n_samples == 0:
        raise ValueError("y_proba holds 0 samples; the ECE needs at least one")
    if n_classes < 2:
        raise ValueError(f"y_proba must have a column for each of at least 2 classes; got "
                         f"{n_classes} column")
    if proba.min() < 0 or proba.max() > 1:
        raise ValueError(f"y_proba must hold probabilities in [0, 1]; its values range from "
                         f"{proba.min():g} to {proba.max():g}")
    sums = proba.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1) > _SUM_TOLERANCE)
    if len(bad):
        raise ValueError(f"each row of y_proba must sum to 1 (one probability per class, as "
                         f"predict_proba returns them); row {bad[0]} sums to "
                         f"{sums[bad[0]]:g} ({len(bad)} such rows)")

    y_true = np.asarray(y_true)
    if y_true.ndim != 1:
        raise ValueError(f"y_true must be a 1-D array of labels; got shape {y_true.shape}")
    if len(y_true) != n_samples:
        raise ValueError(f"y_true and y_proba must have as many samples; got {len(y_true)} "
                         f"labels and {n_samples} rows of probabilities")

    if labels is None:
        labels = np.unique(y_true)
        if len(labels) != n_classes:
            raise ValueError(
                f"y_true holds {len(labels)} distinct labels but y_proba has {n_classes} "
                f"columns; pass labels, the classes of the columns in their order "
                f"(the estimator's classes_)")
    else:
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) != n_classes:
            raise ValueError(f"labels must name the {n_classes} columns of y_proba, in their "
                             f"order; got {labels.size} labels")
    index = {}
    for column, label in enumerate(labels.tolist()):
        if index.setdefault(label, column) != column:
            raise ValueError(f"labels must be unique; {label!r} appears more than once")
    codes = np.fromiter((index.get(label, -1) for label in y_true.tolist()), np.intp,
                        count=n_samples)
    unknown = codes < 0
    if unknown.any():
        raise ValueError(f"y_true holds labels that are not in labels: "
                         f"{sorted(set(y_true[unknown].tolist()), key=str)[:5]}")
    return codes, proba


def _top_label(codes, proba):
    """Confidence (largest probability) of each row, and whether its class is the true one.

    The predicted class is the first column with the largest probability,
    as ``predict`` picks it.
    """
    predicted = np.argmax(proba, axis=1)
    return proba[np.arange(len(proba)), predicted], predicted == codes


def _reliability_bins(scores, hits, n_bins, strategy):
    """Bin ``scores`` and average them and ``hits`` per bin.

    Bins are closed on the right, ``(low, high]``, as in Guo et al. (2017);
    the first also holds its lower edge. ``"quantile"`` edges are quantiles
    of the scores, so ties can make some bins empty.

    Returns
    -------
    edges : ndarray of shape (n_bins + 1,)
    counts : ndarray of int of shape (n_bins,)
    mean_score, mean_hit : ndarray of shape (n_bins,)
        NaN for empty bins.
    """
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        edges = np.quantile(scores, np.linspace(0.0, 1.0, n_bins + 1))
    bins = np.searchsorted(edges[1:-1], scores, side="left")
    counts = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_score = np.bincount(bins, weights=scores, minlength=n_bins) / counts
        mean_hit = np.bincount(bins, weights=hits.astype(np.float64), minlength=n_bins) / counts
    return edges, counts, mean_score, mean_hit


def _binned_error(counts, mean_score, mean_hit):
    """Sum over the non-empty bins of (share of samples) * |mean hit - mean score|."""
    full = counts > 0
    return float(np.sum(counts[full] / counts.sum() * np.abs(mean_hit[full] - mean_score[full])))


@validate_params(
    {
        "y_true": ["array-like"],
        "y_proba": ["array-like"],
        "n_bins": [_POSITIVE_INT],
        "strategy": [StrOptions({"uniform", "quantile"})],
        "labels": ["array-like", None],
        "kind": [StrOptions({"top_label", "classwise"})],
    },
    prefer_skip_nested_validation=True,
)
def expected_calibration_error(y_true, y_proba, *, n_bins=15, strategy="uniform", labels=None,
                               kind="top_label"):
    r"""Expected calibration error (ECE) of predicted class probabilities.

    The top-label ECE of Guo et al. (2017): the samples are binned by their
    confidence -- the largest predicted probability, that of the class
    ``predict`` returns -- and the gap between each bin's accuracy and its
    mean confidence is averaged over the bins, weighted by their share of
    the samples:

    .. math::

        \mathrm{ECE} = \sum_{b=1}^{B} \frac{|S_b|}{n}
                       \left|\mathrm{acc}(S_b) - \mathrm{conf}(S_b)\right|

    0 for a classifier whose 80%-confident predictions are right 80% of the
    time (and so on for each bin), up to 1. A model that is always 90%
    confident and right 60% of the time has an ECE of 0.3.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_proba : array-like of shape (n_samples, n_classes)
        Predicted probabilities, as ``predict_proba`` returns them: values in
        [0, 1], each row summing to 1.
    n_bins : int, default=15
        Number of bins (Guo et al. use 15).
    strategy : {"uniform", "quantile"}, default="uniform"
        ``"uniform"``: bins of equal width on [0, 1], closed on the right,
        ``(0.8, 0.9]``, as in Guo et al. ``"quantile"``: edges at quantiles of
        the confidences, so that the bins hold about as many samples (ties
        can leave some empty).
    labels : array-like of shape (n_classes,), default=None
        The classes of the columns of ``y_proba``, in their order (an
        estimator's ``classes_``). None takes the sorted distinct labels of
        ``y_true``, which then must hold every class.
    kind : {"top_label", "classwise"}, default="top_label"
        ``"top_label"``: as above. ``"classwise"``: the class-wise ECE of Kull
        et al. (2019), the mean over the classes of the same binned gap
        between the predicted probability of that class and the share of
        samples that belong to it (``strategy`` bins each class's
        probabilities on their own).

    Returns
    -------
    ece : float
        Between 0 and 1; lower is better calibrated.

    Raises
    ------
    ValueError
        Naming the parameter: ``y_proba`` that is not 2-D, has values outside
        [0, 1] or rows that do not sum to 1; ``y_true`` of another length or
        with labels outside ``labels``; ``labels`` of the wrong length or
        with repeats; ``n_bins``, ``strategy`` or ``kind`` out of range.

    See Also
    --------
    ReliabilityDisplay : the per-bin accuracies and confidences, plotted.
    sklearn.calibration.CalibratedClassifierCV : recalibrates a classifier
        (``method="temperature"`` for temperature scaling, scikit-learn >= 1.8).

    Notes
    -----
    The value depends on the binning: more bins separate more confidences but
    leave fewer samples per bin, and the sampling noise of each bin's accuracy
    adds to the estimate, so ECEs are comparable only with the same
    ``n_bins`` and ``strategy`` on test sets of similar size.

    References
    ----------
    C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of Modern
    Neural Networks", ICML 2017.

    M. Kull, M. Perello-Nieto, M. Kängsepp, T. Silva Filho, H. Song and
    P. Flach, "Beyond temperature scaling: Obtaining well-calibrated
    multiclass probabilities with Dirichlet calibration", NeurIPS 2019.

    Examples
    --------
    Always 90% sure, right 6 times out of 10:

    >>> from fer_sklearn.calibration import expected_calibration_error
    >>> y_true = ["happy"] * 6 + ["sad"] * 4
    >>> y_proba = [[0.9, 0.1]] * 10          # columns: happy, sad
    >>> round(expected_calibration_error(y_true, y_proba), 6)
    0.3
    >>> round(expected_calibration_error(y_true, y_proba, kind="classwise"), 6)
    0.3
    """
    codes, proba = _check_proba(y_true, y_proba, labels)
    if kind == "top_label":
        confidence, correct = _top_label(codes, proba)
        return _binned_error(*_reliability_bins(confidence, correct, n_bins, strategy)[1:])
    return float(np.mean([
        _binned_error(*_reliability_bins(proba[:, k], codes == k, n_bins, strategy)[1:])
        for k in range(proba.shape[1])]))
