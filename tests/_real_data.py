"""Where the tests find the real FER2013 files, in one place.

``$FER2013_PATH``, else ``../shared/data/fer2013/fer2013.csv.gz`` beside the
repository, and the FER+ votes ``fer2013new.csv`` beside it. Tests that need
them skip (saying where they looked) where they are absent, and fixtures
that prefer real faces fall back to those inside scikit-image's wheel.
``pytest --without-data`` (see ``conftest.py``) runs the suite as on a
machine without them, wherever they are.
"""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FER2013 = Path(os.environ.get("FER2013_PATH", REPO.parent / "shared/data/fer2013/fer2013.csv.gz"))
FERPLUS = FER2013.parent / "fer2013new.csv"
# Set by conftest.py for --without-data, before any test module is imported.
WITHOUT_DATA_VARIABLE = "FER_SKLEARN_TESTS_WITHOUT_DATA"


def present(path):
    """Whether the real file ``path`` is there to be used."""
    return not os.environ.get(WITHOUT_DATA_VARIABLE) and Path(path).is_file()


def _reason(name, path):
    if os.environ.get(WITHOUT_DATA_VARIABLE):
        return f"{name} not used: the suite runs --without-data"
    return f"{name} not found at {path} (set FER2013_PATH)"


needs_fer2013 = pytest.mark.skipif(not present(FER2013), reason=_reason("FER2013", FER2013))
needs_ferplus = pytest.mark.skipif(not (present(FER2013) and present(FERPLUS)),
                                   reason=_reason("FER2013 and the FER+ votes", FERPLUS))
