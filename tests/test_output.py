"""The one writer (fer_sklearn._output): nothing half-written, nothing of the user's replaced."""

import json
import os

import pytest

from fer_sklearn._output import (
    MARKER, OutputError, atomic_open, check_output_file, check_output_folder, output_folder,
)


def _tree(folder):
    return sorted(os.path.relpath(os.path.join(root, name), folder)
                  for root, dirs, files in os.walk(folder) for name in dirs + files)


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_atomic_open_leaves_the_old_file_and_no_temp_on_error(tmp_path, error):
    path = tmp_path / "model.skops"
    path.write_bytes(b"the good model")
    with pytest.raises(error):
        with atomic_open(path) as file:
            file.write(b"half a mod")
            raise error
    assert path.read_bytes() == b"the good model"
    assert _tree(tmp_path) == ["model.skops"]


def test_atomic_open_replaces_only_when_complete(tmp_path):
    path = tmp_path / "out.csv"
    path.write_bytes(b"old")
    with atomic_open(path) as file:
        file.write(b"new")
        assert path.read_bytes() == b"old"  # not yet
    assert path.read_bytes() == b"new" and _tree(tmp_path) == ["out.csv"]


def test_check_output_file(tmp_path):
    data = tmp_path / "faces.csv"
    data.write_text("x")
    check_output_file(tmp_path / "new.csv")
    with pytest.raises(OutputError, match="faces.csv exists; pass --force"):
        check_output_file(data)
    check_output_file(data, force=True)
    # An input is never an output, --force or not.
    with pytest.raises(OutputError, match="would replace the input"):
        check_output_file(data, force=True, inputs=[None, data])
    with pytest.raises(OutputError, match="is a folder"):
        check_output_file(tmp_path, force=True)
    assert data.read_text() == "x"


def test_check_output_folder_refuses_what_is_not_ours(tmp_path, monkeypatch):
    home = tmp_path / "home"
    work = home / "work"
    work.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    data = work / "data" / "fer2013.csv"
    data.parent.mkdir()
    data.write_text("pixels")
    for path, message in [(".", "current folder"), (str(home), "current folder"),
                          (str(work / "data"), "input")]:
        with pytest.raises(OutputError, match=message):
            check_output_folder(path, force=True, inputs=[data])
    with pytest.raises(OutputError, match="home or root"):
        monkeypatch.chdir(tmp_path)
        check_output_folder(home, force=True)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="pass --force"):
        check_output_folder(mine)
    with pytest.raises(OutputError, match=f"has no {MARKER}"):
        check_output_folder(mine, force=True)
    assert (mine / "notes.txt").read_text() == "mine"
    # Missing and empty folders are fine, without --force.
    (tmp_path / "empty").mkdir()
    for name in ("missing", "empty"):
        assert check_output_folder(tmp_path / name) == str(tmp_path / name)


def test_output_folder_replaces_an_earlier_output_and_nothing_else(tmp_path):
    out = tmp_path / "report"
    with output_folder(out) as folder:
        os.mkdir(os.path.join(folder, "figures"))
        for name in ("report.html", os.path.join("figures", "a.png")):
            with open(os.path.join(folder, name), "w") as file:
                file.write("first")
    assert _tree(out) == sorted([MARKER, "figures", "figures/a.png", "report.html"])
    assert json.loads((out / MARKER).read_text())["files"] == ["figures/a.png", "report.html"]
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no temporary folder left

    # A second run replaces it (with force), leaving only the new files.
    with output_folder(out, force=True) as folder:
        with open(os.path.join(folder, "report.html"), "w") as file:
            file.write("second")
    assert _tree(out) == sorted([MARKER, "report.html"])
    assert (out / "report.html").read_text() == "second"

    # A file the user added since makes the folder no longer ours alone.
    (out / "my notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="did not write \\(my notes.txt\\)"):
        with output_folder(out, force=True):
            pass
    assert (out / "my notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_output_folder_failure_leaves_the_old_output(tmp_path, error):
    out = tmp_path / "report"
    with output_folder(out) as folder:
        with open(os.path.join(folder, "report.html"), "w") as file:
            file.write("good")
    with pytest.raises(error):
        with output_folder(out, force=True) as folder:
            with open(os.path.join(folder, "report.html"), "w") as file:
                file.write("half")
            raise error
    assert (out / "report.html").read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_user_file_added_during_the_run_is_kept(tmp_path):
    out = tmp_path / "report"
    with output_folder(out) as folder:
        open(os.path.join(folder, "report.html"), "w").close()
    with pytest.raises(OutputError, match="did not write"):
        with output_folder(out, force=True) as folder:
            (out / "added meanwhile.txt").write_text("keep me")
            open(os.path.join(folder, "report.html"), "w").close()
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [MARKER, "added meanwhile.txt", "report.html"])
    assert [p.name for p in tmp_path.iterdir()] == ["report"]
