"""Shared fixtures (small synthetic face data sets) and the suite's two variants.

The suite must pass on every machine a newcomer may have, so two options run
it as on another one, from this one:

- ``--precision-path=bfloat16`` or ``=float32``: ``precision="auto"`` (the
  default of the CNN and the shipped models) resolves as on a CPU with, or
  without, native bfloat16, whatever this CPU has. Forced bfloat16 on a CPU
  without it is emulated and slower, but computes the same numbers path.
  ``native`` (the default) keeps what the CPU has.
- ``--without-data``: as on a machine without the real FER2013 files (see
  ``_real_data.py``): their tests skip and the fixtures use scikit-image's faces.

Both reach the processes the tests start (joblib and dask workers, the
command line), through environment variables; ``--precision-path`` puts
``_precision_path/sitecustomize.py`` on their ``PYTHONPATH`` for that.
``bash scripts/test.sh --precision-path=bfloat16 --without-data`` passes them on.
"""

import os
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from _precision_path.sitecustomize import VARIABLE as PRECISION_PATH_VARIABLE, set_path
from _real_data import WITHOUT_DATA_VARIABLE

matplotlib.use("Agg")

PRECISION_PATHS = ("native", "bfloat16", "float32")
SITECUSTOMIZE = Path(__file__).parent / "_precision_path" / "sitecustomize.py"


def pytest_addoption(parser):
    group = parser.getgroup("fer_sklearn", "fer_sklearn's test variants")
    group.addoption("--precision-path", choices=PRECISION_PATHS, default="native",
                    help="resolve precision='auto' as on a CPU with native bfloat16 "
                         "('bfloat16'), without it ('float32'), or as this CPU does "
                         "('native', the default)")
    group.addoption("--without-data", action="store_true",
                    help="run as on a machine without the real FER2013 files")


def pytest_configure(config):
    # Before the test modules are imported: their skip marks read the variable.
    if config.getoption("--without-data"):
        os.environ[WITHOUT_DATA_VARIABLE] = "1"
    path = config.getoption("--precision-path")
    if path != "native":
        from fer_sklearn import _precision

        set_path(_precision, path)
        # The processes the tests start (joblib and dask workers, the CLI) take the same path.
        os.environ[PRECISION_PATH_VARIABLE] = path
        os.environ["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(SITECUSTOMIZE.parent), os.environ.get("PYTHONPATH")]))


def pytest_report_header(config):
    from fer_sklearn._precision import native_bfloat16

    return (f"fer_sklearn: precision='auto' runs "
            f"{'bfloat16' if native_bfloat16('cpu') else 'float32'} on this CPU "
            f"(--precision-path={config.getoption('--precision-path')}); real FER2013 data "
            f"{'not used (--without-data)' if config.getoption('--without-data') else 'used where present'}")


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


@pytest.fixture
def fer2013_csv(tmp_path):
    """``(path, X, y)``: 400 synthetic faces in FER2013's CSV, 300 Training and 100 PublicTest
    rows, pixels rounded to 0..255, ``y`` FER2013's emotion codes (for the benchmark scripts)."""
    from fer_sklearn.datasets import make_faces

    X, y = make_faces(400, random_state=0, return_X_y=True)
    X = np.rint(X).astype(np.uint8)
    usage = ["Training"] * 300 + ["PublicTest"] * 100
    path = tmp_path / "fer2013.csv"
    path.write_text("emotion,pixels,Usage\n" + "".join(
        f"{label},{' '.join(map(str, row))},{part}\n" for label, row, part in zip(y, X, usage)))
    return path, X, y


@pytest.fixture
def ferplus_csv(fer2013_csv):
    """``(path, majority)``: FER+ votes row-aligned with ``fer2013_csv``: 8 of 10 votes for
    the FER+ emotion of the row's FER2013 label (contempt on every 10th row from the 5th),
    2 for neutral (or for happiness, on neutral rows), and a tie on every 10th row, which
    the FER+ loaders drop (``majority`` -1 there)."""
    from fer_sklearn.datasets import _fer2013

    csv, X, y = fer2013_csv
    # FER2013's angry, disgust, fear, happy, sad, surprise, neutral as FER+ vote columns.
    column = np.array([4, 5, 6, 1, 3, 2, 0])[y]
    column[np.arange(len(y)) % 10 == 4] = 7  # FER+'s contempt, which FER2013 lacks
    votes = np.zeros((len(y), len(_fer2013._FERPLUS_VOTES)), int)
    votes[np.arange(len(y)), column] = 8
    other = np.where(column == 0, 1, 0)
    votes[np.arange(len(y)), other] += 2
    tie = np.arange(len(y)) % 10 == 9
    votes[tie, other[tie]] = 8
    usage = ["Training"] * 300 + ["PublicTest"] * 100
    path = csv.parent / "fer2013new.csv"
    path.write_text("Usage,Image name," + ",".join(_fer2013._FERPLUS_VOTES) + "\n" + "".join(
        f"{part},fer{i:07d}.png," + ",".join(map(str, row)) + "\n"
        for i, (part, row) in enumerate(zip(usage, votes))))
    return path, np.where(tie, -1, column)
