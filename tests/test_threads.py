"""Thread counts: scikit-learn's rules, results independent of the count, and the kernels called
from several Python threads at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import glassbox as gb
from glassbox import _core
from glassbox._validation import cpu_count, resolve_n_threads

from conftest import make_images


def test_openmp_is_enabled():
    # A build made without OpenMP on purpose sets GLASSBOX_EXPECT_OPENMP=0 to say so.
    assert _core.openmp_enabled() is (os.environ.get("GLASSBOX_EXPECT_OPENMP", "1") != "0")


def test_resolution_rules():
    cpus = cpu_count()
    assert resolve_n_threads(None) == max(1, min(_core.max_threads(), cpus))
    assert resolve_n_threads(1) == 1
    assert resolve_n_threads(3) == 3  # more than the CPUs is allowed (results do not change)
    assert resolve_n_threads(-1) == cpus
    assert resolve_n_threads(-2) == max(1, cpus - 1)
    assert resolve_n_threads(-10_000) == 1
    assert resolve_n_threads(np.int64(2)) == 2
    with pytest.raises(ValueError):
        resolve_n_threads(0)


@pytest.mark.parametrize("omp", ["1", "2"])
def test_default_honours_omp_num_threads(omp):
    env = dict(os.environ, OMP_NUM_THREADS=omp)
    code = "from glassbox._validation import resolve_n_threads; print(resolve_n_threads(None))"
    got = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    expected = min(int(omp), cpu_count()) if _core.openmp_enabled() else 1  # no OpenMP: 1 thread
    assert int(got.stdout) == expected


def _all_kernels(n_threads):
    x = make_images(np.uint8, (28, 28), n=101, seed=11)
    xf = make_images(np.float32, (28, 28), n=101, seed=11)
    b = gb.binarize(x, 127, n_threads=n_threads)
    return [
        b,
        gb.binarize(x, [30, 127, 200], packed=True, n_threads=n_threads),
        gb.binarize(xf, method="otsu", n_threads=n_threads),
        gb.binarize(xf, method="mean", n_threads=n_threads),
        gb.orbit(x, "D4", n_threads=n_threads),
        gb.orbit(gb.binarize(x, 127, packed=True), "D4", packed_width=28, n_threads=n_threads),
        gb.pool(xf, 3, 2, mode="mean", n_threads=n_threads),
        gb.pool(x, 2, mode="max", n_threads=n_threads),
        gb.group_pool(gb.orbit(xf, "D4"), mode="mean", n_threads=n_threads),
        *gb.local_patterns(b, "D4", n_threads=n_threads),
        gb.represent_fused(x, [50, 127], n_threads=n_threads),
        gb.represent_fused(xf, method="otsu", mode="mean", n_threads=n_threads),
    ]


def test_results_do_not_depend_on_n_threads():
    serial = _all_kernels(1)
    for n in (2, 3, 8, -1, None):
        for a, b in zip(serial, _all_kernels(n), strict=True):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype


def test_concurrent_calls_from_python_threads():
    serial = _all_kernels(1)
    n_workers = 4
    barrier = threading.Barrier(n_workers)
    results: list = [None] * n_workers
    errors: list = []

    def work(k):
        try:
            barrier.wait()  # start together
            results[k] = [_all_kernels(2) for _ in range(3)]
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for per_thread in results:
        for run in per_thread:
            for a, b in zip(serial, run, strict=True):
                np.testing.assert_array_equal(a, b)
