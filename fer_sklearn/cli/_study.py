"""The ``fer-sklearn study`` pipeline.

The study trains a CNN and a parameter-matched DNN, evaluates both, looks
inside the CNN with :mod:`fer_sklearn.interpret`, and writes a report. Each
step adds its numbers to one ``results`` dictionary (written as
``results.json``) and returns a report :class:`~fer_sklearn.cli._report.Section`
whose numbers point into it. Everything is written through
:func:`fer_sklearn._output.output_folder`: into a temporary folder beside
``--out``, renamed into place at the end, so that a failed or interrupted run
leaves no half-written report and replaces only an earlier report of ours.
"""

import json
import math
import os
import platform
import time
from dataclasses import dataclass

import numpy as np

from .._errors import one_line
from .._labels import class_names
from ._common import CLIError, read_data
from ._report import Figure, Num, Section, Table, render_html, render_markdown


@dataclass
class StudyData:
    """Training rows, the test sets by name, and what they are."""

    X_train: np.ndarray
    y_train: np.ndarray
    tests: dict  # name -> (X, y); the first is the one analysed in depth
    target_names: list
    source: str
    split: str
    masks: np.ndarray = None  # region masks of the first test set (synthetic faces only)


def _stratified(X, y, masks, test_size, seed, source):
    from sklearn.model_selection import train_test_split

    arrays = (X, y) if masks is None else (X, y, masks)
    try:
        parts = train_test_split(*arrays, test_size=test_size, stratify=y, random_state=seed)
    except ValueError as exc:
        raise CLIError(f"{source}: cannot make a stratified train/test split: "
                       f"{one_line(exc)}") from None
    return parts[0], parts[2], parts[1], parts[3], None if masks is None else parts[5]


def study_data(path, *, ferplus, n_samples, seed, cache=True):
    """The study's data: synthetic faces, or a FER2013 file split by its Usage column.

    Files without a Training/test split in their Usage column (Kaggle's
    ``train.csv``, an image folder with only ``train/``) get a stratified 80/20 split.
    """
    from ..datasets import make_faces

    if path is None:
        if ferplus is not None:
            raise CLIError("--ferplus needs --data: the FER2013 file whose rows its votes label")
        faces = make_faces(n_samples, random_state=seed, return_masks=True)
        X_train, y_train, X_test, y_test, masks = _stratified(
            faces.data, faces.target, faces.masks, 0.25, seed, "synthetic faces")
        return StudyData(X_train, y_train, {"test": (X_test, y_test)},
                         list(faces.target_names),
                         f"synthetic faces (make_faces, {n_samples} faces, seed {seed})",
                         "stratified 75/25 train/test split", masks)
    bunch = read_data(path, ferplus=ferplus, cache=cache)
    names = [str(name) for name in bunch.target_names]
    source = f"{path}" + (f" with FER+ labels from {ferplus}" if ferplus else "")
    usage = bunch.usage
    if usage is not None and (usage == "Training").any() and (usage != "Training").any():
        train = usage == "Training"
        tests = {u: (bunch.data[usage == u], bunch.target[usage == u])
                 for u in ("PublicTest", "PrivateTest") if (usage == u).any()}
        return StudyData(bunch.data[train], bunch.target[train], tests, names, source,
                         f"the file's Usage column: Training to train, {' and '.join(tests)} "
                         "to evaluate")
    X_train, y_train, X_test, y_test, _ = _stratified(bunch.data, bunch.target, None, 0.2,
                                                      seed, path)
    return StudyData(X_train, y_train, {"test": (X_test, y_test)}, names, source,
                     "stratified 80/20 train/test split (no Training/test Usage split)")


# -------------------------------------------------------------------- output
def json_ready(value):
    """``value`` with numpy types made plain and NaN/inf made None (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ------------------------------------------------------------------ settings
# Synthetic presets are sized for 2 CPU cores: the default study in about
# 2 minutes on idle cores (well under 5 even on shared ones), --quick as a
# smoke test of every step (see docs/study.rst for measurements). Such short
# runs learn faster with the CNN's rate at 0.01 (1,400 faces, 8 epochs: 57%
# test accuracy; 5 epochs: 40%, against 33% at the default 3e-3). On a
# FER2013 file the CNN gets the estimator's own recipe (its 60 epochs; lr None: its default).
_PRESETS = {
    ("synthetic", False): dict(n_samples=4000, n_filters=16, n_blocks=3, epochs=12, lr=1e-2),
    ("synthetic", True): dict(n_samples=1000, n_filters=8, n_blocks=3, epochs=4, lr=1e-2),
    ("file", False): dict(n_samples=None, n_filters=32, n_blocks=4, epochs=60, lr=None),
    ("file", True): dict(n_samples=None, n_filters=8, n_blocks=3, epochs=3, lr=None),
}
# Interpretation effort: filter-ascent steps, faces for the mask shares and
# for the sanity check.
_INTERPRET = {False: dict(filter_steps=128, n_mask=300, n_sanity=16),
              True: dict(filter_steps=32, n_mask=70, n_sanity=8)}
_VALIDATION_FRACTION = 0.1
_METHODS = ("gradient", "gradcam")
# How the report names them in prose and tables.
_METHOD_NAMES = {"gradient": "Gradient", "gradcam": "Grad-CAM"}


def study_settings(*, data, quick, epochs=None, n_samples=None, n_filters=None, n_blocks=None):
    """The preset for the data kind and ``quick``, with the given values overriding it."""
    settings = {**_PRESETS["synthetic" if data is None else "file", bool(quick)],
                **_INTERPRET[bool(quick)]}
    given = dict(epochs=epochs, n_samples=n_samples, n_filters=n_filters, n_blocks=n_blocks)
    settings.update({k: v for k, v in given.items() if v is not None})
    if data is not None:
        settings["n_samples"] = None  # the file decides
    return settings


# ------------------------------------------------------------------- figures
def _new_figure(*size):
    # A bare Figure renders with Agg and never touches pyplot's global state.
    from matplotlib.figure import Figure as MplFigure

    return MplFigure(figsize=size, layout="constrained")


def _save(fig, folder, name):
    fig.savefig(os.path.join(folder, name), dpi=110)
    return name


def _curves_figure(histories, folder, name):
    """Loss and accuracy per epoch of the models in ``histories`` (label -> history_)."""
    fig = _new_figure(9, 3.4)
    ax_loss, ax_acc = fig.subplots(1, 2)
    for (label, history), color in zip(histories.items(), ("C0", "C1")):
        for column, ax, style in (("train_loss", ax_loss, "-"), ("valid_loss", ax_loss, "--"),
                                  ("train_acc", ax_acc, "-"), ("valid_acc", ax_acc, "--")):
            if column in history:
                ax.plot(history["epoch"], history[column], style, color=color,
                        label=f"{label} {column.split('_')[0]}")
    for ax, title in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        ax.set(xlabel="epoch", title=title)
        ax.legend(fontsize="small")
    return _save(fig, folder, name)


# --------------------------------------------------------------------- steps
def _architecture(estimator, x):
    """Each layer of ``list_layers``: type, output shape (for one image ``x``) and parameters."""
    from ..interpret import layer_activations, list_layers

    modules = dict(estimator.module_.named_modules())
    modules.update({name.rsplit(".", 1)[-1]: m for name, m in modules.items()})
    rows = []
    for name in list_layers(estimator):
        module = modules[name]
        shape = layer_activations(estimator, x, name).shape[1:]
        rows.append({"name": name, "type": type(module).__name__,
                     "output_shape": list(shape[:1] if shape[1:] == (1, 1) else shape),
                     "n_params": sum(p.numel() for p in module.parameters())})
    return rows


def _architecture_table(key, layers):
    return Table(["Layer", "Type", "Output shape", "Parameters"], [
        [layer["name"], layer["type"], " x ".join(map(str, layer["output_shape"])),
         Num(f"{key}.{i}.n_params", ",d")]
        for i, layer in enumerate(layers)])


def _model_results(estimator, data, fit_seconds):
    history = estimator.history_
    last = history.iloc[-1]
    columns = {column: history[column].tolist() for column in history.columns}
    return {
        "n_params": int(estimator.n_params_),
        "fit_seconds": fit_seconds,
        "history": columns,
        "final_epoch": {c: float(last[c]) for c in ("train_loss", "train_acc", "valid_loss",
                                                    "valid_acc") if c in history},
        "curves": _curve_notes(columns),
        "accuracy": {name: float(estimator.score(X, y)) for name, (X, y) in data.tests.items()},
        "layers": _architecture(estimator, data.X_train[:1]),
    }


def _train(data, settings, seed, device, verbose, say, checkpoint):
    """The CNN, then the DNN with its parameter count matched to the CNN's.

    With ``checkpoint``, each keeps its training state in a subfolder of it
    (``cnn``, ``dnn``); the fit seconds are then those of all its epochs,
    resumed ones included, rather than of this run's part.
    """
    from .. import FERCNNClassifier, FERDNNClassifier

    common = dict(max_epochs=settings["epochs"], random_state=seed, device=device,
                  verbose=verbose, validation_fraction=_VALIDATION_FRACTION)
    lr = {} if settings["lr"] is None else {"lr": settings["lr"]}
    cnn = FERCNNClassifier(n_filters=settings["n_filters"], n_blocks=settings["n_blocks"],
                           **lr, **common)
    dnn = FERDNNClassifier(match_params=cnn, **common)
    fitted = {}
    for key, label, model in (("cnn", "CNN", cnn), ("dnn", "parameter-matched DNN", dnn)):
        say(f"training the {label} for {settings['epochs']} epochs on "
            f"{len(data.y_train)} faces ({_VALIDATION_FRACTION:.0%} held out for validation)")
        if checkpoint is not None:
            model.set_params(checkpoint=os.path.join(checkpoint, key))
        start = time.perf_counter()
        model.fit(data.X_train, data.y_train)
        fitted[key] = time.perf_counter() - start
        if checkpoint is not None:
            fitted[key] = max(fitted[key], float(model.history_["dur"].sum()))
    return cnn, dnn, fitted


def _curve_notes(history):
    """What a reader of the training curves may ask about: a validation accuracy above the
    training accuracy at the end, and the epoch of a spike in the validation loss."""
    notes = {"valid_above_train": None, "spike_epoch": None}
    if "valid_acc" not in history:
        return notes
    notes["valid_above_train"] = history["valid_acc"][-1] > history["train_acc"][-1]
    losses = np.asarray(history["valid_loss"])
    if len(losses) >= 3:
        # A spike: one epoch's loss well above both neighbours'.
        ratio = losses[1:-1] / np.maximum(losses[:-2], losses[2:])
        if ratio.max() > 1.3:
            index = int(ratio.argmax()) + 1
            notes.update(spike_epoch=int(history["epoch"][index]),
                         spike_loss=float(losses[index]),
                         spike_after=float(losses[index + 1]))
    return notes


def _curve_sentences(key, notes):
    sentences = []
    if notes["valid_above_train"]:
        sentences.append(("Validation accuracy ends above training accuracy (",
                          Num(f"{key}.final_epoch.valid_acc", ".1%"), " vs ",
                          Num(f"{key}.final_epoch.train_acc", ".1%"), "): dropout and the "
                          "augmentations act only while training, so the training figure is "
                          "measured on harder inputs than the validation one."))
    if notes["spike_epoch"] is not None:
        sentences.append(("The validation loss jumps at epoch ",
                          Num(f"{key}.curves.spike_epoch", "d"), " (to ",
                          Num(f"{key}.curves.spike_loss", ".2f"), ", then ",
                          Num(f"{key}.curves.spike_after", ".2f"), " the next epoch), its "
                          "largest one-epoch jump. Such jumps are common at a high learning "
                          "rate with batch norm, whose running statistics, used for "
                          "validation, can lag the weights; the training loss shows whether "
                          "training itself was disturbed."))
    return sentences


def _cnn_section(results, folder):
    cnn = results["models"]["cnn"]
    test = next(iter(cnn["accuracy"]))
    figure = _curves_figure({"CNN": cnn["history"]}, folder, "cnn_training_curves.png")
    return Section("1. The CNN", [
        (f"A VGG-style network of {results['settings']['n_blocks']} blocks of two 3x3 "
         f"convolutions (with batch norm and ReLU) and 2x2 max pooling, starting at "
         f"{results['settings']['n_filters']} filters and doubling per block, then global "
         "average pooling and a linear layer: ", Num("models.cnn.n_params", ",d"),
         " trainable parameters. It reaches ", Num(f"models.cnn.accuracy.{test}", ".1%"),
         f" accuracy on the {test} set after ", Num("settings.epochs", "d"), " epochs (",
         Num("models.cnn.fit_seconds", ".0f"), " s to train)."),
        Figure(figure, "CNN training curves: training (solid) and validation (dashed) loss "
                       "and accuracy per epoch."),
        *_curve_sentences("models.cnn", cnn["curves"]),
        _architecture_table("models.cnn.layers", cnn["layers"]),
    ])


def _comparison(results, data):
    """Numbers of the CNN/DNN comparison on the first test set."""
    models = results["models"]
    test, (_, y_test) = next(iter(data.tests.items()))
    cnn_acc, dnn_acc = models["cnn"]["accuracy"][test], models["dnn"]["accuracy"][test]
    return {
        "test_set": test,
        "n_test": len(y_test),
        "interval": {key: _accuracy_interval(models[key]["accuracy"][test], len(y_test))
                     for key in ("cnn", "dnn")},
        "accuracy_difference_points": 100 * (cnn_acc - dnn_acc),
        "param_share": models["cnn"]["n_params"] / models["dnn"]["n_params"],
        "chance": 1 / len(np.unique(data.y_train)),
        "majority_share": float(np.bincount(y_test).max() / len(y_test)),
    }


def _accuracy_interval(accuracy, n):
    """The 95% Wilson score interval of an accuracy measured on ``n`` faces (Wilson, 1927)."""
    from scipy.stats import binomtest

    interval = binomtest(round(accuracy * n), n).proportion_ci(0.95, method="wilson")
    return [float(interval.low), float(interval.high)]


def _summary_section(results):
    """The question, the answer with its uncertainty, and where to read on."""
    comp, data = results["comparison"], results["data"]
    test = comp["test_set"]
    rows = [[label, Num(f"models.{key}.n_params", ",d"),
             Num(f"models.{key}.accuracy.{test}", ".1%"),
             (Num(f"comparison.interval.{key}.0", ".1%"), " to ",
              Num(f"comparison.interval.{key}.1", ".1%"))]
            for key, label in (("cnn", "CNN"), ("dnn", "DNN"))]
    gap = comp["accuracy_difference_points"]
    if abs(gap) < 0.5:
        verdict = ("The two are about as accurate. ",)
    else:
        verdict = ("The CNN is ", Num("comparison.accuracy_difference_points", ".1f", True),
                   f" points {'more' if gap > 0 else 'less'} accurate. ")
    return Section("Summary", [
        ("With the same number of parameters, does a convolutional network (CNN) recognise "
         "facial expressions better than a multilayer perceptron (DNN)? Both were trained on "
         "the same ", Num("data.n_train", ",d"), " faces (",
         Num("settings.validation_fraction", ".0%"),
         " of them held out to draw the validation curves) and tested on ",
         Num("comparison.n_test", ",d"), f" {test} faces they had not seen; the data: "
         f"{data['source']}. Chance is ", Num("comparison.chance", ".1%"), "."),
        Table(["Model", "Parameters", f"Accuracy ({test})", "95% interval"], rows),
        (*verdict, "Each interval (Wilson's score interval of a binomial proportion) is the "
         "uncertainty of one model's accuracy from the number of test faces only; another "
         "training seed adds its own, and the two models, scored on the same faces, are "
         "compared best face by face. Sections 1 and 2 describe the networks and their "
         "training, 3 their errors, 4 and 5 what the CNN looks at."),
    ])


def _comparison_section(results, folder):
    models, comp = results["models"], results["comparison"]
    test = comp["test_set"]
    gap = comp["accuracy_difference_points"]
    accs = (" (", Num(f"models.cnn.accuracy.{test}", ".1%"), " vs ",
            Num(f"models.dnn.accuracy.{test}", ".1%"), f" on the {test} set)")
    if abs(gap) < 0.5:
        verdict = ("The CNN and the DNN are about as accurate", *accs, ", the CNN with ",
                   Num("comparison.param_share", ".0%"), " of the DNN's parameters. At this "
                   "training budget the architecture makes no difference yet; more epochs or "
                   "data usually separate them.")
    else:
        verdict = ("The CNN is ", Num("comparison.accuracy_difference_points", ".1f", True),
                   f" points {'more' if gap > 0 else 'less'} accurate than the DNN", *accs,
                   " with ", Num("comparison.param_share", ".0%"), " of its parameters. ")
        dnn_acc = models["dnn"]["accuracy"][test]
        if gap < 0:
            verdict += ("Here the DNN wins: with this little training the CNN has not "
                        "converged; more epochs usually reverse the order.",)
        elif dnn_acc <= comp["majority_share"] + 0.02:
            verdict += ("The DNN does no better than always answering the most frequent class (",
                        Num("comparison.majority_share", ".1%"), "): spending the same "
                        "parameters on one weight per pixel and unit, it cannot find a brow "
                        "or a mouth that moves from face to face, while the CNN's small "
                        "filters, shared across positions, find them anywhere.")
        else:
            verdict += ("The same parameter budget buys more in the CNN: its filters are "
                        "shared across positions, so it learns a local feature (a brow's "
                        "slant, a mouth's curve) once, where the DNN must learn it for every "
                        "place the feature can appear.",)
    rows = []
    for key, label in (("cnn", "CNN"), ("dnn", "DNN")):
        base = f"models.{key}"
        rows.append([label, Num(f"{base}.n_params", ",d"),
                     Num(f"{base}.final_epoch.train_acc", ".1%"),
                     Num(f"{base}.final_epoch.valid_acc", ".1%"),
                     *(Num(f"{base}.accuracy.{name}", ".1%") for name in models[key]["accuracy"]),
                     Num(f"{base}.fit_seconds", ".0f")])
    header = ["Model", "Parameters", "Train acc. (last epoch)", "Validation acc.",
              *(f"Acc. ({name})" for name in models["cnn"]["accuracy"]), "Fit time (s)"]
    figure = _curves_figure({"CNN": models["cnn"]["history"], "DNN": models["dnn"]["history"]},
                            folder, "cnn_vs_dnn_training_curves.png")
    sizes = " x ".join(map(str, results["models"]["dnn"]["hidden_layer_sizes"]))
    return Section("2. The parameter-matched DNN", [
        (f"A multilayer perceptron on the flattened face, hidden layers of {sizes} units, "
         "sized to the CNN's parameter count (", Num("models.dnn.n_params", ",d"), " vs ",
         Num("models.cnn.n_params", ",d"), ") and trained on the same faces for as many "
         "epochs (learning rates: CNN ", Num("models.cnn.lr", ".3g"), ", DNN ",
         Num("models.dnn.lr", ".3g"), "). Chance level is ",
         Num("comparison.chance", ".1%"), "."),
        Table(header, rows),
        verdict,
        Figure(figure, "Training curves of both networks: training (solid) and validation "
                       "(dashed)."),
        _architecture_table("models.dnn.layers", models["dnn"]["layers"]),
    ])


def _row_normalised(counts):
    """A confusion matrix as shares of each true class's faces (rows without faces: 0)."""
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)


def _confusion(results, cnn, dnn, data, folder):
    from sklearn.metrics import ConfusionMatrixDisplay, classification_report, confusion_matrix

    from ..interpret import most_confused_pairs

    test, (X, y) = next(iter(data.tests.items()))
    y_pred = cnn.predict(X)
    names = class_names(cnn.classes_, data.target_names)
    counts = confusion_matrix(y, y_pred, labels=cnn.classes_)
    normalized = _row_normalised(counts)
    report = classification_report(y, y_pred, labels=cnn.classes_, target_names=names,
                                   output_dict=True, zero_division=0)
    pairs = most_confused_pairs(counts, labels=names, top=3)
    results["confusion"] = {
        "test_set": test, "labels": names, "counts": counts, "normalized": normalized,
        "per_class": {name: report[name] for name in names},
        "most_confused": pairs.to_dict("records"),
    }
    results["confusion"]["dnn_normalized"] = _row_normalised(
        confusion_matrix(y, dnn.predict(X), labels=cnn.classes_))
    fig = _new_figure(12, 5.6)
    axes = fig.subplots(1, 2)
    for ax, matrix, title in ((axes[0], normalized, "CNN"),
                              (axes[1], results["confusion"]["dnn_normalized"], "DNN")):
        display = ConfusionMatrixDisplay(matrix, display_labels=names).plot(
            ax=ax, values_format=".2f", cmap="Blues", xticks_rotation=45, colorbar=False,
            im_kw={"vmin": 0, "vmax": 1})
        # The display picks text colours from the matrix's own range; on the shared
        # 0..1 scale, white reads on the darker half of the colours, black on the lighter.
        for (i, j), text in np.ndenumerate(display.text_):
            text.set_color("white" if matrix[i, j] > 0.5 else "black")
        ax.set_title(title)
    fig.colorbar(display.im_, ax=axes.tolist(), shrink=0.8,
                 label="share of the true class's faces")
    figure = _save(fig, folder, "confusion_matrix.png")
    mistakes = []
    for i, pair in enumerate(results["confusion"]["most_confused"]):
        mistakes += [", " if i else "", f"{pair['true']} as {pair['predicted']} (",
                     Num(f"confusion.most_confused.{i}.rate", ".0%"), f" of {pair['true']} faces)"]
    return Section("3. Where the networks err", [
        (f"Confusion matrices of both networks on the {test} set, each row normalised by "
         "the number of faces of that true class, so the diagonal is each class's recall. "
         "The CNN's most frequent confusions: ", *mistakes, "."),
        Figure(figure, f"Normalised confusion matrices of the CNN and the DNN ({test} set)."),
        Table(["Class", "Precision", "Recall", "F1", "Faces"], [
            [name, *(Num(f"confusion.per_class.{name}.{m}", ".2f")
                     for m in ("precision", "recall", "f1-score")),
             Num(f"confusion.per_class.{name}.support", ",.0f")] for name in names]),
    ])


def _mask_shares(cnn, X, masks, say):
    """Share of each method's saliency inside the eyes/brows and mouth masks, and their area."""
    from ..interpret import saliency_map

    regions = {"eyes": masks == 1, "mouth": masks == 2, "both": masks > 0}
    shares = {"area": {r: float(m.mean()) for r, m in regions.items()}}
    for method in _METHODS:
        say(f"saliency ({method}) on {len(X)} test faces with region masks")
        maps = np.abs(saliency_map(cnn, X, method=method))
        total = maps.sum(axis=(1, 2))
        shares[method] = {r: float(np.mean((maps * m).sum(axis=(1, 2)) / np.maximum(total, 1e-12)))
                          for r, m in regions.items()}
        shares[method]["concentration"] = shares[method]["both"] / shares["area"]["both"]
    return shares


def _saliency(results, cnn, data, settings, seed, folder, say):
    from ..interpret import SaliencyDisplay, saliency_map, saliency_sanity_check

    test, (X, y) = next(iter(data.tests.items()))
    y_pred = cnn.predict(X)
    # One face per class, correctly classified where possible.
    samples = []
    for label in cnn.classes_:
        of_class = np.flatnonzero(y == label)
        right = of_class[y_pred[of_class] == label]
        if of_class.size:
            samples.append(int((right if right.size else of_class)[0]))
    names = class_names(cnn.classes_, data.target_names)
    display_labels = dict(zip(cnn.classes_.tolist(), names))
    images = X[samples].reshape(len(samples), *cnn.image_shape_)
    blocks, figures = [], []
    for method in _METHODS:
        say(f"saliency maps ({method}) for one face per class")
        maps = saliency_map(cnn, X[samples], method=method)
        fig = _new_figure(6, 1.8 * len(samples))
        SaliencyDisplay(images, maps, y_true=y[samples], y_pred=y_pred[samples],
                        display_labels=display_labels, method=method).plot(
            ax=fig.subplots(len(samples), 3, squeeze=False))
        figures.append(Figure(_save(fig, folder, f"saliency_{method}.png"),
                              f"{_METHOD_NAMES[method]} saliency of the predicted class: "
                              "face, map, overlay."))
    sanity = {}
    for method in _METHODS:
        say(f"sanity check ({method}): maps of a randomly re-initialised CNN")
        scores = saliency_sanity_check(cnn, X[:settings["n_sanity"]], method=method,
                                       cascade=False, random_state=seed)
        sanity[method] = {"spearman": float(scores["spearman"][0]),
                          "ssim": float(scores["ssim"][0])}
    results["saliency"] = {"test_set": test, "methods": list(_METHODS), "samples": samples,
                           "sanity": sanity, "mask": None}
    if data.masks is not None:
        n = min(settings["n_mask"], len(X))
        results["saliency"]["mask"] = _mask_shares(cnn, X[:n], data.masks[:n], say)
        results["saliency"]["mask_faces"] = n
        blocks.append(("Where does the saliency fall? On synthetic faces the class is carried "
                       "by the shapes of the brows, eyes and mouth; the make_faces masks (each "
                       "face's own features, grown by about 2 pixels) cover ",
                       Num("saliency.mask.area.both", ".0%"), " of the image "
                       "on average over ", Num("saliency.mask_faces", "d"), " test faces."))
    else:
        blocks.append(("Real faces come without region masks, so the share of saliency on "
                       "the eyes and mouth is not measured here; the study on the synthetic "
                       "faces (no --data) measures it.",))
    rows = []
    for method in _METHODS:
        row = [_METHOD_NAMES[method]]
        if data.masks is not None:
            row += [Num(f"saliency.mask.{method}.{r}", ".0%") for r in ("eyes", "mouth", "both")]
            row.append(Num(f"saliency.mask.{method}.concentration", ".1f"))
        row += [Num(f"saliency.sanity.{method}.spearman", ".2f"),
                Num(f"saliency.sanity.{method}.ssim", ".2f")]
        rows.append(row)
    header = ["Method"]
    if data.masks is not None:
        header += ["Share in eyes+brows", "Share in mouth", "Share in both",
                   "Times the area share"]
    header += ["Sanity: Spearman", "Sanity: SSIM"]
    blocks.append(Table(header, rows))
    for method in _METHODS:
        spearman = sanity[method]["spearman"]
        kind = ("low: the maps depend on what the network learned, as they should"
                if spearman < 0.5 else
                "high: the maps partly reflect the input itself rather than the model")
        sentence = [f"{_METHOD_NAMES[method]}: after all weights are re-initialised the "
                    "maps keep a rank "
                    "correlation of ", Num(f"saliency.sanity.{method}.spearman", ".2f"),
                    f" with the trained network's ({kind})."]
        if data.masks is not None:
            sentence += [" It puts ", Num(f"saliency.mask.{method}.both", ".0%"),
                         " of its saliency in the eyes and mouth regions, ",
                         Num(f"saliency.mask.{method}.concentration", ".1f"),
                         " times their area share."]
        blocks.append(tuple(sentence))
    return Section("4. What the CNN looks at", [
        (f"Saliency maps for one {test} face of each class (correctly classified where "
         "possible), by the gradient of the predicted class's score with respect to each "
         "pixel and by Grad-CAM on the last convolutional block. The sanity check (Adebayo "
         "et al., 2018) compares the maps with those of the same network with random "
         "weights, over ", Num("settings.n_sanity", "d"), " faces: a low rank correlation "
         "(Spearman) and structural similarity (SSIM) mean the maps depend on the training."),
        *figures, *blocks,
    ])


def _filter_layer(cnn):
    """The last ReLU of block 2: past the edge detectors, yet at a resolution that reads as images."""
    from ..interpret import list_layers

    relus = [name for name in list_layers(cnn) if name.startswith("relu")]
    return ([name for name in relus if name.startswith("relu2_")] or relus)[-1]


def _filters(results, cnn, data, settings, seed, folder, say):
    from ..interpret import ActivationDisplay, FilterDisplay, layer_activations, visualize_filters

    layer = _filter_layer(cnn)
    face = results["saliency"]["samples"][0]
    X_test, y_test = next(iter(data.tests.values()))
    activations = layer_activations(cnn, X_test[face:face + 1], layer)[0]
    channels = list(range(min(16, len(activations))))
    say(f"gradient ascent on {len(channels)} filters of {layer} ({settings['filter_steps']} steps)")
    synthesised = visualize_filters(cnn, layer, channels, n_steps=settings["filter_steps"],
                                    random_state=seed)
    n_rows = -(-len(channels) // 8)
    fig = _new_figure(12, 1.7 * n_rows + 0.5)
    FilterDisplay(synthesised.images, filters=channels, layer=layer).plot(
        ax=fig.subplots(n_rows, 8, squeeze=False))
    filter_figure = _save(fig, folder, "filters.png")
    # The face beside its activation maps.
    fig = _new_figure(13, 1.7 * n_rows + 0.5)
    face_fig, maps_fig = fig.subfigures(1, 2, width_ratios=[1.3, 8])
    face_ax = face_fig.subplots()
    face_ax.imshow(X_test[face].reshape(cnn.image_shape_), cmap="gray")
    label = class_names([y_test[face]], data.target_names)[0]
    face_ax.set(title=f"input ({label})", xticks=[], yticks=[])
    ActivationDisplay(activations[channels], channels=channels, layer=layer).plot(
        ax=maps_fig.subplots(n_rows, 8, squeeze=False))
    activation_figure = _save(fig, folder, "activations.png")
    results["filters"] = {
        "layer": layer, "filters": channels, "n_steps": settings["filter_steps"],
        "mean_activation_start": float(np.mean(synthesised.initial_activations)),
        "mean_activation_end": float(np.mean(synthesised.activations)),
        "activation_face": face, "activation_face_label": label,
        "n_channels": len(activations),
    }
    return Section("5. Filters and activations", [
        (f"Gradient-ascent visualisation of filters of layer {layer}: for each filter, an "
         "input image is optimised, from gray noise over ", Num("filters.n_steps", "d"),
         " steps, to maximise the filter's mean activation (raised on average from ",
         Num("filters.mean_activation_start", ".2f"), " to ",
         Num("filters.mean_activation_end", ".2f"), "). They show the pattern each filter "
         "responds to."),
        Figure(filter_figure, f"Synthesised inputs that maximise filters of {layer}."),
        (f"The same layer's output for one {label} test face: ", Num("filters.n_channels", "d"),
         " maps" + (f", of which the first {len(channels)} are shown."
                    if len(channels) < len(activations) else ".")),
        Figure(activation_figure, f"Activations of {layer} for one face."),
    ])


def _environment(device):
    import captum
    import matplotlib
    import sklearn
    import skorch
    import torch

    from .. import __version__

    return {"versions": {"python": platform.python_version(), "fer_sklearn": __version__,
                         "torch": torch.__version__, "scikit-learn": sklearn.__version__,
                         "skorch": skorch.__version__, "numpy": np.__version__,
                         "captum": captum.__version__, "matplotlib": matplotlib.__version__},
            "device": device, "torch_threads": torch.get_num_threads(),
            "platform": platform.platform()}


def _run_section(results):
    env, settings, data = results["environment"], results["settings"], results["data"]
    rows = [["Data", data["source"]], ["Split", data["split"]],
            ["Training faces", Num("data.n_train", ",d")],
            *([f"{name} faces", Num(f"data.n_test.{name}", ",d")] for name in data["n_test"]),
            ["Epochs", Num("settings.epochs", "d")],
            ["Validation share", Num("settings.validation_fraction", ".0%")],
            ["Seed", Num("settings.seed", "d")],
            ["Preset", "quick" if settings["quick"] else "default"],
            ["Device", f"{env['device']} ({env['torch_threads']} torch threads)"],
            ["Wall time (s)", Num("wall_seconds", ".0f")],
            *([name, version] for name, version in env["versions"].items()),
            ["Platform", env["platform"]]]
    return Section("6. How this report was made", [Table(["Setting", "Value"], rows)])


def run_study(*, out, data=None, ferplus=None, epochs=None, quick=False, seed=0, device="auto",
              force=False, quiet=False, n_samples=None, n_filters=None, n_blocks=None,
              cache=True, checkpoint=None):
    """Run the study and write its report to the folder ``out``.

    Parameters
    ----------
    out : str
        Output folder, written through :func:`fer_sklearn._output.output_folder`:
        it must be missing or empty, or, with ``force``, an earlier study's
        folder holding nothing else.
    data, ferplus : str or None
        FER2013 file or image folder and FER+ votes; None uses synthetic faces.
    epochs, n_samples, n_filters, n_blocks : int or None
        Override the preset (``n_samples`` for synthetic faces only).
    quick : bool
        The small preset.
    seed : int
    device : str
        As the estimators' ``device``.
    force : bool
        Replace an earlier study's folder.
    quiet : bool
        No progress output.
    cache : bool
        Use :func:`~fer_sklearn.datasets.load_fer2013`'s parsed-array cache.
    checkpoint : str or None
        A folder to keep both networks' training state in (``cnn``, ``dnn``),
        as the estimators' ``checkpoint``: a study run again after an
        interruption resumes their fits.

    Returns
    -------
    report : str
        Path of ``report.html``.

    Raises
    ------
    CLIError
        For unusable data or device.
    fer_sklearn._output.OutputError
        For an output folder that may not be written.
    """
    from .._estimators import resolve_device
    from .._output import output_folder

    start = time.perf_counter()
    say = (lambda message: None) if quiet else (lambda message: print(f"[study] {message}",
                                                                      flush=True))
    try:
        device = resolve_device(device)
    except ValueError as exc:
        raise CLIError(one_line(exc)) from None
    settings = study_settings(data=data, quick=quick, epochs=epochs, n_samples=n_samples,
                              n_filters=n_filters, n_blocks=n_blocks)
    # The checkpoint counts as an input: an output folder replaced on --force, or
    # removed on an interruption, must not hold it.
    with output_folder(out, force=force, inputs=(data, ferplus, checkpoint)) as folder:
        say(f"loading {'synthetic faces' if data is None else data}")
        dataset = study_data(data, ferplus=ferplus, n_samples=settings["n_samples"], seed=seed,
                             cache=cache)
        results = {
            "settings": {**settings, "data": data, "ferplus": ferplus, "quick": bool(quick),
                         "seed": seed, "validation_fraction": _VALIDATION_FRACTION},
            "data": {"source": dataset.source, "split": dataset.split,
                     "classes": dataset.target_names, "n_train": len(dataset.y_train),
                     "n_test": {name: len(y) for name, (_, y) in dataset.tests.items()}},
            "environment": _environment(device),
        }
        cnn, dnn, fit_seconds = _train(dataset, settings, seed, device, 0 if quiet else 1, say,
                                       checkpoint)
        say("evaluating")
        results["models"] = {key: _model_results(model, dataset, fit_seconds[key])
                             for key, model in (("cnn", cnn), ("dnn", dnn))}
        results["models"]["cnn"].update(n_filters=cnn.n_filters, n_blocks=cnn.n_blocks)
        for key, model in (("cnn", cnn), ("dnn", dnn)):
            results["models"][key]["lr"] = model.lr
        results["models"]["dnn"]["hidden_layer_sizes"] = list(dnn.hidden_layer_sizes_)
        results["comparison"] = _comparison(results, dataset)
        sections = [_summary_section(results), _cnn_section(results, folder),
                    _comparison_section(results, folder),
                    _confusion(results, cnn, dnn, dataset, folder),
                    _saliency(results, cnn, dataset, settings, seed, folder, say),
                    _filters(results, cnn, dataset, settings, seed, folder, say)]
        results["wall_seconds"] = time.perf_counter() - start
        results = json_ready(results)
        sections.append(_run_section(results))
        say("writing the report")
        title = "fer-sklearn study: CNN vs parameter-matched DNN on facial expressions"
        files = {"results.json": json.dumps(results, indent=2, allow_nan=False),
                 "report.md": render_markdown(title, sections, results),
                 "report.html": render_html(title, sections, results, folder)}
        for name, text in files.items():
            # File names that are not UTF-8 (in --data) are written as escapes.
            with open(os.path.join(folder, name), "w", encoding="utf-8",
                      errors="backslashreplace") as file:
                file.write(text)
    return os.path.join(os.path.abspath(out), "report.html")
