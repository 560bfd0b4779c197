"""Shared fixtures: small synthetic face data sets."""

import matplotlib
import numpy as np
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


def _patch_faces(n, seed=0):
    """Random 48x48 images with a bright patch whose place depends on the class (0..2)."""
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 3, n)
    X = rng.randint(0, 156, (n, 48, 48)).astype(np.float32)
    for k in range(3):
        X[y == k, 12 * k:12 * k + 12, 10:30] += 100
    return X.reshape(n, -1), y


@pytest.fixture(scope="session")
def patch_faces():
    """Factory ``patch_faces(n, seed=0) -> (X, y)``: an easy task for tiny networks."""
    return _patch_faces


@pytest.fixture
def one_torch_thread():
    """torch on one thread for the test: worker processes (loky, dask) run it so, and a
    serial baseline must too, for bit-identical float reductions."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
