"""The command line's one interrupt path.

SIGINT (Ctrl-C) and SIGTERM raise :class:`Interrupted`, which is *not* a
:class:`KeyboardInterrupt`: skorch catches ``KeyboardInterrupt`` inside
``fit`` and returns a partly trained net as if training had ended, and a
command must neither save nor publish such a model. ``Interrupted`` unwinds
through every ``try``/``except BaseException`` cleanup (the writers of
:mod:`fer_sklearn._output` remove their temporary files there) up to
:func:`fer_sklearn.cli.main`, which exits with ``128 + signal number``: 130
for SIGINT, 143 for SIGTERM, as shells report them.
"""

import contextlib
import signal


class Interrupted(BaseException):
    """Raised by the CLI's SIGINT/SIGTERM handler; ``signum`` is the signal received."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _raise(signum, frame):
    # A second Ctrl-C (users press it twice) must not cut the cleanup short:
    # from the first signal on, both are ignored until main restores them.
    for other in (signal.SIGINT, signal.SIGTERM):
        signal.signal(other, signal.SIG_IGN)
    raise Interrupted(signum)


@contextlib.contextmanager
def interrupts_raise():
    """While the block runs, SIGINT and SIGTERM raise :class:`Interrupted`.

    The previous handlers are restored afterwards, so calling
    :func:`fer_sklearn.cli.main` from Python (or from a test) leaves the
    caller's signal handling as it was. Outside the main thread, where Python
    cannot install handlers, the block runs with the handlers it has.
    """
    previous = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, _raise)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
