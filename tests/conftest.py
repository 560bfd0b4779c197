"""Shared fixtures: small synthetic face data sets."""

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(scope="session")
def faces():
    """(X, y): 280 synthetic 48x48 faces, 40 per emotion, pixels 0..255."""
    from fer_sklearn.datasets import make_faces

    return make_faces(280, random_state=0, return_X_y=True)


@pytest.fixture(scope="session")
def faces_test():
    """A held-out draw of 140 faces."""
    from fer_sklearn.datasets import make_faces

    return make_faces(140, random_state=1, return_X_y=True)
