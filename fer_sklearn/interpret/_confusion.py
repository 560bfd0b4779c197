"""Which classes a classifier mixes up most, read off a confusion matrix."""

import numpy as np
import pandas as pd


def most_confused_pairs(cm, labels=None, normalize=True, top=3):
    """The off-diagonal cells of a confusion matrix with the largest rates (or counts).

    Parameters
    ----------
    cm : array-like of shape (n_classes, n_classes)
        Confusion matrix with true classes in rows and predicted classes in
        columns, as :func:`sklearn.metrics.confusion_matrix` returns it.
    labels : sequence of length n_classes, default=None
        Names of the classes, in the matrix's order; None uses 0..n_classes-1.
    normalize : bool, default=True
        Rank by the share of each true class predicted as the other (rows
        normalised to sum to 1; an empty row gives 0), rather than by count.
    top : int or None, default=3
        Number of pairs returned; None returns all off-diagonal pairs.

    Returns
    -------
    pairs : pandas.DataFrame
        Columns ``true``, ``predicted`` and ``rate`` (with ``normalize``) or
        ``count``, sorted by that column, largest first; ties keep the
        matrix's row-major order.

    Examples
    --------
    >>> from fer_sklearn import EMOTIONS
    >>> from fer_sklearn.interpret import most_confused_pairs
    >>> cm = [[8, 0, 2, 0, 0, 0, 0],
    ...       [1, 9, 0, 0, 0, 0, 0],
    ...       [0, 0, 6, 0, 1, 3, 0],
    ...       [0, 0, 0, 10, 0, 0, 0],
    ...       [0, 0, 1, 0, 7, 0, 2],
    ...       [0, 0, 1, 0, 0, 9, 0],
    ...       [0, 0, 0, 0, 2, 0, 8]]
    >>> most_confused_pairs(cm, labels=EMOTIONS, top=2)
      true predicted  rate
    0  fear  surprise   0.3
    1 angry      fear   0.2
    """
    cm = np.asarray(cm, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square matrix; got shape {cm.shape}")
    n = len(cm)
    labels = np.arange(n) if labels is None else np.asarray(labels)
    if len(labels) != n:
        raise ValueError(f"labels has {len(labels)} names for a {n}x{n} matrix")
    if normalize:
        totals = cm.sum(axis=1, keepdims=True)
        cm = np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)
    true, predicted = np.nonzero(~np.eye(n, dtype=bool))
    values = cm[true, predicted]
    order = np.argsort(-values, kind="stable")[:top]
    column = "rate" if normalize else "count"
    values = values[order] if normalize else values[order].astype(np.int64)
    return pd.DataFrame({"true": labels[true[order]], "predicted": labels[predicted[order]],
                         column: values})
