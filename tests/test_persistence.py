"""Safe save/load with skops; pickle and joblib keep working."""

import io
import json
import os
import pickle
import warnings
import zipfile

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError
from skorch.callbacks import Callback
from skorch.exceptions import DeviceWarning

sio = pytest.importorskip("skops.io")

from fer_sklearn import FERCNNClassifier, FERDNNClassifier  # noqa: E402
from fer_sklearn._persistence import _attribute_types, load, save  # noqa: E402


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


def test_version_is_checked_before_the_contents(cnn, tmp_path):
    # Another version may lay the file out differently: say so, not "damaged".
    save(cnn, tmp_path / "m.skops")

    def edit(payload):
        payload.update(fer_sklearn_version="0.0.1")
        del payload["history"]

    _rewrite(tmp_path / "m.skops", tmp_path / "old.skops", edit)
    with pytest.raises(ValueError, match=r"saved by fer_sklearn 0\.0\.1"):
        load(tmp_path / "old.skops")


def test_weights_stored_in_float16_whole_or_by_tensor(cnn, faces, tmp_path):
    X, _ = faces
    weights = cnn.module_.state_dict()
    large = {name for name, tensor in weights.items() if tensor.ndim == 4}  # the conv kernels
    choices = {"float32": {}, "float16": set(weights),
               "by tensor": dict.fromkeys(large, "float16")}
    for label, choice in choices.items():
        path = tmp_path / f"{label}.skops"
        save(cnn, path, weights_dtype=choice if label == "by tensor" else label)
        stored = sio.load(path, trusted=sio.get_untrusted_types(file=path))["state_dict"]
        halves = {name for name, array in stored.items() if array.dtype == np.float16}
        assert halves == {n for n in (set(choice) if label != "float32" else ())
                          if weights[n].is_floating_point()}
        loaded = load(path)
        for name, tensor in loaded.module_.state_dict().items():
            expected = weights[name].half().float() if name in halves else weights[name]
            assert tensor.dtype == weights[name].dtype
            torch.testing.assert_close(tensor, expected, rtol=0, atol=0)
    sizes = [(tmp_path / f"{label}.skops").stat().st_size for label in choices]
    assert sizes[0] > sizes[2] > sizes[1]
    with pytest.raises(ValueError, match="names tensors the module lacks: \\['conv9.weight'\\]"):
        save(cnn, tmp_path / "m.skops", weights_dtype={"conv9.weight": "float16"})
    with pytest.raises(ValueError, match="weights_dtype must be one of"):
        save(cnn, tmp_path / "m.skops", weights_dtype={next(iter(large)): "bfloat16"})
    with pytest.raises(ValueError, match="weights_dtype must be one of"):
        save(cnn, tmp_path / "m.skops", weights_dtype="int8")
    assert not (tmp_path / "m.skops").exists()


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


# ------------------------------------------------------------------ devices
# Unavailable everywhere: an index past the last GPU ("cuda:0" without CUDA),
# and, on a machine without CUDA, the "cuda" that training on a GPU stores.
UNAVAILABLE = [f"cuda:{torch.cuda.device_count()}",
               *([] if torch.cuda.is_available() else ["cuda"])]


@pytest.fixture(scope="module")
def good_file(cnn, tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "good.skops"
    save(cnn, path)
    return path


@pytest.mark.parametrize("stored", UNAVAILABLE)
def test_model_saved_for_an_absent_device_loads_on_one_here(cnn, faces, good_file, tmp_path,
                                                           stored):
    path = tmp_path / "gpu.skops"
    _rewrite(good_file, path, lambda payload: payload["params"].update(device=stored))
    with pytest.warns(DeviceWarning) as record:
        loaded = load(path)
    assert len(record) == 1
    message = str(record[0].message)
    assert str(path) in message
    assert f"device={stored!r}" in message and "device='auto' ('cpu' here)" in message
    # "auto": true here, and a GPU again where there is one.
    assert loaded.device == "auto"
    assert loaded.net_.device == "cpu"
    assert loaded.get_params() == cnn.get_params()  # cnn was fitted with device="auto"
    X = faces[0][:30]  # a few faces: identity, not accuracy, is checked
    np.testing.assert_array_equal(loaded.predict_proba(X), cnn.predict_proba(X))


@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_device_argument_overrides_the_stored_one_silently(cnn, faces, good_file, tmp_path,
                                                          device):
    path = tmp_path / "gpu.skops"
    _rewrite(good_file, path, lambda payload: payload["params"].update(device=UNAVAILABLE[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = load(path, device=device)
    assert loaded.get_params()["device"] == device
    assert loaded.net_.device == "cpu"
    X = faces[0][:30]
    np.testing.assert_array_equal(loaded.predict_proba(X), cnn.predict_proba(X))


@pytest.mark.parametrize("device", ["tpu", "cuda:99", "", 0, torch.device("cpu")])
def test_invalid_device_is_refused_before_the_file_is_read(tmp_path, device):
    with pytest.raises(ValueError, match="device") as excinfo:
        load(tmp_path / "absent.skops", device=device)  # no FileNotFoundError: never opened
    assert excinfo.type is ValueError


# ------------------------------------------------------------ damaged files
def _member_data(data, info):
    """Offset and length of a member's stored (compressed) bytes in zip ``data``."""
    # The local header is 30 bytes, then the file name and an extra field
    # whose lengths sit at bytes 26 and 28.
    start = info.header_offset
    name_len, extra_len = (int.from_bytes(data[start + k:start + k + 2], "little")
                           for k in (26, 28))
    return start + 30 + name_len + extra_len, info.compress_size


def _deflated(good):
    """The good file, its members deflated: what ``skops.io.dump(compression=...)`` writes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    return buffer.getvalue()


def _flip_inside(choose):
    """A damage: 8 bytes flipped mid-way in the deflated member ``choose(infos)`` picks."""
    def damage(good, dst):
        data = bytearray(_deflated(good))
        info = choose(zipfile.ZipFile(io.BytesIO(data)).infolist())
        offset, size = _member_data(data, info)
        for i in range(offset + size // 2, offset + size // 2 + 8):
            data[i] ^= 0xFF
        dst.write_bytes(bytes(data))
    return damage


def _schema(infos):
    return next(info for info in infos if info.filename == "schema.json")


def _largest_array(infos):
    return max((info for info in infos if info.filename.endswith(".npy")),
               key=lambda info: info.file_size)


def _truncated(good, dst):
    dst.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])


def _zip_not_skops(good, dst):
    with zipfile.ZipFile(dst, "w") as archive:
        archive.writestr("notes.txt", "hello")


def _deeply_nested(good, dst, depth=10_000):
    # skops cannot write this (dumping recurses too), so the schema is written
    # by hand in skops' layout: a dict {"a": [[[... "1" ...]]]}, with the
    # protocol and version of the installed skops.
    header = json.loads(zipfile.ZipFile(good).read("schema.json"))
    node = ('{"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode", '
            '"content": "1", "is_json": true, "__id__": 1}')
    for _ in range(depth):
        node = ('{"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", '
                f'"content": [{node}], "__id__": 2}}')
    key_types = ('{"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", '
                 '"content": [{"__class__": "str", "__module__": "builtins", '
                 '"__loader__": "TypeNode", "__id__": 3}], "__id__": 4}')
    with zipfile.ZipFile(dst, "w") as archive:
        archive.writestr("schema.json", (
            '{"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode", '
            f'"content": {{"a": {node}}}, "key_types": {key_types}, "__id__": 5, '
            f'"protocol": {header["protocol"]}, "_skops_version": "{header["_skops_version"]}"}}'))


def _dumped(obj):
    return lambda good, dst: sio.dump(obj, dst)


def _edited(edit):
    return lambda good, dst: _rewrite(good, dst, edit)


def _set(section, **values):
    return _edited(lambda payload: payload[section].update(values))


def _first_weight(payload, value):
    payload["state_dict"][next(iter(payload["state_dict"]))] = value


DAMAGES = {
    # damage: (make the file from the good one, what the message must say)
    "not a zip": (lambda good, dst: dst.write_bytes(b"not a zip file"), "BadZipFile"),
    "truncated": (_truncated, "BadZipFile"),
    "zip, not skops": (_zip_not_skops, "schema.json"),
    "flipped bytes, schema": (_flip_inside(_schema), r"zlib\.error|Bad CRC"),
    "flipped bytes, weights": (_flip_inside(_largest_array), r"zlib\.error|Bad CRC"),
    "10,000 levels deep": (_deeply_nested, "RecursionError"),
    "skops, not ours": (_dumped({"some": "dict"}), "no fer_sklearn estimator"),
    "not a dict": (_dumped([1, 2]), "no fer_sklearn estimator"),
    "unknown estimator": (_edited(lambda p: p.update(estimator="Pickler")),
                          "no fer_sklearn estimator"),
    "missing key": (_edited(lambda p: p.pop("state_dict")), "the file lacks 'state_dict'"),
    "params not a dict": (_edited(lambda p: p.update(params=[1])), "params is a list"),
    "unknown param": (_set("params", __class__="dict"), "params has unknown names: '__class__'"),
    "invalid param": (_set("params", n_filters="x"), "'n_filters' parameter"),
    "attribute __class__": (_set("attributes", __class__="dict"),
                            "attributes has unknown names: '__class__'"),
    "attribute __dict__": (_set("attributes", __dict__={}),
                           "attributes has unknown names: '__dict__'"),
    "unknown attribute": (_set("attributes", predict_="x"),
                          "attributes has unknown names: 'predict_'"),
    "missing attribute": (_edited(lambda p: p["attributes"].pop("pixel_std_")),
                          "attributes lacks 'pixel_std_'"),
    "attribute type": (_set("attributes", classes_=["angry", "happy", "sad"]),
                       "classes_ is a list, not a ndarray"),
    "attribute value": (_set("attributes", image_shape_=(7, 7)), r"image_shape_ \(7, 7\)"),
    "scaling": (_set("attributes", pixel_std_=0.0), "pixel_std_ positive"),
    "history": (_edited(lambda p: p["history_columns"].append("bogus")), "history lacks 'bogus'"),
    "weights not arrays": (_edited(lambda p: _first_weight(p, [0.0])), "hold numpy arrays"),
    "weights of another shape": (_edited(lambda p: _first_weight(p, np.zeros(3, np.float32))),
                                 "size mismatch"),
    "extra weights": (_set("state_dict", extra=np.zeros(3)), "Unexpected key"),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_file_gives_one_value_error_naming_it(good_file, tmp_path, damage):
    make, says = DAMAGES[damage]
    path = tmp_path / "damaged.skops"
    make(good_file, path)
    with pytest.raises(ValueError, match=says) as excinfo:
        load(path)
    assert excinfo.type is ValueError
    assert str(path) in str(excinfo.value)
    assert "not a file written by fer_sklearn.save, or is damaged" in str(excinfo.value)


def test_deflated_file_loads(cnn, faces, good_file, tmp_path):
    # The control for the flipped-bytes cases: compression alone is fine.
    path = tmp_path / "deflated.skops"
    path.write_bytes(_deflated(good_file))
    X = faces[0][:30]
    np.testing.assert_array_equal(load(path).predict_proba(X), cnn.predict_proba(X))


def test_saved_attributes_are_the_fitted_ones(cnn, faces):
    # A fitted attribute missing from the allow-list would not be saved: add it there.
    X, y = faces
    X = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(X.shape[1])])
    dnn = FERDNNClassifier(hidden_layer_sizes=(8,), max_epochs=1, random_state=0).fit(X, y)
    for estimator, absent in [(cnn, {"feature_names_in_"}), (dnn, set())]:
        fitted = {name for name in vars(estimator)
                  if name.endswith("_") and not name.startswith("_")}
        assert fitted - {"net_", "history_"} == set(_attribute_types(type(estimator))) - absent
