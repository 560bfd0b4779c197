"""
Grid search over the architecture and the learning-rate schedule
================================================================

The estimators follow scikit-learn's estimator contract, so
:class:`~sklearn.model_selection.GridSearchCV` searches their parameters like
any other's -- here the depth of the CNN and the learning-rate schedule --
and :func:`~sklearn.model_selection.cross_val_score` compares the winner with
a classical baseline in a :class:`~sklearn.pipeline.Pipeline`.

Every candidate is trained once per fold, so a search costs candidates x
folds fits: keep the networks tiny while searching. The numbers below come
from a few hundred faces and three epochs, so that this page builds in
seconds; they show the mechanics, not which setting is best. With so small
a budget the CNNs may stay near chance (1/7) -- a search only ranks the
candidates for the budget it gives them.
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
    X, _, y, _ = train_test_split(faces.data, faces.target, train_size=600,
                                  stratify=faces.target, random_state=0)
else:
    X, y = make_faces(600, random_state=0, return_X_y=True)

cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
search = GridSearchCV(
    FERCNNClassifier(n_filters=4, max_epochs=3, random_state=0),
    param_grid={"n_blocks": [2, 3], "lr_schedule": ["onecycle", "none"]},
    cv=cv,
)
search.fit(X, y)
print("best:", search.best_params_, f"accuracy {search.best_score_:.3f}")

# %%
# The results
# -----------
# ``cv_results_`` holds every candidate's scores and fit times.
results = pd.DataFrame(search.cv_results_)
table = results.pivot(index="param_n_blocks", columns="param_lr_schedule",
                      values="mean_test_score")
print(table.round(3))

fig, ax = plt.subplots(figsize=(5, 3.5))
table.plot.bar(ax=ax, rot=0)
ax.set(xlabel="n_blocks", ylabel="mean CV accuracy", ylim=(0, 1))
ax.axhline(1 / 7, color="gray", lw=0.8, ls=":", label="chance")
ax.legend(title="lr_schedule")
fig.tight_layout()

# %%
# The refitted best model
# -----------------------
# With ``refit=True`` (the default) the best setting is retrained on all the
# data; it is a fitted estimator like any other, with its own ``history_``.
best = search.best_estimator_
print(best.history_[["epoch", "train_loss", "train_acc", "lr"]].round(4).to_string())

# %%
# Against a baseline in a pipeline
# --------------------------------
# Standardised pixels, PCA and logistic regression, scored on the same folds.
baseline = make_pipeline(StandardScaler(), PCA(n_components=50, random_state=0),
                         LogisticRegression(max_iter=1000))
scores = cross_val_score(baseline, X, y, cv=cv)
print(f"PCA + logistic regression: {scores.mean():.3f}; "
      f"best CNN setting: {search.best_score_:.3f}")
