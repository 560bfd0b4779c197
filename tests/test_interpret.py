"""Tests of fer_sklearn.interpret: meaning (where maps point, what ascent does), not only shapes."""

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fer_sklearn import FERCNNClassifier, FERDNNClassifier  # noqa: E402
from fer_sklearn.datasets import make_faces  # noqa: E402
from fer_sklearn.interpret import (ActivationDisplay, FilterDisplay, SaliencyDisplay,  # noqa: E402
                                   layer_activations, list_layers, most_confused_pairs,
                                   saliency_map, saliency_sanity_check, visualize_filters)

METHODS = ["gradient", "smoothgrad", "integrated_gradients", "guided_backprop", "gradcam"]
PATCH = (slice(8, 16), slice(28, 36))  # rows, columns of the planted patch


@pytest.fixture(scope="module")
def faces():
    return make_faces(1400, random_state=0, return_masks=True)


@pytest.fixture(scope="module")
def cnn(faces):
    """A small CNN trained on synthetic faces (about 0.7 held-out accuracy)."""
    # The augmentation is pinned rather than left to the default, so that retuning
    # the defaults for FER2013 does not change the model the assertions below measure.
    clf = FERCNNClassifier(n_filters=8, n_blocks=3, max_epochs=10, augment="flip_shift",
                           random_state=0)
    return clf.fit(faces.data[:1200], faces.target[:1200])


@pytest.fixture(scope="module")
def patch_data():
    """Noise images whose class is the brightness of one small patch: dark 0, bright 1."""
    rng = np.random.RandomState(0)
    X = rng.normal(128, 10, (400, 48, 48)).clip(0, 255)
    y = rng.randint(0, 2, len(X))
    X[(slice(None), *PATCH)] = np.where(y == 1, 230.0, 25.0)[:, None, None]
    return X.reshape(len(X), -1).astype(np.float32), y


@pytest.fixture(scope="module")
def patch_cnn(patch_data):
    X, y = patch_data
    clf = FERCNNClassifier(n_filters=8, n_blocks=2, max_epochs=4, augment="none",
                           test_time_flip=False, random_state=0)
    return clf.fit(X, y)


def _mass_share(maps, mask):
    """Share of each map's absolute mass inside the boolean mask."""
    maps = np.abs(maps)
    return (maps * mask).sum(axis=(1, 2)) / maps.sum(axis=(1, 2))


def _assert_untouched(clf, X, before):
    module = clf.module_
    assert not module.training
    assert np.array_equal(clf.predict(X), before)
    for sub in module.modules():
        assert all(p.requires_grad for p in sub.parameters(recurse=False))
        for hooks in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks",
                      "_backward_pre_hooks"):
            assert not getattr(sub, hooks), (sub, hooks)


@pytest.mark.parametrize("method", ["gradient", "gradcam"])
def test_saliency_concentrates_on_eyes_and_mouth(cnn, faces, method):
    X, mask = faces.data[1200:], faces.masks[1200:] > 0
    assert (cnn.predict(X) == faces.target[1200:]).mean() > 0.6
    share = _mass_share(saliency_map(cnn, X, method=method), mask).mean()
    area = mask.mean()  # the faces' own brows, eyes and mouth: about 14% of the image
    assert share >= 2 * area, (share, area)


@pytest.fixture(scope="module")
def patch_mlp(patch_data):
    """An MLP built to see only the patch: first-layer weights off the patch are zero."""
    X, y = patch_data
    clf = FERDNNClassifier(hidden_layer_sizes=(16,), max_epochs=3, augment="none",
                           test_time_flip=False, random_state=0).fit(X, y)
    off_patch = np.ones((48, 48), bool)
    off_patch[PATCH] = False
    with torch.no_grad():
        clf.module_.layers.fc1.weight[:, torch.from_numpy(off_patch.ravel())] = 0.0
    return clf


@pytest.mark.parametrize("method", METHODS)
def test_every_method_points_at_the_planted_patch(patch_mlp, patch_cnn, patch_data, method):
    X, y = patch_data[0][:40], patch_data[1][:40]
    # Grad-CAM needs conv layers: it gets a CNN trained on the patch task; the
    # other methods get the MLP whose output cannot depend on anything else.
    clf = patch_cnn if method == "gradcam" else patch_mlp
    assert (clf.predict(X) == y).mean() >= 0.9
    mask = np.zeros((48, 48), bool)
    if method == "gradcam":
        mask[3:21, 23:41] = True  # the patch and a margin of the last conv's receptive step
    else:
        mask[PATCH] = True
    params = {"random_state": 0} if method == "smoothgrad" else {}
    share = _mass_share(saliency_map(clf, X, y, method=method, **params), mask)
    assert share.mean() >= 3 * mask.mean(), (method, share.mean(), mask.mean())
    if clf is patch_mlp:  # nothing else can carry attribution, up to float error
        assert share.min() > 0.99, (method, share.min())


def test_saliency_targets_and_shapes(cnn, faces):
    X = faces.data[:6]
    predicted = saliency_map(cnn, X)
    assert predicted.shape == (6, 48, 48) and predicted.dtype == np.float32
    assert np.array_equal(predicted, saliency_map(cnn, X, cnn.predict(X)))
    assert np.array_equal(saliency_map(cnn, X, 3), saliency_map(cnn, X, [3] * 6))
    assert not np.array_equal(saliency_map(cnn, X, 3), saliency_map(cnn, X, 4))
    images = faces.images[:6]
    assert np.allclose(saliency_map(cnn, images, 3, batch_size=4), saliency_map(cnn, X, 3))
    a = saliency_map(cnn, X, method="smoothgrad", random_state=1)
    assert np.array_equal(a, saliency_map(cnn, X, method="smoothgrad", random_state=1))


def test_interpret_calls_leave_the_model_untouched(cnn, faces):
    X = faces.data[:20]
    before = cnn.predict(X)
    for method in METHODS:
        saliency_map(cnn, X[:4], method=method)
        _assert_untouched(cnn, X, before)
    layer_activations(cnn, X[:4], "relu2_1")
    visualize_filters(cnn, "relu2_1", [0, 1], n_steps=4, random_state=0)
    saliency_sanity_check(cnn, X[:4], cascade=True, random_state=0)
    ActivationDisplay.from_estimator(cnn, X[0], "relu1_1")
    plt.close("all")
    _assert_untouched(cnn, X, before)


def test_layers_and_activations(cnn, faces):
    names = list_layers(cnn)
    assert names[:4] == ["conv1_1", "bn1_1", "relu1_1", "conv1_2"]
    assert names[-1] == "fc" and "relu3_2" in names
    acts = layer_activations(cnn, faces.data[:3], "relu2_1")
    assert acts.shape == (3, 16, 24, 24) and acts.min() >= 0  # after ReLU
    assert np.array_equal(acts, layer_activations(cnn, faces.data[:3], names.index("relu2_1")))
    logits = layer_activations(cnn, faces.data[:3], "fc")
    assert logits.shape == (3, 7, 1, 1)
    assert np.array_equal(logits[:, :, 0, 0].argmax(1), cnn.module_(cnn.to_tensor(
        faces.data[:3])).argmax(1).numpy())


def test_gradient_ascent_raises_every_filter_and_is_deterministic(cnn):
    # Plain ascent (no regularisers) raises every filter above its value on the
    # starting image, nearly all of them 10x and more. Filters already active on
    # gray (bias-like ones, about 0.5 on any face) rise least: how far depends on
    # the trained weights, and so on the precision path and the CPU's kernels.
    plain = visualize_filters(cnn, "relu3_2", l2=0, jitter=0, blur=0, lr=0.5, n_steps=256,
                              random_state=0)
    assert plain.images.shape == (32, 48, 48)
    assert np.array_equal(plain.filters, np.arange(32))
    plain_gain = plain.activations / np.maximum(plain.initial_activations, 1e-6)
    assert plain_gain.min() > 1 and np.mean(plain_gain >= 10) >= 0.9, plain_gain
    # With the default regularisers (which trade activation for smoother
    # images) every filter still rises, most of them 10x and more.
    regular = visualize_filters(cnn, "relu3_2", random_state=0)
    gain = regular.activations / np.maximum(regular.initial_activations, 1e-6)
    assert gain.min() > 1 and np.median(gain) >= 10, (gain.min(), np.median(gain))
    again = visualize_filters(cnn, "relu3_2", filters=[5, 2], n_steps=32, random_state=1)
    same = visualize_filters(cnn, "relu3_2", filters=[5, 2], n_steps=32, random_state=1)
    assert np.array_equal(again.images, same.images)
    assert not np.array_equal(again.images, visualize_filters(
        cnn, "relu3_2", filters=[5, 2], n_steps=32, random_state=2).images)


@pytest.mark.parametrize("call, match", [
    (lambda clf, X: saliency_map(clf, X, method="lime"), "valid methods: .*gradcam"),
    (lambda clf, X: saliency_map(clf, X, target=9), r"valid targets: \[0, 1, 2, 3, 4, 5, 6\]"),
    (lambda clf, X: saliency_map(clf, X, target=[0, 1]), "one label or one per sample"),
    (lambda clf, X: saliency_map(clf, X, steps=3), r"valid: \[\]"),
    (lambda clf, X: saliency_map(clf, X, method="gradcam", layer="fc"), "Valid layers: .*relu3_2"),
    (lambda clf, X: layer_activations(clf, X, "conv9"), "valid layers .*conv1_1"),
    (lambda clf, X: layer_activations(clf, X, 99), r"index 0\.\.24"),
    (lambda clf, X: visualize_filters(clf, "relu1_1", [8]), r"valid filters of 'relu1_1' are 0\.\.7"),
    (lambda clf, X: visualize_filters(clf, "relu1_1", [0.5]), r"0\.\.7"),
])
def test_bad_arguments_name_the_valid_choices(cnn, faces, call, match):
    with pytest.raises(ValueError, match=match):
        call(cnn, faces.data[:3])


def test_guided_backprop_keeps_captums_hook_notice_to_itself(cnn, faces):
    # captum warns on every call that it sets (and later removes) ReLU hooks:
    # noise in a user's output, with captum's install path in it.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        saliency_map(cnn, faces.data[:2], method="guided_backprop")
    assert not [w for w in caught if "hooks" in str(w.message)]


def test_gradcam_is_for_convolutional_networks_only(faces):
    dnn = FERDNNClassifier(hidden_layer_sizes=(16,), max_epochs=1, random_state=0)
    dnn.fit(faces.data[:200], faces.target[:200])
    with pytest.raises(ValueError, match="convolutional network"):
        saliency_map(dnn, faces.data[:2], method="gradcam")
    assert saliency_map(dnn, faces.data[:2], method="guided_backprop").shape == (2, 48, 48)
    assert layer_activations(dnn, faces.data[:2], "relu1").shape == (2, 16, 1, 1)


def test_sanity_check_finds_the_gradient_model_dependent(cnn, faces):
    scores = saliency_sanity_check(cnn, faces.data[1200:1232], random_state=0)
    assert scores.columns.tolist() == ["randomization", "layer", "spearman", "spearman_std",
                                       "ssim", "ssim_std"]
    full = scores.iloc[0]
    assert full.randomization == "all" and full.spearman < 0.3 and full.ssim < 0.3
    cascade = scores[scores.randomization == "cascade"]
    assert cascade.layer.tolist() == ["fc", "bn3_2", "conv3_2", "bn3_1", "conv3_1", "bn2_2",
                                      "conv2_2", "bn2_1", "conv2_1", "bn1_2", "conv1_2",
                                      "bn1_1", "conv1_1"]
    # Randomising more layers leaves less of the trained map.
    assert cascade.spearman.iloc[-1] < cascade.spearman.iloc[0] < 0.9


def test_ssim_and_spearman_reference_values():
    from fer_sklearn.interpret._sanity import _spearman, _ssim
    rng = np.random.RandomState(0)
    a = rng.rand(3, 32, 32)
    assert np.allclose(_ssim(a, a), 1) and np.allclose(_spearman(a, a), 1)
    assert np.allclose(_spearman(a, -a), -1) and np.allclose(_ssim(a, 2 * a + 5), 1)
    assert np.all(_ssim(a, rng.rand(3, 32, 32)) < 0.2)
    assert np.allclose(_ssim(a, a[::-1]), _ssim(a[::-1], a))


def test_most_confused_pairs():
    cm = np.array([[5, 3, 2], [0, 10, 0], [1, 1, 0]])
    pairs = most_confused_pairs(cm, labels=["a", "b", "c"], top=2)
    assert pairs.to_dict("list") == {"true": ["c", "c"], "predicted": ["a", "b"],
                                     "rate": [0.5, 0.5]}
    counts = most_confused_pairs(cm, normalize=False, top=None)
    assert counts["count"].tolist() == [3, 2, 1, 1, 0, 0] and len(counts) == 6
    assert most_confused_pairs(np.zeros((2, 2)))["rate"].tolist() == [0, 0]
    with pytest.raises(ValueError, match="square"):
        most_confused_pairs(np.ones((2, 3)))


def test_displays(cnn, faces):
    X, y = faces.data[:3], faces.target[:3]
    disp = SaliencyDisplay.from_estimator(cnn, X, y, method="gradcam")
    assert disp.ax_.shape == (3, 3) and disp.figure_ is disp.ax_[0, 0].figure
    title = disp.ax_[0, 0].get_title()
    assert f"true: {faces.target_names[y[0]]}" in title and "pred: " in title
    fig, ax = plt.subplots(3, 3)
    assert SaliencyDisplay.from_estimator(cnn, X, ax=ax).figure_ is fig

    filt = FilterDisplay.from_estimator(cnn, "relu2_1", [3, 4, 5], n_steps=4, n_cols=2,
                                        random_state=0)
    assert filt.ax_.shape == (2, 2) and filt.ax_[0, 1].get_title() == "filter 4"
    assert not filt.ax_[1, 1].images  # the spare cell stays empty

    act = ActivationDisplay.from_estimator(cnn, faces.images[0], "relu1_1", channels=[0, 7])
    assert act.activations.shape == (2, 48, 48) and act.ax_[0, 1].get_title() == "channel 7"
    with pytest.raises(ValueError, match="one image"):
        ActivationDisplay.from_estimator(cnn, X, "relu1_1")
    with pytest.raises(ValueError, match="must hold 9 axes"):
        SaliencyDisplay(faces.images[:3], faces.images[:3]).plot(ax=ax[0])
    plt.close("all")


def test_map_displays_carry_colour_bars_on_their_scale():
    rng = np.random.default_rng(0)
    maps = rng.random((3, 6, 6)) * np.array([1.0, 5.0, 20.0])[:, None, None]
    act = ActivationDisplay(maps).plot(n_cols=3)
    # One scale for all maps (smallest to largest value), shown by one colour bar.
    limits = {image.get_clim() for axis in act.ax_.flat for image in axis.images}
    assert limits == {(maps.min(), maps.max())}
    assert len(act.figure_.axes) == 3 + 1
    assert act.figure_.axes[-1].get_ylabel() == "activation"
    own = ActivationDisplay(maps).plot(n_cols=3, colorbar=False)
    assert len(own.figure_.axes) == 3
    assert own.ax_[0, 2].images[0].get_clim() == (maps[2].min(), maps[2].max())

    sal = SaliencyDisplay(rng.random((2, 6, 6)), -maps[:2]).plot()
    assert len(sal.figure_.axes) == 2 * 3 + 2  # a bar beside each map, on |saliency|
    assert sal.ax_[1, 1].images[0].get_clim() == (np.abs(maps[1]).min(), np.abs(maps[1]).max())
    plt.close("all")
