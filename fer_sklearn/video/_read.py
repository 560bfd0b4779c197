"""Frames of a clip, decoded one at a time and passed through the one image reader.

Video files are decoded by OpenCV's ``VideoCapture``: the opencv-python(-headless)
4.x wheel this library already needs for face detection carries its own FFmpeg
build, so mp4 (H.264, MPEG-4), avi, mov, mkv and webm open with no system
ffmpeg and no second decoding library. Animated GIF, APNG and WebP are read
frame by frame with Pillow, whose frame durations give their times.
"""

import math
import os
from pathlib import Path

import numpy as np

from ..faces import read_image
from ..faces._io import IMAGE_SUFFIXES

VIDEO_SUFFIXES = (".mp4", ".m4v", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv")
"""File suffixes read as video by OpenCV (case-insensitive); animated images
(GIF, APNG, WebP) are read with Pillow."""


class Clip:
    """A clip's frames, read lazily, with what is known of it before reading.

    Iterating yields ``(index, time, pixels)`` for every ``step``-th frame:
    ``index`` counts every frame of the clip from 0, ``time`` is in seconds
    (NaN when the frame rate is unknown), ``pixels`` comes from
    :func:`~fer_sklearn.faces.read_image` in ``mode``. Skipped frames are not
    converted. Nothing is kept between frames.
    """

    def __init__(self, source, *, frame_rate=None, step=1, mode="L"):
        self.source = source
        self.step = step
        self.mode = mode
        self.name = os.fspath(source) if _is_path(source) else None
        self.frame_rate = frame_rate
        self.n_frames = None  # None: unknown until read
        if self.name is not None:
            path = Path(self.name)
            if not path.is_file():
                raise FileNotFoundError(f"{self.name}: no such video file")
            if path.suffix.lower() in VIDEO_SUFFIXES:
                self._kind = "video"
                capture = self._capture()
                rate = capture.get(_cv2().CAP_PROP_FPS)
                count = capture.get(_cv2().CAP_PROP_FRAME_COUNT)
                capture.release()
                self.frame_rate = frame_rate or (rate if rate and math.isfinite(rate) else None)
                self.n_frames = int(count) if count and count > 0 else None
            elif path.suffix.lower() in IMAGE_SUFFIXES:
                self._kind = "image"
                self.n_frames, durations = _image_frames(self.name)
                # The file's own frame durations time it, unless a frame rate is given.
                self._timed = frame_rate is None and sum(durations) > 0
                if self._timed:
                    self.frame_rate = len(durations) / (sum(durations) / 1000)
            else:
                raise ValueError(f"{self.name}: not a video ({', '.join(VIDEO_SUFFIXES)}) "
                                 f"nor an animated image ({', '.join(IMAGE_SUFFIXES)})")
        elif isinstance(source, np.ndarray):
            if source.ndim not in (3, 4):
                raise ValueError(f"an array of frames must have shape (n, H, W) or "
                                 f"(n, H, W, C), got {source.shape}")
            self._kind = "frames"
            self.n_frames = len(source)
        elif hasattr(source, "__iter__") and not isinstance(source, (str, bytes, dict)):
            self._kind = "frames"
            self.n_frames = len(source) if hasattr(source, "__len__") else None
        else:
            raise TypeError("video must be a video file, an animated image file or an "
                            f"iterable of frames, got {type(source).__name__}")

    def _capture(self):
        capture = _cv2().VideoCapture(self.name)
        if not capture.isOpened():
            capture.release()
            raise ValueError(f"{self.name}: cannot be decoded as a video")
        return capture

    def time(self, index):
        return index / self.frame_rate if self.frame_rate else math.nan

    def __iter__(self):
        if self._kind == "video":
            return self._video()
        if self._kind == "image":
            return self._animation()
        return self._frames()

    def _video(self):
        capture = self._capture()
        try:
            index = 0
            while True:
                if index % self.step:
                    if not capture.grab():  # decode-free skip
                        return
                else:
                    ok, bgr = capture.read()
                    if not ok:
                        return
                    # OpenCV decodes to BGR; the reader takes RGB.
                    yield index, self.time(index), read_image(bgr[:, :, ::-1], mode=self.mode)
                index += 1
        finally:
            capture.release()

    def _animation(self):
        from PIL import Image, ImageSequence

        with Image.open(self.name) as image:
            elapsed = 0.0
            for index, frame in enumerate(ImageSequence.Iterator(image)):
                duration = frame.info.get("duration") or 0
                if index % self.step == 0:
                    time = elapsed / 1000 if self._timed else self.time(index)
                    # copy(): one frame on its own, which the reader takes as it is.
                    yield index, time, read_image(frame.copy(), mode=self.mode)
                elapsed += duration

    def _frames(self):
        for index, frame in enumerate(self.source):
            if index % self.step == 0:
                try:
                    pixels = read_image(frame, mode=self.mode)
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"frame {index}: {exc}") from None
                yield index, self.time(index), pixels


def _image_frames(name):
    """Frame count and per-frame durations (ms) of an image file, animated or not."""
    from PIL import Image, ImageSequence

    read_image(name)  # the reader's checks (a bomb, a corrupt file) with its messages
    with Image.open(name) as image:
        durations = [frame.info.get("duration") or 0 for frame in ImageSequence.Iterator(image)]
    return len(durations), durations


def _is_path(source):
    return isinstance(source, (str, os.PathLike))


def _cv2():
    import cv2

    return cv2
