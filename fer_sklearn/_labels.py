"""Display names of a classifier's labels, the same in every table, figure and file."""

import numpy as np


def class_names(classes, target_names=None):
    """Names for ``classes``: ``target_names[label]`` when every label is an index into it.

    A model trained on FER2013's integer labels 0..6 gets the emotion names;
    one trained on names (the shipped models) keeps them.

    Parameters
    ----------
    classes : sequence
        A fitted classifier's ``classes_``.
    target_names : sequence of str or None, default=None
        Names of the labels 0, 1, ...; None for :data:`fer_sklearn.EMOTIONS`.

    Returns
    -------
    names : list of str
    """
    if target_names is None:
        from . import EMOTIONS as target_names
    classes = list(classes)
    if all(isinstance(c, (int, np.integer)) and not isinstance(c, bool)
           and 0 <= c < len(target_names) for c in classes):
        return [str(target_names[c]) for c in classes]
    return [str(c) for c in classes]
