"""Filter visualisation: inputs that maximise a filter's activation, by gradient ascent."""

import numbers
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils import Bunch, check_random_state

from ._network import eval_mode, network, resolve_layer, to_pixels


class _StopForward(Exception):
    """Raised by a hook once the wanted layer has run: the rest of the net is not needed."""


class _LayerOutput:
    """Forward a module only as far as one layer and return that layer's output.

    captum's ``LayerActivation`` runs the whole network without gradients;
    gradient ascent needs the gradient and nothing after the layer. Use as a
    context manager so that the hook is always removed.
    """

    def __init__(self, module, layer):
        self.module, self.layer = module, layer

    def __enter__(self):
        def stop(layer, inputs, output):
            self.output = output
            raise _StopForward
        self.handle = self.layer.register_forward_hook(stop)
        return self

    def __exit__(self, *exc_info):
        self.handle.remove()

    def __call__(self, x):
        try:
            self.module(x)
        except _StopForward:
            pass
        out = self.output
        del self.output  # no reference to the graph outlives the step
        return out.reshape(*out.shape[:2], -1)  # (n, channels, positions)


class _RedirectedReLU(torch.autograd.Function):
    """ReLU whose gradient is redirected for samples that get none (Lucid's trick).

    A filter that is zero on the whole starting image (or is cut off by a ReLU
    below it) gets no gradient and gradient ascent would never move. For such
    a sample, let the gradient through where it asks the unit to grow, as if
    the ReLU were the identity there; samples that already get a gradient are
    left exact. ``grad`` is that of the objective being maximised.
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        exact = grad * (x > 0)
        redirected = grad * ((x > 0) | (grad > 0))
        blocked = exact.flatten(1).abs().amax(dim=1) == 0
        return torch.where(blocked.view(-1, *(1,) * (grad.dim() - 1)), redirected, exact)


@contextmanager
def _redirected_relus(module):
    """Within the block, every ``nn.ReLU`` of ``module`` computes a redirected ReLU.

    Forward values are unchanged; only the gradient differs. The hooks are
    registered before the layer probe, which therefore sees their output.
    """
    def hook(layer, inputs, output):
        return _RedirectedReLU.apply(inputs[0])
    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, torch.nn.ReLU)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _gaussian_blur(x, sigma):
    """Separable Gaussian blur of ``(n, 1, H, W)`` images, reflecting at the border."""
    radius = max(1, int(round(3 * sigma)))
    grid = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (grid / sigma) ** 2)
    kernel = kernel / kernel.sum()
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))


def _check_filters(filters, n_channels, layer_name):
    valid = f"valid filters of {layer_name!r} are 0..{n_channels - 1}"
    if filters is None:
        return np.arange(n_channels)
    filters = np.atleast_1d(np.asarray(filters))
    if filters.ndim != 1 or filters.size == 0 or not all(
            isinstance(f, numbers.Integral) and not isinstance(f, bool) for f in filters.tolist()):
        raise ValueError(f"filters must be a non-empty list of ints; got {filters!r}; {valid}")
    if filters.min() < 0 or filters.max() >= n_channels:
        raise ValueError(f"filters {filters.tolist()} out of range; {valid}")
    return filters.astype(np.int64)


def visualize_filters(estimator, layer, filters=None, *, n_steps=128, lr=0.1, l2=1e-3,
                      jitter=2, blur=0.5, blur_every=8, init_std=0.3, random_state=None):
    """Synthesise, for each filter of a layer, an input that maximises its mean activation.

    Gradient ascent on the input image (Erhan et al. 2009; Simonyan et al.
    2014), with the usual regularisers: each step rolls the image by a random
    jitter, takes a step along the gradient normalised per image, and decays
    the image towards the mean gray (L2); every ``blur_every`` steps the image
    is slightly blurred. All requested filters are optimised together, as one
    batch of ``len(filters)`` images whose loss is the sum over ``i`` of the
    mean activation of filter ``filters[i]`` on image ``i``; the images do not
    interact (batch norm runs in eval mode), so this equals optimising them one
    at a time, only much faster. The forward pass stops at ``layer``.

    Parameters
    ----------
    estimator : FERCNNClassifier or FERDNNClassifier
        A fitted estimator.
    layer : str or int
        A name from :func:`list_layers`, or its index there.
    filters : array-like of int, default=None
        Channels (units, for vector layers) of ``layer``; None takes them all.
    n_steps : int, default=128
        Gradient-ascent steps.
    lr : float, default=0.1
        Step size, in standardised pixel units (``pixel_std_``) per step, of
        the per-image normalised gradient.
    l2 : float, default=1e-3
        Decay of the (standardised) image towards mean gray at each step.
    jitter : int, default=2
        Largest random shift, in pixels, applied before each step.
    blur : float, default=0.5
        Standard deviation, in pixels, of the Gaussian blur; 0 disables it.
    blur_every : int, default=8
        Steps between blurs.
    init_std : float, default=0.3
        Standard deviation of the Gaussian noise, around mean gray and in
        standardised units, of the starting images.
    random_state : int, RandomState instance or None, default=None
        Seeds the starting images and the jitter; a fixed value gives the same
        images.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        - ``images`` : ndarray of shape (n_filters, H, W), in pixel space
          (the estimator's input scale, e.g. 0..255, though not clipped).
        - ``activations`` : ndarray of shape (n_filters,), each filter's mean
          activation on its final image (without jitter).
        - ``initial_activations`` : ndarray of shape (n_filters,), the same on
          the starting image.
        - ``filters`` : ndarray of int, the filters, in order.
        - ``layer`` : str, the layer's name.

    Raises
    ------
    ValueError
        For an unknown layer or filters out of range; messages name the
        valid ones.

    See Also
    --------
    FilterDisplay : shows the images as a grid.

    Examples
    --------
    >>> from fer_sklearn import FERCNNClassifier
    >>> from fer_sklearn.datasets import make_faces
    >>> from fer_sklearn.interpret import visualize_filters
    >>> X, y = make_faces(100, random_state=0, return_X_y=True)
    >>> clf = FERCNNClassifier(n_filters=4, n_blocks=1, max_epochs=1, random_state=0).fit(X, y)
    >>> result = visualize_filters(clf, "relu1_2", n_steps=16, random_state=0)
    >>> result.images.shape
    (4, 48, 48)
    """
    module, device = network(estimator)
    name, layer_module, shape = resolve_layer(module, estimator.image_shape_, layer)
    filters = _check_filters(filters, shape[0], name)
    rng = check_random_state(random_state)
    n = len(filters)
    x = torch.as_tensor(rng.normal(0.0, init_std, (n, 1, *estimator.image_shape_)),
                        dtype=torch.float32, device=device)
    shifts = rng.randint(-jitter, jitter + 1, size=(n_steps, 2)).tolist()
    pick = torch.as_tensor(filters, device=device)
    rows = torch.arange(n, device=device)

    with eval_mode(module), _redirected_relus(module), \
            _LayerOutput(module, layer_module) as layer_output:
        def mean_activation(images):
            return layer_output(images)[rows, pick].mean(dim=-1)  # filter i on image i

        with torch.no_grad():
            initial = mean_activation(x)
        x.requires_grad_(True)
        # Adam scales each pixel's step by its own gradient history, so every
        # filter (and pixel) moves at about lr per step whatever the scale of
        # its activation; it is elementwise, so the images stay independent.
        optimizer = torch.optim.Adam([x], lr=lr)
        for step, (dy, dx) in enumerate(shifts):
            with torch.no_grad():
                # Blur before a step, never after the last one: the result is
                # an optimised image, not a blurred one.
                if blur > 0 and step > 0 and step % blur_every == 0:
                    x.copy_(_gaussian_blur(x, blur))
            activation = mean_activation(torch.roll(x, shifts=(dy, dx), dims=(-2, -1)))
            (grad,) = torch.autograd.grad(activation.sum(), x)  # of the objective:
            x.grad = -grad  # _RedirectedReLU needs that sign; Adam minimises
            optimizer.step()
            with torch.no_grad():
                x.mul_(1 - l2)
        with torch.no_grad():
            final = mean_activation(x)

    return Bunch(images=to_pixels(estimator, x), activations=final.cpu().numpy(),
                 initial_activations=initial.cpu().numpy(), filters=filters, layer=name)
