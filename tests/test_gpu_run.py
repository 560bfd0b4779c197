"""benchmarks/gpu_run.py, the run prepared for a lent GPU: its dry run on the CPU."""

import json

import numpy as np
import pytest

from fer_sklearn import load
from fer_sklearn.datasets import make_faces


@pytest.fixture
def gpu_run(monkeypatch):
    from _real_data import REPO

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import gpu_run

    return gpu_run


def test_the_gpu_run_packs_the_data_and_runs_on_the_cpu(gpu_run, tmp_path):
    X, y = make_faces(400, random_state=0, return_X_y=True)
    usage = ["Training"] * 300 + ["PublicTest"] * 100
    csv = tmp_path / "fer2013.csv"
    csv.write_text("emotion,pixels,Usage\n" + "".join(
        f"{label},{' '.join(map(str, np.rint(row).astype(int)))},{part}\n"
        for label, row, part in zip(y, X, usage)))
    gpu_run.main(["pack", "--data", str(csv), "--out", str(tmp_path / "packed")])
    X_train, y_train, X_test, y_test = gpu_run.load_packed(tmp_path / "packed")
    np.testing.assert_array_equal(X_train, np.rint(X[:300]).astype(np.uint8))
    np.testing.assert_array_equal(y_test, y[300:])

    out = tmp_path / "out"
    gpu_run.main(["run", "--data", str(tmp_path / "packed"), "--out", str(out), "--device",
                  "cpu", "--max-epochs", "1", "--max-networks", "2"])
    record = json.loads((out / "run.json").read_text())
    assert set(record["check"]) == {"float32", "bfloat16"}
    for check in record["check"].values():
        assert check["module_device"] == "cpu" and check["proba_rows_sum_to_1"]
        assert check["saved_on_device_loaded_on_cpu_max_proba_difference"] < 1e-6
    assert [n["seed"] for n in record["networks"]] == [0, 1]
    model = load(out / "fer2013_seed1.skops")
    accuracy = float(np.mean(model.predict(X_test) == y_test))
    assert record["networks"][1]["publictest_accuracy"] == pytest.approx(accuracy, abs=1e-4)
    assert sorted(p.name for p in out.iterdir()) == [
        "fer2013_seed0.skops", "fer2013_seed1.skops", "run.json"]
