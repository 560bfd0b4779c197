"""Resumable fits: everything a fit needs to go on, in one file, after every epoch.

``FERCNNClassifier(checkpoint="DIR")`` (and the DNN's) adds :class:`FitCheckpoint`
as the last callback of its skorch net. After every completed epoch it
writes ``DIR/checkpoint.pt``: the module's weights and buffers, the
optimizer's state, the fitted state of every callback (learning-rate
schedules, the augmentations' random streams, early stopping's counters,
scoring bests), torch's own random state (shuffling, dropout) and the
history, with a fingerprint of the fit's data and parameters. A later ``fit``
with the same data, parameters and folder restores all of it before its
first epoch and trains only the epochs left, so on the same machine,
precision and thread count it ends with the weights an uninterrupted fit
would have.

skorch's ``Checkpoint`` and ``LoadInitState`` keep the module, optimizer,
criterion and history, each in a file of its own. They leave out the
callbacks' random streams and schedule states and torch's random state, so
a resumed fit would shuffle and augment differently; and an interruption
between their files could pair one epoch's weights with another epoch's
optimizer. Here one file holds it all, written by
:func:`fer_sklearn._output.atomic_open`: an interruption while it is written
leaves the previous epoch's checkpoint.
"""

import glob
import hashlib
import io
import os
import pickle
import re
import zipfile

import numpy as np
import torch
from skorch.callbacks import Callback, EarlyStopping, PrintLog, ProgressBar

from ._output import atomic_open
from ._progress import TimeLeft
from .exceptions import CheckpointError

CHECKPOINT_FILE = "checkpoint.pt"
# Bumped when the file's layout changes; older layouts are refused by name.
_FORMAT = 1
_KEYS = {"format", "fingerprint", "epochs", "finished", "module", "optimizer", "callbacks",
         "history", "torch_rng", "cuda_rng"}
# Callbacks that only show progress: nothing of theirs changes the weights.
_DISPLAY = (PrintLog, ProgressBar, TimeLeft)
# Parameters that change where or how visibly a fit runs, not what it computes:
# a fit may resume in another folder, more or less verbosely, on another device.
_NOT_RECIPE = ("checkpoint", "verbose", "device")
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _recipe(estimator):
    """An estimator's or callback's parameters, less those of ``_NOT_RECIPE``."""
    return {name: value for name, value in estimator.get_params(deep=False).items()
            if name not in _NOT_RECIPE}


def _describe(value):
    """A stable text for a parameter value: no memory addresses, the same in every process.

    Estimators and callbacks are described by their parameters (less those of
    ``_NOT_RECIPE``, also in a nested estimator such as ``match_params``),
    functions and classes by their qualified names.
    """
    if isinstance(value, (list, tuple)):
        return f"[{', '.join(_describe(item) for item in value)}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key!r}: {_describe(item)}"
                               for key, item in sorted(value.items(), key=str)) + "}"
    if hasattr(value, "get_params") and not isinstance(value, type):
        return f"{type(value).__qualname__}({_describe(_recipe(value))[1:-1]})"
    if isinstance(value, np.random.RandomState):
        return "RandomState"  # its draw, the fit's seed, is compared instead
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    return _ADDRESS.sub("", repr(value))


def data_digest(arrays):
    """SHA-256 of arrays' shapes, dtypes and bytes (None entries included as such)."""
    digest = hashlib.sha256()
    for array in arrays:
        if array is None:
            digest.update(b"none")
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()


def fingerprint(estimator, data_sha256, n_samples, seed, start):
    """What a checkpoint must agree with to be resumed.

    Parameters
    ----------
    estimator : the classifier being fitted
        Its parameters count, less ``checkpoint``, ``verbose`` and ``device``:
        a fit may resume in another folder, more or less verbosely, or on
        another device.
    data_sha256 : str
        :func:`data_digest` of the training data as ``fit`` prepared it.
    n_samples : int
    seed : int
        The seed the fit drew from ``random_state``.
    start : str or None
        Digest of the weights a warm start begins from; None for a fresh network.
    """
    return {"estimator": type(estimator).__qualname__,
            "params": {name: _describe(value)
                       for name, value in sorted(_recipe(estimator).items())},
            "seed": int(seed), "data_sha256": data_sha256, "n_samples": int(n_samples),
            "start": start}


def module_digest(module):
    """SHA-256 of a module's state (weights and buffers)."""
    return data_digest(value.detach().cpu().numpy() for value in module.state_dict().values())


def checkpoint_path(folder):
    return os.path.join(os.fspath(folder), CHECKPOINT_FILE)


def read_checkpoint(folder):
    """The checkpoint kept in ``folder``, or None where it holds none.

    Returns
    -------
    state : dict or None
        With ``"fingerprint"``, ``"epochs"`` (completed) and ``"finished"``
        among its keys.

    Raises
    ------
    CheckpointError
        If ``folder`` is a file, or its checkpoint file is damaged, truncated,
        of another layout or not written by fer_sklearn: nothing of it is used.
    """
    folder = os.fspath(folder)
    if not folder:
        raise CheckpointError("checkpoint must name a folder; got an empty path")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise CheckpointError(f"checkpoint must name a folder; {folder!r} is a file")
    path = checkpoint_path(folder)
    if not os.path.exists(path):
        return None
    # Read first: a file that cannot be read (permissions, a network file
    # system) raises its OSError here; it is not damaged, and must not be
    # removed on our advice.
    with open(path, "rb") as file:
        content = io.BytesIO(file.read())
    try:
        # Not weights_only: the random streams are NumPy objects. The file is
        # one a fit of this user's wrote; a damaged one fails in the unpickler
        # or the zip reader.
        state = torch.load(content, map_location="cpu", weights_only=False)
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, RuntimeError, OSError,
            AttributeError, ImportError, ValueError, TypeError, KeyError) as exc:
        raise CheckpointError(f"checkpoint {path!r} is damaged or not written by fer_sklearn "
                         f"({type(exc).__name__}: {exc}); remove it to start afresh") from None
    if not isinstance(state, dict) or set(state) != _KEYS:
        raise CheckpointError(f"checkpoint {path!r} is damaged or not written by fer_sklearn "
                         "(its contents are not those of a checkpoint)")
    if state["format"] != _FORMAT:
        raise CheckpointError(f"checkpoint {path!r} has layout {state['format']!r}; this version "
                         f"of fer_sklearn reads layout {_FORMAT}")
    return state


def check_fingerprint(saved, current, folder):
    """Raise a CheckpointError saying what differs between a checkpoint's fit and this one."""
    differences = []
    if saved["estimator"] != current["estimator"]:
        differences.append(f"estimator {saved['estimator']} (this fit: {current['estimator']})")
    for name in sorted(set(saved["params"]) | set(current["params"])):
        old, new = saved["params"].get(name), current["params"].get(name)
        if old != new:
            differences.append(f"{name}={old} (this fit: {new})")
    if saved["seed"] != current["seed"]:
        differences.append(f"the seed drawn from random_state, {saved['seed']} "
                           f"(this fit: {current['seed']})")
    if saved["data_sha256"] != current["data_sha256"]:
        differences.append(f"the training data: {saved['n_samples']} samples with SHA-256 "
                           f"{saved['data_sha256'][:12]}... (this fit: {current['n_samples']} "
                           f"samples, {current['data_sha256'][:12]}...)")
    if saved["start"] != current["start"]:
        differences.append("the weights training starts from (warm_start)")
    if differences:
        raise CheckpointError(
            f"checkpoint {checkpoint_path(folder)!r} belongs to another fit, which had "
            + "; ".join(differences)
            + ". Fit with the same data and parameters to resume it, or give another folder."
        )


def stopped_early(net):
    """Whether an :class:`~skorch.callbacks.EarlyStopping` of ``net`` ended its training."""
    return any(isinstance(callback, EarlyStopping) and callback.misses_ >= callback.patience
               for _, callback in net.callbacks_)


def completed_epochs(net):
    """The history rows of epochs that ran to their end.

    skorch opens an epoch's row when the epoch begins; an interrupt in the
    middle leaves a row without the ``"dur"`` that EpochTimer records at its end.
    """
    return [epoch for epoch in net.history if "dur" in epoch]


def _stateful(value):
    """Whether ``value`` is an object (not a class) with a state_dict, as schedulers are."""
    return (not isinstance(value, type) and hasattr(value, "state_dict")
            and hasattr(value, "load_state_dict"))


def _callback_state(callback):
    """A callback's fitted state: its public attributes ending in ``_`` (skorch's convention).

    An attribute that cannot be pickled (an open stream, a lock) is left out:
    such things show or log, and a resumed fit makes its own.
    """
    state = {}
    for name, value in vars(callback).items():
        if not name.endswith("_") or name.startswith("_"):
            continue
        if isinstance(value, torch.Generator):
            value = value.get_state()
        elif _stateful(value):
            value = value.state_dict()  # learning-rate schedulers: they hold the optimizer
        else:
            value = _detached(value)
            try:
                pickle.dumps(value)
            except Exception:  # noqa: BLE001 -- whatever pickling refuses is left out
                continue
        state[name] = value
    return state


def _detached(value):
    """``value`` with its tensors detached from autograd (scoring caches hold predictions)."""
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, (list, tuple)):
        return type(value)(_detached(item) for item in value)
    if isinstance(value, dict):
        return {key: _detached(item) for key, item in value.items()}
    return value


def _restore_callback(callback, state):
    for name, value in state.items():
        current = getattr(callback, name, None)
        if isinstance(current, torch.Generator):
            current.set_state(value)
        elif _stateful(current):
            current.load_state_dict(value)
        else:
            setattr(callback, name, value)


class FitCheckpoint(Callback):
    """Keep a fit's whole state in ``folder`` after every epoch; restore it at the start.

    The last callback of the net, so that it sees every other callback's
    state at the end of an epoch.

    Parameters
    ----------
    folder : str or path-like
        Created if missing; only ``checkpoint.pt`` (and its temporary file
        while it is written) is written there.
    fingerprint : dict
        :func:`fingerprint` of this fit, written with each checkpoint.
    resume : dict or None
        A checkpoint from :func:`read_checkpoint` to restore at
        ``on_train_begin``, after the other callbacks have initialised.
    """

    def __init__(self, folder, fingerprint, resume=None):
        self.folder = folder
        self.fingerprint = fingerprint
        self.resume = resume

    def on_train_begin(self, net, **kwargs):
        os.makedirs(self.folder, exist_ok=True)
        # A process killed while writing leaves its temporary file (atomic_path's name).
        for leftover in glob.glob(os.path.join(glob.escape(os.fspath(self.folder)),
                                               f".{CHECKPOINT_FILE}.*.tmp.pt")):
            os.remove(leftover)
        if self.resume is None:
            return
        state, self.resume = self.resume, None
        net.module_.load_state_dict(state["module"])
        net.optimizer_.load_state_dict(state["optimizer"])
        callbacks = dict(net.callbacks_)
        for name, saved in state["callbacks"].items():
            _restore_callback(callbacks[name], saved)
        net.history = state["history"]
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] is not None and torch.device(net.device).type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], net.device)

    def on_epoch_end(self, net, **kwargs):
        self._write(net, finished=False)

    def on_train_end(self, net, **kwargs):
        # The last epoch of an early stop is written here (EarlyStopping stops
        # the epoch's callbacks before this one), with the best weights it restored.
        epochs = len(completed_epochs(net))
        if epochs >= net.max_epochs or stopped_early(net):
            self._write(net, finished=True)

    def _write(self, net, finished):
        on_cuda = torch.device(net.device).type == "cuda"
        state = {
            "format": _FORMAT,
            "fingerprint": self.fingerprint,
            "epochs": len(completed_epochs(net)),
            "finished": finished,
            "module": net.module_.state_dict(),
            "optimizer": net.optimizer_.state_dict(),
            "callbacks": {name: _callback_state(callback) for name, callback in net.callbacks_
                          if callback is not self and not isinstance(callback, _DISPLAY)},
            "history": net.history,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(net.device) if on_cuda else None,
        }
        with atomic_open(checkpoint_path(self.folder)) as file:
            torch.save(state, file)
