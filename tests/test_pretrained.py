"""The models shipped in the package: they load offline, say where they come from, and score
what their files record."""

import functools
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fer_sklearn import EMOTIONS, FERCNNClassifier
from fer_sklearn.pretrained import PRETRAINED, load_pretrained, pretrained_info
from fer_sklearn.pretrained._load import _file_name

from _real_data import FER2013 as REAL, FERPLUS, REPO, needs_fer2013, present

FOLDER = REPO / "fer_sklearn" / "pretrained"
SHIPPED = [name for name in PRETRAINED if (FOLDER / _file_name(name)).is_file()]
# Every shipped file: (name, faces), faces for the variant load_pretrained(faces=True) uses.
FILES = [(name, faces) for name in SHIPPED for faces in (False, True)
         if (FOLDER / _file_name(name, faces)).is_file()]


def test_fer2013_is_shipped_small_and_says_where_it_comes_from():
    assert ("fer2013", False) in FILES and ("fer2013", True) in FILES
    for name, faces in FILES:
        assert (FOLDER / _file_name(name, faces)).stat().st_size <= 10_000_000
        info = pretrained_info(name, faces=faces)
        assert info["name"] == name and bool(info.get("faces")) == faces
        # An ensemble records each member's run; its seeds and time are theirs, plus
        # the time of any continued training.
        members = info.get("members") or [info]
        continuation = info.get("continuation") or {"fit_seconds": 0}
        assert len({run["seed"] for run in members}) == len(members)
        assert info["fit_seconds"] == pytest.approx(
            sum(run["fit_seconds"] for run in members) + continuation["fit_seconds"])
        model = load_pretrained(name, faces=faces)
        assert (model[-1] if faces else model).n_members == len(members)
        assert len(info["data_sha256"]["fer2013.csv.gz"]) == 64
        assert info["recipe"]["max_epochs"] >= 1 and 0 < info["publictest_accuracy"] < 1
        within = {"float16": info["float16_max_proba_difference"],
                  "mixed": info.get("mixed_max_proba_difference")}
        assert info["weights_dtype"] == "float32" or within[info["weights_dtype"]] <= 1e-3


def test_predicts_emotion_names():
    model = load_pretrained("fer2013")
    assert isinstance(model, FERCNNClassifier)
    assert sorted(model.classes_) == sorted(EMOTIONS)
    rng = np.random.RandomState(0)
    labels = model.predict(rng.randint(0, 256, (3, 2304)))
    assert set(labels) <= set(EMOTIONS)
    assert model.device == "auto"


def test_faces_pipeline_uses_the_variant_trained_on_the_detectors_framing():
    from sklearn.pipeline import Pipeline

    from fer_sklearn.faces import FaceAligner

    pipeline = load_pretrained("fer2013", faces=True)
    assert isinstance(pipeline, Pipeline) and isinstance(pipeline[0], FaceAligner)
    crops, photos = load_pretrained("fer2013"), pipeline[-1]
    assert list(photos.classes_) == list(crops.classes_)
    faces = np.random.RandomState(0).randint(0, 256, (5, 2304))
    assert np.abs(photos.predict_proba(faces) - crops.predict_proba(faces)).max() > 1e-3
    info = pretrained_info("fer2013", faces=True)
    assert info["continuation"]["from"]["command"] == pretrained_info("fer2013")["command"]
    # A model without a variant for detected faces is used behind FaceAligner as it is.
    if "ferplus" in SHIPPED and ("ferplus", True) not in FILES:
        assert pretrained_info("ferplus", faces=True) == pretrained_info("ferplus")


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown pretrained model 'affectnet'"):
        load_pretrained("affectnet")


@needs_fer2013
@pytest.mark.parametrize("name, faces", FILES)
def test_shipped_file_reproduces_its_recorded_publictest_accuracy(name, faces):
    from fer_sklearn.datasets import load_fer2013

    info = pretrained_info(name, faces=faces)
    if name == "fer2013":
        bunch = load_fer2013(REAL, usage="PublicTest")
    else:
        if not present(FERPLUS):
            pytest.skip(f"the FER+ votes are not found at {FERPLUS}")
        bunch = load_fer2013(REAL, usage="PublicTest", labels="ferplus", ferplus_path=FERPLUS)
    y = np.asarray(bunch.target_names)[bunch.target]
    model = load_pretrained(name, faces=faces)
    accuracy = (model[-1] if faces else model).score(bunch.data, y)
    assert len(y) == info["publictest_n"]
    # Within 0.1 point: bfloat16 and float32 forward passes differ on a few faces.
    assert abs(accuracy - info["publictest_accuracy"]) <= 0.001, (accuracy, info)


def test_loads_and_predicts_offline_in_a_fresh_process(tmp_path):
    """No network, an empty home, no data home: everything comes from the installed package."""
    code = textwrap.dedent("""
        import socket

        def refuse(*args, **kwargs):
            raise OSError("network access attempted")

        socket.socket.connect = socket.socket.connect_ex = refuse
        socket.create_connection = socket.getaddrinfo = refuse
        import numpy as np
        from fer_sklearn.pretrained import load_pretrained

        model = load_pretrained("fer2013")
        print(model.predict(np.full((1, 2304), 128.0))[0])
    """)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "NO_PROXY": "*"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in EMOTIONS
    assert list(tmp_path.iterdir()) == []  # nothing written, no cache, no download


@pytest.mark.parametrize("name, faces", FILES)
def test_the_docs_quote_the_shipped_files_figures(name, faces):
    """The model page's figures come from the file's own metadata, not from memory."""
    text = (REPO / "docs" / "_pretrained_results.rst").read_text(encoding="utf-8")
    text = text[text.index(f"``{name}`` for detected faces" if faces else f"``{name}``:"):]
    text = text[:text.index("- Made by")]  # this model's paragraph only
    info = pretrained_info(name, faces=faces)
    assert f"{info['publictest_accuracy']:.1%}" in text
    assert f"{info['fit_seconds'] / 60:.0f} minutes" in text
    for name, recall in info["publictest_recall"].items():
        assert f"{name} {recall:.0%}" in text


def test_joining_ensembles_keeps_every_network_and_its_record(monkeypatch):
    # benchmarks/pretrained.py --members with a file that is itself an ensemble (the
    # shipped one, to add a network to it): its networks and their records join one by one.
    import argparse

    from fer_sklearn import read_metadata

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from pretrained import combine

    file = FOLDER / _file_name("ferplus")
    info = read_metadata(file)
    model, records = combine([file, file], "ferplus", info["data_sha256"],
                             argparse.ArgumentParser())
    assert model.n_members == 2 * len(info["members"]) == len(records)
    assert records == info["members"] * 2
    # The faces variant's networks were trained on after its members' runs.
    faces = FOLDER / _file_name("fer2013", faces=True)
    with pytest.raises(SystemExit):
        combine([faces], "fer2013", read_metadata(faces)["data_sha256"],
                argparse.ArgumentParser())


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("shift", [0, 1, 3])
def test_the_docs_count_the_views_predict_proba_averages(flip, shift, monkeypatch):
    # The number of test-time views the docs print beside each accuracy is the
    # number of images prediction averages over for that recipe.
    import torch

    from fer_sklearn._test_time import prediction_views

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from pretrained import n_views

    views = list(prediction_views(torch.arange(64.0).reshape(1, 1, 8, 8), flip, shift))
    assert len({tuple(view.flatten().tolist()) for view in views}) == len(views)
    assert n_views({"test_time_flip": flip, "test_time_shift": shift}) == len(views)


def test_ferplus_from_fer2013_starts_each_emotion_from_its_fer2013_output(monkeypatch):
    # benchmarks/pretrained.py --from: the FER2013 networks become a FER+ classifier
    # whose outputs are, before any training, the FER2013 ones renamed.
    import argparse

    import torch

    from fer_sklearn import read_metadata
    from fer_sklearn.datasets import FERPLUS_CLASSES

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from pretrained import transfer

    file = FOLDER / _file_name("fer2013")
    y = np.array(["neutral"] * 40 + ["contempt"] * 2 + ["happiness"] * 22)
    model, info = transfer(file, y, read_metadata(file)["data_sha256"], argparse.ArgumentParser())
    assert info["name"] == "fer2013"
    source = load_pretrained("fer2013")
    assert sorted(model.classes_) == list(model.classes_) == sorted(FERPLUS_CLASSES)
    X = torch.randn(5, 1, 48, 48)
    for old, new in zip(source.net_.module_.members, model.net_.module_.members, strict=True):
        with torch.no_grad():
            before, after = old.eval()(X), new.eval()(X)
        # Written out here, not imported: a swapped pair in the script must fail.
        for name, emotion in [("angry", "anger"), ("disgust", "disgust"), ("fear", "fear"),
                              ("happy", "happiness"), ("sad", "sadness"),
                              ("surprise", "surprise"), ("neutral", "neutral")]:
            # Equal but for float rounding: a head of 8 rows sums in another order than one of 7.
            np.testing.assert_allclose(
                after[:, list(model.classes_).index(emotion)],
                before[:, list(source.classes_).index(name)], rtol=1e-5, atol=1e-5)
        # Contempt starts as neutral, at its frequency against neutral's in y (2 to 40).
        np.testing.assert_allclose(
            after[:, list(model.classes_).index("contempt")],
            before[:, list(source.classes_).index("neutral")] + np.log(2 / 40), rtol=1e-5, atol=1e-5)
    # And trains on from there, on the FER+ labels: the new heads move.
    heads = [network.head.fc.weight.detach().clone() for network in model.net_.module_.members]
    rng = np.random.RandomState(0)
    X_faces = rng.randint(0, 256, (len(y), 2304))
    model.set_params(warm_start=True, max_epochs=1, verbose=0)
    model.fit(X_faces, y)
    assert set(model.predict(X_faces)) <= set(FERPLUS_CLASSES)
    assert model.n_iter_ == 1
    for head, network in zip(heads, model.net_.module_.members, strict=True):
        assert not torch.equal(head, network.head.fc.weight.detach())
    # Without contempt among the labels its starting bias is undefined: refused.
    with pytest.raises(SystemExit):
        transfer(file, y[y != "contempt"], read_metadata(file)["data_sha256"],
                 argparse.ArgumentParser())


def test_input_size_upsamples_as_scikit_image_and_its_files_join_nothing(tmp_path, monkeypatch,
                                                                         capsys):
    # benchmarks/pretrained.py --input-size: the faces a network is trained and scored on,
    # and a file that takes them kept out of the 48x48 ensembles.
    import argparse

    from skimage.transform import resize

    from fer_sklearn import read_metadata, save

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from pretrained import combine, upsample

    X = np.random.default_rng(0).integers(0, 256, (3, 48 * 48)).astype(np.uint8)
    expected = [resize(face.reshape(48, 48).astype(float), (64, 64), order=1, mode="edge",
                       anti_aliasing=False, preserve_range=True).ravel() for face in X]
    np.testing.assert_allclose(upsample(X, 64), expected, atol=1e-3)
    np.testing.assert_array_equal(upsample(X, 48), X)

    file = FOLDER / _file_name("ferplus")
    info = read_metadata(file)
    upsampled = tmp_path / "ferplus.skops"
    save(load_pretrained("ferplus"), upsampled, metadata={**info, "input_size": 64})
    with pytest.raises(SystemExit):
        combine([file, upsampled], "ferplus", info["data_sha256"], argparse.ArgumentParser())
    assert f"{upsampled} takes 64x64 faces" in capsys.readouterr().err


def test_holdout_networks_leave_out_one_stratified_split_and_keep_their_last_weights(
        tmp_path, monkeypatch):
    # benchmarks/pretrained.py --holdout --snapshots and benchmarks/select_ensemble.py: every
    # network leaves out the same stratified tenth of Training; the last epochs' weights are
    # kept, and their average gets batch-norm statistics computed afresh on the training faces.
    import torch

    from fer_sklearn.datasets import make_faces

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from pretrained import KeepWeights, holdout_split
    from select_ensemble import with_weights

    y = np.repeat(np.array(EMOTIONS), [40, 5, 40, 70, 45, 30, 50])
    keep, held = holdout_split(y)
    np.testing.assert_array_equal(np.sort(np.concatenate([keep, held])), np.arange(len(y)))
    assert len(held) == 28
    for emotion in EMOTIONS:  # each emotion's share of the held rows is its share of y
        assert abs(np.mean(y[held] == emotion) - np.mean(y == emotion)) <= 1 / len(held)
    np.testing.assert_array_equal(holdout_split(y)[1], held)

    X, labels = make_faces(120, image_size=16, random_state=0, return_X_y=True)
    folder = tmp_path / "snapshots"
    model = FERCNNClassifier(n_filters=4, n_blocks=1, max_epochs=4, batch_size=32,
                             random_state=0, precision="float32",
                             callbacks=[KeepWeights(str(folder), 2)]).fit(X, labels)
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == ["epoch_03.pt", "epoch_04.pt"]
    last = torch.load(files[1], weights_only=True)
    for name, value in model.net_.module_.state_dict().items():
        torch.testing.assert_close(last[name], value)

    swa = with_weights(model, files, X)
    first = torch.load(files[0], weights_only=True)
    module = swa.net_.module_
    (conv_name, conv), (_, bn) = (next((n, m) for n, m in module.named_modules()
                                       if isinstance(m, kind))
                                  for kind in (torch.nn.Conv2d, torch.nn.BatchNorm2d))
    key = f"{conv_name}.weight"
    torch.testing.assert_close(conv.weight, (first[key] + last[key]) / 2)
    # The first batch norm's statistics are those of its input over all the faces.
    inputs = []
    handle = bn.register_forward_hook(lambda m, args, out: inputs.append(args[0]))
    with torch.no_grad():
        module(model._standardise(X))
    handle.remove()
    torch.testing.assert_close(bn.running_mean, inputs[0].mean(dim=(0, 2, 3)), rtol=1e-4,
                               atol=1e-5)
    assert not module.training
    assert swa.predict_proba(X).shape == (120, 7)


def test_holdout_networks_are_scored_on_the_rows_they_left_out(fer2013_csv, tmp_path,
                                                               monkeypatch, capsys):
    # pretrained.py --holdout --snapshots, then select_ensemble.py on its file, end to end.
    import json

    from fer_sklearn import load, read_metadata

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import pretrained
    import select_ensemble

    csv, X, y = fer2013_csv
    out = tmp_path / "run"
    # Any change within the tolerance: float16 everywhere, on either precision path.
    monkeypatch.setattr(pretrained, "FLOAT16_TOLERANCE", 1.0)
    pretrained.main(["fer2013", "--data", str(csv), "--holdout", "--snapshots", "2",
                     "--max-epochs", "3", "--seed", "4", "--params", '{"weight_decay": 0.01}',
                     "--out", str(out)])
    file = out / "fer2013.skops"
    info = read_metadata(file)
    assert info["recipe"]["weight_decay"] == 0.01 != FERCNNClassifier().weight_decay
    assert info["params"] == {"weight_decay": 0.01}
    names = np.asarray(EMOTIONS)[y[:300]]
    keep, held = pretrained.holdout_split(names)
    assert info["holdout"] == pretrained.holdout_record(names)
    assert info["trained_on"].startswith(f"{len(keep)} FER2013 Training rows")
    assert info["recipe"]["callbacks"] is None  # the snapshot folder is no part of the recipe
    # The float16 check compares float32 forward passes, whatever precision the model uses:
    # the file's float16 weights against the last epoch's float32 ones.
    import torch

    assert info["weights_dtype"] == "float16"
    shipped, trained = load(file), load(file)
    trained.module_.load_state_dict(torch.load(out / "snapshots" / "epoch_03.pt",
                                               weights_only=True))
    expected = np.abs(shipped.set_params(precision="float32").predict_proba(X[300:])
                      - trained.set_params(precision="float32").predict_proba(X[300:])).max()
    assert 0 < info["float16_max_proba_difference"] == pytest.approx(expected, rel=1e-6)
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == ["epoch_02.pt",
                                                                     "epoch_03.pt"]
    report = tmp_path / "levers.json"
    select_ensemble.main([str(file), "--data", str(csv), "--out", str(report)])
    levers = json.loads(report.read_text())
    network = levers["networks"][str(file)]
    accuracy = float(np.mean(load(file).predict(X[:300][held]) == names[held]))
    assert levers["validation_faces"] == len(held) == 30
    assert network["file as saved"]["accuracy"] == pytest.approx(accuracy)
    assert levers["ensembles"]["1"]["mean"] == pytest.approx(accuracy)
    assert levers["ensembles"]["1"]["best"]["files"] == [str(file)]
    assert levers["ensembles"]["1"]["best"]["accuracy"] == pytest.approx(accuracy)
    assert set(network["swa"]) == {"last 1 epochs", "last 2 epochs"}
    select_ensemble.main([str(file), "--data", str(csv), "--swa", "--out", str(report)])
    assert "swa" not in json.loads(report.read_text())["networks"][str(file)]

    # A file that left out other rows is refused, as are --holdout runs on a part of Training.
    from fer_sklearn import save

    moved = tmp_path / "moved" / "fer2013.skops"
    moved.parent.mkdir()
    save(load(file), moved, metadata={**info, "holdout": {**info["holdout"], "rows": 299}})
    with pytest.raises(SystemExit):
        select_ensemble.main([str(moved), "--data", str(csv), "--out", str(report)])
    with pytest.raises(SystemExit):
        pretrained.main(["fer2013", "--data", str(csv), "--holdout", "--limit", "200",
                         "--out", str(out)])
    # SWA along a constant rate: the network continued on the same rows, its epochs kept.
    more = tmp_path / "more"
    pretrained.main(["fer2013", "--data", str(csv), "--continue", str(file), "--holdout",
                     "--snapshots", "2", "--max-epochs", "2", "--lr", "1e-3",
                     "--schedule", "constant", "--out", str(more)])
    continued = load(more / "fer2013.skops")
    record = read_metadata(more / "fer2013.skops")
    assert record["holdout"] == info["holdout"]
    assert record["continuation"]["lr_schedule"] == "constant"
    # A cosine from 1e-3 would give its second epoch half that.
    assert list(continued.history_["lr"][-2:]) == [pytest.approx(1e-3)] * 2
    assert sorted(p.name for p in (more / "snapshots").iterdir()) == ["epoch_04.pt",
                                                                      "epoch_05.pt"]
    select_ensemble.main([str(more / "fer2013.skops"), "--data", str(csv), "--swa", "2",
                          "--out", str(report)])
    assert set(json.loads(report.read_text())["networks"][str(more / "fer2013.skops")]["swa"]) \
        == {"last 2 epochs"}
    # Refused: a network that left out other rows; one that left out the split continued
    # on those rows (no --holdout); snapshots beside others; a checkpoint, which only a
    # network trained afresh keeps; snapshots of an ensemble's networks, mixed in one folder.
    ensemble = tmp_path / "ensemble"
    pretrained.main(["fer2013", "--data", str(csv), "--members", str(file),
                     str(more / "fer2013.skops"), "--out", str(ensemble)])
    capsys.readouterr()
    for flags, reason in [
            (["--continue", str(moved), "--holdout"], "left out another split"),
            (["--continue", str(file)], "pass --holdout"),
            (["--continue", str(file), "--holdout", "--snapshots", "2", "--out", str(out)],
             "already holds snapshots"),
            (["--continue", str(file), "--holdout", "--checkpoint", str(tmp_path / "c")],
             "--checkpoint keeps"),
            (["--continue", str(ensemble / "fer2013.skops"), "--snapshots", "2"],
             "one network's weights")]:
        with pytest.raises(SystemExit):
            pretrained.main(["fer2013", "--data", str(csv), "--out", str(tmp_path / "refused"),
                             *flags])
        assert reason in capsys.readouterr().err
    # --params that fit would refuse, that a flag sets, or for no network trained afresh.
    for params, *rest in [('{"weight_decay": -1}',), ('{"decay": 0.01}',), ('[0.01]',),
                          ('{"max_epochs": 2}',), ('{"lr": 1e-3}', "--members", str(file))]:
        with pytest.raises(SystemExit):
            pretrained.main(["fer2013", "--data", str(csv), "--params", params, *rest,
                             "--out", str(tmp_path / "refused")])
    assert not (tmp_path / "refused").exists()


def _holdout_run(monkeypatch, csv, out, *flags, float16_tolerance=1.0):
    """``pretrained.py fer2013 --holdout FLAGS`` on the small CSV into ``out``: the two
    scripts' modules, the file, its model and its metadata. The default tolerance
    stores the weights in float16; a negative one keeps them float32."""
    from fer_sklearn import load, read_metadata

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import pretrained
    import select_ensemble

    monkeypatch.setattr(pretrained, "FLOAT16_TOLERANCE", float16_tolerance)
    pretrained.main(["fer2013", "--data", str(csv), "--holdout", *flags, "--seed", "5",
                     "--out", str(out)])
    file = out / "fer2013.skops"
    return pretrained, select_ensemble, file, load(file), read_metadata(file)


def test_cycles_restart_the_rate_and_their_snapshots_are_averaged_as_an_ensemble(
        fer2013_csv, tmp_path, monkeypatch, capsys):
    # pretrained.py --cycles (SGDR), then select_ensemble.py --snapshot-ensemble on its file.
    import json

    import torch

    from fer_sklearn import load

    csv, X, y = fer2013_csv
    out = tmp_path / "run"
    pretrained, select_ensemble, file, model, info = _holdout_run(
        monkeypatch, csv, out, "--cycles", "2", "--snapshots", "3", "--max-epochs", "4")
    assert info["cycles"] == 2 and info["recipe"]["lr_schedule"] == "none"
    lr = model.lr
    # Each cycle falls along a cosine from lr to lr/1000 over its 2 epochs, then restarts.
    low = lr * 1e-3 + (lr - lr * 1e-3) / 2
    assert list(model.history_["lr"]) == pytest.approx([lr, low, lr, low])
    report = tmp_path / "snapshots.json"
    select_ensemble.main([str(file), "--data", str(csv), "--swa", "--snapshot-ensemble", "2",
                          "4", "--out", str(report)])
    result = json.loads(report.read_text())["networks"][str(file)]["snapshot ensemble"]
    names = np.asarray(EMOTIONS)[y[:300]]
    held = pretrained.holdout_split(names)[1]
    probas = []
    for epoch in (2, 4):
        snapshot = load(file)
        snapshot.module_.load_state_dict(torch.load(out / "snapshots" / f"epoch_{epoch:02d}.pt",
                                                    weights_only=True))
        probas.append(snapshot.predict_proba(X[:300][held]))
        alone = np.mean(snapshot.classes_[probas[-1].argmax(axis=1)] == names[held])
        assert result["alone"][str(epoch)]["accuracy"] == pytest.approx(alone)
    mean = np.mean(model.classes_[np.mean(probas, axis=0).argmax(axis=1)] == names[held])
    assert result["epochs"] == [2, 4] and result["accuracy"] == pytest.approx(mean)
    assert result["alone"]["4"]["minus_baseline"] == 0  # the last epoch is the baseline
    # Refused: an epoch not kept, or named twice; cycles of unequal length; --cycles beside
    # lr_schedule, or for no network trained afresh; too few snapshots for the cycles' ends.
    capsys.readouterr()
    with pytest.raises(SystemExit):
        select_ensemble.main([str(file), "--data", str(csv), "--snapshot-ensemble", "1", "4",
                              "--out", str(report)])
    assert "keeps no snapshot of epoch(s) [1]: its snapshots are of epochs 2 to 4" \
        in capsys.readouterr().err
    with pytest.raises(SystemExit):
        select_ensemble.main([str(file), "--data", str(csv), "--snapshot-ensemble", "4", "4",
                              "--out", str(report)])
    assert "names an epoch twice" in capsys.readouterr().err
    for flags, reason in [(["--cycles", "3", "--max-epochs", "4"], "whole epochs; got 3"),
                          (["--cycles", "2", "--params", '{"lr_schedule": "cosine"}'],
                           "takes the place of lr_schedule"),
                          (["--cycles", "2", "--members", str(file)], "trained afresh"),
                          (["--cycles", "2", "--max-epochs", "4", "--snapshots", "2"],
                           "pass at least 3")]:
        with pytest.raises(SystemExit):
            pretrained.main(["fer2013", "--data", str(csv), *flags,
                             "--out", str(tmp_path / "refused")])
        assert reason in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()


def test_ema_ships_the_moving_average_scored_against_the_last_epoch_as_trained(
        fer2013_csv, tmp_path, monkeypatch, capsys):
    # pretrained.py --ema, its last epoch kept, then select_ensemble.py on its file.
    import json

    import torch

    csv, X, y = fer2013_csv
    out = tmp_path / "run"
    pretrained, select_ensemble, file, model, info = _holdout_run(
        monkeypatch, csv, out, "--ema", "0.9", "--snapshots", "1", "--max-epochs", "2",
        float16_tolerance=-1)
    assert info["ema"] == 0.9 and "moving average of its weights (decay 0.9)" in \
        pretrained._params_words([info])
    # The file holds the average, not the last epoch's own weights, which the snapshot keeps.
    last = torch.load(out / "snapshots" / "epoch_02.pt", weights_only=True)
    assert info["weights_dtype"] == "float32"  # so that only the average can differ
    assert not torch.allclose(model.module_.state_dict()["features.conv1_1.weight"],
                              last["features.conv1_1.weight"])
    report = tmp_path / "ema.json"
    select_ensemble.main([str(file), "--data", str(csv), "--swa", "1", "--out", str(report)])
    network = json.loads(report.read_text())["networks"][str(file)]
    names = np.asarray(EMOTIONS)[y[:300]]
    held = pretrained.holdout_split(names)[1]
    model.module_.load_state_dict(last)
    trained = np.mean(model.predict(X[:300][held]) == names[held])
    assert network["last epoch"]["accuracy"] == pytest.approx(trained)
    saved = network["file as saved"]
    assert saved["minus_baseline"] == pytest.approx(saved["accuracy"] - trained)
    capsys.readouterr()
    for flags, reason in [(["--ema", "1"], "(0, 1); got 1.0"),
                          (["--ema", "0.9", "--members", str(file)], "trained afresh")]:
        with pytest.raises(SystemExit):
            pretrained.main(["fer2013", "--data", str(csv), *flags,
                             "--out", str(tmp_path / "refused")])
        assert reason in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()


def test_ferplus_holdout_networks_leave_out_a_tenth_of_the_rows_with_a_majority(
        fer2013_csv, ferplus_csv, tmp_path, monkeypatch):
    # pretrained.py ferplus --holdout, then select_ensemble.py on its file: the split is drawn
    # from the rows the FER+ loaders keep, and scored against their majority labels.
    import json

    from fer_sklearn import load, read_metadata
    from fer_sklearn.datasets import FERPLUS_CLASSES

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import pretrained
    import select_ensemble

    csv, X, _ = fer2013_csv
    votes, majority = ferplus_csv
    files = ["--data", str(csv), "--ferplus", str(votes)]
    out = tmp_path / "ferplus_run"
    pretrained.main(["ferplus", *files, "--holdout", "--labels", "distribution",
                     "--max-epochs", "2", "--out", str(out)])
    file = out / "ferplus.skops"
    rows = np.flatnonzero(majority[:300] >= 0)  # the Training rows with a majority
    names = np.asarray(FERPLUS_CLASSES)[majority[rows]]
    keep, held = pretrained.holdout_split(names)
    info = read_metadata(file)
    assert info["holdout"] == pretrained.holdout_record(names)
    assert info["holdout"]["rows"] == len(rows) == 270
    assert info["trained_on"].startswith(f"{len(keep)} FER2013 Training rows with FER+ vote")

    report = tmp_path / "ferplus.json"
    select_ensemble.main([str(file), *files, "--swa", "--out", str(report)])
    levers = json.loads(report.read_text())
    accuracy = float(np.mean(load(file).predict(X[rows[held]]) == names[held]))
    assert levers["model"] == "ferplus" and levers["validation_faces"] == len(held) == 27
    assert levers["networks"][str(file)]["file as saved"]["accuracy"] == pytest.approx(accuracy)

    # A fer2013 network cannot be scored beside it.
    fer2013 = tmp_path / "fer2013_run"
    pretrained.main(["fer2013", "--data", str(csv), "--holdout", "--max-epochs", "1",
                     "--out", str(fer2013)])
    with pytest.raises(SystemExit):
        select_ensemble.main([str(file), str(fer2013 / "fer2013.skops"), *files,
                              "--out", str(report)])


def test_weights_are_stored_in_the_smallest_form_that_keeps_the_probabilities(
        patch_faces, monkeypatch):
    # benchmarks/pretrained.py: float16, else float16 for the large tensors only, else float32,
    # each compared with the float32 weights in float32 forward passes.
    import torch

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import pretrained

    X, y = patch_faces(96)
    model = FERCNNClassifier(n_filters=8, n_blocks=2, convs_per_block=1, max_epochs=3,
                             random_state=0, precision="bfloat16").fit(X, y)
    weights = {name: tensor.clone() for name, tensor in model.module_.state_dict().items()}
    # The second kernel, 16x8x3x3 values, is the one large tensor at a threshold of 500.
    choose = functools.partial(pretrained.choose_storage, large_tensor=500)
    large = {name for name, tensor in weights.items() if tensor.numel() >= 500}
    assert large == {n for n, t in weights.items() if t.ndim == 4 and t.shape[1] == 8}
    monkeypatch.setattr(pretrained, "FLOAT16_TOLERANCE", 0.0)
    label, storage, stored, tried = choose(model, X)
    assert (label, storage) == ("float32", "float32")
    assert stored is model and stored.precision == "bfloat16"
    assert 0 < tried["mixed"] < tried["float16"]
    monkeypatch.setattr(pretrained, "FLOAT16_TOLERANCE", (tried["mixed"] + tried["float16"]) / 2)
    label, storage, stored, _ = choose(model, X)
    assert label == "mixed" and storage == dict.fromkeys(large, "float16")
    assert stored.precision == "bfloat16" and model.precision == "bfloat16"
    for name, tensor in stored.module_.state_dict().items():
        rounded = weights[name].half().float() if name in large else weights[name]
        torch.testing.assert_close(tensor, rounded, rtol=0, atol=0)
    monkeypatch.setattr(pretrained, "FLOAT16_TOLERANCE", tried["float16"])
    assert choose(model, X)[:2] == ("float16", "float16")
    # A network without large tensors tries float16 alone; a failed trial leaves the
    # model's precision as it was.
    assert list(pretrained.storages(model, large_tensor=10 ** 9)) == ["float16"]

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pretrained, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        choose(model, X)
    assert model.precision == "bfloat16"
