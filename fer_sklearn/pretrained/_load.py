"""The shipped model files and their loader."""

from importlib import resources

from .._persistence import load, read_metadata

PRETRAINED = ("fer2013", "ferplus")
"""Names of the models :func:`load_pretrained` knows, whether or not this install ships each."""


def _file_name(name, faces=False):
    """The file name of model ``name``, or of its variant for detected faces."""
    return f"{name}_faces.skops" if faces else f"{name}.skops"


def _path(name, faces=False):
    """The file of model ``name``; with ``faces``, its variant for detected faces if shipped."""
    if name not in PRETRAINED:
        raise ValueError(f"unknown pretrained model {name!r}; the names are {list(PRETRAINED)}")
    folder = resources.files(__package__)
    if faces and (folder / _file_name(name, faces)).is_file():
        return folder / _file_name(name, faces)
    path = folder / _file_name(name)
    if not path.is_file():
        raise FileNotFoundError(f"this installation of fer_sklearn ships no {name!r} model "
                                f"(looked for {path}); retrain it with "
                                f"'python benchmarks/pretrained.py {name}'")
    return path


def load_pretrained(name="fer2013", *, faces=False, device=None):
    """A fitted classifier shipped inside the package; nothing is downloaded.

    Parameters
    ----------
    name : {"fer2013", "ferplus"}, default="fer2013"
        ``"fer2013"``: the 7 FER2013 emotions (angry, disgust, fear, happy,
        sad, surprise, neutral), trained on the FER2013 Training rows
        (Goodfellow et al., 2013). ``"ferplus"``: the 8 FER+ emotions
        (neutral, happiness, surprise, sadness, anger, disgust, fear,
        contempt), trained on the FER+ majority labels of the same rows
        (Barsoum et al., 2016). :func:`pretrained_info` gives each one's
        recipe and measured PublicTest accuracy.
    faces : bool, default=False
        Return ``make_pipeline(FaceAligner(), model)``, which takes photos
        (file paths, PIL images or arrays of any size) rather than 48x48 faces.
        Where the package ships one (``"fer2013"``), the model is then a
        variant trained a few epochs more on randomly zoomed faces, to take
        the face detector's box, which frames a face less exactly than
        FER2013's crops (the scene benchmark in ``docs/faces.rst`` measures
        both); ``"ferplus"`` uses its only model.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default=None
        Where it predicts; None is ``"auto"`` (a GPU where there is one).

    Returns
    -------
    model : FERCNNClassifier or sklearn.pipeline.Pipeline
        Fitted; ``classes_`` are the emotion names, so ``predict`` returns
        ``"happy"``, not 3, and the ``predict_proba`` columns follow
        ``classes_`` (alphabetical, as scikit-learn sorts labels). Without
        ``faces``, it takes ``(n, 2304)`` grayscale pixels 0..255 of
        FER2013-framed 48x48 faces.

    Raises
    ------
    ValueError
        For an unknown ``name`` or ``device``.
    FileNotFoundError
        If this installation does not ship the model.

    Examples
    --------
    >>> from fer_sklearn.pretrained import load_pretrained
    >>> model = load_pretrained("fer2013")  # doctest: +SKIP
    >>> model.predict(faces)  # doctest: +SKIP
    array(['happy', 'neutral'], dtype='<U8')
    """
    model = load(_path(name, faces), device="auto" if device is None else device)
    if not faces:
        return model
    from sklearn.pipeline import make_pipeline

    from ..faces import FaceAligner

    return make_pipeline(FaceAligner(), model)


def pretrained_info(name="fer2013", *, faces=False):
    """The provenance a shipped model file carries.

    Parameters
    ----------
    name : {"fer2013", "ferplus"}, default="fer2013"
        The shipped model, as for :func:`load_pretrained`.
    faces : bool, default=False
        The model ``load_pretrained(name, faces=True)`` uses.

    Returns
    -------
    info : dict
        ``classes``, ``data_sha256`` (SHA-256 of the CSV files it was trained
        on), ``fer_sklearn_version``, ``git_commit``, ``recipe`` (every
        estimator parameter), ``seed``, ``publictest_accuracy`` and
        ``publictest_recall`` (of the file as shipped), ``weights_dtype``
        (``"float32"``, ``"float16"``, or ``"mixed"``: float16 in the
        ``float16_tensors`` only) with ``float16_max_proba_difference``, the
        largest change of a PublicTest probability that float16 made,
        ``fit_seconds``, ``machine`` and the ``command`` that made it; an
        ensemble adds each training run (``members``), a model trained
        further from a shipped file the ``continuation`` (its epochs,
        learning rate, zooms, seed and time).

    Raises
    ------
    ValueError, FileNotFoundError
        As :func:`load_pretrained`.
    """
    return read_metadata(_path(name, faces))
