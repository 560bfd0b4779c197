"""
Saliency maps with several methods
==================================

Which pixels drive a prediction? :func:`~fer_sklearn.interpret.saliency_map`
computes a map per image with one of five captum attribution methods, and
:class:`~fer_sklearn.interpret.SaliencyDisplay` plots image, map and overlay.
On the synthetic faces we know where the evidence is -- brows, eyes and mouth
-- so we can check whether the maps point there, and
:func:`~fer_sklearn.interpret.saliency_sanity_check` tests whether they depend
on what the network learned at all.
"""

# %%
# A small CNN
# -----------
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split

from fer_sklearn import EMOTIONS, FERCNNClassifier
from fer_sklearn.datasets import load_fer2013, make_faces
from fer_sklearn.interpret import SaliencyDisplay, saliency_map, saliency_sanity_check

real = bool(os.environ.get("FER2013_PATH"))
if real:
    faces = load_fer2013(os.environ["FER2013_PATH"], usage="Training")
    X, _, y, _ = train_test_split(faces.data, faces.target, train_size=2100,
                                  stratify=faces.target, random_state=0)
    masks = None
else:
    faces = make_faces(2100, random_state=0, return_masks=True)
    X, y, masks = faces.data, faces.target, faces.masks
X_train, y_train, X_test, y_test = X[:2000], y[:2000], X[2000:], y[2000:]

clf = FERCNNClassifier(n_filters=8, n_blocks=3, max_epochs=10, lr=1e-2, random_state=0)
clf.fit(X_train, y_train)
accuracy = clf.score(X_test, y_test)
print(f"accuracy on {len(y_test)} held-out faces: {accuracy:.2f}")

# %%
# A map explains what the network did, right or wrong; to see what it uses
# when it is right, explain held-out faces it classifies correctly.
right = clf.predict(X_test) == y_test
X_show, y_show = X_test[right][:32], y_test[right][:32]
if masks is not None:
    masks_show = masks[2000:][right][:32]
print(f"{right.sum()} correctly classified; the first {len(y_show)} are explained below")

# %%
# One method, with the display
# ----------------------------
# By default the predicted class is explained; ``"gradient"`` is the absolute
# gradient of its logit with respect to each pixel.
SaliencyDisplay.from_estimator(clf, X_show[:3], y_show[:3], method="gradient",
                               display_labels=EMOTIONS)

# %%
# Five methods side by side
# -------------------------
# ``"smoothgrad"`` averages the gradient over noisy copies of the face,
# ``"integrated_gradients"`` integrates it along a path from a mean-gray
# image, ``"guided_backprop"`` passes only positive gradients through the
# ReLUs, and ``"gradcam"`` weighs the last convolutional layer's maps by
# their gradients (so its map is coarse). Signed maps are shown by absolute
# value.
methods = ["gradient", "smoothgrad", "integrated_gradients", "guided_backprop", "gradcam"]
params = {"smoothgrad": {"random_state": 0}}
maps = {m: np.abs(saliency_map(clf, X_show, method=m, **params.get(m, {}))) for m in methods}

n_show = 4
fig, axes = plt.subplots(n_show, len(methods) + 1, figsize=(10.5, 7.2))
y_pred = clf.predict(X_show[:n_show])
for i in range(n_show):
    axes[i, 0].imshow(X_show[i].reshape(48, 48), cmap="gray")
    axes[i, 0].set_title(f"{EMOTIONS[y_show[i]]} -> {EMOTIONS[y_pred[i]]}", fontsize="small")
    for j, m in enumerate(methods, start=1):
        axes[i, j].imshow(maps[m][i], cmap="inferno")
        if i == 0:
            axes[i, j].set_title(m.replace("_", "\n"), fontsize="small")
for ax in axes.ravel():
    ax.set_axis_off()
fig.tight_layout()

# %%
# Do the maps point at the evidence?
# ----------------------------------
# The share of each map's total that falls inside the brows-and-eyes and
# mouth regions of :func:`~fer_sklearn.datasets.make_faces`, against the
# share of the image those regions cover (what a map spread evenly would
# give). Real faces have no such ground truth.
shares = {}
if masks is not None:
    inside = masks_show > 0
    print(f"the regions cover {inside.mean():.0%} of the pixels")
    for m in methods:
        share = (maps[m] * inside).sum(axis=(1, 2)) / maps[m].sum(axis=(1, 2))
        shares[m] = np.nanmean(share)
        print(f"{m:>22}: {shares[m]:.0%} of the saliency inside")

# %%
# The sanity check
# ----------------
# Re-initialise the network's weights (here all at once) and compare the maps
# of the random network with those of the trained one (Adebayo et al.,
# 2018). High rank correlation or SSIM would mean that the method shows the
# input's edges rather than what the model learned.
for m in ["gradient", "guided_backprop"]:
    scores = saliency_sanity_check(clf, X_show[:16], method=m, cascade=False, random_state=0)
    print(m, scores[["randomization", "spearman", "ssim"]].round(2).to_dict("records"))

# %%
# What this page checks on the synthetic faces (the documentation build fails
# otherwise): the network classifies at least 85% of the held-out faces
# right, and every method puts more of its saliency inside the brows, eyes
# and mouth than a map spread evenly over the face would.
if masks is not None:
    assert accuracy >= 0.85, accuracy
    assert all(share > inside.mean() for share in shares.values()), shares
