"""
===========================================
From a photograph to an emotion, offline
===========================================

A real photograph -- scikit-image's astronaut, Eileen Collins -- goes through
the three steps :mod:`fer_sklearn.faces` adds in front of a classifier:
detection, FER2013-style alignment and prediction, with the FER2013 model
shipped inside the package (:func:`~fer_sklearn.pretrained.load_pretrained`).
Nothing is trained and nothing is downloaded: the detector is OpenCV's Haar
cascade from the opencv wheel, the classifier a file of the fer_sklearn wheel.
"""

# %%
# Detect the faces
# ----------------
# :func:`~fer_sklearn.faces.detect_faces` returns one row per face: the box in
# the photograph's pixels, a score (how many detector passes agree), the tilt
# and the eyes where found. Weakly supported boxes -- below a score of 10, or
# below a tenth of the best face's -- are dropped as false detections.
import matplotlib.pyplot as plt
from skimage.data import astronaut

from fer_sklearn import FaceAligner
from fer_sklearn.faces import FaceDisplay, detect_faces
from fer_sklearn.pretrained import load_pretrained, pretrained_info

photo = astronaut()
faces = detect_faces([photo])
assert len(faces) == 1  # one person, one face
faces

# %%
# Align: one FER2013-framed face per photograph
# ----------------------------------------------
# The aligner cuts the box widened to FER2013's framing (measured: 1.025 box
# widths, centred), turns it so the eyes are level, and shrinks it to 48x48,
# the input the FER2013 models were trained on.
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
# ``load_pretrained("fer2013", faces=True)`` is ``make_pipeline(FaceAligner(),
# model)``: the aligner takes raw photographs (paths, PIL images, arrays) as a
# text vectoriser takes raw documents. The model is the shipped one's variant
# trained on randomly zoomed faces, to take the detector's box. Its classes
# are the emotion names. It smiles, and the model says so.
model = load_pretrained("fer2013", faces=True)
label = model.predict([photo])[0]
print(f"predicted: {label}")
assert label == "happy"

# %%
# Where the model comes from: its file records its training data's SHA-256,
# the recipe, how it was trained further, and its accuracy on FER2013's
# PublicTest rows.
info = pretrained_info("fer2013", faces=True)
more = info["continuation"]
print(f"PublicTest accuracy {info['publictest_accuracy']:.1%}: "
      f"{len(info['members'])} networks trained {more['epochs']} epochs more "
      f"with zooms of {more['zoom'][0]:g} to {more['zoom'][1]:g}")

# %%
# Draw every face with its label and probabilities
# ------------------------------------------------
display = FaceDisplay.from_estimator(model[-1], photo)
plt.show()
