"""skorch callbacks for image augmentation, learning-rate schedules and weight averaging.

Each callback has one job and works on any skorch net whose training batches
are ``(X, y)`` with ``X`` a float tensor of images ``(n, channels, H, W)``
(:class:`Mixup` also needs ``y`` to hold class distributions);
nothing here knows about facial expressions. Augmentations change training
batches in place (validation and prediction batches are left alone) and record
what they did in ``net.history`` so that it can be inspected after training.

Examples
--------
>>> import torch
>>> from skorch import NeuralNetClassifier
>>> from fer_sklearn.callbacks import RandomFlip, RandomShift, RecordLR
>>> net = NeuralNetClassifier(
...     torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2)),
...     max_epochs=2, train_split=None, verbose=0,
...     callbacks=[RandomFlip(random_state=0), RandomShift(1, random_state=0), RecordLR()],
... )
>>> X = torch.rand(20, 1, 8, 8)
>>> y = torch.arange(20) % 2
>>> _ = net.fit(X, y)
>>> net.history[:, "lr"]
[0.01, 0.01]
"""

import numbers
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from skorch.callbacks import Callback, EarlyStopping
from torch.optim.swa_utils import AveragedModel

__all__ = [
    "EpochMirror", "RandomFlip", "RandomShift", "RandomAffine", "RandomErasing", "Mixup",
    "PiecewiseConstantLR", "RecordLR", "WeightEMA",
]


def _generator(random_state):
    """A torch CPU generator seeded from an int, a NumPy RandomState or None."""
    generator = torch.Generator()
    if random_state is None:
        generator.seed()
    elif isinstance(random_state, np.random.RandomState):
        generator.manual_seed(int(random_state.randint(np.iinfo(np.int32).max)))
    elif isinstance(random_state, numbers.Integral):
        generator.manual_seed(int(random_state))
    else:
        raise TypeError(
            f"random_state must be None, an int or a numpy RandomState; got {random_state!r}"
        )
    return generator


def _image_batch(batch, name):
    """The images of a training batch, checked to be an (n, C, H, W) tensor."""
    X = batch[0]
    if not isinstance(X, torch.Tensor) or X.ndim != 4:
        shape = getattr(X, "shape", type(X).__name__)
        raise TypeError(
            f"{name} expects training batches whose X is a tensor of shape "
            f"(n, channels, height, width); got {shape}"
        )
    return X


def _check_range(owner, param, value, upper=float("inf")):
    """Raise a ValueError unless ``value`` is a (low, high) pair, 0 < low <= high <= upper."""
    try:
        low, high = value
    except (TypeError, ValueError):
        low = high = None
    if low is None or not 0 < low <= high <= upper:
        bound = "" if upper == float("inf") else f" <= {upper:g}"
        raise ValueError(
            f"{owner}: {param} must be a (low, high) pair with 0 < low <= high{bound}; "
            f"got {value!r}"
        )


class _RandomAugmentation(Callback):
    """An augmentation applied with probability ``p``, drawn from its own seeded generator."""

    def __init__(self, p=0.5, random_state=None):
        self.p = p
        self.random_state = random_state

    def initialize(self):
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1]; got {self.p!r}")
        self.generator_ = _generator(self.random_state)
        return self


class EpochMirror(_RandomAugmentation):
    """The study's augmentation: mirror the whole training set for an epoch.

    At the start of each epoch, with probability ``p`` every training image of
    that epoch is mirrored, left-right or up-down with equal chance; otherwise
    the epoch sees the images unchanged. The choice is recorded in
    ``net.history`` under ``"mirror"`` as ``"left-right"``, ``"up-down"`` or
    ``"none"``.

    Parameters
    ----------
    p : float, default=0.5
        Probability that an epoch is mirrored.
    random_state : int, RandomState instance or None, default=None
        Seeds the choices.
    """

    def initialize(self):
        super().initialize()
        self.mirror_ = "none"
        return self

    def on_epoch_begin(self, net, **kwargs):
        draws = torch.rand(2, generator=self.generator_)
        if draws[0] >= self.p:
            self.mirror_ = "none"
        else:
            self.mirror_ = "left-right" if draws[1] < 0.5 else "up-down"
        net.history.record("mirror", self.mirror_)

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training or self.mirror_ == "none":
            return
        X = _image_batch(batch, type(self).__name__)
        dim = -1 if self.mirror_ == "left-right" else -2
        X.copy_(X.flip(dim))


class RandomFlip(_RandomAugmentation):
    """Flip each training image left-right independently with probability ``p``.

    The number of images flipped in each batch is recorded in the batch history
    under ``"n_flipped"``.

    Parameters
    ----------
    p : float, default=0.5
        Probability that an image is flipped.
    random_state : int, RandomState instance or None, default=None
        Seeds the random draws, for repeatable training.
    """


    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        X = _image_batch(batch, type(self).__name__)
        flip = torch.rand(len(X), generator=self.generator_).to(X.device) < self.p
        X[flip] = X[flip].flip(-1)
        net.history.record_batch("n_flipped", int(flip.sum()))


class RandomShift(Callback):
    """Shift each training image by a random whole number of pixels.

    Each image moves independently by ``dy, dx`` drawn uniformly from
    ``[-max_shift, max_shift]``; uncovered pixels are filled with
    ``fill_value``. The mean absolute shift of each batch is recorded in the
    batch history under ``"mean_abs_shift"``.

    Parameters
    ----------
    max_shift : int, default=4
        Largest shift in pixels, in each direction.
    fill_value : float, default=0.0
        Value of the pixels shifted in. For standardised inputs (as
        fer_sklearn's estimators use) 0 is the mean intensity.
    random_state : int, RandomState instance or None, default=None
        Seeds the random draws, for repeatable training.
    """

    def __init__(self, max_shift=4, fill_value=0.0, random_state=None):
        self.max_shift = max_shift
        self.fill_value = fill_value
        self.random_state = random_state

    def initialize(self):
        if not isinstance(self.max_shift, numbers.Integral) or self.max_shift < 0:
            raise ValueError(
                f"RandomShift: max_shift must be a non-negative int; got {self.max_shift!r}"
            )
        self.generator_ = _generator(self.random_state)
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training or self.max_shift == 0:
            return
        X = _image_batch(batch, type(self).__name__)
        shifted, offsets = self.shift(X)
        X.copy_(shifted)
        net.history.record_batch("mean_abs_shift", float(offsets.abs().float().mean()))

    def shift(self, X):
        """Shift each image of ``X`` by a fresh random offset.

        Parameters
        ----------
        X : tensor of shape (n, channels, H, W)
            The images; not modified.

        Returns
        -------
        shifted : tensor of the shape of ``X``
        offsets : int tensor of shape (2, n)
            The ``dy`` and ``dx`` of each image.
        """
        m = self.max_shift
        n, channels, height, width = X.shape
        offsets = torch.randint(0, 2 * m + 1, (2, n), generator=self.generator_).to(X.device)
        padded = F.pad(X, (m, m, m, m), value=self.fill_value)
        # Crop an (H, W) window from each padded image at its own offset:
        # gather rows, then columns.
        rows = offsets[0][:, None] + torch.arange(height, device=X.device)
        cols = offsets[1][:, None] + torch.arange(width, device=X.device)
        rows = rows[:, None, :, None].expand(n, channels, height, width + 2 * m)
        cropped = padded.gather(2, rows)
        cols = cols[:, None, None, :].expand(n, channels, height, width)
        return cropped.gather(3, cols), offsets - m


class RandomAffine(Callback):
    """Rotate, scale and shift each training image by its own random amounts.

    Each image is resampled (bilinear) under a rotation of up to ``degrees``
    either way, a zoom factor drawn from ``scale`` and a shift of up to
    ``max_shift`` pixels on each axis, all drawn uniformly and independently
    per image; pixels from outside the image are filled with ``fill_value``.
    The mean absolute rotation of each batch, in degrees, is recorded in the
    batch history under ``"mean_abs_rotation"``.

    Parameters
    ----------
    degrees : float, default=10
        Largest rotation in degrees, either way; angles are drawn uniformly.
    scale : tuple of float, default=(0.9, 1.1)
        Range of the zoom factor; above 1 enlarges the content.
    max_shift : float, default=4
        In pixels.
    fill_value : float, default=0.0
        For standardised inputs 0 is the mean intensity.
    random_state : int, RandomState instance or None, default=None
        Seeds the random draws, for repeatable training.
    """

    def __init__(self, degrees=10, scale=(0.9, 1.1), max_shift=4, fill_value=0.0,
                 random_state=None):
        self.degrees = degrees
        self.scale = scale
        self.max_shift = max_shift
        self.fill_value = fill_value
        self.random_state = random_state

    def initialize(self):
        name = type(self).__name__
        if not 0 <= self.degrees <= 180:
            raise ValueError(f"{name}: degrees must be in [0, 180]; got {self.degrees!r}")
        _check_range(name, "scale", self.scale)
        if self.max_shift < 0:
            raise ValueError(f"{name}: max_shift must be >= 0; got {self.max_shift!r}")
        self.generator_ = _generator(self.random_state)
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        X = _image_batch(batch, type(self).__name__)
        transformed, angles = self.transform(X)
        X.copy_(transformed)
        net.history.record_batch("mean_abs_rotation", float(angles.abs().mean()))

    def transform(self, X):
        """Apply a fresh random affine map to each image of ``X``.

        Parameters
        ----------
        X : tensor of shape (n, channels, H, W)
            The images; not modified.

        Returns
        -------
        transformed : tensor of the shape of ``X``
        angles : tensor of shape (n,)
            The rotation of each image, in degrees.
        """
        n, _, height, width = X.shape
        draws = torch.rand(4, n, generator=self.generator_, dtype=torch.float64)
        angles = (2 * draws[0] - 1) * self.degrees
        zoom = self.scale[0] + (self.scale[1] - self.scale[0]) * draws[1]
        # affine_grid maps output coordinates in [-1, 1] to input coordinates:
        # the inverse map, so rotate by -angle and divide by the zoom; a shift
        # of s pixels is 2 s / side in those units.
        theta = torch.deg2rad(angles)
        cos, sin = torch.cos(theta) / zoom, torch.sin(theta) / zoom
        shift = (2 * draws[2:] - 1) * self.max_shift
        matrix = torch.stack([
            torch.stack([cos, sin * height / width, -2 * shift[1] / width], dim=1),
            torch.stack([-sin * width / height, cos, -2 * shift[0] / height], dim=1),
        ], dim=1).to(X)
        grid = F.affine_grid(matrix, list(X.shape), align_corners=False)
        # grid_sample pads with zeros: sample X - fill so outside pixels become fill.
        transformed = F.grid_sample(X - self.fill_value, grid, mode="bilinear",
                                    padding_mode="zeros", align_corners=False)
        return transformed + self.fill_value, angles.to(torch.float32)


class RandomErasing(_RandomAugmentation):
    """Blank a random rectangle of each training image with probability ``p``.

    Random erasing (Zhong et al., 2020): each chosen image gets one rectangle
    covering a fraction of its area drawn uniformly from ``scale``, with an
    aspect ratio (height / width) drawn log-uniformly from ``ratio``, placed
    uniformly inside the image and filled with ``fill_value``. It forces the
    network to use more than one part of the face. The number of images erased
    in each batch is recorded in the batch history under ``"n_erased"``.

    Parameters
    ----------
    p : float, default=0.5
        Probability that an image is erased.
    scale : tuple of float, default=(0.02, 0.25)
        Range of the erased fraction of the image area.
    ratio : tuple of float, default=(0.3, 3.3)
        Range of the rectangle's height / width.
    fill_value : float, default=0.0
        For standardised inputs 0 is the mean intensity.
    random_state : int, RandomState instance or None, default=None
        Seeds the random draws, for repeatable training.
    """

    def __init__(self, p=0.5, scale=(0.02, 0.25), ratio=(0.3, 3.3), fill_value=0.0,
                 random_state=None):
        super().__init__(p=p, random_state=random_state)
        self.scale = scale
        self.ratio = ratio
        self.fill_value = fill_value

    def initialize(self):
        name = type(self).__name__
        _check_range(name, "scale", self.scale, upper=1.0)
        _check_range(name, "ratio", self.ratio)
        return super().initialize()

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        X = _image_batch(batch, type(self).__name__)
        mask = self.mask(X)
        X.masked_fill_(mask, self.fill_value)
        net.history.record_batch("n_erased", int(mask.flatten(1).any(1).sum()))

    def mask(self, X):
        """Draw the pixels to erase for each image of ``X``.

        Parameters
        ----------
        X : tensor of shape (n, channels, H, W)
            The images; only their shape and device are used.

        Returns
        -------
        mask : bool tensor of shape (n, 1, H, W)
            True inside each erased rectangle (all False for images left alone).
        """
        n, _, height, width = X.shape
        draws = torch.rand(5, n, generator=self.generator_, dtype=torch.float64)
        erase = draws[0] < self.p
        area = height * width * (self.scale[0] + (self.scale[1] - self.scale[0]) * draws[1])
        log_low, log_high = np.log(self.ratio[0]), np.log(self.ratio[1])
        aspect = torch.exp(log_low + (log_high - log_low) * draws[2])
        h = torch.sqrt(area * aspect).round().clamp(1, height).long()
        w = torch.sqrt(area / aspect).round().clamp(1, width).long()
        top = (draws[3] * (height - h + 1)).floor().long()
        left = (draws[4] * (width - w + 1)).floor().long()
        rows = torch.arange(height)[None, :]
        cols = torch.arange(width)[None, :]
        in_rows = (rows >= top[:, None]) & (rows < (top + h)[:, None])
        in_cols = (cols >= left[:, None]) & (cols < (left + w)[:, None])
        mask = in_rows[:, :, None] & in_cols[:, None, :] & erase[:, None, None]
        return mask[:, None].to(X.device)


class Mixup(Callback):
    """Train on convex combinations of pairs of inputs and of their targets (mixup).

    mixup (Zhang et al., 2018, "mixup: Beyond Empirical Risk Minimization",
    ICLR): each training batch is paired with a random permutation of itself,
    and sample ``i`` becomes ``lam * X[i] + (1 - lam) * X[j]``, with one
    ``lam`` per batch drawn from Beta(``alpha``, ``alpha``) and folded to
    ``max(lam, 1 - lam)``, which leaves the mixes' distribution as it is
    (the pairs are random) and keeps sample ``i`` the larger part of its
    mix, so that an accuracy scored against its label means something. Its target and
    sample weight are mixed so that its loss is exactly ``lam`` times the
    loss of sample ``i`` plus ``1 - lam`` times that of sample ``j``, each
    with its own weight: weight ``w = lam * w_i + (1 - lam) * w_j`` and class
    distribution ``(lam * w_i * p_i + (1 - lam) * w_j * p_j) / w``. The
    ``lam`` of each batch is recorded in the batch history under
    ``"mixup_lambda"``.

    The batches' ``y`` must be a dict holding the class distributions under
    ``"proba"`` (shape ``(n, n_classes)``) and the sample weights under
    ``"weight"`` (shape ``(n,)``), as the estimators build it with
    ``mixup > 0``; other entries (the ``"label"`` an accuracy scoring reads)
    are left alone. The input ``X`` may have any shape ``(n, ...)``.
    Callbacks after it see the mixed batch.

    Parameters
    ----------
    alpha : float, default=0.2
        Both parameters of the Beta distribution of ``lam``; small values
        keep most mixed samples close to one of the pair. Must be finite
        and > 0.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws of ``lam`` and of the pairs, for repeatable training.

    Raises
    ------
    ValueError
        At ``initialize`` (the net's), for a bad ``alpha``.
    TypeError
        At a training batch whose ``y`` is not such a dict.
    """

    def __init__(self, alpha=0.2, random_state=None):
        self.alpha = alpha
        self.random_state = random_state

    def initialize(self):
        if not (isinstance(self.alpha, numbers.Real) and 0 < self.alpha < float("inf")):
            raise ValueError(f"Mixup: alpha must be a finite number > 0; got {self.alpha!r}")
        self.generator_ = _generator(self.random_state)
        # torch draws no Beta variates from a generator: NumPy does, seeded from it.
        seed = int(torch.randint(np.iinfo(np.int64).max, (1,), generator=self.generator_))
        self.beta_rng_ = np.random.default_rng(seed)
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        X, y = batch
        missing = (["proba", "weight"] if not isinstance(y, dict)
                   else [key for key in ("proba", "weight") if key not in y])
        if missing:
            got = (f"a dict without {missing}" if isinstance(y, dict)
                   else f"a {type(y).__name__}")
            raise TypeError(
                "Mixup expects training batches whose y is a dict with the class "
                "distributions under 'proba' and the sample weights under 'weight' "
                f"(as FERCNNClassifier(mixup=...) builds it); got {got}"
            )
        lam = float(self.beta_rng_.beta(self.alpha, self.alpha))
        lam = max(lam, 1 - lam)
        pair = torch.randperm(len(X), generator=self.generator_).to(X.device)
        partner = X[pair]  # taken before X changes in place
        X.mul_(lam).add_(partner, alpha=1 - lam)
        proba, weight = y["proba"], y["weight"]
        first, second = lam * weight, (1 - lam) * weight[pair.to(weight.device)]
        mixed = first + second
        y["proba"] = ((first[:, None] * proba + second[:, None] * proba[pair.to(proba.device)])
                      / torch.where(mixed > 0, mixed, 1)[:, None])
        y["weight"] = mixed
        net.history.record_batch("mixup_lambda", lam)


class PiecewiseConstantLR(Callback):
    """Set the learning rate of every parameter group by epoch.

    Epochs ``1 .. milestones[0]`` use ``values[0]``, the next ones up to
    ``milestones[1]`` use ``values[1]``, and so on; after the last milestone
    ``values[-1]``. The study's schedule, lr 0.01 for 10 epochs then 0.002,
    is ``PiecewiseConstantLR(milestones=(10,), values=(0.01, 0.002))``.

    Parameters
    ----------
    milestones : sequence of int, default=(10,)
        Increasing epoch numbers after which the next value applies.
    values : sequence of float, default=(0.01, 0.002)
        One more value than milestones.
    """

    def __init__(self, milestones=(10,), values=(0.01, 0.002)):
        self.milestones = milestones
        self.values = values

    def initialize(self):
        milestones, values = list(self.milestones), list(self.values)
        if len(values) != len(milestones) + 1:
            raise ValueError(
                "PiecewiseConstantLR: values needs one more entry than milestones; "
                f"got {len(values)} values for {len(milestones)} milestones"
            )
        if milestones != sorted(milestones):
            raise ValueError(f"PiecewiseConstantLR: milestones must increase; got {milestones}")
        return self

    def lr_at(self, epoch):
        """Learning rate of 1-based ``epoch``.

        Parameters
        ----------
        epoch : int
            Epoch number, starting at 1.

        Returns
        -------
        lr : float
        """
        index = sum(epoch > m for m in self.milestones)
        return self.values[index]

    def on_epoch_begin(self, net, **kwargs):
        lr = self.lr_at(len(net.history))
        for group in net.optimizer_.param_groups:
            group["lr"] = lr


class RecordLR(Callback):
    """Record the learning rate at the start of each epoch as ``"lr"`` in the history.

    Put it after any schedule callback so that it sees the epoch's value.
    """

    def on_epoch_begin(self, net, **kwargs):
        net.history.record("lr", float(net.optimizer_.param_groups[0]["lr"]))


def _ema_update(averages, weights, n_averaged, decay):
    """One step of :class:`WeightEMA`'s average, as ``AveragedModel``'s ``multi_avg_fn``.

    ``n_averaged`` steps are in the average already. The share kept is
    ``min(decay, (1 + n) / (10 + n))``, the warm-up of TensorFlow's
    ``tf.train.ExponentialMovingAverage(decay, num_updates)``, so that the
    first steps' weights, far from the trained ones, fade out in a short fit
    too. Module level (bound with :func:`functools.partial`) so that it pickles.
    """
    n = float(n_averaged)
    kept = min(decay, (1.0 + n) / (10.0 + n))
    if torch.is_floating_point(averages[0]):
        torch._foreach_lerp_(averages, weights, 1.0 - kept)
    # Integer buffers (batch norm's step count) are not averaged: on_train_end keeps the net's.


class WeightEMA(Callback):
    """Keep an exponential moving average of the weights; end training with it.

    After every training step each weight and batch-norm statistic of the
    average moves a share ``1 - d`` of the way to the network's
    (``average = d * average + (1 - d) * weight``; the first step copies
    them), with ``d = min(decay, (1 + n) / (10 + n))`` after ``n`` steps: the
    exponential moving average of TensorFlow's
    ``tf.train.ExponentialMovingAverage`` with its warm-up, as timm's
    ``ModelEmaV3`` keeps it for image classifiers. When training ends,
    finished or interrupted, the network takes the average's values, so that
    ``predict`` uses them.

    Parameters
    ----------
    decay : float, default=0.999
        The share of the average kept at each step, in (0, 1), once the
        warm-up has passed (after ``(10 * decay - 1) / (1 - decay)`` steps,
        8,990 for the default). The average spans about the last ``1 / (1 - decay)`` steps:
        1,000 for the default, about 4.5 epochs of FER2013's 28,709
        ``Training`` faces in batches of 128.

    Attributes
    ----------
    average_ : torch.optim.swa_utils.AveragedModel
        The running average, a copy of the network; not pickled with the
        net, whose own weights hold the average once training has ended.

    Raises
    ------
    ValueError
        At ``initialize`` (``fit``), for a ``decay`` outside (0, 1); at the
        start of training, beside an ``EarlyStopping(load_best=True)``
        (``early_stopping=True``), whose best epoch's weights it would replace.

    Notes
    -----
    The validation scores in ``history`` are those of the network's own
    weights at each epoch, not of the average. Each ``fit`` starts a new
    average (a ``warm_start`` fit too, from the weights the last one ended
    with). With ``checkpoint=``, the average is part of the checkpoint, so a
    resumed fit ends with the same one.
    """

    def __init__(self, decay=0.999):
        self.decay = decay

    def initialize(self):
        if not (isinstance(self.decay, numbers.Real) and 0.0 < self.decay < 1.0):
            raise ValueError(f"WeightEMA: decay must be in (0, 1); got {self.decay!r}")
        return self

    def on_train_begin(self, net, **kwargs):
        if any(isinstance(callback, EarlyStopping) and callback.load_best
               for _, callback in net.callbacks_):
            raise ValueError(
                "WeightEMA replaces the weights when training ends, which would discard the "
                "best epoch's weights that EarlyStopping(load_best=True) puts back "
                "(early_stopping=True): use one or the other"
            )
        self.average_ = AveragedModel(net.module_, use_buffers=True,
                                      multi_avg_fn=partial(_ema_update, decay=self.decay))

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.average_.update_parameters(net.module_)

    def on_train_end(self, net, **kwargs):
        average = self.average_.module.state_dict()
        net.module_.load_state_dict({name: average[name] if value.is_floating_point() else value
                                     for name, value in net.module_.state_dict().items()})

    def __getstate__(self):
        # Pickling a fitted net: its weights are the average already, and the copy would
        # double its size (skorch's EarlyStopping drops its best weights the same way).
        return {name: value for name, value in vars(self).items() if name != "average_"}
