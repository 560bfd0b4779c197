"""benchmarks/gpu_run.py, the run prepared for a lent GPU: its dry run on the CPU."""

import json

import numpy as np
import pytest

from fer_sklearn import EMOTIONS, load, read_metadata


@pytest.fixture
def gpu_run(monkeypatch):
    from _real_data import REPO

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import gpu_run

    return gpu_run


def test_the_gpu_run_packs_the_data_and_runs_on_the_cpu(gpu_run, fer2013_csv, tmp_path):
    csv, X, y = fer2013_csv
    gpu_run.main(["pack", "--data", str(csv), "--out", str(tmp_path / "packed")])
    X_train, y_train, X_test, y_test, data_sha256 = gpu_run.load_packed(tmp_path / "packed")
    np.testing.assert_array_equal(X_train, X[:300])
    np.testing.assert_array_equal(y_test, np.asarray(EMOTIONS)[y[300:]])

    out = tmp_path / "out"
    gpu_run.main(["run", "--data", str(tmp_path / "packed"), "--out", str(out), "--device",
                  "cpu", "--max-epochs", "1", "--max-networks", "2"])
    record = json.loads((out / "run.json").read_text())
    assert set(record["check"]) == {"float32", "bfloat16"}
    for check in record["check"].values():
        assert check["module_device"] == "cpu" and check["proba_rows_sum_to_1"]
        assert check["saved_on_device_loaded_on_cpu_max_proba_difference"] < 1e-6
    assert [n["seed"] for n in record["networks"]] == [0, 1]
    # The networks leave out the rows pretrained.py --holdout leaves out, are scored there, and
    # carry the metadata that select_ensemble.py checks and pretrained.py --members joins.
    import argparse

    from pretrained import combine, holdout_record, holdout_split, load_data

    X_csv, y_csv, _, _, _, csv_sha256 = load_data("fer2013", csv, None)
    np.testing.assert_array_equal(y_csv, y_train)
    assert data_sha256 == csv_sha256
    held = holdout_split(y_csv)[1]
    files = [out / "fer2013_seed0.skops", out / "fer2013_seed1.skops"]
    info = read_metadata(files[1])
    assert info["holdout"] == holdout_record(y_csv)
    assert info["data_sha256"] == csv_sha256
    assert info["trained_on"].startswith(f"{300 - len(held)} FER2013 Training rows")
    model = load(files[1])
    for part, X_part, y_part in (("validation", X_train[held], y_train[held]),
                                 ("publictest", X_test, y_test)):
        accuracy = float(np.mean(model.predict(X_part) == y_part))
        assert record["networks"][1][f"{part}_accuracy"] == pytest.approx(accuracy, abs=1e-4)
    ensemble, records = combine(files, "fer2013", csv_sha256, argparse.ArgumentParser())
    assert ensemble.n_members == 2 and [r["seed"] for r in records] == [0, 1]
    # select_ensemble.py names the best subset of each size, as scored on the held rows.
    import select_ensemble

    report = tmp_path / "ensembles.json"
    select_ensemble.main([*map(str, files), "--data", str(csv), "--swa", "--out", str(report)])
    ensembles = json.loads(report.read_text())["ensembles"]
    alone = [r["validation_accuracy"] for r in record["networks"]]
    assert ensembles["1"]["best"]["files"] == [str(files[int(np.argmax(alone))])]
    assert ensembles["1"]["best"]["accuracy"] == pytest.approx(max(alone), abs=1e-4)
    assert ensembles["2"]["best"]["files"] == list(map(str, files))
    assert ensembles["2"]["best"]["accuracy"] == pytest.approx(
        np.mean(ensemble.predict(X_train[held]) == y_train[held]), abs=1e-4)
    assert sorted(p.name for p in out.iterdir()) == [
        "fer2013_seed0.skops", "fer2013_seed1.skops", "run.json"]
