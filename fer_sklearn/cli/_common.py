"""What the commands share: their one-line error, model loading, data reading, text writing."""

from .._errors import one_line


class CLIError(Exception):
    """A user's mistake (data, output folder, device, model file): reported in one line."""


# ---------------------------------------------------------------------- data
def load_model(path, device):
    from .. import load

    try:
        return load(path, device=device)
    except (OSError, ValueError, TypeError) as exc:
        raise CLIError(one_line(exc)) from None


def write_text(path, text):
    """Write ``text`` to ``path`` as UTF-8 through the one writer.

    Characters UTF-8 cannot hold (file names that were not valid UTF-8 come
    back from the OS as lone surrogates) are written as backslash escapes.
    """
    from .._output import atomic_open

    with atomic_open(path) as file:
        file.write(text.encode("utf-8", "backslashreplace"))


def read_data(path, *, ferplus=None, labelled=True, cache=True):
    """:func:`~fer_sklearn.datasets.load_fer2013`, with file errors turned into CLIError."""
    from ..datasets import load_fer2013

    try:
        bunch = load_fer2013(path, labels="fer" if ferplus is None else "ferplus",
                             ferplus_path=ferplus, cache=cache)
    except (OSError, ValueError) as exc:
        raise CLIError(one_line(exc)) from None
    if labelled and bunch.target is None:
        raise CLIError(f"{path}: the file has no 'emotion' column, so there are no labels "
                       "to train or evaluate on")
    return bunch


def labelled_data(path, *, usage, n_samples, seed, cache=True):
    """``X, y, target_names`` for train and evaluate.

    The rows of ``usage`` when the file has a Usage column (all rows for
    ``usage="all"`` or a file without one), or synthetic faces without ``path``.
    """
    from ..datasets import make_faces

    if path is None:
        faces = make_faces(n_samples, random_state=seed)
        return faces.data, faces.target, list(faces.target_names)
    bunch = read_data(path, cache=cache)
    X, y = bunch.data, bunch.target
    if usage != "all" and bunch.usage is not None:
        keep = bunch.usage == usage
        if not keep.any():
            raise CLIError(f"{path}: no rows with Usage {usage!r}; the file has "
                           f"{sorted(set(bunch.usage.tolist()))} (or pass --usage all)")
        X, y = X[keep], y[keep]
    return X, y, list(bunch.target_names)
