"""Safe persistence of fitted estimators with skops.

A pickle (or joblib) file runs whatever code it names when loaded, so it can
only be opened from trusted sources. :func:`save` writes a skops file instead,
and :func:`load` refuses any type that neither fer_sklearn nor the caller
trusts *before* anything in the file is instantiated.

Torch modules and skorch nets are not skops-serialisable (they pickle), so the
file holds a plain dictionary: the estimator's class name and parameters, its
fitted attributes, the training history as columns, and the module's
``state_dict`` as numpy arrays. :func:`load` rebuilds the module from the
parameters and copies the weights in; nothing is unpickled.
"""

import os
import zipfile

import numpy as np
import pandas as pd
import skops.io as sio
import torch
from sklearn.utils.validation import check_is_fitted

from . import __version__
from . import callbacks as _callbacks
from ._estimators import _OPTIMIZERS, FERCNNClassifier, FERDNNClassifier, resolve_device
from ._output import atomic_open
from ._precision import AutocastNeuralNetClassifier, autocast_dtype

_FORMAT = "fer_sklearn.estimator"
_ESTIMATORS = {cls.__name__: cls for cls in (FERCNNClassifier, FERDNNClassifier)}


def _type_name(cls):
    # The spelling skops uses in get_untrusted_types and ``trusted``.
    return f"{cls.__module__}.{cls.__name__}"


# Types a parameter may legitimately hold: fer_sklearn's own classes (an
# unfitted estimator as ``match_params``, its callbacks) and the optimizer
# classes the ``optimizer`` strings stand for. None of them runs code from
# the file when skops restores it.
_DEFAULT_TRUSTED = sorted({
    *(_type_name(cls) for cls in _ESTIMATORS.values()),
    *(_type_name(cls) for cls in vars(_callbacks).values()
      if isinstance(cls, type) and cls.__module__ == _callbacks.__name__),
    *(_type_name(cls) for cls in _OPTIMIZERS.values()),
})


def _check_estimator(estimator, caller):
    if not isinstance(estimator, tuple(_ESTIMATORS.values())):
        raise TypeError(
            f"{caller} expects a FERCNNClassifier or FERDNNClassifier; "
            f"got {type(estimator).__name__}"
        )
    check_is_fitted(estimator)


def _payload(estimator):

    params = estimator.get_params(deep=False)
    for name, value in params.items():
        # A fitted estimator would drag its skorch net (a pickle) into the file.
        if isinstance(value, tuple(_ESTIMATORS.values())) and hasattr(value, "net_"):
            raise TypeError(
                f"parameter {name!r} holds a fitted {type(value).__name__}, which cannot be "
                f"saved safely; set it to an int (e.g. {name}={value.n_params_}) or an "
                "unfitted estimator before saving"
            )
    attributes = {
        name: value for name, value in vars(estimator).items()
        if name.endswith("_") and not name.startswith("_") and name not in ("net_", "history_")
    }
    history = estimator.history_
    return {
        "format": _FORMAT,
        "fer_sklearn_version": __version__,
        "estimator": type(estimator).__name__,
        "params": params,
        "attributes": attributes,
        "history_columns": list(history.columns),
        "history": {column: history[column].to_numpy() for column in history.columns},
        "state_dict": {
            name: tensor.detach().cpu().numpy()
            for name, tensor in estimator.module_.state_dict().items()
        },
    }


def save(estimator, path):
    """Save a fitted estimator to a skops file that :func:`load` opens safely.

    The file holds the parameters, the fitted attributes, ``history_`` and
    the network weights (as numpy arrays); no pickled object. It is written
    to a temporary file first and moved into place, so an interrupted save
    never leaves a truncated file at ``path``.

    Parameters
    ----------
    estimator : FERCNNClassifier or FERDNNClassifier
        A fitted estimator.
    path : str or path-like
        Destination, conventionally ending in ``.skops``; replaced if it exists.

    Returns
    -------
    None

    Raises
    ------
    TypeError
        If ``estimator`` is not a fer_sklearn classifier, or a parameter holds
        a fitted estimator.
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.

    See Also
    --------
    load : read the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> from fer_sklearn import FERCNNClassifier, save, load
    >>> from fer_sklearn.datasets import make_faces
    >>> X, y = make_faces(100, random_state=0, return_X_y=True)
    >>> clf = FERCNNClassifier(n_filters=4, n_blocks=2, max_epochs=1).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skops")
    >>> save(clf, path)
    >>> bool((load(path).predict_proba(X) == clf.predict_proba(X)).all())
    True
    """
    _check_estimator(estimator, "save")
    payload = _payload(estimator)
    with atomic_open(path) as file:
        sio.dump(payload, file)


def _check_trusted(trusted):
    if trusted is None:
        return []
    if isinstance(trusted, (str, bytes)) or not all(
        isinstance(t, (str, type)) for t in trusted
    ):
        raise TypeError(
            "trusted must be None or a list of type names (or types), such as "
            f"['skorch.callbacks.training.EarlyStopping']; got {trusted!r}"
        )
    return [t if isinstance(t, str) else _type_name(t) for t in trusted]


def _read_payload(path, trusted):
    # Check and load the same bytes: the file could change between two reads.
    with open(path, "rb") as file:
        data = file.read()
    not_ours = ValueError(f"{path!r} is not a file written by fer_sklearn.save")
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise not_ours from exc
    refused = sorted(set(untrusted) - set(_DEFAULT_TRUSTED) - set(trusted))
    if refused:
        raise TypeError(
            f"{path!r} holds types that are not trusted: {refused}. Loading them could run "
            "code from the file. If you trust its source, pass them as "
            f"load(path, trusted={refused!r})"
        )
    payload = sio.loads(data, trusted=untrusted)
    if (not isinstance(payload, dict) or payload.get("format") != _FORMAT
            or payload.get("estimator") not in _ESTIMATORS):
        raise not_ours
    return payload


def load(path, *, trusted=None):
    """Load an estimator written by :func:`save`, without running code from the file.

    Every type in the file is checked against skops' defaults (numpy arrays,
    builtins ...), fer_sklearn's own classes (the estimators, :mod:`fer_sklearn.callbacks`
    and the optimizer classes behind ``optimizer="adam"|"adamw"|"sgd"``) and
    ``trusted`` before anything is built; the network weights are plain arrays.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    trusted : list of str or type, default=None
        Further types to accept, as ``"module.ClassName"`` strings (the
        spelling :func:`skops.io.get_untrusted_types` returns) or the types
        themselves; needed only when parameters such as ``callbacks`` or
        ``optimizer`` hold other objects. Inspect a file from elsewhere with
        ``skops.io.get_untrusted_types(file=path)`` before trusting anything.

    Returns
    -------
    estimator : FERCNNClassifier or FERDNNClassifier
        Fitted, with ``predict_proba`` identical to the saved estimator's on the
        same device. ``net_`` is a fresh skorch net around the restored module,
        so ``net_.history`` is empty (the history is in ``history_``);
        ``device="auto"`` resolves on this machine.

    Raises
    ------
    TypeError
        If the file holds types that are not trusted (the message lists them),
        or ``trusted`` is not a list of type names.
    ValueError
        If the file was not written by :func:`save`, or by another
        fer_sklearn version.

    See Also
    --------
    save : write the file.

    Examples
    --------
    >>> from fer_sklearn import load
    >>> clf = load("model.skops")  # doctest: +SKIP
    >>> clf = load("model.skops",
    ...            trusted=["skorch.callbacks.training.EarlyStopping"])  # doctest: +SKIP
    """

    path = os.fspath(path)
    payload = _read_payload(path, _check_trusted(trusted))
    version = payload.get("fer_sklearn_version")
    if version != __version__:
        raise ValueError(
            f"{path!r} was saved by fer_sklearn {version}, but this is fer_sklearn "
            f"{__version__}; install fer_sklearn=={version} to use it, or retrain and "
            "save with this version"
        )
    # Files written before ``precision`` existed were trained, and predict, in float32.
    estimator = _ESTIMATORS[payload["estimator"]](**{"precision": "float32",
                                                     **payload["params"]})
    for name, value in payload["attributes"].items():
        setattr(estimator, name, value)
    estimator.history_ = pd.DataFrame(payload["history"], columns=payload["history_columns"])
    n_classes = len(estimator.classes_)
    # Building the module draws initial weights: keep the caller's torch RNG as it was.
    with torch.random.fork_rng(devices=[]):
        module = estimator._build_module(n_classes)
    try:
        module.load_state_dict({
            name: torch.from_numpy(np.asarray(array))
            for name, array in payload["state_dict"].items()
        })
    except RuntimeError as exc:
        raise ValueError(
            f"{path!r}: the saved weights do not fit the network its parameters describe: {exc}"
        ) from None
    # A net for prediction, as fit leaves one; a warm-start fit builds its own.
    device = resolve_device(estimator.device)
    estimator.net_ = AutocastNeuralNetClassifier(
        module=module.eval(),
        autocast_dtype=autocast_dtype(estimator.precision, device),
        criterion=torch.nn.CrossEntropyLoss,
        classes=np.arange(n_classes),
        batch_size=estimator.batch_size,
        device=device,
    ).initialize()
    return estimator
