"""Progress on a terminal: one line redrawn in place (done, rate, time left), and the
skorch callback that keeps such a line under the epoch table while a network trains."""

import math
import sys
import time

from skorch.callbacks import Callback


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
    than one a second show as time per unit (``1 min 52 s/epoch``). The line
    goes to ``stream``, or to whatever ``sys.stderr`` is when it is drawn (so
    that an object holding the line can still be pickled). ``done`` counts
    units finished before the line began (a resumed fit's epochs): they show
    in the count, not in the rate.
    """

    def __init__(self, label, total=None, *, unit="frames", enabled=True, stream=None, done=0):
        self.label, self.total, self.unit = label, total, unit
        self.enabled = enabled
        self.stream = stream
        self.done = self._before = done
        self._start = time.perf_counter()
        self._shown = -math.inf

    def update(self, n=1, *, draw=True):
        """Count ``n`` more done; redraw unless ``draw`` is False or it was just drawn."""
        self.done += n
        now = time.perf_counter()
        if draw and now - self._shown >= 0.25:
            self.draw(now)

    def draw(self, now=None):
        if self.enabled:
            now = time.perf_counter() if now is None else now
            self._shown = now
            self._write("\r" + self._text(now) + "\x1b[K")

    def clear(self):
        """Erase the line, so that other output can take its place."""
        if self.enabled:
            self._write("\r\x1b[K")
            self._shown = -math.inf  # redraw at the next update

    def _write(self, text):
        stream = self.stream or sys.stderr
        stream.write(text)
        stream.flush()

    def _text(self, now):
        elapsed = max(now - self._start, 1e-9)
        rate = (self.done - self._before) / elapsed
        text = f"{self.label}: {self.done:,}"
        if self.total:
            text += f"/{self.total:,}"
        text += f" {self.unit}"
        if rate >= 1:
            text += f", {rate:.1f} {self.unit}/s"
        elif rate > 0:
            text += f", {_duration(1 / rate)}/{self.unit.rstrip('s')}"
        if self.total and rate > 0 and self.done < self.total:
            text += f", {_duration((self.total - self.done) / rate)} left"
        return text

    def close(self):
        if self.enabled:
            self._write("\r" + self._text(time.perf_counter()) + "\x1b[K\n")


class TimeLeft(Callback):
    """``fit: 3/60 epochs, 1 min 52 s/epoch, 1 h 49 min left`` on a terminal while a net trains.

    The line is drawn when an epoch begins (after the previous epoch's row of
    the table) and erased when it ends, before any other callback prints:
    so it must come first among the net's callbacks. Its time left assumes
    the remaining epochs take as long as the finished ones (early stopping
    may end the fit sooner).
    """

    def __init__(self, label="fit"):
        self.label = label

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.line_ = None

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        if self.line_ is None:
            # Made at the first epoch: a fit resumed from a checkpoint has its
            # history back by then, and counts those epochs as done.
            self.line_ = ProgressLine(self.label, net.max_epochs, unit="epochs",
                                      done=len(net.history) - 1)
        self.line_.draw()

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        self.line_.clear()
        self.line_.update(draw=False)


def shows_time_left(verbose):
    """Whether a fit at this verbosity draws the time-left line: on a terminal only."""
    return bool(verbose) and sys.stderr.isatty()
