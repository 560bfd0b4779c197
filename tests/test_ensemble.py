"""Ensembles in one module: n_members, and average_ensemble of fitted classifiers."""

import copy

import numpy as np
import pytest
import torch

from fer_sklearn import FERCNNClassifier, FERDNNClassifier, average_ensemble, load, save
from fer_sklearn._ensemble import _split_members
from fer_sklearn._modules import FERCNN, MemberAverage
from fer_sklearn._weighting import WeightedCrossEntropy, WeightedNeuralNetClassifier

SMALL = dict(n_filters=4, n_blocks=2, convs_per_block=1, max_epochs=3, precision="float32")


@pytest.fixture(scope="module")
def data(patch_faces):
    X, y = patch_faces(300)
    return X, np.array(["angry", "happy", "sad"])[y]


@pytest.fixture(scope="module")
def fitted(data):
    """Two classifiers of one recipe, different seeds, on the same faces."""
    X, y = data
    return [FERCNNClassifier(**SMALL, random_state=seed).fit(X[:200], y[:200])
            for seed in (0, 1)]


def test_ensemble_predicts_the_mean_of_its_members(fitted, data):
    X, _ = data
    ensemble = average_ensemble(fitted)
    assert ensemble.n_members == 2 and isinstance(ensemble.module_, MemberAverage)
    assert ensemble.n_params_ == 2 * fitted[0].n_params_
    members = [model.predict_proba(X[200:]) for model in fitted]
    assert np.abs(members[0] - members[1]).max() > 0.05  # different networks
    np.testing.assert_allclose(ensemble.predict_proba(X[200:]), np.mean(members, axis=0),
                               atol=1e-5)
    np.testing.assert_array_equal(ensemble.classes_, fitted[0].classes_)
    # The inputs are left as they were.
    assert all(model.n_members == 1 and isinstance(model.module_, FERCNN) for model in fitted)


def test_ensemble_of_ensembles_flattens(fitted, data):
    X, _ = data
    nested = average_ensemble([average_ensemble(fitted), fitted[0]])
    assert nested.n_members == 3
    expected = (fitted[0].predict_proba(X) * 2 + fitted[1].predict_proba(X)) / 3
    np.testing.assert_allclose(nested.predict_proba(X), expected, atol=1e-5)


def test_split_gives_back_the_members(fitted, data):
    """_split_members is average_ensemble's inverse; a member it gives trains on (warm_start)."""
    X, y = data
    ensemble = average_ensemble(fitted)
    expected = ensemble.predict_proba(X[200:])
    members = _split_members(ensemble)
    assert [m.n_members for m in members] == [1, 1]
    params = {k: v for k, v in ensemble.get_params().items() if k != "n_members"}
    assert all({k: v for k, v in m.get_params().items() if k != "n_members"} == params
               for m in members)
    for member, original in zip(members, fitted):
        np.testing.assert_allclose(member.predict_proba(X[200:]), original.predict_proba(X[200:]),
                                   atol=1e-6)
    np.testing.assert_allclose(average_ensemble(members).predict_proba(X[200:]), expected,
                               atol=1e-6)
    assert len(_split_members(fitted[0])) == 1
    before = members[1].predict_proba(X[200:])
    members[1].set_params(warm_start=True, max_epochs=1).fit(X[:200], y[:200])
    assert np.abs(members[1].predict_proba(X[200:]) - before).max() > 1e-3
    # The ensemble it came from, and the other member, are untouched.
    np.testing.assert_array_equal(ensemble.predict_proba(X[200:]), expected)
    np.testing.assert_allclose(members[0].predict_proba(X[200:]), fitted[0].predict_proba(X[200:]),
                               atol=1e-6)


def test_ensemble_saves_and_loads(fitted, data, tmp_path):
    X, _ = data
    ensemble = average_ensemble(fitted)
    path = tmp_path / "ensemble.skops"
    save(ensemble, path)
    loaded = load(path)
    assert loaded.n_members == 2
    np.testing.assert_array_equal(loaded.predict_proba(X), ensemble.predict_proba(X))


def test_ensemble_refuses_what_cannot_be_averaged(fitted, data, patch_faces):
    X, y = data
    with pytest.raises(ValueError, match="at least one"):
        average_ensemble([])
    dnn = FERDNNClassifier(hidden_layer_sizes=8, max_epochs=1).fit(X[:50], y[:50])
    with pytest.raises(TypeError, match=r"estimators\[1\] is a FERDNNClassifier"):
        average_ensemble([fitted[0], dnn])
    two_classes = FERCNNClassifier(**SMALL).fit(X[:100][y[:100] != "sad"],
                                                y[:100][y[:100] != "sad"])
    with pytest.raises(ValueError, match=r"estimators\[1\]\.classes_"):
        average_ensemble([fitted[0], two_classes])
    other_faces = FERCNNClassifier(**SMALL).fit(X[100:], y[100:])
    with pytest.raises(ValueError, match=r"estimators\[1\]\.pixel_mean_.*same images"):
        average_ensemble([fitted[0], other_faces])
    wider = FERCNNClassifier(**{**SMALL, "n_filters": 8}).fit(X[:200], y[:200])
    with pytest.raises(ValueError, match="network 1 .* shape"):
        average_ensemble([fitted[0], wider])


def test_fit_trains_members_that_differ_and_learn(faces, faces_test):
    X, y = faces
    model = FERCNNClassifier(n_filters=8, n_blocks=3, convs_per_block=1, max_epochs=8,
                             batch_size=32, augment="none", lr_schedule="none",
                             precision="float32", n_members=2, random_state=0).fit(X, y)
    module = model.module_
    assert isinstance(module, MemberAverage) and len(module.members) == 2
    assert model.n_params_ == 2 * model.set_params(n_members=1).count_params(2304, 7)
    model.set_params(n_members=2)
    assert model.count_params(2304, 7) == model.n_params_
    first, second = (m.features.conv1_1.weight for m in module.members)
    assert not torch.equal(first, second)
    assert model.score(*faces_test) > 2 / 7  # chance is 1/7
    # The history is one network's: train_acc a fraction, train_loss a mean that fell.
    history = model.history_
    assert history["train_acc"].between(0, 1).all()
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0] < 1.3 * np.log(7)


def test_each_member_gets_the_gradient_it_would_get_alone():
    """The ensemble's training loss is the sum of its members' losses, exactly."""
    torch.manual_seed(0)
    members = [FERCNN(3, (48, 48), n_filters=4, n_blocks=2, convs_per_block=1)
               for _ in range(2)]
    alone = copy.deepcopy(members[0]).train()
    ensemble = MemberAverage(members).train()
    X = torch.randn(16, 1, 48, 48)
    y = torch.randint(0, 3, (16,))
    net = WeightedNeuralNetClassifier(ensemble, criterion=WeightedCrossEntropy,
                                      criterion__label_smoothing=0.1).initialize()
    # Dropout draws differ between the two forward passes: compare without it.
    for module in (ensemble, alone):
        for layer in module.modules():
            if isinstance(layer, torch.nn.Dropout):
                layer.p = 0.0
    logits = ensemble(X)
    assert logits.shape == (2, 16, 3)
    net.get_loss(logits, y, training=True).backward()
    WeightedCrossEntropy(label_smoothing=0.1)(alone(X), y).backward()
    for mine, theirs in zip(members[0].parameters(), alone.parameters()):
        torch.testing.assert_close(mine.grad, theirs.grad, rtol=1e-5, atol=1e-7)


def test_eval_output_is_the_log_of_the_mean_probability():
    torch.manual_seed(0)
    members = [FERCNN(3, (48, 48), n_filters=4, n_blocks=2, convs_per_block=1)
               for _ in range(3)]
    ensemble = MemberAverage(members).eval()
    X = torch.randn(5, 1, 48, 48)
    with torch.no_grad():
        expected = torch.stack([m(X).softmax(-1) for m in members]).mean(0)
        torch.testing.assert_close(ensemble(X).softmax(-1), expected)


def test_ensemble_exports_to_onnx_and_is_explained(fitted, data, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from fer_sklearn import export_onnx
    from fer_sklearn.interpret import list_layers, saliency_map

    X, _ = data
    ensemble = average_ensemble(fitted)
    path = tmp_path / "ensemble.onnx"
    export_onnx(ensemble, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    proba = session.run(None, {"pixels": X[:50].astype(np.float32)})[0]
    np.testing.assert_allclose(proba, ensemble.predict_proba(X[:50]), atol=1e-4)
    assert "members.1.features.conv1_1" in list_layers(ensemble)
    # Saliency is the gradient of the averaged output, which differs from each member's.
    target = ensemble.classes_[0]
    maps = [np.asarray(saliency_map(model, X[:4], target=target))
            for model in (ensemble, *fitted)]
    assert maps[0].shape == (4, 48, 48) and np.isfinite(maps[0]).all() and maps[0].any()
    assert not np.allclose(maps[0], maps[1]) and not np.allclose(maps[0], maps[2])
