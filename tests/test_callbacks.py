"""The skorch callbacks on a plain skorch net: each does what its docstring says."""

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import LRScheduler

from fer_sklearn.callbacks import (
    EpochMirror,
    PiecewiseConstantLR,
    RandomFlip,
    RandomShift,
    RecordLR,
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


def test_augmentation_rejects_non_image_batches():
    net = NeuralNetClassifier(torch.nn.Linear(4, 2), max_epochs=1, train_split=None,
                              verbose=0, callbacks=[RandomFlip()])
    with pytest.raises(TypeError, match=r"\(n, channels, height, width\)"):
        net.fit(np.zeros((4, 4), dtype=np.float32), np.array([0, 1, 0, 1]))
