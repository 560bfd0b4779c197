"""
Quick start: a CNN and a parameter-matched DNN on synthetic faces
=================================================================

Fits :class:`~fer_sklearn.FERCNNClassifier` and a
:class:`~fer_sklearn.FERDNNClassifier` with the same parameter count on the
built-in synthetic faces, and prints their accuracy and parameter counts.
"""

import time

from sklearn.model_selection import train_test_split

from fer_sklearn import FERCNNClassifier, FERDNNClassifier
from fer_sklearn.datasets import make_faces

X, y = make_faces(3000, random_state=0, return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                    stratify=y)

cnn = FERCNNClassifier(n_filters=16, n_blocks=3, max_epochs=8, lr=3e-3, random_state=0)
dnn = FERDNNClassifier(match_params=cnn, max_epochs=8, random_state=0)
for name, model in [("CNN", cnn), ("DNN", dnn)]:
    start = time.perf_counter()
    model.fit(X_train, y_train)
    print(f"{name}: {model.n_params_:,} parameters, test accuracy "
          f"{model.score(X_test, y_test):.3f}, fit {time.perf_counter() - start:.0f} s")
