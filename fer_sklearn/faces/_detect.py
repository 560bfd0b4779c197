"""Offline face detection: every face of every image, with its landmarks.

Two detectors, both shipped inside wheels so that nothing is downloaded:
YuNet, a CNN with five landmarks (``_yunet.py``, the ``yuface`` wheel), and
OpenCV's Haar cascades with eye centres (``_haar.py``), the portable one.
``detector="auto"`` takes YuNet wherever it runs.
"""

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from . import _haar, _yunet
from ._io import read_image

LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
"""The five facial landmarks :func:`detect_faces` reports, in its column order.

Left and right are as seen on the image (``left_eye`` is the person's right
eye), as in RetinaFace and YuNet."""

COLUMNS = ("image", "face", "x", "y", "width", "height", "score", "angle",
           *(f"{point}_{axis}" for point in LANDMARKS for axis in "xy"))

DETECTORS = ("yunet", "haar")
"""The detectors :func:`detect_faces` can run (``detector=``), besides ``"auto"``."""

_MODULES = {"yunet": _yunet, "haar": _haar}


def resolve_detector(detector):
    """The detector ``detector`` names: ``"auto"`` is YuNet where it runs, else Haar.

    Parameters
    ----------
    detector : {"auto", "yunet", "haar"}
        A detector's name, as :func:`detect_faces` takes it.

    Returns
    -------
    name : {"yunet", "haar"}
        The detector that runs on this machine.

    Raises
    ------
    ValueError
        An unknown name.
    ImportError
        ``"yunet"`` where it cannot run (no ``yuface`` wheel, or no AVX2).

    Examples
    --------
    >>> from fer_sklearn.faces import resolve_detector
    >>> resolve_detector("haar")
    'haar'
    """
    if detector == "auto":
        return "yunet" if _yunet.available() else "haar"
    if detector not in DETECTORS:
        raise ValueError(f"detector must be 'auto' or one of {list(DETECTORS)}, got "
                         f"{detector!r}")
    if detector == "yunet" and not _yunet.available():
        raise ImportError("detector='yunet' needs the yuface wheel (CPython 3.9-3.11 on "
                          "x86-64 Linux or Windows) and a CPU with AVX2; use "
                          "detector='haar' or 'auto'")
    return detector


def _as_images(images, what="images"):
    """A list of images from a list-like, a path, a PIL image or a stack array."""
    from PIL import Image

    if isinstance(images, (str, bytes)) or hasattr(images, "__fspath__") or isinstance(
            images, Image.Image):
        return [images]
    if isinstance(images, np.ndarray):
        if images.ndim not in (3, 4):
            raise ValueError(f"{what}: an array must be a stack of images of shape (n, H, W) "
                             f"or (n, H, W, C), got {images.shape}; wrap one image in a list")
        return list(images)
    if isinstance(images, (pd.DataFrame, dict)):
        raise TypeError(f"{what}: expected a list of images, got {type(images).__name__}")
    try:
        return list(images)
    except TypeError:
        raise TypeError(f"{what}: expected a list of file paths, PIL images or arrays, "
                        f"got {type(images).__name__}") from None


def detect_faces(images, *, detector="auto", min_size=0.1, detector_params=None,
                 n_jobs=None):
    """Find every face in every image, offline, with its landmarks.

    Each image is read with :func:`read_image` (upright, grey) and searched
    by ``detector``:

    - ``"yunet"``: YuNet (Wu, Peng & Yu, 2023), a CNN that returns a box, a
      confidence and five landmarks per face. The photo is searched at 640
      pixels on its longest side at most (more when ``min_size`` asks for
      smaller faces), and boxes are returned in the photo's own pixels.
      Where the upright search finds no face, turned copies are searched
      (``retry_angles``), so tilted heads are found too. Needs the
      ``yuface`` wheel (CPython 3.9-3.11, x86-64 Linux or Windows) and a CPU
      with AVX2.
    - ``"haar"``: OpenCV's Haar cascades (Viola & Jones, 2001), the detector
      FER2013 was cut with: three cascades, upright and turned by 15 degrees
      each way, merged, then the eyes sought with OpenCV's eye cascade. Runs
      wherever OpenCV 4.x does; no nose or mouth.
    - ``"auto"``: YuNet where it runs, else Haar.

    On the scene benchmark (``benchmarks/bench_faces.py``; figures in the
    user guide's "Faces in photographs" page), YuNet finds more faces, with
    fewer false detections, in a thirtieth of the time.

    Parameters
    ----------
    images : list of (str, path-like, PIL.Image.Image or ndarray), or ndarray
        The images, any size, in any form :func:`read_image` reads; a single
        path or PIL image is one image; an array of shape (n, H, W) or
        (n, H, W, C) is n images.
    detector : {"auto", "yunet", "haar"}, default="auto"
        The face detector, see above.
    min_size : float or int, default=0.1
        The smallest face sought: a fraction of the image's shorter side when
        below 1, else pixels. Smaller faces are not reported.
    detector_params : dict or None, default=None
        Settings of the chosen detector:

        - ``"yunet"``: ``score_threshold`` (0..1, default 0.6), ``retry_angles``
          (degrees, default (-15, 15, -30, 30); ``()`` searches upright only).
        - ``"haar"``: ``scale_factor`` (default 1.05), ``min_neighbors`` (2),
          ``angles`` (0, -15, 15), ``cascades`` (three frontal ones, from
          :data:`CASCADES`), ``min_score`` (10), ``min_relative_score``
          (0.1), ``eyes`` (True).
    n_jobs : int, default=None
        Images read and searched in parallel (threads; OpenCV, YuNet and
        Pillow release the GIL). None means 1, -1 all cores; see
        scikit-learn's ``n_jobs``.

    Returns
    -------
    faces : pandas.DataFrame
        One row per face, columns:

        - ``image``: position of the image in ``images``; ``face``: rank of the
          face in its image, 0 = highest score;
        - ``x``, ``y``, ``width``, ``height``: the box, in pixels of the
          upright image (top-left corner, origin top-left);
        - ``score``: YuNet's confidence (0..1), or for Haar the summed
          neighbour counts of the merged hits (larger = more passes agree);
        - ``angle``: the face's in-plane tilt in degrees (positive = turned
          clockwise on screen), from the eyes where found, else the search
          angle that found the face;
        - ``left_eye_x``, ``left_eye_y``, ``right_eye_x``, ``right_eye_y``,
          ``nose_x``, ``nose_y``, ``mouth_left_x``, ``mouth_left_y``,
          ``mouth_right_x``, ``mouth_right_y``: the :data:`LANDMARKS` in
          pixels (left = on the image's left); NaN where the detector gives
          none (Haar: nose and mouth always, eyes where not found).

        Images without a face have no rows.

    Raises
    ------
    ValueError, TypeError, FileNotFoundError
        From :func:`read_image`, naming the image; or a bad parameter.
    ImportError
        ``detector="yunet"`` where it cannot run.

    References
    ----------
    W. Wu, H. Peng and S. Yu, "YuNet: A tiny millisecond-level face detector",
    Machine Intelligence Research 20, 2023.
    P. Viola and M. Jones, "Rapid object detection using a boosted cascade of
    simple features", CVPR 2001.

    Examples
    --------
    >>> from skimage.data import astronaut
    >>> from fer_sklearn.faces import detect_faces
    >>> faces = detect_faces([astronaut()], detector="haar")
    >>> faces.iloc[0][["x", "y", "width"]].round(-1).tolist()  # her face, in pixels
    [170.0, 70.0, 100.0]
    """
    images = _as_images(images)
    params = _detect_params(detector=detector, min_size=min_size,
                            detector_params=detector_params)
    found = Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(_detect_one)(image, params) for image in images)
    return _to_frame(found)


def _detect_params(*, detector="auto", min_size=0.1, detector_params=None, max_width=None):
    """The checked settings of one detection pass, with :func:`detect_faces`' defaults.

    ``detector_params`` holds the chosen detector's own settings only;
    ``max_width`` caps the search image's width (video: speed over reach).
    """
    name = resolve_detector(detector)
    if not (isinstance(min_size, (int, float)) and not isinstance(min_size, bool)
            and min_size > 0):
        raise ValueError(f"min_size must be a positive number, got {min_size!r}")
    detector_params = dict(detector_params or {})
    settings = _MODULES[name].settings
    unknown = sorted(set(detector_params) - set(settings.__kwdefaults__))
    if unknown:
        chosen = (f"detector 'auto' chose {name!r} on this machine; name the detector whose "
                  "settings these are" if detector == "auto" else f"detector {name!r}")
        raise ValueError(f"detector_params: unknown keys {unknown} for {chosen}; valid keys "
                         f"are {sorted(settings.__kwdefaults__)}")
    return dict(settings(**detector_params), detector=name, min_size=min_size,
                max_width=max_width)


def _detect_one(source, params):
    """Faces of one image (read grey), an (n, 16) array: box, score, angle, landmarks."""
    gray = read_image(source, mode="L")
    min_size = params["min_size"]
    min_side = min_size * min(gray.shape) if min_size < 1 else min_size
    return _MODULES[params["detector"]].detect(gray, min_side, params)


def _to_frame(found):
    rows = []
    for index, faces in enumerate(found):
        faces = faces[np.argsort(-faces[:, 4], kind="stable")]
        for rank, face in enumerate(faces):
            rows.append([index, rank, *face])
    frame = pd.DataFrame(rows, columns=list(COLUMNS)) if rows else pd.DataFrame(
        {c: pd.Series(dtype=float) for c in COLUMNS})
    return frame.astype({"image": np.int64, "face": np.int64})
