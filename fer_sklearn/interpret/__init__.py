"""Interpretation of the fitted networks: saliency, filters, activations, sanity checks.

Everything here reaches the network one way, through the estimators'
``module_`` and ``to_tensor``, and leaves it as it was: eval mode, no hooks,
the same weights and predictions. Saliency methods are captum's.
"""

from ._activations import layer_activations, list_layers
from ._confusion import most_confused_pairs
from ._displays import ActivationDisplay, FilterDisplay, SaliencyDisplay
from ._filters import visualize_filters
from ._saliency import saliency_map
from ._sanity import saliency_sanity_check

__all__ = [
    "saliency_map",
    "list_layers",
    "layer_activations",
    "visualize_filters",
    "saliency_sanity_check",
    "most_confused_pairs",
    "SaliencyDisplay",
    "FilterDisplay",
    "ActivationDisplay",
]
