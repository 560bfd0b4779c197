"""Where downloaded or cached data sets live, as in :mod:`sklearn.datasets`."""

import os
from pathlib import Path


def get_data_home(data_home=None):
    """Return the path of the fer_sklearn data folder, creating it if needed.

    The folder holds caches such as the parsed-array cache of
    :func:`load_fer2013`. It is, in order of precedence: ``data_home``, the
    environment variable ``FER_SKLEARN_DATA``, or ``~/fer_sklearn_data``. A
    leading ``~`` is expanded to the user's home.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use; None picks it as described above.

    Returns
    -------
    data_home : str
        The path of the (now existing) folder.

    Examples
    --------
    >>> import tempfile
    >>> from fer_sklearn.datasets import get_data_home
    >>> folder = tempfile.mkdtemp()
    >>> get_data_home(folder) == folder
    True
    """
    if data_home is None:
        data_home = os.environ.get("FER_SKLEARN_DATA", Path("~") / "fer_sklearn_data")
    data_home = Path(data_home).expanduser()
    data_home.mkdir(parents=True, exist_ok=True)
    return str(data_home)
