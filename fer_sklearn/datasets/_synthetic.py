"""Procedurally drawn faces whose expression carries the FER2013 label.

Every face is drawn at once for a chunk of images: each pixel's coordinates
are mapped into a per-image face frame (shifted, scaled, rotated), and soft
shapes -- face, hair, eyes, brows, mouth -- are evaluated on that frame with
array arithmetic. Class evidence sits where it does in real faces (brows,
eyes, mouth); everything else is nuisance that a model must ignore.
"""

import numbers

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from .. import EMOTIONS

# Expression prototypes, in the face frame (u right, v down; the face is
# about 2 wide and 2.5 tall): eye half-height; brow inner/outer end heights;
# mouth half-width, curvature (> 0 smiles: corners above the centre), line
# half-thickness and asymmetric tilt; open-mouth half-width and half-height.
_PARAMS = ("eye_h", "brow_in", "brow_out", "mouth_w", "mouth_k", "mouth_t", "mouth_tilt",
           "open_w", "open_h")
_PROTOTYPES = np.array([
    # eye_h brow_in brow_out mouth_w mouth_k mouth_t tilt  open_w open_h
    [0.040, -0.28, -0.54, 0.24, -0.04, 0.035, 0.00, 0.00, 0.00],  # angry: V brows, pressed
    [0.040, -0.32, -0.36, 0.30, -0.07, 0.055, 0.25, 0.00, 0.00],  # disgust: low brows, sneer
    [0.125, -0.62, -0.46, 0.36, -0.04, 0.050, 0.00, 0.32, 0.10],  # fear: inner brows up, stretched
    [0.060, -0.45, -0.45, 0.42, 0.16, 0.055, 0.00, 0.00, 0.00],   # happy: smile
    [0.065, -0.58, -0.34, 0.30, -0.14, 0.050, 0.00, 0.00, 0.00],  # sad: inner brows up, frown
    [0.130, -0.64, -0.64, 0.12, 0.00, 0.050, 0.00, 0.16, 0.22],   # surprise: high brows, O
    [0.075, -0.43, -0.43, 0.33, 0.00, 0.050, 0.00, 0.00, 0.00],   # neutral
])
_NEUTRAL = _PROTOTYPES[EMOTIONS.index("neutral")]
_PARAM_JITTER = np.array([0.012, 0.03, 0.03, 0.03, 0.02, 0.006, 0.03, 0.02, 0.015])
_MOUTH_V = 0.52  # mean mouth height in the face frame
# The masks are each face's own drawn features grown by this margin, in
# face-frame units (about 2 pixels at 48x48): a feature's evidence is its
# shape, so a saliency map that explains it lies on and around its edges.
_MASK_MARGIN = 0.1
_CHUNK = 512

_DESCR = """\
.. _synthetic_faces_dataset:

Synthetic faces
---------------

Procedurally drawn grayscale faces for the 7 FER2013 emotions (0 angry,
1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral). The expression
is carried by the brows (angle and height), the eyes (openness) and the
mouth (curvature, width, openness, asymmetry), at a random intensity
between subtle and full. Position, scale, rotation, face shape, skin tone,
hair, background, lighting gradient, noise and random occluding patches
vary independently of the class.

{details}
"""


def _ramp(distance, width):
    """Soft inside-ness: 1 well inside (distance < 0), 0 outside, linear between."""
    return np.clip(0.5 - distance / width, 0.0, 1.0)


def _ellipse(dx, dy, half_x, half_y):
    """Implicit ellipse: < 0 inside, 0 on the border, > 0 outside."""
    return (dx / half_x) ** 2 + (dy / half_y) ** 2 - 1


def _draw_params(n, rng, noise):
    """All random choices for ``n`` faces, drawn in one go (so chunking is invisible)."""
    y = rng.permutation(np.arange(n) % len(EMOTIONS))
    intensity = rng.uniform(0.5, 1.0, n)[:, None]
    expression = _NEUTRAL + intensity * (_PROTOTYPES[y] - _NEUTRAL)
    expression = expression + rng.normal(size=(n, len(_PARAMS))) * _PARAM_JITTER
    expression[:, 6] *= rng.choice([-1.0, 1.0], n)  # sneer on either side
    expression[:, [0, 3, 5, 7, 8]] = np.maximum(expression[:, [0, 3, 5, 7, 8]], 0.0)
    params = dict(zip(_PARAMS, expression.T))
    params.update(
        y=y,
        cx=rng.uniform(-0.08, 0.08, n), cy=rng.uniform(-0.06, 0.08, n),
        scale=rng.uniform(0.74, 0.88, n), angle=np.deg2rad(rng.uniform(-10, 10, n)),
        face_a=rng.uniform(0.85, 1.05, n), face_b=rng.uniform(1.1, 1.3, n),
        eye_x=rng.uniform(0.32, 0.42, n), eye_y=rng.uniform(-0.22, -0.14, n),
        mouth_v=_MOUTH_V + rng.uniform(-0.05, 0.05, n),
        brow_t=rng.uniform(0.035, 0.06, n),
        skin=rng.uniform(110, 220, n), feature=rng.uniform(10, 60, n),
        hair=np.where(rng.random(n) < 0.7, rng.uniform(0, 90, n), np.nan),
        hair_line=rng.uniform(-1.0, -0.72, n),
        background=rng.uniform(20, 235, n),
        light=rng.uniform(0, 50, n), light_dir=rng.uniform(0, 2 * np.pi, n),
        occluded=rng.random(n) < 0.2, occ_value=rng.uniform(0, 255, n),
        occ_x=rng.uniform(-1, 1, n), occ_y=rng.uniform(-1, 1, n),
        occ_w=rng.uniform(0.15, 0.4, n), occ_h=rng.uniform(0.15, 0.4, n),
    )
    params["noise"] = np.full(n, 255.0 * noise)
    return params


def _render(p, grid, rng):
    """Images and masks for one chunk of parameters ``p`` (arrays of length m)."""
    col = {k: v[:, None, None] for k, v in p.items() if k != "y"}
    gx, gy = grid[None, None, :], grid[None, :, None]
    # Pixel coordinates in each face's own frame.
    dx, dy = gx - col["cx"], gy - col["cy"]
    cos, sin = np.cos(col["angle"]), np.sin(col["angle"])
    u = (cos * dx + sin * dy) / col["scale"]
    v = (-sin * dx + cos * dy) / col["scale"]
    au = np.abs(u)  # eyes and brows are mirror-symmetric
    soft = 0.06

    image = col["background"] + col["light"] * (
        np.cos(col["light_dir"]) * gx + np.sin(col["light_dir"]) * gy)
    face = _ellipse(u, v, col["face_a"], col["face_b"])
    hair_alpha = _ramp(face - 0.25, 0.1) * _ramp(v - col["hair_line"], soft)
    hair_alpha = np.where(np.isnan(col["hair"]), 0.0, hair_alpha)
    image = image + hair_alpha * (np.nan_to_num(col["hair"]) - image)
    image = image + _ramp(face, 0.1) * (col["skin"] - image)

    # The eyes and the open mouth are ellipses; ``grow`` widens them for the masks.
    def eye(grow=0.0):
        return _ellipse(au - col["eye_x"], v - col["eye_y"], 0.14 + grow,
                        col["eye_h"] + 1e-3 + grow)

    def open_mouth(grow=0.0):
        return _ellipse(u, v - col["mouth_v"] - 0.5 * col["open_h"],
                        col["open_w"] + 1e-3 + grow, col["open_h"] + 1e-3 + grow)

    alpha = _ramp(eye(), 0.6)
    # Brow: a thick segment from the inner end (|u| = 0.14) to the outer (0.62).
    t = np.clip((au - 0.14) / 0.48, 0, 1)
    brow_v = col["brow_in"] + t * (col["brow_out"] - col["brow_in"])
    off_end = np.maximum(np.maximum(0.14 - au, au - 0.62), 0)
    brow = np.abs(v - brow_v) + off_end - col["brow_t"]
    alpha = np.maximum(alpha, _ramp(brow, soft / 2))
    # Mouth: a parabolic line (smile, frown, sneer) and/or an open ellipse.
    w = np.maximum(col["mouth_w"], 0.05)
    line_v = (col["mouth_v"] + col["mouth_k"] * (1 - (u / w) ** 2) + col["mouth_tilt"] * u)
    line = np.maximum(np.abs(v - line_v) - col["mouth_t"], au - w)
    alpha = np.maximum(alpha, _ramp(line, soft / 2))
    alpha = np.maximum(alpha, _ramp(open_mouth(), 0.5))
    image = image + alpha * (col["feature"] - image)

    occluder = np.maximum(np.abs(gx - col["occ_x"]) - col["occ_w"],
                          np.abs(gy - col["occ_y"]) - col["occ_h"])
    occ_alpha = np.where(col["occluded"], _ramp(occluder, 0.02), 0.0)
    image = image + occ_alpha * (col["occ_value"] - image)
    image = image + col["noise"] * rng.standard_normal(image.shape).astype(np.float32)
    image = np.clip(image, 0, 255).astype(np.float32)

    masks = np.zeros(image.shape, np.int8)
    masks[(eye(_MASK_MARGIN) <= 0) | (brow <= _MASK_MARGIN)] = 1
    masks[(line <= _MASK_MARGIN) | (open_mouth(_MASK_MARGIN) <= 0)] = 2
    return image, masks


@validate_params(
    {
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "image_size": [Interval(numbers.Integral, 8, None, closed="left")],
        "noise": [Interval(numbers.Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "return_X_y": ["boolean"],
        "return_masks": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_faces(n_samples=1000, *, image_size=48, noise=0.05, random_state=None,
               return_X_y=False, return_masks=False):
    """Generate synthetic grayscale faces showing the 7 FER2013 emotions.

    Each face is drawn from shapes whose geometry depends on the emotion --
    brow angle and height, eye openness, mouth curvature, width, openness
    and asymmetry -- at a random intensity between subtle and full, so that
    weak expressions resemble neutral ones. The face's position, scale and
    rotation, its shape, skin tone and hair, the background, a lighting
    gradient, pixel noise and (for a quarter of the faces) an occluding
    patch vary independently of the label. Classes are balanced.

    The data set is meant for quick experiments, tests and documentation
    where FER2013 itself is unavailable, and for checking interpretation
    methods: ``return_masks=True`` says where the class evidence is.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of faces.
    image_size : int, default=48
        Side of the square images, in pixels (FER2013's is 48).
    noise : float, default=0.05
        Standard deviation of the Gaussian pixel noise, as a fraction of 255.
    random_state : int, RandomState instance or None, default=None
        Seeds every random choice; the same seed gives the same faces.
    return_X_y : bool, default=False
        Return ``(data, target)`` -- or ``(data, target, masks)`` when
        ``return_masks`` is also True -- instead of a Bunch.
    return_masks : bool, default=False
        Also return the region masks.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : ndarray of shape (n_samples, image_size ** 2), float32
            Pixel values in 0..255, row-major.
        images : ndarray of shape (n_samples, image_size, image_size), float32
            The same pixels as images (a view of ``data``).
        target : ndarray of shape (n_samples,), int64
            Emotion labels 0..6 in FER2013 order.
        target_names : ndarray of str
            :data:`fer_sklearn.EMOTIONS`: angry, disgust, fear, happy, sad,
            surprise, neutral.
        masks : ndarray of shape (n_samples, image_size, image_size), int8
            Only with ``return_masks=True``: 1 on the eyes-and-brows region,
            2 on the mouth region, 0 elsewhere (the rest of the face and the
            background). The regions are this face's own drawn brows, eyes
            and mouth, grown by about 2 pixels (at 48x48) so that they
            include the features' edges; together they cover about 14% of
            the image. The label is carried by the shapes in these regions,
            and they are given whether or not an occluding patch covers them.
        DESCR : str
            A description of how the faces are drawn.

    (data, target) or (data, target, masks) : tuple if ``return_X_y`` is True

    See Also
    --------
    load_fer2013 : the real data, with the same classes.

    Notes
    -----
    Rendering is vectorised over chunks of images (no per-pixel Python
    loops): 10,000 48x48 faces take a few seconds on one CPU core.

    The task is learnable but not trivial. Trained on 2,000 faces
    (``random_state=0``) and scored on 2,000 others (``random_state=1``),
    ``FERCNNClassifier(n_filters=8, n_blocks=3, max_epochs=5,
    random_state=0)`` (18k parameters) reached 67% test accuracy and the
    parameter-matched ``FERDNNClassifier(match_params=cnn, max_epochs=5,
    random_state=0)`` 14%, chance level (train accuracy 70% and 15%), on
    torch 2.13 CPU; the script is on the datasets page of the user guide.

    Examples
    --------
    >>> from fer_sklearn.datasets import make_faces
    >>> faces = make_faces(n_samples=70, random_state=0, return_masks=True)
    >>> faces.images.shape, faces.data.shape, faces.masks.shape
    ((70, 48, 48), (70, 2304), (70, 48, 48))
    >>> faces.target_names[faces.target[:3]].tolist()
    ['surprise', 'neutral', 'neutral']
    >>> X, y = make_faces(n_samples=14, image_size=32, random_state=0, return_X_y=True)
    >>> X.shape, sorted(set(y.tolist()))
    ((14, 1024), [0, 1, 2, 3, 4, 5, 6])
    """
    rng = check_random_state(random_state)
    params = _draw_params(n_samples, rng, noise)
    grid = ((np.arange(image_size) + 0.5) / image_size * 2 - 1).astype(np.float32)
    images = np.empty((n_samples, image_size, image_size), np.float32)
    masks = np.empty((n_samples, image_size, image_size), np.int8)
    for start in range(0, n_samples, _CHUNK):
        chunk = slice(start, start + _CHUNK)
        images[chunk], masks[chunk] = _render(
            {k: v[chunk].astype(np.float32) if v.dtype.kind == "f" else v[chunk]
             for k, v in params.items()}, grid, rng)
    data = images.reshape(n_samples, -1)
    target = params["y"].astype(np.int64)
    if return_X_y:
        return (data, target, masks) if return_masks else (data, target)
    bunch = Bunch(data=data, images=images, target=target, target_names=np.array(EMOTIONS),
                  DESCR=_DESCR.format(details=f"{n_samples} faces of {image_size}x"
                                              f"{image_size} pixels, noise={noise}."))
    if return_masks:
        bunch.masks = masks
    return bunch
