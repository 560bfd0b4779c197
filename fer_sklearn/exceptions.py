"""Warnings and errors of fer_sklearn's estimators, so that they can be filtered or caught.

As :mod:`sklearn.exceptions` does for scikit-learn, each warning is its own
class: ``warnings.simplefilter("error", PixelRangeWarning)`` turns one kind
into an error without touching the others.
"""

__all__ = ["CheckpointError", "FitInterruptedWarning", "PixelRangeWarning"]


class CheckpointError(ValueError):
    """A ``checkpoint`` folder holds a checkpoint that ``fit`` may not resume.

    Either it was written by a fit of other data or parameters (the message
    names what differs), or it is damaged, truncated or of a layout this
    version does not read. Nothing of it is used and the folder is left as
    it is: give another folder, or remove the file to start afresh.
    """


class FitInterruptedWarning(UserWarning):
    """``fit`` was interrupted (Ctrl-C) and returned a partly trained model.

    Only without a ``checkpoint``: with one, ``fit`` raises the
    :class:`KeyboardInterrupt` and leaves the estimator as it was, for the
    next ``fit`` to resume.

    skorch ends training on a :class:`KeyboardInterrupt` and returns
    normally, so ``fit`` does too, with the weights reached so far; this
    warning names the epochs completed out of ``max_epochs``, and the
    estimator's ``n_iter_`` and ``interrupted_`` record them. An early stop by
    :class:`skorch.callbacks.EarlyStopping` (which skorch also signals with a
    :class:`KeyboardInterrupt`) is not an interruption and does not warn.
    """


class PixelRangeWarning(UserWarning):
    """The input's pixel values are on another scale than those seen in ``fit``.

    A model fitted on 0..255 pixels and given 0..1 images (or the reverse)
    sees every face as a uniform grey and predicts nearly one class for all
    of them. The estimators warn when the largest absolute pixel value of
    the input is more than 10 times smaller or larger than that of the
    training data (``pixel_range_``).
    """
