"""The ``fer-sklearn`` command line: ``study``, ``train``, ``evaluate`` and ``predict``.

Run ``fer-sklearn --help`` (or ``python -m fer_sklearn --help``); the user
guide's study page describes the study and its report.
"""

from ._main import main

__all__ = ["main"]
