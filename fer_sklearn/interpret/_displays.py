"""Matplotlib displays in the style of :class:`sklearn.metrics.ConfusionMatrixDisplay`.

``__init__`` stores the data, ``plot`` draws it and returns the display with
``figure_`` and ``ax_`` (an array of axes) set, and ``from_estimator``
computes the data from a fitted estimator, then plots it.
"""

import numbers

import numpy as np

from .. import EMOTIONS
from ._activations import layer_activations
from ._filters import visualize_filters
from ._network import to_pixels
from ._saliency import saliency_map


def _axes_grid(ax, n_panels, n_cols, panel_size=1.6):
    """Figure and a (rows, n_cols) array of axes: new ones, or ``ax`` checked and reshaped."""
    import matplotlib.pyplot as plt

    n_rows = -(-n_panels // n_cols)
    if ax is None:
        # Constrained layout keeps two-line titles and colour bars off the next row.
        fig, ax = plt.subplots(n_rows, n_cols, squeeze=False, layout="constrained",
                               figsize=(panel_size * n_cols, panel_size * n_rows))
    ax = np.asarray(ax, dtype=object)
    if ax.size != n_rows * n_cols:
        raise ValueError(f"ax must hold {n_rows * n_cols} axes ({n_rows} rows x {n_cols} "
                         f"columns) for {n_panels} panels; got {ax.size}")
    ax = ax.reshape(n_rows, n_cols)
    for axis in ax.flat:
        axis.set_axis_off()
    return ax.flat[0].figure, ax


def _label_name(label, display_labels):
    if display_labels is not None:
        return str(display_labels[label])
    # FER2013 labels are the integers 0..6; name them.
    if isinstance(label, numbers.Integral) and 0 <= label < len(EMOTIONS):
        return EMOTIONS[label]
    return str(label)


def _single_image(estimator, X):
    """``X`` as a batch of one image, for displays of one sample."""
    X = np.asarray(X)
    if X.ndim == 1 or X.shape == tuple(estimator.image_shape_):
        X = X[None]
    if len(X) != 1:
        raise ValueError(f"X must be one image; got {len(X)} samples")
    return X


class SaliencyDisplay:
    """Image, saliency map and overlay for each sample, titled with the emotions.

    Parameters
    ----------
    images : ndarray of shape (n_samples, H, W)
        The images in pixel space.
    saliency : ndarray of shape (n_samples, H, W)
        Their saliency maps.
    y_true, y_pred : array-like of shape (n_samples,), default=None
        True and predicted labels, shown in the titles.
    display_labels : dict or sequence, default=None
        Names of the labels (``display_labels[label]``); None names the
        integer labels 0..6 by :data:`fer_sklearn.EMOTIONS`.
    method : str, default=None
        The saliency method, shown as the title of the map column.

    Attributes
    ----------
    figure_ : matplotlib Figure
    ax_ : ndarray of matplotlib Axes, shape (n_samples, 3)
        Columns: image, map, overlay.

    See Also
    --------
    saliency_map : computes the maps.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from fer_sklearn import FERCNNClassifier
    >>> from fer_sklearn.datasets import make_faces
    >>> from fer_sklearn.interpret import SaliencyDisplay
    >>> X, y = make_faces(100, random_state=0, return_X_y=True)
    >>> clf = FERCNNClassifier(n_filters=4, n_blocks=2, max_epochs=1, random_state=0).fit(X, y)
    >>> disp = SaliencyDisplay.from_estimator(clf, X[:3], y[:3], method="gradcam")
    >>> disp.ax_.shape
    (3, 3)
    """

    def __init__(self, images, saliency, *, y_true=None, y_pred=None, display_labels=None,
                 method=None):
        self.images = images
        self.saliency = saliency
        self.y_true = y_true
        self.y_pred = y_pred
        self.display_labels = display_labels
        self.method = method

    def plot(self, *, ax=None, cmap="inferno", alpha=0.5, colorbar=True):
        """Plot image, map and overlay, one row per sample.

        Parameters
        ----------
        ax : array of matplotlib Axes of size n_samples * 3, default=None
            None makes a new figure.
        cmap : str, default="inferno"
            Colormap of the maps (signed maps are shown by absolute value).
        alpha : float, default=0.5
            Opacity of the map over the image in the overlay.
        colorbar : bool, default=True
            A colour bar beside each map, from its smallest to its largest
            value: each sample's map has its own scale, shared by its overlay.
            The values are absolute attributions of the network's input (for
            ``"gradient"``, the gradient of the class logit with respect to
            each standardised pixel).

        Returns
        -------
        display : SaliencyDisplay
        """
        n = len(self.images)
        self.figure_, self.ax_ = _axes_grid(ax, 3 * n, 3, panel_size=2.0)
        for i in range(n):
            image, heat = self.images[i], np.abs(self.saliency[i])
            ax_image, ax_map, ax_overlay = self.ax_[i]
            ax_image.imshow(image, cmap="gray")
            shown = ax_map.imshow(heat, cmap=cmap)
            if colorbar:
                self.figure_.colorbar(shown, ax=ax_map, fraction=0.046, pad=0.04)
            ax_overlay.imshow(image, cmap="gray")
            ax_overlay.imshow(heat, cmap=cmap, alpha=alpha)
            title = [f"{kind}: {_label_name(labels[i], self.display_labels)}"
                     for kind, labels in (("true", self.y_true), ("pred", self.y_pred))
                     if labels is not None]
            ax_image.set_title("\n".join(title), fontsize="small")
        self.ax_[0, 1].set_title(self.method or "saliency", fontsize="small")
        self.ax_[0, 2].set_title("overlay", fontsize="small")
        return self

    @classmethod
    def from_estimator(cls, estimator, X, y=None, *, target=None, method="gradient",
                       display_labels=None, ax=None, cmap="inferno", alpha=0.5, colorbar=True,
                       **method_params):
        """Compute saliency maps with :func:`saliency_map` and plot them.

        Parameters
        ----------
        estimator : FERCNNClassifier or FERDNNClassifier
            A fitted estimator.
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, 1, H, W)
            A few images in pixel space.
        y : array-like of shape (n_samples,), default=None
            True labels, for the titles.
        target, method, **method_params
            As for :func:`saliency_map` (by default the predicted class is explained).
        display_labels, ax, cmap, alpha, colorbar
            As for the constructor and :meth:`plot`.

        Returns
        -------
        display : SaliencyDisplay
        """
        saliency = saliency_map(estimator, X, target, method=method, **method_params)
        images = to_pixels(estimator, estimator.to_tensor(X))
        display = cls(images, saliency, y_true=y, y_pred=estimator.predict(X),
                      display_labels=display_labels, method=method)
        return display.plot(ax=ax, cmap=cmap, alpha=alpha, colorbar=colorbar)


def _plot_grid(display, maps, titles, ax, n_cols, cmap, colorbar_label=None):
    """Maps in a grid; with ``colorbar_label``, on one shared scale with one colour bar."""
    display.figure_, display.ax_ = _axes_grid(ax, len(maps), n_cols)
    scale = {}
    if colorbar_label is not None:
        scale = {"vmin": float(np.min(maps)), "vmax": float(np.max(maps))}
    for axis, image, title in zip(display.ax_.flat, maps, titles):
        shown = axis.imshow(image, cmap=cmap, **scale)
        axis.set_title(title, fontsize="small")
    if colorbar_label is not None:
        display.figure_.colorbar(shown, ax=display.ax_.ravel().tolist(), shrink=0.8,
                                 label=colorbar_label)
    return display


class FilterDisplay:
    """Grid of filter visualisations: one synthesised image per filter.

    Parameters
    ----------
    images : ndarray of shape (n_filters, H, W)
        As :func:`visualize_filters` returns them.
    filters : array-like of int, default=None
        Filter numbers, for the titles; None numbers them 0..n_filters-1.
    layer : str, default=None
        Layer name, for the figure title.

    Attributes
    ----------
    figure_ : matplotlib Figure
    ax_ : ndarray of matplotlib Axes, shape (n_rows, n_cols)

    See Also
    --------
    visualize_filters : computes the images.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from fer_sklearn import FERCNNClassifier
    >>> from fer_sklearn.datasets import make_faces
    >>> from fer_sklearn.interpret import FilterDisplay
    >>> X, y = make_faces(100, random_state=0, return_X_y=True)
    >>> clf = FERCNNClassifier(n_filters=4, n_blocks=1, max_epochs=1, random_state=0).fit(X, y)
    >>> disp = FilterDisplay.from_estimator(clf, "relu1_2", n_steps=8, random_state=0)
    >>> disp.ax_.shape
    (1, 8)
    """

    def __init__(self, images, *, filters=None, layer=None):
        self.images = images
        self.filters = filters
        self.layer = layer

    def plot(self, *, ax=None, n_cols=8, cmap="gray"):
        """Plot the images as a grid.

        Parameters
        ----------
        ax : array of matplotlib Axes, default=None
            As many as the grid has cells; None makes a new figure.
        n_cols : int, default=8
            Images per row of the grid.
        cmap : str, default="gray"
            Matplotlib colormap of the images.

        Returns
        -------
        display : FilterDisplay
        """
        filters = range(len(self.images)) if self.filters is None else self.filters
        _plot_grid(self, self.images, [f"filter {f}" for f in filters], ax, n_cols, cmap)
        if self.layer is not None:
            self.figure_.suptitle(self.layer)
        return self

    @classmethod
    def from_estimator(cls, estimator, layer, filters=None, *, ax=None, n_cols=8, cmap="gray",
                       **params):
        """Visualise filters with :func:`visualize_filters` and plot them.

        Parameters
        ----------
        estimator : FERCNNClassifier or FERDNNClassifier
            A fitted estimator.
        layer, filters, **params
            As for :func:`visualize_filters`.
        ax, n_cols, cmap
            As for :meth:`plot`.

        Returns
        -------
        display : FilterDisplay
        """
        result = visualize_filters(estimator, layer, filters, **params)
        display = cls(result.images, filters=result.filters, layer=result.layer)
        return display.plot(ax=ax, n_cols=n_cols, cmap=cmap)


class ActivationDisplay:
    """Grid of a layer's activation maps (one per channel) for one image.

    Parameters
    ----------
    activations : ndarray of shape (n_channels, h, w)
        One sample of :func:`layer_activations`.
    channels : array-like of int, default=None
        Channel numbers, for the titles; None numbers them 0..n_channels-1.
    layer : str, default=None
        Layer name, for the figure title.

    Attributes
    ----------
    figure_ : matplotlib Figure
    ax_ : ndarray of matplotlib Axes, shape (n_rows, n_cols)

    See Also
    --------
    layer_activations : computes the maps.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from fer_sklearn import FERCNNClassifier
    >>> from fer_sklearn.datasets import make_faces
    >>> from fer_sklearn.interpret import ActivationDisplay
    >>> X, y = make_faces(100, random_state=0, return_X_y=True)
    >>> clf = FERCNNClassifier(n_filters=4, n_blocks=1, max_epochs=1, random_state=0).fit(X, y)
    >>> disp = ActivationDisplay.from_estimator(clf, X[0], "relu1_1")
    >>> disp.ax_.shape
    (1, 8)
    """

    def __init__(self, activations, *, channels=None, layer=None):
        self.activations = activations
        self.channels = channels
        self.layer = layer

    def plot(self, *, ax=None, n_cols=8, cmap="viridis", colorbar=True):
        """Plot the maps as a grid.

        Parameters
        ----------
        ax : array of matplotlib Axes, default=None
            As many as the grid has cells; None makes a new figure.
        n_cols : int, default=8
            Maps per row of the grid.
        cmap : str, default="viridis"
            Matplotlib colormap of the maps.
        colorbar : bool, default=True
            Draw all maps on one scale, from the smallest to the largest value
            among them (the layer's outputs, unitless; 0 and up after a
            ReLU), with one colour bar; False scales each map to its own
            range, with no bar.

        Returns
        -------
        display : ActivationDisplay
        """
        channels = range(len(self.activations)) if self.channels is None else self.channels
        _plot_grid(self, self.activations, [f"channel {c}" for c in channels], ax, n_cols, cmap,
                   colorbar_label="activation" if colorbar else None)
        if self.layer is not None:
            self.figure_.suptitle(self.layer)
        return self

    @classmethod
    def from_estimator(cls, estimator, X, layer, *, channels=None, ax=None, n_cols=8,
                       cmap="viridis", colorbar=True):
        """Compute one image's activations with :func:`layer_activations` and plot them.

        Parameters
        ----------
        estimator : FERCNNClassifier or FERDNNClassifier
            A fitted estimator.
        X : array-like of shape (n_features,), (H, W) or a batch of one image
            The image, in pixel space.
        layer : str or int
            As for :func:`layer_activations`.
        channels : array-like of int, default=None
            Channels to show; None shows all.
        ax, n_cols, cmap, colorbar
            As for :meth:`plot`.

        Returns
        -------
        display : ActivationDisplay
        """
        activations = layer_activations(estimator, _single_image(estimator, X), layer)[0]
        if channels is not None:
            channels = np.asarray(channels)
            if channels.min() < 0 or channels.max() >= len(activations):
                raise ValueError(f"channels {channels.tolist()} out of range; valid channels "
                                 f"are 0..{len(activations) - 1}")
            activations = activations[channels]
        display = cls(activations, channels=channels, layer=layer)
        return display.plot(ax=ax, n_cols=n_cols, cmap=cmap, colorbar=colorbar)
