"""
=================================================
Every face of a photograph, with its emotion
=================================================

A scene with five real faces -- scikit-image's astronaut, Eileen Collins, and
four people of scikit-image's LFW subset (Labeled Faces in the Wild) -- pasted
on a real brick wall, goes through the steps :mod:`fer_sklearn.faces` adds in
front of a classifier: detection with five landmarks, FER2013-style alignment
and prediction, with the FER2013 model shipped inside the package
(:func:`~fer_sklearn.pretrained.load_pretrained`). Nothing is trained and
nothing is downloaded: the detector is YuNet from the ``yuface`` wheel (OpenCV's
Haar cascades where YuNet cannot run), the classifier a file of the
fer_sklearn wheel.
"""

# %%
# A photograph with several faces
# -------------------------------
# scikit-image ships real photographs with one face each; pasting five of them
# on a real background, as the scene benchmark does, makes a group photo whose
# faces are known.
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from skimage.data import astronaut, brick, lfw_subset

from fer_sklearn.faces import FaceDisplay, detect_faces, extract_faces, predict_images
from fer_sklearn.pretrained import load_pretrained, pretrained_info

photo = np.array(Image.fromarray(brick()).convert("RGB").resize((640, 480)))
photo[60:228, 40:176] = np.asarray(Image.fromarray(astronaut()[30:240, 140:310])
                                   .resize((136, 168)))
people = lfw_subset()  # 25x25 grey faces, 0..1
for k, (x, y) in zip([0, 1, 8, 12], [(250, 70), (450, 60), (230, 300), (440, 310)]):
    face = Image.fromarray(np.uint8(people[k] * 255)).resize((120, 120), Image.BICUBIC)
    photo[y:y + 120, x:x + 120] = np.asarray(face.convert("RGB"))

# %%
# Detect the faces
# ----------------
# :func:`~fer_sklearn.faces.detect_faces` returns one row per face: the box in
# the photograph's pixels, the detector's confidence, the tilt, and the five
# landmarks (eye centres, nose tip, mouth corners; "left" is on the image's
# left).
faces = detect_faces([photo])
assert len(faces) == 5
faces.round(1)

# %%
# Align: cut each face as FER2013 cut its faces
# ---------------------------------------------
# :func:`~fer_sklearn.faces.extract_faces` cuts every face by the similarity
# transform that takes its landmarks where FER2013's faces have them
# (:data:`~fer_sklearn.faces.FER2013_LANDMARKS`, measured on FER2013's own
# crops), so the eyes are level, and shrinks it to 48x48, the input the
# FER2013 models were trained on.
_, crops = extract_faces([photo])
fig, axes = plt.subplots(1, len(crops), figsize=(2 * len(crops), 2))
for ax, crop in zip(axes, crops):
    ax.imshow(crop.reshape(48, 48), cmap="gray", vmin=0, vmax=255)
    ax.set_axis_off()

# %%
# Every face's emotion, in one call
# ---------------------------------
# :func:`~fer_sklearn.faces.predict_images` takes photographs (paths, folders,
# globs, PIL images, arrays) and gives one row per face, with its box,
# landmarks, one probability per emotion and the label. Its default model is
# the shipped one's variant trained on faces cut as the aligner cuts them.
# The astronaut smiles, and the model says so.
table = predict_images([photo])
print(table[["face", "x", "y", "width", "label", "proba_happy"]].round(2))
astronaut_row = table.loc[table["x"].idxmin()]
assert astronaut_row["label"] == "happy"

# %%
# Where the model comes from: its file records its training data's SHA-256,
# the recipe, how it was trained further (on the Training faces cut again as
# the aligner cuts photographs), and its accuracy on FER2013's PublicTest
# rows, whose original crops it was not tuned for.
info = pretrained_info("fer2013", faces=True)
more = info["continuation"]
print(f"PublicTest accuracy {info['publictest_accuracy']:.1%}: "
      f"{len(info['members'])} networks trained {more['epochs']} epochs more"
      + (" on faces cut again by their landmarks" if more.get("aligned") else "")
      + f", with zooms of {more['zoom'][0]:g} to {more['zoom'][1]:g}")

# %%
# Draw every face with its landmarks, label and probabilities
# -----------------------------------------------------------
proba = table[[c for c in table.columns if c.startswith("proba_")]].to_numpy()
names = [c.removeprefix("proba_") for c in table.columns if c.startswith("proba_")]
display = FaceDisplay.from_predictions(photo, table, proba, class_names=names)
display.figure_.set_size_inches(9, 6.75)

# %%
# One face per photograph, in a scikit-learn pipeline
# ---------------------------------------------------
# ``load_pretrained("fer2013", faces=True)`` is ``make_pipeline(FaceAligner(),
# model)``: the aligner takes raw photographs as a text vectoriser takes raw
# documents, and keeps the best-scored face of each.
model = load_pretrained("fer2013", faces=True)
print(model.predict([astronaut()]))
plt.show()
