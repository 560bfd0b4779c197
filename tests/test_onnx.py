"""ONNX export: onnxruntime reproduces predict_proba from raw pixels."""

import copy
import json

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")

from fer_sklearn import FERCNNClassifier, FERDNNClassifier  # noqa: E402
from fer_sklearn._onnx import export_onnx  # noqa: E402


@pytest.fixture(scope="module")
def faces(patch_faces):
    X, y = patch_faces(1000)
    return X, np.array(["angry", "happy", "sad"])[y]


@pytest.fixture(scope="module")
def cnn(faces):
    X, y = faces
    # float32, like the exported graph, so that the two agree to 1e-4.
    return FERCNNClassifier(n_filters=4, n_blocks=2, convs_per_block=1, max_epochs=2,
                            precision="float32", random_state=0).fit(X[:200], y[:200])


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("input_shape, test_time_flip, test_time_shift",
                         [("flat", True, 1), ("image", False, 0), ("image", True, 2)])
def test_onnxruntime_matches_predict_proba(cnn, faces, tmp_path, input_shape, test_time_flip,
                                           test_time_shift):
    X = faces[0][200:500]  # held out from the fit; up to 10 views each, three ways
    # Predict-time switches: a shallow copy shares the fitted net, no refit needed.
    cnn = copy.copy(cnn).set_params(test_time_flip=test_time_flip,
                                    test_time_shift=test_time_shift)
    before = cnn.predict_proba(X)
    path = tmp_path / "cnn.onnx"
    export_onnx(cnn, path, input_shape=input_shape)
    onnx.checker.check_model(str(path))
    session = _session(path)
    pixels = X if input_shape == "flat" else X.reshape(-1, 48, 48)
    proba = session.run(None, {"pixels": pixels})[0]
    assert proba.shape == (300, 3)
    assert np.abs(proba - before).max() <= 1e-4
    for n in (1, 7):  # the batch axis is dynamic
        np.testing.assert_allclose(session.run(None, {"pixels": pixels[:n]})[0], before[:n],
                                   atol=1e-4)
    assert session.get_inputs()[0].shape == ["batch", *pixels.shape[1:]]
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["classes"]) == ["angry", "happy", "sad"]
    assert meta["input_shape"] == input_shape
    assert json.loads(meta["test_time_flip"]) is test_time_flip
    assert json.loads(meta["test_time_shift"]) == test_time_shift
    # Exporting leaves the estimator as it was.
    assert not cnn.module_.training
    np.testing.assert_array_equal(cnn.predict_proba(X), before)


def test_dnn_export(faces, tmp_path):
    X, y = faces
    dnn = FERDNNClassifier(hidden_layer_sizes=(32,), max_epochs=1, random_state=0)
    dnn.fit(X[:200], y[:200])
    export_onnx(dnn, tmp_path / "dnn.onnx", opset=20)
    proba = _session(tmp_path / "dnn.onnx").run(None, {"pixels": X})[0]
    assert np.abs(proba - dnn.predict_proba(X)).max() <= 1e-4
    assert onnx.load(str(tmp_path / "dnn.onnx")).opset_import[0].version == 20


def test_export_checks_its_input(cnn, tmp_path):
    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match="input_shape must be 'flat' or 'image'"):
        export_onnx(cnn, path, input_shape="square")
    with pytest.raises(ValueError, match="opset must be an int >= 18"):
        export_onnx(cnn, path, opset=13)
    with pytest.raises(NotFittedError):
        export_onnx(FERCNNClassifier(), path)
    with pytest.raises(TypeError, match="FERCNNClassifier or FERDNNClassifier"):
        export_onnx(object(), path)
    # Set after fit: refused as fit and predict_proba refuse it.
    message = r"'test_time_shift' parameter of FERCNNClassifier must be an int in the range \[0, 48\)"
    with pytest.raises(ValueError, match=message):
        export_onnx(copy.copy(cnn).set_params(test_time_shift=48), path)
    assert not path.exists()
