"""Model-parameter randomisation test for saliency maps (Adebayo et al., 2018)."""

import copy

import numpy as np
import pandas as pd
import torch
from scipy.ndimage import gaussian_filter
from scipy.stats import rankdata
from sklearn.utils import check_random_state

from ._network import layer_table, network
from ._saliency import compute_saliency, target_indices


def _spearman(a, b):
    """Spearman rank correlation of each pair of maps ``a[i]``, ``b[i]``."""
    ra = rankdata(a.reshape(len(a), -1), axis=1)
    rb = rankdata(b.reshape(len(b), -1), axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant map has no ranks: nan
        return (ra * rb).sum(1) / np.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))


def _ssim(a, b, sigma=1.5):
    """Mean structural similarity of each pair of maps (Wang et al., 2004).

    Each map is first scaled to [0, 1] (as Adebayo et al. do), so the data
    range is 1. Gaussian window of ``sigma`` 1.5 truncated at 3.5 sigma (an
    11x11 window), constants K1=0.01, K2=0.03, and the mean taken over the
    pixels whose window lies inside the image: scikit-image's
    ``structural_similarity(..., gaussian_weights=True)``.
    """
    def unit(maps):
        low = maps.min(axis=(1, 2), keepdims=True)
        span = maps.max(axis=(1, 2), keepdims=True) - low
        return np.divide(maps - low, span, out=np.zeros_like(maps), where=span > 0)

    a, b = unit(a.astype(np.float64)), unit(b.astype(np.float64))
    c1, c2 = 0.01 ** 2, 0.03 ** 2

    def smooth(x):
        return gaussian_filter(x, sigma=(0, sigma, sigma), truncate=3.5, mode="reflect")

    mu_a, mu_b = smooth(a), smooth(b)
    var_a = smooth(a * a) - mu_a ** 2
    var_b = smooth(b * b) - mu_b ** 2
    cov = smooth(a * b) - mu_a * mu_b
    ssim = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)
            / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2)))
    pad = int(3.5 * sigma + 0.5)
    return ssim[:, pad:-pad, pad:-pad].mean(axis=(1, 2))


def _reinitialise(layer, seed):
    # The layer's own initialiser (Kaiming for conv and linear, identity for
    # batch norm, running statistics included), seeded without touching the
    # caller's torch RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer.reset_parameters()


def saliency_sanity_check(estimator, X, *, method="gradient", cascade=True, random_state=None,
                          batch_size=64, **method_params):
    """Do the saliency maps depend on the learned weights? (Adebayo et al., 2018).

    The model-parameter randomisation test of "Sanity Checks for Saliency
    Maps": re-initialise the network's weights and compare the maps of the
    randomised network with those of the trained one. A method that explains
    the model gives dissimilar maps (low rank correlation and SSIM); one that
    gives much the same maps behaves like an edge detector of the input.
    Weights are re-initialised on deep copies of ``estimator.module_``; the
    fitted network is never touched. The maps explain the class the trained
    network predicts, for the trained and randomised networks alike.

    Two randomisations are reported: all layers at once, and (with
    ``cascade``) cumulatively from the top layer down, one parametrised layer
    (convolution, batch norm, linear) at a time, as in the paper's Figure 2.

    Parameters
    ----------
    estimator : FERCNNClassifier or FERDNNClassifier
        A fitted estimator.
    X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, 1, H, W)
        Images in pixel space.
    method : str, default="gradient"
        A method of :func:`saliency_map`.
    cascade : bool, default=True
        Also run the cascading randomisation.
    random_state : int, RandomState instance or None, default=None
        Seeds the new weights.
    batch_size : int, default=64
        Samples per attribution pass.
    **method_params
        Parameters of the method, as for :func:`saliency_map`.

    Returns
    -------
    scores : pandas.DataFrame
        One row per randomisation: ``randomization`` (``"all"``, or
        ``"cascade"``), ``layer`` (for the cascade, the lowest layer
        re-initialised so far: it and every layer above it are random; None
        for ``"all"``), and the similarity of trained to randomised maps,
        averaged over the samples: ``spearman`` (rank correlation of the
        maps; 1 = same ranking of pixels), ``spearman_std``, ``ssim``
        (structural similarity of the maps scaled to [0, 1]; 1 = same map)
        and ``ssim_std``.

    References
    ----------
    J. Adebayo, J. Gilmer, M. Muelly, I. Goodfellow, M. Hardt and B. Kim,
    "Sanity Checks for Saliency Maps", NeurIPS 2018.

    Examples
    --------
    >>> from fer_sklearn import FERCNNClassifier
    >>> from fer_sklearn.datasets import make_faces
    >>> from fer_sklearn.interpret import saliency_sanity_check
    >>> X, y = make_faces(100, random_state=0, return_X_y=True)
    >>> clf = FERCNNClassifier(n_filters=4, n_blocks=1, max_epochs=1, random_state=0).fit(X, y)
    >>> scores = saliency_sanity_check(clf, X[:8], random_state=0)
    >>> scores.columns.tolist()
    ['randomization', 'layer', 'spearman', 'spearman_std', 'ssim', 'ssim_std']
    """
    module, _ = network(estimator)
    x = estimator.to_tensor(X)
    target = target_indices(estimator, X, None, len(x))
    shape = estimator.image_shape_

    def maps(net):
        return compute_saliency(net, x, target, shape, method, batch_size, **method_params)

    def row(randomization, layer, randomised):
        rho, ssim = _spearman(reference, randomised), _ssim(reference, randomised)
        return {"randomization": randomization, "layer": layer,
                "spearman": np.nanmean(rho), "spearman_std": np.nanstd(rho),
                "ssim": ssim.mean(), "ssim_std": ssim.std()}

    reference = maps(module)
    rng = check_random_state(random_state)
    # Parametrised layers, top (output) first; names address the same layers
    # in every deep copy.
    layers = [name for name, layer, _ in layer_table(module, shape)
              if hasattr(layer, "reset_parameters") and next(layer.parameters(False), None) is not None]
    layers.reverse()
    seeds = dict(zip(layers, rng.randint(np.iinfo(np.int32).max, size=len(layers)).tolist()))

    def randomised_copy(names, net=None):
        net = copy.deepcopy(module) if net is None else net
        table = {name: layer for name, layer, _ in layer_table(net, shape)}
        for name in names:
            _reinitialise(table[name], seeds[name])
        return net

    rows = [row("all", None, maps(randomised_copy(layers)))]
    if cascade:
        net = copy.deepcopy(module)
        for name in layers:
            rows.append(row("cascade", name, maps(randomised_copy([name], net))))
    return pd.DataFrame(rows)
