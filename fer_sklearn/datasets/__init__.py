"""Data sets: the FER2013 loader and procedurally drawn synthetic faces.

Follows :mod:`sklearn.datasets`: functions return a :class:`~sklearn.utils.Bunch`
(or ``(X, y)`` with ``return_X_y=True``) and caches live under
:func:`get_data_home`.
"""

from ._fer2013 import FERPLUS_CLASSES, USAGES, load_fer2013
from ._home import get_data_home
from ._synthetic import make_faces

__all__ = ["load_fer2013", "make_faces", "get_data_home", "FERPLUS_CLASSES", "USAGES"]
