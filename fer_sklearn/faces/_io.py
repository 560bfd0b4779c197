"""The one image reader: every file, PIL image or array that becomes pixels passes here.

Orientation, bit depth, colour modes, transparency and the errors for broken
or oversized files are decided once, in :func:`read_image`, so the data-set
loader, the face transformer and the command line agree pixel for pixel.
"""

import glob
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np

_MODES = ("L", "RGB")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
"""File suffixes (lower case) taken as images where a folder is searched for them."""


def expand_path(path, suffixes=IMAGE_SUFFIXES):
    """The files a path names: itself, the files under a folder, or a glob's matches.

    Parameters
    ----------
    path : str or path-like
        A file, a folder (searched recursively for files whose suffix, in
        lower case, is one of ``suffixes``) or a glob pattern (``*``, ``?``,
        ``[``; ``**`` spans folders).
    suffixes : tuple of str, default=IMAGE_SUFFIXES

    Returns
    -------
    files : list of (str, str)
        ``(name, path)`` pairs, sorted: the name relative to a folder given,
        else the path as given (or matched).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist and is no pattern.
    ValueError
        A folder holds no such file, or a pattern matches nothing.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        found = sorted(os.path.relpath(os.path.join(root, name), path)
                       for root, _, names in os.walk(path) for name in names
                       if name.lower().endswith(suffixes))
        if not found:
            raise ValueError(f"{path}: no files ending in {', '.join(suffixes)} found")
        return [(name, os.path.join(path, name)) for name in found]
    if os.path.exists(path):
        return [(path, path)]
    if any(char in path for char in "*?["):
        matches = sorted(glob.glob(path, recursive=True))
        if not matches:
            raise ValueError(f"{path}: no file matches")
        return [pair for match in matches for pair in expand_path(match, suffixes)]
    raise FileNotFoundError(2, "no such file or folder", path)


class _ReadError(ValueError):
    """A refusal that already names the file: passed through, not re-wrapped."""


# What Pillow raises for a file it cannot decode: unknown format
# (UnidentifiedImageError, an OSError), truncated data (OSError), and, from
# some plugins, broken headers (SyntaxError, struct.error, ValueError, EOFError)
# or a corrupt deflate stream (zlib.error).
_DECODE_ERRORS = (OSError, SyntaxError, EOFError, ValueError, struct.error, zlib.error)


def read_image(source, *, mode="L"):
    """Read an image file, PIL image or array as 8-bit pixels, upright.

    The one reader of :mod:`fer_sklearn`: the image-folder loader of
    :func:`~fer_sklearn.datasets.load_fer2013`, :class:`FaceAligner`,
    :func:`detect_faces` and the command line all read through it.

    Parameters
    ----------
    source : str, path-like, PIL.Image.Image or ndarray
        An image file (any format Pillow reads), an opened PIL image, or an
        array of shape ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` (RGB) or
        ``(H, W, 4)`` (RGBA). What each kind of input means:

        - **EXIF orientation** (files and PIL images): applied, so a phone
          photo stored sideways comes out upright.
        - **16-bit** (``I;16`` images, ``uint16`` arrays): scaled to 0..255 by
          dividing by 257 (65535 maps to 255) and rounding; never clipped.
          Pillow's 32-bit integer mode ``I`` (older Pillow versions open
          16-bit PNGs so) is read on the same 16-bit scale; values outside
          0..65535 raise. Pillow already reduces 16-bit RGB files to 8 bits.
        - **Float** (mode ``F``, float arrays): read as 0..1 when the largest
          value is at most 1 (scikit-image's convention), else as 0..255 (this
          library's pixel scale); values below 0, above 255 or NaN raise. An
          image that is 0..255 but nowhere brighter than 1 is near-black either way.
        - **Other integer arrays**: read as 0..255; values outside raise.
          ``bool``: False is 0, True is 255.
        - **Colour modes**: palette (``P``, ``PA``), CMYK, YCbCr, LAB, HSV and
          1-bit images are converted by Pillow; grey from colour uses Pillow's
          ITU-R 601-2 luma (``L = 0.299 R + 0.587 G + 0.114 B``) for files and
          arrays alike.
        - **Transparency** (``RGBA``, ``LA``, ``PA``, palette transparency,
          ``(H, W, 4)`` arrays): composited over white, as image viewers show it.
        - **Animated images** (GIF, APNG, WebP): the first frame.
    mode : {"L", "RGB"}, default="L"
        ``"L"``: grey, shape ``(H, W)``. ``"RGB"``: shape ``(H, W, 3)``.

    Returns
    -------
    pixels : ndarray of uint8, shape (H, W) or (H, W, 3)
        Pixel values 0..255, in the upright orientation.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file cannot be decoded (not an image, corrupt or truncated), has
        more pixels than :data:`PIL.Image.MAX_IMAGE_PIXELS` (a possible
        decompression bomb; raise that limit, or set it to None, to read
        larger images you trust), or its values are out of range. The
        message names the file.
    TypeError
        ``source`` is none of the above, or ``mode`` is not a string.

    Examples
    --------
    >>> import numpy as np
    >>> from fer_sklearn.faces import read_image
    >>> read_image(np.array([[0, 65535]], dtype=np.uint16))
    array([[  0, 255]], dtype=uint8)
    >>> read_image(np.zeros((2, 3, 4))).shape  # fully transparent -> white
    (2, 3)
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {list(_MODES)}, got {mode!r}")
    from PIL import Image

    if isinstance(source, (str, os.PathLike)):
        return _read_file(Path(source), mode)
    if isinstance(source, Image.Image):
        return _from_pil(source, mode, _describe(source))
    if isinstance(source, np.ndarray):
        return _from_array(source, mode)
    raise TypeError("expected a file path, a PIL image or a numpy array, "
                    f"got {type(source).__name__}")


def _describe(image):
    """How an error names a PIL image: its file name when it came from one."""
    name = getattr(image, "filename", "")
    return str(name) if name else f"PIL image ({image.mode}, {image.width}x{image.height})"


def _read_file(path, mode):
    from PIL import Image

    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            # Pillow warns between MAX_IMAGE_PIXELS and twice that and raises
            # above; _check_size below refuses both alike, with the file's name.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                _check_size(image, path)
                return _from_pil(image, mode, str(path))
    except Image.DecompressionBombError as exc:
        raise ValueError(f"{path}: refused, a possible decompression bomb ({exc})") from None
    except _DECODE_ERRORS as exc:
        if isinstance(exc, (FileNotFoundError, _ReadError)):
            raise
        raise ValueError(f"{path}: cannot read the image ({type(exc).__name__}: {exc})") from None


def _check_size(image, name):
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and image.width * image.height > limit:
        raise _ReadError(
            f"{name}: refused, {image.width}x{image.height} = {image.width * image.height} "
            f"pixels is more than PIL.Image.MAX_IMAGE_PIXELS = {limit}, a possible "
            "decompression bomb; raise that limit to read images you trust")


def _from_pil(image, mode, name):
    """Upright 8-bit pixels from a PIL image (first frame if animated)."""
    from PIL import ImageOps

    try:
        image.seek(0)
    except EOFError:
        pass
    image.load()  # decode now, so a truncated file fails here, inside the caller's try
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(image).astype(np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise _ReadError(f"{name}: 32-bit integer pixels outside 0..65535 "
                             f"(min {values.min()}, max {values.max()}); convert to 8 or 16 bits")
        return _from_array(values.astype(np.uint16), mode)
    if image.mode == "F":
        return _from_array(np.asarray(image), mode, name)
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
            image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = _white_like(image)
        background.alpha_composite(image)
        image = background
    if image.mode not in (mode, "L", "RGB"):
        image = image.convert("RGB")
    return np.asarray(image.convert(mode))


def _white_like(image):
    from PIL import Image

    return Image.new("RGBA", image.size, (255, 255, 255, 255))


def _from_array(array, mode, name=None):
    """8-bit pixels from an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array."""
    from PIL import Image

    what = name or "image array"
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise ValueError(f"{what}: expected shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
                         f"got {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{what}: empty image of shape {array.shape}")
    array = _to_uint8(array, what)
    if array.ndim == 3 and array.shape[2] == 4:
        # Composite over white, as for RGBA files.
        alpha = array[:, :, 3:].astype(np.float32) / 255
        rgb = array[:, :, :3] * alpha + 255 * (1 - alpha)
        array = np.rint(rgb).astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(array))
    return np.asarray(image.convert(mode))


def _to_uint8(array, what):
    kind = array.dtype.kind
    if kind == "b":
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return np.rint(array / 257).astype(np.uint8)
    if kind in "iu":
        low, high = array.min(), array.max()
        if low < 0 or high > 255:
            raise ValueError(f"{what}: integer pixels must be 0..255 (uint16 is read as "
                             f"16-bit), got min {low}, max {high}")
        return array.astype(np.uint8)
    if kind == "f":
        if not np.isfinite(array).all():
            raise ValueError(f"{what}: pixels contain NaN or infinity")
        low, high = array.min(), array.max()
        if low < 0 or high > 255:
            raise ValueError(f"{what}: float pixels must be 0..1 or 0..255, "
                             f"got min {low:g}, max {high:g}")
        scale = 255.0 if high <= 1 else 1.0
        return np.rint(array * scale).astype(np.uint8)
    raise TypeError(f"{what}: unsupported pixel dtype {array.dtype}")
