"""Streaming memory bandwidth of this machine, measured with NumPy on buffers larger than the
last-level cache split among threads (NumPy releases the GIL in these loops).

``copy`` counts the bytes read plus the bytes written, so the time a memory-bound kernel cannot
beat is ``(bytes in + bytes out) / copy``.  ``fresh_write`` writes into new memory (a quarter of
the buffer size), page faults included, as a kernel returning a new array does.

:func:`measure` gives the best of several passes at the start of the suite; a :class:`Meter`
also times single passes of copy and fresh writes in the rounds of each benchmark, since on a
shared machine the bandwidth left to this VM moves by the minute with its neighbours' load.
"""

from __future__ import annotations

import threading
import time

import numpy as np


def _parallel(fn, parts):
    threads = [threading.Thread(target=fn, args=(p,)) for p in parts]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


class Meter:
    """Two buffers of ``nbytes`` (touched: no page faults in the timings) and single timed
    passes over them with ``n_threads`` threads; each method returns bytes per second."""

    def __init__(self, n_threads=2, nbytes=1 << 30):
        self.n_threads = int(n_threads)
        self.nbytes = int(nbytes) // 8 * 8
        n = self.nbytes // 8
        self._a = np.ones(n, dtype=np.uint64)
        self._b = np.zeros(n, dtype=np.uint64)
        bounds = np.linspace(0, n, self.n_threads + 1).astype(int)
        self._idx = list(zip(bounds[:-1], bounds[1:], strict=True))
        self._sink = np.empty(self.n_threads, dtype=np.uint64)

    def read(self):
        def part(k):
            lo, hi = self._idx[k]
            self._sink[k] = np.bitwise_or.reduce(self._a[lo:hi])

        return self.nbytes / _parallel(part, range(self.n_threads))

    def write(self):
        def part(k):
            lo, hi = self._idx[k]
            self._b[lo:hi].fill(k)

        return self.nbytes / _parallel(part, range(self.n_threads))

    def copy(self):
        """Bytes read plus bytes written, per second."""

        def part(k):
            lo, hi = self._idx[k]
            np.copyto(self._b[lo:hi], self._a[lo:hi])

        return 2 * self.nbytes / _parallel(part, range(self.n_threads))

    def fresh_write(self, n_threads=None):
        """Writes into a new array of a quarter of ``nbytes``, page faults included."""
        fresh = self.nbytes // 4
        return fresh / _fresh_write(fresh, self.n_threads if n_threads is None else n_threads)


def measure(n_threads=2, nbytes=1 << 30, repeat=5):
    """``{"read", "write", "copy", "fresh_write"}`` in bytes per second with ``n_threads``
    threads, and ``"fresh_write_1_thread"``: the best of ``repeat`` passes each."""
    meter = Meter(n_threads, nbytes)
    out = {
        name: max(getattr(meter, name)() for _ in range(repeat))
        for name in ("read", "write", "copy")
    }
    del meter  # its buffers are freed before the fresh writes
    fresh = nbytes // 4
    out["fresh_write"] = fresh / min(_fresh_write(fresh, n_threads) for _ in range(repeat))
    out["fresh_write_1_thread"] = fresh / min(_fresh_write(fresh, 1) for _ in range(repeat))
    return out


def _fresh_write(nbytes, n_threads):
    """Seconds to write a new array of ``nbytes``, split among threads: the page faults that
    every fresh output pays (the kernel zeroes each page first).  Their speed-up from 1 to 2
    threads bounds that of any kernel whose time they dominate."""
    buf = np.empty(nbytes // 8, dtype=np.uint64)
    bounds = np.linspace(0, buf.size, n_threads + 1).astype(int)
    parts = [buf[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    return _parallel(lambda part: part.fill(1), parts)
