"""
The synthetic faces, one row per emotion
========================================

:func:`~fer_sklearn.datasets.make_faces` draws 48x48 grayscale faces whose
expression carries one of the seven FER2013 labels. It needs no download, so
it is what the other examples, the tests and quick experiments use. This
example draws a grid of faces per class and shows where the class evidence
lies.
"""

# %%
# Ten faces per emotion
# ---------------------
# The expression is drawn at a random intensity between subtle and full, so
# some faces are hard to tell from *neutral*; position, scale, rotation, face
# shape, hair, lighting, noise and occluding patches vary independently of
# the label.
import matplotlib.pyplot as plt
import numpy as np

from fer_sklearn import EMOTIONS
from fer_sklearn.datasets import make_faces

faces = make_faces(70, random_state=0, return_masks=True)
print(faces.images.shape, faces.images.dtype, np.bincount(faces.target))

order = np.argsort(faces.target, kind="stable")
fig, axes = plt.subplots(7, 10, figsize=(10, 7.4))
for ax, i in zip(axes.ravel(), order):
    ax.imshow(faces.images[i], cmap="gray", vmin=0, vmax=255)
    ax.set_xticks([])
    ax.set_yticks([])
for row, name in enumerate(EMOTIONS):
    axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center")
fig.suptitle("make_faces(70, random_state=0)")
fig.tight_layout()

# %%
# Where the label is
# ------------------
# With ``return_masks=True`` each face comes with a mask: 1 on this face's
# eyes and brows, 2 on its mouth, each grown by about 2 pixels. The shapes
# inside carry the label, which makes the synthetic faces a ground truth for
# checking saliency maps (see :ref:`sphx_glr_auto_examples_plot_saliency.py`).
fig, axes = plt.subplots(2, 7, figsize=(10, 3.2))
for k, name in enumerate(EMOTIONS):
    i = order[10 * k]
    axes[0, k].imshow(faces.images[i], cmap="gray", vmin=0, vmax=255)
    axes[0, k].set_title(name)
    axes[1, k].imshow(faces.images[i], cmap="gray", vmin=0, vmax=255)
    axes[1, k].imshow(np.ma.masked_equal(faces.masks[i], 0), cmap="cool", alpha=0.5,
                      vmin=1, vmax=2)
for ax in axes.ravel():
    ax.set_axis_off()
fig.tight_layout()
