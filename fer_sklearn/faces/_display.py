"""FaceDisplay: a photograph with its faces, their labels and probability bars."""

import math

import numpy as np

from .._labels import class_names
from ._align import extract_faces
from ._detect import LANDMARKS
from ._io import read_image


class FaceDisplay:
    """A photograph with a box, a label and probability bars per face.

    In the style of :class:`sklearn.metrics.ConfusionMatrixDisplay`: build it
    with :meth:`from_estimator` (detects, aligns and classifies) or
    :meth:`from_predictions` (your boxes and probabilities), then :meth:`plot`.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W) or (H, W, 3)
        The photograph, upright (see :func:`read_image`).
    faces : pandas.DataFrame
        Boxes in pixels, columns ``x``, ``y``, ``width``, ``height`` (as
        returned by :func:`detect_faces`); its landmark columns, where
        present, are drawn as dots.
    proba : ndarray of shape (n_faces, n_classes) or None, default=None
        Class probabilities per face, drawn as bars beside its box.
    labels : array-like of str, shape (n_faces,), or None, default=None
        Label written above each box; None: the most probable class name.
    class_names : sequence of str or None, default=None
        Names of the probability columns; None: :data:`fer_sklearn.EMOTIONS`.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The photograph's axes.
    bar_axes_ : list of matplotlib Axes
        One inset axes of bars per face (empty without ``proba``).
    figure_ : matplotlib Figure
    """

    def __init__(self, image, faces, *, proba=None, labels=None, class_names=None):
        self.image = image
        self.faces = faces
        self.proba = proba
        self.labels = labels
        self.class_names = class_names

    @classmethod
    def from_estimator(cls, estimator, image, *, framing=None, detector="auto",
                       detector_params=None, ax=None):
        """Detect every face of a photograph, align it, classify it, and plot.

        Parameters
        ----------
        estimator : fitted classifier
            Takes rows of ``side * side`` grey pixels 0..255 (a FER2013 model:
            48 * 48) and has ``predict_proba`` and ``classes_``.
        image : str, path-like, PIL.Image.Image or ndarray
            The photograph, anything :func:`read_image` reads.
        framing : tuple of 3 floats or None, default=None
            See :func:`crop_face`.
        detector, detector_params
            The face detector and its settings, see :func:`detect_faces`.
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.

        Returns
        -------
        display : FaceDisplay
        """
        photo = read_image(image, mode="RGB")
        side = math.isqrt(int(estimator.n_features_in_))
        faces, crops = extract_faces([photo], size=side, framing=framing, detector=detector,
                                     detector_params=detector_params)
        proba = estimator.predict_proba(crops) if len(crops) else np.zeros((0, 0))
        return cls(photo, faces, proba=proba,
                   class_names=class_names(estimator.classes_)).plot(ax=ax)

    @classmethod
    def from_predictions(cls, image, faces, proba=None, *, labels=None, class_names=None,
                         ax=None):
        """Plot a photograph with boxes and probabilities you already have.

        Parameters
        ----------
        image : str, path-like, PIL.Image.Image or ndarray
            The photograph, anything :func:`read_image` reads.
        faces : pandas.DataFrame
            Columns ``x``, ``y``, ``width``, ``height`` in pixels.
        proba : ndarray of shape (n_faces, n_classes) or None, default=None
            Class probabilities per face, drawn as bars beside its box.
        labels : array-like of str or None, default=None
            Label written above each box; None: the most probable class name.
        class_names : sequence of str or None, default=None
            Names of the probability columns; None: :data:`fer_sklearn.EMOTIONS`.
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.

        Returns
        -------
        display : FaceDisplay
        """
        return cls(read_image(image, mode="RGB"), faces, proba=proba, labels=labels,
                   class_names=class_names).plot(ax=ax)

    def plot(self, *, ax=None, bars=True):
        """Draw the photograph, the boxes, labels and (``bars=True``) probability bars.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.
        bars : bool, default=True
            Draw each face's probabilities as bars to the right of its box.

        Returns
        -------
        display : FaceDisplay
            With ``ax_``, ``bar_axes_`` and ``figure_`` set.

        Raises
        ------
        ValueError
            ``faces`` lacks a box column, or ``proba``/``labels`` do not have
            one row per face.
        """
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle

        from .. import EMOTIONS

        missing = {"x", "y", "width", "height"} - set(self.faces.columns)
        if missing:
            raise ValueError(f"faces lacks the box columns {sorted(missing)}")
        n = len(self.faces)
        proba = None if self.proba is None else np.asarray(self.proba, float)
        if proba is not None and proba.shape[0] != n:
            raise ValueError(f"proba has {proba.shape[0]} rows for {n} faces")
        names = list(EMOTIONS if self.class_names is None else self.class_names)
        labels = self.labels
        if labels is None and proba is not None and n:
            labels = [names[k] for k in proba.argmax(1)]
        if labels is not None and len(labels) != n:
            raise ValueError(f"labels has {len(labels)} entries for {n} faces")
        if ax is None:
            _, ax = plt.subplots()
        image = np.asarray(self.image)
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255)
        ax.set_axis_off()
        self.bar_axes_ = []
        for row, (_, face) in enumerate(self.faces.iterrows()):
            x, y, w, h = face["x"], face["y"], face["width"], face["height"]
            ax.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor="lime", linewidth=2))
            points = [(face.get(f"{p}_x", np.nan), face.get(f"{p}_y", np.nan)) for p in LANDMARKS]
            points = np.array(points, float).reshape(-1, 2)
            points = points[np.isfinite(points).all(axis=1)]
            if len(points):
                ax.plot(points[:, 0], points[:, 1], "o", color="lime", markersize=3)
            if labels is not None:
                text = str(labels[row])
                if proba is not None:
                    text += f" {proba[row].max():.0%}"
                ax.text(x, y - 4, text, color="black", fontsize=9, va="bottom",
                        bbox={"facecolor": "lime", "edgecolor": "none", "pad": 1})
            if bars and proba is not None:
                inset = ax.inset_axes([x + w + 0.02 * image.shape[1], y, 0.3 * w + 40, h],
                                      transform=ax.transData)
                inset.barh(np.arange(len(names)), proba[row], color="tab:blue")
                inset.set_yticks(np.arange(len(names)), names, fontsize=6)
                inset.set_xlim(0, 1)
                inset.invert_yaxis()
                inset.tick_params(axis="x", labelsize=6)
                self.bar_axes_.append(inset)
        self.ax_, self.figure_ = ax, ax.figure
        return self
