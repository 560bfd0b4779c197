"""The skorch callbacks on a plain skorch net: each does what its docstring says."""

import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier
from skorch.history import History
from skorch.callbacks import Callback, EarlyStopping, LRScheduler

from fer_sklearn._weighting import WeightedCrossEntropy
from fer_sklearn.callbacks import (
    EpochMirror,
    Mixup,
    PiecewiseConstantLR,
    RandomAffine,
    RandomErasing,
    RandomFlip,
    RandomShift,
    RecordLR,
    WeightEMA,
)


class _Spy(torch.nn.Module):
    """Linear classifier that remembers every input it saw in training."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(36, 2)
        self.seen = []

    def forward(self, X):
        if self.training:
            self.seen.append(X.detach().clone())
        return self.linear(X.flatten(1))


def _fit(callbacks, X, y, max_epochs=1, **kwargs):
    module = _Spy()
    net = NeuralNetClassifier(module, max_epochs=max_epochs, batch_size=len(X),
                              train_split=None, verbose=0, callbacks=callbacks, **kwargs)
    net.fit(X, y)
    return net, module.seen


@pytest.fixture
def images():
    X = torch.arange(8 * 36, dtype=torch.float32).reshape(8, 1, 6, 6)
    y = torch.arange(8) % 2
    return X, y


def test_epoch_mirror_flips_whole_epochs_as_recorded(images):
    X, y = images
    net, seen = _fit([EpochMirror(p=0.5, random_state=3)], X, y, max_epochs=12,
                     iterator_train__shuffle=False)
    choices = net.history[:, "mirror"]
    assert set(choices) == {"none", "left-right", "up-down"}
    for choice, batch in zip(choices, seen):
        expected = {"none": X, "left-right": X.flip(-1), "up-down": X.flip(-2)}[choice]
        assert torch.equal(batch, expected)


def test_epoch_mirror_is_seeded(images):
    X, y = images
    first = _fit([EpochMirror(random_state=0)], X, y, max_epochs=10)[0].history[:, "mirror"]
    second = _fit([EpochMirror(random_state=0)], X, y, max_epochs=10)[0].history[:, "mirror"]
    assert first == second


def test_random_flip_flips_the_recorded_number_of_images(images):
    X, y = images
    net, seen = _fit([RandomFlip(p=0.5, random_state=1)], X, y, max_epochs=4,
                     iterator_train__shuffle=False)
    counts = [batch["n_flipped"] for epoch in net.history for batch in epoch["batches"]]
    for count, batch in zip(counts, seen):
        flipped = sum(torch.equal(b, x.flip(-1)) for b, x in zip(batch, X))
        unchanged = sum(torch.equal(b, x) for b, x in zip(batch, X))
        assert flipped == count and unchanged == len(X) - count
    assert 0 < sum(counts) < 4 * len(X)


def test_random_flip_p1_flips_everything_and_leaves_prediction_alone(images):
    X, y = images
    net, seen = _fit([RandomFlip(p=1.0, random_state=0)], X, y, iterator_train__shuffle=False)
    assert torch.equal(seen[0], X.flip(-1))
    before = len(seen)
    net.predict_proba(X)  # not a training batch: no augmentation, nothing recorded
    assert len(seen) == before


def test_random_shift_moves_content_by_the_drawn_offsets():
    shift = RandomShift(max_shift=2, random_state=0).initialize()
    X = torch.rand(16, 1, 10, 10)
    shifted, offsets = shift.shift(X)
    for image, out, dy, dx in zip(X, shifted, offsets[0], offsets[1]):
        dy, dx = int(dy), int(dx)
        # out[i, j] = image[i + dy, j + dx] wherever that source pixel exists.
        rows = slice(max(0, -dy), 10 - max(0, dy))
        cols = slice(max(0, -dx), 10 - max(0, dx))
        src_rows = slice(rows.start + dy, rows.stop + dy)
        src_cols = slice(cols.start + dx, cols.stop + dx)
        assert torch.equal(out[0, rows, cols], image[0, src_rows, src_cols])
    assert offsets.abs().max() <= 2 and offsets.abs().sum() > 0


def test_random_shift_records_and_rejects_bad_shift(images):
    X, y = images
    net, _ = _fit([RandomShift(max_shift=2, random_state=0)], X, y, max_epochs=3)
    assert all(b["mean_abs_shift"] > 0 for e in net.history for b in e["batches"])
    with pytest.raises(ValueError, match="max_shift"):
        _fit([RandomShift(max_shift=-1)], X, y)


def _orientation(image):
    """Angle (degrees, image y pointing down) of the principal axis of an intensity image."""
    h, w = image.shape
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                            torch.arange(w, dtype=torch.float64), indexing="ij")
    mass = image.double().clamp(min=0)
    cy, cx = (mass * yy).sum() / mass.sum(), (mass * xx).sum() / mass.sum()
    cov_xx = (mass * (xx - cx) ** 2).sum()
    cov_yy = (mass * (yy - cy) ** 2).sum()
    cov_xy = (mass * (xx - cx) * (yy - cy)).sum()
    return float(torch.rad2deg(0.5 * torch.atan2(2 * cov_xy, cov_xx - cov_yy)))


def test_random_affine_rotates_by_the_recorded_angles():
    X = torch.zeros(32, 1, 33, 33)
    X[:, 0, 15:18, 4:29] = 1.0  # a horizontal bar through the centre
    affine = RandomAffine(degrees=60, scale=(1, 1), max_shift=0, random_state=0).initialize()
    rotated, angles = affine.transform(X)
    orientations = torch.tensor([_orientation(image[0]) for image in rotated])
    # Whichever way the axes point, the bar turns by the drawn angle (to 2 degrees).
    sign = 1 if torch.allclose(orientations, angles, atol=2) else -1
    np.testing.assert_allclose(orientations, sign * angles, atol=2)
    assert angles.abs().max() <= 60 and angles.std() > 10
    assert torch.equal(X[:, 0, 15:18, 4:29], torch.ones(32, 3, 25))  # input untouched


def test_random_affine_scale_shift_and_fill():
    X = torch.rand(4, 1, 12, 12)
    identity = RandomAffine(degrees=0, scale=(1, 1), max_shift=0, random_state=0).initialize()
    np.testing.assert_allclose(identity.transform(X)[0], X, atol=1e-5)
    square = torch.zeros(1, 1, 40, 40)
    square[..., 15:25, 15:25] = 1.0
    zoom = RandomAffine(degrees=0, scale=(2, 2), max_shift=0).initialize()
    zoomed_area = float(zoom.transform(square)[0].sum())
    assert zoomed_area == pytest.approx(4 * float(square.sum()), rel=0.02)
    shrink = RandomAffine(degrees=0, scale=(0.5, 0.5), max_shift=0, fill_value=-3.0).initialize()
    out = shrink.transform(X)[0]
    assert torch.all(out[..., :2, :] == -3.0) and torch.all(out[..., 4:8, 4:8] > -3.0)
    # Shifts move a centred square's centre of mass by at most max_shift per axis.
    squares = square.repeat(64, 1, 1, 1)
    shift = RandomAffine(degrees=0, scale=(1, 1), max_shift=3, random_state=1).initialize()
    moved = shift.transform(squares)[0][:, 0].double()
    grid = torch.arange(40, dtype=torch.float64)
    centre_y = (moved.sum(2) * grid).sum(1) / moved.sum((1, 2))
    centre_x = (moved.sum(1) * grid).sum(1) / moved.sum((1, 2))
    offsets = torch.stack([centre_y, centre_x]) - 19.5
    assert offsets.abs().max() <= 3 + 1e-6 and offsets.abs().max() > 2
    np.testing.assert_allclose(moved.sum((1, 2)), 100, rtol=1e-5)  # mass kept


def test_random_affine_records_and_validates(images):
    X, y = images
    net, seen = _fit([RandomAffine(random_state=0)], X, y, max_epochs=2)
    rotations = [b["mean_abs_rotation"] for e in net.history for b in e["batches"]]
    assert len(rotations) == 2 and all(0 < r <= 10 for r in rotations)
    assert not torch.equal(seen[0], X)
    for scale in [(1.2, 0.9), 1.1, (0.9, 1.0, 1.1)]:
        with pytest.raises(ValueError, match="scale"):
            _fit([RandomAffine(scale=scale)], X, y)
    with pytest.raises(ValueError, match="degrees"):
        _fit([RandomAffine(degrees=-1)], X, y)


def test_random_erasing_blanks_one_rectangle_of_the_drawn_size():
    erasing = RandomErasing(p=1.0, scale=(0.25, 0.25), ratio=(1.0, 1.0), random_state=0)
    mask = erasing.initialize().mask(torch.zeros(32, 1, 20, 20))
    tops = set()
    for image_mask in mask[:, 0]:
        rows, cols = image_mask.nonzero(as_tuple=True)
        # A quarter of 20x20 with aspect 1 is a 10x10 square, inside the image.
        assert image_mask.sum() == 100
        assert rows.max() - rows.min() == 9 and cols.max() - cols.min() == 9
        tops.add(int(rows.min()))
    assert len(tops) > 1  # placed at random, not always in the same spot


def test_random_erasing_areas_and_aspects_stay_in_range():
    erasing = RandomErasing(p=1.0, scale=(0.02, 0.25), ratio=(0.5, 2.0), random_state=1)
    mask = erasing.initialize().mask(torch.zeros(500, 1, 48, 48))[:, 0]
    heights = mask.any(2).sum(1).float()
    widths = mask.any(1).sum(1).float()
    areas = mask.flatten(1).sum(1).float() / 48 ** 2
    assert torch.equal(areas * 48 ** 2, heights * widths)  # rectangles
    # Rounding each side to whole pixels moves the area and aspect a little.
    assert areas.min() >= 0.015 and areas.max() <= 0.27 and areas.std() > 0.05
    aspects = heights / widths
    assert aspects.min() >= 0.4 and aspects.max() <= 2.5
    assert (aspects > 1.2).any() and (aspects < 0.8).any()


def test_random_erasing_fills_the_recorded_number_of_images(images):
    X, y = images
    net, seen = _fit([RandomErasing(p=0.5, fill_value=-1.0, random_state=2)], X, y,
                     max_epochs=6, iterator_train__shuffle=False)
    counts = [batch["n_erased"] for epoch in net.history for batch in epoch["batches"]]
    for count, batch in zip(counts, seen):
        changed = batch != X
        assert (batch[changed] == -1.0).all()  # only erased pixels differ, all filled
        assert int(changed.flatten(1).any(1).sum()) == count
    assert 0 < sum(counts) < 6 * len(X)
    again = _fit([RandomErasing(p=0.5, fill_value=-1.0, random_state=2)], X, y,
                 max_epochs=6, iterator_train__shuffle=False)[1]
    assert all(torch.equal(a, b) for a, b in zip(seen, again))


def test_random_erasing_validates(images):
    X, y = images
    for kwargs, match in [({"scale": (0.3, 0.1)}, "scale"), ({"scale": (0.1, 1.5)}, "scale"),
                          ({"ratio": (0.0, 1.0)}, "ratio"), ({"ratio": 2.0}, "ratio"),
                          ({"p": 1.5}, "p must be")]:
        with pytest.raises(ValueError, match=match):
            _fit([RandomErasing(**kwargs)], X, y)


def _mix(mixup, X, proba, weight, training=True):
    """One batch through ``mixup``: the (X, y) it leaves and the lam it recorded (or None)."""
    net = SimpleNamespace(history=History())
    net.history.new_epoch()
    net.history.new_batch()
    X = X.clone()
    y = {"label": proba.argmax(1), "proba": proba.clone(), "weight": weight.clone()}
    mixup.on_batch_begin(net, batch=(X, y), training=training)
    return X, y, net.history[-1, "batches", -1].get("mixup_lambda")


def test_mixup_loss_is_the_pair_s_losses_weighted_by_lam():
    """Each mixed sample's loss is lam * w_i * l_i + (1 - lam) * w_j * l_j, exactly."""
    generator = torch.Generator().manual_seed(0)
    n, n_classes = 16, 4
    # Images 0..n-1 marked by a pixel of their own, so that each mix names its pair.
    X = torch.eye(n, dtype=torch.float64).reshape(n, 1, 4, 4)
    proba = torch.softmax(torch.randn(n, n_classes, generator=generator), 1).double()
    weight = torch.tensor([0.5, 1.0, 2.0, 3.0], dtype=torch.float64).repeat(n // 4)
    mixed_X, y, lam = _mix(Mixup(alpha=0.4, random_state=0).initialize(), X, proba, weight)

    assert 0.5 <= lam < 1  # folded: each sample the larger part of its mix
    marks = mixed_X.flatten(1)
    pair = torch.where(marks.diagonal() == lam, (marks - lam * torch.eye(n)).argmax(1),
                       torch.arange(n))
    expected_X = lam * X.flatten(1) + (1 - lam) * X.flatten(1)[pair]
    torch.testing.assert_close(marks, expected_X)
    assert not torch.equal(pair, torch.arange(n))
    logits = torch.randn(n, n_classes, generator=generator, dtype=torch.float64)
    criterion = WeightedCrossEntropy(weight=torch.tensor([1.0, 2.0, 0.5, 1.0]).double(),
                                     label_smoothing=0.1)

    def losses(target, w):
        return torch.stack([criterion(logits[i:i + 1], target[i:i + 1], w[i:i + 1])
                            for i in range(n)])

    own, partner = losses(proba, weight), losses(proba[pair], weight[pair])
    torch.testing.assert_close(losses(y["proba"], y["weight"]),
                               lam * own + (1 - lam) * partner)
    torch.testing.assert_close(y["proba"].sum(1), torch.ones(n, dtype=torch.float64))
    assert torch.equal(y["label"], proba.argmax(1))  # for the accuracy scoring, unmixed

    unmixed_X, unmixed_y, lam = _mix(Mixup(alpha=0.4, random_state=0).initialize(), X, proba,
                                     weight, training=False)
    assert lam is None and torch.equal(unmixed_X, X)
    assert torch.equal(unmixed_y["proba"], proba) and torch.equal(unmixed_y["weight"], weight)


def test_mixup_is_seeded_and_draws_lam_from_its_beta():
    X, proba, weight = torch.rand(8, 1, 4, 4), torch.full((8, 3), 1 / 3), torch.ones(8)

    def lams(alpha, random_state, n=200):
        mixup = Mixup(alpha=alpha, random_state=random_state).initialize()
        return [_mix(mixup, X, proba, weight) for _ in range(n)]

    runs = [lams(0.2, 5), lams(0.2, 5)]
    for (X_a, _, lam_a), (X_b, _, lam_b) in zip(*runs):
        assert lam_a == lam_b and torch.equal(X_a, X_b)
    drawn = np.array([lam for _, _, lam in runs[0]])
    # Beta(0.2, 0.2) puts 67% of its mass below 0.1 or above 0.9 (folded:
    # above 0.9), Beta(4, 4) 0.5% (scipy.stats.beta.cdf).
    assert drawn.min() >= 0.5 and np.mean(drawn > 0.9) > 0.55
    assert np.mean(np.array([lam for _, _, lam in lams(4.0, 5)]) > 0.9) < 0.05
    assert lams(0.2, 6, n=1)[0][2] != drawn[0]


def test_mixup_refuses_batches_without_distributions_and_a_bad_alpha(images):
    X, y = images
    with pytest.raises(TypeError, match="'proba'.*got a Tensor"):
        _fit([Mixup(random_state=0)], X, y)
    mixup = Mixup(random_state=0).initialize()
    net = SimpleNamespace(history=History())
    with pytest.raises(TypeError, match=r"got a dict without \['weight'\]"):
        mixup.on_batch_begin(net, batch=(X, {"proba": torch.ones(len(X), 2) / 2}),
                             training=True)
    for alpha in (0, -1.0, float("inf"), "0.2"):
        with pytest.raises(ValueError, match="alpha must be a finite number > 0"):
            Mixup(alpha=alpha).initialize()


def test_piecewise_constant_lr_follows_the_study_schedule(images):
    X, y = images
    callbacks = [PiecewiseConstantLR(milestones=(3,), values=(0.01, 0.002)), RecordLR()]
    net, _ = _fit(callbacks, X, y, max_epochs=5)
    assert net.history[:, "lr"] == [0.01, 0.01, 0.01, 0.002, 0.002]
    assert net.optimizer_.param_groups[0]["lr"] == 0.002


def test_piecewise_constant_lr_validates(images):
    X, y = images
    with pytest.raises(ValueError, match="one more entry"):
        _fit([PiecewiseConstantLR(milestones=(1, 2), values=(0.1, 0.2))], X, y)


def test_record_lr_sees_a_torch_scheduler(images):
    X, y = images
    callbacks = [LRScheduler(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5), RecordLR()]
    net, _ = _fit(callbacks, X, y, max_epochs=3, lr=0.4)
    np.testing.assert_allclose(net.history[:, "lr"], [0.4, 0.2, 0.1])


class _KeepStates(Callback):
    """Keep a copy of the module's state after every training step."""

    def __init__(self, states):
        self.states = states

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.states.append({k: v.clone() for k, v in net.module_.state_dict().items()})


def test_weight_ema_ends_the_fit_with_the_moving_average_of_every_step(images):
    X, y = images
    module = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2),
                                 torch.nn.Flatten(), torch.nn.Linear(32, 2))
    states = []
    net = NeuralNetClassifier(module, max_epochs=3, batch_size=4, lr=0.05, train_split=None,
                              verbose=0, callbacks=[WeightEMA(decay=0.3), _KeepStates(states)])
    net.fit(X / X.max(), y)
    assert len(states) == 6  # 2 steps an epoch
    expected = dict(states[0])
    for n, state in enumerate(states[1:], start=1):
        kept = min(0.3, (1 + n) / (10 + n))  # the warm-up's 2/11, 3/12, then decay's 0.3
        expected = {k: kept * expected[k] + (1 - kept) * v if v.is_floating_point() else v
                    for k, v in state.items()}
    final = net.module_.state_dict()
    for name, value in final.items():
        torch.testing.assert_close(value, expected[name], rtol=1e-5, atol=1e-6)
    # The average differs from the last step's weights, running statistics included.
    assert not torch.allclose(final["0.weight"], states[-1]["0.weight"])
    assert not torch.allclose(final["1.running_mean"], states[-1]["1.running_mean"])
    assert final["1.num_batches_tracked"] == 6
    # A pickled net keeps the averaged weights, not a second copy of them.
    restored = pickle.loads(pickle.dumps(net))
    assert not hasattr(dict(restored.callbacks_)["WeightEMA"], "average_")
    np.testing.assert_array_equal(restored.predict_proba(X / X.max()),
                                  net.predict_proba(X / X.max()))


def test_weight_ema_refuses_to_replace_the_best_weights_of_early_stopping(images):
    X, y = images
    with pytest.raises(ValueError, match=r"EarlyStopping\(load_best=True\)"):
        _fit([EarlyStopping(monitor="train_loss", load_best=True), WeightEMA()], X, y)


@pytest.mark.parametrize("decay", [0, 1, 1.5, "0.9"])
def test_weight_ema_validates_decay(decay):
    with pytest.raises(ValueError, match=r"decay must be in \(0, 1\)"):
        WeightEMA(decay=decay).initialize()


def test_augmentation_rejects_non_image_batches():
    net = NeuralNetClassifier(torch.nn.Linear(4, 2), max_epochs=1, train_split=None,
                              verbose=0, callbacks=[RandomFlip()])
    with pytest.raises(TypeError, match=r"\(n, channels, height, width\)"):
        net.fit(np.zeros((4, 4), dtype=np.float32), np.array([0, 1, 0, 1]))
