from __future__ import annotations

import numpy as np
import pytest

import glassbox as gb
from glassbox.groups import get_group

import _reference as ref
from conftest import GROUPS, THREADS, fits, make_images

DTYPES = [np.bool_, np.uint8, np.uint16, np.int64, np.float32, np.float64]
MODES = ["mean", "max", "sum"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_matches_reference(dtype, mode, n_threads, axis):
    x = make_images(dtype, (8, 5, 300), n=3)  # inner length > the kernel's block of 256
    got = gb.group_pool(x, mode=mode, axis=axis, n_threads=n_threads)
    want = ref.group_pool(x, mode, axis)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("group", GROUPS)
def test_exactly_invariant(dtype, mode, group):
    shape = (7, 7)
    assert fits(group, shape)
    x = make_images(dtype, shape, n=4, seed=7)
    if np.dtype(dtype).kind == "f":
        x = x * np.asarray(1e-3, dtype) + np.asarray(
            1e4, dtype
        )  # sums that round differently by order
    g = get_group(group)
    base = gb.group_pool(gb.orbit(x, group), mode=mode)
    for i in range(g.order):
        gx = np.ascontiguousarray(g.apply(x, i))
        np.testing.assert_array_equal(gb.group_pool(gb.orbit(gx, group), mode=mode), base)


def test_float_permutation_invariance_needs_sorting():
    # Summation order matters for these values; group_pool must not depend on it.
    v = np.array([1e16, 1.0, -1e16, 1.0, 3.0, 1e-3, 7.0, -2.0])
    perms = np.random.default_rng(0).permuted(np.tile(v, (50, 1)), axis=1)
    means = gb.group_pool(perms[:, :, None], mode="mean")
    assert np.unique(means).size == 1
    naive = {float(np.add.reduce(p) / 8) for p in perms}
    assert len(naive) > 1  # plain summation would have given several answers


def test_axis_errors():
    x = np.zeros((2, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        gb.group_pool(x, axis=2)
    with pytest.raises(TypeError, match="axis must be an int"):
        gb.group_pool(x, axis=1.0)


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_integer_sums_past_32_bits(mode):
    """uint8 / uint16 sums are taken in 32 bits only where they cannot pass 2**32: longer axes
    of large values give the exact int64 sum (and mean) all the same."""
    for dtype, length in ((np.uint16, 65_536), (np.uint16, 65_537), (np.uint8, (1 << 24) + 1)):
        top = np.iinfo(dtype).max
        x = np.full((1, length, 3), top, dtype=dtype)
        x[0, 0, 1] = 0
        got = gb.group_pool(x, mode=mode)
        want = np.array([[length * top, (length - 1) * top, length * top]], dtype=np.int64)
        if mode == "mean":
            np.testing.assert_array_equal(got, (want / length).astype(np.float32))
        else:
            assert got.dtype == np.int64
            np.testing.assert_array_equal(got, want)
