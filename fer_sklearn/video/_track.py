"""Face tracks: the same person keeps one id from frame to frame.

Box-overlap matching with constant-velocity prediction, in the manner of SORT
(Bewley et al., "Simple online and realtime tracking", ICIP 2016) without its
Kalman filter: each track's box is carried forward by its last velocity, and
the detections of a frame are assigned to the tracks by maximum total IoU
(the Hungarian algorithm, :func:`scipy.optimize.linear_sum_assignment`).
Prediction is what keeps two people apart when they cross: at the crossing
each track's predicted box lies on its own path.
"""

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..faces._boxes import iou as _iou


class Tracker:
    """Assign track ids to detections, frame after frame.

    - A detection that matches no live track (IoU with its predicted box
      below ``min_iou``) starts a new track, numbered 0, 1, ... in order of
      appearance.
    - A track unmatched in a detection round is *missed*: it is not reported
      (no rows) until matched again, but keeps being predicted, so a face
      hidden for a moment keeps its id.
    - A track not matched for more than ``max_age`` frames ends; a face seen
      after that starts a new track. Long enough to bridge a person passing
      behind another (predict_video: one second).
    """

    def __init__(self, *, min_iou=0.2, max_age=25):
        self.min_iou = min_iou
        self.max_age = max_age
        self._tracks = []
        self._next_id = 0

    def _predict(self, track, frame):
        return track["box"] + track["velocity"] * (frame - track["frame"])

    def update(self, frame, boxes):
        """Match the detections ``boxes`` (n, 4) of ``frame``; their track ids, shape (n,)."""
        boxes = np.asarray(boxes, float).reshape(-1, 4)
        ids = np.full(len(boxes), -1)
        if self._tracks and len(boxes):
            predicted = np.array([self._predict(t, frame) for t in self._tracks])
            overlap = np.array([_iou(p, boxes) for p in predicted])
            rows, cols = linear_sum_assignment(-overlap)
            for r, c in zip(rows, cols):
                if overlap[r, c] >= self.min_iou:
                    self._match(self._tracks[r], frame, boxes[c])
                    ids[c] = self._tracks[r]["id"]
        for track in self._tracks:
            if track["frame"] != frame:
                track["missed"] += 1
        self._tracks = [t for t in self._tracks if frame - t["frame"] <= self.max_age]
        for c in np.flatnonzero(ids < 0):
            self._tracks.append({"id": self._next_id, "box": boxes[c], "frame": frame,
                                 "velocity": np.zeros(4), "missed": 0, "seen": 1})
            ids[c] = self._next_id
            self._next_id += 1
        return ids

    def _match(self, track, frame, box):
        velocity = (box - track["box"]) / (frame - track["frame"])
        # Averaged with the previous estimate: a detector's box jitters by a few pixels.
        track["velocity"] = velocity if track["seen"] == 1 else (
            0.5 * track["velocity"] + 0.5 * velocity)
        track["box"], track["frame"] = box, frame
        track["missed"], track["seen"] = 0, track["seen"] + 1

    def current(self, frame):
        """The tracks matched in the last round and their predicted boxes at ``frame``.

        Returns
        -------
        ids : list of int
        boxes : ndarray, shape (len(ids), 4)
        """
        live = [t for t in self._tracks if t["missed"] == 0]
        return ([t["id"] for t in live],
                np.array([self._predict(t, frame) for t in live], float).reshape(-1, 4))
