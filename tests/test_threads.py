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
    with pytest.raises(ValueError, match="n_threads must not be 0"):
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


def _varied_calls(k):
    """Kernel calls with arguments that differ by k: each thread runs its own mix."""
    x = make_images(np.uint8, (20 + 2 * k, 20 + 2 * k), n=37 + k, seed=k)
    xf = make_images(np.float64, (9 + k, 12), n=23, seed=100 + k)
    b = gb.binarize(x, 60 + 10 * k, n_threads=1 + k % 3)
    return [
        b,
        gb.binarize(xf, method=("otsu", "mean")[k % 2], packed=bool(k % 2), n_threads=2),
        gb.orbit(x, ("D4", "C4", "D2", "trivial")[k % 4], n_threads=1 + k % 2),
        gb.pool(xf, 1 + k % 3, 1 + k % 2, mode=("max", "mean", "sum")[k % 3], n_threads=3),
        gb.group_pool(gb.orbit(x, "D4"), mode=("mean", "max", "sum")[k % 3], n_threads=2),
        *gb.local_patterns(b, ("D4", "C4")[k % 2], size=(1, 3)[k % 2], n_threads=2),
        gb.represent_fused(
            x, [30, 100 + k], size=2, mode=("max", "sum")[k % 2], n_threads=1 + k % 3
        ),
    ]


def test_concurrent_calls_from_python_threads():
    """8 Python threads at once, each with different arguments, every result equal to the same
    call made serially (run under ASan in CI by .ci/sanitize)."""
    n_workers = 8
    serial = [_varied_calls(k) for k in range(n_workers)]
    barrier = threading.Barrier(n_workers)
    results: list = [None] * n_workers
    errors: list = []

    def work(k):
        try:
            barrier.wait()  # start together
            results[k] = [_varied_calls(k) for _ in range(3)]
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k, per_thread in enumerate(results):
        for run in per_thread:
            for a, b in zip(serial[k], run, strict=True):
                np.testing.assert_array_equal(a, b)


def test_concurrent_same_call_from_python_threads():
    serial = _all_kernels(1)
    barrier = threading.Barrier(4)
    results: list = [None] * 4

    def work(k):
        barrier.wait()
        results[k] = _all_kernels(2)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for run in results:
        for a, b in zip(serial, run, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("split", [1, 7, 50])
def test_chunked_equals_whole(split):
    """Every kernel works image by image: any split of the batch gives the same result."""
    x = make_images(np.uint8, (16, 16), n=101, seed=5)
    xf = make_images(np.float32, (16, 16), n=101, seed=6)
    calls = [
        lambda a: gb.binarize(a, [40, 200], packed=True),
        lambda a: gb.binarize(a.astype(np.float32) / 255, method="otsu"),
        lambda a: gb.orbit(a, "D4"),
        lambda a: gb.pool(a, 3, 2, mode="sum"),
        lambda a: gb.group_pool(gb.orbit(a, "C4"), mode="mean"),
        lambda a: gb.local_patterns(gb.binarize(a, 127), "D4").classes,
        lambda a: gb.represent_fused(a, [50, 150], mode="sum"),
        lambda a: gb.represent_fused(a, method="mean", packed=True),
    ]
    for call in calls:
        whole = call(x)
        parts = np.concatenate([call(x[:split]), call(x[split:])])
        np.testing.assert_array_equal(whole, parts)
    whole = gb.pool(xf, 2, mode="mean")
    np.testing.assert_array_equal(
        whole,
        np.concatenate([gb.pool(xf[:split], 2, mode="mean"), gb.pool(xf[split:], 2, mode="mean")]),
    )
