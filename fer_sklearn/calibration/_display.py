"""The reliability diagram, in the style of :class:`sklearn.calibration.CalibrationDisplay`."""

import numpy as np

from ._ece import _check_proba, _reliability_bins, _top_label, expected_calibration_error

_REF_LINE_LABEL = "Perfectly calibrated"


class ReliabilityDisplay:
    """Reliability diagram of a multiclass classifier: accuracy against confidence, per bin.

    The samples are binned by their confidence (the largest predicted
    probability) as :func:`expected_calibration_error` bins them; the plot
    shows each non-empty bin's accuracy at its mean confidence, the diagonal
    of perfect calibration, and the share of the samples in each bin as a
    shaded histogram on the same 0..1 scale. The legend gives the ECE. A
    curve below the diagonal is over-confident.

    Use :meth:`from_estimator` or :meth:`from_predictions` to compute and
    plot; the constructor only stores the values, so that a saved diagram can
    be redrawn without predicting again. Plotting two displays on one ``ax``
    overlays them (the diagonal is drawn once).

    Parameters
    ----------
    bin_accuracy : ndarray of shape (n_bins,)
        Share of correct predictions in each bin; NaN for empty bins.
    bin_confidence : ndarray of shape (n_bins,)
        Mean confidence in each bin; NaN for empty bins.
    bin_counts : ndarray of shape (n_bins,)
        Number of samples in each bin.
    bin_edges : ndarray of shape (n_bins + 1,)
        Bin edges; bins are closed on the right, ``(low, high]``.
    ece : float, default=None
        The expected calibration error, shown in the legend.
    estimator_name : str, default=None
        Name shown in the legend.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The accuracy per bin.
    counts_ : matplotlib StepPatch or None
        The shares of samples per bin (None with ``counts=False``).
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    See Also
    --------
    expected_calibration_error : the ECE, top-label or class-wise.
    sklearn.calibration.CalibrationDisplay : the binary calibration curve of
        one class's probability.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from fer_sklearn.calibration import ReliabilityDisplay
    >>> y_true = ["happy"] * 6 + ["sad"] * 4 + ["happy", "sad"]
    >>> y_proba = [[0.9, 0.1]] * 10 + [[0.6, 0.4], [0.3, 0.7]]
    >>> disp = ReliabilityDisplay.from_predictions(y_true, y_proba, n_bins=5)
    >>> disp.bin_counts
    array([ 0,  0,  1,  1, 10])
    >>> disp.bin_accuracy
    array([nan, nan, 1. , 1. , 0.6])
    >>> round(disp.ece, 4)  # (1 * 0.4 + 1 * 0.3 + 10 * 0.3) / 12
    0.3083
    """

    def __init__(self, bin_accuracy, bin_confidence, bin_counts, bin_edges, *, ece=None,
                 estimator_name=None):
        self.bin_accuracy = bin_accuracy
        self.bin_confidence = bin_confidence
        self.bin_counts = bin_counts
        self.bin_edges = bin_edges
        self.ece = ece
        self.estimator_name = estimator_name

    def plot(self, *, ax=None, name=None, ref_line=True, counts=True, **kwargs):
        """Plot the diagram.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            None makes a new figure.
        name : str, default=None
            Name in the legend; None uses ``estimator_name``.
        ref_line : bool, default=True
            Draw the diagonal of perfect calibration (once per axes).
        counts : bool, default=True
            Shade the share of samples in each bin.
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot` for the accuracy line
            (``color``, ``marker``, ...).

        Returns
        -------
        display : ReliabilityDisplay
        """
        import matplotlib.pyplot as plt
        from matplotlib.patches import StepPatch

        if ax is None:
            _, ax = plt.subplots()
        self.ax_, self.figure_ = ax, ax.figure
        name = self.estimator_name if name is None else name
        label = ", ".join(part for part in (
            name, None if self.ece is None else f"ECE {self.ece:.3f}") if part)
        if ref_line and _REF_LINE_LABEL not in ax.get_legend_handles_labels()[1]:
            ax.plot([0, 1], [0, 1], "k:", label=_REF_LINE_LABEL)
        bin_counts = np.asarray(self.bin_counts)
        full = bin_counts > 0
        line_kwargs = {"marker": "o", "linestyle": "-", "label": label or None, **kwargs}
        self.line_ = ax.plot(np.asarray(self.bin_confidence)[full],
                             np.asarray(self.bin_accuracy)[full], **line_kwargs)[0]
        self.counts_ = None
        if counts:
            self.counts_ = ax.stairs(bin_counts / max(bin_counts.sum(), 1), self.bin_edges,
                                     fill=True, alpha=0.2, color=self.line_.get_color())
        # A display overlaid without counts keeps the label of one drawn with them.
        shaded = any(isinstance(patch, StepPatch) for patch in ax.patches)
        ax.set(xlim=(0, 1), ylim=(0, 1), aspect="equal",
               xlabel="Confidence (largest predicted probability)",
               ylabel="Accuracy" + (" (line), share of samples (shaded)" if shaded else ""))
        if ax.get_legend_handles_labels()[1]:
            ax.legend(loc="upper left")
        return self

    @classmethod
    def from_estimator(cls, estimator, X, y, *, n_bins=15, strategy="uniform", name=None,
                       ax=None, ref_line=True, counts=True, **kwargs):
        """Plot the reliability diagram of a fitted classifier on data.

        Parameters
        ----------
        estimator : fitted classifier
            Any classifier with ``predict_proba`` and ``classes_``: these
            estimators, a pipeline ending in one, a
            :class:`~sklearn.calibration.CalibratedClassifierCV`.
        X : array-like
            Input, as the estimator takes it.
        y : array-like of shape (n_samples,)
            True labels.
        n_bins, strategy
            As for :func:`expected_calibration_error`.
        name : str, default=None
            Name in the legend; None uses the estimator's class name.
        ax, ref_line, counts, **kwargs
            As for :meth:`plot`.

        Returns
        -------
        display : ReliabilityDisplay
        """
        if not hasattr(estimator, "predict_proba"):
            raise ValueError(f"estimator must have predict_proba; {type(estimator).__name__} "
                             f"has not")
        y_proba = estimator.predict_proba(X)
        return cls.from_predictions(
            y, y_proba, labels=estimator.classes_, n_bins=n_bins, strategy=strategy,
            name=type(estimator).__name__ if name is None else name, ax=ax,
            ref_line=ref_line, counts=counts, **kwargs)

    @classmethod
    def from_predictions(cls, y_true, y_proba, *, labels=None, n_bins=15, strategy="uniform",
                         name=None, ax=None, ref_line=True, counts=True, **kwargs):
        """Plot the reliability diagram of true labels and predicted probabilities.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels.
        y_proba : array-like of shape (n_samples, n_classes)
            Predicted probabilities, as ``predict_proba`` returns them.
        labels, n_bins, strategy
            As for :func:`expected_calibration_error`.
        name : str, default=None
            Name in the legend.
        ax, ref_line, counts, **kwargs
            As for :meth:`plot`.

        Returns
        -------
        display : ReliabilityDisplay
        """
        ece = expected_calibration_error(y_true, y_proba, n_bins=n_bins, strategy=strategy,
                                         labels=labels)
        confidence, correct = _top_label(*_check_proba(y_true, y_proba, labels))
        edges, bin_counts, bin_confidence, bin_accuracy = _reliability_bins(
            confidence, correct, n_bins, strategy)
        display = cls(bin_accuracy, bin_confidence, bin_counts, edges, ece=ece,
                      estimator_name=name)
        return display.plot(ax=ax, ref_line=ref_line, counts=counts, **kwargs)
