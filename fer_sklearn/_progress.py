"""One progress line on a terminal: done, rate, time left."""

import math
import sys
import time


class ProgressLine:
    """``label: 120/750 frames, 31.2 frames/s, 20 s left``, redrawn in place at most 4 times a second.

    Written only when ``enabled`` (the callers pass a verbosity, the command
    line ``stderr.isatty()``), so pipes and CI logs stay clean.
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

    def _text(self, now):
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed
        text = f"{self.label}: {self.done:,}"
        if self.total:
            text += f"/{self.total:,}"
        text += f" {self.unit}, {rate:.1f} {self.unit}/s"
        if self.total and rate > 0 and self.done < self.total:
            text += f", {(self.total - self.done) / rate:.0f} s left"
        return text

    def close(self):
        if self.enabled:
            self.stream.write("\r" + self._text(time.perf_counter()) + "\x1b[K\n")
            self.stream.flush()
