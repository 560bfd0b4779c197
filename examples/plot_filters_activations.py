"""
Filters and layer activations
=============================

What do the convolutional layers respond to?
:func:`~fer_sklearn.interpret.visualize_filters` synthesises, by gradient
ascent on the input, an image that each filter responds to most, and
:func:`~fer_sklearn.interpret.layer_activations` returns a layer's output
("feature maps") for given faces. The Display classes plot both.
"""

# %%
# A small CNN and its layers
# --------------------------
# :func:`~fer_sklearn.interpret.list_layers` names the layers the tools can
# address: ``conv<block>_<n>``, ``bn...``, ``relu...``, ``pool<block>``, and
# the head.
import os

from sklearn.model_selection import train_test_split

from fer_sklearn import EMOTIONS, FERCNNClassifier
from fer_sklearn.datasets import load_fer2013, make_faces
from fer_sklearn.interpret import (
    ActivationDisplay,
    FilterDisplay,
    layer_activations,
    list_layers,
)

if os.environ.get("FER2013_PATH"):
    faces = load_fer2013(os.environ["FER2013_PATH"], usage="Training")
    X, _, y, _ = train_test_split(faces.data, faces.target, train_size=2400,
                                  stratify=faces.target, random_state=0)
else:
    X, y = make_faces(2400, random_state=0, return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=400, stratify=y,
                                                    random_state=0)

# 10 epochs at a learning rate of 0.01, faster than the default 0.003 for so
# short a run.
clf = FERCNNClassifier(n_filters=8, n_blocks=3, max_epochs=10, lr=1e-2, random_state=0)
clf.fit(X_train, y_train)
accuracy = clf.score(X_test, y_test)
print(f"held-out accuracy {accuracy:.2f}")
print(list_layers(clf))

# %%
# Filter visualisation
# --------------------
# In the first block the filters are edge and blob detectors; deeper filters
# combine them into larger patterns. All filters of a layer are optimised
# together, as one batch.
FilterDisplay.from_estimator(clf, "relu1_2", n_steps=48, random_state=0)

# %%
FilterDisplay.from_estimator(clf, "relu3_2", filters=range(16), n_steps=48, random_state=0)

# %%
# Activations of one face
# -----------------------
# The output of the first block's second ReLU for one held-out face: one map
# per filter, at the input's resolution, all on one colour scale.
face = X_test[:1]
print("label:", EMOTIONS[y_test[0]], "| predicted:", EMOTIONS[clf.predict(face)[0]])
ActivationDisplay.from_estimator(clf, face, "relu1_2")

# %%
# Deeper layers have more channels at a lower resolution (each block halves
# it). ``layer_activations`` returns the arrays for a batch.
for layer in ["relu1_2", "relu2_2", "relu3_2"]:
    print(layer, layer_activations(clf, X_test[:16], layer).shape)

ActivationDisplay.from_estimator(clf, face, "relu3_2", channels=range(16))

# %%
# On the synthetic faces this page checks that the filters shown belong to a
# network that learned: at least 85% of the 400 held-out faces right (the
# documentation build fails otherwise).
if not os.environ.get("FER2013_PATH"):
    assert accuracy >= 0.85, accuracy
