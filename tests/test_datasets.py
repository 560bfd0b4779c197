"""Tests for fer_sklearn.datasets: the FER2013 loader and make_faces."""

import gzip
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from fer_sklearn import EMOTIONS, FERCNNClassifier
from fer_sklearn.datasets import (FERPLUS_CLASSES, USAGES, get_data_home, load_fer2013,
                                  make_faces)
from fer_sklearn.datasets import _fer2013, _synthetic

from _real_data import FER2013 as REAL, FERPLUS as REAL_FERPLUS, needs_fer2013, needs_ferplus



def write_kaggle(path, pixels, labels=None, usage=None, *, newline="\n", quote=False):
    """Write rows in the Kaggle format; returns ``path``."""
    columns = (["emotion"] if labels is not None else []) + ["pixels"] + (
        ["Usage"] if usage is not None else [])
    lines = [",".join(columns)]
    for i, row in enumerate(pixels):
        text = " ".join(map(str, row))
        fields = ([str(labels[i])] if labels is not None else []) + [
            f'"{text}"' if quote else text] + ([usage[i]] if usage is not None else [])
        lines.append(",".join(fields))
    data = (newline.join(lines) + newline).encode()
    path = Path(path)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    elif path.suffix == ".zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("fer2013.csv", data)
    else:
        path.write_bytes(data)
    return path


@pytest.fixture
def sample():
    rng = np.random.RandomState(0)
    pixels = rng.randint(0, 256, (9, 2304)).astype(np.uint8)
    labels = np.arange(9) % 7
    usage = np.array(["Training"] * 5 + ["PublicTest"] * 2 + ["PrivateTest"] * 2)
    return pixels, labels, usage


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An isolated data home, also set through the environment variable."""
    folder = tmp_path / "home"
    monkeypatch.setenv("FER_SKLEARN_DATA", str(folder))
    return folder


def cache_files(home):
    folder = Path(home) / "fer2013_cache"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ------------------------------------------------------------------ formats
@pytest.mark.parametrize("name", ["fer2013.csv", "fer2013.csv.gz", "fer2013.zip"])
def test_kaggle_csv_formats(tmp_path, sample, name):
    pixels, labels, usage = sample
    path = write_kaggle(tmp_path / name, pixels, labels, usage)
    faces = load_fer2013(path, cache=False)
    np.testing.assert_array_equal(faces.data, pixels)
    assert faces.data.dtype == np.uint8 and faces.images.shape == (9, 48, 48)
    np.testing.assert_array_equal(faces.images[3], pixels[3].reshape(48, 48))
    np.testing.assert_array_equal(faces.target, labels)
    np.testing.assert_array_equal(faces.usage, usage)
    assert list(faces.target_names) == list(EMOTIONS)
    assert "FER2013" in faces.DESCR and len(faces.feature_names) == 2304


def test_crlf_quotes_and_column_order(tmp_path, sample):
    pixels, labels, usage = sample
    path = write_kaggle(tmp_path / "a.csv", pixels, labels, usage, newline="\r\n", quote=True)
    faces = load_fer2013(path, cache=False)
    np.testing.assert_array_equal(faces.data, pixels)
    frame = pd.DataFrame({"Usage": usage, "pixels": [" ".join(map(str, p)) for p in pixels],
                          "emotion": labels})
    frame.to_csv(tmp_path / "b.csv", index=False)
    faces = load_fer2013(tmp_path / "b.csv", cache=False)
    np.testing.assert_array_equal(faces.data, pixels)
    np.testing.assert_array_equal(faces.target, labels)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32", "crlf", "cr"])
def test_encodings_and_line_ends_people_produce(tmp_path, sample, encoding):
    """Spreadsheets' "CSV UTF-8" (a BOM), "Unicode text" (UTF-16), Windows and old Mac lines."""
    pixels, labels, usage = sample
    plain = write_kaggle(tmp_path / "plain.csv", pixels, labels, usage).read_text()
    path = tmp_path / "saved.csv"
    if encoding in ("crlf", "cr"):
        path.write_bytes(plain.replace("\n", "\r\n" if encoding == "crlf" else "\r").encode())
    else:
        path.write_text(plain, encoding=encoding)
    faces = load_fer2013(path, cache=False)
    np.testing.assert_array_equal(faces.data, pixels)
    np.testing.assert_array_equal(faces.target, labels)
    np.testing.assert_array_equal(faces.usage, usage)


def test_utf16_without_a_bom_and_headerless_files_say_what_was_found(tmp_path, sample):
    pixels, labels, usage = sample
    plain = write_kaggle(tmp_path / "plain.csv", pixels, labels, usage).read_text()
    path = tmp_path / "utf16.csv"
    path.write_bytes(plain.encode("utf-16-le"))
    with pytest.raises(ValueError, match="utf16.csv: the text holds NUL bytes.*UTF-16"):
        load_fer2013(path, cache=False)
    for name, text in [("headerless.csv", plain.split("\n", 1)[1]),
                       ("headerless_test.csv", "\n".join(
                           " ".join(map(str, row)) for row in pixels) + "\n")]:
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError) as info:
            load_fer2013(tmp_path / name, cache=False)
        message = str(info.value)
        assert f"{name}: line 1: the first line holds data, not a header" in message
        assert "emotion,pixels,Usage" in message and len(message) < 400


def test_irregular_but_valid_spacing_takes_the_slow_path(tmp_path, sample):
    pixels, labels, usage = sample
    path = write_kaggle(tmp_path / "a.csv", pixels, labels, usage)
    text = path.read_text().replace(" 1", "  001")  # doubled spaces, leading zeros
    path.write_text(text)
    np.testing.assert_array_equal(load_fer2013(path, cache=False).data, pixels)


def test_kaggle_test_csv_has_no_target(tmp_path, sample):
    pixels, _, _ = sample
    faces = load_fer2013(write_kaggle(tmp_path / "test.csv", pixels), cache=False)
    assert faces.target is None and faces.usage is None
    assert "target is None" in faces.DESCR
    np.testing.assert_array_equal(faces.data, pixels)
    with pytest.raises(ValueError, match="no Usage column"):
        load_fer2013(tmp_path / "test.csv", usage="Training", cache=False)


def test_image_folder(tmp_path, sample):
    pixels, labels, _ = sample
    for i, (row, label) in enumerate(zip(pixels, labels)):
        split = "train" if i < 6 else "test"
        folder = tmp_path / "faces" / split / EMOTIONS[label].capitalize()
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(row.reshape(48, 48)).save(folder / f"im{i}.png")
    faces = load_fer2013(tmp_path / "faces", cache=False)
    # Ordered by split, then label, then file name.
    order = sorted(range(9), key=lambda i: (i >= 6, labels[i], f"im{i}.png"))
    np.testing.assert_array_equal(faces.data, pixels[order])
    np.testing.assert_array_equal(faces.target, labels[order])
    assert faces.usage.tolist() == ["Training"] * 6 + ["PublicTest"] * 3


def test_image_folder_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="'train' and/or 'test'"):
        load_fer2013(tmp_path / "empty", cache=False)
    bad = tmp_path / "bad" / "train" / "joy"
    bad.mkdir(parents=True)
    with pytest.raises(ValueError, match="unknown emotion folder"):
        load_fer2013(tmp_path / "bad", cache=False)
    big = tmp_path / "big" / "train" / "happy"
    big.mkdir(parents=True)
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(big / "a.png")
    with pytest.raises(ValueError, match=r"a\.png: image is 64x64"):
        load_fer2013(tmp_path / "big", cache=False)


# ----------------------------------------------------------------- options
def test_usage_selection(tmp_path, sample):
    pixels, labels, usage = sample
    path = write_kaggle(tmp_path / "a.csv", pixels, labels, usage)
    faces = load_fer2013(path, usage="PublicTest", cache=False)
    np.testing.assert_array_equal(faces.data, pixels[5:7])
    assert set(faces.usage) == {"PublicTest"}
    faces = load_fer2013(path, usage=["Training", "PrivateTest"], cache=False)
    assert faces.usage.tolist() == ["Training"] * 5 + ["PrivateTest"] * 2
    for bad in ["Test", ["Training", "Validation"], []]:
        with pytest.raises(ValueError, match="PrivateTest"):
            load_fer2013(path, usage=bad, cache=False)


def test_return_X_y_and_as_frame(tmp_path, sample):
    pixels, labels, usage = sample
    path = write_kaggle(tmp_path / "a.csv", pixels, labels, usage)
    X, y = load_fer2013(path, return_X_y=True, cache=False)
    np.testing.assert_array_equal(X, pixels)
    np.testing.assert_array_equal(y, labels)
    faces = load_fer2013(path, as_frame=True, cache=False)
    assert list(faces.frame.columns[-2:]) == ["emotion", "Usage"]
    assert faces.frame.shape == (9, 2306) and faces.data.shape == (9, 2304)
    assert faces.target.name == "emotion"
    np.testing.assert_array_equal(faces.data.to_numpy(), pixels)
    X, y = load_fer2013(path, as_frame=True, return_X_y=True, cache=False)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)


def test_bad_options(tmp_path, sample):
    path = write_kaggle(tmp_path / "a.csv", *sample)
    with pytest.raises(ValueError, match="labels must be one of"):
        load_fer2013(path, labels="fer+", cache=False)
    with pytest.raises(ValueError, match="needs ferplus_path"):
        load_fer2013(path, labels="ferplus", cache=False)


# ------------------------------------------------------------------- FER+
def write_ferplus(path, votes, usage):
    header = "Usage,Image name," + ",".join(_fer2013._FERPLUS_VOTES)
    lines = [header] + [f"{u},fer{i:07d}.png," + ",".join(map(str, v))
                        for i, (u, v) in enumerate(zip(usage, votes))]
    Path(path).write_text("\n".join(lines) + "\n")
    return path


FERPLUS_VOTES = np.array([
    # neu hap sur sad ang dis fea con unk NF
    [6, 0, 0, 1, 3, 0, 0, 0, 0, 0],   # neutral
    [0, 9, 1, 0, 0, 0, 0, 0, 0, 0],   # happiness
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],  # not a face: dropped
    [1, 0, 0, 0, 0, 0, 0, 0, 6, 3],   # unknown: dropped
    [4, 4, 0, 0, 0, 0, 0, 0, 2, 0],   # tie: dropped
    [0, 0, 0, 0, 0, 2, 0, 7, 1, 0],   # contempt
    [0, 0, 3, 0, 0, 0, 5, 0, 2, 0],   # fear (unknown votes ignored in proba)
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],   # no votes: dropped
    [0, 0, 0, 2, 8, 0, 0, 0, 0, 0],   # anger
])


def test_ferplus_labels(tmp_path, sample):
    pixels, labels, usage = sample
    path = write_kaggle(tmp_path / "a.csv", pixels, labels, usage)
    ferplus = write_ferplus(tmp_path / "fer2013new.csv", FERPLUS_VOTES, usage)
    faces = load_fer2013(path, labels="ferplus", ferplus_path=ferplus, cache=False)
    kept = [0, 1, 5, 6, 8]
    assert faces.target.tolist() == [0, 1, 7, 6, 4]
    assert list(faces.target_names) == list(FERPLUS_CLASSES)
    np.testing.assert_array_equal(faces.data, pixels[kept])
    assert "target_proba" not in faces
    faces = load_fer2013(path, labels="ferplus-proba", ferplus_path=ferplus, cache=False,
                         usage="PublicTest")
    assert faces.target.tolist() == [7, 6]
    np.testing.assert_allclose(faces.target_proba[1], [0, 0, 3 / 8, 0, 0, 0, 5 / 8, 0])
    np.testing.assert_allclose(faces.target_proba.sum(axis=1), 1)


def test_ferplus_mismatch(tmp_path, sample):
    pixels, labels, usage = sample
    path = write_kaggle(tmp_path / "a.csv", pixels, labels, usage)
    short = write_ferplus(tmp_path / "short.csv", FERPLUS_VOTES[:-1], usage[:-1])
    with pytest.raises(ValueError, match=r"short\.csv has 8 rows but .*a\.csv has 9"):
        load_fer2013(path, labels="ferplus", ferplus_path=short, cache=False)
    shuffled = write_ferplus(tmp_path / "shuffled.csv", FERPLUS_VOTES, usage[::-1])
    with pytest.raises(ValueError, match=r"shuffled\.csv: line 2: Usage 'PrivateTest'"):
        load_fer2013(path, labels="ferplus", ferplus_path=shuffled, cache=False)
    with pytest.raises(FileNotFoundError, match="nothere.csv"):
        load_fer2013(path, labels="ferplus", ferplus_path=tmp_path / "nothere.csv",
                     cache=False)


# ------------------------------------------------------------------ errors
def _rows(sample, edit=None):
    """Kaggle CSV lines for ``sample``, with ``edit(lines)`` applied."""
    pixels, labels, usage = sample
    lines = ["emotion,pixels,Usage"] + [
        f"{l},{' '.join(map(str, p))},{u}" for p, l, u in zip(pixels, labels, usage)]
    if edit:
        edit(lines)
    return "\n".join(lines) + "\n"


def _drop_last_pixel(line):
    label, pixels, usage = line.split(",")
    return ",".join([label, pixels.rsplit(" ", 1)[0], usage])


def _replace_pixel(line, value):
    label, pixels, usage = line.split(",")
    return ",".join([label, " ".join([value] + pixels.split()[1:]), usage])


BAD_FILES = {
    "empty": ("", r"the file is empty"),
    "header only": ("emotion,pixels,Usage\n", r"no data rows"),
    "missing column": (lambda s: _rows(s).replace("pixels", "pixel", 1),
                       r"line 1: no 'pixels' column"),
    "duplicate column": (lambda s: _rows(s).replace("Usage", "pixels", 1),
                         r"line 1: column 'pixels' appears 2 times"),
    "extra field": (lambda s: _rows(s, lambda l: l.__setitem__(3, l[3] + ",x")),
                    r"line 4: expected 3 comma-separated fields, found 4"),
    "short row": (lambda s: _rows(s, lambda l: l.__setitem__(
        4, _drop_last_pixel(l[4]))), r"line 5: expected 2304 pixel values \(48x48\), found 2303"),
    "long row": (lambda s: _rows(s, lambda l: l.__setitem__(
        2, _replace_pixel(l[2], "7 7"))), r"line 3: expected 2304 pixel values"),
    "non-numeric pixel": (lambda s: _rows(s, lambda l: l.__setitem__(
        7, _replace_pixel(l[7], "12a"))), r"line 8: pixel value '12a' is not an integer"),
    "negative pixel": (lambda s: _rows(s, lambda l: l.__setitem__(
        7, _replace_pixel(l[7], "-3"))), r"line 8: pixel value '-3' is not an integer"),
    "pixel above 255": (lambda s: _rows(s, lambda l: l.__setitem__(
        6, _replace_pixel(l[6], "400"))), r"line 7: pixel value 400 is outside 0\.\.255"),
    "wrapping pixel": (lambda s: _rows(s, lambda l: l.__setitem__(
        6, _replace_pixel(l[6], "65537"))), r"line 7: pixel value 65537 is outside"),
    "label 7": (lambda s: _rows(s, lambda l: l.__setitem__(9, "7" + l[9][1:])),
                r"line 10: emotion '7' is not a label 0\.\.6"),
    "label text": (lambda s: _rows(s, lambda l: l.__setitem__(2, "happy" + l[2][1:])),
                   r"line 3: emotion 'happy'"),
    "unknown usage": (lambda s: _rows(s, lambda l: l.__setitem__(4, l[4].replace(
        "Training", "Validation"))), r"line 5: unknown Usage 'Validation'; valid values"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_malformed_csv_names_file_and_line(tmp_path, sample, home, case):
    content, message = BAD_FILES[case]
    path = tmp_path / "bad.csv"
    path.write_text(content(sample) if callable(content) else content)
    with pytest.raises(ValueError, match=r"bad\.csv: " + message if "line" in message
                       else message) as error:
        load_fer2013(path)
    assert "bad.csv" in str(error.value)
    assert cache_files(home) == []  # nothing cached, no temporary file left


def test_missing_file(tmp_path, home):
    with pytest.raises(FileNotFoundError, match="nothere.csv"):
        load_fer2013(tmp_path / "nothere.csv")
    assert cache_files(home) == []


def test_corrupt_archives(tmp_path):
    (tmp_path / "a.csv.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match=r"a\.csv\.gz: cannot decompress"):
        load_fer2013(tmp_path / "a.csv.gz", cache=False)
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as archive:
        archive.writestr("a.csv", "x")
        archive.writestr("b.csv", "y")
    with pytest.raises(ValueError, match="exactly one .csv"):
        load_fer2013(tmp_path / "two.zip", cache=False)


# ------------------------------------------------------------------- cache
def test_cache_hit_invalidation_and_no_leftovers(tmp_path, sample, home, monkeypatch):
    pixels, labels, usage = sample
    source = tmp_path / "src"
    source.mkdir()
    path = write_kaggle(source / "fer2013.csv", pixels, labels, usage)
    first = load_fer2013(path)
    entries = cache_files(home)
    assert len(entries) == 1 and entries[0].endswith(".npz")
    assert sorted(p.name for p in source.iterdir()) == ["fer2013.csv"]  # nothing beside it

    def no_parse(path):
        raise AssertionError("parsed although cached")

    with monkeypatch.context() as patch:
        patch.setattr(_fer2013, "_parse_csv", no_parse)
        hit = load_fer2013(path)
    np.testing.assert_array_equal(hit.data, first.data)
    np.testing.assert_array_equal(hit.usage, first.usage)

    # A changed source (new content, size and mtime) replaces the entry.
    write_kaggle(path, pixels[:4], labels[:4], usage[:4])
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    changed = load_fer2013(path)
    np.testing.assert_array_equal(changed.data, pixels[:4])
    assert cache_files(home) == entries

    # A broken source leaves the valid entry alone and writes nothing.
    path.write_text("emotion,pixels,Usage\n1,2 3,Training\n")
    with pytest.raises(ValueError, match="line 2"):
        load_fer2013(path)
    assert cache_files(home) == entries


def test_cache_sees_an_edit_that_keeps_size_and_mtime(tmp_path, sample, home):
    pixels, labels, usage = sample
    path = write_kaggle(tmp_path / "fer2013.csv", pixels, labels, usage)
    np.testing.assert_array_equal(load_fer2013(path).data, pixels)
    stat = path.stat()
    edited = pixels.copy()
    value = int(pixels[0, 0])
    # Another value with as many digits: the file keeps its size.
    edited[0, 0] = value + 1 if len(str(value + 1)) == len(str(value)) else value - 1
    write_kaggle(path, edited, labels, usage)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as `touch -r` leaves it
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    np.testing.assert_array_equal(load_fer2013(path).data, edited)


def test_image_folder_cache_sees_an_edited_image(tmp_path, sample, home):
    folder = tmp_path / "faces"
    (folder / "train" / "happy").mkdir(parents=True)
    image = folder / "train" / "happy" / "a.bmp"  # uncompressed: an edit keeps the size
    Image.fromarray(sample[0][0].reshape(48, 48)).save(image)
    stat = image.stat()
    load_fer2013(folder)
    Image.fromarray(255 - sample[0][0].reshape(48, 48)).save(image)
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert image.stat().st_size == stat.st_size and image.stat().st_mtime_ns == stat.st_mtime_ns
    np.testing.assert_array_equal(load_fer2013(folder).data[0], 255 - sample[0][0])


def test_unwritable_cache_warns_and_loads(tmp_path, sample):
    path = write_kaggle(tmp_path / "fer2013.csv", *sample)
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder")  # a data home below a file cannot be created, even by root
    with pytest.warns(UserWarning, match="cannot use the cache .* parsed without it"):
        faces = load_fer2013(path, data_home=blocked / "home")
    np.testing.assert_array_equal(faces.data, sample[0])
    # A cache folder that exists but refuses the entry: the same.
    home = tmp_path / "home"
    (home / "fer2013_cache").mkdir(parents=True)
    entry = _fer2013._cache_file(path.absolute(), home)
    entry.mkdir()  # where the entry file would go
    with pytest.warns(UserWarning, match="could not write the cache"):
        faces = load_fer2013(path, data_home=home)
    np.testing.assert_array_equal(faces.data, sample[0])
    assert sorted(p.name for p in (home / "fer2013_cache").iterdir()) == [entry.name]


def test_interrupt_while_the_cache_is_written_leaves_no_temporary_file(tmp_path, sample, home,
                                                                       monkeypatch):
    path = write_kaggle(tmp_path / "fer2013.csv", *sample)

    def interrupted_savez(file, **arrays):
        file.write(b"PK\x03\x04 part of an archive")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted_savez)
    with pytest.raises(KeyboardInterrupt):
        load_fer2013(path)
    assert cache_files(home) == []


def test_cache_without_target_and_explicit_home(tmp_path, sample):
    path = write_kaggle(tmp_path / "test.csv", sample[0])
    load_fer2013(path, data_home=tmp_path / "h")
    faces = load_fer2013(path, data_home=tmp_path / "h")
    assert faces.target is None and faces.usage is None
    assert len(cache_files(tmp_path / "h")) == 1


def test_corrupt_cache_entry_is_rebuilt(tmp_path, sample, home):
    path = write_kaggle(tmp_path / "a.csv", *sample)
    load_fer2013(path)
    entry = Path(home) / "fer2013_cache" / cache_files(home)[0]
    entry.write_bytes(b"garbage")
    np.testing.assert_array_equal(load_fer2013(path).data, sample[0])
    np.testing.assert_array_equal(load_fer2013(path).data, sample[0])


def test_get_data_home(tmp_path, monkeypatch):
    assert get_data_home(tmp_path / "x") == str(tmp_path / "x")
    assert (tmp_path / "x").is_dir()
    monkeypatch.setenv("FER_SKLEARN_DATA", str(tmp_path / "env"))
    assert get_data_home() == str(tmp_path / "env")
    monkeypatch.delenv("FER_SKLEARN_DATA")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home() == str(tmp_path / "fer_sklearn_data")


# --------------------------------------------------------------- property
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_round_trip_kaggle_format(tmp_path, data):
    n = data.draw(st.integers(1, 6), label="n")
    seed = data.draw(st.integers(0, 2**31 - 1), label="seed")
    rng = np.random.RandomState(seed)
    # Mix ordinary images with constant 0 and 255 rows (the 1- and 3-digit edges).
    pixels = rng.randint(0, 256, (n, 2304)).astype(np.uint8)
    pixels[rng.rand(n) < 0.2] = data.draw(st.sampled_from([0, 9, 10, 99, 100, 255]))
    labels = data.draw(st.lists(st.integers(0, 6), min_size=n, max_size=n), label="labels")
    usage = data.draw(st.lists(st.sampled_from(USAGES), min_size=n, max_size=n),
                      label="usage")
    suffix = data.draw(st.sampled_from([".csv", ".csv.gz"]), label="suffix")
    newline = data.draw(st.sampled_from(["\n", "\r\n"]), label="newline")
    path = write_kaggle(tmp_path / f"rt{suffix}", pixels, labels, usage, newline=newline)
    faces = load_fer2013(path, cache=False)
    np.testing.assert_array_equal(faces.data, pixels)
    assert faces.target.tolist() == labels
    assert faces.usage.tolist() == usage


# -------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def real_home(tmp_path_factory):
    """One isolated data home for the real-data tests: the CSV is parsed once (10 s here)."""
    return tmp_path_factory.mktemp("real") / "home"


@needs_fer2013
def test_real_fer2013_counts(real_home):
    faces = load_fer2013(REAL, usage="Training", data_home=real_home)
    assert faces.data.shape == (28709, 2304)
    assert np.bincount(faces.target).tolist() == [3995, 436, 4097, 7215, 4830, 3171, 4965]
    # From the cache written above.
    test = load_fer2013(REAL, usage="PublicTest", data_home=real_home)
    assert np.bincount(test.target).tolist() == [467, 56, 496, 895, 653, 415, 607]
    assert test.data.shape == (3589, 2304)


@needs_ferplus
def test_real_ferplus(real_home):
    # The pixels come from the cache when the test above ran first; the votes are parsed.
    faces = load_fer2013(REAL, labels="ferplus-proba", ferplus_path=REAL_FERPLUS,
                         data_home=real_home)
    assert faces.target.max() == 7 and len(faces.target) < 32298
    np.testing.assert_allclose(faces.target_proba.sum(axis=1), 1)
    assert (faces.target == faces.target_proba.argmax(axis=1)).all()


# ------------------------------------------------------------- make_faces
def test_make_faces_shapes_and_determinism():
    faces = make_faces(70, random_state=0, return_masks=True)
    assert faces.data.shape == (70, 2304) and faces.data.dtype == np.float32
    assert faces.images.shape == faces.masks.shape == (70, 48, 48)
    np.testing.assert_array_equal(faces.images.reshape(70, -1), faces.data)
    assert faces.data.min() >= 0 and faces.data.max() <= 255
    assert np.bincount(faces.target).tolist() == [10] * 7
    assert list(faces.target_names) == list(EMOTIONS)
    assert "Synthetic faces" in faces.DESCR
    again = make_faces(70, random_state=0, return_masks=True)
    np.testing.assert_array_equal(faces.data, again.data)
    np.testing.assert_array_equal(faces.masks, again.masks)
    other = make_faces(70, random_state=1)
    assert not np.array_equal(faces.data, other.data)
    X, y, masks = make_faces(70, random_state=0, return_X_y=True, return_masks=True)
    np.testing.assert_array_equal(X, faces.data)
    np.testing.assert_array_equal(masks, faces.masks)
    X, y = make_faces(9, image_size=20, noise=0, random_state=0, return_X_y=True)
    assert X.shape == (9, 400) and len(set(y.tolist())) == 7
    with pytest.raises(ValueError, match="n_samples"):
        make_faces(0)


def test_make_faces_masks_are_inside_and_ordered():
    faces = make_faces(140, random_state=0, return_masks=True)
    rows = np.arange(48)[None, :, None]
    for region in (1, 2):
        area = (faces.masks == region).sum(axis=(1, 2))
        assert (area > 20).all()  # every region mostly inside the image
    eyes_row = ((faces.masks == 1) * rows).sum(axis=(1, 2)) / (faces.masks == 1).sum(axis=(1, 2))
    mouth_row = ((faces.masks == 2) * rows).sum(axis=(1, 2)) / (faces.masks == 2).sum(axis=(1, 2))
    assert (eyes_row < mouth_row).all()


def _render_faces(expressions, seed, same_face=False):
    """Faces drawn with ``seed`` (or copies of its first), one per expression row."""
    n = len(expressions)
    params = _synthetic._draw_params(1 if same_face else n, np.random.RandomState(seed), 0.0)
    params = {k: np.repeat(v, n) if same_face else v for k, v in params.items()}
    params["occluded"][:] = False
    for name, column in zip(_synthetic._PARAMS, np.asarray(expressions).T):
        params[name] = column
    grid = ((np.arange(48) + 0.5) / 48 * 2 - 1).astype(np.float32)
    return _synthetic._render({k: v.astype(np.float32) if v.dtype.kind == "f" else v
                               for k, v in params.items()}, grid, np.random.RandomState(0))


def test_make_faces_evidence_lies_inside_the_masks():
    # The same 300 random faces drawn with their own expression, then neutral:
    # every pixel that changed lies in the mask of one drawing or the other,
    # and the masks are the features themselves, not the whole face.
    params = _synthetic._draw_params(300, np.random.RandomState(0), noise=0.0)
    expressions = np.column_stack([params[name] for name in _synthetic._PARAMS])
    images, masks = _render_faces(expressions, seed=0)
    neutral, masks_n = _render_faces(np.tile(_synthetic._NEUTRAL, (300, 1)), seed=0)
    changed = np.abs(images - neutral) > 0.5
    assert changed.any(axis=(1, 2)).mean() > 0.8  # expressions do change the face
    assert not (changed & (masks == 0) & (masks_n == 0)).any()
    assert 0.08 < (masks > 0).mean() < 0.2


def test_make_faces_each_class_distinct_in_brows_and_mouth():
    # One face under the 7 full-intensity prototypes: every pair of classes
    # differs clearly in the eyes/brows region, the mouth region, or both,
    # and the per-region differences follow the documented design.
    images, masks = _render_faces(_synthetic._PROTOTYPES, seed=3, same_face=True)

    def region_diff(a, b, region):
        return np.abs(images[a] - images[b])[(masks[a] == region) | (masks[b] == region)].sum()

    for a in range(7):
        for b in range(a + 1, 7):
            assert region_diff(a, b, 1) + region_diff(a, b, 2) > 300, (EMOTIONS[a], EMOTIONS[b])
    neutral = EMOTIONS.index("neutral")
    for emotion in ("angry", "sad", "surprise", "fear"):  # brows move
        assert region_diff(EMOTIONS.index(emotion), neutral, 1) > 300
    for emotion in ("happy", "sad", "surprise", "fear", "disgust"):  # mouths move
        assert region_diff(EMOTIONS.index(emotion), neutral, 2) > 300


def test_make_faces_is_learnable_by_a_small_cnn():
    X, y = make_faces(700, random_state=0, return_X_y=True)
    X_test, y_test = make_faces(350, random_state=1, return_X_y=True)
    cnn = FERCNNClassifier(n_filters=8, n_blocks=3, max_epochs=5, batch_size=64,
                           random_state=0, device="cpu").fit(X, y)
    assert cnn.score(X_test, y_test) > 0.25  # chance is 1/7
