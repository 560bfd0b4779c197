"""
===========================================
From a photograph to an emotion, offline
===========================================

A real photograph -- scikit-image's astronaut, Eileen Collins -- goes through
the three steps :mod:`fer_sklearn.faces` adds in front of a classifier:
detection, FER2013-style alignment and prediction. Everything runs offline:
the detector is OpenCV's Haar cascade, shipped inside the opencv wheel.

The classifier here is a tiny CNN trained for a few seconds on
:func:`~fer_sklearn.datasets.make_faces`' *synthetic* faces, so that the
example runs in seconds; its predictions on a real photograph mean nothing.
Use a model trained on FER2013 (see :ref:`fer2013_results`) for real answers.
"""

# %%
# Detect the faces
# ----------------
# :func:`~fer_sklearn.faces.detect_faces` returns one row per face: the box in
# the photograph's pixels, a score (how many detector passes agree), the tilt
# and the eyes where found.
import matplotlib.pyplot as plt
from skimage.data import astronaut
from sklearn.pipeline import make_pipeline

from fer_sklearn import FaceAligner, FERCNNClassifier
from fer_sklearn.datasets import make_faces
from fer_sklearn.faces import FaceDisplay, detect_faces

photo = astronaut()
faces = detect_faces([photo])
faces.head(3)

# %%
# Several boxes: the first (highest score) is her face; the others are weakly
# supported false detections in the background, which is why
# :class:`~fer_sklearn.FaceAligner` keeps the best-scored face by default.
#
# Align: one FER2013-framed face per photograph
# ----------------------------------------------
# The aligner cuts the box widened to FER2013's framing (measured: 1.025 box
# widths, centred), turns it so the eyes are level, and shrinks it to 48x48.
aligned = FaceAligner().fit_transform([photo])
fig, axes = plt.subplots(1, 2, figsize=(6, 3))
axes[0].imshow(photo)
axes[0].set_title("photograph")
axes[1].imshow(aligned.reshape(48, 48), cmap="gray", vmin=0, vmax=255)
axes[1].set_title("aligned, 48x48")
for ax in axes:
    ax.set_axis_off()

# %%
# Predict, in one pipeline
# ------------------------
# ``FaceAligner`` takes raw photographs (paths, PIL images, arrays) as a text
# vectoriser takes raw documents, so it goes first in a pipeline. Here the
# classifier is fitted separately on 48x48 synthetic faces (see above).
X, y = make_faces(500, random_state=0, return_X_y=True)
clf = FERCNNClassifier(n_filters=8, n_blocks=3, max_epochs=2, random_state=0).fit(X, y)
model = make_pipeline(FaceAligner(), clf)
model.predict([photo])

# %%
# Draw every face with its label and probabilities
# ------------------------------------------------
display = FaceDisplay.from_estimator(clf, photo)
plt.show()
