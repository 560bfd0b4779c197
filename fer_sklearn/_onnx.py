"""Export a fitted estimator's whole prediction path to ONNX.

The graph maps raw pixels to probabilities: it holds the input scaling
learned in ``fit``, the network, the softmax and the averaging over the
estimator's test-time views (``test_time_flip``, ``test_time_shift``), so that a
runtime needs nothing from fer_sklearn. It is traced with torch's
``torch.export``-based exporter (``dynamo=True``, which needs ``onnxscript``),
the default since torch 2.9; the TorchScript exporter is deprecated.
"""

import copy
import importlib.util
import json
import numbers
import warnings

import torch
from torch import nn

from . import __version__
from ._output import atomic_open
from ._persistence import _check_estimator
from ._test_time import prediction_views

_INPUT_SHAPES = ("flat", "image")
_MIN_OPSET = 18  # the lowest opset the torch.export-based exporter emits natively


class _Pipeline(nn.Module):
    """Raw pixels -> probabilities, as the estimator's predict_proba computes them."""

    def __init__(self, module, mean, std, image_shape, flip, shift):
        super().__init__()
        self.module = module
        self.image_shape = tuple(image_shape)
        self.flip = flip
        self.shift = shift
        # float32 constants, as to_tensor standardises in float32.
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def forward(self, pixels):
        X = (pixels.reshape(-1, 1, *self.image_shape) - self.mean) / self.std
        # One pass over all test-time views stacked, then the mean over the views.
        views = list(prediction_views(X, self.flip, self.shift))
        proba = torch.softmax(self.module(torch.cat(views)), dim=1)
        return proba.reshape(len(views), -1, proba.shape[1]).mean(dim=0)


def export_onnx(estimator, path, *, input_shape="flat", opset=_MIN_OPSET):
    """Write a fitted estimator as an ONNX model from raw pixels to probabilities.

    The graph standardises its input with ``pixel_mean_`` and ``pixel_std_``,
    runs the network and a softmax, and averages over the test-time views
    of ``predict_proba`` (mirrors with ``test_time_flip``, shifted copies with
    ``test_time_shift``; 2-D images only), so that ``session.run`` gives
    ``estimator.predict_proba`` (to float32 precision, about 1e-6, for
    ``precision="float32"``; the graph is always float32, so for an estimator
    that predicts in bfloat16 the two differ by bfloat16's rounding). The
    batch axis is dynamic.

    The input is named ``"pixels"`` (float32) and the output
    ``"probabilities"``, of shape ``(n, n_classes)`` with columns in the order
    of ``classes_``. The model's ``metadata_props`` record ``classes`` (a JSON
    list of the labels), ``input_shape``, ``image_shape`` (JSON),
    ``test_time_flip``, ``test_time_shift`` and ``fer_sklearn_version``.

    Parameters
    ----------
    estimator : FERCNNClassifier or FERDNNClassifier
        A fitted estimator; it is not modified (the network is copied to the CPU).
    path : str or path-like
        Destination ``.onnx`` file; replaced if it exists, written atomically.
    input_shape : {"flat", "image"}, default="flat"
        ``"flat"``: input of shape ``(n, H * W)``, as ``predict_proba``'s 2-D
        ``X``; ``"image"``: ``(n, H, W)``, with ``(H, W) = image_shape_``.
        Export twice to serve both.
    opset : int, default=18
        ONNX opset, at least 18. onnxruntime >= 1.14 runs opset 18.

    Returns
    -------
    None

    Raises
    ------
    TypeError
        If ``estimator`` is not a fer_sklearn classifier.
    ValueError
        For an unknown ``input_shape`` or an ``opset`` below 18.
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ImportError
        If ``onnxscript``, which torch's exporter needs, is not installed.

    Examples
    --------
    >>> import json, os, tempfile
    >>> import numpy as np, onnxruntime as ort
    >>> from fer_sklearn import FERCNNClassifier, export_onnx
    >>> from fer_sklearn.datasets import make_faces
    >>> X, y = make_faces(100, random_state=0, return_X_y=True)
    >>> clf = FERCNNClassifier(n_filters=4, n_blocks=2, max_epochs=1, precision="float32")
    >>> clf = clf.fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "faces.onnx")
    >>> export_onnx(clf, path)
    >>> session = ort.InferenceSession(path)
    >>> proba = session.run(None, {"pixels": X.astype(np.float32)})[0]
    >>> bool(np.abs(proba - clf.predict_proba(X)).max() < 1e-4)
    True
    >>> json.loads(session.get_modelmeta().custom_metadata_map["classes"])
    [0, 1, 2, 3, 4, 5, 6]
    """

    _check_estimator(estimator, "export_onnx")
    if input_shape not in _INPUT_SHAPES:
        raise ValueError(f"input_shape must be 'flat' or 'image'; got {input_shape!r}")
    if not isinstance(opset, numbers.Integral) or isinstance(opset, bool) or opset < _MIN_OPSET:
        raise ValueError(f"opset must be an int >= {_MIN_OPSET}; got {opset!r}")
    if importlib.util.find_spec("onnxscript") is None:
        raise ImportError(
            "export_onnx needs onnxscript (torch's ONNX exporter uses it): "
            "pip install 'fer_sklearn[deploy]'"
        )

    image_shape = tuple(int(side) for side in estimator.image_shape_)
    flip, shift = estimator._test_time_views()
    pipeline = _Pipeline(
        copy.deepcopy(estimator.module_).cpu(), estimator.pixel_mean_,
        estimator.pixel_std_, image_shape, flip, shift,
    ).eval()
    feature_shape = (image_shape[0] * image_shape[1],) if input_shape == "flat" else image_shape
    # A batch of 2: torch.export specialises size-1 dimensions to constants.
    example = torch.zeros((2, *feature_shape), dtype=torch.float32)
    with torch.no_grad(), warnings.catch_warnings():
        # torch's exporter trips over its own pytree deprecation; nothing for the user to do.
        warnings.filterwarnings("ignore", message=".*LeafSpec", category=FutureWarning)
        program = torch.onnx.export(
            pipeline, (example,), dynamo=True, opset_version=int(opset),
            input_names=["pixels"], output_names=["probabilities"],
            dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False,
        )
    model = program.model_proto
    metadata = {
        "classes": json.dumps(estimator.classes_.tolist()),
        "input_shape": input_shape,
        "image_shape": json.dumps(list(image_shape)),
        "test_time_flip": json.dumps(flip),
        "test_time_shift": json.dumps(shift),
        "fer_sklearn_version": __version__,
    }
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    model.doc_string = (
        f"{type(estimator).__name__} from fer_sklearn {__version__}: raw pixels "
        f"(input 'pixels', float32) to class probabilities (output 'probabilities'); "
        "labels in metadata 'classes'."
    )
    with atomic_open(path) as file:
        file.write(model.SerializeToString())
