"""Torch modules behind the estimators, and parameter counting and matching.

Both modules take the same input, a float tensor of shape ``(n, 1, H, W)``
(the estimators' :meth:`to_tensor` output), and return logits ``(n, n_classes)``.
In training, an optional ``sample_weight`` makes their batch norms weigh each
sample in the batch statistics (:func:`weighted_batch_norm`).
Layers carry stable names (``conv1_1``, ``relu1_1``, ``pool1`` ...) so that
:mod:`fer_sklearn.interpret` can address them. :class:`MemberAverage` makes
several such networks one module whose output averages their probabilities.
"""

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn


def count_parameters(module):
    """Number of trainable parameters of a torch module.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    n_params : int
    """
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad))


def weighted_batch_norm(bn, X, sample_weight):
    """``bn(X)`` in training mode, with batch statistics in which each sample counts by its weight.

    The batch mean and (biased) variance of each channel are weighted means
    over the samples (and their positions), so a sample of weight 0 has no
    effect on them, and a sample of integer weight ``k`` has the effect of
    ``k`` copies of it: the normalised output, the gradient through the
    statistics and the running mean are those of the batch with the
    sample repeated. The running variance stores the variance unbiased
    with ``m / (m - 1)``, where torch's batch norm takes ``m`` = the number
    of values per channel; here ``m`` counts each sample as
    ``max(sum(w), sum(w)**2 / sum(w**2))`` samples: the sum of the weights,
    which is the row count of the repeated batch for integer weights, but
    never less than the batch's effective sample size, so that small
    weights (normalised to sum to 1, say) do not inflate the running
    variance.

    Parameters
    ----------
    bn : torch.nn.BatchNorm1d or torch.nn.BatchNorm2d
        In training mode; its running statistics are updated as ``bn(X)``
        would update them.
    X : tensor of shape (n, channels) or (n, channels, H, W)
    sample_weight : tensor of shape (n,)
        Non-negative, with a positive sum.

    Returns
    -------
    out : tensor of the shape and dtype of ``X``
    """
    dims = [0, *range(2, X.ndim)]
    shape = [1, -1] + [1] * (X.ndim - 2)
    per_sample = X[0, 0].numel()
    # Under autocast X may be bfloat16: the statistics are taken in float32 at least.
    dtype = torch.promote_types(X.dtype, torch.float32)
    weight = sample_weight.to(device=X.device, dtype=dtype)
    total = weight.sum()
    values = X.to(dtype)
    weight_shaped = weight.reshape(-1, *[1] * (X.ndim - 1))
    mean = (weight_shaped * values).sum(dims) / (total * per_sample)
    centred = values - mean.reshape(shape)
    var = (weight_shaped * centred.square()).sum(dims) / (total * per_sample)
    if bn.track_running_stats:
        count = per_sample * torch.maximum(total, total.square() / weight.square().sum())
        if count <= 1:
            # As torch's batch norm refuses a batch of one sample.
            raise ValueError("Expected more than 1 value per channel when training; the "
                             f"batch's sample weights count as {float(count):g}")
        with torch.no_grad():
            bn.num_batches_tracked.add_(1)
            factor = (1.0 / float(bn.num_batches_tracked) if bn.momentum is None
                      else bn.momentum)
            bn.running_mean.mul_(1 - factor).add_(mean.detach(), alpha=factor)
            bn.running_var.mul_(1 - factor).add_(var.detach() * count / (count - 1),
                                                 alpha=factor)
    out = centred * torch.rsqrt(var + bn.eps).reshape(shape)
    if bn.affine:
        out = out * bn.weight.reshape(shape) + bn.bias.reshape(shape)
    return out.to(X.dtype)


def _run(layers, X, sample_weight):
    """``layers(X)``, with :func:`weighted_batch_norm` for the batch norms when weighted."""
    if sample_weight is None or not layers.training:
        return layers(X)
    for layer in layers:
        if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
            X = weighted_batch_norm(layer, X, sample_weight)
        else:
            X = layer(X)
    return X


def _pool_kernel(height, width):
    # Halve each spatial side that is still >= 2; a 1-row "image" (tabular
    # input) is pooled along its width only.
    return (2 if height >= 2 else 1, 2 if width >= 2 else 1)


class FERCNN(nn.Module):
    """VGG-style CNN: blocks of (conv3x3-BN-ReLU) x convs_per_block + max-pool.

    The channel width doubles after each block, starting at ``n_filters``.
    Global average pooling, dropout and a linear layer form the head.

    Parameters
    ----------
    n_classes : int
    image_shape : tuple of int
        ``(H, W)`` of the input images.
    n_filters : int, default=32
        Filters of the first block.
    n_blocks : int, default=4
    convs_per_block : int, default=2
    dropout : float, default=0.3
        Dropout before the linear head.

    Notes
    -----
    ``forward(X, sample_weight=None)``: with ``sample_weight`` (training
    only), the batch norms weigh each sample (:func:`weighted_batch_norm`).
    """

    def __init__(self, n_classes, image_shape=(48, 48), n_filters=32, n_blocks=4,
                 convs_per_block=2, dropout=0.3):
        super().__init__()
        layers = OrderedDict()
        in_channels = 1
        height, width = image_shape
        for block in range(1, n_blocks + 1):
            out_channels = n_filters * 2 ** (block - 1)
            for conv in range(1, convs_per_block + 1):
                suffix = f"{block}_{conv}"
                layers[f"conv{suffix}"] = nn.Conv2d(
                    in_channels, out_channels, kernel_size=3, padding=1, bias=False
                )
                layers[f"bn{suffix}"] = nn.BatchNorm2d(out_channels)
                layers[f"relu{suffix}"] = nn.ReLU(inplace=False)
                in_channels = out_channels
            kernel = _pool_kernel(height, width)
            layers[f"pool{block}"] = nn.MaxPool2d(kernel)
            height, width = height // kernel[0], width // kernel[1]
        self.features = nn.Sequential(layers)
        self.head = nn.Sequential(OrderedDict([
            ("gap", nn.AdaptiveAvgPool2d(1)),
            ("flatten", nn.Flatten()),
            ("dropout", nn.Dropout(dropout)),
            ("fc", nn.Linear(in_channels, n_classes)),
        ]))
        # Channels-last weights make CPU (oneDNN) and cuDNN convolutions pick
        # their faster NHWC kernels for plain NCHW input too: 1.4x per CPU
        # training step (benchmarks/bench_channels_last.py).
        self.to(memory_format=torch.channels_last)

    def forward(self, X, sample_weight=None):
        return self.head(_run(self.features, X, sample_weight))


def average_probability_logits(logits):
    """Logits whose softmax is the mean of the members' softmaxes.

    Parameters
    ----------
    logits : tensor of shape (n_members, n, n_classes)

    Returns
    -------
    logits : float tensor of shape (n, n_classes)
        ``log(mean_m softmax(logits[m]))``, computed in log space.
    """
    log_proba = F.log_softmax(logits.float(), dim=-1)
    return torch.logsumexp(log_proba, dim=0) - math.log(len(logits))


class MemberAverage(nn.Module):
    """Several networks as one: an ensemble whose probabilities are averaged.

    In eval mode the output is :func:`average_probability_logits` of the
    members' logits, shape ``(n, n_classes)``: logits whose softmax is the
    mean of the members' probabilities (soft voting, as
    :class:`sklearn.ensemble.VotingClassifier` with ``voting="soft"``), so
    prediction, test-time views, saliency and ONNX export treat the ensemble
    as one network. In training mode the output is the members' logits
    stacked, shape ``(n_members, n, n_classes)``, so that each member is
    trained on its own loss
    (:meth:`~fer_sklearn._weighting.WeightedNeuralNetClassifier.get_loss`),
    as if it were trained alone on the same batches.

    Parameters
    ----------
    members : list of torch.nn.Module
        Networks with the same input and output shapes; their ``forward``
        takes ``sample_weight``.
    """

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, X, sample_weight=None):
        logits = torch.stack([member(X, sample_weight) for member in self.members])
        return logits if self.training else average_probability_logits(logits)


class FERMLP(nn.Module):
    """Multilayer perceptron on the flattened image: (linear-BN-ReLU-dropout) x L.

    Parameters
    ----------
    n_classes : int
    n_features : int
        Pixels per image (``H * W``).
    hidden_layer_sizes : sequence of int
    dropout : float, default=0.3

    Notes
    -----
    ``forward(X, sample_weight=None)``: with ``sample_weight`` (training
    only), the batch norms weigh each sample (:func:`weighted_batch_norm`).
    """

    def __init__(self, n_classes, n_features, hidden_layer_sizes=(420, 420), dropout=0.3):
        super().__init__()
        layers = OrderedDict([("flatten", nn.Flatten())])
        width_in = n_features
        for i, width in enumerate(hidden_layer_sizes, start=1):
            layers[f"fc{i}"] = nn.Linear(width_in, width)
            layers[f"bn{i}"] = nn.BatchNorm1d(width)
            layers[f"relu{i}"] = nn.ReLU()
            layers[f"dropout{i}"] = nn.Dropout(dropout)
            width_in = width
        layers["out"] = nn.Linear(width_in, n_classes)
        self.layers = nn.Sequential(layers)

    def forward(self, X, sample_weight=None):
        return _run(self.layers, X, sample_weight)


def mlp_parameter_count(n_features, n_classes, hidden_layer_sizes):
    """Trainable parameters of :class:`FERMLP`, computed without building it."""
    total, width_in = 0, n_features
    for width in hidden_layer_sizes:
        total += width_in * width + width + 2 * width  # linear weight + bias, BN affine
        width_in = width
    return total + width_in * n_classes + n_classes


def match_hidden_width(n_params, n_features, n_classes, n_layers):
    """Equal hidden width whose :class:`FERMLP` parameter count is closest to ``n_params``.

    Parameters
    ----------
    n_params : int
        Target parameter count.
    n_features, n_classes : int
    n_layers : int
        Number of hidden layers, all of the same width.

    Returns
    -------
    width : int
        At least 1.
    """
    def count(width):
        return mlp_parameter_count(n_features, n_classes, (width,) * n_layers)

    # count() is increasing in width: bisect for the first width at or above
    # the target, then take whichever neighbour is closer.
    low, high = 1, 1
    while count(high) < n_params:
        high *= 2
    while low < high:
        mid = (low + high) // 2
        if count(mid) < n_params:
            low = mid + 1
        else:
            high = mid
    candidates = [w for w in (low - 1, low) if w >= 1]
    return min(candidates, key=lambda w: abs(count(w) - n_params))
