"""The precision parameter: bfloat16 autocast in training and prediction."""

import os
import subprocess
import sys

import numpy as np
import pytest
import skops.io as sio
import torch

from fer_sklearn import FERCNNClassifier, FERDNNClassifier, _precision
from fer_sklearn._persistence import load, save
from fer_sklearn._precision import autocast_dtype, native_bfloat16


def test_a_process_the_tests_start_resolves_precision_as_the_tests_do():
    # conftest's --precision-path reaches joblib's and dask's workers and the CLI's
    # subprocesses too (tests/_precision_path/sitecustomize.py).
    code = "from fer_sklearn._precision import native_bfloat16; print(native_bfloat16('cpu'))"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert child == str(native_bfloat16("cpu"))


def tiny_cnn(**params):
    base = dict(n_filters=8, n_blocks=2, convs_per_block=1, max_epochs=6, batch_size=32,
                augment="none", lr_schedule="none", random_state=0, device="cpu")
    return FERCNNClassifier(**{**base, **params})


class LayerDtypes:
    """Records the output dtype of every layer of one type run while it is active."""

    def __init__(self, layer_type):
        self.layer_type = layer_type
        self.seen = set()

    def hook(self, module, inputs, output):
        if isinstance(module, self.layer_type):
            self.seen.add(output.dtype)

    def __enter__(self):
        self.handle = torch.nn.modules.module.register_module_forward_hook(self.hook)
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def test_autocast_dtype_follows_the_parameter():
    assert autocast_dtype("float32", "cpu") is None
    assert autocast_dtype("bfloat16", "cpu") is torch.bfloat16
    expected = torch.bfloat16 if native_bfloat16("cpu") else None
    assert autocast_dtype("auto", "cpu") is expected


@pytest.mark.parametrize("flags, native", [({"avx512f", "avx512bw", "avx512_bf16"}, True),
                                           ({"avx512f", "amx_bf16", "amx_tile"}, True),
                                           # AVX512 alone: oneDNN emulates bf16, slower
                                           ({"avx512f", "avx512bw", "avx512vl"}, False),
                                           ({"avx2", "fma"}, False)])
def test_native_bfloat16_needs_bf16_units(monkeypatch, flags, native):
    monkeypatch.setattr(_precision, "_cpu_flags", lambda: flags)
    assert native_bfloat16("cpu") is native
    assert autocast_dtype("auto", "cpu") is (torch.bfloat16 if native else None)


@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo"), reason="the OS lists no CPU flags")
def test_native_bfloat16_reads_this_cpus_flags(pytestconfig):
    if pytestconfig.getoption("--precision-path") != "native":
        pytest.skip("--precision-path replaces this CPU's flags")
    with open("/proc/cpuinfo") as cpuinfo:
        text = cpuinfo.read()
    assert native_bfloat16("cpu") is ("avx512_bf16" in text or "amx_bf16" in text)


@pytest.mark.parametrize("precision, dtype", [("float32", torch.float32),
                                              ("bfloat16", torch.bfloat16)])
def test_convolutions_run_in_the_chosen_precision(patch_faces, precision, dtype):
    X, y = patch_faces(96)
    with LayerDtypes(torch.nn.Conv2d) as fit_pass:
        clf = tiny_cnn(max_epochs=1, precision=precision, validation_fraction=0.25).fit(X, y)
    with LayerDtypes(torch.nn.Conv2d) as predict_pass:
        proba = clf.predict_proba(X)
    assert fit_pass.seen == {dtype}
    assert predict_pass.seen == {dtype}
    # Weights stay float32 and the probabilities are ordinary float64 rows.
    assert {p.dtype for p in clf.module_.parameters()} == {torch.float32}
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_bfloat16_learns_as_float32_does(faces, faces_test):
    scores = {p: tiny_cnn(n_blocks=3, max_epochs=8, precision=p).fit(*faces).score(*faces_test)
              for p in ("float32", "bfloat16")}
    # Seven classes: chance is 0.14; both reached 0.35 when this was written.
    assert scores["float32"] > 0.25
    assert scores["bfloat16"] > 0.25
    assert abs(scores["bfloat16"] - scores["float32"]) <= 0.1


def test_dnn_linear_layers_follow_precision(patch_faces):
    X, y = patch_faces(64)
    dnn = FERDNNClassifier(hidden_layer_sizes=(32,), max_epochs=1, precision="bfloat16",
                           device="cpu", random_state=0)
    with LayerDtypes(torch.nn.Linear) as fit_pass:
        dnn.fit(X, y)
    assert fit_pass.seen == {torch.bfloat16}


def test_unknown_precision_is_rejected(patch_faces):
    X, y = patch_faces(40)
    with pytest.raises(ValueError, match="'precision' parameter"):
        tiny_cnn(precision="float16").fit(X, y)


def test_saved_estimator_predicts_in_its_precision(patch_faces, tmp_path):
    X, y = patch_faces(96)
    clf = tiny_cnn(max_epochs=2, precision="bfloat16").fit(X, y)
    path = tmp_path / "bf16.skops"
    save(clf, path)
    loaded = load(path)
    assert loaded.precision == "bfloat16"
    with LayerDtypes(torch.nn.Conv2d) as predict_pass:
        proba = loaded.predict_proba(X)
    assert predict_pass.seen == {torch.bfloat16}
    np.testing.assert_array_equal(proba, clf.predict_proba(X))


@pytest.mark.parametrize("fitted, now, dtype", [("bfloat16", "float32", torch.float32),
                                                ("float32", "bfloat16", torch.bfloat16)])
def test_precision_set_after_fit_applies_to_prediction(patch_faces, tmp_path, fitted, now,
                                                       dtype):
    X, y = patch_faces(96)
    clf = tiny_cnn(max_epochs=2, precision=fitted).fit(X, y)
    save(clf, tmp_path / "model.skops")
    for model in (clf, load(tmp_path / "model.skops")):
        model.set_params(precision=now)
        with LayerDtypes(torch.nn.Conv2d) as predict_pass:
            proba = model.predict_proba(X)
        assert predict_pass.seen == {dtype}
        # The same weights in a model fitted in that precision predict the same.
        reference = tiny_cnn(max_epochs=2, precision=now).fit(X, y)
        reference.module_.load_state_dict(model.module_.state_dict())
        np.testing.assert_array_equal(proba, reference.predict_proba(X))
    model.set_params(precision="float16")
    with pytest.raises(ValueError, match="'precision' parameter"):
        model.predict_proba(X)


def test_file_saved_before_precision_existed_loads_as_float32(patch_faces, tmp_path):
    X, y = patch_faces(96)
    clf = tiny_cnn(max_epochs=2, precision="float32").fit(X, y)
    path, old = tmp_path / "new.skops", tmp_path / "old.skops"
    save(clf, path)
    payload = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    del payload["params"]["precision"]
    sio.dump(payload, old)
    loaded = load(old)
    assert loaded.precision == "float32"
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
