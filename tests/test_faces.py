"""fer_sklearn.faces: the image reader, detection, FaceAligner, FaceDisplay.

On real photographs shipped in scikit-image's wheel (astronaut, camera,
lfw_subset) and, where ../shared has it, real FER2013 faces.
"""

import io
import os

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fer_sklearn import EMOTIONS, FERCNNClassifier
from fer_sklearn.datasets import load_fer2013
from fer_sklearn.faces import (FER2013_LANDMARKS, FaceAligner, FaceDisplay, crop_face,
                               detect_faces, extract_faces, read_image, resolve_detector)
from fer_sklearn.faces import _yunet

from _real_data import FER2013 as REAL, REPO, needs_fer2013

skimage_data = pytest.importorskip("skimage.data")

# The astronaut's face, measured once by eye on the 512x512 photograph.
ASTRONAUT_FACE = (180, 70, 90, 90)


def _iou(a, b):
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(x1 - x0, 0) * max(y1 - y0, 0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


@pytest.fixture(scope="module")
def astronaut():
    return skimage_data.astronaut()


@pytest.fixture(scope="module")
def astronaut_faces(astronaut):
    return detect_faces([astronaut])


# ------------------------------------------------------------ image reader
def _marked(shape=(30, 40)):
    """A grey image, black but for a white 5x5 top-left corner."""
    array = np.zeros(shape, np.uint8)
    array[:5, :5] = 255
    return array


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_comes_out_upright(tmp_path, suffix, orientation):
    upright = _marked()
    # What a camera stores for each tag: the viewer undoes these turns.
    stored = {3: Image.ROTATE_180, 6: Image.ROTATE_90, 8: Image.ROTATE_270}[orientation]
    image = Image.fromarray(upright).transpose(stored)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"photo{suffix}"
    image.save(path, exif=exif, **({"quality": 95} if suffix == ".jpg" else {}))
    out = read_image(path)
    assert out.shape == upright.shape
    assert out[:5, :5].mean() > 200 and out[-5:, -5:].mean() < 50
    assert read_image(Image.open(path)).shape == upright.shape  # PIL input alike


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 1000, 32896, 65535]], np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I")
    np.testing.assert_array_equal(read_image(path), [[0, 4, 128, 255]])
    np.testing.assert_array_equal(read_image(values), [[0, 4, 128, 255]])


def test_colour_modes(tmp_path):
    red_l = 76  # Pillow's luma of pure red: 0.299 * 255
    cmyk = Image.new("CMYK", (4, 3), (0, 255, 255, 0))
    cmyk.save(tmp_path / "cmyk.jpg", quality=100)
    assert np.abs(read_image(tmp_path / "cmyk.jpg", mode="RGB")[0, 0].astype(int)
                  - [255, 0, 0]).max() <= 3
    assert abs(int(read_image(cmyk)[0, 0]) - red_l) <= 1
    palette = Image.new("P", (4, 3))
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.putpixel((1, 1), 1)
    palette.save(tmp_path / "p.png")
    out = read_image(tmp_path / "p.png")
    assert out[1, 1] == red_l and out[0, 0] == 0
    one_bit = Image.new("1", (4, 3), 1)
    assert (read_image(one_bit) == 255).all()
    # An RGB image read as grey equals the same pixels given as an array.
    rgb = np.random.RandomState(0).randint(0, 256, (5, 6, 3)).astype(np.uint8)
    np.testing.assert_array_equal(read_image(Image.fromarray(rgb)), read_image(rgb))


def test_transparency_over_white(tmp_path):
    la = Image.new("LA", (4, 3), (0, 0))  # black, fully transparent
    la.save(tmp_path / "la.png")
    assert (read_image(tmp_path / "la.png") == 255).all()
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 3] = 128  # black at half opacity over white
    assert abs(int(read_image(rgba)[0, 0]) - 127) <= 1
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    assert abs(int(read_image(tmp_path / "rgba.png")[0, 0]) - 127) <= 1


def test_animated_gif_first_frame(tmp_path):
    frames = [Image.new("L", (8, 8), 0), Image.new("L", (8, 8), 255)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=50)
    assert Image.open(tmp_path / "a.gif").n_frames == 2
    assert (read_image(tmp_path / "a.gif") == 0).all()
    opened = Image.open(tmp_path / "a.gif")
    opened.seek(1)  # even when the caller left it on a later frame
    assert (read_image(opened) == 0).all()


@pytest.mark.parametrize("pixels", [40 * 40, 60 * 60])  # over the limit, over twice it
def test_decompression_bomb_refused(tmp_path, monkeypatch, pixels):
    side = int(np.sqrt(pixels))
    path = tmp_path / "bomb.png"
    Image.new("L", (side, side)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ValueError, match=r"bomb\.png: refused.*decompression bomb"):
        read_image(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert read_image(path).shape == (side, side)


def test_corrupt_and_truncated_files(tmp_path):
    (tmp_path / "noise.png").write_bytes(np.random.RandomState(0).bytes(500))
    with pytest.raises(ValueError, match=r"noise\.png: cannot read the image"):
        read_image(tmp_path / "noise.png")
    buffer = io.BytesIO()
    Image.fromarray(skimage_data.camera()).save(buffer, "JPEG")
    (tmp_path / "cut.jpg").write_bytes(buffer.getvalue()[:len(buffer.getvalue()) // 2])
    with pytest.raises(ValueError, match=r"cut\.jpg: cannot read the image.*truncated"):
        read_image(tmp_path / "cut.jpg")
    with pytest.raises(FileNotFoundError, match="missing.png"):
        read_image(tmp_path / "missing.png")


def test_array_inputs():
    np.testing.assert_array_equal(read_image(np.array([[0.0, 0.5, 1.0]])), [[0, 128, 255]])
    np.testing.assert_array_equal(read_image(np.array([[0.0, 2.0, 255.0]])), [[0, 2, 255]])
    np.testing.assert_array_equal(read_image(np.array([[0, 255]], np.int64)), [[0, 255]])
    np.testing.assert_array_equal(read_image(np.array([[True, False]])), [[255, 0]])
    assert read_image(np.zeros((3, 4)), mode="RGB").shape == (3, 4, 3)
    with pytest.raises(ValueError, match="integer pixels must be 0..255"):
        read_image(np.array([[0, 300]]))
    with pytest.raises(ValueError, match="float pixels must be"):
        read_image(np.array([[-1.0, 0.5]]))
    with pytest.raises(ValueError, match="NaN"):
        read_image(np.array([[np.nan, 0.5]]))
    with pytest.raises(ValueError, match=r"got \(2, 2, 2\)"):
        read_image(np.zeros((2, 2, 2)))
    with pytest.raises(TypeError, match="got list"):
        read_image([[0, 1]])
    with pytest.raises(ValueError, match="mode must be"):
        read_image(np.zeros((2, 2)), mode="CMYK")


def test_image_folder_loader_uses_the_reader(tmp_path):
    folder = tmp_path / "faces" / "train" / "happy"
    folder.mkdir(parents=True)
    Image.fromarray(np.full((48, 48), 65535, np.uint16)).save(folder / "deep.png")
    sideways = Image.fromarray(_marked((48, 48))).transpose(Image.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways.save(folder / "turned.png", exif=exif)
    X, y = load_fer2013(tmp_path / "faces", return_X_y=True, cache=False)
    assert (X[0] == 255).all()  # 16-bit white stays white (clipping made it 255 too,
    first = X[1].reshape(48, 48)  # but see test_16_bit_png... for mid values)
    assert first[:5, :5].mean() > 200 and first[-5:, -5:].mean() < 50


# ---------------------------------------------------------------- detection
YUNET = pytest.mark.skipif(
    not _yunet.available(),
    reason="YuNet needs the yuface wheel (CPython 3.9-3.11, x86-64 Linux/Windows) and AVX2")
DETECTORS = [pytest.param("yunet", marks=YUNET), "haar"]


def test_auto_is_yunet_where_it_runs():
    assert resolve_detector("auto") == ("yunet" if _yunet.available() else "haar")
    with pytest.raises(ValueError, match="detector must be 'auto' or one of"):
        resolve_detector("mtcnn")


def test_where_yunet_cannot_run_auto_is_haar_and_yunet_is_refused(astronaut, monkeypatch,
                                                                  tmp_path, capsys):
    """As on macOS, aarch64 or Python >= 3.12, where yuface has no wheel."""
    from fer_sklearn.cli import main

    monkeypatch.setattr(_yunet, "available", lambda: False)
    assert resolve_detector("auto") == "haar"
    faces = detect_faces([astronaut])
    assert len(faces) == 1 and faces[["nose_x", "mouth_left_x"]].isna().all().all()
    with pytest.raises(ImportError, match="detector='yunet' needs the yuface wheel"):
        detect_faces([astronaut], detector="yunet")
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    assert main(["predict", str(tmp_path / "a.png"), "--detector", "yunet"]) == 2
    assert "needs the yuface wheel" in capsys.readouterr().err


def test_detector_params_hold_the_detectors_own_settings_only(astronaut):
    for key in ("min_size", "detector", "max_width"):
        with pytest.raises(ValueError, match=rf"unknown keys \['{key}'\]"):
            detect_faces([astronaut], detector="haar", detector_params={key: 1})
    with pytest.raises(ValueError, match="detector 'auto' chose"):
        detect_faces([astronaut], detector_params={"no_such_setting": 1})


@YUNET
def test_yunet_threads_give_the_serial_table():
    images = [np.pad(np.asarray(Image.fromarray(np.uint8(face * 255)).resize(
        (125, 125), Image.BICUBIC)), 62, mode="edge") for face in skimage_data.lfw_subset()[:12]]
    serial = detect_faces(images, detector="yunet")
    pd.testing.assert_frame_equal(detect_faces(images, detector="yunet", n_jobs=2), serial)
    assert len(serial) >= 10


@pytest.mark.parametrize("detector", DETECTORS)
def test_detect_astronaut(astronaut, detector):
    faces = detect_faces([astronaut], detector=detector)
    assert list(faces.columns[:6]) == ["image", "face", "x", "y", "width", "height"]
    assert len(faces) == 1
    top = faces.iloc[0]
    assert _iou(top[["x", "y", "width", "height"]].to_numpy(float), ASTRONAUT_FACE) > 0.5
    # Her eyes are found and nearly level; the left one is on the image's left.
    assert top["left_eye_x"] < top["right_eye_x"]
    assert abs(top["angle"]) < 10
    assert top["y"] < top["left_eye_y"] < top["y"] + top["height"] / 2
    if detector == "haar":  # eyes only
        assert faces[["nose_x", "mouth_left_x", "mouth_right_y"]].isna().all().all()
    else:  # the nose between the eyes and above the mouth, the corners apart
        assert top["left_eye_x"] < top["nose_x"] < top["right_eye_x"]
        assert top["left_eye_y"] < top["nose_y"] < top["mouth_left_y"]
        assert top["mouth_right_x"] - top["mouth_left_x"] > 0.25 * top["width"]
        assert 0.5 < top["score"] <= 1


@pytest.mark.parametrize("detector", DETECTORS)
def test_detect_is_upright_and_in_original_pixels(astronaut, detector):
    """A sideways photograph with an EXIF tag gives the upright photo's boxes."""
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 8
    Image.fromarray(astronaut).transpose(Image.ROTATE_270).save(buffer, "JPEG", exif=exif)
    params = {"angles": (0,), "eyes": False} if detector == "haar" else {}
    faces = detect_faces([Image.open(buffer)], detector=detector, detector_params=params)
    box = faces.iloc[0][["x", "y", "width", "height"]].to_numpy(float)
    assert _iou(box, ASTRONAUT_FACE) > 0.5


@pytest.mark.parametrize("detector", DETECTORS)
def test_detect_large_photo_in_its_own_pixels(astronaut, detector):
    """A photo 4 times larger is searched at a bounded size; boxes come back 4 times larger."""
    big = np.asarray(Image.fromarray(astronaut).resize((2048, 2048), Image.BICUBIC))
    params = {"angles": (0,), "eyes": False} if detector == "haar" else {}
    faces = detect_faces([big], detector=detector, detector_params=params)
    box = faces.iloc[0][["x", "y", "width", "height"]].to_numpy(float) / 4
    assert _iou(box, ASTRONAUT_FACE) > 0.5


def test_detect_tilted_face(astronaut):
    """Haar: a face turned 15 degrees is found by the turned pass, with its tilt from the eyes."""
    turned = np.asarray(Image.fromarray(astronaut).rotate(
        -15, Image.BICUBIC, center=(225, 115)))  # clockwise on screen
    faces = detect_faces([turned], detector="haar",
                         detector_params={"cascades": "frontalface_default"})
    top = faces.iloc[0]
    assert _iou(top[["x", "y", "width", "height"]].to_numpy(float), ASTRONAUT_FACE) > 0.4
    assert 7 < top["angle"] < 23


@YUNET
def test_yunet_reads_tilt_short():
    """YuNet finds a face turned 15 or 30 degrees, but its landmarks lean upright.

    The tilt its eyes give has the right sign and a fraction of the size (2
    and 6 degrees here, for 15 and 30): what the docs say of it, kept true.
    """
    astronaut = skimage_data.astronaut()
    for degrees in (15, 30):
        turned = np.asarray(Image.fromarray(astronaut).rotate(
            -degrees, Image.BICUBIC, center=(225, 115)))
        top = detect_faces([turned], detector="yunet").iloc[0]
        assert _iou(top[["x", "y", "width", "height"]].to_numpy(float), ASTRONAUT_FACE) > 0.4
        assert 0.5 < top["angle"] < degrees / 2


@YUNET
def test_yunet_retries_turned_only_where_nothing_is_found(astronaut):
    """A head turned 30 degrees, below a strict threshold upright, is found by a turned retry.

    YuNet's confidence for her face falls from 0.93 upright to 0.88 turned 30
    degrees, so a threshold of 0.9 misses it upright; the retry turned 30
    degrees back finds it, with its landmarks brought back into the photo.
    """
    turned = np.asarray(Image.fromarray(astronaut).rotate(-30, Image.BICUBIC, center=(225, 115)))
    strict = {"score_threshold": 0.9}
    upright = detect_faces([turned], detector="yunet",
                           detector_params={**strict, "retry_angles": ()})
    assert len(upright) == 0
    faces = detect_faces([turned], detector="yunet", detector_params=strict)
    assert len(faces) == 1
    top = faces.iloc[0]
    assert 0.9 <= top["score"] and 25 < top["angle"] < 35
    assert _iou(top[["x", "y", "width", "height"]].to_numpy(float), ASTRONAUT_FACE) > 0.4
    for point in ("left_eye", "right_eye", "nose"):
        assert top["x"] < top[f"{point}_x"] < top["x"] + top["width"]
        assert top["y"] < top[f"{point}_y"] < top["y"] + top["height"]


@YUNET
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmRSS (Linux)")
def test_yunet_memory_does_not_grow_with_detections():
    """yuface's own detect leaks a 36 KB buffer per call (35 MB per 1,000); ours reuses one."""
    def resident_mb():
        status = open("/proc/self/status", encoding="ascii").read()
        return int(status.split("VmRSS:")[1].split()[0]) / 1024

    image = np.full((64, 64), 128, np.uint8)
    detect_faces([image], detector="yunet")
    before = resident_mb()
    detect_faces([image] * 2000, detector="yunet", detector_params={"retry_angles": ()})
    assert resident_mb() - before < 15  # the leak would add about 70 MB


@pytest.mark.parametrize("detector", DETECTORS)
def test_lfw_faces_and_non_faces(detector):
    """scikit-image's LFW subset: 100 real faces, then 100 non-faces (25x25)."""
    images = skimage_data.lfw_subset()
    pick = np.r_[0:20, 100:120]
    # Upscaled 5x, with the face filling the middle of a 250x250 canvas.
    scenes = [np.pad(np.asarray(Image.fromarray(np.uint8(images[i] * 255)).resize(
        (125, 125), Image.BICUBIC)), 62, mode="edge") for i in pick]
    params = {"eyes": False} if detector == "haar" else {}
    faces = detect_faces(scenes, detector=detector, min_size=0.3, detector_params=params,
                         n_jobs=2)
    found = np.isin(np.arange(40), faces["image"])
    assert found[:20].mean() >= 0.8
    assert found[20:].mean() <= 0.3


def test_detect_empty_and_errors(tmp_path):
    faces = detect_faces([np.full((100, 100), 128, np.uint8)])
    assert len(faces) == 0 and list(faces.columns)[:2] == ["image", "face"]
    with pytest.raises(ValueError, match="min_size"):
        detect_faces([np.zeros((9, 9))], min_size=-1)
    with pytest.raises(ValueError, match="cascades"):
        detect_faces([np.zeros((9, 9))], detector="haar", detector_params={"cascades": ["eye"]})
    with pytest.raises(ValueError, match=r"unknown keys \['score_threshold'\] for detector 'haar'"):
        detect_faces([np.zeros((9, 9))], detector="haar", detector_params={"score_threshold": 1})
    with pytest.raises(ValueError, match="wrap one image in a list"):
        detect_faces(np.zeros((9, 9)))


@YUNET
def test_yunet_setting_errors():
    with pytest.raises(ValueError, match=r"unknown keys \['cascades'\] for detector 'yunet'"):
        detect_faces([np.zeros((9, 9))], detector="yunet", detector_params={"cascades": []})
    with pytest.raises(ValueError, match="score_threshold must be a number in"):
        detect_faces([np.zeros((9, 9))], detector="yunet",
                     detector_params={"score_threshold": 2})
    with pytest.raises(ValueError, match="retry_angles must be degrees"):
        detect_faces([np.zeros((9, 9))], detector="yunet",
                     detector_params={"retry_angles": (120,)})


# --------------------------------------------------------------- FaceAligner
LANDMARK_COLUMNS = [f"{point}_{axis}" for point in
                    ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
                    for axis in "xy"]


def test_aligner_framing_and_shape(astronaut, astronaut_faces):
    out = FaceAligner(size=32).fit_transform([astronaut])
    assert out.shape == (1, 32 * 32) and out.dtype == np.float32
    top = astronaut_faces.iloc[0]
    expected = crop_face(read_image(astronaut), top[["x", "y", "width", "height"]],
                         angle=top["angle"], landmarks=top[LANDMARK_COLUMNS], size=32)
    np.testing.assert_array_equal(out[0], expected.ravel())


def test_landmark_framing_recovers_a_known_similarity():
    """Landmarks placed by a known turn, scale and shift give back that crop exactly."""
    from fer_sklearn.faces._align import _face_frame

    side, tilt, centre = 150.0, 20.0, np.array([300.0, 200.0])
    theta = np.radians(tilt)  # clockwise on screen, y pointing down
    turn = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    points = (np.array(FER2013_LANDMARKS) - 0.5) * side @ turn.T + centre
    cx, cy, got_side, got_tilt = _face_frame((0, 0, 1, 1), 0.0, points.ravel(), None)
    np.testing.assert_allclose([cx, cy, got_side, got_tilt], [*centre, side, tilt], atol=1e-9)
    # A missing landmark (Haar: eyes only), or five at one point, falls back on the box.
    for bad in (np.where(np.arange(10) == 4, np.nan, points.ravel()), np.full(10, 7.0)):
        frame = _face_frame((10, 20, 100, 100), 0.0, bad, None)
        np.testing.assert_allclose(frame, (60, 70.4, 102.5, 0.0), atol=1e-9)
    with pytest.raises(ValueError, match="landmarks must be 10 numbers"):
        crop_face(np.zeros((50, 50), np.uint8), (0, 0, 10, 10), landmarks=[1, 2, 3])


def test_aligner_no_face_options(tmp_path):
    flat = np.full((120, 160), 90, np.uint8)
    flat[:, 20:140] = 200  # a bright central square, dark edges
    Image.fromarray(flat).save(tmp_path / "flat.png")
    with pytest.raises(ValueError, match=r"X\[1\] \(.*flat\.png\): no face found"):
        FaceAligner().transform([skimage_data.astronaut(), tmp_path / "flat.png"])
    centre = FaceAligner(no_face="center", size=12).transform([flat])
    assert (centre == 200).all()  # the central 120x120 square only
    nan = FaceAligner(no_face="nan").transform(np.stack([flat, flat]))
    assert nan.shape == (2, 2304) and np.isnan(nan).all()


def test_aligner_keep_best_or_largest(astronaut):
    # Every box, so that the largest (a weak false detection) is not the best.
    fast = {"angles": (0, 15), "min_score": 0, "min_relative_score": 0}
    faces = detect_faces([astronaut], detector="haar", detector_params=fast)
    largest = FaceAligner(keep="largest", rotate=False, size=16, detector="haar",
                          detector_params=fast).transform([astronaut])
    best = FaceAligner(rotate=False, size=16, detector="haar",
                       detector_params=fast).transform([astronaut])
    boxes = faces[["x", "y", "width", "height"]].to_numpy(float)
    assert np.argmax(boxes[:, 2]) != 0  # the two rules pick different faces here
    gray = read_image(astronaut)
    np.testing.assert_array_equal(best[0], crop_face(gray, boxes[0], size=16).ravel())
    np.testing.assert_array_equal(
        largest[0], crop_face(gray, boxes[np.argmax(boxes[:, 2])], size=16).ravel())


def test_unturned_haar_cut_skips_the_eye_search(astronaut, monkeypatch):
    # The eyes only measure the tilt: FaceAligner(rotate=False) cuts the same face without
    # searching for them, unless detector_params asks for them.
    from fer_sklearn.faces import _haar

    fast = {"angles": (0,)}
    expected = FaceAligner(rotate=False, size=16, detector="haar",
                           detector_params={**fast, "eyes": True}).transform([astronaut])
    searched = []
    find_eyes = _haar._find_eyes
    monkeypatch.setattr(_haar, "_find_eyes", lambda *a: searched.append(1) or find_eyes(*a))
    unturned = FaceAligner(rotate=False, size=16, detector="haar",
                           detector_params=fast).transform([astronaut])
    assert searched == []
    np.testing.assert_array_equal(unturned, expected)
    FaceAligner(size=16, detector="haar", detector_params=fast).transform([astronaut])
    assert searched  # a turned cut needs the eyes


def test_aligner_pipeline_on_paths_pil_and_arrays(tmp_path, astronaut):
    from sklearn.pipeline import make_pipeline

    Image.fromarray(astronaut).save(tmp_path / "a.png")
    photos = [tmp_path / "a.png", Image.fromarray(astronaut), np.uint16(astronaut) * 257,
              astronaut / 255.0]
    y = np.array([3, 3, 6, 6])
    fast = {"angles": (0,), "cascades": ("frontalface_default",)}
    model = make_pipeline(FaceAligner(min_size=0.15, detector="haar", detector_params=fast),
                          FERCNNClassifier(n_filters=4, n_blocks=2, max_epochs=1,
                                           random_state=0))
    model.fit(photos, y)
    assert model.predict(photos).shape == (4,)
    rows = model[0].transform(photos)
    # Paths, PIL and 8/16-bit/float arrays of one photo give (nearly) one face.
    assert np.abs(rows - rows[0]).max() <= 2


def test_aligner_sklearn_api(astronaut):
    aligner = FaceAligner(size=8)
    names = aligner.get_feature_names_out()
    assert names[0] == "pixel_0" and names[-1] == "pixel_63"
    frame = aligner.set_output(transform="pandas").fit_transform([astronaut])
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == list(names)
    assert aligner.__sklearn_tags__().requires_fit is False
    with pytest.raises(ValueError, match="keep"):
        FaceAligner(keep="first").fit([astronaut])
    with pytest.raises(ValueError, match="detector_params: unknown keys"):
        FaceAligner(detector_params={"speed": 2}).fit([astronaut])
    with pytest.raises(TypeError, match="expected a list"):
        FaceAligner().fit(3)
    # The checks that apply to a transformer of raw inputs, which
    # check_estimator skips whole (as for text vectorisers): parameters only
    # stored in __init__, get/set_params, cloning.
    from sklearn.base import clone
    from sklearn.utils import estimator_checks as checks

    checks.check_parameters_default_constructible("FaceAligner", FaceAligner())
    for check in (checks.check_no_attributes_set_in_init, checks.check_get_params_invariance,
                  checks.check_set_params):
        check("FaceAligner", FaceAligner(size=32, keep="largest"))
    assert clone(FaceAligner(size=32)).get_params() == FaceAligner(size=32).get_params()


@needs_fer2013
def test_aligner_recovers_real_fer2013_faces():
    """Real FER2013 faces placed on a photograph come back close to the original crop."""
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_faces import make_scenes

    X, _ = load_fer2013(REAL, usage="PublicTest", return_X_y=True)
    X = X[np.random.RandomState(0).choice(len(X), 8, replace=False)]
    images, _, _ = make_scenes(X, seed=0)
    out = FaceAligner(keep="best", no_face="nan").transform(images)
    found = ~np.isnan(out).any(1)
    assert found.mean() >= 0.6
    # Each aligned face is most like its own original among the eight.
    corr = np.corrcoef(np.vstack([out[found], X.astype(float)]))[:found.sum(), found.sum():]
    assert (corr.argmax(1) == np.flatnonzero(found)).mean() >= 0.6


@needs_fer2013
def test_scene_true_box_cut_returns_the_original_face():
    """The scene benchmark's true-box cut (its photo-only baseline) undoes the scene's rotation."""
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_faces import make_scenes, true_box_cuts

    X, _ = load_fer2013(REAL, usage="PublicTest", return_X_y=True)
    X = X[np.random.RandomState(0).choice(len(X), 24, replace=False)]
    images, boxes, infos = make_scenes(X, seed=0)
    grays = [read_image(image) for image in images]

    def error(cuts):
        # Colour scenes are tinted: compare shapes, not grey levels.
        return np.array([1 - np.corrcoef(cut, face)[0, 1] for cut, face in zip(cuts, X)])

    # The same cut with the tilt's sign flipped: what a convention slip would give.
    flipped = [{**info, "angle": -info["angle"]} for info in infos]
    right = error(true_box_cuts(grays, boxes, infos))
    wrong = error(true_box_cuts(grays, boxes, flipped))
    rotated = np.array([abs(info["angle"]) > 5 for info in infos])
    assert rotated.sum() >= 3
    assert np.median(right) < 0.02
    assert (right[rotated] < wrong[rotated]).all()


# ---------------------------------------------------------------- FaceDisplay
def test_face_display(astronaut, astronaut_faces):
    proba = np.eye(7)[[3] * len(astronaut_faces)]
    display = FaceDisplay.from_predictions(astronaut, astronaut_faces, proba)
    assert len(display.ax_.patches) == len(astronaut_faces) == len(display.bar_axes_)
    assert display.ax_.texts[0].get_text() == "happy 100%"
    with pytest.raises(ValueError, match="rows for"):
        FaceDisplay(astronaut, astronaut_faces, proba=np.vstack([proba, proba])).plot()


def test_face_display_from_estimator(astronaut):
    from sklearn.dummy import DummyClassifier

    clf = DummyClassifier(strategy="prior").fit(np.zeros((7, 48 * 48)), np.arange(7))
    display = FaceDisplay.from_estimator(clf, astronaut)
    assert display.ax_.texts and display.ax_.texts[0].get_text().split()[0] in EMOTIONS


# ------------------------------------------------------------ predict_images
def _group(astronaut):
    """A group photo: the astronaut's head three times, side by side, on a grey wall."""
    head = np.asarray(Image.fromarray(astronaut[10:230, 120:340]).convert("L"))
    scene = np.full((300, 800), 120, np.uint8)
    for x in (20, 290, 560):
        scene[40:260, x:x + 220] = head
    return scene


@pytest.fixture(scope="module")
def classifier():
    from fer_sklearn.pretrained import load_pretrained

    return load_pretrained("fer2013", faces=True)[-1]


def test_predict_images_every_face_and_a_row_for_each_bad_file(astronaut, classifier, tmp_path):
    from fer_sklearn.faces import predict_images

    folder = tmp_path / "holiday"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(_group(astronaut)).save(folder / "group.png")
    Image.fromarray(np.full((200, 300), 128, np.uint8)).save(folder / "wall.png")
    buffer = io.BytesIO()
    Image.fromarray(astronaut).save(buffer, "JPEG")
    (folder / "sub" / "cut.jpg").write_bytes(buffer.getvalue()[:len(buffer.getvalue()) // 2])
    face = np.rint(extract_faces([astronaut])[1][0]).astype(np.uint8).reshape(48, 48)

    table = predict_images([folder, face, tmp_path / "missing.jpg"], classifier)
    names = [f"proba_{c}" for c in classifier.classes_]  # the shipped model's: sorted names
    assert table.columns.tolist() == ["image", "face", "x", "y", "width", "height",
                                      *LANDMARK_COLUMNS, "detected", *names, "label", "error"]
    assert table["image"].tolist() == [str(folder / "group.png")] * 3 + [
        str(folder / "sub" / "cut.jpg"), str(folder / "wall.png"), "images[1]",
        str(tmp_path / "missing.jpg")]
    group, cut, wall, cut_face, missing = (table.iloc[:3], table.iloc[3], table.iloc[4],
                                           table.iloc[5], table.iloc[6])
    # Every face of the group, left to right here, each where its head was pasted.
    assert group["face"].tolist() == [0, 1, 2] and group["detected"].all()
    assert sorted(np.round((group["x"] - 20) / 270).astype(int)) == [0, 1, 2]
    _, crops = extract_faces([_group(astronaut)])
    np.testing.assert_allclose(group[names].to_numpy(), classifier.predict_proba(crops))
    assert (group["label"] == classifier.classes_[group[names].to_numpy().argmax(1)]).all()
    assert group["error"].isna().all()
    # With the landmarks of each face, in the photo's pixels: the eyes inside its box.
    found = detect_faces([_group(astronaut)])
    np.testing.assert_array_equal(group[LANDMARK_COLUMNS].to_numpy(),
                                  found.sort_values("score", ascending=False, kind="stable")
                                  [LANDMARK_COLUMNS].to_numpy())
    assert ((group["left_eye_x"] > group["x"])
            & (group["right_eye_x"] < group["x"] + group["width"])).all()
    # The truncated file and the missing one cost only their own rows.
    assert pd.isna(cut["face"]) and "cut.jpg: cannot read the image" in cut["error"]
    assert pd.isna(missing["face"]) and "missing.jpg" in missing["error"]
    assert pd.isna(wall["face"]) and pd.isna(wall["label"]) and pd.isna(wall["error"])
    assert wall[names].isna().all()
    # An image of the classifier's input size is one face, cut already.
    assert cut_face["face"] == 0 and not cut_face["detected"]
    assert (cut_face[["x", "y", "width", "height"]] == [0, 0, 48, 48]).all()
    np.testing.assert_allclose(cut_face[names].to_numpy(float),
                               classifier.predict_proba(face.reshape(1, -1))[0])
    # Threads give the same table.
    pd.testing.assert_frame_equal(
        predict_images([folder, face, tmp_path / "missing.jpg"], classifier, n_jobs=2), table)


def test_predict_images_refuses_what_is_no_image_or_classifier(classifier):
    from fer_sklearn.faces import predict_images

    with pytest.raises(TypeError, match="expected a file path, a PIL image or a numpy array"):
        predict_images([3], classifier)
    with pytest.raises(TypeError, match="fitted classifier"):
        predict_images([np.zeros((60, 60))], object())
    with pytest.raises(ValueError, match="framing"):
        predict_images([np.zeros((60, 60))], classifier, framing=(1, 2))


def test_labels_are_drawn_where_they_cover_no_other_face():
    from fer_sklearn.faces._draw import draw_faces, palette

    # Two faces one above the other, 5 px apart, the upper one at the image's top
    # edge: no label fits above either box without covering a face or leaving the image.
    rows = pd.DataFrame({"x": [50, 50], "y": [2, 75], "width": [60, 60], "height": [68, 60],
                         "face": [0, 1], "label": ["happy", "sad"], "proba_happy": [0.9, 0.1],
                         "proba_sad": [0.1, 0.9]})
    bgr = np.zeros((200, 200, 3), np.uint8)
    draw_faces(bgr, rows, palette(["happy", "sad"]), "face")
    drawn = bgr.any(axis=2)
    assert drawn[136:160, 50:110].any()  # the lower face's label, below its box
    assert not drawn[78:133, 53:107].any()  # nothing inside the lower face
    assert drawn[4:20, 53:107].any()  # the upper face's label, inside its top edge
    assert not drawn[25:68, 53:107].any()  # and nothing over the rest of that face
