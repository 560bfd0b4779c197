"""fer_sklearn: scikit-learn estimators for facial expression recognition.

The public API: the classifiers and their ensembles, persistence and ONNX export, the emotion
names, the face transformer and image reader, the warnings and errors of
:mod:`fer_sklearn.exceptions`, and the subpackages ``datasets``,
``callbacks``, ``calibration``, ``faces``, ``interpret`` and ``pretrained``.
"""

# Defined before the imports below: submodules import them from here.
__version__ = "0.1.0"

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""FER2013 class names, in label order 0..6."""

from ._estimators import FERCNNClassifier, FERDNNClassifier  # noqa: E402
from ._ensemble import average_ensemble  # noqa: E402
from ._onnx import export_onnx  # noqa: E402
from ._persistence import load, read_metadata, save  # noqa: E402
from .exceptions import CheckpointError, FitInterruptedWarning, PixelRangeWarning  # noqa: E402
from .faces import FaceAligner, detect_faces, read_image  # noqa: E402

__all__ = ["CheckpointError", "FERCNNClassifier", "FERDNNClassifier", "EMOTIONS", "FaceAligner",
           "FitInterruptedWarning", "PixelRangeWarning", "average_ensemble", "detect_faces",
           "export_onnx", "load",
           "read_image", "read_metadata", "save", "__version__"]
