"""Streaming memory bandwidth of this machine, measured with NumPy on 1 GiB buffers split among
threads (NumPy releases the GIL in these loops), best of several runs.

``copy`` counts the bytes read plus the bytes written, so the time a memory-bound kernel cannot
beat is ``(bytes in + bytes out) / copy``.
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
    """``{"read", "write", "copy"}`` in bytes per second with ``n_threads`` threads."""
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
