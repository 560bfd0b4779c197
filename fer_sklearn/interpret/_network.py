"""The one way from an estimator to its network, shared by the interpret tools.

Everything here goes through the estimators' documented contract:
``module_`` (the fitted torch module) and ``to_tensor`` (the input transform).
"""

from contextlib import contextmanager

import numpy as np
import torch


def network(estimator):
    """The fitted module of ``estimator`` and the device its parameters live on."""
    module = estimator.module_
    return module, next(module.parameters()).device


@contextmanager
def eval_mode(module):
    """Run in eval mode, then give every submodule back its own training flag.

    The estimators keep ``module_`` in eval mode already; this guards against a
    caller who switched it, without leaving it changed.
    """
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, training in flags:
            m.training = training


def batches(n, batch_size):
    """Slices of ``range(n)`` of at most ``batch_size`` items."""
    return [slice(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]


def to_pixels(estimator, tensor):
    """Map network input ``(n, 1, H, W)`` back to pixel space ``(n, H, W)``."""
    array = tensor.detach().cpu().numpy()[:, 0]
    return array * np.float32(estimator.pixel_std_) + np.float32(estimator.pixel_mean_)


def _leaves(module):
    """Leaf modules by short name (``conv1_1``), or dotted name where short ones clash."""
    leaves = [(name, m) for name, m in module.named_modules()
              if name and next(m.children(), None) is None]
    short = [name.rsplit(".", 1)[-1] for name, _ in leaves]
    if len(set(short)) == len(short):
        return [(s, m) for s, (_, m) in zip(short, leaves)]
    return leaves


def layer_table(module, image_shape):
    """``[(name, layer, output_shape)]`` of the leaf layers, in forward order.

    Found by one forward pass of a blank image with temporary hooks: the
    execution order, not the registration order, is what "forward order" means.
    """
    order = {}
    handles = []
    for name, layer in _leaves(module):
        def record(layer_, inputs, output, name=name):
            if name not in order and isinstance(output, torch.Tensor):
                order[name] = (name, layer_, tuple(output.shape[1:]))
        handles.append(layer.register_forward_hook(record))
    device = next(module.parameters()).device
    try:
        with eval_mode(module), torch.no_grad():
            module(torch.zeros(1, 1, *image_shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return list(order.values())


def resolve_layer(module, image_shape, layer):
    """``(name, layer_module, output_shape)`` for a layer given by name or index.

    Raises
    ------
    ValueError
        For an unknown name or an index out of range, naming the valid layers.
    """
    table = layer_table(module, image_shape)
    names = [name for name, _, _ in table]
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        if -len(table) <= layer < len(table):
            return table[layer]
        raise ValueError(
            f"layer index {layer} is out of range for {len(table)} layers; valid layers "
            f"(by name or index 0..{len(table) - 1}): {names}"
        )
    if isinstance(layer, str) and layer in names:
        return table[names.index(layer)]
    raise ValueError(f"unknown layer {layer!r}; valid layers (by name or index): {names}")
