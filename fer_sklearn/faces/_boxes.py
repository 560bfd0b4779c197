"""Box geometry shared by the detectors: overlap, merging, scaled and turned search images."""

import math

import numpy as np


def iou(box, boxes):
    """Intersection over union of one box ``(x, y, w, h)`` with each row of ``boxes``."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[0] + box[2], boxes[:, 0] + boxes[:, 2])
    y1 = np.minimum(box[1] + box[3], boxes[:, 1] + boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    return inter / (box[2] * box[3] + boxes[:, 2] * boxes[:, 3] - inter)


def merge(candidates, overlap, score="sum"):
    """Non-maximum suppression over rows ``(x, y, w, h, score, ...)``.

    Boxes overlapping by more than ``overlap`` (IoU) are one face, kept as
    its best-scored member; its score becomes the group's ``"sum"`` (Haar
    passes: a face several passes agree on outranks one seen once) or stays
    the member's own (``"max"``: calibrated scores, such as a CNN's).
    """
    order = np.argsort(-candidates[:, 4], kind="stable")
    candidates = candidates[order]
    taken = np.zeros(len(candidates), bool)
    faces = []
    for i in range(len(candidates)):
        if taken[i]:
            continue
        group = (~taken) & (iou(candidates[i, :4], candidates[:, :4]) > overlap)
        group[i] = True
        taken |= group
        face = candidates[i].copy()
        if score == "sum":
            face[4] = candidates[group, 4].sum()
        faces.append(face)
    return np.array(faces, float).reshape(-1, candidates.shape[1])


def search_image(gray, scale, max_width=None):
    """``gray`` resized by ``scale`` for a detector's search, and the scale used.

    ``max_width`` (pixels) caps the search image's width, lowering ``scale``
    where needed: video trades reach for speed. Downscaling averages pixels
    (``INTER_AREA``); a scale of 1 returns ``gray`` itself.
    """
    import cv2

    h, w = gray.shape
    if max_width:
        scale = min(scale, max_width / w)
    if scale == 1:
        return gray, scale
    size = (max(int(round(w * scale)), 1), max(int(round(h * scale)), 1))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA), scale


def turned(image, angle):
    """``image`` turned ``angle`` degrees anticlockwise on a canvas that cuts no corner off.

    Returns the turned image and the 2x3 affine matrix taking its pixels
    back to ``image``'s.
    """
    import cv2

    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    size = (int(math.ceil(h * sin + w * cos)), int(math.ceil(h * cos + w * sin)))
    matrix[0, 2] += size[0] / 2 - w / 2
    matrix[1, 2] += size[1] / 2 - h / 2
    view = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    return view, cv2.invertAffineTransform(matrix)


def eye_angle(landmarks):
    """A face's in-plane tilt in degrees from its eye centres (clockwise on screen positive).

    ``landmarks`` holds ``left_eye_x, left_eye_y, right_eye_x, right_eye_y``
    first (left = on the image's left), in pixels with the origin top-left.
    """
    lx, ly, rx, ry = landmarks[:4]
    return math.degrees(math.atan2(ry - ly, rx - lx))
