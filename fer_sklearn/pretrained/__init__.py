"""Models trained on FER2013, shipped inside the package: predictions with no training and no download.

:func:`load_pretrained` opens them with :func:`fer_sklearn.load` (skops,
nothing unpickled); :func:`pretrained_info` returns the provenance each file
carries. ``benchmarks/pretrained.py`` retrains them from the CSV.
"""

from ._load import PRETRAINED, load_pretrained, pretrained_info

__all__ = ["PRETRAINED", "load_pretrained", "pretrained_info"]
