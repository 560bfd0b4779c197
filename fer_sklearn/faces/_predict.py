"""Every face of every photograph, with its emotion, in one call: :func:`predict_images`."""

import math
import os

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from .._errors import one_line
from .._labels import class_names
from .._progress import ProgressLine
from ._align import _check_framing, crop_face
from ._detect import COLUMNS, _as_images, _detect_one, _detect_params
from ._io import expand_path, read_image


def _is_path(image):
    return isinstance(image, (str, bytes)) or hasattr(image, "__fspath__")


def _named(images):
    """``(name, source)`` per image: folders and globs expanded to their image files.

    Files keep the path as given (or found); images given as objects are named
    by their place in the input, ``images[i]``. A path that names nothing (a
    missing file, an empty folder, a pattern without a match) is kept with
    the error saying so, for its row.
    """
    named = []
    for i, image in enumerate(_as_images(images)):
        if not _is_path(image):
            named.append((f"images[{i}]", image))
            continue
        path = os.fsdecode(image)
        try:
            named.extend((file, file) for _, file in expand_path(path))
        except (OSError, ValueError) as exc:
            named.append((path, exc))
    return named


def predict_images(images, estimator=None, *, framing=None, detector="auto", min_size=0.1,
                   detector_params=None, n_jobs=None, verbose=False):
    """The emotion of every face in every photograph, as one table.

    Each image is read by :func:`read_image`, searched for faces with
    :func:`detect_faces`, and each face cut as FER2013 frames it
    (:func:`crop_face`) and classified; the sibling of
    :func:`~fer_sklearn.video.predict_video` for still images. An image
    exactly the classifier's input size (48x48 for the shipped models) is
    taken as one face already cut, as in FER2013's image folders. A file
    that cannot be read costs only its own row: the others are still
    processed.

    Parameters
    ----------
    images : str, path-like, PIL.Image.Image, ndarray, or a list of them
        Photographs of any size: files, folders (searched recursively for
        :data:`~fer_sklearn.faces._io.IMAGE_SUFFIXES`), glob patterns
        (``"holiday/*.jpg"``), PIL images, or arrays that :func:`read_image`
        reads (grey ``(H, W)``, RGB ``(H, W, 3)``); an array of shape
        ``(n, H, W)`` or ``(n, H, W, C)`` is ``n`` images.
    estimator : fitted classifier or None, default=None
        A classifier of FER2013-framed faces, ``(n, side * side)`` grey pixels
        0..255, with ``predict_proba`` and ``classes_``. None: the shipped
        FER2013 model for detected faces
        (``load_pretrained("fer2013", faces=True)``).
    framing : tuple of 3 floats or None, default=None
        See :func:`crop_face`.
    detector, min_size, detector_params
        The face detector and its settings, see :func:`detect_faces`.
    n_jobs : int or None, default=None
        Images read and searched in parallel threads. None means 1.
    verbose : bool, default=False
        Show one progress line (images done, images/s, time left) on stderr,
        where stderr is a terminal.

    Returns
    -------
    predictions : pandas.DataFrame
        One row per face, in the order of the images and, within an image,
        as :func:`detect_faces` orders them; one row for an image without a
        face (``face`` <NA>; box, probabilities and label NaN) and one for an
        image that could not be read (the same, with ``error`` saying why).
        Columns: ``image`` (the file's path, or ``images[i]`` for an image
        given as an object), ``face`` (its index in the image, from 0), ``x``,
        ``y``, ``width``, ``height`` (the box, in pixels of the image as read:
        upright), the landmarks ``left_eye_x`` ... ``mouth_right_y`` as
        :func:`detect_faces` gives them (NaN where the detector gives none),
        ``detected`` (False for an image taken whole as a face),
        ``proba_<class>`` for each class (emotion names for FER2013's 0..6),
        ``label``, ``error`` (NaN where the image was read).

    Raises
    ------
    TypeError
        ``images`` is none of the above, or ``estimator`` is not a fitted classifier.
    ValueError
        A parameter is out of range.

    See Also
    --------
    extract_faces : The faces' boxes and pixels, without classifying them.
    fer_sklearn.video.predict_video : The same for video clips, with tracks.

    Examples
    --------
    >>> from skimage.data import astronaut
    >>> from fer_sklearn.faces import predict_images
    >>> table = predict_images([astronaut(), "missing.jpg"])
    >>> table[["image", "face", "label"]]  # doctest: +SKIP
             image  face  label
    0    images[0]     0  happy
    1  missing.jpg  <NA>    NaN
    >>> table["error"].iloc[1]
    'missing.jpg: no such file or folder'
    """
    _check_framing(framing)
    params = _detect_params(detector=detector, min_size=min_size,
                            detector_params=detector_params)
    if estimator is None:
        from ..pretrained import load_pretrained

        estimator = load_pretrained("fer2013", faces=True)[-1]
    if not (hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_")):
        raise TypeError("estimator must be a fitted classifier with predict_proba and "
                        f"classes_, got {type(estimator).__name__}")
    side = math.isqrt(int(estimator.n_features_in_))
    names = class_names(estimator.classes_)
    named = _named(images)

    nothing = (np.nan,) * (4 + len(COLUMNS[8:]))  # no box, no landmarks

    def one(name, source):
        """The image's rows and its faces' pixels."""
        try:
            if isinstance(source, Exception):
                raise source
            gray = read_image(source, mode="L")
        except (OSError, ValueError) as exc:
            return [(name, pd.NA, *nothing, False, one_line(exc))], []
        if gray.shape == (side, side):
            return [(name, 0, 0, 0, side, side, *nothing[4:], False, np.nan)], [gray.ravel()]
        faces = _detect_one(gray, params)
        faces = faces[np.argsort(-faces[:, 4], kind="stable")]  # extract_faces' order
        if not len(faces):
            return [(name, pd.NA, *nothing, False, np.nan)], []
        rows = [(name, i, *face[:4], *face[6:], True, np.nan) for i, face in enumerate(faces)]
        crops = [crop_face(gray, face[:4], angle=face[5], landmarks=face[6:], size=side,
                           framing=framing).ravel() for face in faces]
        return rows, crops

    progress = ProgressLine("images", len(named), unit="images", enabled=verbose)
    rows, crops = [], []
    for image_rows, image_crops in Parallel(n_jobs=n_jobs, prefer="threads",
                                            return_as="generator")(
            delayed(one)(name, source) for name, source in named):
        rows.extend(image_rows)
        crops.extend(image_crops)
        progress.update()
    progress.close()

    geometry = ["x", "y", "width", "height", *COLUMNS[8:]]
    table = pd.DataFrame(rows, columns=["image", "face", *geometry, "detected", "error"])
    table = table.astype({"face": "Int64", **dict.fromkeys(geometry, float), "detected": bool,
                          "error": object})
    has_face = table["face"].notna().to_numpy()
    proba = np.full((len(table), len(names)), np.nan)
    if crops:
        proba[has_face] = estimator.predict_proba(np.array(crops, np.float32))
    first = table.columns.get_loc("detected") + 1
    for column, name in enumerate(names):
        table.insert(first + column, f"proba_{name}", proba[:, column])
    table.insert(first + len(names), "label", pd.Series(
        [names[i] for i in proba[has_face].argmax(axis=1)], index=table.index[has_face],
        dtype=object))
    return table
