"""The ``fer-sklearn`` command line: the study report, the error paths, train/evaluate/predict."""

import contextlib
import io
import json
import math
import re
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
    """One tiny study, run with --force over a folder holding a stale file."""
    out = tmp_path_factory.mktemp("study") / "report"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier run")
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
    assert status == 130 and stderr == "fer-sklearn: error: interrupted\n"
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
    assert table.columns.tolist() == ["id", "label", *(f"proba_{e}" for e in EMOTIONS)]
    assert table["label"].tolist() == [EMOTIONS[i] for i in model.predict(X)]
    np.testing.assert_allclose(table.iloc[:, 2:].sum(axis=1), 1, atol=1e-4)
    # predict a folder of images, to stdout; a 64x64 face is resized to 48x48
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(X[i].reshape(48, 48).astype(np.uint8)).save(folder / f"face{i}.png")
    big = Image.fromarray(X[3].reshape(48, 48).astype(np.uint8)).resize((64, 64))
    big.save(folder / "sub" / "big.jpg")
    status, stdout, stderr = run(["predict", model_file, folder])
    assert status == 0, stderr
    table = pd.read_csv(io.StringIO(stdout))
    assert table["id"].tolist() == ["face0.png", "face1.png", "face2.png", "sub/big.jpg"]
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
        (tmp_path / "x.skops").write_text("hello")
        argv, expected = ["predict", tmp_path / "x.skops", tmp_path], "not a file written"
    elif case == "missing-model":
        argv, expected = ["evaluate", tmp_path / "none.skops"], "none.skops"
    elif case == "existing-out":
        argv, expected = ["train", "--out", model_file, *TINY_TRAIN], "--force"
    elif case == "empty-folder":
        argv, expected = ["predict", model_file, tmp_path], "no image files"
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
