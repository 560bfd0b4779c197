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

:func:`load` treats the file as untrusted input: every step that interprets
its contents runs under one guard (:func:`_malformed`) that turns whatever a
damaged or hand-made file provokes -- a zip or zlib error, a RecursionError
from deep nesting, a missing key, a wrong type -- into one ValueError naming
the file. Only two refusals keep their own type and message: untrusted types
(a TypeError: loading them could run code) and another fer_sklearn version.
"""

import contextlib
import numbers
import os
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted
from skorch.exceptions import DeviceWarning

from . import __version__
from . import callbacks as _callbacks
from ._estimators import _OPTIMIZERS, FERCNNClassifier, FERDNNClassifier, resolve_device
from ._output import atomic_open

_FORMAT = "fer_sklearn.estimator"
_ESTIMATORS = {cls.__name__: cls for cls in (FERCNNClassifier, FERDNNClassifier)}
_PAYLOAD_KEYS = {"format", "fer_sklearn_version", "estimator", "params", "attributes",
                 "history_columns", "history", "state_dict"}
_WEIGHT_DTYPES = ("float32", "float16")

# The fitted attributes save writes and load sets, with the type each must
# have. A file names attributes as strings: without this list it could set
# "__class__", "__dict__" or a method's name on the estimator. history_ and
# net_ are not here: the history is stored as columns and the net is rebuilt.
# test_persistence checks that freshly fitted estimators have no others.
_COMMON_ATTRIBUTE_TYPES = {
    "classes_": np.ndarray,
    "n_features_in_": numbers.Integral,
    "feature_names_in_": np.ndarray,
    "image_shape_": tuple,
    "pixel_mean_": numbers.Real,
    "pixel_std_": numbers.Real,
    "n_params_": numbers.Integral,
    "pixel_range_": tuple,
    "n_iter_": numbers.Integral,
    "interrupted_": bool,
}
# feature_names_in_ is set only by a fit on a DataFrame with string column
# names; the last three did not exist in files saved by earlier builds of
# this version, which still load (without the pixel-range warning).
_OPTIONAL_ATTRIBUTES = {"feature_names_in_", "pixel_range_", "n_iter_", "interrupted_"}


def _skops():
    """skops.io, imported on first use.

    Importing it lists every scikit-learn estimator to build its trusted
    types, about 3 s on a 2-core machine: ``import fer_sklearn`` (the command
    line's start, each joblib or dask worker) pays that only to save or load.
    """
    import skops.io

    return skops.io


def _attribute_types(cls):
    """The fitted attributes of ``cls`` that :func:`save` writes, with their types."""
    if issubclass(cls, FERDNNClassifier):
        return {**_COMMON_ATTRIBUTE_TYPES, "hidden_layer_sizes_": tuple}
    return _COMMON_ATTRIBUTE_TYPES


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


def _payload(estimator, metadata, state_dict, weights_dtypes):
    params = estimator.get_params(deep=False)
    for name, value in params.items():
        # A fitted estimator would drag its skorch net (a pickle) into the file.
        if isinstance(value, tuple(_ESTIMATORS.values())) and hasattr(value, "net_"):
            raise TypeError(
                f"parameter {name!r} holds a fitted {type(value).__name__}, which cannot be "
                f"saved safely; set it to an int (e.g. {name}={value.n_params_}) or an "
                "unfitted estimator before saving"
            )
    # Attributes set by hand are not the estimator's state and are not saved.
    attributes = {name: getattr(estimator, name) for name in _attribute_types(type(estimator))
                  if hasattr(estimator, name)}
    history = estimator.history_
    payload = {
        "format": _FORMAT,
        "fer_sklearn_version": __version__,
        "estimator": type(estimator).__name__,
        "params": params,
        "attributes": attributes,
        "history_columns": list(history.columns),
        "history": {column: history[column].to_numpy() for column in history.columns},
        "state_dict": {
            name: _stored(tensor.detach().cpu().numpy(), weights_dtypes[name])
            for name, tensor in state_dict.items()
        },
    }
    if metadata is not None:
        payload["metadata"] = metadata
    return payload


def _stored(array, weights_dtype):
    """``array`` as written: floating-point weights in ``weights_dtype``, counters as they are."""
    return array.astype(weights_dtype) if array.dtype.kind == "f" else array


def save(estimator, path, *, metadata=None, weights_dtype="float32"):
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
    metadata : dict, default=None
        Provenance to store beside the model (how it was trained, on what,
        what it scored), made of str, int, float, bool, None, lists and dicts
        with str keys; :func:`read_metadata` returns it.
    weights_dtype : {"float32", "float16"} or dict, default="float32"
        Storage type of the floating-point weights. ``"float16"`` halves the
        file; :func:`load` restores float32 weights, rounded to float16's 11
        significant bits, so check ``predict_proba`` before shipping it. A
        dict maps names of ``estimator.module_.state_dict()`` to
        ``"float16"`` or ``"float32"``, the tensors it does not name stored
        as float32: for instance float16 for the large convolution kernels
        only, whose rounding errors average out over many inputs, and float32
        for the batch-norm parameters and statistics, a few values that each
        shift a whole channel.

    Returns
    -------
    None

    Raises
    ------
    TypeError
        If ``estimator`` is not a fer_sklearn classifier, a parameter holds
        a fitted estimator, or ``metadata`` holds other types.
    ValueError
        For an unknown ``weights_dtype``, or a dict naming a tensor that the
        estimator's module lacks.
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
    state_dict = estimator.module_.state_dict()
    weights_dtypes = _weights_dtypes(weights_dtype, state_dict)
    if metadata is not None:
        _check_metadata(metadata)
    payload = _payload(estimator, metadata, state_dict, weights_dtypes)
    with atomic_open(path) as file:
        _skops().dump(payload, file)


def _weights_dtypes(weights_dtype, state_dict):
    """Storage dtype of each tensor of ``state_dict``, as ``save``'s ``weights_dtype`` says."""
    dtypes = weights_dtype.values() if isinstance(weights_dtype, dict) else [weights_dtype]
    bad = [dtype for dtype in dtypes if not isinstance(dtype, str) or dtype not in _WEIGHT_DTYPES]
    if bad or not isinstance(weights_dtype, (str, dict)):
        raise ValueError(f"weights_dtype must be one of {list(_WEIGHT_DTYPES)} or a dict of "
                         f"tensor names to them; got {weights_dtype!r}")
    if isinstance(weights_dtype, str):
        return dict.fromkeys(state_dict, weights_dtype)
    unknown = [name for name in weights_dtype if name not in state_dict]
    if unknown:
        raise ValueError(f"weights_dtype names tensors the module lacks: {unknown}; its "
                         f"tensors are {list(state_dict)}")
    return {name: weights_dtype.get(name, "float32") for name in state_dict}


def _check_metadata(value, where="metadata"):
    """Refuse metadata that skops would store as objects of other types than plain data."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} keys must be str; got {key!r}")
            _check_metadata(item, f"{where}[{key!r}]")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_metadata(item, f"{where}[{i}]")
    elif not (value is None or isinstance(value, (str, bool, int, float))):
        raise TypeError(f"{where} must be made of str, int, float, bool, None, lists and "
                        f"dicts; got a {type(value).__name__}")


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


@contextlib.contextmanager
def _malformed(path):
    """Turn any error raised while interpreting the file into one ValueError naming it.

    The one place that converts: a damaged or hand-made file can provoke
    errors from zipfile, zlib, json (RecursionError on deep nesting), skops,
    numpy, pandas, torch or the estimator, and none of them names the file.
    The original error is chained as ``__cause__`` for debugging.
    """
    try:
        yield
    except Exception as exc:
        kind = type(exc).__qualname__
        if type(exc).__module__ != "builtins":  # "zlib.error" says more than "error"
            kind = f"{type(exc).__module__}.{kind}"
        raise ValueError(
            f"{path!r} is not a file written by fer_sklearn.save, or is damaged ({kind}: {exc})"
        ) from exc


def _refuse_untrusted(path, untrusted, trusted):
    refused = sorted(set(untrusted) - set(_DEFAULT_TRUSTED) - set(trusted))
    if refused:
        raise TypeError(
            f"{path!r} holds types that are not trusted: {refused}. Loading them could run "
            "code from the file. If you trust its source, pass them as "
            f"load(path, trusted={refused!r})"
        )


def _parse(sio, data, untrusted):
    payload = sio.loads(data, trusted=untrusted)
    if (not isinstance(payload, dict) or payload.get("format") != _FORMAT
            or payload.get("estimator") not in _ESTIMATORS):
        raise ValueError("it holds no fer_sklearn estimator")
    return payload


def _refuse_other_version(path, payload):
    version = payload.get("fer_sklearn_version")
    if version != __version__:
        raise ValueError(
            f"{path!r} was saved by fer_sklearn {version}, but this is fer_sklearn "
            f"{__version__}; install fer_sklearn=={version} to use it, or retrain and "
            "save with this version"
        )


def _check_dict(what, mapping, allowed=None, required=()):
    """Refuse a ``mapping`` that is no dict, has keys not in ``allowed`` or lacks ``required``."""
    if not isinstance(mapping, dict):
        raise ValueError(f"{what} is a {type(mapping).__name__}, not a dict")
    unknown = set() if allowed is None else set(mapping) - set(allowed)
    if unknown:
        raise ValueError(f"{what} has unknown names: {', '.join(sorted(map(repr, unknown)))}")
    missing = set(required) - set(mapping)
    if missing:
        raise ValueError(f"{what} lacks {', '.join(sorted(map(repr, missing)))}")


def _checked_attributes(cls, attributes):
    types = _attribute_types(cls)
    _check_dict("attributes", attributes, types, set(types) - _OPTIONAL_ATTRIBUTES)
    for name, value in attributes.items():
        if not isinstance(value, types[name]):
            raise ValueError(f"attribute {name} is a {type(value).__name__}, "
                             f"not a {types[name].__name__}")
    # What prediction relies on beyond the types.
    classes, shape = attributes["classes_"], attributes["image_shape_"]
    if classes.ndim != 1 or len(classes) < 2:
        raise ValueError(f"classes_ has shape {classes.shape}; expected 2 or more labels")
    if (len(shape) != 2 or not all(isinstance(side, numbers.Integral) and side > 0
                                   for side in shape)
            or shape[0] * shape[1] != attributes["n_features_in_"]):
        raise ValueError(f"image_shape_ {shape!r} does not hold "
                         f"n_features_in_={attributes['n_features_in_']} pixels")
    if not (np.isfinite([attributes["pixel_mean_"], attributes["pixel_std_"]]).all()
            and attributes["pixel_std_"] > 0):
        raise ValueError("pixel_mean_ must be finite and pixel_std_ positive")
    low_high = attributes.get("pixel_range_", (0.0, 1.0))
    if not (len(low_high) == 2 and all(isinstance(v, numbers.Real) for v in low_high)
            and np.isfinite(low_high).all() and low_high[0] <= low_high[1]):
        raise ValueError(f"pixel_range_ {low_high!r} is not a (low, high) pair of numbers")
    return attributes


def _checked_history(columns, history):
    if not isinstance(columns, list):
        raise ValueError(f"history_columns is a {type(columns).__name__}, not a list")
    _check_dict("history", history, columns, columns)
    if not all(isinstance(column, np.ndarray) and column.ndim == 1
               for column in history.values()):
        raise ValueError("history columns must be 1-D arrays")
    return pd.DataFrame(history, columns=columns)


def _checked_state_dict(state_dict):
    _check_dict("state_dict", state_dict)
    if not all(isinstance(array, np.ndarray) for array in state_dict.values()):
        raise ValueError("state_dict must hold numpy arrays")
    return {name: torch.from_numpy(array) for name, array in state_dict.items()}


def _rebuild(payload):
    """The estimator and its module from a payload of this version; no net yet."""
    _check_dict("the file", payload, _PAYLOAD_KEYS | {"metadata"}, _PAYLOAD_KEYS)
    cls = _ESTIMATORS[payload["estimator"]]
    params = payload["params"]
    _check_dict("params", params, cls._get_param_names())
    # A parameter missing from the file takes its default, except precision:
    # files written before it existed were trained, and predict, in float32.
    estimator = cls(**{"precision": "float32", **params})
    for name, value in _checked_attributes(cls, payload["attributes"]).items():
        setattr(estimator, name, value)
    # The checks fit makes, for the image shape fitted: a file cannot smuggle
    # in a configuration that fit would refuse.
    estimator._check_params(tuple(estimator.image_shape_))
    estimator.history_ = _checked_history(payload["history_columns"], payload["history"])
    # Building the module draws initial weights: keep the caller's torch RNG as it was.
    with torch.random.fork_rng(devices=[]):
        module = estimator._build_module(len(estimator.classes_))
    module.load_state_dict(_checked_state_dict(payload["state_dict"]))
    return estimator, module.eval()


def _usable_device(device):
    """:func:`resolve_device`, also refusing a CUDA index this machine does not have."""
    if not isinstance(device, str):  # a torch.device would not pass the next fit's checks
        raise ValueError(f"device must be a string such as 'auto', 'cpu' or 'cuda'; "
                         f"got {device!r}")
    resolved = resolve_device(device)
    target = torch.device(resolved)
    if target.type == "cuda" and (target.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"device={device!r} but this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s)")
    return resolved


def _device_here(path, stored):
    """The device to load a model saved with ``device=stored`` on, and the parameter value.

    Where ``stored`` cannot be used here (a model trained on a GPU, opened on
    a machine without one), the estimator gets ``device="auto"``: the one
    value that is true here (it resolves to what is used) and keeps the
    stored intent, a GPU where there is one, so that saving the model again
    does not pin it to this machine's CPU.
    """
    try:
        return _usable_device(stored), stored
    except ValueError:
        used = _usable_device("auto")
    warnings.warn(
        f"{path!r} was saved with device={stored!r}, which is not available on this "
        f"machine; loaded with device='auto' ({used!r} here). Pass load(path, device=...) "
        "to choose.",
        DeviceWarning, stacklevel=3,
    )
    return used, "auto"


def _read(path, trusted):
    """The payload of the file at ``path``, parsed safely; not yet checked beyond its format."""
    # Check and load the same bytes: the file could change between two reads.
    with open(path, "rb") as file:
        data = file.read()
    # Imported outside the guard: a broken skops is not a damaged file.
    sio = _skops()
    # Each step that interprets the file runs under the one guard; the two
    # refusals sit between the steps so that they keep their type and message.
    with _malformed(path):
        untrusted = sio.get_untrusted_types(data=data)
    _refuse_untrusted(path, untrusted, trusted)
    with _malformed(path):
        payload = _parse(sio, data, untrusted)
    _refuse_other_version(path, payload)
    return payload


def read_metadata(path):
    """The ``metadata`` a model file was saved with (see :func:`save`), without loading the model.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.

    Returns
    -------
    metadata : dict
        Empty when the file was saved without metadata.

    Raises
    ------
    ValueError, TypeError, OSError
        As :func:`load`, for a file that cannot be read safely.

    Examples
    --------
    >>> from fer_sklearn import read_metadata
    >>> read_metadata("model.skops")["accuracy"]  # doctest: +SKIP
    0.708
    """
    path = os.fspath(path)
    payload = _read(path, [])
    with _malformed(path):
        metadata = payload.get("metadata", {})
        _check_dict("metadata", metadata)
        _check_metadata(metadata)
    return metadata


def load(path, *, trusted=None, device=None):
    """Load an estimator written by :func:`save`, without running code from the file.

    Every type in the file is checked against skops' defaults (numpy arrays,
    builtins ...), fer_sklearn's own classes (the estimators, :mod:`fer_sklearn.callbacks`
    and the optimizer classes behind ``optimizer="adam"|"adamw"|"sgd"``) and
    ``trusted`` before anything is built; the network weights are plain arrays.
    Then the contents are checked: the parameters must be the estimator's own
    and pass the checks ``fit`` makes, the fitted attributes must be the ones
    :func:`save` writes (``classes_``, ``n_features_in_``, ``image_shape_`` ...)
    with the right types, and the weights must be arrays that fit the network
    the parameters describe.

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
    device : {"auto", "cpu", "cuda", "cuda:N"}, default=None
        Where the loaded estimator runs; it becomes its ``device`` parameter.
        None keeps the saved ``device`` if this machine has it, and otherwise
        sets ``device="auto"`` (the CPU on a machine without a GPU) with a
        warning.

    Returns
    -------
    estimator : FERCNNClassifier or FERDNNClassifier
        Fitted, with ``predict_proba`` identical to the saved estimator's on the
        same device. ``net_`` is a fresh skorch net around the restored module,
        so ``net_.history`` is empty (the history is in ``history_``).

    Raises
    ------
    TypeError
        If the file holds types that are not trusted (the message lists them),
        or ``trusted`` is not a list of type names.
    ValueError
        If ``device`` is not a device this machine has; if the file was
        written by another fer_sklearn version; or if it is not a file written
        by :func:`save` or is damaged -- whatever is wrong with it, the error
        names the file, and the cause is chained.
    OSError
        If the file cannot be read.

    Warns
    -----
    skorch.exceptions.DeviceWarning
        If ``device=None`` and the saved device is not available here (a
        model trained on a GPU, opened without one); the message names both.

    See Also
    --------
    save : write the file.

    Examples
    --------
    >>> from fer_sklearn import load
    >>> clf = load("model.skops")  # doctest: +SKIP
    >>> clf = load("model.skops", device="cpu")  # doctest: +SKIP
    >>> clf = load("model.skops",
    ...            trusted=["skorch.callbacks.training.EarlyStopping"])  # doctest: +SKIP
    """
    path = os.fspath(path)
    trusted = _check_trusted(trusted)
    # The caller's arguments are checked before the file is read, so that a
    # bad device is never reported as a bad file.
    used = None if device is None else _usable_device(device)
    payload = _read(path, trusted)
    with _malformed(path):
        estimator, module = _rebuild(payload)
    if used is None:
        used, device = _device_here(path, estimator.device)
    estimator.device = device
    # A net for prediction, as fit leaves one; a warm-start fit builds its own.
    estimator._set_prediction_net(module, used)
    return estimator
