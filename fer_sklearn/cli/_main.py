"""``fer-sklearn``: argument parsing, the train/evaluate/predict commands, error reporting.

A user's mistake or the machine's refusal -- missing or malformed data, an
output in the way, an unwritable or full folder, an unknown device, a model
file from another version, output piped into a program that stopped reading --
ends with one line ``fer-sklearn: error: ...`` on stderr and exit status 2.
SIGINT and SIGTERM end a command through :mod:`._interrupt` with status 130
or 143, having saved nothing but a ``--checkpoint`` of the epochs completed,
which the same command resumes. Anything else is a bug and keeps its traceback.

Every file a command writes goes through :mod:`fer_sklearn._output`, checked
before the work starts and written under a temporary name until complete.
"""

import argparse
import contextlib
import json
import os
import re
import signal
import sys
import warnings

import numpy as np

from .._checkpoint import read_checkpoint
from .._errors import one_line
from .._labels import class_names
from .._output import OutputError, check_output_file
from ..datasets import USAGES
from ..exceptions import CheckpointError
from ..faces._detect import DETECTORS
from ..video._read import VIDEO_SUFFIXES
from ._common import CLIError, labelled_data, load_model, write_text
from ._interrupt import Interrupted, interrupts_raise
from ._predict import predict_command
from ._study import _PRESETS, run_study

PROG = "fer-sklearn"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, like every other error."""

    def error(self, message):
        raise CLIError(f"{message} (see '{self.prog} --help')")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _n_samples(text):
    value = _positive_int(text)
    if value < 70:
        raise argparse.ArgumentTypeError(f"need at least 70 faces (10 per emotion), got {value}")
    return value


def _device(device):
    from .._estimators import resolve_device

    try:
        return resolve_device(device)
    except ValueError as exc:
        raise CLIError(one_line(exc)) from None


# ------------------------------------------------------------------ commands
def _study(args):
    report = run_study(out=args.out, data=args.data, ferplus=args.ferplus, epochs=args.epochs,
                       quick=args.quick, seed=args.seed, device=args.device, force=args.force,
                       quiet=args.quiet, n_samples=args.n_samples, n_filters=args.n_filters,
                       n_blocks=args.n_blocks, cache=args.cache, checkpoint=args.checkpoint)
    print(f"report: {report}")


def _train(args):
    from .. import FERCNNClassifier, FERDNNClassifier, save

    device = _device(args.device)
    check_output_file(args.out, force=args.force, inputs=[args.data, args.checkpoint])
    X, y, _ = labelled_data(args.data, usage=args.usage, n_samples=args.n_samples,
                            seed=args.seed, cache=args.cache)
    common = dict(max_epochs=args.epochs, random_state=args.seed, device=device,
                  verbose=0 if args.quiet else 1)
    cnn = FERCNNClassifier(n_filters=args.n_filters, n_blocks=args.n_blocks, **common)
    # The DNN is matched to the CNN these options describe (unfitted, so it can be saved).
    model = cnn if args.model == "cnn" else FERDNNClassifier(match_params=cnn, **common)
    model.set_params(checkpoint=args.checkpoint)
    model.fit(X, y)
    save(model, args.out)
    print(f"saved {args.out}: {type(model).__name__}, {model.n_params_:,} parameters, "
          f"trained on {len(y):,} faces")


def _evaluate(args):
    from sklearn.metrics import classification_report, confusion_matrix

    if args.json:
        check_output_file(args.json, force=args.force, inputs=[args.model, args.data])
    model = load_model(args.model, args.device)
    X, y, target_names = labelled_data(args.data, usage=args.usage, n_samples=args.n_samples,
                                       seed=args.seed, cache=args.cache)
    labels = model.classes_
    names = class_names(labels, target_names)
    y_pred = model.predict(X)
    accuracy = float(np.mean(y_pred == y))
    counts = confusion_matrix(y, y_pred, labels=labels)
    report = classification_report(y, y_pred, labels=labels, target_names=names,
                                   zero_division=0, output_dict=True)
    matrix = "\n".join(
        [" " * 10 + "".join(f"{name[:8]:>9}" for name in names)]
        + [f"{name[:9]:<10}" + "".join(f"{c:>9d}" for c in row) for name, row in zip(names, counts)])
    print(f"accuracy: {accuracy:.4f} on {len(y):,} faces\n")
    print(classification_report(y, y_pred, labels=labels, target_names=names, zero_division=0,
                                digits=3))
    print(f"confusion matrix (rows: true, columns: predicted)\n{matrix}")
    if args.json:
        write_text(args.json, json.dumps({
            "model": os.path.abspath(args.model), "data": args.data, "usage": args.usage,
            "n_samples": len(y), "accuracy": accuracy, "labels": names,
            "confusion_matrix": counts.tolist(), "report": report}, indent=2) + "\n")


# -------------------------------------------------------------------- parser
def _add_common(parser):
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed of data, weights and shuffling (default: %(default)s)")
    parser.add_argument("--device", default="auto",
                        help="'auto' (CUDA if available), 'cpu', 'cuda' or 'cuda:N' "
                             "(default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def _add_load_device(parser):
    parser.add_argument("--device",
                        help="'auto', 'cpu', 'cuda' or 'cuda:N' to predict on (default: the "
                             "model's own device, or 'auto' where this machine lacks it)")


def _add_checkpoint(parser, what):
    parser.add_argument("--checkpoint", metavar="DIR",
                        help=f"keep {what} in DIR after every epoch; run the same command "
                             "again after an interruption (Ctrl-C, a killed process, a "
                             "restart) to resume from the last epoch completed, to the same "
                             "result. A checkpoint of other data or options is refused")


def _resume_hint(folder):
    """Where an interrupted command's checkpoints stand, and how to go on from them."""
    kept = []
    for part in ("", "cnn", "dnn"):  # train's, and the study's two networks'
        with contextlib.suppress(CheckpointError):
            state = read_checkpoint(os.path.join(folder, part))
            if state is not None:
                epochs = state["epochs"]
                kept.append(f"{part or 'the model'}: {epochs} epoch{'s' * (epochs != 1)}")
    if not kept:
        return f"no epoch was completed: {folder} holds no checkpoint yet"
    return (f"the checkpoint in {folder} keeps {', '.join(kept)}; run the same command "
            "again to resume")


def _add_cache(parser):
    parser.add_argument("--no-cache", dest="cache", action="store_false",
                        help="parse --data afresh, without reading or writing the parsed-array "
                             "cache under the data home ($FER_SKLEARN_DATA)")


def _add_architecture(parser, *, default_filters=None, default_blocks=None):
    parser.add_argument("--n-filters", type=_positive_int, default=default_filters,
                        help="filters of the CNN's first block")
    parser.add_argument("--n-blocks", type=_positive_int, default=default_blocks,
                        help="conv blocks of the CNN")


def build_parser():
    """The ``fer-sklearn`` argument parser, with one subparser per command.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    parser = _Parser(prog=PROG, description="Facial expression recognition with scikit-learn "
                     "estimators: a CNN vs DNN study with interpretation, and commands to "
                     "train, evaluate and use models.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)

    study = commands.add_parser(
        "study", help="train a CNN and a parameter-matched DNN, interpret them, write a report",
        description="Train a CNN and a DNN of the same parameter count, compare them, "
        "interpret the CNN (confusions, saliency, filters, activations) and write "
        "report.html, report.md, results.json and the figures to --out.")
    study.add_argument("--data", help="FER2013 CSV (.csv/.gz/.zip) or image folder; "
                       "default: built-in synthetic faces")
    study.add_argument("--ferplus", help="FER+ votes (fer2013new.csv) to relabel --data")
    study.add_argument("--out", default="fer-study", help="output folder (default: %(default)s)")
    full, quick = _PRESETS["synthetic", False], _PRESETS["synthetic", True]
    study.add_argument("--epochs", type=_positive_int,
                       help=f"training epochs (default: {full['epochs']} on synthetic faces, "
                            f"{quick['epochs']} with --quick, "
                            f"{_PRESETS['file', False]['epochs']} with --data)")
    study.add_argument("--quick", action="store_true",
                       help="small preset, a smoke test of the whole pipeline (synthetic faces: "
                            f"{quick['n_samples']:,} faces, {quick['epochs']} epochs)")
    study.add_argument("--force", action="store_true",
                       help="replace an earlier study's --out folder (only a folder "
                            "fer-sklearn wrote, holding nothing else)")
    study.add_argument("--n-samples", type=_n_samples,
                       help=f"synthetic faces to draw (default: {full['n_samples']}, "
                            f"{quick['n_samples']} with --quick)")
    _add_architecture(study)
    _add_common(study)
    _add_cache(study)
    _add_checkpoint(study, "the training state of both networks (DIR/cnn, DIR/dnn)")
    study.set_defaults(handler=_study)

    train = commands.add_parser("train", help="fit a model and save it",
                                description="Fit a FERCNNClassifier or a FERDNNClassifier "
                                "(parameter-matched to the CNN of --n-filters/--n-blocks) "
                                "and save it with fer_sklearn.save.")
    train.add_argument("--model", choices=("cnn", "dnn"), default="cnn",
                       help="network type (default: %(default)s)")
    train.add_argument("--data", help="FER2013 CSV or image folder; default: synthetic faces")
    train.add_argument("--usage", default="Training",
                       choices=(*USAGES, "all"),
                       help="rows of --data to train on, if it has a Usage column "
                            "(default: %(default)s)")
    train.add_argument("--n-samples", type=_n_samples, default=3000,
                       help="synthetic faces, without --data (default: %(default)s)")
    train.add_argument("--epochs", type=_positive_int, default=10,
                       help="training epochs (default: %(default)s)")
    _add_architecture(train, default_filters=16, default_blocks=3)
    train.add_argument("--out", default="model.skops", help="model file (default: %(default)s)")
    train.add_argument("--force", action="store_true", help="replace an existing --out")
    _add_common(train)
    _add_cache(train)
    _add_checkpoint(train, "the training state")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate", help="score a saved model on labelled data",
                                   description="Print accuracy, per-class report and "
                                   "confusion matrix of a saved model on labelled faces.")
    evaluate.add_argument("model", help="model file written by 'fer-sklearn train' or "
                          "fer_sklearn.save")
    evaluate.add_argument("--data", help="FER2013 CSV or image folder; default: synthetic "
                          "faces (seed 1: not those 'train' draws by default)")
    evaluate.add_argument("--usage", default="PublicTest",
                          choices=(*USAGES, "all"),
                          help="rows of --data to score, if it has a Usage column "
                               "(default: %(default)s)")
    evaluate.add_argument("--n-samples", type=_n_samples, default=1000,
                          help="synthetic faces, without --data (default: %(default)s)")
    # Seed 1: by default, not the faces that 'train' (seed 0) learned from.
    evaluate.add_argument("--seed", type=int, default=1,
                          help="seed of the synthetic faces (default: %(default)s)")
    evaluate.add_argument("--json", help="also write the numbers to this JSON file")
    evaluate.add_argument("--force", action="store_true", help="replace an existing --json")
    _add_load_device(evaluate)
    _add_cache(evaluate)
    evaluate.set_defaults(handler=_evaluate)

    predict = commands.add_parser(
        "predict", help="predict the emotions of the faces in photographs, video clips or "
        "FER2013 files",
        description="Write, for each face, the predicted emotion and the probability of "
        "each class as CSV: every face found in each photograph (one row saying 'no face' "
        "where none is), every face in every analysed frame of a clip (with the frame, its "
        "time and a track id that follows the person), each row of a FER2013-style CSV, each "
        "48x48 image as one face. For clips, a summary of each track's time in each emotion "
        "is printed on stderr. Without --model, the FER2013 model shipped with fer_sklearn "
        "is used. A shipped model predicts the faces found in photographs and clips with "
        "its variant trained on the face detector's framing, where it has one. A photograph "
        "or clip that cannot be read is one warning line on stderr and one row whose 'error' "
        "column says why; everything else is still written, and the exit status is 2 only "
        "when no input could be read.")
    predict.add_argument("paths", nargs="+", metavar="INPUT",
                         help="photographs, video clips (" + ", ".join(VIDEO_SUFFIXES)
                              + ", animated GIF), folders of them (searched recursively), "
                              "glob patterns, or FER2013-style CSV files (.csv/.gz/.zip); the "
                              "older form 'predict MODEL.skops INPUT' still works")
    predict.add_argument("--model", help="a shipped model ('fer2013', 'ferplus'; fer2013 has "
                         "a variant for detected faces) or a model file written by "
                         "'fer-sklearn train', used for every input (default: fer2013)")
    predict.add_argument("--out", default="-", help="CSV file; '-' for stdout (default)")
    predict.add_argument("--annotate", metavar="PATH",
                         help="also draw the boxes, labels and probabilities: a new folder "
                              "gets a PNG per photograph and an .mp4 per clip; a file named "
                              ".mp4, .m4v, .mov or .avi gets the one clip given")
    predict.add_argument("--timeline", metavar="PNG",
                         help="clips: write each track's emotion probabilities over time")
    predict.add_argument("--summary", metavar="CSV",
                         help="clips: write each track's share of time in each emotion")
    predict.add_argument("--step", type=_positive_int, default=1,
                         help="clips: analyse every STEP-th frame (default: every frame)")
    predict.add_argument("--rate", type=_positive_float,
                         help="clips: analyse about RATE frames per second instead of --step")
    predict.add_argument("--smoothing", type=_positive_float, metavar="SECONDS",
                         help="clips: smooth each track's probabilities with an exponential "
                              "moving average of this time constant")
    predict.add_argument("--detector", choices=["auto", *DETECTORS], default="auto",
                         help="face detector for photographs and clips: 'yunet' (a CNN with "
                              "five landmarks; x86-64 Linux/Windows, Python <= 3.11), 'haar' "
                              "(OpenCV's cascades, eyes only, everywhere), 'auto' (default: "
                              "yunet where it runs)")
    predict.add_argument("--n-jobs", type=int, default=None,
                         help="photographs (threads) or clips (processes) handled in parallel; "
                              "-1 for all cores")
    predict.add_argument("--force", action="store_true",
                         help="replace existing output files, or an earlier --annotate folder")
    predict.add_argument("--quiet", action="store_true",
                         help="no progress line and no summary on stderr")
    _add_load_device(predict)
    _add_cache(predict)
    predict.set_defaults(handler=predict_command)
    return parser


# ------------------------------------------------------------------- console
_ANSI_SGR = re.compile(r"\x1b\[[0-9;]*m")


class _Console:
    """``sys.stdout`` while a command runs: colour codes only on a terminal, never a crash
    on a character the stream cannot encode.

    skorch's epoch table colours its best values; in a pipe or a file those
    codes are noise, so they are removed unless stdout is a terminal (and
    ``NO_COLOR`` is unset). Text the stream's encoding cannot hold (file names
    that were not valid UTF-8) is written as backslash escapes.
    """

    def __init__(self, stream):
        self._stream = stream
        self._colour = stream.isatty() and not os.environ.get("NO_COLOR")
        self._encoding = getattr(stream, "encoding", None) or "utf-8"

    def write(self, text):
        if not self._colour:
            text = _ANSI_SGR.sub("", text)
        text = text.encode(self._encoding, "backslashreplace").decode(self._encoding)
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def _console():
    stdout = sys.stdout
    sys.stdout = _Console(stdout)
    try:
        yield
    finally:
        sys.stdout = stdout


def _stdout_to_devnull():
    """After a broken pipe: send what is still buffered nowhere, so exit does not fail again."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _fail(message):
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _warn(message, category, filename, lineno, file=None, line=None):
    """Warnings as one line each, like errors: a user of the command has no use for our source."""
    print(f"{PROG}: warning: {' '.join(str(message).split())}", file=sys.stderr)


def main(argv=None):
    """Run ``fer-sklearn`` with ``argv`` (default: the command line).

    Parameters
    ----------
    argv : list of str, default=None

    Returns
    -------
    status : int
        0 on success; 2 after a user error or an operating-system refusal (one
        line on stderr); 130 after SIGINT (Ctrl-C), 143 after SIGTERM, with
        nothing saved and no temporary file left but a ``--checkpoint`` of the
        epochs completed, and a second line saying how to resume from it.
    """
    import matplotlib

    matplotlib.use("Agg")  # figures are files; never open a window
    args = None
    with _console(), interrupts_raise(), warnings.catch_warnings():
        warnings.showwarning = _warn
        try:
            args = build_parser().parse_args(argv)
            args.handler(args)
        except SystemExit as exc:  # --help and --version
            return exc.code or 0
        except (CLIError, OutputError, CheckpointError) as exc:
            _fail(exc)
        except BrokenPipeError:
            _stdout_to_devnull()
            _fail("the output pipe was closed before everything was written")
        except OSError as exc:  # unwritable or full folders, unreadable files
            _fail(one_line(exc))
        except (Interrupted, KeyboardInterrupt) as exc:
            signum = getattr(exc, "signum", signal.SIGINT)
            _fail(f"interrupted ({signal.Signals(signum).name})")
            if getattr(args, "checkpoint", None):
                print(f"{PROG}: {_resume_hint(args.checkpoint)}", file=sys.stderr)
            return 128 + signum
        else:
            return 0
    return 2
