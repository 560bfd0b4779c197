"""``fer-sklearn predict``: the emotions of the faces in photographs, clips and FER2013 files."""

import io
import os
import sys

import numpy as np

from .._errors import one_line
from .._labels import class_names
from .._output import check_output_file
from ..faces._detect import COLUMNS, resolve_detector
from ..faces._io import _DECODE_ERRORS, IMAGE_SUFFIXES, expand_path
from ..video._read import VIDEO_SUFFIXES
from ._common import CLIError, load_model, read_data, write_text

TABLE_SUFFIXES = (".csv", ".gz", ".zip")
_ANNOTATED_VIDEO = (".mp4", ".m4v", ".mov", ".avi")


def _input_files(path):
    """The photos and clips ``path`` names (see :func:`~fer_sklearn.faces._io.expand_path`)."""
    try:
        return expand_path(path, IMAGE_SUFFIXES + VIDEO_SUFFIXES)
    except (OSError, ValueError) as exc:
        raise CLIError(one_line(exc)) from None


def _is_clip(path):
    """A video file, or an image file with more than one frame (an animated GIF)."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix in VIDEO_SUFFIXES:
        return True
    if suffix in (".gif", ".png", ".webp"):
        from PIL import Image

        try:
            with Image.open(path) as image:
                return getattr(image, "n_frames", 1) > 1
        except (*_DECODE_ERRORS, Image.DecompressionBombError):
            return False  # the image reader says what is wrong with it, naming the file
    return False


def _models(source, device):
    """The models for faces already cut and for faces found in photos or clips.

    A shipped model by name may have a variant for the face detector's
    framing (``load_pretrained(name, faces=True)``); a model file, or a
    shipped model without a variant, is used for both.
    """
    from ..pretrained import PRETRAINED, load_pretrained
    from ..pretrained._load import _path

    if not (source in PRETRAINED and not os.path.exists(source)):
        model = load_model(source, device)
        return model, model
    try:
        model = load_pretrained(source, device=device)
        if _path(source, faces=True) == _path(source):  # no variant: one file for both
            return model, model
        faces = load_pretrained(source, faces=True, device=device)[-1]
    except (OSError, ValueError) as exc:
        raise CLIError(one_line(exc)) from None
    # Both write into one table: the same columns, from faces cut the same way.
    if (list(faces.classes_) != list(model.classes_)
            or tuple(faces.image_shape_) != tuple(model.image_shape_)):
        raise CLIError(f"the shipped {source!r} models for cut and for detected faces "
                       "disagree on their classes or input size; reinstall fer_sklearn")
    return model, faces


def _clip_faces(model, clips, args):
    """Each clip's :func:`~fer_sklearn.video.predict_video` table, in the command's columns.

    A clip that cannot be decoded gives one row with its ``error``, as an
    unreadable photograph does; the others are still analysed, in parallel
    processes (``--n-jobs``).
    """
    import pandas as pd
    from joblib import Parallel, delayed

    from ..video import predict_video

    settings = dict(step=args.step, rate=args.rate, smoothing=args.smoothing,
                    detector=args.detector)
    verbose = sys.stderr.isatty() and not args.quiet and len(clips) == 1

    def one(path):
        try:
            return predict_video(path, model, verbose=verbose, **settings)
        except (OSError, ValueError) as exc:
            return pd.DataFrame({"frame": [pd.NA], "time": [np.nan], "error": [one_line(exc)]})

    tables = Parallel(n_jobs=args.n_jobs)(delayed(one)(path) for _, path in clips)
    for (name, path), table in zip(clips, tables):
        table.insert(0, "file", name)
        table.insert(1, "path", path)
    return tables


def _table_faces(model, tables, cache):
    """The faces of FER2013-style tables (.csv, .gz, .zip), cut already, as rows and pixels."""
    rows, pixels = [], []
    for name, path in tables:
        faces = read_data(path, labelled=False, cache=cache).data
        if faces.shape[1] != model.n_features_in_:
            raise CLIError(f"{path}: faces have {faces.shape[1]} pixels, the model "
                           f"expects {model.n_features_in_}")
        rows += [(name, path, i, np.nan, np.nan, np.nan, np.nan) for i in range(len(faces))]
        pixels.append(faces.astype(np.float32))
    return rows, np.concatenate(pixels)


def _photo_table(model, faces_model, photos, args, names):
    """:func:`~fer_sklearn.faces.predict_images` of the photographs, in the command's columns.

    Faces found by the detector go to ``faces_model``; an image of exactly the
    model's input size is one face cut already, as in FER2013's image folders,
    and goes to ``model``, as the faces of tables do.
    """
    from ..faces import predict_images, read_image

    table = predict_images([path for _, path in photos], faces_model, detector=args.detector,
                           n_jobs=args.n_jobs, verbose=sys.stderr.isatty() and not args.quiet)
    table.insert(0, "file", table["image"].map(dict((path, name) for name, path in photos)))
    cut = (table["face"].notna() & ~table["detected"]).to_numpy()
    if cut.any() and model is not faces_model:
        pixels = np.array([read_image(path, mode="L").ravel() for path in table["image"][cut]],
                          np.float32)
        proba = model.predict_proba(pixels)
        table.loc[cut, [f"proba_{name}" for name in names]] = proba
        table.loc[cut, "label"] = [names[i] for i in proba.argmax(axis=1)]
    return table.rename(columns={"image": "path"}).drop(columns="detected")


def _annotate_folder(folder, table, clip_tables, names, force, inputs):
    """Photographs drawn at their own size (PNG) and clips as annotated videos, in a new folder."""
    from PIL import Image

    from .._output import output_folder
    from ..faces import read_image
    from ..faces._draw import draw_faces, palette
    from ..video import annotate_video

    photos = table[table["frame"].isna()] if "frame" in table.columns else table
    photos = photos[photos["x"].notna() | photos["face"].isna()]
    colours = palette(names)
    used = set()
    with output_folder(folder, force=force, inputs=inputs) as temp:
        for path, faces in photos.groupby("path", sort=False):
            bgr = np.ascontiguousarray(read_image(path, mode="RGB")[:, :, ::-1])
            draw_faces(bgr, faces[faces["face"].notna()], colours, "face")
            target = os.path.join(temp, _annotation_name(faces["file"].iloc[0], used, ".png"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            Image.fromarray(bgr[:, :, ::-1]).save(target)
        for clip in clip_tables:
            target = os.path.join(temp, _annotation_name(clip["file"].iloc[0], used, ".mp4"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            annotate_video(clip["path"].iloc[0], clip.drop(columns=["file", "path"]), target)


def _annotation_name(name, used, suffix):
    """Where an input's drawing goes, relative to the folder: never outside it, never twice.

    Files found in a folder keep their relative path, files named directly
    their base name; ``suffix`` replaces theirs, and a name already taken
    (``x.jpg`` beside ``x.png``, two folders' ``img.jpg``) gets ``-2``, ``-3`` ...
    """
    name = os.path.normpath(name)
    if os.path.isabs(name) or name.split(os.sep)[0] == os.pardir:
        name = os.path.basename(name)
    stem = os.path.splitext(name)[0]
    target, n = stem + suffix, 1
    while target in used:
        n += 1
        target = f"{stem}-{n}{suffix}"
    used.add(target)
    return target


def _check_outputs(args, inputs, n_clips, n_photos):
    """Every output is checked before any work: refused now rather than after a long clip."""
    from .._output import _is_within, _real, check_output_folder

    files = [f for f in (None if args.out == "-" else args.out, args.timeline, args.summary)
             if f is not None]
    for path in files:
        check_output_file(path, force=args.force, inputs=inputs)
    if len({_real(f) for f in files}) < len(files):
        raise CLIError("--out, --timeline and --summary must be different files")
    if (args.timeline or args.summary) and not n_clips:
        raise CLIError("--timeline and --summary describe clips; no input is a video")
    if args.annotate is None:
        return None
    if args.annotate.lower().endswith(_ANNOTATED_VIDEO):
        if n_clips != 1 or n_photos:
            raise CLIError(f"--annotate {args.annotate} writes one video: give exactly one clip, "
                           "or name a folder to annotate several inputs")
        check_output_file(args.annotate, force=args.force, inputs=inputs)
        if args.annotate in files:
            raise CLIError("--annotate and the other outputs must be different files")
        return "video"
    check_output_folder(args.annotate, force=args.force, inputs=inputs)
    for path in files:
        if _is_within(_real(path), _real(args.annotate)):
            raise CLIError(f"{path} lies inside --annotate {args.annotate}; write it elsewhere")
    return "folder"


def predict_command(args):
    """``fer-sklearn predict``: one CSV row per face (per face and frame in a clip)."""
    import pandas as pd

    source, paths = args.model, list(args.paths)
    if source is None and len(paths) >= 2 and paths[0].lower().endswith(".skops"):
        source = paths.pop(0)  # the form `predict MODEL INPUT...`
    source = source or "fer2013"
    files = [pair for path in paths for pair in
             ([(path, path)] if path.lower().endswith(TABLE_SUFFIXES) and os.path.isfile(path)
              else _input_files(path))]
    photos, clips, seen = [], [], set()
    for name, path in files:
        # A file named twice (a file, and a folder or glob holding it) is read once.
        if os.path.realpath(path) not in seen:
            seen.add(os.path.realpath(path))
            (clips if _is_clip(path) else photos).append((name, path))
    # Every input, as given and as expanded (folders, globs), is never an output.
    inputs = [source, *(path for path in paths if os.path.exists(path)),
              *(path for _, path in files)]
    annotate = _check_outputs(args, inputs, len(clips), len(photos))

    model, faces_model = _models(source, args.device)
    try:
        resolve_detector(args.detector)
    except ImportError as exc:
        raise CLIError(str(exc)) from None
    names = class_names(model.classes_)
    proba_columns = [f"proba_{name}" for name in names]
    tables = []
    cut = [pair for pair in photos if pair[1].lower().endswith(TABLE_SUFFIXES)]
    if cut:
        rows, pixels = _table_faces(model, cut, args.cache)
        table = pd.DataFrame(rows, columns=["file", "path", "face", "x", "y", "width", "height"])
        proba = model.predict_proba(pixels)
        table["label"] = [names[i] for i in proba.argmax(axis=1)]
        table[proba_columns] = proba
        tables.append(table)
    images = [pair for pair in photos if pair not in cut]
    if images:
        tables.append(_photo_table(model, faces_model, images, args, names))
    clip_tables = _clip_faces(faces_model, clips, args) if clips else []
    for clip in clip_tables:
        tables.append(clip.rename(columns={"track": "face"}).drop(columns="detected",
                                                                  errors="ignore"))
    table = pd.concat(tables, ignore_index=True)
    if "error" not in table.columns:
        table["error"] = np.nan
    landmarks = list(COLUMNS[8:])  # NaN for faces of tables and clips, which have none
    table = table.reindex(columns=[*table.columns,
                                   *(c for c in landmarks if c not in table.columns)])
    order = ["file", "path", *(["frame", "time"] if clips else []), "face", "x", "y", "width",
             "height", *landmarks, "label", *proba_columns, "error"]
    table = table[order]
    table["face"] = table["face"].astype("Int64")
    unreadable = table["error"].dropna().tolist()
    if unreadable and not cut and len(unreadable) == len(images) + len(clips):
        if len(unreadable) == 1:
            raise CLIError(unreadable[0])
        raise CLIError(f"none of the {len(unreadable)} inputs could be read, the first: "
                       f"{unreadable[0]}; nothing written")
    for message in unreadable:
        print(f"fer-sklearn: warning: {message}", file=sys.stderr)
    table["label"] = table["label"].where(table["error"].notna(),
                                          table["label"].fillna("no face"))
    clip_tables = [clip for clip in clip_tables if "error" not in clip.columns]

    if annotate == "video":
        from ..video import annotate_video

        clip = clip_tables[0]
        try:
            annotate_video(clip["path"].iloc[0], clip.drop(columns=["file", "path"]),
                           args.annotate)
        except ValueError as exc:
            raise CLIError(one_line(exc)) from None
    elif annotate == "folder":
        _annotate_folder(args.annotate, table[table["error"].isna()], clip_tables, names,
                         args.force, inputs)
    if clip_tables:
        _clip_outputs(clip_tables, args)
    table = table.drop(columns="path")
    text = io.StringIO()
    table.to_csv(text, index=False, float_format="%.6f")
    if args.out == "-":
        sys.stdout.write(text.getvalue())
    else:
        write_text(args.out, text.getvalue())
        print(f"wrote {int(table['face'].notna().sum()):,} predictions to {args.out}")


def _clip_outputs(clip_tables, args):
    """The clips' timeline figure, and their per-track summary (printed, and as CSV)."""
    import pandas as pd

    from ..video import EmotionTimelineDisplay, track_summary

    joined = pd.concat([t.drop(columns="path").rename(columns={"file": "video"})
                        for t in clip_tables], ignore_index=True)
    if len(clip_tables) == 1:
        joined = joined.drop(columns="video")
    summary = track_summary(joined).rename_axis(
        index={"video": "file", "track": "face"}).reset_index()
    if not args.quiet:
        print(summary.to_string(index=False, float_format=lambda v: f"{v:.2f}"),
              file=sys.stderr)
    if args.summary:
        write_text(args.summary, summary.to_csv(index=False, float_format="%.6f"))
    if args.timeline:
        from .._output import atomic_open

        if summary.empty:
            raise CLIError("--timeline: no face was found in any clip, so there is nothing "
                           "to draw")
        display = EmotionTimelineDisplay.from_predictions(joined)
        with atomic_open(args.timeline) as file:
            display.figure_.savefig(file, format="png", dpi=100)
