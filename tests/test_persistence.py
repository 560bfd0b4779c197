"""Safe save/load with skops; pickle and joblib keep working."""

import os
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError
from skorch.callbacks import Callback

sio = pytest.importorskip("skops.io")

from fer_sklearn import FERCNNClassifier, FERDNNClassifier  # noqa: E402
from fer_sklearn._persistence import load, save  # noqa: E402


@pytest.fixture(scope="module")
def faces(patch_faces):
    X, y = patch_faces(120)
    return X, np.array(["angry", "happy", "sad"])[y]


@pytest.fixture(scope="module")
def cnn(faces):
    return FERCNNClassifier(n_filters=4, n_blocks=2, convs_per_block=1, max_epochs=2,
                            random_state=0).fit(*faces)


class Tripwire(Callback):
    """Stands for a malicious type: restoring it would run code from the file."""

    restored = False

    def __init__(self):
        self.armed = True

    def __setstate__(self, state):
        type(self).restored = True
        self.__dict__.update(state)


def _rewrite(src, dst, edit):
    """A file crafted by hand: the payload of ``src`` edited and dumped with skops."""
    payload = sio.load(src, trusted=sio.get_untrusted_types(file=src))
    edit(payload)
    sio.dump(payload, dst)


def test_round_trip_gives_identical_predictions(cnn, faces, tmp_path):
    path = tmp_path / "cnn.skops"
    save(cnn, path)
    assert sio.get_untrusted_types(file=path) == []  # nothing but arrays, builtins and dicts
    loaded = load(path)
    X, _ = faces
    np.testing.assert_array_equal(loaded.predict_proba(X), cnn.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), cnn.predict(X))
    assert loaded.get_params() == cnn.get_params()
    np.testing.assert_array_equal(loaded.classes_, cnn.classes_)
    assert (loaded.image_shape_, loaded.pixel_mean_, loaded.pixel_std_, loaded.n_params_) == (
        cnn.image_shape_, cnn.pixel_mean_, cnn.pixel_std_, cnn.n_params_)
    pd.testing.assert_frame_equal(loaded.history_, cnn.history_)
    assert not loaded.module_.training


def test_round_trip_dnn_with_feature_names_and_warm_start(faces, tmp_path):
    X, y = faces
    X = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(X.shape[1])])
    dnn = FERDNNClassifier(hidden_layer_sizes=(16,), match_params=5_000, max_epochs=1,
                           class_weight="balanced", random_state=0).fit(X, y)
    save(dnn, tmp_path / "dnn.skops")
    loaded = load(tmp_path / "dnn.skops")
    np.testing.assert_array_equal(loaded.predict_proba(X), dnn.predict_proba(X))
    np.testing.assert_array_equal(loaded.feature_names_in_, dnn.feature_names_in_)
    assert loaded.hidden_layer_sizes_ == dnn.hidden_layer_sizes_
    # The loaded estimator trains on like the original.
    loaded.set_params(warm_start=True).fit(X, y)
    dnn.set_params(warm_start=True).fit(X, y)
    np.testing.assert_allclose(loaded.predict_proba(X), dnn.predict_proba(X), atol=1e-6)
    assert len(loaded.history_) == 2


def test_crafted_file_with_untrusted_type_is_refused(cnn, tmp_path):
    save(cnn, tmp_path / "good.skops")
    crafted = tmp_path / "crafted.skops"
    _rewrite(tmp_path / "good.skops", crafted,
             lambda payload: payload["params"].update(callbacks=[Tripwire()]))
    Tripwire.restored = False
    with pytest.raises(TypeError, match=r"crafted\.skops.*not trusted.*Tripwire"):
        load(crafted)
    assert not Tripwire.restored  # refused before anything was built
    loaded = load(crafted, trusted=[Tripwire])
    assert Tripwire.restored
    assert isinstance(loaded.callbacks[0], Tripwire)


def test_trusted_must_be_a_list_of_names(cnn, tmp_path):
    save(cnn, tmp_path / "m.skops")
    with pytest.raises(TypeError, match="trusted must be"):
        load(tmp_path / "m.skops", trusted="builtins.eval")


def test_file_from_another_version_is_refused(cnn, tmp_path):
    save(cnn, tmp_path / "m.skops")
    _rewrite(tmp_path / "m.skops", tmp_path / "old.skops",
             lambda payload: payload.update(fer_sklearn_version="0.0.1"))
    with pytest.raises(ValueError, match=r"old\.skops.*saved by fer_sklearn 0\.0\.1"):
        load(tmp_path / "old.skops")


@pytest.mark.parametrize("content", [b"not a zip file", None])
def test_foreign_file_is_refused(tmp_path, content):
    path = tmp_path / "foreign.skops"
    if content is None:
        sio.dump({"some": "dict"}, path)  # a valid skops file, but not ours
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=r"foreign\.skops.*not a file written by fer_sklearn"):
        load(path)


def test_save_checks_its_input(cnn, faces, tmp_path):
    with pytest.raises(NotFittedError):
        save(FERCNNClassifier(), tmp_path / "m.skops")
    with pytest.raises(TypeError, match="FERCNNClassifier or FERDNNClassifier"):
        save(object(), tmp_path / "m.skops")
    dnn = FERDNNClassifier(match_params=cnn, max_epochs=1).fit(*faces)
    with pytest.raises(TypeError, match="'match_params' holds a fitted FERCNNClassifier"):
        save(dnn, tmp_path / "m.skops")
    assert os.listdir(tmp_path) == []


def test_failed_save_leaves_no_partial_file(cnn, tmp_path, monkeypatch):
    path = tmp_path / "m.skops"
    path.write_bytes(b"previous")

    def broken_dump(obj, file):
        file.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(sio, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        save(cnn, path)
    assert path.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["m.skops"]


def test_load_leaves_torch_rng_alone(cnn, tmp_path):
    save(cnn, tmp_path / "m.skops")
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    load(tmp_path / "m.skops")
    torch.testing.assert_close(torch.rand(3), expected)


@pytest.mark.parametrize("dumps, loads", [(pickle.dumps, pickle.loads),
                                          ("joblib", "joblib")])
def test_pickle_and_joblib_still_work(cnn, faces, tmp_path, dumps, loads):
    if dumps == "joblib":
        joblib.dump(cnn, tmp_path / "m.joblib")
        restored = joblib.load(tmp_path / "m.joblib")
    else:
        restored = loads(dumps(cnn))
    X, _ = faces
    np.testing.assert_array_equal(restored.predict_proba(X), cnn.predict_proba(X))
