"""The scikit-learn classifiers: a facade over a skorch net built in ``fit``.

``__init__`` only stores parameters (scikit-learn's contract); ``fit``
validates them, learns the input scaling, builds the torch module and trains
it with a fresh :class:`skorch.NeuralNetClassifier` held as ``net_``. The
fitted module (``module_``) and the one input transform (``to_tensor``) are the
documented way in for :mod:`fer_sklearn.interpret` and the exporters.
"""

import copy
import inspect
import math
import numbers
import os
import warnings
from abc import abstractmethod

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch.optim import lr_scheduler
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods, Interval, Options, StrOptions, validate_parameter_constraints,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight, check_array, check_is_fitted, check_non_negative, validate_data,
)
from skorch.callbacks import EarlyStopping, EpochScoring, LRScheduler
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from ._checkpoint import (FitCheckpoint, check_fingerprint, completed_epochs, data_digest,
                          fingerprint, module_digest, read_checkpoint, stopped_early)
from ._modules import FERCNN, FERMLP, MemberAverage, count_parameters, match_hidden_width
from ._precision import PRECISIONS, AutocastNeuralNetClassifier, autocast_dtype
from ._progress import TimeLeft, shows_time_left
from ._test_time import prediction_views
from .exceptions import FitInterruptedWarning, PixelRangeWarning
from .callbacks import (
    EpochMirror, Mixup, PiecewiseConstantLR, RandomAffine, RandomErasing, RandomFlip,
    RandomShift, RecordLR,
)
from ._weighting import WeightedCrossEntropy, WeightedNeuralNetClassifier, batch_labels

_OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
_AUGMENTS = ("none", "study", "flip", "flip_shift", "flip_shift_erase", "flip_affine")
_SCHEDULES = ("none", "study", "cosine", "onecycle", "plateau")
_HISTORY_COLUMNS = ["epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "lr", "dur"]
# Input whose largest absolute pixel value is more than this factor away from
# the training data's is on another scale: 0..1 against 0..255 is a factor of
# 255, while a dark but genuine 0..255 face stays well within 10.
_PIXEL_SCALE_FACTOR = 10
# OneCycleLR divides by its warm-up length, 20% of the steps less one: with
# 5 steps or fewer that is zero or negative (ZeroDivisionError in torch).
# Shorter trainings than this keep lr constant.
_MIN_ONECYCLE_STEPS = 10
# Rows of target_proba may miss summing to 1 by rounding (float32, shares
# written with a few decimals), not more.
_PROBA_SUM_TOLERANCE = 1e-4
# Images per step of the weighted pixel statistics: bounds their float64 temporary.
_STATS_CHUNK = 1024


class _Number(Interval):
    """An :class:`~sklearn.utils._param_validation.Interval` that refuses booleans.

    ``isinstance(True, numbers.Integral)`` holds, so a plain Interval would
    take ``test_time_shift=True`` for a shift of 1 pixel, or ``lr=True`` for 1.0.
    """

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


_POSITIVE_INT = _Number(numbers.Integral, 1, None, closed="left")


class _LayerSizes(Options):
    """An int >= 1, or a non-empty flat sequence of them (``hidden_layer_sizes``).

    An :class:`~sklearn.utils._param_validation.Options` only because
    scikit-learn's validation accepts no other constraint classes; it lists no options.
    """

    def __init__(self):
        super().__init__(object, set())

    def is_satisfied_by(self, val):
        sizes = [val] if isinstance(val, numbers.Integral) else val
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
            return False
        sizes = list(sizes)
        return bool(sizes) and all(_POSITIVE_INT.is_satisfied_by(size) for size in sizes)

    def __str__(self):
        return "an int >= 1 or a non-empty sequence of ints >= 1"


def resolve_device(device):
    """Map ``"auto"`` to ``"cuda"`` when a GPU is available, else ``"cpu"``.

    Parameters
    ----------
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns
    -------
    device : str

    Raises
    ------
    ValueError
        For an unknown device, or CUDA asked for where none is available.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        kind = None
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but no CUDA device is available; use 'auto' or 'cpu'")
    return device


def _image_shape_for(n_features):
    """Square images for square pixel counts; otherwise a 1-row image."""
    side = math.isqrt(n_features)
    return (side, side) if side * side == n_features else (1, n_features)


def _weighted_mean_std(X, sample_weight):
    """Mean and standard deviation of all values of ``X``, each row counting by its weight.

    The same as ``X.mean()`` and ``X.std()`` of ``X`` with each row repeated
    ``sample_weight`` times (for integer weights), in float64, ``_STATS_CHUNK``
    rows at a time.
    """
    total = sample_weight.sum() * X.shape[1]
    mean = sample_weight @ X.sum(axis=1, dtype=np.float64) / total
    squares = 0.0
    for start in range(0, len(X), _STATS_CHUNK):
        chunk = X[start:start + _STATS_CHUNK].astype(np.float64) - mean
        squares += sample_weight[start:start + _STATS_CHUNK] @ np.square(chunk).sum(axis=1)
    return float(mean), float(np.sqrt(squares / total))


def _flatten_images(X):
    """Flatten ``(n, H, W)`` or ``(n, 1, H, W)`` arrays to ``(n, H * W)``.

    Returns the (possibly reshaped) X and the image shape it carried, or None
    for 2-D input, which is passed through untouched so that scikit-learn's
    validation sees (and names) the user's own object.
    """
    if sp.issparse(X) or hasattr(X, "iloc") or isinstance(X, torch.Tensor):
        return X, None
    try:
        array = np.asarray(X)
    except (TypeError, ValueError):
        return X, None  # ragged lists and the like: let validate_data explain
    if array.ndim == 4:
        if array.shape[1] != 1:
            raise ValueError(
                "4-D X must be (n_samples, 1, height, width) grayscale images; "
                f"got shape {array.shape}"
            )
        array = array[:, 0]
    if array.ndim == 3:
        return array.reshape(len(array), -1), tuple(array.shape[1:])
    return X, None


class _BaseFERClassifier(ClassifierMixin, BaseEstimator):
    """Training, prediction and input handling shared by both classifiers."""

    _parameter_constraints = {
        "dropout": [_Number(numbers.Real, 0, 1, closed="left")],
        "lr": [_Number(numbers.Real, 0, None, closed="neither")],
        "max_epochs": [_POSITIVE_INT],
        "batch_size": [_POSITIVE_INT],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), type],
        "weight_decay": [_Number(numbers.Real, 0, None, closed="left")],
        "augment": [StrOptions(set(_AUGMENTS)), None],
        "lr_schedule": [StrOptions(set(_SCHEDULES)), None],
        "label_smoothing": [_Number(numbers.Real, 0, 1, closed="left")],
        "mixup": [_Number(numbers.Real, 0, None, closed="left")],
        "test_time_flip": ["boolean"],
        # Also below the image side, once it is known: see _check_params.
        "test_time_shift": [_Number(numbers.Integral, 0, None, closed="left")],
        "validation_fraction": [_Number(numbers.Real, 0, 1, closed="neither"), None],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [_POSITIVE_INT],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "device": [str],
        "precision": [StrOptions(set(PRECISIONS))],
        "verbose": ["verbose"],
        "callbacks": [list, None],
        "checkpoint": [str, os.PathLike, None],
    }

    @abstractmethod
    def _build_module(self, n_classes):
        """The untrained torch module for the fitted input shape."""

    @abstractmethod
    def _module_for(self, n_features, n_classes):
        """The torch module of the set parameters for an input size, fitted or not."""

    def count_params(self, n_features=2304, n_classes=7):
        """Parameters the network would have for this input size and class count.

        Parameters
        ----------
        n_features : int, default=2304
            Pixels per face (a square image of that many pixels for the CNN).
        n_classes : int, default=7
            Classes of the output layer.

        Returns
        -------
        n_params : int
            Trainable parameters (weights and biases).
        """
        return count_parameters(self._module_for(n_features, n_classes))

    def _is_image(self):
        return self.image_shape_[0] > 1

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------ parameters
    def _check_params(self, image_shape=None, names=None):
        """Check parameters against ``_parameter_constraints``: the one check of fit and predict.

        ``fit`` checks them all; ``predict_proba`` and the ONNX export check
        the ones they use (``batch_size``, ``precision``, ``test_time_flip``,
        ``test_time_shift``), so that a value set by ``set_params`` after fit
        fails at its next use with the message fit would have given.

        Parameters
        ----------
        image_shape : tuple of int or None, default=None
            ``(H, W)`` of the input. For 2-D images, ``test_time_shift`` must
            also be smaller than the shorter side: a larger pad would crop
            instead of shifting.
        names : sequence of str or None, default=None
            The parameters to check; None checks all.

        Raises
        ------
        sklearn.utils._param_validation.InvalidParameterError
            A ``ValueError`` (and ``TypeError``) naming the parameter, what it
            must be and the value it has.
        """
        constraints = self._parameter_constraints
        if image_shape is not None and image_shape[0] > 1:
            constraints = {**constraints, "test_time_shift": [
                _Number(numbers.Integral, 0, min(image_shape), closed="left")]}
        params = self.get_params(deep=False)
        if names is not None:
            params = {name: params[name] for name in names}
        validate_parameter_constraints(constraints, params, caller_name=type(self).__name__)

    # ----------------------------------------------------------------- input
    def _learn_scaling(self, X, image_shape, sample_weight):
        self.image_shape_ = image_shape
        # One global mean/std, not per pixel: it commutes with flips and
        # shifts, so augmented images stay on the same scale. Weighted as
        # the repeated samples would be; equal weights are no weights.
        if np.all(sample_weight == sample_weight[0]):
            mean, std = float(X.mean(dtype=np.float64)), float(X.std(dtype=np.float64))
        else:
            mean, std = _weighted_mean_std(X, sample_weight)
        self.pixel_mean_ = mean
        self.pixel_std_ = std if std > 0 else 1.0
        self.pixel_range_ = (float(X.min()), float(X.max()))

    def to_tensor(self, X):
        """Validate ``X`` and turn it into the network's input.

        This is the estimator's one input transform: flatten or reshape to
        ``(n, 1, H, W)`` with ``(H, W) = image_shape_``, then standardise with
        the scaling learned in ``fit``: ``(X - pixel_mean_) / pixel_std_``.
        Interpretation and export reuse it; ``predict_proba`` applies it
        ``batch_size`` images at a time.

        It warns (:class:`~fer_sklearn.exceptions.PixelRangeWarning`) when the
        largest absolute pixel value of ``X`` is more than 10 times smaller or
        larger than that of the training data (``pixel_range_``): input on
        another scale, such as 0..1 images for a model fitted on 0..255
        pixels, gets nearly the same prediction for every face. The check
        uses the minimum and maximum of each batch as it is converted, not a
        second pass over ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, 1, H, W)
            Faces as grey pixels on the training data's scale (0..255 for
            FER2013): rows of ``H * W`` pixels, or images.

        Returns
        -------
        tensor : torch.Tensor of shape (n_samples, 1, H, W), float32, on the CPU

        Raises
        ------
        ValueError
            If ``X`` has another number of pixels or image shape than in fit,
            or holds NaN or infinity.
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        """
        (tensor,) = self._input_batches(X, batch_size=None)
        return tensor

    def _input_batches(self, X, batch_size):
        """Validate ``X``, then yield ``to_tensor`` of it ``batch_size`` rows at a time.

        ``X`` keeps its dtype (uint8 pixels stay uint8): only one batch at a
        time is converted to float32, so the memory beyond ``X`` is a few
        batches however many images it holds. ``batch_size=None`` yields all
        rows as one batch. The pixel range is checked once, over all batches,
        before the last one is yielded.
        """
        check_is_fitted(self)
        X, image_shape = _flatten_images(X)
        self._check_image_shape(image_shape)
        X = validate_data(self, X, dtype="numeric", reset=False)
        batch_size = batch_size or len(X)
        low, high = np.inf, -np.inf
        for start in range(0, len(X), batch_size):
            batch = np.asarray(X[start:start + batch_size], dtype=np.float32)
            low, high = min(low, batch.min()), max(high, batch.max())
            if start + batch_size >= len(X):
                self._check_pixel_range(low, high)
            yield self._standardise(batch)

    def _check_pixel_range(self, low, high):
        """Warn when pixels in ``[low, high]`` are on another scale than ``pixel_range_``."""
        if not hasattr(self, "pixel_range_"):  # loaded from a file saved before it existed
            return
        fitted = max(abs(value) for value in self.pixel_range_)
        given = max(abs(float(low)), abs(float(high)))
        if fitted > 0 and not fitted / _PIXEL_SCALE_FACTOR <= given <= fitted * _PIXEL_SCALE_FACTOR:
            fit_low, fit_high = self.pixel_range_
            warnings.warn(
                f"X has pixel values in [{float(low):g}, {float(high):g}], but "
                f"{type(self).__name__} was fitted on values in [{fit_low:g}, {fit_high:g}]: "
                "on another scale its predictions are meaningless (nearly one class for "
                "all). Rescale X to the range used in fit.",
                PixelRangeWarning, stacklevel=4,
            )

    def _check_image_shape(self, image_shape):
        """Refuse image-shaped input whose (H, W) differs from the fitted one."""
        if image_shape is not None and image_shape != tuple(self.image_shape_):
            raise ValueError(
                f"X holds images of shape {image_shape}, but {type(self).__name__} "
                f"was fitted on images of shape {tuple(self.image_shape_)}"
            )

    def _standardise(self, X):
        X = (X - np.float32(self.pixel_mean_)) / np.float32(self.pixel_std_)
        return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).reshape(
            len(X), 1, *self.image_shape_
        )

    # -------------------------------------------------------------- training
    def _encode_targets(self, y, warm):
        check_classification_targets(y)
        if warm:
            unseen = np.setdiff1d(np.unique(y), self.classes_)
            if unseen.size:
                raise ValueError(
                    f"warm_start=True: y has labels {unseen.tolist()} not seen in the "
                    f"first fit; classes_ is {self.classes_.tolist()}"
                )
            return np.searchsorted(self.classes_, y).astype(np.int64)
        classes, encoded = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y; "
                f"got {len(classes)} class ({classes.tolist()})"
            )
        self.classes_ = classes
        return encoded.astype(np.int64)

    def _weighted_data(self, X, y, sample_weight, target_proba, warm):
        """The checked data without its samples of zero weight, and the class weights.

        Returns ``(X, y, sample_weight, proba)``, with ``sample_weight``
        float64 (ones for None) and ``proba`` float64 or None, and the class
        weights (None without ``class_weight``). A sample's weight is its
        sample weight times its class weight (for a distribution, its mean
        class weight): a zero class weight in a ``class_weight`` dict removes
        the class's samples as a zero sample weight does.
        """
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                             ensure_non_negative=True)
        proba = self._check_target_proba(target_proba, len(y))
        class_weight = self._class_weight(y, sample_weight, proba)
        keep = self._effective_weight((X, y, sample_weight, proba), class_weight) > 0
        if not keep.any():
            raise ValueError("sample_weight times class_weight is zero for every sample")
        if not keep.all():
            X, y, sample_weight = X[keep], y[keep], sample_weight[keep]
            proba = None if proba is None else proba[keep]
        if proba is None:
            trained = np.unique(y)
        else:
            trained = np.flatnonzero(proba.sum(axis=0) * (
                1.0 if class_weight is None else class_weight))
        if not warm and len(trained) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes with non-zero "
                f"weight (sample_weight, class_weight, target_proba); got {len(trained)} class "
                f"({self.classes_[trained].tolist()})"
            )
        return (X, y, sample_weight, proba), class_weight

    def _check_target_proba(self, target_proba, n_samples):
        """``target_proba`` as a float64 array of shape (n_samples, n_classes), or None."""
        if target_proba is None:
            return None
        proba = check_array(target_proba, dtype=np.float64, input_name="target_proba")
        n_classes = len(self.classes_)
        if proba.shape != (n_samples, n_classes):
            raise ValueError(
                f"target_proba must have shape (n_samples, n_classes) = ({n_samples}, "
                f"{n_classes}), one column per class of classes_ {self.classes_.tolist()}; "
                f"got {proba.shape}"
            )
        check_non_negative(proba, "target_proba")
        sums = proba.sum(axis=1)
        if not np.allclose(sums, 1.0, rtol=0, atol=_PROBA_SUM_TOLERANCE):
            raise ValueError(
                "each row of target_proba must be a distribution over classes_ summing to "
                f"1; got row sums from {sums.min():g} to {sums.max():g}"
            )
        return proba

    def _split(self, data, seed):
        """The training part of ``data`` and the validation part (None without validation).

        ``data`` is ``(X, y, sample_weight, proba)``, ``proba`` possibly None;
        both parts have that form.
        """
        fraction = self.validation_fraction
        if fraction is None and self.early_stopping:
            fraction = 0.1  # as sklearn's MLPClassifier does
        if fraction is None:
            return data, None
        y = data[1]
        stratify = y if np.bincount(y).min(initial=len(y)) >= 2 else None
        arrays = [array for array in data if array is not None]
        try:
            parts = train_test_split(*arrays, test_size=fraction, random_state=seed,
                                     stratify=stratify)
        except ValueError as exc:
            raise ValueError(
                f"validation_fraction={fraction} cannot split {len(y)} samples: {exc}"
            ) from None
        missing = (None,) * (len(data) - len(arrays))
        return (*parts[0::2], *missing), (*parts[1::2], *missing)

    def _class_weight(self, y, sample_weight, proba):
        """The class weights over ``classes_`` as a float64 array, or None without any.

        ``"balanced"`` gives ``n_samples / (n_classes * count)`` to each class
        present, counting samples by their weights and a distribution toward
        each class by its share; computed on all the data given to fit, as
        :class:`~sklearn.linear_model.SGDClassifier` computes it, also when a
        validation share is held out.
        """
        if self.class_weight is None:
            return None
        n_classes = len(self.classes_)
        if isinstance(self.class_weight, str):  # "balanced"
            if proba is None:
                counts = np.bincount(y, weights=sample_weight, minlength=n_classes)
            else:
                counts = sample_weight @ proba
            present = counts > 0
            weight = np.ones(n_classes)
            weight[present] = counts.sum() / (present.sum() * counts[present])
            return weight
        unknown = set(self.class_weight) - set(self.classes_.tolist())
        if unknown:
            raise ValueError(
                f"class_weight has labels {sorted(unknown, key=str)} that are not in "
                f"classes_ {self.classes_.tolist()}"
            )
        weight = np.array([float(self.class_weight.get(c, 1.0)) for c in self.classes_])
        if not np.all(np.isfinite(weight) & (weight >= 0)):
            raise ValueError(f"class_weight values must be finite and >= 0; got "
                             f"{self.class_weight!r}")
        return weight

    @staticmethod
    def _effective_weight(data, class_weight):
        """Sample weight times class weight (a distribution's mean class weight) per sample."""
        _, y, sample_weight, proba = data
        if class_weight is None:
            return sample_weight
        return sample_weight * (class_weight[y] if proba is None else proba @ class_weight)

    @staticmethod
    def _net_target(data, weighted):
        """The skorch ``y`` of ``data``: the labels, or with weights the dict of them all.

        See :class:`~fer_sklearn._weighting.WeightedNeuralNetClassifier`.
        """
        _, y, sample_weight, proba = data
        if not weighted:
            return y
        target = {"label": y, "weight": sample_weight.astype(np.float32)}
        if proba is not None:
            target["proba"] = proba.astype(np.float32)
        return target

    def _augment_callbacks(self, seed):
        augment = self.augment or "none"
        if augment == "none" or not self._is_image():
            return []
        if augment == "study":
            return [("augment_mirror", EpochMirror(p=0.5, random_state=seed))]
        callbacks = [("augment_flip", RandomFlip(p=0.5, random_state=seed))]
        shift = max(1, round(0.08 * min(self.image_shape_)))  # 4 px on 48x48
        if augment in ("flip_shift", "flip_shift_erase"):
            callbacks.append(("augment_shift", RandomShift(shift, random_state=seed + 1)))
        if augment == "flip_shift_erase":
            callbacks.append(("augment_erase", RandomErasing(p=0.5, random_state=seed + 2)))
        elif augment == "flip_affine":
            callbacks.append(("augment_affine", RandomAffine(
                degrees=10, scale=(0.9, 1.1), max_shift=shift, random_state=seed + 1)))
        return callbacks

    def _schedule_callbacks(self, n_train, has_valid):
        schedule = self.lr_schedule or "none"
        if schedule == "study":
            return [("lr_schedule", PiecewiseConstantLR(milestones=(10,), values=(0.01, self.lr)))]
        if schedule == "cosine":
            return [("lr_schedule", LRScheduler(
                lr_scheduler.CosineAnnealingLR, T_max=self.max_epochs, eta_min=self.lr * 1e-3))]
        if schedule == "onecycle":
            steps = self.max_epochs * math.ceil(n_train / min(self.batch_size, n_train))
            if steps < _MIN_ONECYCLE_STEPS:
                return []
            return [("lr_schedule", LRScheduler(
                lr_scheduler.OneCycleLR, max_lr=self.lr, total_steps=steps, pct_start=0.2,
                step_every="batch"))]
        if schedule == "plateau":
            monitor = "valid_loss" if has_valid else "train_loss"
            return [("lr_schedule", LRScheduler(
                lr_scheduler.ReduceLROnPlateau, monitor=monitor, factor=0.5, patience=2))]
        return []

    def _build_net(self, module, n_train, valid, class_weight, mean_weights, seed, device,
                   checkpoint):
        optimizer = _OPTIMIZERS.get(self.optimizer, self.optimizer)
        optimizer_kwargs = {"optimizer__weight_decay": self.weight_decay}
        if optimizer is torch.optim.SGD:
            optimizer_kwargs.update(optimizer__momentum=0.9, optimizer__nesterov=True)
        callbacks = [
            ("train_acc", EpochScoring("accuracy", name="train_acc", on_train=True,
                                       lower_is_better=False, target_extractor=batch_labels)),
            *self._augment_callbacks(seed),
            *([("mixup", Mixup(self.mixup, random_state=seed + 3))] if self.mixup > 0 else []),
            *self._schedule_callbacks(n_train, valid is not None),
        ]
        if self.early_stopping:
            callbacks.append(("early_stopping", EarlyStopping(
                monitor="valid_loss", patience=self.n_iter_no_change, load_best=True)))
        # User callbacks are copied so that fit never mutates a parameter.
        for i, callback in enumerate(copy.deepcopy(self.callbacks or [])):
            callbacks.append(callback if isinstance(callback, tuple) else (f"user_{i}", callback))
        callbacks.append(("record_lr", RecordLR()))
        if shows_time_left(self.verbose):
            # First of these, to erase its line before early stopping or the table print.
            callbacks.insert(0, ("time_left", TimeLeft(type(self).__name__)))
        if checkpoint is not None:
            # Last, to keep every other callback's state as the epoch leaves it.
            callbacks.append(("checkpoint", checkpoint))
        batch_size = min(self.batch_size, n_train)
        return WeightedNeuralNetClassifier(
            module=module,
            autocast_dtype=autocast_dtype(self.precision, device),
            mean_weights=mean_weights,
            criterion=WeightedCrossEntropy,
            criterion__weight=(None if class_weight is None
                               else torch.as_tensor(class_weight, dtype=torch.float32)),
            criterion__label_smoothing=self.label_smoothing,
            optimizer=optimizer,
            lr=self.lr,
            **optimizer_kwargs,
            max_epochs=self.max_epochs,
            batch_size=batch_size,
            iterator_train__shuffle=True,
            # BatchNorm cannot train on a last batch of one sample.
            iterator_train__drop_last=n_train % batch_size == 1,
            train_split=None if valid is None else predefined_split(valid),
            classes=np.arange(len(self.classes_)),
            callbacks=callbacks,
            device=device,
            verbose=int(self.verbose),
        )

    def fit(self, X, y, sample_weight=None, target_proba=None):
        """Train the network on images ``X`` and labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, 1, H, W)
            Pixel values, 0..255 or 0..1 (the scaling is learned).
        y : array-like of shape (n_samples,)
            Class labels of any type.
        sample_weight : array-like of shape (n_samples,) or float, default=None
            Non-negative weights, in scikit-learn's sense: an integer weight
            ``k`` counts as ``k`` copies of the sample, and a sample of weight
            0 is removed before training. A sample's weight ``w_i`` (times its
            ``class_weight``) scales its loss ``l_i`` and its share of the
            batch-norm statistics and of the learned pixel scaling. A batch's
            loss is ``sum w_i l_i / (batch_size * mean(w))``, with the mean
            over all training samples, so that over an epoch the batch losses
            average to the weighted mean loss ``sum w_i l_i / sum w_i``. None
            weighs every sample 1.
        target_proba : array-like of shape (n_samples, n_classes), default=None
            Train on class distributions instead of the labels, such as the
            vote shares of ``load_fer2013(labels="ferplus-proba")``: the loss
            of a sample is the cross-entropy against its row, which equals
            the loss of its labels ``k`` with sample weights
            ``target_proba[:, k]``. Rows are non-negative, sum to 1 and
            follow ``classes_`` (the sorted labels of ``y``). ``y`` still
            sets ``classes_``, the stratification of the validation split
            and the accuracies of ``history_``.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        sklearn.utils._param_validation.InvalidParameterError
            A ``ValueError`` naming a parameter outside its constraints; every
            parameter is checked here, ``test_time_shift`` against the image side too.
        ValueError
            For bad ``X``, ``y``, ``sample_weight`` or ``target_proba`` (NaN,
            one class, negative or all-zero weights, rows not summing to 1,
            an unknown device ...).
        KeyboardInterrupt
            With ``checkpoint``, when training is interrupted (Ctrl-C): the
            estimator is left as it was before the call, and the checkpoint
            keeps the epochs completed for the next ``fit`` to resume.
        fer_sklearn.exceptions.CheckpointError
            With ``checkpoint``, for a checkpoint of another fit or a damaged one.

        Warns
        -----
        FitInterruptedWarning
            Without ``checkpoint``, when training was interrupted by a
            :class:`KeyboardInterrupt` (Ctrl-C). skorch catches it and ends
            training, so ``fit`` returns the partly trained model; ``n_iter_``
            holds the epochs completed and ``interrupted_`` is True. An early
            stop (``early_stopping``, or a :class:`skorch.callbacks.EarlyStopping`
            callback) does not warn.

        Notes
        -----
        Any exception that ends ``fit`` (including a ``BaseException`` that
        is not a ``KeyboardInterrupt``, which skorch lets through) leaves the
        estimator as it was before the call: an unfitted one stays unfitted,
        and a fitted one, also with ``warm_start``, keeps its network.
        """
        state = vars(self).copy()
        try:
            return self._fit(X, y, sample_weight, target_proba)
        except BaseException:
            # fit sets fitted attributes as it goes (classes_, the scaling ...);
            # restoring them keeps a failed fit from looking like a fitted model.
            vars(self).clear()
            vars(self).update(state)
            raise

    def _fit(self, X, y, sample_weight, target_proba):
        warm = self.warm_start and hasattr(self, "net_")
        X, image_shape = _flatten_images(X)
        X, y = validate_data(self, X, y, dtype=np.float32, reset=not warm)
        if warm:
            self._check_image_shape(image_shape)
            image_shape = self.image_shape_
        else:
            image_shape = image_shape or _image_shape_for(X.shape[1])
        # After the data, whose image side bounds test_time_shift, and before anything is built.
        self._check_params(image_shape)
        device = resolve_device(self.device)
        # With weights, distributions or mixup (which mixes both) the net gets
        # them with the labels; without, the labels alone, which any skorch
        # scoring callback reads.
        weighted = sample_weight is not None or target_proba is not None or self.mixup > 0
        y = self._encode_targets(y, warm)
        data, class_weight = self._weighted_data(X, y, sample_weight, target_proba, warm)
        if self.mixup > 0 and data[3] is None:
            # Mixup mixes targets: labels become one-hot distributions.
            data = (*data[:3], np.eye(len(self.classes_))[data[1]])
        if not warm:
            self._learn_scaling(data[0], image_shape, self._effective_weight(data, class_weight))
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max - 1))
        checkpoint, seed, epochs_left = self._open_checkpoint(data, image_shape, seed, warm)
        train, valid = self._split(data, seed)
        mean_weights = tuple(1.0 if part is None else
                             float(self._effective_weight(part, class_weight).mean())
                             for part in (train, valid))
        if valid is not None:
            valid = Dataset(self._standardise(valid[0]), self._net_target(valid, weighted))
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        # Seed torch inside a forked RNG: fit is reproducible for a given
        # random_state without touching the caller's global torch state.
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            # A warm start trains a copy, so that an aborted fit leaves the fitted network intact.
            module = (copy.deepcopy(self.net_.module_) if warm
                      else self._build_module(len(self.classes_)))
            net = self._build_net(module, len(train[1]), valid, class_weight, mean_weights,
                                  seed, device, checkpoint)
            # skorch's fit is initialize + partial_fit; the epoch count is the one
            # thing a resumed fit changes.
            net.initialize()
            net.partial_fit(self._standardise(train[0]), self._net_target(train, weighted),
                            epochs=epochs_left)
        previous = self.history_ if warm else None
        self.net_ = net
        self.net_.module_.eval()
        self.n_params_ = count_parameters(self.module_)
        self.history_ = self._history_frame(previous)
        self._record_epochs()
        return self

    def _open_checkpoint(self, data, image_shape, seed, warm):
        """The fit's :class:`~fer_sklearn._checkpoint.FitCheckpoint`, its seed and epochs to run.

        Without ``checkpoint``: ``(None, seed, max_epochs)``. With one, the
        checkpoint kept in the folder (if any) must come from a fit of the
        same data, parameters and seed; with ``random_state=None`` the seed
        is the one that fit drew. Its epochs are then not run again.
        """
        if self.checkpoint is None:
            return None, seed, self.max_epochs
        resume = read_checkpoint(self.checkpoint)
        if resume is not None and self.random_state is None:
            seed = resume["fingerprint"]["seed"]
        X, y, sample_weight, proba = data
        digest = data_digest([X, y, sample_weight, proba, np.asarray(image_shape),
                              np.asarray(self.classes_).astype(str)])
        start = module_digest(self.net_.module_) if warm else None
        current = fingerprint(self, digest, len(y), seed, start)
        epochs_left = self.max_epochs
        if resume is not None:
            check_fingerprint(resume["fingerprint"], current, self.checkpoint)
            epochs_left = 0 if resume["finished"] else self.max_epochs - resume["epochs"]
        return FitCheckpoint(self.checkpoint, current, resume), seed, epochs_left

    def _history_frame(self, previous):
        rows = [{key: epoch.get(key, np.nan) for key in _HISTORY_COLUMNS}
                for epoch in completed_epochs(self.net_)]
        frame = pd.DataFrame(rows, columns=_HISTORY_COLUMNS).dropna(axis=1, how="all")
        if previous is not None:
            frame["epoch"] += len(previous)
            frame = pd.concat([previous, frame], ignore_index=True)
        return frame

    def _record_epochs(self):
        """Set ``n_iter_`` and ``interrupted_``, and warn when training was interrupted.

        skorch ends training early on a KeyboardInterrupt, which is both how
        Ctrl-C arrives and how EarlyStopping stops: an EarlyStopping whose
        misses reached its patience is what tells the two apart.
        """
        self.n_iter_ = len(completed_epochs(self.net_))
        self.interrupted_ = self.n_iter_ < self.max_epochs and not stopped_early(self.net_)
        if self.interrupted_ and self.checkpoint is not None:
            # The epochs completed are in the checkpoint. Raising leaves the
            # estimator as it was before the call, so that calling fit again is
            # the same call, and resumes.
            raise KeyboardInterrupt(
                f"{type(self).__name__}.fit was interrupted after {self.n_iter_} of "
                f"{self.max_epochs} epochs; the checkpoint in {os.fspath(self.checkpoint)!r} "
                "keeps them: call fit again with the same data to resume")
        if self.interrupted_:
            warnings.warn(
                f"{type(self).__name__}.fit was interrupted (KeyboardInterrupt) after "
                f"{self.n_iter_} of {self.max_epochs} epochs: the model is only partly "
                "trained (n_iter_ and interrupted_ record this).",
                FitInterruptedWarning, stacklevel=4,
            )

    # ------------------------------------------------------------ prediction
    def _set_prediction_net(self, module, device):
        """Make ``module`` (trained elsewhere) the fitted network, ready to predict on ``device``.

        The net a fit leaves, less what only training needs; :func:`load` and
        :func:`average_ensemble` use it.
        """
        self.net_ = AutocastNeuralNetClassifier(
            module=module.eval(),
            autocast_dtype=autocast_dtype(self.precision, device),
            criterion=torch.nn.CrossEntropyLoss,
            classes=np.arange(len(self.classes_)),
            batch_size=self.batch_size,
            device=device,
        ).initialize()

    @property
    def module_(self):
        """The fitted torch module, in eval mode: input ``to_tensor(X)``, output logits."""
        check_is_fitted(self, "net_")
        return self.net_.module_

    def predict_proba(self, X):
        """Class probabilities, in batches, in eval mode and without gradients.

        For 2-D images the probabilities are averaged over the test-time
        views: each image, its left-right mirror (``test_time_flip``) and its
        copies shifted by ``test_time_shift`` pixels up, down, left and right
        (each mirrored too).

        ``X`` is standardised and its views are built ``batch_size`` images
        at a time, so the memory used beyond ``X`` and the network is a few
        batches (``benchmarks/bench_predict_memory.py``): uint8 pixels are
        never converted to float32 all at once. On a CPU the network then
        takes the views 32 at a time, which is faster than larger batches
        (``benchmarks/bench_inference_batch.py``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, 1, H, W)
            Faces as grey pixels on the training data's scale (0..255 for
            FER2013): rows of ``H * W`` pixels, or images.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.

        Raises
        ------
        sklearn.utils._param_validation.InvalidParameterError
            If ``batch_size``, ``precision``, ``test_time_flip`` or
            ``test_time_shift`` was set (by ``set_params`` after fit) to a value
            that ``fit`` would refuse.
        ValueError
            For ``X`` that ``to_tensor`` refuses.

        Warns
        -----
        PixelRangeWarning
            When ``X`` is on another pixel scale than the training data (see ``to_tensor``).
        """
        flip, shift = self._test_time_views()
        self._check_params(names=["batch_size", "precision"])
        # The precision as set now, like the test-time views: set_params(precision=...)
        # after fit, or on a loaded file, changes how the next prediction runs.
        self.net_.autocast_dtype = autocast_dtype(self.precision, self.net_.device)
        probas = []
        for batch in self._input_batches(X, self.batch_size):
            # All views of a batch in one call; rows are view-major.
            views = torch.cat(list(prediction_views(batch, flip, shift)))
            proba = self.net_.predict_proba(views).astype(np.float64)
            probas.append(proba.reshape(-1, len(batch), proba.shape[1]).mean(axis=0))
        proba = np.concatenate(probas)
        # The network's softmax is float32: rows sum to 1 only within ~1e-7, which
        # scikit-learn's log_loss warns about. Renormalised in float64 they sum to 1.
        return proba / proba.sum(axis=1, keepdims=True)

    def _test_time_views(self):
        """``(flip, shift)`` of the test-time views, checked as fit checks them.

        1-row inputs (non-square pixel counts) are neither mirrored nor shifted.
        The ONNX export builds its graph from the same values.
        """
        check_is_fitted(self)
        self._check_params(self.image_shape_, names=["test_time_flip", "test_time_shift"])
        if not self._is_image():
            return False, 0
        return bool(self.test_time_flip), int(self.test_time_shift)

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, 1, H, W)
            Faces as grey pixels on the training data's scale (0..255 for
            FER2013): rows of ``H * W`` pixels, or images.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


_COMMON_DOC = """
    lr : float, default={lr}
        Learning rate (the peak rate for ``lr_schedule="onecycle"``; the rate
        after epoch 10 for ``"study"``).
    max_epochs : int, default={max_epochs}
        Training epochs per ``fit`` call.
    batch_size : int, default=128
        Images per training step, and per prediction batch: ``predict_proba``
        standardises the images and builds their test-time views this many
        at a time. Passes without gradients (prediction, validation) feed
        the network 32 images at a time on a CPU, which is faster there
        (``benchmarks/bench_inference_batch.py``), and ``batch_size`` images
        on a GPU.
    optimizer : {{"adam", "adamw", "sgd"}} or torch optimizer class, default="adamw"
        ``"sgd"`` uses Nesterov momentum 0.9.
    weight_decay : float, default={weight_decay}
        The optimizer's ``weight_decay``: decoupled weight decay for
        ``"adamw"`` (Loshchilov and Hutter, 2019), an L2 penalty added to the
        gradient for ``"adam"`` and ``"sgd"``.
    augment : {{"none", "study", "flip", "flip_shift", "flip_shift_erase", "flip_affine"}} or None, default={augment!r}
        Training augmentation, by the callbacks of :mod:`fer_sklearn.callbacks`:
        ``"study"`` mirrors each whole epoch left-right or up-down with
        probability 0.5 (:class:`~fer_sklearn.callbacks.EpochMirror`),
        ``"flip"`` flips each image left-right with probability 0.5
        (:class:`~fer_sklearn.callbacks.RandomFlip`), ``"flip_shift"`` adds
        random whole-pixel shifts of up to 8% of the image side, 4 pixels on
        48x48 (:class:`~fer_sklearn.callbacks.RandomShift`),
        ``"flip_shift_erase"`` then blanks a random rectangle of 2-25% of the
        area in half the images (:class:`~fer_sklearn.callbacks.RandomErasing`),
        ``"flip_affine"``
        instead adds a random rotation of up to 10 degrees, zoom in [0.9, 1.1]
        and shift of up to 8% of the side
        (:class:`~fer_sklearn.callbacks.RandomAffine`). Applies to 2-D images
        only; 1-row inputs (non-square pixel counts) are never augmented.
    lr_schedule : {{"none", "study", "cosine", "onecycle", "plateau"}} or None, default={lr_schedule!r}
        ``"study"``: lr 0.01 for epochs 1-10, then ``lr``; ``"cosine"``:
        cosine decay over ``max_epochs``; ``"onecycle"``: warm-up to ``lr``
        over the first 20% of batches, then cosine decay (a constant ``lr``
        when training has fewer than 10 batches in all); ``"plateau"``:
        halve the rate after 2 epochs without improvement of the validation
        loss (the training loss without validation).
    label_smoothing : float, default=0.1
        Share of each target's probability spread evenly over all classes
        in the cross-entropy (Szegedy et al., 2016); 0 for none.
    mixup : float, default=0.0
        With ``mixup > 0``, train on mixed pairs of images and of their
        targets, one mixing weight per batch drawn from Beta(mixup, mixup):
        ``mixup`` is the alpha of mixup (Zhang et al., 2018;
        :class:`~fer_sklearn.callbacks.Mixup`), applied after the ``augment``
        callbacks and before those of ``callbacks``; 0 for none. Labels are
        mixed as one-hot distributions, ``target_proba`` rows as they are,
        and each sample keeps its weight in the loss. ``train_acc`` then
        scores each mixed image against the label of its larger part.
    test_time_flip : bool, default=True
        Average predictions over each image and its mirror (2-D images only).
    test_time_shift : int, default={test_time_shift}
        With ``s > 0``, also average over copies of each image shifted by
        ``s`` pixels up, down, left and right (2-D images only): 5 views, 10
        with ``test_time_flip``, so prediction costs 5 times as much. Must be
        smaller than the image side (checked in ``fit``, and in
        ``predict_proba`` when changed after fit).
    validation_fraction : float in (0, 1) or None, default=None
        Share of the training data held out (stratified) to report validation
        loss and accuracy in ``history_``. With ``early_stopping`` and None,
        0.1 is held out.
    early_stopping : bool, default=False
        Stop when the validation loss has not improved for
        ``n_iter_no_change`` epochs, and keep the best epoch's weights.
    n_iter_no_change : int, default=5
        Epochs without improvement before ``early_stopping`` stops.
    class_weight : "balanced", dict or None, default=None
        Weights of the classes in the loss.
    warm_start : bool, default=False
        If True and already fitted, ``fit`` continues training the fitted
        network for ``max_epochs`` more epochs with a fresh optimizer and
        schedule, keeping ``classes_`` and the input scaling; ``history_`` grows.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, the validation split and
        augmentation. The same value gives identical results on the same
        device, precision path and thread count (see the user guide's
        "Reproducibility").
    device : str, default="auto"
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    precision : {{"float32", "bfloat16", "auto"}}, default={precision!r}
        Precision of the forward passes in training and prediction.
        ``"bfloat16"`` runs convolutions and matrix products under
        :func:`torch.autocast` (weights and loss stay float32); ``"auto"``
        does so where the device has native bfloat16 (CPUs with AVX512-BF16
        or AMX, recent GPUs) and uses float32 elsewhere. The fitted
        ``module_`` is float32 either way; prediction uses the value set at
        the time, so ``set_params(precision="float32")`` after fit (or on a
        loaded model) predicts in float32.
    verbose : int, default=0
        1 prints skorch's per-epoch table; on a terminal a line under it
        shows the epochs done and the time left.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra callbacks, run after the built-in ones (copied at fit).
    checkpoint : str, path-like or None, default=None
        A folder in which ``fit`` keeps the whole state of its training after
        every epoch, in one file, ``checkpoint.pt``, written atomically (an
        interruption while it is written leaves the previous epoch's):
        weights, optimizer, learning-rate schedule, the augmentations' and
        torch's random streams, early stopping's counters and the history.
        When the folder already holds a checkpoint, ``fit`` resumes it: given
        the same data and parameters (``verbose`` and ``device`` may differ),
        it trains only the epochs left, and on the same device, precision and
        thread count ends with the weights of a fit that was never
        interrupted -- by Ctrl-C, a killed process or a restarted machine.
        With a checkpoint, Ctrl-C ends ``fit`` with the ``KeyboardInterrupt``
        and leaves the estimator as it was, rather than returning a partly
        trained model: the next ``fit`` is the same call, and resumes. A
        finished checkpoint gives back its model without training. A
        checkpoint of another fit is refused with a ``ValueError`` naming
        what differs, a damaged one with a ``ValueError`` too; nothing of
        either is used and the folder is left as it is. With
        ``random_state=None`` a resumed fit takes the seed its checkpoint
        drew. None keeps no checkpoint.
"""

_COMMON_ATTRIBUTES = """
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Pixels per image.
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.
    image_shape_ : tuple of int
        ``(H, W)``: the image side for square pixel counts (or the shape of 3-D
        input); ``(1, n_features)`` otherwise.
    pixel_mean_, pixel_std_ : float
        The input scaling learned in fit: ``to_tensor`` computes
        ``(X - pixel_mean_) / pixel_std_``, so 0..255 and 0..1 inputs both work.
    pixel_range_ : tuple of float
        ``(min, max)`` of the training pixels. ``to_tensor`` (and so
        ``predict_proba``) warns with
        :class:`~fer_sklearn.exceptions.PixelRangeWarning` when the largest
        absolute value of its input is more than 10 times smaller or larger
        than that of this range, such as 0..1 images given to a model fitted
        on 0..255 pixels.
    n_params_ : int
        Trainable parameters of the network.
    history_ : pandas.DataFrame
        One row per completed epoch: ``epoch``, ``train_loss``, ``train_acc``,
        ``valid_loss`` and ``valid_acc`` (with validation), ``lr`` (at the
        start of the epoch) and ``dur`` (seconds). With ``warm_start`` it
        grows with each ``fit``.
    n_iter_ : int
        Epochs completed by the last ``fit`` call: ``max_epochs``, or fewer
        after an early stop or an interruption. A fit resumed from a
        ``checkpoint`` counts the epochs its checkpoint kept too. Unlike
        :class:`~sklearn.neural_network.MLPClassifier`'s, it does not add up
        over warm starts; ``len(history_)`` does.
    interrupted_ : bool
        Whether the last ``fit`` was interrupted by a ``KeyboardInterrupt``
        (Ctrl-C), which skorch catches: ``fit`` then returns the partly
        trained model after a
        :class:`~fer_sklearn.exceptions.FitInterruptedWarning`. False after
        an early stop.
    net_ : skorch.NeuralNetClassifier
        The skorch net that trained the module.
    module_ : torch.nn.Module
        The fitted network (in eval mode); input ``to_tensor(X)``, output logits.
"""


class FERCNNClassifier(_BaseFERClassifier):
    """VGG-style convolutional network for facial expressions, trained with skorch.

    Blocks of (3x3 conv, batch norm, ReLU) x ``convs_per_block`` followed by
    2x2 max pooling; the width doubles each block from ``n_filters``. Global
    average pooling, dropout and a linear layer make the head. The defaults
    (1.17M parameters on 48x48 faces) are a recipe chosen for FER2013 on a
    CPU; see the benchmarks page of the documentation for what it reaches.

    Parameters
    ----------
    n_filters : int, default=32
        Filters of the first block.
    n_blocks : int, default=4
        Number of conv blocks, each followed by pooling.
    convs_per_block : int, default=2
        3x3 convolutions in each block, each followed by batch norm and ReLU.
    dropout : float, default=0.3
        Dropout before the linear head.
    n_members : int, default=1
        Networks in the model, an ensemble of seeds in one module: each
        member starts from its own initial weights and is trained on its own
        loss, on the same batches; ``predict_proba`` averages their
        probabilities (soft voting, as
        :class:`~sklearn.ensemble.VotingClassifier` does). Training and
        prediction cost ``n_members`` times as much. :func:`average_ensemble`
        makes one from separately fitted classifiers.
    {common}

    Attributes
    ----------
    {attributes}

    See Also
    --------
    FERDNNClassifier : the parameter-matched multilayer perceptron.
    average_ensemble : one classifier from several fitted ones.

    Examples
    --------
    >>> from fer_sklearn import FERCNNClassifier
    >>> from fer_sklearn.datasets import make_faces
    >>> X, y = make_faces(300, random_state=0, return_X_y=True)
    >>> clf = FERCNNClassifier(n_filters=8, n_blocks=2, max_epochs=2, random_state=0)
    >>> clf.fit(X, y).predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        **_BaseFERClassifier._parameter_constraints,
        "n_filters": [_POSITIVE_INT],
        "n_blocks": [_POSITIVE_INT],
        "convs_per_block": [_POSITIVE_INT],
        "n_members": [_POSITIVE_INT],
    }

    def __init__(self, *, n_filters=32, n_blocks=4, convs_per_block=2, dropout=0.3,
                 n_members=1, lr=3e-3, max_epochs=60, batch_size=128, optimizer="adamw",
                 weight_decay=0.05, augment="flip_shift_erase", lr_schedule="onecycle",
                 label_smoothing=0.1, mixup=0.0, test_time_flip=True, test_time_shift=1,
                 validation_fraction=None, early_stopping=False, n_iter_no_change=5,
                 class_weight=None, warm_start=False, random_state=None, device="auto",
                 precision="auto", verbose=0, callbacks=None, checkpoint=None):
        self.n_filters = n_filters
        self.n_blocks = n_blocks
        self.convs_per_block = convs_per_block
        self.dropout = dropout
        self.n_members = n_members
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.augment = augment
        self.lr_schedule = lr_schedule
        self.label_smoothing = label_smoothing
        self.mixup = mixup
        self.test_time_flip = test_time_flip
        self.test_time_shift = test_time_shift
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.verbose = verbose
        self.callbacks = callbacks
        self.checkpoint = checkpoint

    def _build_module(self, n_classes):
        return self._cnn(self.image_shape_, n_classes)

    def _module_for(self, n_features, n_classes):
        return self._cnn(_image_shape_for(n_features), n_classes)

    def _cnn(self, image_shape, n_classes):
        members = [FERCNN(n_classes, image_shape, n_filters=self.n_filters,
                          n_blocks=self.n_blocks, convs_per_block=self.convs_per_block,
                          dropout=self.dropout)
                   for _ in range(self.n_members)]
        # One network stays a bare FERCNN: its layer names and files are unchanged.
        return members[0] if len(members) == 1 else MemberAverage(members)


class FERDNNClassifier(_BaseFERClassifier):
    """Multilayer perceptron on the flattened face, with the CNN's training interface.

    Hidden layers are (linear, batch norm, ReLU, dropout). With
    ``match_params`` the hidden widths are chosen (all equal, as many layers as
    ``hidden_layer_sizes`` has) so that the parameter count is within 2% of a
    target, for a like-for-like comparison with a CNN.

    Its defaults differ from the CNN's in two places, chosen on a validation
    split of the FER2013 Training rows (see the benchmarks page): flips
    without shifts (an MLP has no translation invariance to learn from them)
    and ``lr=3e-3``.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(420, 420)
        Widths of the hidden layers, each >= 1; an int is one layer.
    dropout : float, default=0.3
        Dropout after each hidden layer.
    match_params : estimator, int or None, default=None
        Target parameter count: an int, a fitted estimator (its ``n_params_``)
        or an unfitted one that has ``count_params`` (evaluated for the data
        passed to ``fit``).
    {common}

    Attributes
    ----------
    {attributes}
    hidden_layer_sizes_ : tuple of int
        The widths used (differ from ``hidden_layer_sizes`` with ``match_params``).

    See Also
    --------
    FERCNNClassifier : the convolutional network.

    Examples
    --------
    >>> from fer_sklearn import FERDNNClassifier
    >>> from fer_sklearn.datasets import make_faces
    >>> X, y = make_faces(300, random_state=0, return_X_y=True)
    >>> dnn = FERDNNClassifier(match_params=100_000, max_epochs=2, random_state=0).fit(X, y)
    >>> abs(dnn.n_params_ - 100_000) / 100_000 < 0.02
    True
    """

    _parameter_constraints = {
        **_BaseFERClassifier._parameter_constraints,
        "hidden_layer_sizes": [_LayerSizes()],
        "match_params": [_POSITIVE_INT, HasMethods(["count_params"]), None],
    }

    def __init__(self, *, hidden_layer_sizes=(420, 420), dropout=0.3, match_params=None,
                 lr=3e-3, max_epochs=40, batch_size=128, optimizer="adamw",
                 weight_decay=0.05, augment="flip", lr_schedule="onecycle",
                 label_smoothing=0.1, mixup=0.0, test_time_flip=True, test_time_shift=0,
                 validation_fraction=None, early_stopping=False, n_iter_no_change=5,
                 class_weight=None, warm_start=False, random_state=None, device="auto",
                 precision="float32", verbose=0, callbacks=None, checkpoint=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.match_params = match_params
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.augment = augment
        self.lr_schedule = lr_schedule
        self.label_smoothing = label_smoothing
        self.mixup = mixup
        self.test_time_flip = test_time_flip
        self.test_time_shift = test_time_shift
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.verbose = verbose
        self.callbacks = callbacks
        self.checkpoint = checkpoint

    def _target_params(self, n_classes):
        target = self.match_params
        if target is None or isinstance(target, numbers.Integral):
            return target
        if hasattr(target, "n_params_"):
            return target.n_params_
        return target.count_params(self.n_features_in_, n_classes)

    def _layer_sizes(self):
        # An int is one hidden layer, as in MLPClassifier.
        return tuple(int(width) for width in np.atleast_1d(self.hidden_layer_sizes))

    def _build_module(self, n_classes):
        sizes = self._layer_sizes()
        target = self._target_params(n_classes)
        if target is not None:
            width = match_hidden_width(target, self.n_features_in_, n_classes, len(sizes))
            sizes = (width,) * len(sizes)
        self.hidden_layer_sizes_ = sizes
        return FERMLP(n_classes, self.n_features_in_, sizes, dropout=self.dropout)

    def _module_for(self, n_features, n_classes):
        return FERMLP(n_classes, n_features, self._layer_sizes())


def _fill_docstring(cls):
    """Put the shared parameter and attribute docs, with cls's defaults, into its docstring."""
    defaults = {name: p.default for name, p in inspect.signature(cls).parameters.items()}
    cls.__doc__ = cls.__doc__.format(
        common=_COMMON_DOC.format(**defaults).strip(),
        attributes=_COMMON_ATTRIBUTES.strip(),
    )


_fill_docstring(FERCNNClassifier)
_fill_docstring(FERDNNClassifier)
