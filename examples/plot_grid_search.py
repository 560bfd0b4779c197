"""
Grid search over the network's width and learning rate
======================================================

The estimators follow scikit-learn's estimator contract, so
:class:`~sklearn.model_selection.GridSearchCV` searches their parameters like
any other's -- here the number of filters of the CNN and its learning rate --
and :func:`~sklearn.model_selection.cross_val_score` compares the search with
a classical baseline in a :class:`~sklearn.pipeline.Pipeline`.

Every candidate is trained once per fold, so a search costs candidates x
folds fits: 4 settings x 2 folds here, each on 1,000 synthetic faces for 12
epochs, one to two minutes on two CPU cores.
"""

# %%
# The search
# ----------
import os

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fer_sklearn import FERCNNClassifier
from fer_sklearn.datasets import load_fer2013, make_faces

if os.environ.get("FER2013_PATH"):
    faces = load_fer2013(os.environ["FER2013_PATH"], usage="Training")
    X, _, y, _ = train_test_split(faces.data, faces.target, train_size=2000,
                                  stratify=faces.target, random_state=0)
else:
    X, y = make_faces(2000, random_state=0, return_X_y=True)

cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
# refit=False: the search only ranks the settings here. With refit=True (the
# default) it would also retrain the best one on all the faces, as
# ``search.best_estimator_``. test_time_shift=0 scores each fold on 2 views of
# a face (it and its mirror) instead of 10, which is quicker.
search = GridSearchCV(
    FERCNNClassifier(n_blocks=3, max_epochs=12, test_time_shift=0, random_state=0),
    param_grid={"n_filters": [4, 16], "lr": [3e-3, 1e-2]},
    cv=cv, refit=False,
)
search.fit(X, y)
print("best:", search.best_params_, f"accuracy {search.best_score_:.3f}")

# %%
# The results
# -----------
# ``cv_results_`` holds every candidate's scores and fit times. The width
# matters far more than the learning rate here: 4 filters per layer are too
# few to separate the seven expressions in 12 epochs.
results = pd.DataFrame(search.cv_results_)
table = results.pivot(index="param_n_filters", columns="param_lr", values="mean_test_score")
print(table.round(3))
print(results.pivot(index="param_n_filters", columns="param_lr",
                    values="mean_fit_time").round(1))

# %%
# Against a baseline in a pipeline
# --------------------------------
# Standardised pixels, PCA and logistic regression, scored on the same folds.
baseline = make_pipeline(StandardScaler(), PCA(n_components=50, random_state=0),
                         LogisticRegression(max_iter=1000))
scores = cross_val_score(baseline, X, y, cv=cv)
print(f"PCA + logistic regression: {scores.mean():.3f}; "
      f"best CNN setting: {search.best_score_:.3f}")

fig, ax = plt.subplots(figsize=(5.5, 3.5))
table.plot.bar(ax=ax, rot=0)
ax.axhline(scores.mean(), color="k", lw=1, ls="--", label="PCA + logistic regression")
ax.axhline(1 / 7, color="gray", lw=0.8, ls=":", label="chance")
ax.set(xlabel="n_filters", ylabel="mean CV accuracy", ylim=(0, 1))
ax.legend(title="lr", fontsize="small")
fig.tight_layout()

# %%
# On the synthetic faces this page checks (the documentation build fails
# otherwise) that the settings differ by at least 5 points and that the
# best of them beats the baseline. Measured on two CPU cores, the best setting
# scored 0.85-0.86 in float32 and in bfloat16 against the baseline's 0.69; with 8
# epochs it was 0.68-0.73, too close to the baseline to check.
if not os.environ.get("FER2013_PATH"):
    assert table.to_numpy().max() - table.to_numpy().min() >= 0.05, table
    assert search.best_score_ > scores.mean(), (search.best_score_, scores.mean())
