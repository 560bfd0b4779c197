"""Figures quoted in README.md and docs/ agree with their sources: the code's defaults
and the results files of ``benchmarks/results/``, for figures written by hand and for
the tables a benchmark script generates."""

import hashlib
import importlib
import json
import re
from pathlib import Path

import pytest

from fer_sklearn import FERCNNClassifier, read_metadata
from fer_sklearn.pretrained import pretrained_info

REPO = Path(__file__).resolve().parents[1]


def _text(path):
    """The file's text with line breaks and runs of spaces as single spaces."""
    return " ".join((REPO / path).read_text(encoding="utf-8").split())


def test_the_default_cnn_is_described_as_it_is():
    cnn = FERCNNClassifier()
    millions = f"{cnn.count_params() / 1e6:.2f}M parameters"
    assert f"({millions}, {cnn.max_epochs} epochs)" in _text("docs/getting_started.rst")
    assert f"({millions} by default)" in _text("README.md")


def test_the_readme_quotes_the_recorded_fer2013_run():
    run = json.loads((REPO / "benchmarks/results/cnn.json").read_text())
    quoted = re.search(r"reached ([\d.]+)% on PublicTest after a (\d+)-minute fit on "
                       r"(\d) CPU cores with native bfloat16", _text("README.md"))
    assert quoted, "the README no longer quotes the FER2013 run"
    assert float(quoted[1]) == round(100 * run["reported_accuracy"], 1)
    assert int(quoted[2]) == round(run["fit_s"] / 60)
    assert int(quoted[3]) == run["threads"]
    assert run["cpu"].endswith("native bfloat16: True")


def test_the_inference_batch_table_quotes_its_results_file():
    results = json.loads((REPO / "benchmarks/results/inference_batch.json").read_text())
    text = (REPO / "docs/benchmarks.rst").read_text(encoding="utf-8")
    table = text[text.index("batch   fer2013 faces/s"):]
    for size, fer2013 in results["results"]["fer2013"].items():
        ferplus = results["results"]["ferplus"][size]
        row = re.search(rf"^{size}\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)$", table, re.MULTILINE)
        assert row, f"no row for batch {size}"
        assert [float(row[1]), float(row[2])] == [round(fer2013["faces_per_s"], 1),
                                                  round(ferplus["faces_per_s"], 1)]
        assert [int(row[3]), int(row[4])] == [round(fer2013["peak_growth_mb"]),
                                              round(ferplus["peak_growth_mb"])]
    ratios = {model: runs["32"]["faces_per_s"] / runs["128"]["faces_per_s"]
              for model, runs in results["results"].items()}
    assert (f"32 images predict {ratios['fer2013']:.1f} (fer2013) and {ratios['ferplus']:.1f} "
            "(ferplus) times as many faces per") in " ".join(text.split())


def test_the_study_page_quotes_the_recorded_study():
    from fer_sklearn.cli._study import study_settings

    run = json.loads((REPO / "benchmarks/results/study_synthetic.json").read_text())
    models, test = run["models"], run["comparison"]["test_set"]
    # The recorded run is the default study of today's presets.
    preset = study_settings(data=None, quick=False)
    assert {key: run["settings"][key] for key in preset} == preset
    text = _text("docs/study.rst")
    quoted = re.search(r"``fer-sklearn study`` - (\d+) s \(idle; its ``wall_seconds``\) - "
                       r"([\d.]+)% \(([\d,]+) parameters\) vs ([\d.]+)% \(([\d,]+)\), on "
                       r"([\d,]+) test faces", text)
    assert quoted, "the study page no longer quotes the recorded run"
    assert int(quoted[1]) == round(run["wall_seconds"])
    # The test accuracy, not the validation one (the two differ by a few tenths).
    assert float(quoted[2]) == round(100 * models["cnn"]["accuracy"][test], 1)
    assert float(quoted[4]) == round(100 * models["dnn"]["accuracy"][test], 1)
    assert int(quoted[3].replace(",", "")) == models["cnn"]["n_params"]
    assert int(quoted[5].replace(",", "")) == models["dnn"]["n_params"]
    assert int(quoted[6].replace(",", "")) == run["comparison"]["n_test"]
    validation = re.search(r"validation accuracy, on the 10% of the training faces held out "
                           r"for the curves, was ([\d.]+)%", text)
    assert float(validation[1]) == round(100 * models["cnn"]["final_epoch"]["valid_acc"], 1)


def test_the_ferplus_comparison_is_generated_from_its_results(tmp_path, monkeypatch):
    # The page's table is what the benchmark script makes of its JSON files now.
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    bench_ferplus = importlib.import_module("bench_ferplus")
    bench_ferplus.write_docs(tmp_path / "table.rst")
    shipped = (REPO / "docs/_ferplus_results.rst").read_text(encoding="utf-8")
    assert (tmp_path / "table.rst").read_text(encoding="utf-8") == shipped
    majority = json.loads((REPO / "benchmarks/results/ferplus_majority.json").read_text())
    assert f"{majority['publictest']['accuracy']:.1%}" in shipped


def test_the_face_detection_tables_are_generated_from_the_benchmark(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    bench_faces = importlib.import_module("bench_faces")
    report = json.loads((REPO / "benchmarks/results/faces.json").read_text())
    bench_faces.write_docs(report, tmp_path)
    for name in ("_faces_detectors.rst", "_faces_results.rst"):
        assert ((tmp_path / name).read_text(encoding="utf-8")
                == (REPO / "docs" / name).read_text(encoding="utf-8"))
    assert f"{report['detection']['yunet']['recall']:.1%}" in (
        REPO / "docs/_faces_detectors.rst").read_text(encoding="utf-8")


def test_the_shipped_models_paragraphs_are_generated_from_their_files(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    pretrained = importlib.import_module("pretrained")
    pretrained.write_docs(tmp_path / "models.rst")
    assert ((tmp_path / "models.rst").read_text(encoding="utf-8")
            == (REPO / "docs/_pretrained_results.rst").read_text(encoding="utf-8"))


@pytest.mark.parametrize("attempt, record, source, compared, benchmarks", [
    ("``ferplus`` trained 3 epochs more", "ferplus_continued_3epochs.json", "ferplus",
     ("neutral", "sadness", "disgust"), "accuracy from {shipped:.1%} to {tried:.1%}"),
    ("``ferplus`` started from the ``fer2013`` networks shipped then",
     "ferplus_from_fer2013_8epochs.json", "fer2013", ("fear", "sadness", "contempt"),
     "8 epochs on the vote shares reached {tried:.1%}"),
    ("a third ``ferplus`` network joined", "ferplus_third_network.json", "ferplus",
     ("contempt", "fear", "sadness"), "joined to those two reached {tried:.1%}"),
    ("mixup (alpha 0.2", "ferplus_mixup.json", "ferplus", ("contempt", "fear", "sadness"),
     "with mixup joined to those two reached {tried:.1%}"),
    ("64×64 faces, upsampled", "ferplus_input_64.json", "ferplus",
     ("anger", "disgust", "fear", "sadness"),
     "on 64×64 upsampled faces alone reached {tried:.1%}"),
])
def test_the_ferplus_attempts_are_quoted_from_their_records(attempt, record, source, compared,
                                                            benchmarks):
    """Each unshipped attempt's figures are its record's, against the ferplus file of the time.

    That is the two-network file, whose metadata (and SHA-256) is kept in
    ``benchmarks/results/ferplus_two_networks.json``. A network trained alone
    (neither continued nor joined) is compared with that file's member of the
    same labels and seed; its recall stands alone, since the file's recall is
    the ensemble's.
    """
    section = _text("docs/pretrained.rst")
    section = section[section.index("What was tried"):section.index("Provenance you can check")]
    # The attempt's row of the table: up to the next row, or the table's end.
    text = section[section.index(attempt):section.index("The commands of the")]
    end = text.find(" * - ")  # _text joined the lines: a row starts at " * - "
    text = text[:end] if end >= 0 else text
    tried = json.loads((REPO / "benchmarks/results" / record).read_text())
    shipped = json.loads((REPO / "benchmarks/results/ferplus_two_networks.json").read_text())
    continuation = tried["continuation"]
    reference = shipped
    if not continuation and not tried["members"]:
        (reference,) = [member for member in shipped["members"]
                        if (member["labels"], member["seed"]) == (tried["labels"], tried["seed"])]
        seconds, commands = tried["fit_seconds"], [tried["command"]]
    elif continuation:
        # The record starts from the ferplus file of the time, or from a fer2013 file: the
        # one shipped now, or an earlier one of as many networks as the docs say.
        source_file = REPO / f"fer_sklearn/pretrained/{source}.skops"
        if source == "ferplus":
            assert continuation["from"]["sha256"] == shipped["sha256"]
        elif continuation["from"]["sha256"] != hashlib.sha256(
                source_file.read_bytes()).hexdigest():
            assert continuation["from"]["command"] != read_metadata(source_file)["command"]
            joined = continuation["from"]["command"].split(" --members ")[1].split(" --")[0]
            number = {2: "two", 3: "three", 4: "four"}[len(joined.split())]
            assert f"the {number} trained on all of" in text
        seconds, commands = continuation["fit_seconds"], [tried["command"]]
        if continuation.get("transfer"):
            assert f"after the {continuation['from']['fit_seconds'] / 60:.0f} minutes" in text
    else:
        # Networks joined to the shipped ones (--members): the record holds theirs first.
        n_shipped = len(shipped["members"])
        assert tried["members"][:n_shipped] == shipped["members"]
        added = tried["members"][n_shipped:]
        seconds = sum(member["fit_seconds"] for member in added)
        commands = [tried["command"], *(member["command"] for member in added)]
    assert (f"{tried['publictest_accuracy']:.1%} against {reference['publictest_accuracy']:.1%}"
            in text)
    for name in compared:
        recall = f"{name} {tried['publictest_recall'][name]:.0%}"
        if reference is shipped:
            recall += f" against {shipped['publictest_recall'][name]:.0%}"
        assert recall in text
    assert f"{seconds / 60:.0f} minutes" in text
    # The commands, listed under the table, are the record's, but for the folders they wrote to.
    for command in commands:
        assert command.split(" --out ")[0].split(" /")[0] in section
    # The benchmarks page sums each attempt up with the same figures.
    assert benchmarks.format(tried=tried["publictest_accuracy"],
                             shipped=shipped["publictest_accuracy"]) in _text("docs/benchmarks.rst")


def test_the_ferplus_file_of_the_attempts_is_recorded_as_it_was():
    # The attempts above were measured against the two-network ferplus file: its record is
    # that file's metadata, which the shipped file still has, or the docs say it was replaced.
    record = json.loads((REPO / "benchmarks/results/ferplus_two_networks.json").read_text())
    file = REPO / "fer_sklearn/pretrained/ferplus.skops"
    assert len(record["members"]) == 2
    if hashlib.sha256(file.read_bytes()).hexdigest() == record["sha256"]:
        assert {key: record[key] for key in read_metadata(file)} == read_metadata(file)
        assert record["file_bytes"] == file.stat().st_size
    else:
        assert "``benchmarks/results/ferplus_two_networks.json``" in _text("docs/pretrained.rst")


def _selection_network(record):
    """The one network's figures in a ``select_ensemble.py`` record of one file."""
    run = json.loads((REPO / "benchmarks/results/selection" / record).read_text())
    ((_, network),) = run["networks"].items()
    return network


def _assert_baseline(text, last):
    """A selection table of docs/fer2013_results.rst quotes the last epoch's accuracy and
    interval."""
    assert f"**{last['accuracy']:.4f}** ({last['interval'][0]:.3f}--{last['interval'][1]:.3f})" \
        in text


def _assert_row(text, name, figures):
    """The table row ``name`` quotes select_ensemble.py's accuracy, paired difference (points,
    signed) and faces fixed / broken against the last epoch."""
    row = text[text.index(name):][:200]
    fixed, broken = figures["won_lost"]
    assert f"- {figures['accuracy']:.4f} " in row, name
    assert f"{100 * figures['minus_baseline']:+.2f}".replace("-", "−") in row, name
    assert f"{fixed} / {broken}" in row, name


@pytest.mark.parametrize("record, start, end, epochs", [
    # The default network's last epochs (one-cycle schedule).
    ("fer2013_levers.json", "Beyond one network", "**Weight averaging", (2, 5, 10, 15)),
    # SGD with Nesterov momentum and a plateau schedule.
    ("fer2013_sgd.json", "Other schedules", "**SGD with", (5, 15)),
    # The same with the plateau on a validation split.
    ("fer2013_sgd_valid.json", "watches a validation split (seed 33)",
     "**A plateau that watches", ()),
])
def test_the_weight_averaging_tables_quote_their_selection_runs(record, start, end, epochs):
    # docs/fer2013_results.rst, "Beyond one network": the validation figures of
    # benchmarks/select_ensemble.py's runs, as recorded in their results files.
    run = json.loads((REPO / "benchmarks/results/selection" / record).read_text())
    assert run["validation_faces"] == 2871
    network = _selection_network(record)
    text = _text("docs/fer2013_results.rst")
    text = text[text.index(start):]
    text = text[:text.index(end)]
    _assert_baseline(text, network["last epoch"])
    rows = [(1, "the last epoch's, batch-norm statistics recomputed")] + [
        (k, f"mean of the last {k} epochs") for k in epochs]
    for k, name in rows:
        _assert_row(text, name, network["swa"][f"last {k} epochs"])


def test_the_snapshot_ensemble_table_quotes_its_selection_run():
    # docs/fer2013_results.rst, "Other schedules": select_ensemble.py --snapshot-ensemble.
    network = _selection_network("fer2013_cycles.json")
    ensemble = network["snapshot ensemble"]
    text = _text("docs/fer2013_results.rst")
    text = text[text.index("A snapshot ensemble: one default network"):]
    text = text[:text.index("**Snapshot ensembles")]
    last = network["last epoch"]
    _assert_baseline(text, last)
    epochs = ensemble["epochs"]
    assert epochs == [15, 30, 45, 60] and ensemble["alone"]["60"]["accuracy"] == last["accuracy"]
    for epoch in epochs[:-1]:
        _assert_row(text, f"epoch {epoch} alone", ensemble["alone"][str(epoch)])
    _assert_row(text, "the four averaged", ensemble)


def test_the_levers_summary_quotes_the_selection_runs():
    # docs/fer2013_results.rst, "Beyond one network" opens with every lever's figure in short.
    text = _text("docs/fer2013_results.rst")
    text = text[text.index("Every lever on the 2,871 validation faces"):]
    text = text[:text.index(".. list-table::")]
    sizes = json.loads((REPO / "benchmarks/results/selection/fer2013_ensembles.json")
                       .read_text())["ensembles"]
    swa, sgd, cycles, ema = (_selection_network(f"fer2013_{name}.json")
                             for name in ("levers", "sgd", "cycles", "ema"))
    averages = [figures["accuracy"] for k, figures in swa["swa"].items() if k != "last 1 epochs"]
    rows = [("four default networks", [f"**{sizes['4']['mean']:.4f}**", sizes["1"]["mean"]]),
            ("(SWA), one-cycle", [f"{min(averages):.4f} -- {max(averages):.4f}",
                                  swa["last epoch"]["accuracy"]]),
            ("a plateau on the training loss", [sgd["last epoch"]["accuracy"],
                                                sgd["swa"]["last 1 epochs"]["accuracy"]]),
            ("the plateau on a validation split",
             [_selection_network("fer2013_sgd_valid.json")["last epoch"]["accuracy"]]),
            ("a snapshot ensemble", [cycles["snapshot ensemble"]["accuracy"],
                                     cycles["last epoch"]["accuracy"]]),
            ("moving average", [ema["file as saved"]["accuracy"],
                                ema["last epoch"]["accuracy"]])]
    for name, figures in rows:
        row = text[text.index(name):][:200]
        for figure in figures:
            assert (figure if isinstance(figure, str) else f"{figure:.4f}") in row, (name, figure)


def test_the_moving_average_table_quotes_its_selection_run():
    # docs/fer2013_results.rst, "Other schedules": a --ema file against its own last epoch.
    network = _selection_network("fer2013_ema.json")
    text = _text("docs/fer2013_results.rst")
    text = text[text.index("An exponential moving average of the weights (decay 0.999)"):]
    text = text[:text.index("**An exponential moving average")]
    _assert_baseline(text, network["last epoch"])
    _assert_row(text, "the last epoch's, batch-norm statistics recomputed",
                network["swa"]["last 1 epochs"])
    _assert_row(text, "the moving average of the weights", network["file as saved"])


def test_the_ensemble_table_quotes_its_selection_run_and_the_shipped_join():
    # docs/fer2013_results.rst, "Beyond one network": select_ensemble.py's ensembles of the
    # --holdout networks, and the shipped fer2013 file, which joins all four, as they record.
    run = json.loads((REPO / "benchmarks/results/selection/fer2013_ensembles.json").read_text())
    text = _text("docs/fer2013_results.rst")
    text = text[text.index("Default networks (seeds"):text.index("Not measured yet")]
    table = text[:text.index("**Ensembles")]
    for k, sizes in run["ensembles"].items():
        row = table[table.index(f"* - {k} - {sizes['subsets']} - "):]
        best = sizes["best"]
        cells = [f"{sizes['mean']:.4f}",
                 f"{best['accuracy']:.4f} ({best['interval'][0]:.3f}--{best['interval'][1]:.3f})"]
        if sizes["subsets"] > 1:
            cells.append(f"{sizes['min']:.4f} -- {sizes['max']:.4f}")
        for cell in cells:
            assert cell in row[:120], (k, cell)
    gains = [f"{100 * (run['ensembles'][k]['mean'] - run['ensembles']['1']['mean']):.2f}"
             for k in "234"]
    assert f"{gains[0]} points for two networks, {gains[1]} for three and {gains[2]} for four" \
        in text
    shipped = pretrained_info("fer2013")
    # The shipped members are the selection's networks, each file named by its command's --out.
    assert sorted(f"{member['command'].split(' --out ')[1].split()[0]}/fer2013.skops"
                  for member in shipped["members"]) == sorted(run["networks"])
    seeds = [member["seed"] for member in shipped["members"]]
    assert f"seeds {seeds[0]} to {seeds[-1]}" in text and len(seeds) == seeds[-1] - seeds[0] + 1
    assert shipped["weights_dtype"] == "mixed" and shipped["recipe"]["test_time_shift"] == 0
    assert f"**{shipped['publictest_accuracy']:.4f}**" in text
    assert f"changed one by {shipped['mixed_max_proba_difference']:.1e}" in text
    assert f"up to {shipped['float16_max_proba_difference']:.4f}" in text
    assert f"``--large-tensor {shipped['large_tensor']}``" in text
    size = (REPO / "fer_sklearn/pretrained/fer2013.skops").stat().st_size
    assert f"file takes {size / 1e6:.1f} MB" in text
    assert f"predict {shipped['predict_faces_per_second']:.0f} faces/s" in text
    three = json.loads((REPO / "benchmarks/results/selection/fer2013_ensemble3.json").read_text())
    assert [m["seed"] for m in three["members"]] == [10, 11, 12]
    assert f"scored {three['publictest_accuracy']:.4f}" in text
    assert f"changed a probability by {three['mixed_max_proba_difference']:.1e}" in text
    assert f"took {three['file_bytes'] / 1e6:.1f} MB" in text
    # The same figures in the record of attempts of docs/pretrained.rst.
    attempts = _text("docs/pretrained.rst")
    row = attempts[attempts.index("four 60-epoch ``fer2013`` networks"):][:500]
    for figure in (shipped["publictest_accuracy"], three["publictest_accuracy"],
                   run["ensembles"]["4"]["mean"], run["ensembles"]["1"]["mean"]):
        assert f"{100 * figure:.2f}%" in row, figure
    assert f"shipped ({size / 1e6:.1f} MB" in row
