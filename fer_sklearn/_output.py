"""The one writer for everything fer_sklearn puts on disk.

Every file the library or the ``fer-sklearn`` command writes -- a saved
model, the dataset cache, a predictions CSV, a study folder -- goes through
this module, which gives three guarantees:

- **Nothing half-written.** Content is written under a hidden temporary name
  beside its destination (``.NAME.<random>.tmp``) and renamed into place once
  complete. Any exception, ``KeyboardInterrupt`` and the CLI's signal
  exception included, removes the temporary file or folder.
- **Nothing of the user's replaced by accident.** :func:`check_output_file`
  and :func:`check_output_folder` run before any work, so that a long job
  fails at once rather than at its end. A file is replaced only when asked
  (``force``); a folder only when an earlier run of ours wrote it (its
  :data:`MARKER` lists what we wrote) and it holds nothing else. No output may
  be, or contain, one of the job's inputs, the current folder or the home
  folder.
- **No torn replacement.** The renames that swap an old output for a new one
  run with SIGINT and SIGTERM held back (:func:`deferred_interrupts`), so an
  interrupt lands before or after the swap, never between its two renames.
"""

import contextlib
import json
import os
import shutil
import signal
import uuid

# The manifest that marks a folder as written by fer_sklearn, listing its files.
MARKER = ".fer-sklearn-output.json"
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class OutputError(ValueError):
    """An output path that may not be written: it exists, is an input, or is not ours."""


@contextlib.contextmanager
def deferred_interrupts():
    """Hold SIGINT and SIGTERM back for the duration of the block, then deliver them.

    For the few system calls that must happen together (two renames). Where
    signals cannot be masked (Windows, or a thread other than the main one)
    the block runs unprotected.
    """
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    except (AttributeError, ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _temp_name(path):
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}.{uuid.uuid4().hex[:12]}.tmp")


@contextlib.contextmanager
def atomic_path(path):
    """A temporary name beside ``path`` to write to; moved to ``path`` on success.

    For writers that take a file name rather than a file object (OpenCV's
    ``VideoWriter``). A crash, error or interrupt inside the block removes
    whatever was written under the temporary name, and an existing file at
    ``path`` is replaced only by a complete one.

    Parameters
    ----------
    path : str or path-like
        The final destination. Its folder must exist.

    Yields
    ------
    temp : str
        Where to write; a hidden ``.NAME.<random>.tmp<suffix>`` file beside
        ``path``, keeping its suffix, since some writers choose the format by it.

    Raises
    ------
    OSError
        When the folder is missing, unwritable or full; nothing is left behind.
    """
    path = os.fspath(path)
    temp = _temp_name(path) + os.path.splitext(path)[1]
    try:
        yield temp
        os.replace(temp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):  # it may never have been created
            os.remove(temp)
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename in (None, temp):
            # Name the file the user asked for (a failed write names none).
            raise type(exc)(exc.errno, exc.strerror, path) from None
        raise


@contextlib.contextmanager
def atomic_open(path):
    """Open a temporary file next to ``path`` for writing; move it to ``path`` on success.

    :func:`atomic_path` with the file opened, flushed and synced to disk
    before the rename.

    Parameters
    ----------
    path : str or path-like
        The final destination. Its folder must exist.

    Yields
    ------
    file : binary file object

    Raises
    ------
    OSError
        When the folder is missing, unwritable or full; nothing is left behind.
    """
    with atomic_path(path) as temp, open(temp, "xb") as file:
        yield file
        file.flush()
        os.fsync(file.fileno())


# ------------------------------------------------------------------ checks
def _real(path):
    return os.path.realpath(os.path.abspath(os.fspath(path)))


def _is_within(path, folder):
    """Whether ``path`` is ``folder`` or lies inside it (both already real paths)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _check_not_input(path, inputs, what, *, folder=False):
    """Refuse an output that is an input or holds one; a ``folder`` also inside an input folder.

    A file written into an input folder replaces nothing that is read (the
    expanded inputs are among ``inputs``); a folder there would be read as
    input by the next run.
    """
    real = _real(path)
    for source in inputs:
        if source is None:
            continue
        source_real = _real(source)
        if _is_within(source_real, real):
            raise OutputError(f"{path}: {what} would replace the input {source}; "
                              "choose another output")
        if folder and _is_within(real, source_real):
            raise OutputError(f"{path} lies inside the input folder {source}; "
                              "choose an output folder outside it")


def check_output_file(path, *, force=False, inputs=()):
    """Check, before any work, that ``path`` may be written as an output file.

    Parameters
    ----------
    path : str or path-like
    force : bool, default=False
        Replace an existing file.
    inputs : iterable of str or path-like
        Files and folders the job reads; an output may not be one of them.

    Raises
    ------
    OutputError
        If ``path`` is a folder or an input, exists and ``force`` is False,
        or its folder does not exist.
    """
    path = os.fspath(path)
    _check_not_input(path, inputs, "writing it")
    if os.path.isdir(path):
        raise OutputError(f"{path} is a folder; give a file name")
    if os.path.lexists(path) and not force:
        raise OutputError(f"{path} exists; pass --force to replace it")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise OutputError(f"{path}: {parent} is not an existing folder")


def _manifest(folder):
    """The file list of our marker in ``folder``, or None when it has no valid marker."""
    try:
        with open(os.path.join(folder, MARKER), encoding="utf-8") as file:
            manifest = json.load(file)
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return set(files) if isinstance(files, list) else None


def _contents(folder):
    """Every file and folder under ``folder``, as relative paths (links not followed)."""
    found = set()
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            found.add(os.path.relpath(os.path.join(root, name), folder))
    return found


def _not_ours(folder):
    """What in ``folder`` an earlier run of ours did not write (None: no marker at all)."""
    files = _manifest(folder)
    if files is None:
        return None
    written = {MARKER}
    for name in files:
        while name:  # a file, and the folders above it
            written.add(name)
            name = os.path.dirname(name)
    return sorted(_contents(folder) - written)


def check_output_folder(path, *, force=False, inputs=()):
    """Check, before any work, that the folder ``path`` may be (re)placed by an output.

    A missing or empty folder may always be written. A non-empty one is
    replaced only with ``force``, and only when an earlier run of
    fer_sklearn wrote it (it holds :data:`MARKER`) and nothing else has been
    added since. The current folder (or one above it), the home folder, the
    file-system root and any folder holding an input are always refused.

    Parameters
    ----------
    path : str or path-like
    force : bool, default=False
    inputs : iterable of str or path-like
        Files and folders the job reads.

    Returns
    -------
    path : str
        The absolute path.

    Raises
    ------
    OutputError
        Naming the folder and the reason.
    """
    path = os.path.abspath(os.fspath(path))
    real = _real(path)
    if _is_within(_real(os.getcwd()), real):
        raise OutputError(f"{path} is the current folder or holds it; "
                          "choose a new folder for the output")
    if real in (_real(os.path.expanduser("~")), _real(os.sep)):
        raise OutputError(f"{path} is the home or root folder; choose a new folder for the output")
    _check_not_input(path, inputs, "replacing the folder", folder=True)
    if not os.path.lexists(path):
        return path
    if os.path.islink(path) or not os.path.isdir(path):
        raise OutputError(f"{path} exists and is not a folder")
    if not os.listdir(path):
        return path
    if not force:
        raise OutputError(f"{path} exists and is not empty; pass --force to replace an "
                          "earlier output of fer-sklearn")
    extra = _not_ours(path)
    if extra is None:
        raise OutputError(f"{path} was not written by fer-sklearn (it has no {MARKER}); "
                          "--force only replaces fer-sklearn's own output folders")
    if extra:
        shown = ", ".join(extra[:3]) + (f" and {len(extra) - 3} more" if len(extra) > 3 else "")
        raise OutputError(f"{path} holds files fer-sklearn did not write ({shown}); "
                          "move them or choose another output folder")
    return path


@contextlib.contextmanager
def output_folder(path, *, force=False, inputs=()):
    """Build an output folder under a temporary name, then publish it at ``path``.

    The block writes into the yielded temporary folder (created beside
    ``path``). On success the folder gets a :data:`MARKER` listing its files
    and replaces ``path``; an earlier output of ours there is removed, after
    checking again (with :func:`check_output_folder`) that it holds nothing
    else. On any exception or interrupt the temporary folder is removed and
    ``path`` is untouched.

    Parameters
    ----------
    path : str or path-like
    force : bool, default=False
    inputs : iterable of str or path-like

    Yields
    ------
    folder : str
        The temporary folder to write into.

    Raises
    ------
    OutputError
        As :func:`check_output_folder`.
    OSError
        When the parent folder cannot be created or written.
    """
    path = check_output_folder(path, force=force, inputs=inputs)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temp = _temp_name(path)
    os.mkdir(temp)
    try:
        yield temp
        files = sorted(os.path.relpath(os.path.join(root, name), temp)
                       for root, _, names in os.walk(temp) for name in names)
        with open(os.path.join(temp, MARKER), "w", encoding="utf-8") as file:
            json.dump({"written_by": "fer-sklearn", "files": files}, file, indent=1)
        check_output_folder(path, force=force, inputs=inputs)  # anything added meanwhile?
        _publish(temp, path)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _publish(temp, path):
    """Swap ``temp`` in at ``path``; an old folder there (ours, checked) is removed."""
    old = _temp_name(path) if os.path.exists(path) else None
    try:
        with deferred_interrupts():
            if old is not None:
                os.rename(path, old)
            try:
                os.rename(temp, path)
            except BaseException:
                if old is not None:
                    os.rename(old, path)
                raise
    finally:
        # Also when a signal held back during the swap is delivered on leaving it.
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
