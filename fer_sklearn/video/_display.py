"""EmotionTimelineDisplay: each track's emotion probabilities over a clip's time."""

import numpy as np

from ._predict import predict_video


class EmotionTimelineDisplay:
    """Emotion probabilities over time: one panel per track, one line per class.

    Under each panel's lines, a band coloured by the track's label (its most
    probable emotion) frame by frame; gaps where the face was not seen. In
    the style of :class:`sklearn.metrics.ConfusionMatrixDisplay`: build it
    with :meth:`from_predictions` (a :func:`predict_video` table) or
    :meth:`from_estimator` (runs :func:`predict_video`), then :meth:`plot`.

    Parameters
    ----------
    predictions : pandas.DataFrame
        As :func:`predict_video` returns it.

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes
        One per track, sharing the time axis.
    lines_ : dict
        ``lines_[track][class_name]``: the Line2D of that class in that
        track's panel (``(video, track)`` keys for several clips).
    figure_ : matplotlib Figure
    """

    def __init__(self, predictions):
        self.predictions = predictions

    @classmethod
    def from_predictions(cls, predictions, *, tracks=None, axes=None):
        """Plot a :func:`predict_video` table.

        Parameters
        ----------
        predictions : pandas.DataFrame
            As :func:`predict_video` returns it.
        tracks : list or None, default=None
            The tracks to draw (ids, or ``(video, id)`` pairs for several
            clips); None draws all.
        axes : array-like of matplotlib Axes or None, default=None
            One per track drawn; None makes a new figure.

        Returns
        -------
        display : EmotionTimelineDisplay
        """
        return cls(predictions).plot(tracks=tracks, axes=axes)

    @classmethod
    def from_estimator(cls, estimator, video, *, tracks=None, axes=None, **kwargs):
        """Run :func:`predict_video` on ``video`` and plot its table.

        Parameters
        ----------
        estimator : fitted classifier or None
            As for :func:`predict_video`; None: the shipped FER2013 model.
        video : str, path-like, ndarray or iterable of frames
            As for :func:`predict_video`.
        tracks : list or None, default=None
            The tracks to draw (ids, or ``(video, id)`` pairs for several
            clips); None draws all.
        axes : array-like of matplotlib Axes or None, default=None
            One per track drawn; None makes a new figure.
        **kwargs
            Keyword arguments of :func:`predict_video`.

        Returns
        -------
        display : EmotionTimelineDisplay
        """
        return cls.from_predictions(predict_video(video, estimator, **kwargs), tracks=tracks,
                                    axes=axes)

    def plot(self, *, tracks=None, axes=None):
        """Draw; one panel per track.

        Parameters
        ----------
        tracks : list or None, default=None
            The tracks to draw (ids, or ``(video, id)`` pairs for several
            clips); None draws all.
        axes : array-like of matplotlib Axes or None, default=None
            One per track drawn; None makes a new figure.

        Returns
        -------
        display : EmotionTimelineDisplay
            With ``axes_``, ``lines_`` and ``figure_`` set.

        Raises
        ------
        ValueError
            The table has no face, a track asked for is not in it, or ``axes``
            does not hold one Axes per track.
        """
        import matplotlib.pyplot as plt

        table = self.predictions
        names = [c[len("proba_"):] for c in table.columns if c.startswith("proba_")]
        keys = ["video", "track"] if "video" in table.columns else ["track"]
        faces = table[table["track"].notna()]
        groups = {key: group for key, group in faces.groupby(keys if len(keys) > 1 else keys[0],
                                                             sort=True)}
        if not groups:
            raise ValueError("predictions hold no face to plot")
        if tracks is not None:
            missing = [t for t in tracks if t not in groups]
            if missing:
                raise ValueError(f"tracks {missing} are not in predictions; it has "
                                 f"{list(groups)}")
            groups = {t: groups[t] for t in tracks}
        if axes is None:
            figure, axes = plt.subplots(len(groups), 1, sharex=True, squeeze=False,
                                        figsize=(8, 1.2 + 1.8 * len(groups)),
                                        layout="constrained")
        axes = np.ravel(axes)
        if len(axes) != len(groups):
            raise ValueError(f"axes has {len(axes)} Axes for {len(groups)} tracks")
        use_time = table["time"].notna().all()
        colours = {name: plt.get_cmap("tab10")(i % 10) for i, name in enumerate(names)}
        self.lines_ = {}
        for ax, (key, group) in zip(axes, groups.items()):
            x = (group["time"] if use_time else group["frame"]).to_numpy(float)
            spacing = np.median(np.diff(x)) if len(x) > 1 else 1.0
            # Lines break where the face was not seen (a NaN between the two sides).
            gaps = np.flatnonzero(np.diff(x) > 1.5 * spacing) + 1
            self.lines_[key] = {}
            for name in names:
                y = group[f"proba_{name}"].to_numpy(float)
                (self.lines_[key][name],) = ax.plot(
                    np.insert(x, gaps, np.nan), np.insert(y, gaps, np.nan), lw=1.2,
                    color=colours[name], label=name)
            # The dominant-emotion band, each analysed frame as wide as the
            # spacing of the analysed frames, so gaps in the track stay blank.
            labels = group["label"].to_numpy()
            # One span per run of equal labels on consecutive analysed frames.
            breaks = np.flatnonzero((labels[1:] != labels[:-1])
                                    | (np.diff(x) > 1.5 * spacing)) + 1
            for first, last in zip(np.r_[0, breaks], np.r_[breaks, len(x)] - 1):
                ax.axvspan(x[first] - spacing / 2, x[last] + spacing / 2, ymin=0, ymax=0.06,
                           color=colours[labels[first]], lw=0)
            ax.set_ylim(-0.08, 1.02)
            ax.set_ylabel("probability")
            title = (f"{key[0]} · face {key[1]}" if isinstance(key, tuple)
                     else f"face {key}")
            ax.set_title(title, loc="left", fontsize=10)
        axes[-1].set_xlabel("time (s)" if use_time else "frame")
        axes[0].legend(ncols=min(len(names), 8), fontsize=8, loc="lower left",
                       bbox_to_anchor=(0, 1.12), frameon=False)
        self.axes_, self.figure_ = axes, axes[0].figure
        return self
