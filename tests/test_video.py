"""fer_sklearn.video: clips made here, with the truth known frame by frame.

Faces are real: FER2013 PublicTest faces where ../shared has them (CI does),
labelled with their FER2013 emotion and kept only where the shipped model is
right on the crop; else the real faces shipped in scikit-image's wheel
(``lfw_subset`` and the astronaut), labelled with what the shipped model says
of the crop itself. Either way a face is kept only where one still frame of it
gives the same label, so each test checks what the video path adds: decoding,
detection every few frames, tracking, batching, smoothing, outputs.
"""

import tracemalloc

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fer_sklearn.cli import main
from fer_sklearn.faces import extract_faces
from fer_sklearn.pretrained import load_pretrained
from fer_sklearn.video import (EmotionTimelineDisplay, annotate_video, predict_video,
                               track_summary)

from _real_data import FER2013 as REAL, present

cv2 = pytest.importorskip("cv2")

W, H, SIDE, FPS = 640, 480, 160, 25


@pytest.fixture(scope="module")
def model():
    """The model predict_video and the command use by default, for detected faces."""
    return load_pretrained("fer2013", faces=True)[-1]


def _background():
    y, x = np.mgrid[0:H, 0:W]
    return (90 + 60 * x / W + 20 * np.sin(y / 40)).astype(np.uint8)


BACKGROUND = _background()


def _frame(placements):
    """An RGB frame with each ``(face, x, y)`` pasted as a SIDE x SIDE square."""
    gray = BACKGROUND.copy()
    for face, x, y in placements:
        x, y = int(round(x)), int(round(y))
        gray[y:y + SIDE, x:x + SIDE] = cv2.resize(face, (SIDE, SIDE),
                                                  interpolation=cv2.INTER_CUBIC)
    return np.repeat(gray[:, :, None], 3, axis=2)


def _write(path, frames):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
    writer.release()
    return path


def _candidates(model):
    """Real 48x48 faces and their known labels (see the module docstring)."""
    if present(REAL):
        from fer_sklearn.datasets import load_fer2013

        bunch = load_fer2013(REAL)
        test = np.flatnonzero(bunch.usage == "PublicTest")[:300]
        faces = bunch.data[test].reshape(-1, 48, 48).astype(np.uint8)
        truth = np.asarray(bunch.target_names)[bunch.target[test]]
        right = model.predict(bunch.data[test]) == truth
        return faces[right], truth[right]
    from skimage.data import astronaut, lfw_subset


    lfw = np.array([cv2.resize(np.rint(f * 255).astype(np.uint8), (48, 48),
                               interpolation=cv2.INTER_CUBIC) for f in lfw_subset()[:100]])
    _, crop = extract_faces([astronaut()])
    faces = np.concatenate([crop[:1].reshape(1, 48, 48).astype(np.uint8), lfw])
    return faces, model.predict(faces.reshape(len(faces), -1).astype(np.float32))


@pytest.fixture(scope="module")
def known(model):
    """Faces whose label still frames reproduce: ``{label: [face, ...]}``.

    The frames put the face where the tests put it, at the centre and at both
    ends of the moves they make, and then along the command test's move with
    predict_video's own settings (a detection every 5 frames, tracking in
    between); a face kept is one whose label the model gives, by a margin,
    wherever the detector's box falls on it. Which faces pass depends on the
    model's precision and on the source of faces, so the tests' verdicts must not.
    """
    faces, labels = _candidates(model)
    places = [(240, 160), (200, 140), (290, 150)]
    found = {}

    def reproduced(rows, label, x):
        return (len(rows) == len(x) and (rows["label"] == label).all()
                and (rows.filter(like="proba_").max(axis=1) >= 0.5).all()
                and (np.abs(rows["x"] - x) < 0.15 * SIDE).all())

    for face, label in zip(faces, labels):
        if sum(map(len, found.values())) >= 8:
            break
        rows = predict_video(np.array([_frame([(face, x, y)]) for x, y in places]), model,
                             detect_every=1)
        if not reproduced(rows, label, [x for x, _ in places]):
            continue
        moved = predict_video(np.array([_frame([(face, 230 + i, 150)]) for i in range(60)]),
                              model)
        if reproduced(moved, label, 230 + np.arange(60)):
            found.setdefault(label, []).append(face)
    assert len(found) >= 2, f"too few usable faces: {found.keys()}"
    return found


def _two_labels(known):
    (a, faces_a), (b, faces_b) = list(known.items())[:2]
    return a, faces_a[0], b, faces_b[0]


def _accuracy(table, frames, label):
    """Share of ``frames`` with a face found, and share of those faces labelled ``label``."""
    rows = table[table["frame"].isin(frames)]
    faces = rows[rows["label"].notna()]
    return len(faces) / len(frames), float(np.mean(faces["label"] == label))


# ---------------------------------------------------------------- the command
def test_expression_change_through_the_command(known, tmp_path):
    a, face_a, b, face_b = _two_labels(known)
    clip = _write(tmp_path / "clip.mp4", (_frame([(face_a if i < 30 else face_b, 230 + i, 150)])
                                          for i in range(60)))
    out, timeline, summary = tmp_path / "out.csv", tmp_path / "t.png", tmp_path / "s.csv"
    annotated = tmp_path / "annotated.mp4"
    status = main(["predict", str(clip), "--out", str(out), "--timeline", str(timeline),
                   "--summary", str(summary), "--annotate", str(annotated), "--quiet"])
    assert status == 0
    table = pd.read_csv(out)
    assert list(table.columns[:4]) == ["file", "frame", "time", "face"]
    assert table["frame"].tolist() == list(range(60))  # one face in every frame
    np.testing.assert_allclose(table["time"], np.arange(60) / FPS)
    for frames, label in [(range(0, 30), a), (range(30, 60), b)]:
        # The clip is decoded from MPEG-4, not the frames the faces were chosen on:
        # a missed detection may cost the 5 frames up to the next.
        found, accuracy = _accuracy(table, frames, label)
        assert found >= 0.8 and accuracy >= 0.9, (label, found, accuracy)

    shares = pd.read_csv(summary)
    assert shares[[a, b]].sum(axis=1).min() > 0.8
    assert Image.open(timeline).format == "PNG"
    capture = cv2.VideoCapture(str(annotated))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 60
    ok, drawn = capture.read()
    assert ok and np.abs(drawn.astype(int) - _frame([(face_a, 230, 150)])).max() > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["annotated.mp4", "clip.mp4", "out.csv", "s.csv", "t.png"])


def test_an_interrupted_command_writes_nothing(known, tmp_path, monkeypatch):
    from fer_sklearn.video import _predict

    a, face_a, _, _ = _two_labels(known)
    clip = _write(tmp_path / "clip.mp4", (_frame([(face_a, 230, 150)]) for _ in range(30)))
    calls = []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return detect(*args)

    detect = _predict._detect_one
    monkeypatch.setattr(_predict, "_detect_one", interrupted)
    status = main(["predict", str(clip), "--out", str(tmp_path / "out.csv"), "--timeline",
                   str(tmp_path / "t.png"), "--annotate", str(tmp_path / "folder"), "--quiet"])
    assert status == 130
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


# -------------------------------------------------------------------- tracks
def test_two_faces_crossing_keep_their_tracks(known, model):
    faces = [f for group in known.values() for f in group][:2]
    # Face 0 goes right along the top path, face 1 left along a path 70 px
    # lower: their boxes overlap (IoU up to 0.3) as they pass.
    def boxes(i):
        return [(40 + 7 * i, 120), (440 - 7 * i, 190)]

    frames = np.array([_frame([(f, x, y) for f, (x, y) in zip(faces, boxes(i))])
                       for i in range(58)])
    table = predict_video(frames, model, frame_rate=FPS)
    seen = table[table["track"].notna()]
    # Each row's true face: the nearer of the two true positions.
    truth = [int(np.argmin([abs(row.x - x) + abs(row.y - y) for x, y in boxes(row.frame)]))
             for row in seen.itertuples()]
    by_track = pd.crosstab(seen["track"], np.array(truth))
    assert (by_track > 0).sum(axis=1).max() == 1, by_track  # no track holds both faces
    # And the crossing (frames 25-33) does not hand a face a new track.
    for face in (0, 1):
        before = set(seen["track"][(np.array(truth) == face) & (seen["frame"] < 20)])
        after = set(seen["track"][(np.array(truth) == face) & (seen["frame"] > 40)])
        assert len(before) == 1 and before == after, by_track
    # Away from the crossing both faces are seen; the hidden one is not
    # reported while it is hidden, but keeps its track.
    counts = table.groupby("frame").size()
    assert (counts[(counts.index < 20) | (counts.index > 40)] == 2).mean() > 0.9


def test_frames_without_a_face(known, model):
    a, face_a, _, _ = _two_labels(known)
    frames = np.array([_frame([(face_a, 240, 160)] if 10 <= i < 30 else []) for i in range(40)])
    table = predict_video(frames, model, detect_every=1)
    empty = table[(table["frame"] < 10) | (table["frame"] >= 30)]
    assert len(empty) == 20 and empty["track"].isna().all() and empty["label"].isna().all()
    assert empty[["x", "proba_happy"]].isna().all().all()
    faces = table[(table["frame"] >= 10) & (table["frame"] < 30)]
    assert faces["track"].notna().all() and faces["track"].nunique() == 1
    assert (faces["label"] == a).mean() >= 0.9
    np.testing.assert_allclose(faces.filter(like="proba_").sum(axis=1), 1, atol=1e-5)


def test_frames_between_detections_are_cut_by_the_carried_landmarks(model):
    # A still clip of a real photograph: the frames between two detections reuse the last
    # detection's box, tilt and five landmarks, so they are cut, and classified, as the
    # detected frame is; that frame is cut as FaceAligner cuts the photograph.
    from skimage import data as skimage_data

    from fer_sklearn.faces import FaceAligner, detect_faces

    photo = skimage_data.astronaut()
    if detect_faces([photo])[["nose_x", "mouth_left_x"]].isna().any(axis=None):
        pytest.skip("the detector here gives no nose and mouth landmarks (Haar)")
    table = predict_video(np.repeat(photo[None], 4, axis=0), model, detect_every=4)
    assert table["detected"].tolist() == [True, False, False, False]
    proba = table.filter(like="proba_").to_numpy()
    np.testing.assert_allclose(proba[1:], np.repeat(proba[:1], 3, axis=0), atol=1e-6)
    aligned = model.predict_proba(FaceAligner().transform([photo]))
    np.testing.assert_allclose(proba[0], aligned[0], atol=1e-5)


def test_memory_does_not_grow_with_the_clip(known, model):
    faces = list(known.values())[0]

    def peak(n):
        frames = (_frame([(faces[0], 200 + i % 50, 150)]) for i in range(n))  # made lazily
        tracemalloc.start()
        table = predict_video(frames, model)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert len(table) == n
        return top

    short, long = peak(40), peak(120)
    # Each frame is 0.9 MB: holding the clip would add 72 MB; the table adds ~30 KB.
    assert long - short < 3e6, (short, long)


# ------------------------------------------------------------ inputs, settings
def test_animated_gif_step_rate_and_times(known, model, tmp_path):
    a, face_a, _, _ = _two_labels(known)
    images = [Image.fromarray(_frame([(face_a, 200 + 5 * i, 150)])) for i in range(10)]
    path = tmp_path / "clip.gif"
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)
    table = predict_video(path, model, step=3)
    assert table["frame"].tolist() == [0, 3, 6, 9]
    np.testing.assert_allclose(table["time"], [0, 0.3, 0.6, 0.9])
    assert (table["label"] == a).all()

    video = _write(tmp_path / "clip.mp4", (np.asarray(i) for i in images))
    assert predict_video(video, model, rate=12.5)["frame"].tolist() == [0, 2, 4, 6, 8]
    frames = np.array([np.asarray(i) for i in images])
    assert predict_video(frames, model)["time"].isna().all()  # no frame rate given
    with pytest.raises(ValueError, match="rate needs the clip's frame rate"):
        predict_video(frames, model, rate=5)
    with pytest.raises(ValueError, match="smoothing needs each frame's time"):
        predict_video(frames, model, smoothing=0.5)


def test_smoothing_is_the_documented_moving_average(known, model):
    (a, faces_a), (b, faces_b) = list(known.items())[:2]
    frames = np.array([_frame([(faces_a[0] if i < 8 else faces_b[0], 240, 160)])
                       for i in range(16)])
    raw = predict_video(frames, model, frame_rate=10, detect_every=1)
    smooth = predict_video(frames, model, frame_rate=10, detect_every=1, smoothing=0.3)
    columns = [c for c in raw.columns if c.startswith("proba_")]
    weight = 1 - np.exp(-0.1 / 0.3)
    expected = raw[columns].to_numpy().copy()
    for k in range(1, len(expected)):
        expected[k] = weight * expected[k] + (1 - weight) * expected[k - 1]
    np.testing.assert_allclose(smooth[columns].to_numpy(), expected, rtol=1e-6)
    # The label follows the smoothed probabilities: it changes later than the face.
    first_b = smooth["frame"][smooth["label"] == b].min()
    assert first_b > raw["frame"][raw["label"] == b].min()


def test_bad_inputs_name_what_is_wrong(model, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        predict_video(tmp_path / "missing.mp4", model)
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    with pytest.raises(ValueError, match="broken.mp4: cannot be decoded"):
        predict_video(broken, model)
    with pytest.raises(ValueError, match="frame 2"):
        predict_video([np.zeros((40, 40))] * 2 + [np.zeros((40, 40, 7))], model)
    with pytest.raises(TypeError, match="video must be"):
        predict_video(3, model)
    for name, value in [("step", 0), ("detect_every", 1.5), ("smoothing", -1),
                        ("min_face_size", 0), ("batch_size", True)]:
        with pytest.raises(ValueError, match=name):
            predict_video(np.zeros((2, 40, 40)), model, **{name: value})
    with pytest.raises(TypeError, match="fitted classifier"):
        predict_video(np.zeros((2, 40, 40)), object())


# ----------------------------------------------------- summary, display, video
def test_summary_display_and_annotation(known, model, tmp_path):
    a, face_a, b, face_b = _two_labels(known)
    frames = np.array([_frame([(face_a if i < 15 else face_b, 240, 160)]) for i in range(20)])
    table = predict_video(frames, model, frame_rate=10)
    summary = track_summary(table)
    assert summary.index.name == "track" and summary["n_frames"].sum() == 20
    row = summary.iloc[0]
    assert row["dominant"] == a and row[a] >= 0.6 and row["end"] == pytest.approx(1.9)
    names = [c[len("proba_"):] for c in table.columns if c.startswith("proba_")]
    np.testing.assert_allclose(summary[names].sum(axis=1), 1)

    display = EmotionTimelineDisplay.from_predictions(table)
    assert len(display.axes_) == len(summary)
    line = display.lines_[summary.index[0]][a]
    np.testing.assert_allclose(np.asarray(line.get_ydata(), float)[:3],
                               table[f"proba_{a}"].iloc[:3])
    with pytest.raises(ValueError, match="not in predictions"):
        EmotionTimelineDisplay.from_predictions(table, tracks=[99])

    out = tmp_path / "drawn.avi"
    annotate_video(frames, table, out, frame_rate=10)
    capture = cv2.VideoCapture(str(out))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 20

    def failing():
        yield from frames[:5]
        raise RuntimeError("camera unplugged")

    with pytest.raises(RuntimeError, match="unplugged"):
        annotate_video(failing(), table, tmp_path / "partial.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drawn.avi"]
    with pytest.raises(ValueError, match="must be one of"):
        annotate_video(frames, table, tmp_path / "x.gif")


# ------------------------------------------------------------------ many clips
def test_many_clips_in_parallel_and_on_dask_match_serial(known, model, tmp_path,
                                                         one_torch_thread):
    import joblib

    distributed = pytest.importorskip("distributed")
    faces = [f for group in known.values() for f in group]
    clips = [str(_write(tmp_path / f"clip{k}.mp4",
                        (_frame([(faces[k], 150 + 4 * i, 140)]) for i in range(15))))
             for k in range(3)]
    serial = predict_video(clips, model)
    assert serial["video"].unique().tolist() == clips
    pd.testing.assert_frame_equal(predict_video(clips, model, n_jobs=2), serial)
    # And photographs, through the faces pipeline.
    photos = []
    for k in range(3):
        photos.append(str(tmp_path / f"photo{k}.png"))
        Image.fromarray(_frame([(faces[k], 100 + 60 * k, 120)])).save(photos[-1])
    boxes, crops = extract_faces(photos)
    assert len(boxes) >= 3
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster), joblib.parallel_backend("dask"):
        on_dask = predict_video(clips, model, n_jobs=2)
        photo_boxes, photo_crops = extract_faces(photos, n_jobs=2)
    pd.testing.assert_frame_equal(on_dask, serial)
    pd.testing.assert_frame_equal(photo_boxes, boxes)
    np.testing.assert_array_equal(photo_crops, crops)


def test_progress_line_only_when_asked(known, model, capsys):
    a, face_a, _, _ = _two_labels(known)
    frames = np.array([_frame([(face_a, 240, 160)])] * 6)
    predict_video(frames, model)
    assert capsys.readouterr().err == ""
    predict_video(frames, model, verbose=True)
    err = capsys.readouterr().err
    assert "6/6 frames" in err and "frames/s" in err and err.endswith("\n")
