"""Saliency maps: which input pixels drive a class score, by captum's attribution methods."""

import inspect
import warnings

import numpy as np
import torch
from captum.attr import (GuidedBackprop, IntegratedGradients, LayerAttribution, LayerGradCam,
                         NoiseTunnel, Saliency)
from sklearn.utils import check_random_state

from ._network import batches, eval_mode, layer_table, network, resolve_layer


def _gradient(module, x, target):
    return Saliency(module).attribute(x, target=target, abs=True)


def _smoothgrad(module, x, target, *, nt_samples=16, stdevs=0.5, random_state=None):
    # NoiseTunnel draws from torch's global RNG: seed it inside a fork so that
    # a random_state gives repeatable maps without touching the caller's RNG.
    # random_state is a RandomState here (see compute_saliency): one seed per batch.
    seed = int(random_state.randint(np.iinfo(np.int32).max))
    with torch.random.fork_rng(devices=[x.device] if x.is_cuda else []):
        torch.manual_seed(seed)
        return NoiseTunnel(Saliency(module)).attribute(
            x, nt_type="smoothgrad", nt_samples=nt_samples, stdevs=stdevs,
            nt_samples_batch_size=len(x), target=target, abs=True)


def _integrated_gradients(module, x, target, *, baseline=0.0, n_steps=32):
    return IntegratedGradients(module).attribute(
        x, baselines=baseline, target=target, n_steps=n_steps, internal_batch_size=len(x))


def _guided_backprop(module, x, target):
    with warnings.catch_warnings():
        # captum announces its temporary ReLU hooks on every call ("Setting
        # forward, backward hooks ..." in older versions, "Setting backward
        # hooks on ReLU activations ..." in newer); they are removed when it
        # returns, which the tests check.
        warnings.filterwarnings("ignore", message=r"Setting (forward, )?backward hooks")
        return GuidedBackprop(module).attribute(x, target=target)


def _gradcam(module, x, target, *, layer=None, relu_attributions=True,
             interpolate_mode="bilinear"):
    # layer is the resolved torch module here (see compute_saliency).
    cam = LayerGradCam(module, layer).attribute(
        x, target=target, relu_attributions=relu_attributions)
    return LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode)


_METHODS = {
    "gradient": _gradient,
    "smoothgrad": _smoothgrad,
    "integrated_gradients": _integrated_gradients,
    "guided_backprop": _guided_backprop,
    "gradcam": _gradcam,
}


def _check_method(method, method_params):
    if method not in _METHODS:
        raise ValueError(f"unknown saliency method {method!r}; valid methods: {list(_METHODS)}")
    allowed = [name for name, p in inspect.signature(_METHODS[method]).parameters.items()
               if p.kind is p.KEYWORD_ONLY]
    unknown = sorted(set(method_params) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown parameters {unknown} for method {method!r}; valid: {allowed}")


def _gradcam_layer(module, image_shape, layer):
    """The conv layer for Grad-CAM: ``layer``, or by default the last 4-D ReLU output."""
    conv_layers = [name for name, _, shape in layer_table(module, image_shape) if len(shape) == 3]
    if not conv_layers:
        raise ValueError(
            f"method='gradcam' needs a convolutional network, but {type(module).__name__} has "
            "no layer with spatial (channels, h, w) output; use another method, e.g. 'gradient'")
    if layer is None:
        relus = [name for name, m, shape in layer_table(module, image_shape)
                 if len(shape) == 3 and isinstance(m, torch.nn.ReLU)]
        layer = (relus or conv_layers)[-1]
    name, layer_module, shape = resolve_layer(module, image_shape, layer)
    if len(shape) != 3:
        raise ValueError(
            f"Grad-CAM needs a layer with spatial output; {name!r} outputs shape {shape}. "
            f"Valid layers: {conv_layers}")
    return layer_module


def compute_saliency(module, x, target, image_shape, method="gradient", batch_size=64,
                     **method_params):
    """Saliency maps of a module for a standardised input tensor and class indices.

    The engine behind :func:`saliency_map` and :func:`saliency_sanity_check`
    (which runs it on randomised copies of the module): checks the method,
    runs it batch by batch in eval mode and returns an ``(n, H, W)`` array.
    """
    _check_method(method, method_params)
    device = next(module.parameters()).device
    params = dict(method_params)
    # Resolve once, before the batch loop: the layer by name on this very
    # module (it may be a randomised copy), one RNG for all batches.
    if method == "gradcam":
        params["layer"] = _gradcam_layer(module, image_shape, params.get("layer"))
    if method == "smoothgrad":
        params["random_state"] = check_random_state(params.get("random_state"))
    attribute = _METHODS[method]
    parts = []
    with eval_mode(module):
        for part in batches(len(x), batch_size):
            # Our own copy of the batch asks for gradients (captum warns otherwise).
            inputs = x[part].to(device).requires_grad_()
            maps = attribute(module, inputs, target[part].to(device), **params)
            parts.append(maps.detach().sum(dim=1).cpu())
    return torch.cat(parts).numpy().astype(np.float32, copy=False)


def target_indices(estimator, X, target, n_samples):
    """Class indices (into ``classes_``) for ``target`` labels, by default the predicted ones."""
    labels = np.asarray(estimator.predict(X) if target is None else target)
    if labels.ndim == 0:
        labels = np.full(n_samples, labels[()])
    if labels.shape != (n_samples,):
        raise ValueError(
            f"target must be one label or one per sample ({n_samples}); got shape {labels.shape}")
    classes = estimator.classes_
    # classes_ is sorted (np.unique in fit), so searchsorted finds each label.
    index = np.clip(np.searchsorted(classes, labels), 0, len(classes) - 1)
    unknown = labels[classes[index] != labels]
    if unknown.size:
        raise ValueError(
            f"target labels {np.unique(unknown).tolist()} are not classes of the estimator; "
            f"valid targets: {classes.tolist()}")
    return torch.as_tensor(index, dtype=torch.long)


def saliency_map(estimator, X, target=None, *, method="gradient", batch_size=64,
                 **method_params):
    """Saliency of each input pixel for a class score, by a captum attribution method.

    The network is used as fitted, in eval mode, and is left unchanged: no
    hooks stay behind, no parameter changes, predictions stay identical.

    Parameters
    ----------
    estimator : FERCNNClassifier or FERDNNClassifier
        A fitted estimator.
    X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, 1, H, W)
        Images in pixel space, as for ``predict``.
    target : label or array-like of shape (n_samples,), default=None
        Class to explain, as labels in ``estimator.classes_``: one for all
        samples or one per sample. None explains ``estimator.predict(X)``.
    method : {"gradient", "smoothgrad", "integrated_gradients", "guided_backprop", "gradcam"}, \
default="gradient"
        - ``"gradient"``: absolute gradient of the class logit (the study's
          method; captum ``Saliency``).
        - ``"smoothgrad"``: the absolute gradient averaged over noisy copies of
          the input (``NoiseTunnel`` over ``Saliency``). Parameters
          ``nt_samples=16``, ``stdevs=0.5`` (in units of the pixel standard
          deviation ``pixel_std_``) and ``random_state=None``.
        - ``"integrated_gradients"``: signed attributions along the path from
          a baseline (``IntegratedGradients``). Parameters ``baseline=0.0``
          (in standardised units: 0 is the mean-gray image) and ``n_steps=32``.
        - ``"guided_backprop"``: signed guided gradients (``GuidedBackprop``).
        - ``"gradcam"``: class activation map of a convolutional layer
          (``LayerGradCam``), upsampled to the input
          (``LayerAttribution.interpolate``). Parameters ``layer=None`` (by
          default the last ReLU with spatial output, ``relu{n_blocks}_{convs}``
          in :class:`~fer_sklearn.FERCNNClassifier`), ``relu_attributions=True``
          (the usual ReLU on the map) and ``interpolate_mode="bilinear"``.
          Convolutional networks only.
    batch_size : int, default=64
        Samples per attribution pass.
    **method_params
        Parameters of the method, listed above.

    Returns
    -------
    saliency : ndarray of shape (n_samples, H, W)
        Float32. Non-negative for ``"gradient"``, ``"smoothgrad"`` and
        ``"gradcam"``; signed for the other two (take ``np.abs`` to rank pixels).

    Raises
    ------
    ValueError
        For an unknown method or method parameter, a target that is not a
        class, an unknown layer, or ``"gradcam"`` on a network without
        convolutional layers; messages name the valid choices.

    See Also
    --------
    SaliencyDisplay : image, map and overlay per sample.
    saliency_sanity_check : does the map depend on the trained weights?

    Examples
    --------
    >>> from fer_sklearn import FERCNNClassifier
    >>> from fer_sklearn.datasets import make_faces
    >>> from fer_sklearn.interpret import saliency_map
    >>> X, y = make_faces(100, random_state=0, return_X_y=True)
    >>> clf = FERCNNClassifier(n_filters=4, n_blocks=2, max_epochs=1, random_state=0).fit(X, y)
    >>> saliency_map(clf, X[:3], method="gradcam").shape
    (3, 48, 48)
    """
    _check_method(method, method_params)
    module, _ = network(estimator)
    x = estimator.to_tensor(X)
    target = target_indices(estimator, X, target, len(x))
    return compute_saliency(module, x, target, estimator.image_shape_, method, batch_size,
                            **method_params)
