"""fer_sklearn: scikit-learn estimators for facial expression recognition.

The public API: the classifiers, the emotion names, and the subpackages
``datasets``, ``callbacks`` and ``interpret``.
"""

from ._estimators import FERCNNClassifier, FERDNNClassifier

__version__ = "0.1.0"

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""FER2013 class names, in label order 0..6."""

__all__ = ["FERCNNClassifier", "FERDNNClassifier", "EMOTIONS", "__version__"]
