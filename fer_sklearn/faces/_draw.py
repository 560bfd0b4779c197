"""Faces drawn on an image at its own resolution: box, landmarks, id, label and probability.

The one drawing of predictions on pixels: the photographs of ``fer-sklearn
predict --annotate`` and the frames of :func:`~fer_sklearn.video.annotate_video`.
"""

import numpy as np

from ._detect import LANDMARKS


def palette(names):
    """One BGR colour per class name, matplotlib's ``tab10`` in class order."""
    import matplotlib

    colours = {}
    for i, name in enumerate(names):
        r, g, b, _ = matplotlib.colormaps["tab10"](i % 10)
        colours[name] = (int(255 * b), int(255 * g), int(255 * r))  # OpenCV draws in BGR
    return colours


def _overlaps(box, boxes):
    x0, y0, x1, y1 = box
    return any(x0 < bx1 and bx0 < x1 and y0 < by1 and by0 < y1 for bx0, by0, bx1, by1 in boxes)


def draw_faces(bgr, rows, colours, id_column):
    """Draw each row's face on ``bgr`` (in place): box, landmarks, and ``id: label p%``.

    A label goes above its box, else below it, else inside its top edge:
    the first place that stays in the image and covers no other face nor
    another label (above where none does).

    Parameters
    ----------
    bgr : ndarray of uint8, shape (H, W, 3)
        The image, BGR as OpenCV draws it.
    rows : pandas.DataFrame
        One row per face: ``x``, ``y``, ``width``, ``height`` (pixels of the
        image), ``label``, ``proba_<label>`` and ``id_column``; the landmark
        columns of :func:`~fer_sklearn.faces.detect_faces` (``left_eye_x``
        ...), where present and not NaN, are drawn as dots.
    colours : dict
        :func:`palette` of the class names.
    id_column : str
        The column whose value names the face (``face``, or a clip's ``track``).
    """
    import cv2

    thickness = max(1, round(min(bgr.shape[:2]) / 240))
    scale = 0.5 * thickness
    height, width = bgr.shape[:2]
    faces = [(int(round(r.x)), int(round(r.y)), int(round(r.x + r.width)),
              int(round(r.y + r.height))) for r in rows.itertuples()]
    taken = []
    for (_, row), face in zip(rows.iterrows(), faces):
        label = row["label"]
        colour = colours[label]
        x0, y0, x1, y1 = face
        cv2.rectangle(bgr, (x0, y0), (x1, y1), colour, thickness)
        for point in LANDMARKS:
            x, y = row.get(f"{point}_x", np.nan), row.get(f"{point}_y", np.nan)
            if np.isfinite(x) and np.isfinite(y):
                cv2.circle(bgr, (int(round(x)), int(round(y))), thickness + 1, colour, cv2.FILLED)
        text = f"{row[id_column]}: {label} {row[f'proba_{label}']:.0%}"
        (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        size = h + base + 2
        left = int(np.clip(x0, 0, max(width - w - 2, 0)))
        others = [f for f in faces if f != face] + taken
        for top in (y0 - size, y1, y0):
            place = (left, top, left + w + 2, top + size)
            if 0 <= top and top + size <= height and not _overlaps(place, others):
                break
        else:
            top = max(y0 - size, 0)
            place = (left, top, left + w + 2, top + size)
        taken.append(place)
        cv2.rectangle(bgr, place[:2], place[2:], colour, cv2.FILLED)
        cv2.putText(bgr, text, (left + 1, top + h + 1), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 0, 0), thickness, cv2.LINE_AA)
