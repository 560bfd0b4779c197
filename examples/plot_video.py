"""
=========================
Emotions over a clip
=========================

:func:`~fer_sklearn.video.predict_video` follows each face through a clip and
classifies it in every frame: one row per face and frame, with a track id that
stays with the person. Here the clip is made from a real photograph --
scikit-image's astronaut, Eileen Collins -- by a slow camera move: four
seconds in which the camera zooms in and her face drifts across the picture
and grows by half. The classifier is the FER2013 model shipped with the
package for detected faces (:func:`~fer_sklearn.pretrained.load_pretrained`
with ``faces=True``); nothing is trained
and nothing is downloaded.
"""

# %%
# A clip from a photograph
# ------------------------
# Each frame is a 400x300 view of the 512x512 photograph; the view narrows
# from 480 to 320 pixels wide and slides right, eased in and out, so her face
# drifts to the left of the picture and grows by half. A clip is any array
# of shape ``(n_frames, height, width[, 3])``, any iterable of frames, or a
# video file.
import cv2
import matplotlib.pyplot as plt
import numpy as np
from skimage.data import astronaut

from fer_sklearn.faces import FaceDisplay
from fer_sklearn.pretrained import load_pretrained
from fer_sklearn.video import EmotionTimelineDisplay, predict_video, track_summary

photo = astronaut()
frame_rate, seconds = 12, 4
frames = []
for t in np.linspace(0, 1, frame_rate * seconds):
    ease = 0.5 - 0.5 * np.cos(np.pi * t)
    width = 480 - 160 * ease  # of the view, in the photograph's pixels
    left, top = 120 * ease, 10 * ease
    zoom = 400 / width
    view = np.array([[zoom, 0, -left * zoom], [0, zoom, -top * zoom]])
    frames.append(cv2.warpAffine(photo, view, (400, 300), flags=cv2.INTER_LINEAR))
frames = np.stack(frames)
print(f"clip: {frames.shape[0]} frames of {frames.shape[2]}x{frames.shape[1]}, "
      f"{frame_rate} frames/s")

# %%
# Predict every frame
# -------------------
# The detector looks for faces every 5th frame (``detect_every``); in between,
# each track's box is carried forward at the velocity it has been moving, and
# the face is cut from there. ``frame_rate`` gives the rows their times in
# seconds (a video file carries its own). The model is the one ``predict_video``
# uses when given none: the shipped FER2013 model's variant for detected faces.
model = load_pretrained("fer2013", faces=True)[-1]
predictions = predict_video(frames, model, frame_rate=frame_rate)
predictions.head()

# %%
# One row per track
# -----------------
# :func:`~fer_sklearn.video.track_summary` says when each track starts and
# ends and the share of its frames in each emotion.
summary = track_summary(predictions)
summary

# %%
# The astronaut is one track, through every frame. Any other track is short:
# a false detection -- here, in some rounds, the space-shuttle model behind her
# -- is found in one detection round and not the next, so its rows stop
# there, while a face is found round after round. A track's duration
# separates them: keep those that last a second or more.
duration = summary["end"] - summary["start"]
faces = summary[duration >= 1.0]
assert len(faces) == 1, summary
assert faces["n_frames"].iloc[0] >= 0.9 * len(frames), summary
assert faces["dominant"].iloc[0] == "happy", summary
print(f"{len(summary) - 1} short track(s) of at most "
      f"{duration[duration < 1.0].max() if len(summary) > 1 else 0:.2f} s set aside")
print(f"track {faces.index[0]}: {faces['n_frames'].iloc[0]} of {len(frames)} frames, "
      f"{faces['happy'].iloc[0]:.0%} of them happy")

# %%
# The face, followed
# ------------------
# The first and the last frame with the track's box: the detector drew the
# first; the last was not searched -- it is a box carried forward, and it is
# still on her face.
track = faces.index[0]
rows = predictions[predictions["track"] == track]
names = [column.removeprefix("proba_") for column in rows.columns
         if column.startswith("proba_")]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
for ax, (_, row) in zip(axes, rows.iloc[[0, -1]].iterrows()):
    FaceDisplay.from_predictions(
        frames[row["frame"]], row.to_frame().T,
        proba=row[[f"proba_{name}" for name in names]].to_numpy(float)[None],
        class_names=names, ax=ax)
    how = "detected" if row["detected"] else "carried forward"
    ax.set_title(f"{row['time']:.1f} s, box {how}", fontsize=10)

# %%
# The emotion over time
# ---------------------
# :class:`~fer_sklearn.video.EmotionTimelineDisplay` draws each class's
# probability against time, one panel per track, with the label frame by frame
# in the band along the bottom. The probabilities barely move while the face
# slides and grows: the same smile, framed the same way in every frame.
# (On a real clip, ``smoothing=0.5`` in ``predict_video`` would average the
# flicker of the probabilities over about half a second.)
display = EmotionTimelineDisplay.from_predictions(predictions, tracks=list(faces.index))
plt.show()
