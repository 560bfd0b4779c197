"""The ``fer-sklearn`` command line: the study report, the error paths, train/evaluate/predict."""

import contextlib
import io
import json
import math
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

import fer_sklearn
from fer_sklearn.cli import _study, main
from fer_sklearn.datasets import make_faces

# The smallest study that still runs every step.
TINY_STUDY = ["--quick", "--n-samples", "140", "--epochs", "1", "--n-filters", "4",
              "--n-blocks", "2", "--quiet"]
TINY_TRAIN = ["--n-samples", "140", "--epochs", "1", "--n-filters", "4", "--n-blocks", "2",
              "--quiet"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NUM_SPAN = re.compile(r'<span class="num" data-key="([^"]+)"( data-magnitude="1")?>([^<]*)</span>')


@pytest.fixture(autouse=True)
def _data_home(tmp_path_factory, monkeypatch):
    # load_fer2013's cache goes to a scratch folder, not the user's home.
    monkeypatch.setenv("FER_SKLEARN_DATA", str(tmp_path_factory.getbasetemp() / "data_home"))


def run(argv):
    """``main(argv)`` in-process: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """One tiny study, run with --force over an earlier output of ours."""
    from fer_sklearn._output import output_folder

    out = tmp_path_factory.mktemp("study") / "report"
    with output_folder(out) as folder:  # as an earlier run writes it
        with open(os.path.join(folder, "stale.txt"), "w") as file:
            file.write("from an earlier run")
    status, stdout, stderr = run(["study", "--out", out, "--force", *TINY_STUDY])
    assert status == 0, stderr
    results = json.loads((out / "results.json").read_text())
    return {"out": out, "stdout": stdout, "results": results,
            "html": (out / "report.html").read_text(encoding="utf-8"),
            "md": (out / "report.md").read_text(encoding="utf-8")}


def test_study_writes_report_results_and_figures(study):
    out = study["out"]
    assert not (out / "stale.txt").exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp folders
    # --quiet leaves only the line naming the report.
    assert study["stdout"] == f"report: {out / 'report.html'}\n"
    figures = sorted(p.name for p in out.glob("*.png"))
    assert {"confusion_matrix.png", "saliency_gradient.png", "saliency_gradcam.png",
            "filters.png", "activations.png", "cnn_training_curves.png"} <= set(figures)
    from matplotlib.image import imread

    for name in figures:
        assert (out / name).read_bytes()[:8] == PNG_SIGNATURE
        image = imread(out / name)
        assert image.ndim == 3 and min(image.shape[:2]) > 50
        assert f"]({name})" in study["md"]
    results = study["results"]
    assert set(results["models"]) == {"cnn", "dnn"}
    # A tiny CNN has fewer parameters than the narrowest DNN: the match takes width 1.
    assert results["models"]["dnn"]["hidden_layer_sizes"] == [1, 1]
    assert results["saliency"]["mask"]["gradient"]["both"] > 0
    assert results["environment"]["versions"]["fer_sklearn"] == fer_sklearn.__version__


def test_the_report_opens_with_a_summary_and_its_contents(study):
    html, results = study["html"], study["results"]
    titles = re.findall(r'<h2 id="([^"]+)">([^<]+)</h2>', html)
    assert titles[0][1] == "Summary" and len(titles) == 7
    # The contents link every section, in order.
    assert re.findall(r'<li><a href="#([^"]+)">', html) == [anchor for anchor, _ in titles]
    assert f"- [Summary](#{titles[0][0]})" in study["md"]
    summary = html[html.index('<h2 id="summary">'):html.index(f'<h2 id="{titles[1][0]}">')]
    assert "95% interval" in summary and "comparison.interval.cnn.0" in summary
    comparison = results["comparison"]
    for key in ("cnn", "dnn"):
        low, high = comparison["interval"][key]
        accuracy = results["models"][key]["accuracy"][comparison["test_set"]]
        assert 0 <= low < accuracy < high <= 1
        # Wilson's score interval is centred on (k + z^2/2) / (n + z^2), z = 1.96,
        # and half as wide as z sqrt(n p (1-p) + z^2/4) / (n + z^2).
        n, z = comparison["n_test"], 1.959964
        k = round(accuracy * n)
        assert math.isclose((low + high) / 2, (k + z * z / 2) / (n + z * z), rel_tol=1e-6)
        assert math.isclose((high - low) / 2, z * math.sqrt(k * (n - k) / n + z * z / 4)
                            / (n + z * z), rel_tol=1e-6)
    assert np.asarray(results["confusion"]["dnn_normalized"]).shape == (7, 7)
    assert '<meta name="viewport"' in html and '<div class="table"><table>' in html


def _shown_value(text):
    """The number a formatted string shows, and half its last digit (the rounding)."""
    percent = text.endswith("%")
    digits = text.rstrip("%").replace(",", "")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    scale = 0.01 if percent else 1.0
    return float(digits) * scale, 0.5 * 10.0 ** -decimals * scale * 1.0001


def test_every_number_in_the_html_agrees_with_results_json(study):
    from fer_sklearn.cli._report import lookup

    spans = NUM_SPAN.findall(study["html"])
    keys = {key for key, _, _ in spans}
    assert len(spans) > 60
    assert {"models.cnn.n_params", "models.dnn.n_params", "models.cnn.accuracy.test",
            "models.dnn.accuracy.test", "comparison.param_share", "saliency.mask.gradient.both",
            "saliency.sanity.gradcam.spearman", "filters.n_steps", "wall_seconds"} <= keys
    for key, magnitude, text in spans:
        value = lookup(study["results"], key)
        if text == "n/a":
            assert value is None
            continue
        shown, tolerance = _shown_value(text)
        value = abs(value) if magnitude else value
        assert math.isclose(shown, value, abs_tol=tolerance), (key, text, value)
        assert text in study["md"]  # the Markdown shows the same numbers


def test_html_is_self_contained(study):
    html = study["html"]
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", html, re.I)
    assert "<link" not in html and "<script" not in html and "url(" not in html
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert len(sources) == len(list(study["out"].glob("*.png")))
    import base64

    for source in sources:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1])[:8] == PNG_SIGNATURE


def test_study_shows_progress_without_quiet(tmp_path, monkeypatch):
    # Stop after the first epoch table and progress line: the progress is what is tested.
    def stop(*args, **kwargs):
        print("[study] stopped by the test")
        raise KeyboardInterrupt

    monkeypatch.setattr(_study, "_model_results", stop)
    out = tmp_path / "report"
    argv = ["study", "--out", out, *(a for a in TINY_STUDY if a != "--quiet")]
    status, stdout, stderr = run(argv)
    assert status == 130
    assert stderr == "fer-sklearn: error: interrupted (SIGINT)\n"
    assert "[study] training the CNN" in stdout and "valid_acc" in stdout
    # The interrupted run left nothing behind.
    assert list(tmp_path.iterdir()) == []


def _write_csv(path, X, y, usage=None):
    lines = ["emotion,pixels" + (",Usage" if usage is not None else "")]
    for i, (pixels, label) in enumerate(zip(X.astype(int), y)):
        lines.append(f"{label},{' '.join(map(str, pixels))}"
                     + (f",{usage[i]}" if usage is not None else ""))
    path.write_text("\n".join(lines) + "\n")
    return path


def _assert_one_line_error(status, stderr, *fragments):
    assert status == 2
    assert stderr.startswith("fer-sklearn: error: ") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in stderr


@pytest.mark.parametrize("case", ["missing", "malformed", "unlabelled", "device", "not-empty",
                                  "ferplus-alone", "bad-epochs"])
def test_study_user_errors_are_one_line_and_leave_no_output(tmp_path, case):
    out = tmp_path / "report"
    argv = ["study", "--out", out, *TINY_STUDY]
    expected = {"missing": "nope.csv", "malformed": "line 2", "unlabelled": "no 'emotion'",
                "device": "device", "not-empty": "--force", "ferplus-alone": "--ferplus",
                "bad-epochs": "--epochs"}[case]
    if case == "missing":
        argv += ["--data", tmp_path / "nope.csv"]
    elif case == "malformed":
        (tmp_path / "bad.csv").write_text("emotion,pixels,Usage\n3,1 2 3,Training\n")
        argv += ["--data", tmp_path / "bad.csv"]
    elif case == "unlabelled":
        (tmp_path / "test.csv").write_text("pixels\n" + " ".join(["7"] * 2304) + "\n")
        argv += ["--data", tmp_path / "test.csv"]
    elif case == "device":
        argv += ["--device", "tpu"]
    elif case == "not-empty":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    elif case == "ferplus-alone":
        argv += ["--ferplus", tmp_path / "fer2013new.csv"]
    else:
        argv += ["--epochs", "0"]
    _assert_one_line_error(*run(argv)[::2], expected)
    if case == "not-empty":
        assert [p.name for p in out.iterdir()] == ["keep.txt"]
    else:
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_study_data_from_a_fer2013_csv(tmp_path):
    X, y = make_faces(98, random_state=0, return_X_y=True)
    usage = np.array(["Training"] * 70 + ["PublicTest"] * 14 + ["PrivateTest"] * 14)
    # With a Training/test Usage split: train on Training, evaluate on both test sets.
    data = _study.study_data(_write_csv(tmp_path / "fer2013.csv", X, y, usage), ferplus=None,
                             n_samples=None, seed=0)
    assert len(data.y_train) == 70 and data.masks is None
    assert {name: len(t[1]) for name, t in data.tests.items()} == {"PublicTest": 14,
                                                                   "PrivateTest": 14}
    # Without one: a stratified 80/20 split.
    data = _study.study_data(_write_csv(tmp_path / "train.csv", X, y), ferplus=None,
                             n_samples=None, seed=0)
    assert list(data.tests) == ["test"] and len(data.tests["test"][1]) == 20
    assert np.bincount(data.tests["test"][1]).min() >= 2


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "cnn.skops"
    status, stdout, stderr = run(["train", "--model", "cnn", "--out", path, *TINY_TRAIN])
    assert status == 0, stderr
    assert "saved" in stdout and path.exists()
    return path


def test_train_evaluate_predict_round_trip(model_file, tmp_path):
    from PIL import Image

    from fer_sklearn import EMOTIONS, load

    model = load(model_file)
    # evaluate on a labelled CSV, with --json
    X, y = make_faces(70, random_state=5, return_X_y=True)
    X = np.rint(X)
    csv = _write_csv(tmp_path / "faces.csv", X, y)
    report = tmp_path / "eval.json"
    status, stdout, stderr = run(["evaluate", model_file, "--data", csv, "--json", report])
    assert status == 0, stderr
    numbers = json.loads(report.read_text())
    assert numbers["accuracy"] == pytest.approx(model.score(X, y))
    assert f"accuracy: {numbers['accuracy']:.4f} on 70 faces" in stdout
    assert "confusion matrix" in stdout and np.sum(numbers["confusion_matrix"]) == 70
    assert numbers["labels"] == list(EMOTIONS)
    # predict a CSV (its labels are ignored) to a file
    predictions = tmp_path / "pred.csv"
    status, _, stderr = run(["predict", model_file, csv, "--out", predictions])
    assert status == 0, stderr
    import pandas as pd

    table = pd.read_csv(predictions)
    landmarks = [f"{point}_{axis}" for point in
                 ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right") for axis in "xy"]
    assert table[landmarks].isna().all(axis=None)  # faces of a table have no landmarks
    assert table.columns.tolist() == ["file", "face", "x", "y", "width", "height", *landmarks,
                                      "label",
                                      *(f"proba_{e}" for e in EMOTIONS), "error"]
    assert (table["file"] == str(csv)).all() and table["face"].tolist() == list(range(70))
    assert table["error"].isna().all()
    assert table["label"].tolist() == [EMOTIONS[i] for i in model.predict(X)]
    np.testing.assert_allclose(table.filter(like="proba_").sum(axis=1), 1, atol=1e-4)
    # predict a folder of images, to stdout: 48x48 images are faces already, a larger
    # one is a photograph searched for faces (this drawn face has none a detector finds)
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(X[i].reshape(48, 48).astype(np.uint8)).save(folder / f"face{i}.png")
    big = Image.fromarray(X[3].reshape(48, 48).astype(np.uint8)).resize((64, 64))
    big.save(folder / "sub" / "big.jpg")
    status, stdout, stderr = run(["predict", model_file, folder])
    assert status == 0, stderr
    table = pd.read_csv(io.StringIO(stdout))
    assert table["file"].unique().tolist() == ["face0.png", "face1.png", "face2.png",
                                               "sub/big.jpg"]
    assert table["label"].tolist()[:3] == [EMOTIONS[i] for i in model.predict(X[:3])]


def test_train_dnn_on_csv_training_rows(tmp_path):
    X, y = make_faces(84, random_state=0, return_X_y=True)
    csv = _write_csv(tmp_path / "fer.csv", X, y, ["Training"] * 70 + ["PublicTest"] * 14)
    path = tmp_path / "dnn.skops"
    status, stdout, stderr = run(["train", "--model", "dnn", "--data", csv, "--out", path,
                                  *TINY_TRAIN])
    assert status == 0, stderr
    assert "FERDNNClassifier" in stdout and "70 faces" in stdout


@pytest.mark.parametrize("case", ["other-version", "not-a-model", "missing-model",
                                  "existing-out", "empty-folder", "unknown-usage"])
def test_model_user_errors_are_one_line(model_file, tmp_path, monkeypatch, case):
    if case == "other-version":
        from fer_sklearn import _persistence, load, save

        old = tmp_path / "old.skops"
        model = load(model_file)
        with monkeypatch.context() as patch:  # save as if by fer_sklearn 0.0.1
            patch.setattr(fer_sklearn, "__version__", "0.0.1")
            patch.setattr(_persistence, "__version__", "0.0.1", raising=False)
            save(model, old)
        argv, expected = ["evaluate", old, *TINY_TRAIN[:2]], "0.0.1"
    elif case == "not-a-model":
        from PIL import Image

        (tmp_path / "x.skops").write_text("hello")
        Image.new("L", (48, 48)).save(tmp_path / "face.png")
        argv, expected = ["predict", tmp_path / "x.skops", tmp_path], "not a file written"
    elif case == "missing-model":
        argv, expected = ["evaluate", tmp_path / "none.skops"], "none.skops"
    elif case == "existing-out":
        argv, expected = ["train", "--out", model_file, *TINY_TRAIN], "--force"
    elif case == "empty-folder":
        argv, expected = ["predict", model_file, tmp_path], "no files ending in .png, .jpg"
    else:
        X, y = make_faces(70, random_state=0, return_X_y=True)
        csv = _write_csv(tmp_path / "f.csv", X, y, ["Training"] * 70)
        argv, expected = ["evaluate", model_file, "--data", csv], "PublicTest"
    _assert_one_line_error(*run(argv)[::2], expected)


def test_python_m_fer_sklearn_help():
    result = subprocess.run([sys.executable, "-m", "fer_sklearn", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: fer-sklearn")
    for command in ("study", "train", "evaluate", "predict"):
        assert command in result.stdout


# ------------------------------------------------- users' data: never lost, never silent
def _cli(*argv, **kwargs):
    """``python -m fer_sklearn ARGV`` in a child process, unbuffered, as a user runs it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "fer_sklearn", *map(str, argv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            **kwargs)


def _wait_for(process, text):
    """Read the child's output until a line holds ``text`` (fails if it exits first)."""
    for line in process.stdout:
        if text in line:
            return
    raise AssertionError(f"{text!r} never printed; stderr: {process.stderr.read()}")


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
            for p in sorted(folder.rglob("*"))}


def test_study_force_never_replaces_what_it_did_not_write(tmp_path, monkeypatch):
    X, y = make_faces(98, random_state=0, return_X_y=True)
    csv = _write_csv(tmp_path / "fer2013.csv", X, y)
    (tmp_path / "thesis.tex").write_text("mine")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _write_csv(inbox / "faces.csv", X, y)
    users = tmp_path / "users"
    users.mkdir()
    (users / "notes.txt").write_text("mine too")
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    for out, data, expected in [(".", csv, "current folder"), (tmp_path, csv, "current folder"),
                                (inbox, inbox / "faces.csv", "would replace the input"),
                                (users, csv, "was not written by fer-sklearn")]:
        status, _, stderr = run(["study", "--out", out, "--force", "--data", data, *TINY_STUDY])
        _assert_one_line_error(status, stderr, expected)
    assert _snapshot(tmp_path) == before


def test_predict_and_evaluate_ask_before_replacing_a_file(model_file, tmp_path):
    X, y = make_faces(70, random_state=5, return_X_y=True)
    csv = _write_csv(tmp_path / "faces.csv", np.rint(X), y)
    predictions, report = tmp_path / "pred.csv", tmp_path / "eval.json"
    predictions.write_text("my results")
    report.write_text("{}")
    before = _snapshot(tmp_path)
    for argv, expected in [(["predict", model_file, csv, "--out", predictions], "pred.csv exists"),
                           (["evaluate", model_file, "--data", csv, "--json", report],
                            "eval.json exists"),
                           # An input is never an output, --force or not.
                           (["predict", model_file, csv, "--out", csv, "--force"],
                            "would replace the input"),
                           (["train", "--data", csv, "--out", csv, "--force", *TINY_TRAIN],
                            "would replace the input")]:
        _assert_one_line_error(*run(argv)[::2], expected)
    assert _snapshot(tmp_path) == before
    status, _, stderr = run(["predict", model_file, csv, "--out", predictions, "--force"])
    assert status == 0, stderr
    assert predictions.read_text().startswith("file,face,x,y,width,height,left_eye_x,")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_train_saves_nothing_and_keeps_the_old_model(model_file, tmp_path,
                                                                     signum):
    out = tmp_path / "model.skops"
    out.write_bytes(model_file.read_bytes())
    process = _cli("train", "--out", out, "--force", "--n-samples", "140", "--epochs", "500",
                   "--n-filters", "4", "--n-blocks", "2")
    _wait_for(process, "train_loss")  # skorch's epoch table: training is under way
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signum
    assert stderr == f"fer-sklearn: error: interrupted ({signal.Signals(signum).name})\n"
    assert out.read_bytes() == model_file.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["model.skops"]


def test_an_interrupted_study_publishes_nothing(tmp_path):
    process = _cli("study", "--out", tmp_path / "report", "--quick", "--n-samples", "140",
                   "--epochs", "500", "--n-filters", "4", "--n-blocks", "2")
    _wait_for(process, "train_loss")
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert list(tmp_path.iterdir()) == []  # no report, no temporary folder


def test_an_interrupted_train_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    """SIGINT after an epoch: no model, the checkpoint kept, and the same command
    run again ends with the model of an uninterrupted run."""
    from fer_sklearn import load

    # One torch thread in every run: the same reductions (a resumed fit is identical
    # to an uninterrupted one at the same thread count), and the two last runs share
    # the two cores.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")

    options = ["--n-samples", "800", "--epochs", "6", "--n-filters", "4", "--n-blocks", "2"]
    out, checkpoint = tmp_path / "model.skops", tmp_path / "run"
    process = _cli("train", "--out", out, "--checkpoint", checkpoint, *options)
    _wait_for(process, "train_loss")  # the first epoch's row: its checkpoint is written
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    first, hint = stderr.splitlines()
    assert first == "fer-sklearn: error: interrupted (SIGINT)"
    assert re.fullmatch(rf"fer-sklearn: the checkpoint in {re.escape(str(checkpoint))} keeps "
                        r"the model: [1-5] epochs?; run the same command again to resume", hint)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]

    resumed = _cli("train", "--out", out, "--checkpoint", checkpoint, "--quiet", *options)
    reference = _cli("train", "--out", tmp_path / "reference.skops", "--quiet", *options)
    for process in (resumed, reference):
        assert process.wait(timeout=300) == 0, process.stderr.read()
        process.stdout.close()
        process.stderr.close()
    a, b = load(out), load(tmp_path / "reference.skops")
    assert a.n_iter_ == b.n_iter_ == 6
    for name, value in a.module_.state_dict().items():
        assert np.array_equal(value.numpy(), b.module_.state_dict()[name].numpy()), name

    status, _, stderr = run(["train", "--out", tmp_path / "other.skops", "--checkpoint",
                             checkpoint, *options[:3], "7", *options[4:]])
    assert status == 2
    assert "belongs to another fit, which had max_epochs=6 (this fit: 7)" in stderr


def test_an_interrupted_study_resumes_from_its_networks_checkpoints(study, tmp_path,
                                                                    monkeypatch):
    from fer_sklearn import FERDNNClassifier
    from fer_sklearn.cli._interrupt import Interrupted

    checkpoint = tmp_path / "run"
    argv = ["study", "--out", tmp_path / "report", "--checkpoint", checkpoint, *TINY_STUDY]
    fit = FERDNNClassifier.fit

    def interrupted(self, *args, **kwargs):  # SIGTERM once the CNN is trained
        raise Interrupted(signal.SIGTERM)

    monkeypatch.setattr(FERDNNClassifier, "fit", interrupted)
    status, _, stderr = run(argv)
    assert status == 143
    assert stderr.splitlines()[1] == (f"fer-sklearn: the checkpoint in {checkpoint} keeps cnn: "
                                      "1 epoch; run the same command again to resume")
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no report
    monkeypatch.setattr(FERDNNClassifier, "fit", fit)
    status, _, stderr = run(argv)
    assert status == 0, stderr
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    # The same study as one never interrupted.
    for key in ("cnn", "dnn"):
        assert results["models"][key]["accuracy"] == study["results"]["models"][key]["accuracy"]
    assert sorted(p.name for p in checkpoint.iterdir()) == ["cnn", "dnn"]


def test_colour_codes_only_on_a_terminal(tmp_path):
    status, stdout, stderr = run(["train", "--out", tmp_path / "m.skops",
                                  *(a for a in TINY_TRAIN if a != "--quiet")])
    assert status == 0, stderr
    assert "train_loss" in stdout and "\x1b[" not in stdout


def test_output_into_a_closed_pipe_is_one_line(model_file, tmp_path):
    X, y = make_faces(70, random_state=5, return_X_y=True)
    csv = _write_csv(tmp_path / "faces.csv", np.rint(X), y)
    read_end, write_end = os.pipe()
    os.close(read_end)  # as `| head` does once it has read enough
    try:
        result = subprocess.run([sys.executable, "-m", "fer_sklearn", "predict", str(model_file),
                                 str(csv)], stdout=write_end, stderr=subprocess.PIPE, text=True,
                                timeout=120)
    finally:
        os.close(write_end)
    _assert_one_line_error(result.returncode, result.stderr, "pipe was closed")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names are bytes")
def test_file_names_that_are_not_utf8(model_file, tmp_path):
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    X, _ = make_faces(70, random_state=5, return_X_y=True)
    name = os.fsdecode(b"caf\xe9.png")  # Latin-1, as an old camera or Windows share writes it
    Image.fromarray(X[0].reshape(48, 48).astype(np.uint8)).save(folder / name)
    out = tmp_path / os.fsdecode(b"r\xe9sultats.csv")
    status, stdout, stderr = run(["predict", model_file, folder, "--out", out])
    assert status == 0, stderr
    assert stdout == "wrote 1 predictions to " + str(out).encode(
        "utf-8", "backslashreplace").decode() + "\n"
    assert out.read_text(encoding="utf-8").splitlines()[1].startswith("caf\\udce9.png,0,")
    # A real process's stdout, a pipe that takes UTF-8 only.
    process = _cli("predict", model_file, folder)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert stdout.splitlines()[1].startswith("caf\\udce9.png,")


def test_unwritable_or_full_output_is_one_line_and_leaves_nothing(model_file, tmp_path):
    import resource

    X, y = make_faces(70, random_state=5, return_X_y=True)
    csv = _write_csv(tmp_path / "faces.csv", np.rint(X), y)
    not_a_folder = tmp_path / "faces.csv" / "pred.csv"
    _assert_one_line_error(*run(["predict", model_file, csv, "--out", not_a_folder])[::2],
                           f"{not_a_folder}: {csv} is not an existing folder")
    # A full disk, as a file-size limit: saving fails half way.
    limit = model_file.stat().st_size // 2
    out = tmp_path / "full"
    out.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "fer_sklearn", "train", "--out", str(out / "m.skops"),
         *TINY_TRAIN], capture_output=True, text=True, timeout=300,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
    _assert_one_line_error(result.returncode, result.stderr, "m.skops: File too large")
    assert list(out.iterdir()) == []


def test_no_cache_leaves_the_data_home_alone(tmp_path, monkeypatch):
    home = tmp_path / "data_home"
    monkeypatch.setenv("FER_SKLEARN_DATA", str(home))
    X, y = make_faces(84, random_state=0, return_X_y=True)
    csv = _write_csv(tmp_path / "fer.csv", X, y, ["Training"] * 70 + ["PublicTest"] * 14)
    argv = ["train", "--data", csv, *TINY_TRAIN]
    status, _, stderr = run([*argv, "--out", tmp_path / "a.skops", "--no-cache"])
    assert status == 0, stderr
    assert not list(home.rglob("*.npz"))
    status, _, stderr = run([*argv, "--out", tmp_path / "b.skops"])
    assert status == 0, stderr
    assert len(list(home.rglob("*.npz"))) == 1


def test_model_trained_on_a_gpu_predicts_here(model_file, tmp_path):
    """`train --device auto` on a GPU machine stores "cuda"; this machine may have none."""
    import torch

    from fer_sklearn import load, save

    model = load(model_file)
    model.device = f"cuda:{torch.cuda.device_count()}"  # a GPU this machine lacks
    gpu_file = tmp_path / "gpu.skops"
    save(model, gpu_file)
    X, y = make_faces(70, random_state=5, return_X_y=True)
    csv = _write_csv(tmp_path / "faces.csv", np.rint(X), y)
    status, stdout, stderr = run(["predict", gpu_file, csv])
    assert status == 0
    assert stderr.startswith("fer-sklearn: warning: ") and stderr.count("\n") == 1, stderr
    assert f"device='{model.device}'" in stderr
    status, stdout_cpu, stderr = run(["predict", gpu_file, csv, "--device", "cpu"])
    assert status == 0 and stderr == "" and stdout_cpu == stdout
    _assert_one_line_error(*run(["evaluate", gpu_file, "--device", "tpu"])[::2], "tpu")


# ------------------------------------------------------------------- photographs
@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A real photograph with one face (scikit-image's astronaut) and a blank wall."""
    from PIL import Image
    from skimage import data

    folder = tmp_path_factory.mktemp("photos")
    Image.fromarray(data.astronaut()).save(folder / "astronaut.jpg")
    Image.fromarray(np.full((200, 300), 128, np.uint8)).save(folder / "wall.png")
    return folder


def test_predict_photos_with_the_shipped_model(photos, tmp_path):
    import pandas as pd
    from matplotlib.image import imread
    from PIL import Image

    from fer_sklearn import EMOTIONS

    annotated = tmp_path / "annotated"
    status, stdout, stderr = run(["predict", photos / "astronaut.jpg", photos / "wall.png",
                                  "--annotate", annotated])
    assert status == 0, stderr
    table = pd.read_csv(io.StringIO(stdout))
    astronaut = table[table["file"] == str(photos / "astronaut.jpg")]
    assert len(astronaut) == 1  # one person, one row
    face = astronaut.iloc[0]
    assert face["face"] == 0 and face["label"] in EMOTIONS
    # Her face, in pixels of the 512x512 photograph.
    assert 150 <= face["x"] <= 200 and 50 <= face["y"] <= 100 and 80 <= face["width"] <= 130
    assert face.filter(like="proba_").sum() == pytest.approx(1, abs=1e-4)
    wall = table[table["file"] == str(photos / "wall.png")]
    assert len(wall) == 1 and wall["label"].item() == "no face" and pd.isna(wall["face"].item())
    # Drawn on the photographs themselves, at their own size.
    for name, shape in (("astronaut.png", (512, 512, 3)), ("wall.png", (200, 300, 3))):
        assert (annotated / name).read_bytes()[:8] == PNG_SIGNATURE
        assert imread(annotated / name).shape == shape
    drawn = np.rint(imread(annotated / "astronaut.png") * 255).astype(int)
    x, y, w, h = (int(round(face[k])) for k in ("x", "y", "width", "height"))
    original = np.asarray(Image.open(photos / "astronaut.jpg").convert("RGB"), int)
    changed = np.abs(drawn - original).max(axis=2) > 60
    assert changed[y:y + h + 1, x].mean() > 0.9  # the box's left edge
    # Inside the face only its landmarks are drawn, as dots where the CSV puts them.
    near = np.zeros_like(changed)
    points = [(face[f"{p}_x"], face[f"{p}_y"]) for p in
              ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")]
    for px, py in points:
        if np.isfinite(px):
            near[int(py) - 5:int(py) + 6, int(px) - 5:int(px) + 6] = True
            assert changed[int(round(py)), int(round(px))]
    inner = np.zeros_like(changed)
    inner[y + h // 4:y + 3 * h // 4, x + w // 4:x + 3 * w // 4] = True
    assert not (changed & inner & ~near).any()  # not the face
    assert changed[:, :x - 20].sum() == 0  # nothing far left of the box
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []  # no figure left open


def test_predict_photos_with_either_detector(photos):
    import pandas as pd

    from fer_sklearn.faces import _yunet

    tables = {}
    for detector in ("haar", "yunet") if _yunet.available() else ("haar",):
        status, stdout, stderr = run(["predict", photos / "astronaut.jpg", "--detector", detector])
        assert status == 0, stderr
        tables[detector] = pd.read_csv(io.StringIO(stdout))
    landmarks = tables["haar"].loc[:, "left_eye_x":"mouth_right_y"].iloc[0]
    assert landmarks[["left_eye_x", "right_eye_x"]].notna().all()  # Haar: eyes only
    assert landmarks[["nose_x", "mouth_left_y"]].isna().all()
    if "yunet" in tables:
        assert tables["yunet"].loc[:, "left_eye_x":"mouth_right_y"].notna().all(axis=None)
    status, _, stderr = run(["predict", photos / "astronaut.jpg", "--detector", "mtcnn"])
    assert status == 2 and "invalid choice: 'mtcnn'" in stderr


def test_predict_a_folder_with_a_truncated_jpeg_writes_every_other_photo(photos, tmp_path):
    import pandas as pd
    from PIL import Image
    from skimage import data

    folder = tmp_path / "holiday"
    folder.mkdir()
    for name in ("astronaut.jpg", "wall.png"):
        (folder / name).write_bytes((photos / name).read_bytes())
    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, "JPEG")
    (folder / "broken.jpg").write_bytes(buffer.getvalue()[:len(buffer.getvalue()) // 2])
    annotated, out = tmp_path / "annotated", tmp_path / "out.csv"
    status, _, stderr = run(["predict", folder, "--out", out, "--annotate", annotated])
    assert status == 0, stderr
    warning, = stderr.splitlines()
    assert warning.startswith(f"fer-sklearn: warning: {folder / 'broken.jpg'}: cannot read")
    table = pd.read_csv(out)
    assert table["file"].tolist() == ["astronaut.jpg", "broken.jpg", "wall.png"]
    astronaut, broken, wall = (row for _, row in table.iterrows())
    assert astronaut["face"] == 0 and pd.isna(astronaut["error"])
    assert "cannot read the image" in broken["error"] and pd.isna(broken["label"])
    assert wall["label"] == "no face" and pd.isna(wall["error"])
    assert sorted(p.name for p in annotated.iterdir() if p.suffix == ".png") == [
        "astronaut.png", "wall.png"]
    # Only when nothing could be read is it an error, and nothing is written.
    (folder / "astronaut.jpg").unlink()
    (folder / "wall.png").write_bytes(b"not a png")
    status, _, stderr = run(["predict", folder, "--out", tmp_path / "none.csv"])
    _assert_one_line_error(status, stderr, "none of the 2 inputs could be read")
    assert not (tmp_path / "none.csv").exists()


def test_predict_a_clip_that_cannot_be_decoded_costs_only_its_row(photos, tmp_path):
    import pandas as pd

    (tmp_path / "broken.mp4").write_text("not a video")
    status, stdout, stderr = run(["predict", tmp_path / "broken.mp4", photos / "astronaut.jpg",
                                  "--quiet"])
    assert status == 0, stderr
    assert stderr.startswith("fer-sklearn: warning: ") and "broken.mp4" in stderr
    table = pd.read_csv(io.StringIO(stdout))
    photo, clip = table[table["error"].isna()], table[table["error"].notna()]
    assert len(photo) == 1 and photo["face"].item() == 0
    assert clip["file"].item() == str(tmp_path / "broken.mp4")
    assert "cannot be decoded" in clip["error"].item()


def test_predict_sends_detected_faces_to_the_shipped_variant_for_them(photos, tmp_path):
    """Faces cut already go to the shipped model, faces found in a photo to its faces variant."""
    import pandas as pd

    from fer_sklearn.pretrained import load_pretrained

    X, y = make_faces(4, random_state=3, return_X_y=True)
    csv = _write_csv(tmp_path / "faces.csv", np.rint(X), y)
    photo = str(photos / "astronaut.jpg")
    status, stdout, stderr = run(["predict", photo, csv])
    assert status == 0, stderr
    table = pd.read_csv(io.StringIO(stdout))
    proba = table.filter(like="proba_").to_numpy()
    in_photo = (table["file"] == photo).to_numpy()
    assert in_photo.sum() == 1 and (~in_photo).sum() == 4
    np.testing.assert_allclose(proba[~in_photo], load_pretrained("fer2013").predict_proba(
        np.rint(X)), atol=2e-6)
    photos_model = load_pretrained("fer2013", faces=True)
    np.testing.assert_allclose(proba[in_photo], photos_model.predict_proba([photo]), atol=2e-6)
    aligned = photos_model[0].transform([photo])
    assert np.abs(proba[in_photo] - load_pretrained("fer2013").predict_proba(aligned)).max() > 1e-3


def test_predict_glob_and_refused_annotate_folder(photos, tmp_path):
    import pandas as pd

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    status, _, stderr = run(["predict", photos / "*.png", "--annotate", mine, "--force"])
    _assert_one_line_error(status, stderr, "was not written by fer-sklearn")
    status, stdout, stderr = run(["predict", photos / "*.png"])
    assert status == 0, stderr
    assert pd.read_csv(io.StringIO(stdout))["file"].tolist() == [str(photos / "wall.png")]
    _assert_one_line_error(*run(["predict", photos / "*.tif"])[::2], "no file matches")


def test_a_decompression_bomb_is_refused_naming_the_file(tmp_path):
    from PIL import Image

    bomb = tmp_path / "bomb.png"
    # 1-bit, 30000 x 30000: a few kilobytes on disk, 900 million pixels once decoded.
    Image.new("1", (30000, 30000)).save(bomb)
    assert bomb.stat().st_size < 1_000_000
    _assert_one_line_error(*run(["predict", bomb])[::2], str(bomb))


def test_predict_never_writes_over_its_inputs(model_file, tmp_path):
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    for name, value in (("a.png", 100), ("a.jpg", 150)):
        Image.fromarray(np.full((48, 48), value, np.uint8)).save(photos / name)
    before = _snapshot(tmp_path)
    model = ["--model", model_file]
    for argv, expected in [
            ([photos, "--out", photos / "a.jpg", "--force"], "would replace the input"),
            ([photos / "*.png", "--out", photos / "a.png", "--force"], "would replace the input"),
            ([photos, "--annotate", photos / "drawn"], "inside the input folder")]:
        _assert_one_line_error(*run(["predict", *argv, *model])[::2], expected)
    assert _snapshot(tmp_path) == before
    # Two photos whose drawings would share a name each get their own.
    status, _, stderr = run(["predict", photos, *model, "--annotate", tmp_path / "drawn"])
    assert status == 0, stderr
    assert sorted(p.name for p in (tmp_path / "drawn").glob("*.png")) == ["a-2.png", "a.png"]
    status, _, stderr = run(["predict", photos, *model, "--annotate", tmp_path / "drawn",
                             "--force", "--out", tmp_path / "drawn" / "p.csv"])
    _assert_one_line_error(status, stderr, "lies inside --annotate")


def test_curve_notes_name_what_the_curves_show():
    from fer_sklearn.cli._study import _curve_notes

    epochs = list(range(1, 7))
    history = {"epoch": epochs, "train_acc": [.3, .5, .6, .7, .75, .8],
               "valid_acc": [.3, .4, .6, .7, .8, .85],
               "valid_loss": [2.0, 3.1, 1.5, 1.4, 1.9, 1.2]}
    notes = _curve_notes(history)
    assert notes["valid_above_train"] is True
    # Epoch 2 jumps to 3.1 against neighbours of 2.0 and 1.5 (ratio 1.55), epoch 5
    # to 1.9 against 1.4 and 1.2 (1.36): the larger jump is named.
    assert (notes["spike_epoch"], notes["spike_loss"], notes["spike_after"]) == (2, 3.1, 1.5)
    smooth = {**history, "valid_loss": [2.0, 1.8, 1.5, 1.4, 1.3, 1.2],
              "valid_acc": [.2, .3, .5, .6, .7, .75]}
    assert _curve_notes(smooth) == {"valid_above_train": False, "spike_epoch": None}
    assert _curve_notes({"epoch": [1], "train_acc": [.5]})["valid_above_train"] is None
