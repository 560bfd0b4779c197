"""Test-time augmentation: the views of a batch whose predictions are averaged.

One definition serves ``predict_proba`` and the ONNX graph, so that both
average over exactly the same images.
"""

import torch.nn.functional as F


def shift_offsets(shift):
    """The ``(dy, dx)`` offsets of the views: the image itself, then ±shift on each axis."""
    if shift == 0:
        return [(0, 0)]
    return [(0, 0), (shift, 0), (-shift, 0), (0, shift), (0, -shift)]


def n_views(flip, shift):
    """How many views :func:`prediction_views` yields per image."""
    return len(shift_offsets(shift)) * (2 if flip else 1)


def prediction_views(X, flip, shift):
    """Yield the test-time views of a batch of images.

    Parameters
    ----------
    X : tensor of shape (n, channels, H, W)
        Standardised images (0 is the mean intensity, the fill of shifted-in
        pixels, as :class:`~fer_sklearn.callbacks.RandomShift` fills in training).
    flip : bool
        Also yield the left-right mirror of every view.
    shift : int
        With ``shift > 0``, the images moved by ``shift`` pixels up, down,
        left and right are views too (whole pixels, as in training).

    Yields
    ------
    view : tensor of the shape of ``X``
        ``n_views(flip, shift)`` views in all.
    """
    for dy, dx in shift_offsets(shift):
        view = shifted(X, dy, dx)
        yield view
        if flip:
            yield view.flip(-1)


def shifted(X, dy, dx):
    """``X`` moved ``dy`` pixels down and ``dx`` right; uncovered pixels are 0.

    Parameters
    ----------
    X : tensor of shape (..., H, W)
    dy, dx : int
        Negative values move up and left.

    Returns
    -------
    view : tensor of the shape of ``X``
    """
    pad = max(abs(dy), abs(dx))
    if pad == 0:
        return X
    height, width = X.shape[-2:]
    padded = F.pad(X, (pad, pad, pad, pad))
    return padded[..., pad - dy:pad - dy + height, pad - dx:pad - dx + width]
