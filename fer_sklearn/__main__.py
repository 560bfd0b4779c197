"""``python -m fer_sklearn``: the ``fer-sklearn`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
