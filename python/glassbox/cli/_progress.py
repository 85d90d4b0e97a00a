"""Progress output on stderr: a bar for work of known size, a ticking clock for the rest.

On a terminal the line is redrawn in place; otherwise (logs, CI) one line is written when a stage
ends, so logs stay short.
"""

from __future__ import annotations

import sys
import threading
import time


class Stage:
    """Context manager reporting one stage: ``with Stage("fit SVC", timings, "classifier"):``.

    Records the stage's wall time in ``timings[key]``.  With ``total`` set, call
    :meth:`advance` with the number of items done so far to draw a bar with items/s; without
    it, a clock ticks every second on a terminal (for work that reports no progress, such as
    libsvm's training).
    """

    def __init__(
        self, label, timings=None, key=None, *, total=None, unit="images", quiet=False, stream=None
    ):
        self.label, self.timings, self.key = label, timings, key
        self.total, self.unit, self.quiet = total, unit, quiet
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self._stop = threading.Event()
        self._thread = None
        self._lock = threading.Lock()

    def __enter__(self):
        self.start = time.perf_counter()
        if not self.quiet and self.tty and self.total is None:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def _tick(self):
        while not self._stop.wait(1.0):
            self._draw()

    def _line(self, final=False):
        elapsed = time.perf_counter() - self.start
        if self.total is None:
            return f"{self.label}: {'done in ' if final else ''}{elapsed:.1f} s"
        frac = self.done / self.total if self.total else 1.0
        bar = "#" * int(30 * frac) + "." * (30 - int(30 * frac))
        rate = self.done / elapsed if elapsed > 0 else 0.0
        return (
            f"{self.label}: [{bar}] {self.done:,}/{self.total:,} {self.unit} "
            f"({rate:,.0f} {self.unit}/s, {elapsed:.1f} s)"
        )

    def _draw(self):
        with self._lock:
            self.stream.write("\r" + self._line() + "\033[K")
            self.stream.flush()

    def advance(self, done):
        """Set the number of items done (with ``total``)."""
        self.done = done
        if not self.quiet and self.tty:
            self._draw()

    def __exit__(self, exc_type, exc, tb):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        elapsed = time.perf_counter() - self.start
        if self.timings is not None and self.key is not None:
            self.timings[self.key] = self.timings.get(self.key, 0.0) + elapsed
        if not self.quiet:
            with self._lock:
                end = "\r" if self.tty else ""
                status = "" if exc_type is None else f" [{exc_type.__name__}]"
                self.stream.write(
                    end + self._line(final=True) + status + ("\033[K" if self.tty else "") + "\n"
                )
                self.stream.flush()
        return False
