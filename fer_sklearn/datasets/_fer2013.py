"""Loader for FER2013 (Kaggle CSV or image folders) with FER+ relabelling.

Parsing is vectorised over the whole file: one pass of NumPy's C number
parser over all pixel fields, and cheap array checks that prove every row held
exactly 2,304 well-formed values. Only when a check fails is the file scanned
row by row, to name the offending line (or to accept unusual but valid
spacing, such as leading zeros or doubled spaces).
"""

import codecs
import gzip
import hashlib
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from .. import EMOTIONS
from .._output import atomic_open
from ..faces._io import IMAGE_SUFFIXES
from ._home import get_data_home

USAGES = ("Training", "PublicTest", "PrivateTest")
"""The values of FER2013's ``Usage`` column: the Kaggle challenge's training
rows (28,709), its public test rows (3,589) and its private test rows (3,589)."""
FERPLUS_CLASSES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust",
                   "fear", "contempt")
"""FER+ class names in its label order 0..7, as in ``fer2013new.csv`` (Barsoum
et al., 2016): FER2013's emotions re-voted, plus contempt. The order differs
from :data:`fer_sklearn.EMOTIONS`."""
_FERPLUS_VOTES = FERPLUS_CLASSES + ("unknown", "NF")
_SIDE = 48
_N_PIXELS = _SIDE * _SIDE
_FOLDER_USAGE = {"train": "Training", "test": "PublicTest"}
_LABELS = ("fer", "ferplus", "ferplus-proba")
# 2: keyed on a SHA-256 of the content, and image folders read by faces.read_image
# (EXIF orientation, 16-bit scaling), so every older entry is stale.
_CACHE_VERSION = "2"
# Byte-order marks, longest first (UTF-32's LE mark starts with UTF-16's).
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32"),
         (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
# Decimal digits of each uint16 value; see _fast_pixels.
_N_DIGITS = (1 + (np.arange(2**16) >= 10) + (np.arange(2**16) >= 100)).astype(np.uint8)

_DESCR = """\
.. _fer2013_dataset:

FER2013 facial expressions
--------------------------

48x48 grayscale face crops, each labelled with one of 7 emotions (0 angry,
1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral). The official
split has 28,709 Training, 3,589 PublicTest and 3,589 PrivateTest images.
FER+ (Barsoum et al., 2016) re-labelled every image by 10 crowd votes over
8 emotions plus "unknown" and "not a face".

Goodfellow et al., "Challenges in Representation Learning: A report on three
machine learning contests", ICONIP 2013.

This copy
~~~~~~~~~
{details}
"""


def _fmt(path, line=None):
    return f"{path}: line {line}" if line is not None else str(path)


def _shown(text, limit=40):
    """``text`` (bytes or str) quoted for a message, cut to ``limit`` characters.

    A message must not echo a 9 KB pixel row.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")


# ------------------------------------------------------------------ reading
def _read_bytes(path):
    """The CSV bytes of a plain, ``.gz`` or ``.zip`` file."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".gz":
            return gzip.decompress(path.read_bytes())
        if suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.namelist()
                           if m.lower().endswith(".csv") and not m.startswith("__MACOSX")]
                if len(members) != 1:
                    raise ValueError(
                        f"{path}: expected exactly one .csv file in the archive, "
                        f"found {members or 'none'}")
                return archive.read(members[0])
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path}: cannot decompress ({exc})") from None
    return path.read_bytes()


def _plain_text(path, data):
    """The CSV bytes as BOM-less ASCII-compatible text with ``\\n`` line ends.

    Spreadsheet programs write a UTF-8 byte-order mark ("CSV UTF-8") or
    UTF-16 ("Unicode text"), Windows writes CRLF and classic Mac OS a lone CR;
    each is read as the plain file it stands for. Text in any other encoding
    with NUL bytes (UTF-16 without a mark) is refused with what was found.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            if encoding != "utf-8":
                try:
                    data = data.decode(encoding).encode("utf-8")
                except UnicodeDecodeError as exc:
                    raise ValueError(f"{path}: starts with a {encoding.upper()} byte-order mark "
                                     f"but is not valid {encoding.upper()} ({exc.reason})") from None
            else:
                data = data[len(bom):]
            break
    if b"\0" in data[:4096]:
        raise ValueError(f"{path}: the text holds NUL bytes, as UTF-16 or UTF-32 without a "
                         "byte-order mark does; save it as UTF-8 (or plain ASCII) CSV")
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data


def _columns(path, header):
    """Indices of the emotion, pixels and Usage columns (None when absent)."""
    names = [name.strip().lower() for name in header.decode("utf-8", "replace").split(",")]
    index = {}
    for want in ("emotion", "pixels", "usage"):
        hits = [i for i, name in enumerate(names) if name == want]
        if len(hits) > 1:
            raise ValueError(f"{_fmt(path, 1)}: column {want!r} appears {len(hits)} times")
        index[want] = hits[0] if hits else None
    if index["pixels"] is None:
        expected = ("expected the Kaggle header 'emotion,pixels,Usage' (or 'pixels' alone "
                    "for test.csv)")
        if names and all(name.replace(" ", "").isdigit() for name in names[:2] if name):
            raise ValueError(f"{_fmt(path, 1)}: the first line holds data, not a header "
                             f"(it starts {_shown(header, 30)}); {expected} as line 1")
        shown = ", ".join(_shown(name, 30) for name in names[:6])
        more = f" and {len(names) - 6} more" if len(names) > 6 else ""
        raise ValueError(f"{_fmt(path, 1)}: no 'pixels' column; {expected}, "
                         f"found the columns {shown}{more}")
    return index, len(names)


def _span_indices(starts, ends):
    """All positions in the half-open spans ``[starts[i], ends[i])``, concatenated."""
    lengths = ends - starts
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(lengths.sum())


def _parse_csv(path):
    """``(pixels uint8 (n, 2304), target int64 or None, usage str array or None)``."""
    data = _plain_text(path, _read_bytes(path))
    if not data.strip():
        raise ValueError(f"{path}: the file is empty")
    # Kaggle's files have none; other writers may quote fields (no field of
    # this format contains a comma, so quotes carry nothing).
    if b'"' in data:
        data = data.replace(b'"', b"")
    buf = np.frombuffer(data, np.uint8)
    newlines = np.flatnonzero(buf == ord("\n"))
    ends = newlines if data.endswith(b"\n") else np.append(newlines, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1))
    index, n_columns = _columns(path, data[:ends[0]])
    line_numbers = np.arange(1, len(ends) + 1)
    keep = ends > starts  # skip blank lines, as pandas does
    keep[0] = False  # the header
    starts, ends, line_numbers = starts[keep], ends[keep], line_numbers[keep]
    if not len(starts):
        raise ValueError(f"{path}: no data rows after the header")

    commas = np.flatnonzero(buf == ord(","))
    commas = commas[commas >= starts[0]]
    row_of = np.searchsorted(starts, commas, side="right") - 1
    n_fields = np.bincount(row_of, minlength=len(starts)) + 1
    bad = np.flatnonzero(n_fields != n_columns)
    if bad.size:
        row = bad[0]
        raise ValueError(f"{_fmt(path, line_numbers[row])}: expected {n_columns} "
                         f"comma-separated fields, found {n_fields[row]}")
    commas = commas.reshape(len(starts), n_columns - 1)
    field_starts = np.column_stack([starts, commas + 1])
    field_ends = np.column_stack([commas, ends])

    def text_column(column):
        return [data[s:e].strip() for s, e in
                zip(field_starts[:, column].tolist(), field_ends[:, column].tolist())]

    target = usage = None
    if index["emotion"] is not None:
        target = _parse_labels(path, text_column(index["emotion"]), line_numbers)
    if index["usage"] is not None:
        usage = _parse_usage(path, text_column(index["usage"]), line_numbers)
    pixel_starts = field_starts[:, index["pixels"]]
    pixel_ends = field_ends[:, index["pixels"]]
    pixels = _fast_pixels(data, starts[0], pixel_starts, pixel_ends)
    if pixels is None:
        pixels = _scan_pixels(path, data, pixel_starts, pixel_ends, line_numbers)
    return pixels, target, usage


def _parse_labels(path, fields, line_numbers):
    try:
        target = np.array(fields).astype(np.int64)
    except ValueError:
        target = None
    if target is None or target.min() < 0 or target.max() >= len(EMOTIONS):
        for field, line in zip(fields, line_numbers):
            if not (field.isdigit() and int(field) < len(EMOTIONS)):
                raise ValueError(f"{_fmt(path, line)}: emotion {_shown(field)} is not a "
                                 f"label 0..{len(EMOTIONS) - 1}")
    return target


def _parse_usage(path, fields, line_numbers):
    usage = np.array([field.decode("utf-8", "replace") for field in fields])
    bad = np.flatnonzero(~np.isin(usage, USAGES))
    if bad.size:
        raise ValueError(f"{_fmt(path, line_numbers[bad[0]])}: unknown Usage "
                         f"{_shown(str(usage[bad[0]]))}; valid values are {list(USAGES)}")
    return usage


def _fast_pixels(data, body_start, starts, ends):
    """Parse all pixel fields at once; None when the checks cannot vouch for it.

    Everything but the pixel fields is blanked and NumPy parses the rest as
    one whitespace-separated stream, as uint16 so that values 256..65535 stay
    visible. Given the right total count, each row holds exactly 2,304
    values, all of them written plainly, if and only if every field's byte
    length equals the digits of its 2,304 parsed values plus 2,303 single
    spaces: a value too many or too few in a row, a leading zero, extra
    spaces or a number wrapped past 65535 all break that equality.
    """
    stream = bytearray(data)
    # Blank from each pixel field's end to the next one's start (other fields,
    # newlines), and before the first and after the last.
    gaps = _span_indices(np.append(body_start, ends), np.append(starts, len(data)))
    np.frombuffer(stream, np.uint8)[gaps] = ord(" ")
    with warnings.catch_warnings():
        # NumPy < 2.3 warns (rather than raises) on text it cannot parse.
        warnings.simplefilter("error", DeprecationWarning)
        try:
            values = np.fromstring(bytes(memoryview(stream)[body_start:]), dtype=np.uint16,
                                   sep=" ")
        except (ValueError, DeprecationWarning):
            return None
    if values.size != len(starts) * _N_PIXELS:
        return None
    values = values.reshape(len(starts), _N_PIXELS)
    if values.max() > 255:
        return None
    digits = _N_DIGITS[values].sum(axis=1, dtype=np.int64)
    if not np.array_equal(digits + (_N_PIXELS - 1), ends - starts):
        return None
    return values.astype(np.uint8)


def _scan_pixels(path, data, starts, ends, line_numbers):
    """Row-by-row parse: raises naming the first bad line, else returns the pixels."""
    pixels = np.empty((len(starts), _N_PIXELS), np.uint8)
    for row, (start, end, line) in enumerate(zip(starts.tolist(), ends.tolist(),
                                                 line_numbers.tolist())):
        tokens = data[start:end].split()
        if len(tokens) != _N_PIXELS:
            raise ValueError(f"{_fmt(path, line)}: expected {_N_PIXELS} pixel values "
                             f"(48x48), found {len(tokens)}")
        for token in tokens:
            if not token.isdigit():
                raise ValueError(f"{_fmt(path, line)}: pixel value {_shown(token)} "
                                 "is not an integer")
            if int(token) > 255:
                raise ValueError(f"{_fmt(path, line)}: pixel value {int(token)} "
                                 "is outside 0..255")
        pixels[row] = np.array(tokens).astype(np.uint8)
    return pixels


def _parse_folder(root):
    """Images under ``root/{train,test}/<emotion>/``, read by the one image reader.

    :func:`fer_sklearn.faces.read_image` applies EXIF orientation, scales
    16-bit images and names a broken file in its error.
    """
    from ..faces import read_image

    files, labels, usage = _folder_files(root)
    pixels = np.empty((len(files), _N_PIXELS), np.uint8)
    for row, file in enumerate(files):
        array = read_image(file, mode="L")
        if array.shape != (_SIDE, _SIDE):
            raise ValueError(f"{file}: image is {array.shape[1]}x{array.shape[0]} "
                             f"pixels, expected {_SIDE}x{_SIDE}")
        pixels[row] = array.reshape(-1)
    return pixels, np.array(labels, np.int64), np.array(usage)


def _folder_files(root):
    """Image paths, labels and usages, in split, label and file-name order."""
    splits = [split for split in _FOLDER_USAGE if (root / split).is_dir()]
    if not splits:
        raise ValueError(f"{root}: expected a 'train' and/or 'test' subfolder "
                         "holding one folder per emotion")
    files, labels, usage = [], [], []
    for split in splits:
        folders = {}
        for folder in (root / split).iterdir():
            if folder.is_dir():
                if folder.name.lower() not in EMOTIONS:
                    raise ValueError(f"{folder}: unknown emotion folder; valid names "
                                     f"are {list(EMOTIONS)}")
                folders[EMOTIONS.index(folder.name.lower())] = folder
        for label in sorted(folders):
            for file in sorted(folders[label].iterdir()):
                if file.suffix.lower() in IMAGE_SUFFIXES:
                    files.append(file)
                    labels.append(label)
                    usage.append(_FOLDER_USAGE[split])
    if not files:
        raise ValueError(f"{root}: no images found under {splits}")
    return files, labels, usage


# -------------------------------------------------------------------- cache
def _fingerprint(path):
    """What the cache is keyed on: the source's absolute path and a SHA-256 of its bytes.

    For a folder, of every image's relative path and bytes. Hashing reads
    the file (about 0.06 s for the 85 MB FER2013 ``.gz``) but, unlike size
    and modification time, changes whenever the content can have changed.
    """
    digest = hashlib.sha256(f"{_CACHE_VERSION}\n{path}\n".encode("utf-8", "surrogateescape"))
    files = _folder_files(path)[0] if path.is_dir() else [path]
    for file in files:
        name = str(file.relative_to(path)) if file != path else ""
        digest.update(f"{name}\n".encode("utf-8", "surrogateescape"))
        with open(file, "rb") as handle:
            digest.update(hashlib.sha256(handle.read()).digest())
    return digest.hexdigest()


def _cache_file(path, data_home):
    name = hashlib.sha1(str(path).encode("utf-8", "surrogateescape")).hexdigest()[:20]
    folder = Path(get_data_home(data_home)) / "fer2013_cache"
    folder.mkdir(exist_ok=True)
    return folder / f"{name}.npz"


def _load_cached(path, data_home):
    """Parse ``path``, going through the cache; one entry per source path.

    A stale entry (source changed) is overwritten, not kept beside the new
    one, through the one writer (:func:`fer_sklearn._output.atomic_open`), so
    an error or interrupt never leaves a partial cache file behind. A cache
    that cannot be created or written (read-only data home, unwritable home
    folder) costs a warning, never the load.
    """
    key = _fingerprint(path)
    try:
        cache_file = _cache_file(path, data_home)
    except OSError as exc:
        warnings.warn(f"cannot use the cache for {path} ({exc}); parsed without it. "
                      "Pass cache=False, or set data_home or $FER_SKLEARN_DATA to a "
                      "writable folder", stacklevel=3)
        return _parse(path)
    try:
        with np.load(cache_file, allow_pickle=False) as cached:
            if str(cached["key"]) == key:
                return (cached["pixels"],
                        cached["target"] if "target" in cached else None,
                        cached["usage"] if "usage" in cached else None)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass  # missing, unreadable or from another version: parse afresh
    parsed = _parse(path)
    if _fingerprint(path) != key:  # edited while being parsed: which content is unknown
        return parsed
    arrays = {"key": np.array(key), "pixels": parsed[0]}
    for name, array in zip(("target", "usage"), parsed[1:]):
        if array is not None:
            arrays[name] = array
    try:
        with atomic_open(cache_file) as handle:
            np.savez(handle, **arrays)
    except OSError as exc:
        warnings.warn(f"could not write the cache {cache_file} ({exc}); {path} was "
                      "parsed without it", stacklevel=3)
    return parsed


def _parse(path):
    return _parse_folder(path) if path.is_dir() else _parse_csv(path)


# -------------------------------------------------------------------- FER+
def _ferplus(ferplus_path, source, n_rows, usage):
    """FER+ vote matrix ``(n_rows, 10)``, checked against the FER2013 rows."""
    ferplus_path = Path(ferplus_path)
    if not ferplus_path.is_file():
        raise FileNotFoundError(f"FER+ file not found: {ferplus_path}")
    try:
        frame = pd.read_csv(ferplus_path, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{ferplus_path}: cannot parse as CSV ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in ("Usage", *_FERPLUS_VOTES) if c not in frame.columns]
    if missing:
        raise ValueError(f"{_fmt(ferplus_path, 1)}: missing FER+ columns {missing}; "
                         f"found {list(frame.columns)}")
    if len(frame) != n_rows:
        raise ValueError(
            f"{ferplus_path} has {len(frame)} rows but {source} has {n_rows}; FER+ "
            "labels are matched to FER2013 by row, so both must be complete and "
            "in the original order")
    votes = frame[list(_FERPLUS_VOTES)].apply(pd.to_numeric, errors="coerce").to_numpy()
    bad = np.flatnonzero(np.isnan(votes).any(axis=1) | (votes < 0).any(axis=1))
    if bad.size:
        raise ValueError(f"{_fmt(ferplus_path, bad[0] + 2)}: votes must be "
                         "non-negative numbers")
    if usage is not None:
        bad = np.flatnonzero(frame["Usage"].astype(str).str.strip().to_numpy() != usage)
        if bad.size:
            raise ValueError(
                f"{_fmt(ferplus_path, bad[0] + 2)}: Usage {frame['Usage'].iloc[bad[0]]!r} "
                f"differs from {str(usage[bad[0]])!r} in {source}; the files are not row-aligned")
    return votes


def _ferplus_targets(votes):
    """Majority labels, the rows that have one, and the emotion-vote shares."""
    top = votes.max(axis=1)
    winners = (votes == top[:, None]).sum(axis=1)
    target = votes.argmax(axis=1)
    keep = (top > 0) & (winners == 1) & (target < len(FERPLUS_CLASSES))
    emotion_votes = votes[:, :len(FERPLUS_CLASSES)]
    with np.errstate(invalid="ignore", divide="ignore"):
        proba = emotion_votes / emotion_votes.sum(axis=1, keepdims=True)
    return target, keep, proba


# ---------------------------------------------------------------- public
def _check_usage(usage):
    if usage is None:
        return None
    chosen = [usage] if isinstance(usage, str) else list(usage)
    unknown = [u for u in chosen if u not in USAGES]
    if unknown or not chosen:
        raise ValueError(f"usage must be one of {list(USAGES)}, a list of them, or "
                         f"None; got {usage!r}")
    return chosen


def load_fer2013(path, *, usage=None, labels="fer", ferplus_path=None, return_X_y=False,
                 as_frame=False, cache=True, data_home=None):
    """Load the FER2013 facial-expression data set from a local copy.

    FER2013 cannot be downloaded without a Kaggle account, so this reads a
    copy you already have, in any of its common layouts:

    - the official Kaggle CSV ``fer2013.csv`` (columns ``emotion,pixels,Usage``),
      plain, gzip-compressed (``.gz``) or zipped (``.zip``, one ``.csv`` inside),
      with LF, CRLF or CR line ends, ASCII or UTF-8 (with or without a
      byte-order mark) or UTF-16/32 with a byte-order mark;
      the Kaggle ``train.csv`` (no ``Usage``) and ``test.csv`` (no ``emotion``;
      then ``target`` is None) variants; the column order does not matter;
    - an image folder ``path/train/<emotion>/*.png|jpg`` and
      ``path/test/<emotion>/...`` (emotion folders named as in
      :data:`fer_sklearn.EMOTIONS`, any case); ``train`` images get the usage
      ``"Training"`` and ``test`` images ``"PublicTest"``.

    Parsing is vectorised: the full 32,298-row CSV loads in about 2.5 s from
    ``.gz``, and in a fraction of a second from the cache.

    Parameters
    ----------
    path : str or path-like
        The CSV file or the image folder.
    usage : {"Training", "PublicTest", "PrivateTest"}, list of them or None, default=None
        Keep only these rows; None keeps all. Needs a ``Usage`` column.
    labels : {"fer", "ferplus", "ferplus-proba"}, default="fer"
        ``"fer"``: the original 7 labels, ``target_names`` =
        :data:`fer_sklearn.EMOTIONS`. ``"ferplus"``: the FER+ majority vote
        over its 8 emotions, in the FER+ file's column order (0 neutral,
        1 happiness, 2 surprise, 3 sadness, 4 anger, 5 disgust, 6 fear,
        7 contempt -- note this differs from the FER2013 order). Rows whose
        top vote is "unknown" or "NF" (not a face), rows without votes, and
        rows whose top vote is tied between categories are dropped, so
        every kept label is unambiguous. ``"ferplus-proba"``: the same rows
        and ``target``, plus ``target_proba``, each row's votes over the 8
        emotions divided by their sum.
    ferplus_path : str or path-like, default=None
        The FER+ ``fer2013new.csv``, needed for the ``"ferplus"`` labels. It
        must have exactly one row per row of ``path`` (in the same order);
        where both files have a ``Usage`` column they must agree.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        Make ``data`` a DataFrame of pixel columns ``pixel_0 .. pixel_2303``,
        ``target`` a Series named ``emotion``, and add ``frame``: the pixel
        columns, ``emotion`` and ``Usage`` together, as
        :func:`sklearn.datasets.fetch_openml` does.
    cache : bool, default=True
        Keep the parsed arrays in an ``.npz`` file under
        ``data_home/fer2013_cache/``, keyed by the source's absolute path and
        a SHA-256 of its content (for a folder: of every image and its name),
        and rebuilt when either changes. Nothing is ever written beside the
        source. A data home that cannot be written gives a warning and a
        load without the cache.
    data_home : str or path-like, default=None
        See :func:`get_data_home`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : ndarray of shape (n_samples, 2304), uint8
            Pixels 0..255, row-major (a DataFrame with ``as_frame=True``).
        images : ndarray of shape (n_samples, 48, 48), uint8
            The same pixels as images (a view of ``data``).
        target : ndarray of shape (n_samples,), int64, or None
            None when the file has no ``emotion`` column (Kaggle ``test.csv``).
        target_names : ndarray of str
            The class of each label value.
        target_proba : ndarray of shape (n_samples, 8)
            Only with ``labels="ferplus-proba"``.
        usage : ndarray of shape (n_samples,) of str, or None
            ``"Training"``, ``"PublicTest"`` or ``"PrivateTest"`` per row; None
            when the file has no ``Usage`` column.
        feature_names : list of str
            ``pixel_0`` .. ``pixel_2303``.
        frame : DataFrame
            Only with ``as_frame=True``.
        DESCR : str
            A description of the data set and of this copy.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        If ``path`` (or ``ferplus_path``) does not exist.
    ValueError
        For a malformed file, naming the file and, for CSV files, the
        1-based line (the header is line 1): missing columns, a row with a
        wrong field or pixel count, a non-integer pixel or one outside
        0..255, a label outside 0..6, an unknown Usage, an empty file, or a
        FER+ file with a different row count. No cache entry is written then.

    See Also
    --------
    make_faces : synthetic faces with the same classes, for quick experiments.

    Examples
    --------
    Writing a two-row file in the Kaggle format and loading it back:

    >>> import tempfile, os
    >>> from fer_sklearn.datasets import load_fer2013
    >>> rows = ["emotion,pixels,Usage",
    ...         "3," + " ".join(["128"] * 2304) + ",Training",
    ...         "6," + " ".join(["0"] * 2304) + ",PublicTest"]
    >>> path = os.path.join(tempfile.mkdtemp(), "fer2013.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("\\n".join(rows) + "\\n")
    >>> faces = load_fer2013(path, cache=False)
    >>> faces.images.shape, faces.target.tolist(), faces.usage.tolist()
    ((2, 48, 48), [3, 6], ['Training', 'PublicTest'])
    >>> X, y = load_fer2013(path, usage="Training", cache=False, return_X_y=True)
    >>> X.shape, X.dtype
    ((1, 2304), dtype('uint8'))
    """
    if labels not in _LABELS:
        raise ValueError(f"labels must be one of {list(_LABELS)}; got {labels!r}")
    if labels != "fer" and ferplus_path is None:
        raise ValueError(f"labels={labels!r} needs ferplus_path (the FER+ fer2013new.csv)")
    chosen = _check_usage(usage)
    path = Path(path).expanduser().absolute()
    if not path.exists():
        raise FileNotFoundError(f"FER2013 data not found: {path}")

    pixels, target, row_usage = _load_cached(path, data_home) if cache else _parse(path)
    notes = [f"{len(pixels)} rows read from {path}."]
    keep = np.ones(len(pixels), bool)
    target_names = np.array(EMOTIONS)
    proba = None
    if labels != "fer":
        votes = _ferplus(ferplus_path, path, len(pixels), row_usage)
        target, keep, proba = _ferplus_targets(votes)
        target_names = np.array(FERPLUS_CLASSES)
        notes.append(f"Labels: FER+ majority vote from {Path(ferplus_path).absolute()}; "
                     f"{int((~keep).sum())} rows without an unambiguous emotion majority "
                     "were dropped.")
    elif target is None:
        notes.append("The file has no emotion column (Kaggle test.csv), so target is None.")
    if chosen is not None:
        if row_usage is None:
            raise ValueError(f"usage={usage!r} but {path} has no Usage column")
        keep &= np.isin(row_usage, chosen)
        notes.append(f"Kept the rows with Usage in {chosen}.")
    if not keep.all():
        pixels = pixels[keep]
        target = None if target is None else target[keep]
        row_usage = None if row_usage is None else row_usage[keep]
        proba = None if proba is None else proba[keep]
    if row_usage is not None:
        counts = {u: int((row_usage == u).sum()) for u in USAGES if (row_usage == u).any()}
        notes.append(f"Rows per Usage: {counts}.")

    feature_names = [f"pixel_{i}" for i in range(_N_PIXELS)]
    bunch = Bunch(data=pixels, images=pixels.reshape(-1, _SIDE, _SIDE), target=target,
                  target_names=target_names, usage=row_usage, feature_names=feature_names,
                  DESCR=_DESCR.format(details="\n".join(notes)))
    if labels == "ferplus-proba":
        bunch.target_proba = proba
    if as_frame:
        frame = pd.DataFrame(pixels, columns=feature_names)
        if target is not None:
            frame["emotion"] = target
        if row_usage is not None:
            frame["Usage"] = row_usage
        bunch.frame = frame
        bunch.data = frame[feature_names]
        bunch.target = None if target is None else frame["emotion"]
    if return_X_y:
        return bunch.data, bunch.target
    return bunch
