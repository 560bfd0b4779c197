"""FaceAligner: photographs in, one FER2013-framed face per photograph out."""

import math
import numbers

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from ._detect import DETECTORS, LANDMARKS, _as_images, _detect_one, _detect_params, _to_frame
from ._io import read_image

FER2013_LANDMARKS = ((0.292, 0.389), (0.681, 0.389), (0.479, 0.590), (0.326, 0.757),
                     (0.653, 0.757))
"""Where FER2013's faces have their five landmarks, in units of the crop's side.

One (x, y) pair per landmark, from the crop's top-left corner, in the order
of :data:`LANDMARKS` (left eye, right eye, nose tip, left and right mouth
corner; left = on the image's left). Measured by ``benchmarks/bench_faces.py --framing
1000``: YuNet run on 1,000 random FER2013 Training crops upscaled to 144 px and
padded by 96 px of their mean grey; medians over the 991 crops where it found
the face (interquartile ranges 0.06-0.08 crop sides). :func:`crop_face` cuts
faces by these points wherever the detector gives all five.
"""

FER2013_FRAMING = (1.025, 0.0, 0.004)
"""How FER2013 frames a face, relative to the Haar detector's box.

``(scale, x_offset, y_offset)``: a FER2013 crop is ``scale`` box widths wide,
and its centre lies ``x_offset``, ``y_offset`` box widths right of and below
the box centre. Measured by ``benchmarks/bench_faces.py --framing``: the
detector (defaults, eyes off) run on 300 random FER2013 Training crops
upscaled to 144 px and padded by 96 px of their mean grey; medians over the
282 crops where a face was found (quartiles: scale 0.96..1.13, offsets
within +-0.025). FER2013's crops are the detector's box, nearly exactly --
as expected of a set cut with OpenCV's own Haar detector.
"""


class FaceAligner(TransformerMixin, BaseEstimator):
    """Detect, frame and crop one face per photograph, as FER2013's faces are.

    Takes raw photographs -- file paths, PIL images or arrays of any size
    (H x W, H x W x 3/4; uint8, uint16 or float), as
    :class:`~sklearn.feature_extraction.text.CountVectorizer` takes raw
    documents -- and returns one row of ``size * size`` grey pixels (0..255) per
    photograph, so ``make_pipeline(FaceAligner(), FERCNNClassifier())`` works on
    photographs. For each photograph: :func:`read_image` (upright, grey),
    :func:`detect_faces`, the face kept by ``keep``, framed as FER2013 frames
    its faces (from the five landmarks where the detector gives them,
    :data:`FER2013_LANDMARKS`, else from the box, :data:`FER2013_FRAMING`),
    turned so the eyes are level (``rotate``), cut out and resized to
    ``size`` x ``size``.

    Stateless: ``fit`` only validates the parameters.

    Parameters
    ----------
    size : int, default=48
        Side of the output face in pixels (48 for FER2013 models).
    keep : {"best", "largest"}, default="best"
        Which face when a photograph has several: the highest detector score,
        or the largest box. "best" is the default because false detections
        are often large, weakly supported boxes: among all the boxes the Haar
        detector finds on scikit-image's astronaut the largest (361 px, score
        5) is not her face (98 px, score 397), and on the scene benchmark the
        best-scored face is the true one more often than the largest (figures
        in the user guide).
    no_face : {"raise", "center", "nan"}, default="raise"
        A photograph without a face: raise a ValueError naming it; use its
        central square; or return a row of NaN (a float output).
    rotate : bool, default=True
        Turn the face upright by its tilt (from the landmarks, or the
        ``angle`` of :func:`detect_faces`: from the eyes where found, else the
        search angle that found the face).
    equalize : bool, default=False
        Equalise the histogram of each output face (OpenCV ``equalizeHist``);
        FER2013's faces were not equalised, so leave it off for models
        trained on them.
    framing : tuple of 3 floats or None, default=None
        ``(scale, x_offset, y_offset)`` relative to the detector box; None means
        FER2013's framing (see :func:`crop_face`).
    detector : {"auto", "yunet", "haar"}, default="auto"
        The face detector, see :func:`detect_faces`.
    min_size : float or int, default=0.1
        The smallest face sought, see :func:`detect_faces`.
    detector_params : dict or None, default=None
        Settings of the chosen detector, see :func:`detect_faces`.
    n_jobs : int, default=None
        Photographs read and searched in parallel (threads). None means 1.

    See Also
    --------
    detect_faces : every face of every photograph, as a DataFrame of boxes.
    read_image : the image reader.

    Notes
    -----
    The output is float32 (NaN rows need a float), values 0..255.

    Examples
    --------
    >>> from skimage.data import astronaut
    >>> from fer_sklearn.faces import FaceAligner
    >>> X = FaceAligner().fit_transform([astronaut()])
    >>> X.shape, X.dtype
    ((1, 2304), dtype('float32'))
    """

    _parameter_constraints = {
        "size": [Interval(numbers.Integral, 8, None, closed="left")],
        "keep": [StrOptions({"best", "largest"})],
        "no_face": [StrOptions({"raise", "center", "nan"})],
        "rotate": ["boolean"],
        "equalize": ["boolean"],
        "framing": [tuple, list, None],
        "detector": [StrOptions({"auto", *DETECTORS})],
        "min_size": [Interval(numbers.Real, 0, None, closed="neither")],
        "detector_params": [dict, None],
        "n_jobs": [numbers.Integral, None],
    }

    def __init__(self, *, size=48, keep="best", no_face="raise", rotate=True,
                 equalize=False, framing=None, detector="auto", min_size=0.1,
                 detector_params=None, n_jobs=None):
        self.size = size
        self.keep = keep
        self.no_face = no_face
        self.rotate = rotate
        self.equalize = equalize
        self.framing = framing
        self.detector = detector
        self.min_size = min_size
        self.detector_params = detector_params
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Raw photographs in, like a text vectoriser: not a 2-D numeric array,
        # and nothing learnt.
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = []
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Validate the parameters; nothing is learnt.

        Parameters
        ----------
        X : list of images
            Ignored except for its type (see :meth:`transform`).
        y : None
            Ignored.

        Returns
        -------
        self : FaceAligner
        """
        _as_images(X, "X")
        self._detector()
        return self

    def transform(self, X):
        """One FER2013-framed grey face per photograph.

        Parameters
        ----------
        X : list of (str, path-like, PIL.Image.Image or ndarray), or ndarray
            Photographs of any size; an array of shape (n, H, W) or
            (n, H, W, C) is n photographs.

        Returns
        -------
        faces : ndarray of float32, shape (n_photos, size * size)
            Row-major pixels 0..255; NaN rows for photographs without a face
            when ``no_face="nan"``.

        Raises
        ------
        ValueError
            A photograph has no face and ``no_face="raise"`` (the message names
            it), or cannot be read (see :func:`read_image`).
        """
        self._validate_params()
        images = _as_images(X, "X")
        params = self._detector()
        rows = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(self._one)(image, index, params) for index, image in enumerate(images))
        return np.array(rows, np.float32).reshape(len(images), self.size * self.size)

    def get_feature_names_out(self, input_features=None):
        """Pixel column names, ``pixel_0`` to ``pixel_{size*size-1}``, as :func:`load_fer2013`.

        Parameters
        ----------
        input_features : None
            Ignored: the inputs are photographs, not columns.

        Returns
        -------
        feature_names_out : ndarray of str
        """
        return np.array([f"pixel_{i}" for i in range(self.size * self.size)], dtype=object)

    def _detector(self):
        _check_framing(self.framing)
        params = _detect_params(detector=self.detector, min_size=self.min_size,
                                detector_params=self.detector_params)
        if (not self.rotate and params["detector"] == "haar"
                and "eyes" not in (self.detector_params or {})):
            # Haar's eye search only measures the tilt, which an unturned cut does not use.
            params["eyes"] = False
        return params

    def _one(self, image, index, params):
        import cv2

        gray = read_image(image, mode="L")
        faces = _detect_one(gray, params)
        if len(faces):
            face = faces[np.argmax(faces[:, 2] if self.keep == "largest" else faces[:, 4])]
            cx, cy, side, angle = _face_frame(face[:4], face[5] if self.rotate else 0.0,
                                              face[6:], self.framing)
            out = _cut(gray, cx, cy, side, angle if self.rotate else 0.0, self.size)
        elif self.no_face == "raise":
            raise ValueError(f"X[{index}] ({_name(image)}): no face found; pass "
                             "no_face='center' or 'nan' to keep going")
        elif self.no_face == "nan":
            return np.full(self.size * self.size, np.nan, np.float32)
        else:
            h, w = gray.shape
            side = min(h, w)
            out = _cut(gray, w / 2, h / 2, side, 0.0, self.size)
        if self.equalize:
            out = cv2.equalizeHist(out)
        return out.reshape(-1).astype(np.float32)


def _check_framing(framing):
    """Refuse a framing that is not (scale > 0, x_offset, y_offset) before any face is cut."""
    if framing is None:
        return
    try:
        ok = len(framing) == 3 and float(framing[0]) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"framing must be (scale > 0, x_offset, y_offset), got {framing!r}")


def extract_faces(images, *, size=48, framing=None, detector="auto", min_size=0.1,
                  detector_params=None, n_jobs=None):
    """Every face of every photograph, detected and cut as FER2013 frames its faces.

    :func:`detect_faces` then :func:`crop_face` for each face found, framed
    by its landmarks where the detector gives them and turned upright: what a
    classifier of FER2013-framed faces needs from a photograph with any
    number of people in it (where :class:`FaceAligner` keeps one face per
    photograph).

    Parameters
    ----------
    images : list of (str, path-like, PIL.Image.Image or ndarray), or ndarray
        Photographs of any size, anything :func:`read_image` reads.
    size : int, default=48
        Side of the crops in pixels.
    framing : tuple of 3 floats or None, default=None
        See :func:`crop_face`.
    detector, min_size, detector_params
        The face detector and its settings, see :func:`detect_faces`.
    n_jobs : int, default=None
        Photographs read and searched in parallel (threads).

    Returns
    -------
    faces : pandas.DataFrame
        As :func:`detect_faces` returns it: one row per face.
    crops : ndarray of float32, shape (len(faces), size * size)
        Row ``i`` is the face of ``faces.iloc[i]``, grey pixels 0..255.

    Raises
    ------
    ValueError, TypeError, FileNotFoundError
        As :func:`detect_faces`.

    Examples
    --------
    >>> from skimage.data import astronaut
    >>> from fer_sklearn.faces import extract_faces
    >>> faces, crops = extract_faces([astronaut()])
    >>> crops.shape[1], crops.dtype
    (2304, dtype('float32'))
    """
    images = _as_images(images)
    _check_framing(framing)
    params = _detect_params(detector=detector, min_size=min_size,
                            detector_params=detector_params)

    def one(image):
        gray = read_image(image, mode="L")
        faces = _detect_one(gray, params)
        faces = faces[np.argsort(-faces[:, 4], kind="stable")]  # the frame's order
        crops = [crop_face(gray, face[:4], angle=face[5], landmarks=face[6:], size=size,
                           framing=framing).ravel() for face in faces]
        return faces, np.array(crops, np.float32).reshape(len(faces), size * size)

    found = Parallel(n_jobs=n_jobs, prefer="threads")(delayed(one)(image) for image in images)
    faces = _to_frame([f for f, _ in found])
    crops = np.concatenate([c for _, c in found]) if found else np.zeros((0, size * size),
                                                                         np.float32)
    return faces, crops


def _name(image):
    """How an error names an input: its path, else its kind."""
    if isinstance(image, (str, bytes)) or hasattr(image, "__fspath__"):
        return str(image)
    filename = getattr(image, "filename", "")
    return filename or type(image).__name__


def crop_face(gray, box, *, angle=0.0, landmarks=None, size=48, framing=None):
    """Cut one FER2013-framed face out of a grey photograph.

    Where the five landmarks are given (and ``framing`` is None), the face is
    cut by the similarity transform (rotation, scale, shift; least squares)
    that takes them closest to where FER2013's faces have them
    (:data:`FER2013_LANDMARKS`): framing from the eyes, nose and mouth rather
    than from a box whose fit differs from detector to detector. Otherwise
    the box is widened and shifted by ``framing`` and turned by ``angle``.

    Parameters
    ----------
    gray : ndarray of uint8, shape (H, W)
        The photograph (see :func:`read_image`).
    box : sequence of 4 floats
        The detector's box ``(x, y, width, height)``, in pixels.
    angle : float, default=0.0
        The face's tilt in degrees (positive = clockwise on screen); the cut
        is turned by it so the face comes out upright. Unused when the
        landmarks frame the face (they give the tilt).
    landmarks : array-like of 10 floats or None, default=None
        ``left_eye_x, left_eye_y, right_eye_x, right_eye_y, nose_x, nose_y,
        mouth_left_x, mouth_left_y, mouth_right_x, mouth_right_y`` in pixels,
        as :func:`detect_faces` returns them; ignored when any is NaN.
    size : int, default=48
        Output side in pixels.
    framing : tuple of 3 floats or None, default=None
        ``(scale, x_offset, y_offset)`` relative to the box; None for
        FER2013's framing: from the landmarks where given, else
        :data:`FER2013_FRAMING`.

    Returns
    -------
    face : ndarray of uint8, shape (size, size)
        Parts of the cut outside the photograph repeat its edge pixels.

    Raises
    ------
    ValueError
        ``landmarks`` is not 10 numbers.
    """
    return _cut(gray, *_face_frame(box, angle, landmarks, framing), size)


def _face_frame(box, angle, landmarks, framing):
    """Where a face's crop lies in the photo: centre x, y, side (pixels) and tilt (degrees)."""
    if framing is None and landmarks is not None:
        points = np.asarray(landmarks, float)
        if points.size != 10:
            raise ValueError(f"landmarks must be 10 numbers (x, y of {', '.join(LANDMARKS)}), "
                             f"got shape {points.shape}")
        points = points.reshape(5, 2)
        # All five, and not all at one point (a fit needs their spread).
        if np.isfinite(points).all() and np.ptp(points, axis=0).max() > 0:
            return _landmark_frame(points)
    scale, dx, dy = FER2013_FRAMING if framing is None else framing
    x, y, w, h = (float(v) for v in box)
    theta = math.radians(angle)
    # The framing offsets are in the face's own (tilted) axes.
    cx = x + w / 2 + w * (dx * math.cos(theta) - dy * math.sin(theta))
    cy = y + h / 2 + w * (dx * math.sin(theta) + dy * math.cos(theta))
    return cx, cy, scale * w, angle


def _landmark_frame(points):
    """The crop whose FER2013 landmark positions best match ``points`` (5 x 2, pixels).

    A similarity transform ``t = a z + b`` (complex numbers: ``a`` rotates and
    scales) from the photo's points ``z`` to the template's ``t``, in crop
    units, by least squares (Umeyama, 1991).
    """
    template = np.array(FER2013_LANDMARKS)
    z = points[:, 0] + 1j * points[:, 1]
    t = template[:, 0] + 1j * template[:, 1]
    zc, tc = z - z.mean(), t - t.mean()
    a = np.sum(np.conj(zc) * tc) / np.sum(np.abs(zc) ** 2)
    b = t.mean() - a * z.mean()
    centre = (0.5 + 0.5j - b) / a
    # The photo is the template turned by -arg(a); with y pointing down, a
    # positive angle there is clockwise on screen.
    return centre.real, centre.imag, 1 / abs(a), -math.degrees(np.angle(a))


def _cut(gray, cx, cy, side, angle, size):
    """The square of ``side`` pixels centred on (cx, cy), turned upright by ``angle``."""
    import cv2

    # Cut at the crop's own resolution (at least the output's), then shrink
    # with area averaging: warpAffine alone would alias when shrinking.
    native = max(int(round(side)), size)
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, native / side)
    matrix[:, 2] += (native / 2 - cx, native / 2 - cy)
    cut = cv2.warpAffine(gray, matrix, (native, native), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    if native == size:
        return cut
    return cv2.resize(cut, (size, size), interpolation=cv2.INTER_AREA)
