"""Scene benchmark for :mod:`fer_sklearn.faces`: real faces on 640x480 photos.

FER2013 PublicTest faces (Goodfellow et al., 2013), whose position and label are
known, are upscaled to 100-180 pixels and pasted at a random place on a 640x480
background cut from one of scikit-image's photographs (coffee, cat, rocket,
bricks, grass, gravel, moon, coins, page, text, Hubble; none holds a human face).
A third of the scenes are then rotated by up to +-15 degrees about the face
centre, half are grey and half RGB (the face tinted to match the background's
colour balance), and every scene is stored as an in-memory JPEG (quality 90);
a quarter of those are stored sideways with an EXIF Orientation tag (6 or 8),
so the reader must turn them upright. Nothing derived from FER2013 is written
to disk.

It reports, for each detector (``--detectors``, default YuNet and Haar, side
by side in one run):

- detection recall (a face is found when a detected box has IoU >= 0.3 with the
  pasted square), the median IoU of the found faces, the false detections per
  photo, and the median milliseconds to detect the faces of one 640x480 photo
  (one thread, the photo already read);
- recall and false detections at other thresholds (Haar's ``min_score`` and
  ``min_relative_score``; YuNet's ``score_threshold``, with and without the
  turned retries): the figures behind :func:`~fer_sklearn.faces.detect_faces`'
  defaults;
- photos/s for 640x480 photos, split into reading + detection + alignment, and
  classification;
- accuracy of photo -> FaceAligner -> classifier against the same classifier on
  the original 48x48 crops: on the faces detected, and on all faces (a photo with
  no face detected gets the centre crop, ``no_face="center"``); and, to split
  the loss between the photo and the detector, the accuracy on faces cut from
  the photos at their *true* box and tilt (:func:`~fer_sklearn.faces.crop_face`
  with the pasted square and the scene's rotation): what upscaling, JPEG,
  rotation and re-cutting cost with a perfect detector;
- with ``--framing N``, FER2013's framing: each detector run on N FER2013
  Training crops upscaled to 144 px and padded by 96 px of their mean grey,
  giving the median ratio of the crop side to the box width, the median offset
  of the crop centre from the box centre (in box widths) and the median place
  of the five landmarks in the crop -- the figures behind
  :data:`fer_sklearn.faces.FER2013_FRAMING` and
  :data:`fer_sklearn.faces.FER2013_LANDMARKS`.

The classifiers are the two shipped ``fer2013`` models
(:func:`fer_sklearn.pretrained.load_pretrained`), side by side: ``"fer2013, faces=True"``,
the one ``load_pretrained("fer2013", faces=True)`` puts behind FaceAligner
(trained further on the Training faces cut again by their landmarks), and ``"fer2013"``, the one for
FER2013's crops; or ``--model path.skops`` (saved with
:func:`fer_sklearn.save`); ``--model none`` measures detection only.

Usage::

    python benchmarks/bench_faces.py --n 300 --framing 1000 --out benchmarks/results/faces.json
    python benchmarks/bench_faces.py --docs   # docs/_faces_*.rst from the JSON
"""

import argparse
import io
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DEFAULT = Path(os.environ.get("FER2013_PATH", REPO.parent / "shared/data/fer2013/fer2013.csv.gz"))
BACKGROUNDS = ("coffee", "chelsea", "rocket", "brick", "grass", "gravel", "moon", "coins",
               "page", "text", "hubble_deep_field")
SIZE = (640, 480)


def _backgrounds():
    import skimage.data

    out = []
    for name in BACKGROUNDS:
        image = getattr(skimage.data, name)()
        out.append(image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2))
    return out


def _background(images, rng):
    """A random 640x480 cut of a background photograph, resized as needed."""
    image = images[rng.randint(len(images))]
    h, w = image.shape[:2]
    scale = max(SIZE[0] / w, SIZE[1] / h) * rng.uniform(1.0, 1.5)
    resized = Image.fromarray(image).resize((int(np.ceil(w * scale)), int(np.ceil(h * scale))),
                                            Image.BICUBIC)
    x = rng.randint(resized.width - SIZE[0] + 1)
    y = rng.randint(resized.height - SIZE[1] + 1)
    return np.asarray(resized.crop((x, y, x + SIZE[0], y + SIZE[1])))


def make_scene(face, background, rng):
    """One scene: an in-memory JPEG (PIL image) and the face's square box.

    Returns ``(image, box, info)``: ``box`` is ``(x, y, side, side)`` in the
    upright photo's pixels; ``info`` says what was done.
    """
    side = int(rng.randint(100, 181))
    x = int(rng.randint(0, SIZE[0] - side + 1))
    y = int(rng.randint(0, SIZE[1] - side + 1))
    patch = np.asarray(Image.fromarray(face.reshape(48, 48)).resize((side, side), Image.BICUBIC))
    colour = bool(rng.rand() < 0.5)
    scene = background.astype(np.float32)
    if colour:  # tint the grey face with the background's mean colour balance
        tint = scene.reshape(-1, 3).mean(0)
        tint = tint / tint.mean()
        scene[y:y + side, x:x + side] = np.clip(patch[:, :, None] * tint, 0, 255)
    else:
        scene = scene.mean(2)
        scene[y:y + side, x:x + side] = patch
    scene = Image.fromarray(np.rint(scene).astype(np.uint8))
    angle = float(rng.uniform(-15, 15)) if rng.rand() < 1 / 3 else 0.0
    if angle:
        scene = scene.rotate(angle, Image.BICUBIC, center=(x + side / 2, y + side / 2))
    orientation = int(rng.choice([6, 8])) if rng.rand() < 0.25 else 1
    if orientation != 1:
        # EXIF 6: the viewer turns the stored pixels 90 degrees clockwise to show
        # them upright, so they are stored turned 90 degrees anticlockwise (8: the converse).
        scene = scene.transpose(Image.ROTATE_90 if orientation == 6 else Image.ROTATE_270)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    scene.save(buffer, "JPEG", quality=90, exif=exif)
    buffer.seek(0)
    info = {"angle": angle, "orientation": orientation, "colour": colour, "side": side}
    return Image.open(buffer), (x, y, side, side), info


def make_scenes(X, seed=0):
    """A scene per row of ``X`` (uint8, n x 2304): lists of images, boxes, infos."""
    rng = np.random.RandomState(seed)
    backgrounds = _backgrounds()
    images, boxes, infos = [], [], []
    for face in X:
        image, box, info = make_scene(face, _background(backgrounds, rng), rng)
        images.append(image)
        boxes.append(box)
        infos.append(info)
    return images, np.array(boxes, float), infos


def true_box_cuts(grays, boxes, infos):
    """Each scene's face cut at its pasted square and tilt: the detector taken out.

    ``grays`` are the upright grey scenes (:func:`~fer_sklearn.faces.read_image`),
    ``boxes`` and ``infos`` as :func:`make_scenes` returns them; one row of
    48x48 pixels per scene.
    """
    from fer_sklearn.faces import crop_face

    # PIL turned the scene anticlockwise by info["angle"]; crop_face's angle is clockwise.
    return np.stack([crop_face(gray, box, angle=-info["angle"], framing=(1.0, 0.0, 0.0)).ravel()
                     for gray, box, info in zip(grays, boxes, infos)])


def iou(a, b):
    """IoU of boxes ``(x, y, w, h)``, broadcast over leading axes."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    x0 = np.maximum(a[..., 0], b[..., 0])
    y0 = np.maximum(a[..., 1], b[..., 1])
    x1 = np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2])
    y1 = np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    return inter / (a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter)


def match(faces, boxes, threshold=0.3):
    """Per scene: IoU of the best detected box with the truth (0 if none), and false boxes."""
    best = np.zeros(len(boxes))
    false = 0
    for index, truth in enumerate(boxes):
        found = faces[faces["image"] == index][["x", "y", "width", "height"]].to_numpy(float)
        if len(found):
            overlaps = iou(found, truth)
            best[index] = overlaps.max()
            false += int((overlaps < threshold).sum())
    return best, false


def measure_framing(X, detector):
    """FER2013's framing relative to a detector's box and landmarks (medians).

    Each 48x48 crop is upscaled to 144 px (bicubic) and padded by 96 px of its
    mean grey, so the detector sees the whole crop with room around it; the
    highest-scoring face overlapping the crop (IoU >= 0.3) gives the crop side
    over the box width, the crop centre's offset from the box centre (in box
    widths) and, where the detector gives them, the five landmarks' places in
    units of the crop side (the figures behind ``FER2013_LANDMARKS``).
    """
    from fer_sklearn.faces import LANDMARKS, detect_faces

    side, pad = 144, 96
    pictures = []
    for face in X:
        patch = np.asarray(Image.fromarray(face.reshape(48, 48)).resize((side, side),
                                                                          Image.BICUBIC))
        canvas = np.full((side + 2 * pad,) * 2, int(face.mean()), np.uint8)
        canvas[pad:pad + side, pad:pad + side] = patch
        pictures.append(canvas)
    params = {"eyes": False} if detector == "haar" else {}
    faces = detect_faces(pictures, detector=detector, detector_params=params)
    truth = (pad, pad, side, side)
    ratios, points = [], []
    columns = [f"{point}_{axis}" for point in LANDMARKS for axis in "xy"]
    for index in range(len(X)):
        found = faces[faces["image"] == index]
        found = found[iou(found[["x", "y", "width", "height"]].to_numpy(float), truth) >= 0.3]
        if len(found):
            box = found.iloc[0]
            width = box["width"]
            ratios.append([side / width,
                           (pad + side / 2 - box["x"] - width / 2) / width,
                           (pad + side / 2 - box["y"] - box["height"] / 2) / width])
            points.append((box[columns].to_numpy(float) - pad) / side)
    ratios, points = np.array(ratios), np.array(points)
    median = np.median(ratios, axis=0)
    quartiles = np.percentile(ratios, [25, 75], axis=0)
    result = {"n_crops": len(X), "n_found": len(ratios),
              "scale": float(median[0]), "x_offset": float(median[1]),
              "y_offset": float(median[2]),
              "quartiles": {"scale": quartiles[:, 0].tolist(),
                            "x_offset": quartiles[:, 1].tolist(),
                            "y_offset": quartiles[:, 2].tolist()}}
    if np.isfinite(points).all():
        result["landmarks"] = np.median(points, axis=0).reshape(5, 2).round(4).tolist()
        spread = np.subtract(*np.percentile(points, [75, 25], axis=0))
        result["landmarks_iqr"] = spread.reshape(5, 2).round(4).tolist()
    return result


# Each detector's threshold settings scored against recall (the figures behind
# its defaults): Haar's two score thresholds, filtered from one unfiltered run;
# YuNet's confidence threshold, one run each (the retries depend on it).
HAAR_THRESHOLDS = [(m, r) for m in (0, 5, 10, 20, 40) for r in (0, 0.05, 0.1, 0.2, 0.3)]
YUNET_THRESHOLDS = (0.5, 0.6, 0.7)


def _timed_detection(grays, params):
    """Faces of each grey photo, one at a time on one thread, and the seconds each took."""
    from fer_sklearn.faces._detect import _detect_one, _to_frame

    found, seconds = [], []
    for gray in grays:
        start = time.perf_counter()
        found.append(_detect_one(gray, params))
        seconds.append(time.perf_counter() - start)
    return _to_frame(found), np.array(seconds)


def measure_detector(name, grays, boxes, infos):
    """Recall, false detections, time per photo and threshold sweep of one detector."""
    from fer_sklearn.faces._detect import _detect_params

    sweep = {}
    if name == "haar":
        defaults = _detect_params(detector="haar")
        # Every box, filtered below: the time is that of the defaults' passes.
        everything, seconds = _timed_detection(
            grays, dict(defaults, min_score=0, min_relative_score=0))
        best_of_image = everything.groupby("image")["score"].transform("max")

        def kept(min_score, min_relative_score):
            return everything[everything["score"] >= np.maximum(
                min_score, min_relative_score * best_of_image)]

        for min_score, relative in HAAR_THRESHOLDS:
            found, false = match(kept(min_score, relative), boxes)
            sweep[f"min_score={min_score}, min_relative_score={relative}"] = {
                "recall": float((found >= 0.3).mean()), "false_per_photo": false / len(boxes)}
        faces = kept(defaults["min_score"], defaults["min_relative_score"])
    else:
        defaults = _detect_params(detector="yunet")
        faces, seconds = _timed_detection(grays, defaults)
        for threshold in YUNET_THRESHOLDS:
            for retry in (defaults["retry_angles"], ()):
                params = dict(defaults, score_threshold=threshold, retry_angles=retry)
                found, false = match(_timed_detection(grays, params)[0], boxes)
                sweep[f"score_threshold={threshold}, retry_angles={list(retry)}"] = {
                    "recall": float((found >= 0.3).mean()),
                    "false_per_photo": false / len(boxes)}
    best, false = match(faces, boxes)
    found = best >= 0.3
    rotated = np.array([info["angle"] != 0 for info in infos])
    sideways = np.array([info["orientation"] != 1 for info in infos])
    # Which face FaceAligner keeps: is it the true one?
    kept_true = {}
    for keep, column in (("best", "score"), ("largest", "width")):
        ok = np.zeros(len(boxes), bool)
        for index, truth in enumerate(boxes):
            mine = faces[faces["image"] == index]
            if len(mine):
                row = mine.loc[mine[column].idxmax()]
                ok[index] = iou(row[["x", "y", "width", "height"]].to_numpy(float), truth) >= 0.3
        kept_true[keep] = float(ok.mean())
    framing = framing_error(faces, boxes, infos)
    return {
        "recall": float(found.mean()), "recall_rotated": float(found[rotated].mean()),
        "recall_upright": float(found[~rotated].mean()),
        "recall_exif_sideways": float(found[sideways].mean()),
        "median_iou": float(np.median(best[found])),
        "false_per_photo": false / len(boxes),
        "kept_face_is_true": kept_true,
        "median_detect_ms_per_photo": float(1000 * np.median(seconds)),
        "mean_detect_ms_per_photo": float(1000 * seconds.mean()),
        "landmarks": int(np.isfinite(faces["nose_x"]).sum()) > 0,
        "framing_error": framing,
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in defaults.items()},
        "thresholds": sweep}, found


def framing_error(faces, boxes, infos):
    """How far each found face's cut lies from FER2013's own crop (the pasted square).

    For the detected box that overlaps the truth best, the square
    :func:`~fer_sklearn.faces.crop_face` would cut (from the landmarks where
    all five are found, else from the box): medians over the found faces of
    the absolute error of its side (a share of the true side), of its centre
    (in true sides) and of its tilt (degrees).
    """
    from fer_sklearn.faces import LANDMARKS
    from fer_sklearn.faces._align import _face_frame

    columns = [f"{point}_{axis}" for point in LANDMARKS for axis in "xy"]
    errors = []
    for index, (truth, info) in enumerate(zip(boxes, infos)):
        mine = faces[faces["image"] == index]
        if not len(mine):
            continue
        overlaps = iou(mine[["x", "y", "width", "height"]].to_numpy(float), truth)
        if overlaps.max() < 0.3:
            continue
        face = mine.iloc[int(np.argmax(overlaps))]
        cx, cy, side, tilt = _face_frame(face[["x", "y", "width", "height"]].to_numpy(float),
                                         face["angle"], face[columns].to_numpy(float), None)
        true_side = truth[2]
        # PIL turned the scene anticlockwise by info["angle"]: a clockwise tilt of -angle.
        errors.append([abs(side / true_side - 1),
                       np.hypot(cx - truth[0] - true_side / 2,
                                cy - truth[1] - true_side / 2) / true_side,
                       abs(tilt + info["angle"])])
    median = np.median(errors, axis=0)
    return {"side": float(median[0]), "centre": float(median[1]), "tilt_degrees": float(median[2])}


def main(argv=None):
    """Run the benchmark; ``argv`` as the command line's (None: ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument("--n", type=int, default=300, help="scenes (PublicTest faces)")
    parser.add_argument("--detectors", nargs="+", default=["yunet", "haar"],
                        choices=["yunet", "haar"],
                        help="detectors measured side by side (default: both)")
    parser.add_argument("--model", default="fer2013",
                        help="'fer2013' (both shipped models), a classifier saved with save(), "
                             "or 'none'")
    parser.add_argument("--framing", type=int, default=0,
                        help="also measure the framing on this many Training crops")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/faces.json")
    parser.add_argument("--docs", action="store_true",
                        help="run nothing: write docs/_faces_detectors.rst and "
                             "docs/_faces_results.rst from the JSON file --out names")
    args = parser.parse_args(argv)
    if args.docs:
        write_docs(json.loads(args.out.read_text()), REPO / "docs")
        return

    from fer2013 import cpu_description  # benchmarks/ is the script's directory
    from fer_sklearn import EMOTIONS, load
    from fer_sklearn.datasets import load_fer2013
    from fer_sklearn.pretrained import load_pretrained, pretrained_info
    from fer_sklearn.faces import FaceAligner, read_image

    X, y = load_fer2013(args.data, usage="PublicTest", return_X_y=True)
    pick = np.random.RandomState(0).choice(len(X), args.n, replace=False)
    X, y = X[pick], y[pick]
    images, boxes, infos = make_scenes(X, seed=1)
    result = {"n_scenes": args.n, "python": sys.version.split()[0],
              "cpu_count": os.cpu_count(), "cpu": cpu_description(),
              "platform": platform.platform(), "command": " ".join(["python", *sys.argv])}
    if args.framing:
        train, _ = load_fer2013(args.data, usage="Training", return_X_y=True)
        crops = train[np.random.RandomState(0).choice(len(train), args.framing, replace=False)]
        result["framing"] = {name: measure_framing(crops, name) for name in args.detectors}

    start = time.perf_counter()
    grays = [read_image(image) for image in images]
    result["read_ms_per_photo"] = 1000 * (time.perf_counter() - start) / len(images)
    result["detection"], found = {}, {}
    for name in args.detectors:
        result["detection"][name], found[name] = measure_detector(name, grays, boxes, infos)
        print(name, json.dumps(result["detection"][name], indent=1), flush=True)
    result["load_average"] = os.getloadavg()[0]
    if args.model == "none":
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        return
    if args.model == "fer2013":
        if not pretrained_info("fer2013", faces=True).get("faces"):
            parser.error("this installation ships no fer2013_faces model")
        models = {"fer2013, faces=True": load_pretrained("fer2013", faces=True)[-1],
                  "fer2013": load_pretrained("fer2013")}
    else:
        models = {args.model: load(args.model)}
    if next(iter(models.values())).classes_.dtype.kind in "UO":  # predicts emotion names
        y = np.asarray(EMOTIONS)[y]
    true_cuts = true_box_cuts(grays, boxes, infos)
    result["accuracy"], result["speed"] = {}, {}
    on_crops = {name: model.predict(X) for name, model in models.items()}
    on_true_cuts = {name: model.predict(true_cuts) for name, model in models.items()}
    for detector in args.detectors:
        start = time.perf_counter()
        aligned = FaceAligner(detector=detector, no_face="center").transform(images)
        align_s = time.perf_counter() - start
        result["accuracy"][detector], classify_s = {}, []
        detected = found[detector]
        for name, model in models.items():
            start = time.perf_counter()
            on_photos = model.predict(aligned)
            classify_s.append(time.perf_counter() - start)
            crop_ok, photo_ok = on_crops[name] == y, on_photos == y
            true_ok = on_true_cuts[name] == y
            result["accuracy"][detector][name] = {
                "crops_all": float(crop_ok.mean()), "photos_all": float(photo_ok.mean()),
                "crops_detected": float(crop_ok[detected].mean()),
                "photos_detected": float(photo_ok[detected].mean()),
                "ratio_detected": float(photo_ok[detected].mean() / crop_ok[detected].mean()),
                "true_box_detected": float(true_ok[detected].mean()),
                "true_box_all": float(true_ok.mean()),
                "ratio_all": float(photo_ok.mean() / crop_ok.mean())}
        # Classification speed is the first model's: the one a photo goes through.
        result["speed"][detector] = {
            "photos_per_s_read_detect_align": len(images) / align_s,
            "photos_per_s_classify": len(images) / classify_s[0],
            "photos_per_s_end_to_end": len(images) / (align_s + classify_s[0])}
        print(detector, json.dumps(result["accuracy"][detector], indent=1),
              json.dumps(result["speed"][detector]), flush=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


# What the benchmark cannot measure: where each detector comes from.
DETECTOR_FACTS = {
    "yunet": ("YuNet (CNN)", "5", "BSD-3-Clause (libfacedetection, in the ``yuface`` wheel)",
              "CPython 3.9-3.11, x86-64 Linux and Windows, AVX2"),
    "haar": ("Haar cascades", "eyes", "BSD / Apache-2.0 (OpenCV 4.x wheel)",
             "wherever ``opencv-python-headless`` 4.x installs"),
}


def write_docs(report, folder):
    """The figures of ``report`` (this script's JSON) as the two tables of ``docs/faces.rst``.

    ``_faces_detectors.rst``: one row per detector; ``_faces_results.rst``: the
    accuracy of photo -> FaceAligner -> model, per detector and model.
    """
    n = report["n_scenes"]
    measured = (f"Measured by ``{report['command']}`` on {report['cpu']} "
                f"({report['cpu_count']} cores), {n} scenes of 640x480; detection time per "
                "photo on one thread, the photo already read (reading one JPEG: "
                f"{report['read_ms_per_photo']:.1f} ms).")
    rows = [("detector", "recall", "false detections per photo", "median ms per photo",
             "landmarks", "median error of the cut: side / centre / tilt", "licence",
             "platforms")]
    for name, figures in report["detection"].items():
        label, landmarks, licence, platforms = DETECTOR_FACTS[name]
        error = figures["framing_error"]
        rows.append((f"``{name}``: {label}", f"{figures['recall']:.1%}",
                     f"{figures['false_per_photo']:.2f}",
                     f"{figures['median_detect_ms_per_photo']:.0f}", landmarks,
                     f"{error['side']:.1%} / {error['centre']:.1%} / "
                     f"{error['tilt_degrees']:.1f} deg", licence, platforms))
    lines = [measured, "", ".. list-table::", "   :header-rows: 1", ""]
    for row in rows:
        lines += [f"   * - {row[0]}"] + [f"     - {cell}" for cell in row[1:]]
    lines += ["", "Recall counts a face found when a box overlaps it by IoU >= 0.3; the cut's "
              "error compares the square :func:`~fer_sklearn.faces.crop_face` cuts with the "
              "pasted FER2013 crop (side and centre as shares of its side). Recall and false "
              "detections at other settings, from the same run:", ""]
    for name, figures in report["detection"].items():
        settings = "; ".join(f"{key}: {value['recall']:.1%} / {value['false_per_photo']:.2f}"
                             for key, value in figures["thresholds"].items())
        lines.append(f"- ``{name}``: {settings}.")
    (folder / "_faces_detectors.rst").write_text("\n".join(lines) + "\n", encoding="utf-8")

    models = list(next(iter(report["accuracy"].values())))
    header = ["figure", *(f"{detector}, ``{model}``" for detector in report["accuracy"]
                    for model in models)]
    table = [("original 48x48 crops, detected faces", "crops_detected"),
             ("photo -> FaceAligner -> model, detected faces", "photos_detected"),
             ("-- as a share of the crops' accuracy", "ratio_detected"),
             ("cut at the true box and tilt (no detector)", "true_box_detected"),
             ("all scenes: photo -> FaceAligner -> model", "photos_all"),
             ("all scenes: original crops", "crops_all")]
    lines = [f"Accuracy of photo -> :class:`~fer_sklearn.faces.FaceAligner` -> model on the "
             f"{n} scenes, on the faces each detector found (its recall above) and on all "
             "of them (a scene with no face found gives the centre crop), for the model "
             "``load_pretrained(\"fer2013\", faces=True)`` uses and the one for FER2013's "
             "crops, from the same run:", "", ".. list-table::", "   :header-rows: 1", ""]
    lines += [f"   * - {header[0]}"] + [f"     - {cell}" for cell in header[1:]]
    for label, key in table:
        cells = [(f"{values[key]:.2f}" if key.startswith("ratio") else f"{values[key]:.1%}")
                 for detector in report["accuracy"].values() for values in detector.values()]
        lines += [f"   * - {label}"] + [f"     - {cell}" for cell in cells]
    speed = "; ".join(f"``{detector}`` {figures['photos_per_s_read_detect_align']:.1f} "
                      "photos/s read, detected and aligned, "
                      f"{figures['photos_per_s_end_to_end']:.1f} end to end"
                      for detector, figures in report["speed"].items())
    lines += ["", f"Speed, photo to label, one thread: {speed}."]
    (folder / "_faces_results.rst").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
