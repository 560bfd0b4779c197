"""YuNet, a CNN face detector with five landmarks, through the ``yuface`` wheel.

YuNet (Wu, Peng & Yu, 2023) is the detector of libfacedetection (BSD-3-Clause),
compiled with its weights into the ``yuface`` wheel (475 KB): nothing is
downloaded. It returns a box, a confidence and five landmarks (eye centres,
nose tip, mouth corners) per face. The wheel exists for CPython 3.9-3.11 on
x86-64 Linux and Windows and its code needs AVX2, so :func:`available` says
whether this machine can run it; elsewhere ``detector="auto"`` falls back to
the Haar cascades.
"""

import functools
import os
import sys
import threading

import numpy as np

from ._boxes import eye_angle, merge, search_image, turned

# The photo is searched at this longest side at most (unless the smallest face
# sought would then fall under _MIN_FACE pixels): YuNet finds faces down to
# about 10 pixels, and a 640x480 search costs ~40 ms on one core.
_SEARCH_SIDE = 640
_MIN_FACE = 20

SCORE_THRESHOLD = 0.6
"""YuNet's confidence (0..1) a face needs. On the scene benchmark
(``benchmarks/bench_faces.py``, 300 scenes, with the turned retries), 0.5 / 0.6 /
0.7 gave 99.0 / 98.0 / 97.7% recall and 0.060 / 0.030 / 0.017 false detections
per photo."""

RETRY_ANGLES = (-15.0, 15.0, -30.0, 30.0)
"""Turns searched where the upright pass finds no face (degrees). On the scene
benchmark they lift recall from 94.3% to 98.0% (false detections 0.027 and
0.030 per photo); only photos without a face pay for them, so the median time
per photo does not move."""


_LOADING = threading.RLock()  # the library's first load and its model's first use, once


@functools.cache
def available():
    """Whether the ``yuface`` wheel is installed and this CPU can run it (AVX2)."""
    import torch

    # libfacedetection is compiled for AVX2: on an older CPU it would die of an
    # illegal instruction, not raise, so the CPU is asked first.
    if torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"):
        return False
    try:
        with _LOADING:
            _search(np.zeros((32, 32), np.uint8), 1.0)  # loads the library, sets up its model
    except (ImportError, OSError, AttributeError):
        return False
    return True


# libfacedetection's result buffer: an int32 face count, then 16 int16 per face
# (confidence 0..100, box, ten landmark coordinates, one unused).
_BUFFER_BYTES = 0x9000
_LOCAL = threading.local()


@functools.cache
def _facedetect_cnn():
    """libfacedetection's ``facedetect_cnn``, called through ctypes.

    Not through yuface's own ``detect``: that allocates a 36 KB result buffer
    per call and never frees it (measured: 35 MB more memory per 1,000
    detections, so a long clip's memory would grow without end), and it holds
    the GIL. Here each thread passes a buffer of its own, reused, and ctypes
    lets the other threads run meanwhile. The symbol's name is the C++ one of
    ``int *facedetect_cnn(unsigned char *, unsigned char *, int, int, int)``.
    """
    import ctypes

    with _LOADING:  # one thread loads, with the environment as it was
        # On Linux yuface bundles its own OpenMP runtime, whose threads spin
        # between calls unless told to wait passively (measured: 1.35 cores busy
        # against 0.99 for the same detections); the runtime reads the setting
        # once, when importing yuface's module loads it. A user's own setting wins.
        unset = "OMP_WAIT_POLICY" not in os.environ
        if unset:
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        try:
            import yuface.yuface
        finally:
            if unset:
                del os.environ["OMP_WAIT_POLICY"]
    folder = os.path.dirname(yuface.yuface.__file__)
    if sys.platform == "win32":
        path, symbol = "facedetection.dll", "?facedetect_cnn@@YAPEAHPEAE0HHH@Z"
    else:  # the file yuface's module links to (its soname), so the copy loaded is reused
        names = sorted(name for name in os.listdir(folder)
                       if name.startswith("libfacedetection.so"))
        path, symbol = names[-1], "_Z14facedetect_cnnPhS_iii"
    function = getattr(ctypes.CDLL(os.path.join(folder, path)), symbol)
    function.restype = ctypes.c_void_p
    function.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                         ctypes.c_int]
    return function


def settings(*, score_threshold=SCORE_THRESHOLD, retry_angles=RETRY_ANGLES):
    """The checked settings of YuNet (``detector_params`` of ``"yunet"``)."""
    if not (isinstance(score_threshold, (int, float)) and 0 <= score_threshold <= 1):
        raise ValueError(f"score_threshold must be a number in [0, 1], got {score_threshold!r}")
    retry_angles = tuple(float(a) for a in np.atleast_1d(retry_angles))
    if any(not abs(a) <= 90 for a in retry_angles):
        raise ValueError(f"retry_angles must be degrees in [-90, 90], got {retry_angles}")
    return dict(score_threshold=float(score_threshold), retry_angles=retry_angles)


def _search(view, threshold):
    """YuNet on one grey image: rows of box, score (0..1), ten landmark coordinates."""
    buffer = getattr(_LOCAL, "buffer", None)
    if buffer is None:
        buffer = _LOCAL.buffer = np.zeros(_BUFFER_BYTES, np.uint8)
    bgr = np.ascontiguousarray(np.repeat(view[:, :, None], 3, axis=2))
    height, width = view.shape
    _facedetect_cnn()(buffer.ctypes.data, bgr.ctypes.data, width, height, 3 * width)
    count = int(buffer[:4].view(np.int32)[0])
    found = buffer[4:4 + 32 * count].view(np.int16).reshape(count, 16).astype(float)
    found = found[found[:, 0] >= 100 * threshold]
    return np.hstack([found[:, 1:5], found[:, :1] / 100, found[:, 5:15]])


def detect(gray, min_side, params):
    """Faces of one grey image, an (n, 16) array in its pixels.

    Columns: box (x, y, w, h), score (0..1), angle (from the eyes), then the
    five landmarks' x, y.
    """
    small, scale = search_image(
        gray, min(1.0, max(_SEARCH_SIDE / max(gray.shape), _MIN_FACE / max(min_side, 1.0))),
        params.get("max_width"))
    threshold, smallest = params["score_threshold"], min_side * scale
    faces = _search(small, threshold)
    faces = faces[faces[:, 2] >= smallest]
    if not len(faces) and params["retry_angles"]:
        found = []
        for angle in params["retry_angles"]:
            view, inverse = turned(small, angle)
            hits = _search(view, threshold)
            for hit in hits[hits[:, 2] >= smallest]:
                cx, cy = inverse @ (hit[0] + hit[2] / 2, hit[1] + hit[3] / 2, 1)
                points = hit[5:15].reshape(5, 2) @ inverse[:, :2].T + inverse[:, 2]
                found.append([cx - hit[2] / 2, cy - hit[3] / 2, *hit[2:5], *points.ravel()])
        # The same face seen at two turns is one face, kept at its best turn.
        faces = merge(np.array(found, float).reshape(-1, 15), 0.3, score="max")
    faces[:, :4] /= scale
    faces[:, 5:] /= scale
    angles = np.array([eye_angle(face[5:9]) for face in faces]).reshape(-1, 1)
    return np.hstack([faces[:, :5], angles, faces[:, 5:]])
