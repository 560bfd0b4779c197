"""predict_video: a clip in, one row per (frame, face) out, in bounded memory."""

import math
import numbers
import os
from types import MappingProxyType

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from .._labels import class_names
from .._progress import ProgressLine
from ..faces._align import _check_framing, crop_face
from ..faces._detect import _detect_one, _detect_params, resolve_detector
from ._read import Clip, _is_path
from ._track import Tracker

# Detection settings for video, chosen on the clip benchmark
# (benchmarks/bench_video.py): upright passes only (and for Haar one cascade at
# coarser scale steps). A photo gets more passes because one look is all it
# gets; a clip looks again every few frames, and the tracker bridges a missed
# frame, so one pass at a fraction of the cost is the better trade.
VIDEO_DETECTOR = MappingProxyType({
    "yunet": MappingProxyType({"retry_angles": ()}),
    "haar": MappingProxyType({"cascades": ("frontalface_alt2",), "angles": (0,),
                              "scale_factor": 1.1, "min_score": 3,
                              "min_relative_score": 0.1})})
"""The :func:`~fer_sklearn.faces.detect_faces` settings :func:`predict_video`
uses, per detector (read-only; pass ``detector_params`` to change them): YuNet
without the turned retries; for Haar one upright pass of ``frontalface_alt2``
at scale steps of 1.1, about a twentieth of the time of its photograph
defaults on a 640x480 frame."""


def predict_video(video, estimator=None, *, step=1, rate=None, detect_every=5,
                  min_face_size=0.1, detection_width=None, smoothing=None, frame_rate=None,
                  framing=None, detector="auto", detector_params=None, batch_size=64,
                  n_jobs=None,
                  verbose=False):
    """The emotion of every face in every analysed frame of a clip, with face tracks.

    Frames are decoded one at a time (see :class:`VIDEO_SUFFIXES
    <fer_sklearn.video.VIDEO_SUFFIXES>` for the formats), searched for faces
    (``detector``, with :data:`VIDEO_DETECTOR`) every ``detect_every``
    analysed frames, the faces cut as FER2013 frames them
    (:func:`~fer_sklearn.faces.crop_face`) and classified in batches of
    ``batch_size``; each frame is dropped once its
    faces are cut, so memory does not grow with the clip's length (only the
    returned table does, by one row per face and frame).

    **Tracks.** Each face carries a track id: the same person keeps it from
    frame to frame. Detections are matched to tracks by box overlap (IoU at
    least 0.2 with the track's box carried forward at its last velocity,
    assigned by the Hungarian algorithm, as SORT does without its Kalman
    filter; Bewley et al., 2016). A detection that matches no track starts a
    new one; a track unmatched for more than one second (and two detection
    rounds) ends, and the face, if seen again, gets a new id. Between detection
    rounds each track's box is carried forward at its velocity (the
    ``detected`` column says which boxes the detector drew).

    Parameters
    ----------
    video : str, path-like, list of them, ndarray or iterable of frames
        A video file (see :data:`VIDEO_SUFFIXES
        <fer_sklearn.video.VIDEO_SUFFIXES>`), an animated GIF, APNG or WebP
        file, or frames: an array of shape (n, H, W) or (n, H, W, C), or any
        iterable of anything :func:`~fer_sklearn.faces.read_image` reads
        (RGB arrays, PIL images), consumed once, lazily. A list of file paths
        is several clips, processed in parallel (``n_jobs``).
    estimator : fitted classifier or None, default=None
        A classifier of FER2013-framed faces, ``(n, side * side)`` grey pixels
        0..255, with ``predict_proba`` and ``classes_`` (a
        :class:`~fer_sklearn.FERCNNClassifier`, or a pipeline ending in one).
        None: the shipped FER2013 model for detected faces
        (``load_pretrained("fer2013", faces=True)``, see
        :func:`~fer_sklearn.pretrained.load_pretrained`).
    step : int, default=1
        Analyse every ``step``-th frame (frames in between are skipped without
        being converted).
    rate : float or None, default=None
        Analyse about this many frames per second instead (``step`` is then
        the clip's frame rate divided by ``rate``, rounded, at least 1).
    detect_every : int, default=5
        Run the face detector on every ``detect_every``-th analysed frame; in
        between, the tracks' boxes are carried forward. 1 detects in every
        analysed frame (slower; finds a face entering the picture sooner).
    min_face_size : float or int, default=0.1
        Smallest face sought: a fraction of the frame's shorter side when
        below 1, else pixels. The detector searches the frame shrunk so that
        this size becomes 36 pixels (a 640x480 frame with 0.1: 480x360).
    detection_width : int or None, default=None
        Also shrink the frame searched to at most this many pixels wide (a
        faster, shorter-sighted search of large frames); faces are still cut
        from the full frame.
    smoothing : float or None, default=None
        Time constant in seconds of an exponential moving average of each
        track's probabilities (a causal first-order low-pass filter: weight
        ``1 - exp(-dt / smoothing)`` for a row ``dt`` seconds after the
        track's previous one); None for none. The label is the top class of
        the smoothed probabilities.
    frame_rate : float or None, default=None
        Frames per second, for frames given as arrays or an iterable (a file's
        own rate is read from it); without it their ``time`` is NaN.
    framing : tuple of 3 floats or None, default=None
        See :func:`~fer_sklearn.faces.crop_face`.
    detector : {"auto", "yunet", "haar"}, default="auto"
        The face detector, see :func:`~fer_sklearn.faces.detect_faces`.
    detector_params : dict or None, default=None
        Settings of the detector replacing the video defaults
        (:data:`VIDEO_DETECTOR`: upright passes only).
    batch_size : int, default=64
        Faces classified together.
    n_jobs : int or None, default=None
        For a list of clips: clips processed in parallel by joblib (processes;
        a Dask cluster through ``joblib.parallel_backend("dask")``). None means 1.
    verbose : bool, default=False
        Show a progress line (frames done, frames/s, time left) on stderr.

    Returns
    -------
    predictions : pandas.DataFrame
        One row per face in each analysed frame, and one row for an analysed
        frame without a face (``track`` <NA>, box, probabilities and label
        NaN). Columns: ``video`` (the path, for a list of clips only),
        ``frame`` (index in the clip, from 0), ``time`` (seconds), ``track``,
        ``x``, ``y``, ``width``, ``height`` (the detector's box, pixels of the
        frame), ``detected``, ``proba_<class>`` for each class (names as in
        :func:`~fer_sklearn.faces.FaceDisplay`: emotion names for FER2013's
        0..6), ``label``.

    Raises
    ------
    FileNotFoundError
        A video file does not exist.
    ValueError
        A file cannot be decoded, a frame cannot be read (the message names
        its index), or a parameter is out of range.
    TypeError
        ``video`` is none of the above.

    See Also
    --------
    track_summary : The share of time each track spends in each emotion.
    EmotionTimelineDisplay : Probabilities over time, per track.
    annotate_video : The clip with boxes and labels drawn.

    Examples
    --------
    >>> from fer_sklearn.video import predict_video, track_summary
    >>> predictions = predict_video("interview.mp4", smoothing=0.5)  # doctest: +SKIP
    >>> track_summary(predictions)  # doctest: +SKIP
    """
    settings = _check_settings(step=step, rate=rate, detect_every=detect_every,
                               min_face_size=min_face_size, detection_width=detection_width,
                               smoothing=smoothing, frame_rate=frame_rate, framing=framing,
                               detector=detector, detector_params=detector_params,
                               batch_size=batch_size)
    if estimator is None:
        from ..pretrained import load_pretrained

        estimator = load_pretrained("fer2013", faces=True)[-1]
    if not (hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_")):
        raise TypeError("estimator must be a fitted classifier with predict_proba and "
                        f"classes_, got {type(estimator).__name__}")
    if not _is_clip_list(video):
        return _predict_clip(video, estimator, settings, verbose)
    progress = ProgressLine("clips", len(video), unit="clips", enabled=verbose)
    tables = []
    for path, table in zip(video, Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_predict_clip)(path, estimator, settings, False) for path in video)):
        table.insert(0, "video", os.fspath(path))
        tables.append(table)
        progress.update()
    progress.close()
    return pd.concat(tables, ignore_index=True)


def _is_clip_list(video):
    return isinstance(video, (list, tuple)) and len(video) > 0 and all(map(_is_path, video))


def _check_settings(*, step, rate, detect_every, min_face_size, detection_width, smoothing,
                    frame_rate, framing, detector, detector_params, batch_size):
    def positive_int(name, value):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")

    def positive(name, value):
        if value is not None and not (isinstance(value, numbers.Real) and not isinstance(
                value, bool) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number or None, got {value!r}")

    positive_int("step", step)
    positive_int("detect_every", detect_every)
    positive_int("batch_size", batch_size)
    for name, value in [("rate", rate), ("smoothing", smoothing), ("frame_rate", frame_rate),
                        ("min_face_size", min_face_size)]:
        positive(name, value)
    if min_face_size is None:
        raise ValueError("min_face_size must be a positive number, got None")
    if detection_width is not None:
        positive_int("detection_width", detection_width)
    _check_framing(framing)
    name = resolve_detector(detector)
    params = _detect_params(detector=detector, min_size=min_face_size,
                            max_width=detection_width,
                            detector_params={**VIDEO_DETECTOR[name], **(detector_params or {})})
    return dict(step=step, rate=rate, detect_every=detect_every, smoothing=smoothing,
                frame_rate=frame_rate, framing=framing, batch_size=batch_size, params=params)


def _predict_clip(source, estimator, settings, verbose):
    clip = Clip(source, frame_rate=settings["frame_rate"])
    if settings["rate"] is not None:
        if not clip.frame_rate:
            raise ValueError("rate needs the clip's frame rate, which is unknown here; "
                             "pass frame_rate, or use step")
        clip.step = max(1, round(clip.frame_rate / settings["rate"]))
    else:
        clip.step = settings["step"]
    side = math.isqrt(int(estimator.n_features_in_))
    names = class_names(estimator.classes_)
    # A track outlives one second unseen (25 frames where the rate is unknown),
    # and at least two detection rounds.
    max_age = max(round(clip.frame_rate or 25), 2 * settings["detect_every"] * clip.step)
    # Each track keeps the tilt and the landmarks (relative to its box) of its
    # last detection, so that frames between detections are cut the same way.
    tracker, angles, landmarks = Tracker(max_age=max_age), {}, {}
    rows, waiting, probas = [], [], []
    progress = ProgressLine(clip.name or "frames", clip.n_frames, enabled=verbose)

    def classify():
        probas.append(estimator.predict_proba(np.array(waiting, np.float32)))
        waiting.clear()

    for n, (index, time, gray) in enumerate(clip):
        detected = n % settings["detect_every"] == 0
        if detected:
            faces = _detect_one(gray, settings["params"])
            for track, face in zip(tracker.update(index, faces[:, :4]), faces):
                angles[track] = face[5]
                landmarks[track] = (face[6:].reshape(5, 2) - face[:2]) / face[2]
        tracks, boxes = tracker.current(index)
        if not tracks:
            rows.append((index, time, pd.NA, np.nan, np.nan, np.nan, np.nan, detected))
        for track, box in sorted(zip(tracks, boxes), key=lambda pair: pair[0]):
            waiting.append(crop_face(gray, box, angle=angles[track],
                                     landmarks=box[:2] + landmarks[track] * box[2], size=side,
                                     framing=settings["framing"]).ravel())
            rows.append((index, time, track, *box, detected))
        if len(waiting) >= settings["batch_size"]:
            classify()
        progress.update(clip.step)
    if waiting:
        classify()
    progress.close()

    table = pd.DataFrame(rows, columns=["frame", "time", "track", "x", "y", "width", "height",
                                        "detected"])
    table = table.astype({"frame": np.int64, "time": float, "track": "Int64",
                          "detected": bool})
    has_face = table["track"].notna().to_numpy()
    proba = np.full((len(table), len(names)), np.nan)
    if probas:
        proba[has_face] = np.concatenate(probas)
    if settings["smoothing"] is not None:
        proba = _smooth(table, proba, settings["smoothing"])
    for column, name in enumerate(names):
        table[f"proba_{name}"] = proba[:, column]
    table["label"] = pd.Series([names[i] for i in proba[has_face].argmax(axis=1)],
                               index=table.index[has_face], dtype=object)
    return table


def _smooth(table, proba, seconds):
    """Each track's probabilities through a causal exponential moving average in time."""
    times = table["time"].to_numpy()
    smoothed = proba.copy()
    for _, index in table[table["track"].notna()].groupby("track").indices.items():
        index = table.index[table["track"].notna()][index]
        if np.isnan(times[index]).any():
            raise ValueError("smoothing needs each frame's time, unknown here; pass "
                             "frame_rate")
        state = proba[index[0]]
        for previous, row in zip(index[:-1], index[1:]):
            weight = 1.0 - math.exp(-(times[row] - times[previous]) / seconds)
            state = weight * proba[row] + (1.0 - weight) * state
            smoothed[row] = state
    return smoothed


def track_summary(predictions):
    """How long each track lasts and the share of its frames in each emotion.

    Parameters
    ----------
    predictions : pandas.DataFrame
        As :func:`predict_video` returns it.

    Returns
    -------
    summary : pandas.DataFrame
        One row per track (indexed by ``video`` and ``track`` for several
        clips, else by ``track``): ``start`` and ``end`` (seconds, the first
        and last analysed frame with the face), ``n_frames`` (analysed frames
        with the face), ``dominant`` (the most frequent label), and one column
        per class: the share 0..1 of the track's frames with that label --
        the share of its time, since analysed frames are evenly spaced.

    Raises
    ------
    ValueError
        ``predictions`` lacks the columns :func:`predict_video` writes.
    """
    needed = {"time", "track", "label"}
    if not isinstance(predictions, pd.DataFrame) or not needed <= set(predictions.columns):
        raise ValueError(f"predictions must be predict_video's DataFrame, with columns "
                         f"{sorted(needed)} at least")
    names = [c[len("proba_"):] for c in predictions.columns if c.startswith("proba_")]
    keys = ["video", "track"] if "video" in predictions.columns else ["track"]
    faces = predictions[predictions["track"].notna()]
    grouped = faces.groupby(keys, sort=True)
    summary = pd.DataFrame({"start": grouped["time"].min(), "end": grouped["time"].max(),
                            "n_frames": grouped.size(),
                            "dominant": grouped["label"].agg(lambda s: s.value_counts().idxmax())})
    shares = pd.crosstab([faces[k] for k in keys], faces["label"], normalize="index")
    for name in names:
        summary[name] = shares[name] if name in shares.columns else 0.0
    return summary
