"""sample_weight and target_proba: scikit-learn's weight semantics, exactly where claimed.

A weight ``k`` is ``k`` copies of the sample and a weight 0 its removal; a
class distribution is its labels weighted by their probabilities. Exact
equalities are checked in float64 (the skorch net and modules directly) and
at the loss level; whole float32 fits agree to float32 rounding.
"""

import copy

import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from skorch.callbacks import Callback

from fer_sklearn import FERCNNClassifier, FERDNNClassifier
from fer_sklearn._modules import FERCNN, FERMLP, weighted_batch_norm
from fer_sklearn._weighting import WeightedCrossEntropy, WeightedNeuralNetClassifier
from fer_sklearn.datasets import make_faces

N_CLASSES = 3


def tiny_cnn(**params):
    # float32 on every machine: the equalities below are float32 ones, and
    # bfloat16 rounding (the CNN's "auto" on CPUs with native bfloat16)
    # depends on how a batch is composed, so repeated rows drift apart.
    base = dict(n_filters=4, n_blocks=2, convs_per_block=1, max_epochs=2, batch_size=256,
                augment="none", lr_schedule="none", precision="float32", random_state=0)
    return FERCNNClassifier(**{**base, **params})


def tiny_dnn(**params):
    base = dict(hidden_layer_sizes=(16,), max_epochs=2, batch_size=256, augment="none",
                lr_schedule="none", random_state=0)
    return FERDNNClassifier(**{**base, **params})


@pytest.fixture(scope="module")
def faces3():
    """36 small faces of 3 emotions, with integer weights 0..3 (each class keeps some weight)."""
    X, y = make_faces(84, image_size=24, random_state=0, return_X_y=True)
    X, y = X[y < N_CLASSES], y[y < N_CLASSES]
    weight = np.tile([0, 1, 2, 3], 9)
    assert len(y) == 36 and len(np.unique(y[weight > 0])) == N_CLASSES
    return X, y, weight


@pytest.fixture(scope="module")
def votes3(faces3):
    """Ten votes per face over the 3 classes, most for its own emotion."""
    _, y, _ = faces3
    rng = np.random.RandomState(0)
    votes = np.array([rng.multinomial(10, np.where(np.arange(N_CLASSES) == k, 0.6, 0.2))
                      for k in y])
    return votes


def repeat(weight, *arrays):
    return [np.repeat(array, weight, axis=0) for array in arrays]


# ------------------------------------------------------------ batch norm
@pytest.mark.parametrize("bn, shape", [(torch.nn.BatchNorm1d(5), (6, 5)),
                                       (torch.nn.BatchNorm2d(3), (6, 3, 4, 4))])
def test_weighted_batch_norm_is_batch_norm_of_the_repeated_batch(bn, shape):
    torch.manual_seed(0)
    bn = bn.double().train()
    with torch.no_grad():
        bn.weight.normal_(), bn.bias.normal_()
    X = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    weight = torch.tensor([2, 0, 1, 3, 1, 1], dtype=torch.float64)
    counts = weight.long()
    grad_out = torch.randn(shape, dtype=torch.float64)
    weighted_bn, repeated_bn = copy.deepcopy(bn), copy.deepcopy(bn)

    out = weighted_batch_norm(weighted_bn, X, weight)
    (grad,) = torch.autograd.grad((weight.reshape(-1, *[1] * (X.ndim - 1)) * grad_out * out)
                                  .sum(), X)
    repeated_out = repeated_bn(X.repeat_interleave(counts, dim=0))
    (repeated_grad,) = torch.autograd.grad(
        (grad_out.repeat_interleave(counts, dim=0) * repeated_out).sum(), X)

    np.testing.assert_allclose(out.repeat_interleave(counts, dim=0).detach(),
                               repeated_out.detach(), rtol=0, atol=1e-12)
    # The zero-weight sample gets no gradient, through the statistics either.
    np.testing.assert_allclose(grad, repeated_grad, rtol=0, atol=1e-12)
    assert torch.all(grad[1] == 0)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(getattr(weighted_bn, name), getattr(repeated_bn, name),
                                   rtol=1e-12)


def test_small_weights_do_not_inflate_the_running_variance():
    torch.manual_seed(0)
    X = torch.randn(8, 4, dtype=torch.float64)
    plain = torch.nn.BatchNorm1d(4).double()
    tiny = copy.deepcopy(plain)
    plain(X)
    # Weights summing to 1 (as AdaBoost passes them) count as the 8 samples they are.
    weighted_batch_norm(tiny, X, torch.full((8,), 1 / 8, dtype=torch.float64))
    np.testing.assert_allclose(tiny.running_var, plain.running_var, rtol=1e-12)


# ------------------------------------------------------------------ loss
def test_batch_losses_add_up_to_the_weighted_mean_loss_over_the_whole_training_set():
    torch.manual_seed(0)
    logits = torch.randn(10, N_CLASSES, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 2])
    weight = torch.tensor([0.5, 2, 1, 3, 1, 0.25, 1, 2, 4, 1], dtype=torch.float64)
    class_weight = torch.tensor([1.0, 3.0, 0.5])
    net = WeightedNeuralNetClassifier(
        torch.nn.Linear(1, 1), criterion=WeightedCrossEntropy, criterion__weight=class_weight,
        criterion__label_smoothing=0.1, classes=np.arange(N_CLASSES),
        mean_weights=(float((weight * class_weight.double()[labels]).mean()), 1.0),
    ).initialize()
    # skorch's epoch train_loss averages the batch losses weighted by batch size.
    batches = [slice(0, 4), slice(4, 8), slice(8, 10)]
    epoch_loss = sum(
        net.get_loss(logits[b], {"label": labels[b], "weight": weight[b]}, training=True)
        * len(labels[b]) for b in batches) / len(labels)

    smoothing = torch.nn.CrossEntropyLoss(reduction="none", label_smoothing=0.1)
    effective = weight * class_weight.double()[labels]
    expected = (effective * smoothing(logits, labels)).sum() / effective.sum()
    assert float(epoch_loss) == pytest.approx(float(expected), rel=1e-12)


def _float64_net(module, X, target, mean_weight=1.0):
    """The estimators' skorch set-up (AdamW, shuffled full batches), in float64."""
    net = WeightedNeuralNetClassifier(
        module, criterion=WeightedCrossEntropy, criterion__label_smoothing=0.1,
        mean_weights=(mean_weight, 1.0), optimizer=torch.optim.AdamW, lr=1e-2, max_epochs=3,
        batch_size=len(X), iterator_train__shuffle=True, train_split=None,
        classes=np.arange(N_CLASSES), verbose=0,
    )
    torch.manual_seed(0)
    return net.fit(X, target)


@pytest.mark.parametrize("make_module", [
    lambda: FERMLP(N_CLASSES, 30, (16,), dropout=0.0),
    lambda: FERCNN(N_CLASSES, (1, 30), n_filters=4, n_blocks=2, convs_per_block=1, dropout=0.0),
])
def test_float64_training_on_integer_weights_is_training_on_repeated_samples(make_module):
    """The estimators' net and modules, full-batch, in float64: identical to rounding.

    Adam magnifies the rounding in the gradient of FERMLP's linear biases,
    which is 0 in exact arithmetic (a batch norm follows), to ~1e-11.
    """
    rng = np.random.RandomState(42)
    X = torch.as_tensor(rng.rand(15, 1, 1, 30))
    y = rng.randint(0, N_CLASSES, 15)
    weight = rng.randint(1, 5, 15).astype(np.float64)
    torch.manual_seed(0)
    module = make_module().double()
    weighted = _float64_net(copy.deepcopy(module), X, {"label": y, "weight": weight},
                            mean_weight=weight.mean())
    X_rep, y_rep = repeat(weight.astype(int), X.numpy(), y)
    repeated = _float64_net(copy.deepcopy(module), torch.as_tensor(X_rep), y_rep)

    np.testing.assert_allclose(weighted.history[:, "train_loss"],
                               repeated.history[:, "train_loss"], rtol=1e-10)
    with torch.no_grad():
        np.testing.assert_allclose(weighted.module_.eval()(X), repeated.module_.eval()(X),
                                   rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------ estimators
@pytest.mark.parametrize("make", [tiny_cnn, tiny_dnn])
def test_integer_weights_give_the_loss_and_fit_of_repeated_samples(make, faces3):
    X, y, weight = faces3
    X_rep, y_rep = repeat(weight, X, y)
    # Full batches (batch_size > samples), no dropout and SGD: nothing
    # stochastic differs, and no Adam step magnifies float32 rounding.
    params = dict(dropout=0.0, optimizer="sgd", lr=0.05, max_epochs=4,
                  class_weight={1: 2.0}, label_smoothing=0.1)
    weighted = make(**params).fit(X, y, sample_weight=weight)
    repeated = make(**params).fit(X_rep, y_rep)

    assert weighted.pixel_mean_ == pytest.approx(repeated.pixel_mean_, rel=1e-12)
    assert weighted.pixel_std_ == pytest.approx(repeated.pixel_std_, rel=1e-12)
    # Epoch 1's loss is the initial network's loss on the training data.
    np.testing.assert_allclose(weighted.history_["train_loss"], repeated.history_["train_loss"],
                               rtol=1e-5)
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), atol=1e-5)


def test_zero_weight_is_removal(faces3):
    X, y, weight = faces3
    keep = weight > 0
    params = dict(augment="flip", batch_size=8, validation_fraction=0.25, random_state=3)
    weighted = tiny_cnn(**params).fit(X, y, sample_weight=(weight > 0) * 1.0)
    removed = tiny_cnn(**params).fit(X[keep], y[keep])
    np.testing.assert_array_equal(weighted.predict_proba(X), removed.predict_proba(X))
    np.testing.assert_array_equal(weighted.history_, removed.history_.assign(
        dur=weighted.history_["dur"]))


def test_class_weight_is_a_sample_weight_of_the_class(faces3):
    X, y, _ = faces3
    params = dict(dropout=0.0, optimizer="sgd", lr=0.05, batch_size=8, label_smoothing=0.1)
    by_class = tiny_dnn(class_weight={0: 3.0, 2: 0.5}, **params).fit(X, y)
    by_sample = tiny_dnn(**params).fit(X, y, sample_weight=np.array([3.0, 1.0, 0.5])[y])
    np.testing.assert_allclose(by_class.history_["train_loss"], by_sample.history_["train_loss"],
                               rtol=1e-5)
    np.testing.assert_allclose(by_class.predict_proba(X), by_sample.predict_proba(X),
                               atol=1e-5)


def test_balanced_class_weight_counts_weighted_samples(faces3):
    X, y, weight = faces3
    clf = tiny_dnn(class_weight="balanced", max_epochs=1).fit(X, y, sample_weight=weight)
    counts = np.bincount(y, weights=weight)
    np.testing.assert_allclose(clf.net_.criterion_.weight, counts.sum() / (3 * counts),
                               rtol=1e-6)


# ---------------------------------------------------------- distributions
def test_one_hot_target_proba_is_training_on_the_labels(faces3):
    X, y, _ = faces3
    params = dict(augment="flip", batch_size=8, class_weight="balanced")
    soft = tiny_cnn(**params).fit(X, y, target_proba=np.eye(N_CLASSES)[y])
    hard = tiny_cnn(**params).fit(X, y)
    np.testing.assert_array_equal(soft.predict_proba(X), hard.predict_proba(X))


@pytest.mark.parametrize("make", [tiny_cnn, tiny_dnn])
def test_target_proba_is_training_on_each_label_weighted_by_its_probability(
        make, faces3, votes3):
    """Votes as distributions, or as one row per (face, emotion) weighted by its votes."""
    X, y, _ = faces3
    votes = votes3
    rows, labels = np.nonzero(votes)
    params = dict(dropout=0.0, optimizer="sgd", lr=0.05, max_epochs=4,
                  class_weight={2: 2.0}, label_smoothing=0.1)
    # Ten votes a face: weight 10 for the distribution, the counts for the rows.
    soft = make(**params).fit(X, y, sample_weight=np.full(len(y), 10),
                              target_proba=votes / 10)
    expanded = make(**params).fit(X[rows], labels, sample_weight=votes[rows, labels])

    np.testing.assert_allclose(soft.history_["train_loss"], expanded.history_["train_loss"],
                               rtol=1e-5)
    np.testing.assert_allclose(soft.predict_proba(X), expanded.predict_proba(X), atol=1e-5)


def test_target_proba_validates_against_classes(faces3):
    X, y, _ = faces3
    clf = tiny_dnn(max_epochs=1)
    proba = np.full((len(y), N_CLASSES), 1 / N_CLASSES)
    with pytest.raises(ValueError, match=r"shape \(n_samples, n_classes\) = \(36, 3\)"):
        clf.fit(X, y, target_proba=proba[:, :2])
    with pytest.raises(ValueError, match="Negative values in data passed to target_proba"):
        clf.fit(X, y, target_proba=proba * [[-1, 2, 2]])
    with pytest.raises(ValueError, match="summing to 1; got row sums from 2 to 2"):
        clf.fit(X, y, target_proba=proba * 2)
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(X, y, target_proba=proba * [[np.nan, 1, 1]])
    assert not hasattr(clf, "classes_")


def test_bad_sample_weights_are_refused(faces3):
    X, y, _ = faces3
    clf = tiny_dnn(max_epochs=1)
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        clf.fit(X, y, sample_weight=np.r_[-1.0, np.ones(len(y) - 1)])
    with pytest.raises(ValueError, match="at least one non-zero"):
        clf.fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match=r"at least 2 classes with non-zero weight"):
        clf.fit(X, y, sample_weight=(y == 0) * 1.0)
    with pytest.raises(ValueError, match=r"at least 2 classes with non-zero weight"):
        clf.set_params(class_weight={1: 0, 2: 0}).fit(X, y)
    with pytest.raises(ValueError, match="class_weight values must be finite and >= 0"):
        clf.set_params(class_weight={1: -1.0}).fit(X, y)


# ------------------------------------------------------- metadata routing
def test_cross_validate_routes_sample_weight_to_each_training_fold(faces3):
    X, y, weight = faces3
    cv = KFold(2, shuffle=True, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        clf = (tiny_dnn(max_epochs=1).set_fit_request(sample_weight=True)
               .set_score_request(sample_weight=True))
        result = cross_validate(clf, X, y, cv=cv, params={"sample_weight": weight},
                                return_estimator=True)
    for (train, _), fitted in zip(cv.split(X), result["estimator"]):
        by_hand = tiny_dnn(max_epochs=1).fit(X[train], y[train], sample_weight=weight[train])
        np.testing.assert_array_equal(fitted.predict_proba(X), by_hand.predict_proba(X))


def test_grid_search_over_a_pipeline_routes_target_proba(faces3, votes3):
    X, y, _ = faces3
    proba = votes3 / 10
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(FunctionTransformer(),
                             tiny_cnn(max_epochs=1).set_fit_request(target_proba=True))
        search = GridSearchCV(pipe, {"fercnnclassifier__lr": [1e-3, 3e-3]}, cv=2)
        search.fit(X, y, target_proba=proba)
        by_hand = clone(pipe).set_params(**search.best_params_).fit(X, y, target_proba=proba)
    np.testing.assert_array_equal(search.predict_proba(X), by_hand.predict_proba(X))


@pytest.mark.parametrize("make", [tiny_cnn, tiny_dnn])
def test_mixup_mixes_every_training_batch_of_labels_or_weighted_votes(make, faces3, votes3):
    """Labels (as one-hot rows) or weighted votes: every training batch is mixed, seeded."""
    X, y, weight = faces3
    for fit_params, n_kept in [({}, 36), ({"sample_weight": weight,
                                            "target_proba": votes3 / 10}, 27)]:
        mixed = make(mixup=0.4, batch_size=8).fit(X, y, **fit_params)
        lams = [batch["mixup_lambda"] for epoch in mixed.net_.history
                for batch in epoch["batches"]]
        assert len(lams) == 2 * -(-n_kept // 8) and all(0 < lam < 1 for lam in lams)
        again = make(mixup=0.4, batch_size=8).fit(X, y, **fit_params)
        np.testing.assert_array_equal(mixed.predict_proba(X), again.predict_proba(X))
        plain = make(batch_size=8).fit(X, y, **fit_params)
        assert "mixup_lambda" not in plain.net_.history[-1, "batches", -1]
        assert np.abs(plain.predict_proba(X) - mixed.predict_proba(X)).max() > 1e-3


@pytest.mark.parametrize("alpha", [-0.2, "0.2"])
def test_mixup_must_be_a_number_not_below_0(faces3, alpha):
    X, y, _ = faces3
    with pytest.raises(ValueError, match="'mixup' parameter of FERCNNClassifier"):
        tiny_cnn(mixup=alpha).fit(X, y)


class _TargetSpy(Callback):
    """Keeps each training batch's y as the loss will see it (after the built-in callbacks)."""

    def initialize(self):
        self.seen_ = []
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.seen_.append({key: value.clone() for key, value in batch[1].items()})


def test_mixup_mixes_the_targets_the_loss_sees_and_no_validation_batch(faces3):
    X, y, _ = faces3
    params = dict(mixup=0.4, batch_size=8, validation_fraction=0.25)
    model = tiny_cnn(**params, callbacks=[_TargetSpy()]).fit(X, y)
    seen = dict(model.net_.callbacks_)["user_0"].seen_
    lams = [batch["mixup_lambda"] for epoch in model.net_.history for batch in epoch["batches"]
            if "mixup_lambda" in batch]
    assert len(seen) == len(lams) == 2 * -(-27 // 8)  # the 27 training faces, 2 epochs
    for target, lam in zip(seen, lams):
        # A one-hot row mixed with a partner of another class keeps lam on its own label.
        top = target["proba"].max(1).values
        own = target["proba"].gather(1, target["label"].long()[:, None])[:, 0]
        assert torch.equal(top, own)
        assert torch.allclose(top[top < 1], torch.tensor(lam, dtype=top.dtype))
        assert (top < 1).any()
    # Labels are mixed as one-hot distributions.
    as_rows = tiny_cnn(**params).fit(X, y, target_proba=np.eye(N_CLASSES)[y])
    np.testing.assert_array_equal(as_rows.predict_proba(X), model.predict_proba(X))
