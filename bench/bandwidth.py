"""Streaming memory bandwidth of this machine, measured with NumPy on 1 GiB buffers split among
threads (NumPy releases the GIL in these loops), best of several runs.

``copy`` counts the bytes read plus the bytes written, so the time a memory-bound kernel cannot
beat is ``(bytes in + bytes out) / copy``.  ``fresh_write`` writes into new memory (256 MiB
buffers), page faults included, as a kernel returning a new array does.
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


def measure(n_threads=2, nbytes=1 << 30, repeat=5):
    """``{"read", "write", "copy", "fresh_write"}`` in bytes per second with ``n_threads``
    threads, and ``"fresh_write_1_thread"``."""
    out = _steady(n_threads, nbytes, repeat)  # its buffers are freed on return
    fresh = nbytes // 4
    out["fresh_write"] = fresh / min(_fresh_write(fresh, n_threads) for _ in range(repeat))
    out["fresh_write_1_thread"] = fresh / min(_fresh_write(fresh, 1) for _ in range(repeat))
    return out


def _steady(n_threads, nbytes, repeat):
    n = nbytes // 8
    a = np.ones(n, dtype=np.uint64)
    b = np.zeros(n, dtype=np.uint64)  # touched: no page faults in the timings
    bounds = np.linspace(0, n, n_threads + 1).astype(int)
    idx = list(zip(bounds[:-1], bounds[1:], strict=True))
    sink = np.empty(n_threads, dtype=np.uint64)

    def read(k):
        lo, hi = idx[k]
        sink[k] = np.bitwise_or.reduce(a[lo:hi])

    def write(k):
        lo, hi = idx[k]
        b[lo:hi].fill(k)

    def copy(k):
        lo, hi = idx[k]
        np.copyto(b[lo:hi], a[lo:hi])

    out = {}
    for name, fn, moved in (
        ("read", read, nbytes),
        ("write", write, nbytes),
        ("copy", copy, 2 * nbytes),
    ):
        best = min(_parallel(fn, range(n_threads)) for _ in range(repeat))
        out[name] = moved / best
    return out


def _fresh_write(nbytes, n_threads):
    """Seconds to write a new array of ``nbytes``, split among threads: the page faults that
    every fresh output pays (the kernel zeroes each page first).  Their speed-up from 1 to 2
    threads bounds that of any kernel whose time they dominate."""
    buf = np.empty(nbytes // 8, dtype=np.uint64)
    bounds = np.linspace(0, buf.size, n_threads + 1).astype(int)
    parts = [buf[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    return _parallel(lambda part: part.fill(1), parts)
