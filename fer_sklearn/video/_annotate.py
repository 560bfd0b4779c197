"""annotate_video: the clip again, with each face's box, track and emotion drawn."""

import os

import numpy as np

from .._output import atomic_path
from ..faces._draw import draw_faces, palette
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
    colours = palette(names)
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
                    draw_faces(bgr, by_frame[analysed[last]], colours, "track")
                writer.write(bgr)
        finally:
            if writer is not None:
                writer.release()
        if writer is None:
            raise ValueError(f"{video}: no frame to write")
