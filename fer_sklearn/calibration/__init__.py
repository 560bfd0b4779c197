"""How far predicted probabilities are from the accuracy they claim: ECE and reliability diagrams.

Its own module, beside :mod:`sklearn.calibration` (which holds
:class:`~sklearn.calibration.CalibratedClassifierCV`, ``calibration_curve``
and ``CalibrationDisplay``) rather than in :mod:`fer_sklearn.interpret`:
nothing here looks inside a network. Both names take the labels and the
``predict_proba`` output of any classifier -- these estimators, a pipeline,
a ``CalibratedClassifierCV`` -- and are multiclass, where scikit-learn's
calibration curve is binary.
"""

from ._display import ReliabilityDisplay
from ._ece import expected_calibration_error

__all__ = ["expected_calibration_error", "ReliabilityDisplay"]
