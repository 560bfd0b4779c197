"""Progress on a terminal: one line redrawn in place (done, rate, time left), and the
skorch epoch log that keeps such a line under its table while a network trains."""

import math
import sys
import time

from skorch.callbacks import PrintLog


def _duration(seconds):
    """``"45 s"``, ``"12 min 05 s"``, ``"1 h 32 min"``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class ProgressLine:
    """``label: 120/750 frames, 31.2 frames/s, 20 s left``, redrawn in place at most 4 times a second.

    Written only when ``enabled`` (the callers pass a verbosity, the command
    line ``stderr.isatty()``), so pipes and CI logs stay clean. Units slower
    than one a second show as seconds per unit (``112 s/epoch``).
    """

    def __init__(self, label, total=None, *, unit="frames", enabled=True, stream=None):
        self.label, self.total, self.unit = label, total, unit
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.done = 0
        self._start = time.perf_counter()
        self._shown = -math.inf

    def update(self, n=1):
        self.done += n
        now = time.perf_counter()
        if self.enabled and now - self._shown >= 0.25:
            self._shown = now
            self.stream.write("\r" + self._text(now) + "\x1b[K")
            self.stream.flush()

    def clear(self):
        """Erase the line, so that other output can take its place."""
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = -math.inf  # redraw at the next update

    def _text(self, now):
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed
        text = f"{self.label}: {self.done:,}"
        if self.total:
            text += f"/{self.total:,}"
        text += f" {self.unit}"
        if rate >= 1:
            text += f", {rate:.1f} {self.unit}/s"
        elif self.done:
            text += f", {_duration(1 / rate)}/{self.unit.rstrip('s')}"
        if self.total and rate > 0 and self.done < self.total:
            text += f", {_duration((self.total - self.done) / rate)} left"
        return text

    def close(self):
        if self.enabled:
            self.stream.write("\r" + self._text(time.perf_counter()) + "\x1b[K\n")
            self.stream.flush()


class EpochLogWithTimeLeft(PrintLog):
    """skorch's per-epoch table, with ``fit: 3/60 epochs, 1 min 52 s/epoch, 1 h 49 min left``
    kept on the line under it on a terminal.

    It replaces the net's ``print_log`` callback; the progress line goes to
    stderr and is erased before each new row of the table, so the two never
    mix. Its time left assumes the remaining epochs take as long as the
    finished ones (early stopping may end the fit sooner).
    """

    def __init__(self, label="fit", **kwargs):
        super().__init__(**kwargs)
        self.label = label

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self.progress_ = ProgressLine(self.label, net.max_epochs, unit="epochs")

    def on_epoch_end(self, net, **kwargs):
        self.progress_.clear()
        super().on_epoch_end(net, **kwargs)
        self.progress_.update()

    def on_train_end(self, net, X=None, y=None, **kwargs):
        self.progress_.clear()
        super().on_train_end(net, X=X, y=y, **kwargs)


def shows_time_left(verbose):
    """Whether a fit at this verbosity draws the time-left line: on a terminal only."""
    return bool(verbose) and sys.stderr.isatty()
