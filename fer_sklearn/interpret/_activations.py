"""Layer names and per-filter layer outputs ("feature maps") of a fitted network."""

import numpy as np
import torch
from captum.attr import LayerActivation

from ._network import batches, eval_mode, layer_table, network, resolve_layer


def list_layers(estimator):
    """Names of the layers that the interpret tools can address, in forward order.

    These are the leaf modules of ``estimator.module_`` (``conv1_1``,
    ``bn1_1``, ``relu1_1``, ..., ``fc`` for :class:`~fer_sklearn.FERCNNClassifier`;
    ``fc1``, ``bn1``, ``relu1``, ..., ``out`` for
    :class:`~fer_sklearn.FERDNNClassifier`). A layer can also be given by its
    index in this list.

    Parameters
    ----------
    estimator : FERCNNClassifier or FERDNNClassifier
        A fitted estimator.

    Returns
    -------
    names : list of str

    Examples
    --------
    >>> from fer_sklearn import FERCNNClassifier
    >>> from fer_sklearn.datasets import make_faces
    >>> from fer_sklearn.interpret import list_layers
    >>> X, y = make_faces(100, random_state=0, return_X_y=True)
    >>> clf = FERCNNClassifier(n_filters=4, n_blocks=1, max_epochs=1, random_state=0).fit(X, y)
    >>> list_layers(clf)[:4]
    ['conv1_1', 'bn1_1', 'relu1_1', 'conv1_2']
    """
    module, _ = network(estimator)
    return [name for name, _, _ in layer_table(module, estimator.image_shape_)]


def layer_activations(estimator, X, layer, *, batch_size=64):
    """Output of one layer for each sample: one map per filter (channel).

    With ``layer="relu1_1"`` this is the study's "layer output after ReLU".

    Parameters
    ----------
    estimator : FERCNNClassifier or FERDNNClassifier
        A fitted estimator.
    X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, 1, H, W)
        Images in pixel space, as for ``predict``.
    layer : str or int
        A name from :func:`list_layers`, or its index there.
    batch_size : int, default=64
        Samples per forward pass.

    Returns
    -------
    activations : ndarray of shape (n_samples, n_channels, h, w)
        Float32. Layers with vector output (fully connected layers, the MLP)
        give ``h = w = 1``: one 1x1 "map" per unit.

    Raises
    ------
    ValueError
        For an unknown layer; the message lists the valid ones.

    Examples
    --------
    >>> from fer_sklearn import FERCNNClassifier
    >>> from fer_sklearn.datasets import make_faces
    >>> from fer_sklearn.interpret import layer_activations
    >>> X, y = make_faces(100, random_state=0, return_X_y=True)
    >>> clf = FERCNNClassifier(n_filters=4, n_blocks=1, max_epochs=1, random_state=0).fit(X, y)
    >>> layer_activations(clf, X[:2], "relu1_1").shape
    (2, 4, 48, 48)
    """
    module, device = network(estimator)
    _, layer_module, _ = resolve_layer(module, estimator.image_shape_, layer)
    x = estimator.to_tensor(X)
    probe = LayerActivation(module, layer_module)
    with eval_mode(module):
        parts = [probe.attribute(x[part].to(device)).detach().cpu()
                 for part in batches(len(x), batch_size)]
    out = torch.cat(parts).numpy().astype(np.float32, copy=False)
    return out.reshape(*out.shape, *(1,) * (4 - out.ndim))
