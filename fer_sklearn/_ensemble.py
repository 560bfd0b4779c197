"""Ensembles of separately fitted classifiers, as one classifier."""

import copy

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from ._estimators import FERCNNClassifier, resolve_device
from ._modules import MemberAverage, count_parameters

# What every member must share with the first: the labels, the input and its
# scaling (the ensemble standardises its input once, for all members).
_SHARED = ("classes_", "n_features_in_", "image_shape_")
_SCALING = ("pixel_mean_", "pixel_std_")
# The fitted attributes the ensemble takes from the first estimator.
_FROM_FIRST = ("classes_", "n_features_in_", "feature_names_in_", "image_shape_",
               "pixel_mean_", "pixel_std_", "pixel_range_", "history_", "n_iter_",
               "interrupted_")


def _members(estimator):
    module = estimator.module_
    return list(module.members) if isinstance(module, MemberAverage) else [module]


def average_ensemble(estimators):
    """One classifier that averages the probabilities of several fitted ones.

    Soft voting, as :class:`~sklearn.ensemble.VotingClassifier` with
    ``voting="soft"`` does, but in one network (a
    :class:`FERCNNClassifier` with ``n_members`` > 1): it saves with
    :func:`save`, exports with :func:`export_onnx` and is explained by
    :mod:`fer_sklearn.interpret` as one model. Typical members are the same
    recipe fitted with different ``random_state``, or on different targets
    (labels, ``target_proba``) of the same faces.

    Parameters
    ----------
    estimators : list of FERCNNClassifier
        Fitted on the same classes, image shape and training images (equal
        ``pixel_mean_`` and ``pixel_std_``: the ensemble standardises its
        input once), with the same network shape (``n_filters``,
        ``n_blocks``, ``convs_per_block``). An estimator that is itself an
        ensemble contributes all its members.

    Returns
    -------
    ensemble : FERCNNClassifier
        Fitted. Its parameters are the first estimator's with ``n_members``
        the number of networks in all; its network holds copies of theirs,
        so its ``predict_proba`` is the mean of the estimators'
        ``predict_proba`` when they use the same test-time views (the
        ensemble uses the first's ``test_time_flip`` and
        ``test_time_shift``). ``history_`` and ``n_iter_`` are the first's.

    Raises
    ------
    TypeError
        If an estimator is not a :class:`FERCNNClassifier`.
    ValueError
        If ``estimators`` is empty, or they differ in classes, image shape,
        input scaling or network shape (the message names the estimator
        and what differs).
    sklearn.exceptions.NotFittedError
        If an estimator is not fitted.

    Examples
    --------
    >>> import numpy as np
    >>> from fer_sklearn import FERCNNClassifier, average_ensemble
    >>> from fer_sklearn.datasets import make_faces
    >>> X, y = make_faces(200, random_state=0, return_X_y=True)
    >>> fitted = [FERCNNClassifier(n_filters=4, n_blocks=2, max_epochs=2, random_state=seed)
    ...           .fit(X, y) for seed in (0, 1)]
    >>> ensemble = average_ensemble(fitted)
    >>> ensemble.n_members
    2
    >>> bool(np.allclose(ensemble.predict_proba(X),
    ...                  (fitted[0].predict_proba(X) + fitted[1].predict_proba(X)) / 2, atol=1e-5))
    True
    """
    estimators = list(estimators)
    if not estimators:
        raise ValueError("average_ensemble needs at least one fitted FERCNNClassifier")
    for index, estimator in enumerate(estimators):
        if not isinstance(estimator, FERCNNClassifier):
            raise TypeError(f"estimators[{index}] is a {type(estimator).__name__}; "
                            "average_ensemble takes FERCNNClassifier estimators")
        check_is_fitted(estimator)
    first = estimators[0]
    for index, estimator in enumerate(estimators[1:], start=1):
        for name in _SHARED:
            if not np.array_equal(getattr(estimator, name), getattr(first, name)):
                raise ValueError(f"estimators[{index}].{name} is {getattr(estimator, name)!r}, "
                                 f"estimators[0].{name} is {getattr(first, name)!r}")
        for name in _SCALING:
            if not np.isclose(getattr(estimator, name), getattr(first, name), rtol=1e-6):
                raise ValueError(
                    f"estimators[{index}].{name} is {getattr(estimator, name)!r}, "
                    f"estimators[0].{name} is {getattr(first, name)!r}: an ensemble "
                    "standardises its input once, so its members must be fitted on the "
                    "same images")
    return _assemble(first, [member for estimator in estimators
                             for member in _members(estimator)])


def _split_members(ensemble):
    """The networks of a fitted :class:`FERCNNClassifier`, each as a fitted estimator.

    The inverse of :func:`average_ensemble`: each estimator has the
    ensemble's parameters with ``n_members=1`` and its fitted input scaling,
    so ``average_ensemble(_split_members(ensemble))`` predicts as ``ensemble`` does.
    Used to train the members of an ensemble on different targets.
    """
    check_is_fitted(ensemble)
    return [_assemble(ensemble, [member]) for member in _members(ensemble)]


def _assemble(first, networks):
    """A fitted estimator: ``first``'s parameters and fitted input, copies of ``networks``."""
    ensemble = clone(first).set_params(n_members=len(networks))
    for name in _FROM_FIRST:
        if hasattr(first, name):
            setattr(ensemble, name, copy.deepcopy(getattr(first, name)))
    # Building the module draws initial weights: keep the caller's torch RNG as it was.
    with torch.random.fork_rng(devices=[]):
        module = ensemble._build_module(len(ensemble.classes_))
    targets = module.members if isinstance(module, MemberAverage) else [module]
    for index, (target, source) in enumerate(zip(targets, networks)):
        try:
            target.load_state_dict(source.state_dict())
        except RuntimeError as exc:
            raise ValueError(f"network {index} of the estimators does not have the first "
                             f"estimator's shape (n_filters, n_blocks, convs_per_block): "
                             f"{exc}") from exc
    ensemble._set_prediction_net(module, resolve_device(ensemble.device))
    ensemble.n_params_ = count_parameters(module)
    return ensemble
