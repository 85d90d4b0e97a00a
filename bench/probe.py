"""The machine's own 1 -> n CPU speed-up, measured beside glassbox's.

On a shared virtual machine a second vCPU is not always a second core's worth of work: the host
may run another guest's thread on the same physical core (its SMT sibling) or on the vCPU itself,
and that changes by the second.  Here a pure integer loop, the same total work on one CPU and
then split over two, scaled 1.44x-2.24x from one pair of runs to the next.  A kernel's speed-up
measured at such a moment says as much about the host as about the kernel.

:class:`ComputeProbe` times such a loop in worker processes (separate interpreters, so no lock is
shared and no library's thread pool is involved) whenever it is asked, so that the suite can time
it in the same rounds as glassbox's 1- and 2-thread rows and report both speed-ups side by side.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import time


def _spin(iterations):
    """A pure integer loop in the interpreter: no memory traffic beyond the first-level cache."""
    x = 1
    for _ in range(iterations):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
    return x


def _worker(conn):
    while True:
        iterations = conn.recv()
        if iterations is None:
            return
        _spin(iterations)
        conn.send(None)


class ComputeProbe:
    """``n_workers`` worker processes that run :func:`_spin` on request.

    ``time(1)`` runs the whole loop in one worker, ``time(n)`` an n-th of it in each of n workers
    at the same time; both return wall-clock seconds.  Use as a context manager (the workers are
    stopped on exit).
    """

    def __init__(self, n_workers=2, iterations=300_000):
        self.n_workers = int(n_workers)
        self.iterations = int(iterations)
        if self.n_workers < 1:
            raise ValueError(f"n_workers must be positive, got {n_workers}")
        if self.iterations < self.n_workers:
            raise ValueError(f"iterations must be at least n_workers, got {iterations}")
        ctx = mp.get_context("spawn")  # no fork of a process that runs OpenMP and torch threads
        self._conns = []
        self._procs = []
        for _ in range(self.n_workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child,), daemon=True)
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)
        for n in (1, self.n_workers):  # warm-up: every worker started and in its loop
            self.time(n)

    def time(self, n_cpus):
        """Seconds for the loop on ``n_cpus`` workers (1 to ``n_workers``), the work split
        evenly."""
        if not 1 <= n_cpus <= self.n_workers:
            raise ValueError(f"n_cpus must be in [1, {self.n_workers}], got {n_cpus}")
        share = self.iterations // n_cpus
        t0 = time.perf_counter()
        for conn in self._conns[:n_cpus]:
            conn.send(share)
        for conn in self._conns[:n_cpus]:
            conn.recv()
        return time.perf_counter() - t0

    def close(self):
        for conn, proc in zip(self._conns, self._procs, strict=True):
            with contextlib.suppress(OSError):  # the worker may be gone already
                conn.send(None)
            proc.join(timeout=5)
            if proc.is_alive():  # pragma: no cover
                proc.terminate()
            conn.close()
        self._conns, self._procs = [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
