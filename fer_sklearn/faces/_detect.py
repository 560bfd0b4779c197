"""Offline face detection: OpenCV's Haar cascades, shipped inside the opencv wheel.

Viola and Jones' boosted cascades of Haar-like features (Viola & Jones, 2001)
are the detector FER2013 itself was cut with (Goodfellow et al., 2013), and
opencv-python(-headless) 4.x ships the trained cascades in ``cv2.data`` -- so
detection never downloads anything. The 5.0 wheels ship no cascades and have
no ``CascadeClassifier``, hence the ``<5`` pin in ``pyproject.toml``.
"""

import math
import threading

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from ._io import read_image

COLUMNS = ("image", "face", "x", "y", "width", "height", "score", "angle",
           "left_eye_x", "left_eye_y", "right_eye_x", "right_eye_y")
# One set of loaded cascades per thread: a CascadeClassifier shared by threads
# fails inside detectMultiScale (an out-of-range error in OpenCV 4.x), and
# n_jobs runs images in threads.
_LOCAL = threading.local()


def _cascade(name):
    """A loaded cascade by file stem, cached per thread (loading parses XML)."""
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportError("face detection needs opencv-python-headless>=4.8,<5") from exc
    cascades = _LOCAL.__dict__.setdefault("cascades", {})
    if name not in cascades:
        if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
            raise ImportError(
                f"OpenCV {cv2.__version__} has no Haar cascades (5.x wheels dropped "
                "them); install opencv-python-headless>=4.8,<5")
        cascade = cv2.CascadeClassifier(f"{cv2.data.haarcascades}haarcascade_{name}.xml")
        if cascade.empty():
            raise ValueError(f"cannot load OpenCV's cascade haarcascade_{name}.xml")
        cascades[name] = cascade
    return cascades[name]


def _rotation(shape, angle):
    """The affine matrix turning an image ``angle`` degrees anticlockwise, and its canvas.

    The canvas grows so no corner is cut off.
    """
    import cv2

    h, w = shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    size = (int(math.ceil(h * sin + w * cos)), int(math.ceil(h * cos + w * sin)))
    matrix[0, 2] += size[0] / 2 - w / 2
    matrix[1, 2] += size[1] / 2 - h / 2
    return matrix, size


def _iou(box, boxes):
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[0] + box[2], boxes[:, 0] + boxes[:, 2])
    y1 = np.minimum(box[1] + box[3], boxes[:, 1] + boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    return inter / (box[2] * box[3] + boxes[:, 2] * boxes[:, 3] - inter)


def _find_eyes(gray, face):
    """Eye centres of one face, in the photo's pixels, or None.

    The face is cut out of the full-resolution photo turned upright (by the
    angle of the pass that found it), and OpenCV's eye cascade is run on the
    upper 60% of the box; the best-supported hit on each side of the box's
    vertical midline is kept. Pairs that cannot be two eyes of that face (too
    close, too far apart, tilted more than 25 degrees) are refused, since a
    wrong pair would rotate the face wrongly.
    """
    import cv2

    x, y, w, h, _, angle = face[:6]
    side = int(round(w))
    if side < 24:  # eyes of fewer than ~3 pixels: nothing to find
        return None
    # Map the upright face box (0..side, 0..0.6 side) into the photo.
    matrix = cv2.getRotationMatrix2D((x + w / 2, y + h / 2), angle, 1.0)
    matrix[:, 2] += (side / 2 - (x + w / 2), side / 2 - (y + h / 2))
    region = cv2.warpAffine(gray, matrix, (side, int(0.6 * side)), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    found, support = _cascade("eye").detectMultiScale2(
        region, scaleFactor=1.1, minNeighbors=3, minSize=(max(side // 10, 6),) * 2,
        maxSize=(side // 2, side // 2))
    centres = [(ex + ew / 2, ey + eh / 2, n)
               for (ex, ey, ew, eh), n in zip(found, np.ravel(support))]
    left = [c for c in centres if c[0] < side / 2]
    right = [c for c in centres if c[0] >= side / 2]
    if not left or not right:
        return None
    left, right = max(left, key=lambda c: c[2]), max(right, key=lambda c: c[2])
    dx, dy = right[0] - left[0], right[1] - left[1]
    if not 0.2 * side <= math.hypot(dx, dy) <= 0.65 * side or abs(math.degrees(math.atan2(dy, dx))) > 25:
        return None
    inverse = cv2.invertAffineTransform(matrix)
    return inverse @ (left[0], left[1], 1), inverse @ (right[0], right[1], 1)


# The detection image is shrunk so the smallest face sought is this many
# pixels wide: the cascades' windows are 20-24 pixels, and searching larger
# images than needed costs time without finding more (measured in
# benchmarks/bench_faces.py).
_DETECTION_SIDE = 36


def _detect_one(source, params):
    """Faces of one image, an (n, 10) array in its own pixels: box, score, angle, eyes."""
    import cv2

    gray = read_image(source, mode="L")
    h, w = gray.shape
    min_side = params["min_size"] * min(h, w) if params["min_size"] < 1 else params["min_size"]
    scale = min(1.0, _DETECTION_SIDE / max(min_side, 1.0))
    if params.get("max_width"):  # a cap on the search image's width (video: speed over reach)
        scale = min(scale, params["max_width"] / w)
    small = gray if scale == 1 else cv2.resize(
        gray, (max(int(round(w * scale)), 1), max(int(round(h * scale)), 1)),
        interpolation=cv2.INTER_AREA)
    search_side = max(int(min_side * scale), 20)
    candidates = []
    for angle in params["angles"]:
        if angle:
            matrix, size = _rotation(small.shape, angle)
            view = cv2.warpAffine(small, matrix, size, flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)
            inverse = cv2.invertAffineTransform(matrix)
        else:
            view, inverse = small, None
        for name in params["cascades"]:
            boxes, support = _cascade(name).detectMultiScale2(
                view, scaleFactor=params["scale_factor"], minNeighbors=params["min_neighbors"],
                minSize=(search_side, search_side))
            for (bx, by, bw, bh), n in zip(boxes, np.ravel(support)):
                cx, cy = bx + bw / 2, by + bh / 2
                if inverse is not None:  # the box centre back into the photo
                    cx, cy = inverse @ (cx, cy, 1)
                candidates.append([(cx - bw / 2) / scale, (cy - bh / 2) / scale,
                                   bw / scale, bh / scale, float(n), float(angle)])
    faces = _merge(np.array(candidates, float).reshape(-1, 6), params["overlap"])
    if len(faces):
        keep = faces[:, 4] >= max(params["min_score"],
                                  params["min_relative_score"] * faces[:, 4].max())
        faces = faces[keep]
    eyes = np.full((len(faces), 4), np.nan)
    if params["eyes"]:
        for row, face in enumerate(faces):
            found = _find_eyes(gray, face)
            if found is not None:
                (lx, ly), (rx, ry) = found
                eyes[row] = lx, ly, rx, ry
                face[5] = math.degrees(math.atan2(ry - ly, rx - lx))
    return np.hstack([faces, eyes])


def _merge(candidates, overlap):
    """Non-maximum suppression across passes and cascades.

    Boxes overlapping by more than ``overlap`` (IoU) are one face; its score is
    the sum of their supports (neighbour counts), so a face several passes or
    cascades agree on outranks one seen once; its box and eyes are those of
    the best-supported member.
    """
    order = np.argsort(-candidates[:, 4], kind="stable")
    candidates = candidates[order]
    taken = np.zeros(len(candidates), bool)
    faces = []
    for i in range(len(candidates)):
        if taken[i]:
            continue
        group = (~taken) & (_iou(candidates[i, :4], candidates[:, :4]) > overlap)
        group[i] = True
        taken |= group
        face = candidates[i].copy()
        face[4] = candidates[group, 4].sum()
        faces.append(face)
    return np.array(faces, float).reshape(-1, candidates.shape[1])


def _as_images(images, what="images"):
    """A list of images from a list-like, a path, a PIL image or a stack array."""
    from PIL import Image

    if isinstance(images, (str, bytes)) or hasattr(images, "__fspath__") or isinstance(
            images, Image.Image):
        return [images]
    if isinstance(images, np.ndarray):
        if images.ndim not in (3, 4):
            raise ValueError(f"{what}: an array must be a stack of images of shape (n, H, W) "
                             f"or (n, H, W, C), got {images.shape}; wrap one image in a list")
        return list(images)
    if isinstance(images, (pd.DataFrame, dict)):
        raise TypeError(f"{what}: expected a list of images, got {type(images).__name__}")
    try:
        return list(images)
    except TypeError:
        raise TypeError(f"{what}: expected a list of file paths, PIL images or arrays, "
                        f"got {type(images).__name__}") from None


def _check_detect_params(min_size, scale_factor, min_neighbors, angles, cascades, min_score,
                         min_relative_score):
    if not (isinstance(min_size, (int, float)) and min_size > 0):
        raise ValueError(f"min_size must be a positive number, got {min_size!r}")
    if not (isinstance(scale_factor, (int, float)) and scale_factor > 1):
        raise ValueError(f"scale_factor must be a number > 1, got {scale_factor!r}")
    if not (isinstance(min_neighbors, (int, np.integer)) and min_neighbors >= 0):
        raise ValueError(f"min_neighbors must be an int >= 0, got {min_neighbors!r}")
    angles = tuple(float(a) for a in np.atleast_1d(angles))
    if not angles or any(abs(a) > 90 for a in angles):
        raise ValueError(f"angles must be a non-empty list of degrees in [-90, 90], got {angles}")
    cascades = (cascades,) if isinstance(cascades, str) else tuple(cascades)
    unknown = [c for c in cascades if c not in CASCADES]
    if not cascades or unknown:
        raise ValueError(f"cascades must be a non-empty subset of {list(CASCADES)}, got "
                         f"{list(cascades)}")
    if not isinstance(min_score, (int, float)):
        raise ValueError(f"min_score must be a number, got {min_score!r}")
    if not (isinstance(min_relative_score, (int, float)) and 0 <= min_relative_score <= 1):
        raise ValueError(f"min_relative_score must be a number in [0, 1], got "
                         f"{min_relative_score!r}")
    return angles, cascades


# Defaults chosen on the scene benchmark (benchmarks/bench_faces.py, by_min_score):
# false detections are weakly supported boxes, true faces strongly supported ones.
MIN_SCORE = 10
MIN_RELATIVE_SCORE = 0.1

CASCADES = ("frontalface_default", "frontalface_alt", "frontalface_alt2",
            "frontalface_alt_tree", "profileface")
"""OpenCV's face cascades usable by :func:`detect_faces` (``haarcascade_<name>.xml``)."""


def detect_faces(images, *, min_size=0.1, scale_factor=1.05, min_neighbors=2,
                 angles=(0, -15, 15),
                 cascades=("frontalface_default", "frontalface_alt", "frontalface_alt2"),
                 min_score=MIN_SCORE, min_relative_score=MIN_RELATIVE_SCORE, eyes=True,
                 n_jobs=None):
    """Find every face in every image, offline, with OpenCV's Haar cascades.

    Each image is read with :func:`read_image` (upright, grey), shrunk so the
    smallest face sought is 36 pixels wide, and searched by each cascade in
    ``cascades`` (Viola & Jones, 2001), upright and turned by each angle in
    ``angles``, so faces tilted up to about 25 degrees are found. Boxes that
    overlap (IoU > 0.3) across passes and cascades are merged into one face,
    scored by the summed support. The eyes are then sought with OpenCV's eye
    cascade in each face, at full resolution. Histogram equalisation before
    detection is not offered: on the scene benchmark it lowered recall (58%
    against 71% with one upright pass of the default cascade). The defaults were tuned for
    recall on the scene benchmark (``benchmarks/bench_faces.py``; figures in
    the user guide's "Faces in photographs" page).

    Parameters
    ----------
    images : list of (str, path-like, PIL.Image.Image or ndarray), or ndarray
        The images, any size, in any form :func:`read_image` reads; a single
        path or PIL image is one image; an array of shape (n, H, W) or
        (n, H, W, C) is n images.
    min_size : float or int, default=0.1
        The smallest face sought: a fraction of the image's shorter side when
        below 1, else pixels. Smaller values find smaller faces and cost time
        (the detection image grows as ``36 / min_size`` pixels).
    scale_factor : float, default=1.05
        Step between the cascades' search scales (> 1); smaller finds more
        faces, slower.
    min_neighbors : int, default=2
        How many overlapping raw hits a cascade needs to report a box; higher
        means fewer false detections and fewer faces.
    angles : sequence of float, default=(0, -15, 15)
        In-plane rotations (degrees, anticlockwise) searched; 0 alone is three
        times faster and misses tilted heads.
    cascades : sequence of str, default=("frontalface_default", "frontalface_alt", \
"frontalface_alt2")
        OpenCV's cascades to run, from :data:`CASCADES`.
    min_score : float, default=10
        Drop faces whose score is below this. On the scene benchmark, 10 keeps
        91% recall and cuts false detections from 3.4 to 1.1 per photo
        (against no threshold).
    min_relative_score : float in [0, 1], default=0.1
        Also drop faces scoring below this share of the best face of the same
        image: a photograph's weakly supported boxes beside a clear face are
        false detections far more often than faces.
    eyes : bool, default=True
        Look for the eyes in each face.
    n_jobs : int, default=None
        Images read and searched in parallel (threads; OpenCV and Pillow
        release the GIL). None means 1, -1 all cores; see scikit-learn's ``n_jobs``.

    Returns
    -------
    faces : pandas.DataFrame
        One row per face, columns:

        - ``image``: position of the image in ``images``; ``face``: rank of the
          face in its image, 0 = highest score;
        - ``x``, ``y``, ``width``, ``height``: the box, in pixels of the
          upright image (top-left corner, origin top-left);
        - ``score``: the summed neighbour counts of the merged hits (larger =
          more passes and cascades agree);
        - ``angle``: the face's in-plane tilt in degrees (positive = turned
          clockwise on screen), from the eyes when found, else the search
          angle that found the face;
        - ``left_eye_x``, ``left_eye_y``, ``right_eye_x``, ``right_eye_y``:
          eye centres in pixels (left = on the image's left, the person's right
          eye), NaN where not found.

        Images without a face have no rows.

    Raises
    ------
    ValueError, TypeError, FileNotFoundError
        From :func:`read_image`, naming the image; or a bad parameter.

    References
    ----------
    P. Viola and M. Jones, "Rapid object detection using a boosted cascade of
    simple features", CVPR 2001.

    Examples
    --------
    >>> from skimage.data import astronaut
    >>> from fer_sklearn.faces import detect_faces
    >>> faces = detect_faces([astronaut()])
    >>> faces.iloc[0][["x", "y", "width"]].round(-1).tolist()  # her face, in pixels
    [170.0, 70.0, 100.0]
    """
    images = _as_images(images)
    params = _detect_params(min_size=min_size, scale_factor=scale_factor,
                            min_neighbors=min_neighbors, angles=angles, cascades=cascades,
                            min_score=min_score, min_relative_score=min_relative_score,
                            eyes=eyes)
    found = Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(_detect_one)(image, params) for image in images)
    return _to_frame(found)


def _detect_params(*, min_size=0.1, scale_factor=1.05, min_neighbors=2, angles=(0, -15, 15),
                   cascades=("frontalface_default", "frontalface_alt", "frontalface_alt2"),
                   min_score=MIN_SCORE, min_relative_score=MIN_RELATIVE_SCORE, eyes=True):
    """The checked settings of one detection pass, with :func:`detect_faces`' defaults."""
    angles, cascades = _check_detect_params(min_size, scale_factor, min_neighbors, angles,
                                            cascades, min_score, min_relative_score)
    return dict(min_size=min_size, scale_factor=scale_factor, min_neighbors=min_neighbors,
                angles=angles, cascades=cascades, min_score=min_score,
                min_relative_score=min_relative_score, eyes=bool(eyes), overlap=0.3)


def _to_frame(found):
    rows = []
    for index, faces in enumerate(found):
        faces = faces[np.argsort(-faces[:, 4], kind="stable")]
        for rank, face in enumerate(faces):
            rows.append([index, rank, *face])
    frame = pd.DataFrame(rows, columns=list(COLUMNS)) if rows else pd.DataFrame(
        {c: pd.Series(dtype=float) for c in COLUMNS})
    return frame.astype({"image": np.int64, "face": np.int64})
