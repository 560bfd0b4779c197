"""annotate_video: the clip again, with each face's box, track and emotion drawn."""

import os

import numpy as np

from .._output import atomic_path
from ._read import Clip

# OpenCV's FourCC per container: codecs its wheel's FFmpeg build encodes.
_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}


def annotate_video(video, predictions, path, *, frame_rate=None):
    """Write ``video`` with the boxes, track ids and labels of ``predictions`` drawn.

    Every frame of the clip is written; a frame that was not analysed (see
    ``step`` in :func:`predict_video`) shows the faces of the last analysed
    frame before it. Written under a temporary name and renamed when
    complete, so an error or interrupt leaves no partial file.

    Parameters
    ----------
    video : str, path-like, ndarray or iterable of frames
        The clip given to :func:`predict_video`.
    predictions : pandas.DataFrame
        Its :func:`predict_video` table (one clip).
    path : str or path-like
        The video to write: ``.mp4``, ``.m4v`` or ``.mov`` (MPEG-4 Part 2) or
        ``.avi`` (Motion JPEG). Its folder must exist; an existing file is
        replaced.
    frame_rate : float or None, default=None
        Frames per second of the output for frames given as arrays (a file's
        own rate is kept); None: 25.

    Raises
    ------
    ValueError
        An unsupported suffix, a table with a ``video`` column (several
        clips), or a codec OpenCV cannot open.
    """
    import cv2

    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in _CODECS:
        raise ValueError(f"{path}: annotated video must be one of {sorted(_CODECS)}")
    if "video" in predictions.columns:
        raise ValueError("predictions hold several clips; annotate one clip's rows at a time")
    names = [c[len("proba_"):] for c in predictions.columns if c.startswith("proba_")]
    palette = {name: tuple(int(255 * v) for v in _tab10(i)) for i, name in enumerate(names)}
    faces = predictions[predictions["track"].notna()]
    by_frame = {frame: rows for frame, rows in faces.groupby("frame")}
    analysed = np.unique(predictions["frame"].to_numpy())
    clip = Clip(video, frame_rate=frame_rate, mode="RGB")
    rate = clip.frame_rate or 25.0
    writer = None
    with atomic_path(path) as temp:
        try:
            for index, _, rgb in clip:
                if writer is None:
                    height, width = rgb.shape[:2]
                    writer = cv2.VideoWriter(temp, cv2.VideoWriter_fourcc(*_CODECS[suffix]),
                                             rate, (width, height))
                    if not writer.isOpened():
                        raise ValueError(f"{path}: OpenCV cannot write {suffix} video here")
                # The faces of the last analysed frame at or before this one.
                last = np.searchsorted(analysed, index, side="right") - 1
                bgr = np.ascontiguousarray(rgb[:, :, ::-1])
                if last >= 0 and analysed[last] in by_frame:
                    _draw(bgr, by_frame[analysed[last]], palette)
                writer.write(bgr)
        finally:
            if writer is not None:
                writer.release()
        if writer is None:
            raise ValueError(f"{video}: no frame to write")


def _tab10(i):
    import matplotlib

    r, g, b, _ = matplotlib.colormaps["tab10"](i % 10)
    return b, g, r  # OpenCV draws in BGR


def _draw(bgr, rows, palette):
    import cv2

    thickness = max(1, round(min(bgr.shape[:2]) / 240))
    for row in rows.itertuples():
        colour = palette[row.label]
        x0, y0 = int(round(row.x)), int(round(row.y))
        x1, y1 = int(round(row.x + row.width)), int(round(row.y + row.height))
        cv2.rectangle(bgr, (x0, y0), (x1, y1), colour, thickness)
        proba = getattr(row, f"proba_{row.label}")
        text = f"{row.track}: {row.label} {proba:.0%}"
        scale = 0.5 * thickness
        (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = max(y0 - h - base - 2, 0)
        cv2.rectangle(bgr, (x0, top), (x0 + w + 2, top + h + base + 2), colour, cv2.FILLED)
        cv2.putText(bgr, text, (x0 + 1, top + h + 1), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 0, 0), thickness, cv2.LINE_AA)
