"""How an error is told in one line: the command line's messages and the tables' error column."""


def one_line(exc):
    """The message of ``exc`` on one line (``path: reason`` for file-system errors)."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return " ".join(str(exc).split()) or type(exc).__name__
