"""Viola-Jones face detection with OpenCV's Haar cascades: the portable detector.

Viola and Jones' boosted cascades of Haar-like features (Viola & Jones, 2001)
are the detector FER2013 itself was cut with (Goodfellow et al., 2013), and
opencv-python(-headless) 4.x ships the trained cascades in ``cv2.data`` -- so
this detector runs wherever OpenCV 4.x does and never downloads anything. The
5.0 wheels ship no cascades and have no ``CascadeClassifier``. It finds faces
and, with OpenCV's eye cascade, the two eye centres; no nose or mouth.
"""

import math
import threading

import numpy as np

from ._boxes import eye_angle, merge, search_image, turned

# One set of loaded cascades per thread: a CascadeClassifier shared by threads
# fails inside detectMultiScale (an out-of-range error in OpenCV 4.x), and
# n_jobs runs images in threads.
_LOCAL = threading.local()


def _cascade(name):
    """A loaded cascade by file stem, cached per thread (loading parses XML)."""
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportError("the Haar detector needs opencv-python-headless>=4.8") from exc
    cascades = _LOCAL.__dict__.setdefault("cascades", {})
    if name not in cascades:
        if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
            raise ImportError(
                f"OpenCV {cv2.__version__} has no Haar cascades (5.x wheels dropped "
                "them); install opencv-python-headless>=4.8,<5 for detector='haar'")
        cascade = cv2.CascadeClassifier(f"{cv2.data.haarcascades}haarcascade_{name}.xml")
        if cascade.empty():
            raise ValueError(f"cannot load OpenCV's cascade haarcascade_{name}.xml")
        cascades[name] = cascade
    return cascades[name]


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


def detect(gray, min_side, params):
    """Faces of one grey image, an (n, 16) array in its pixels.

    Columns: box (x, y, w, h), score (summed neighbour counts), angle, then
    the five landmarks' x, y of which only the eyes are filled (NaN where
    not found, and for nose and mouth).
    """
    small, scale = search_image(gray, min(1.0, _DETECTION_SIDE / max(min_side, 1.0)),
                                params.get("max_width"))
    search_side = max(int(min_side * scale), 20)
    candidates = []
    for angle in params["angles"]:
        view, inverse = turned(small, angle) if angle else (small, None)
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
    # Boxes overlapping by more than 0.3 across passes and cascades are one face.
    faces = merge(np.array(candidates, float).reshape(-1, 6), 0.3, score="sum")
    if len(faces):
        keep = faces[:, 4] >= max(params["min_score"],
                                  params["min_relative_score"] * faces[:, 4].max())
        faces = faces[keep]
    landmarks = np.full((len(faces), 10), np.nan)
    if params["eyes"]:
        for row, face in enumerate(faces):
            found = _find_eyes(gray, face)
            if found is not None:
                landmarks[row, :4] = *found[0], *found[1]
                face[5] = eye_angle(landmarks[row])
    return np.hstack([faces, landmarks])


def _check_detect_params(scale_factor, min_neighbors, angles, cascades, min_score,
                         min_relative_score):
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
"""OpenCV's face cascades the ``"haar"`` detector can run (``haarcascade_<name>.xml``)."""


def settings(*, scale_factor=1.05, min_neighbors=2, angles=(0, -15, 15),
             cascades=("frontalface_default", "frontalface_alt", "frontalface_alt2"),
             min_score=MIN_SCORE, min_relative_score=MIN_RELATIVE_SCORE, eyes=True):
    """The checked settings of the Haar detector (``detector_params`` of ``"haar"``)."""
    angles, cascades = _check_detect_params(scale_factor, min_neighbors, angles, cascades,
                                            min_score, min_relative_score)
    return dict(scale_factor=scale_factor, min_neighbors=min_neighbors, angles=angles,
                cascades=cascades, min_score=min_score,
                min_relative_score=min_relative_score, eyes=bool(eyes))
