"""Property-based tests of the identities the representation layer relies on."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import glassbox as gb
from glassbox.groups import get_group

from conftest import GROUPS

DTYPES = [np.uint8, np.bool_, np.uint16, np.float32, np.float64]


@st.composite
def images_and_group(draw, dtypes=DTYPES, max_side=10, square=None):
    group = draw(st.sampled_from(GROUPS))
    g = get_group(group)
    h = draw(st.integers(1, max_side))
    w = h if (not g.keeps_shape or square) else draw(st.integers(1, max_side))
    n = draw(st.integers(1, 3))
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    elements = st.floats(-1e6, 1e6, width=8 * dtype.itemsize) if dtype.kind == "f" else None
    x = draw(hnp.arrays(dtype, (n, h, w), elements=elements))
    return x, g, draw(st.integers(0, g.order - 1))


@settings(max_examples=150, deadline=None)
@given(images_and_group())
def test_orbit_of_transformed_is_permuted_orbit(args):
    x, g, j = args
    gx = np.ascontiguousarray(g.apply(x, j))
    # orbit(g_j x)[:, i] = g_i g_j x = orbit(x)[:, cayley[i, j]]
    np.testing.assert_array_equal(gb.orbit(gx, g), gb.orbit(x, g)[:, g.cayley[:, j]])


@settings(max_examples=150, deadline=None)
@given(images_and_group(), st.sampled_from(["mean", "max", "sum"]))
def test_group_pool_of_orbit_is_invariant(args, mode):
    x, g, j = args
    gx = np.ascontiguousarray(g.apply(x, j))
    np.testing.assert_array_equal(
        gb.group_pool(gb.orbit(gx, g), mode=mode), gb.group_pool(gb.orbit(x, g), mode=mode)
    )


@st.composite
def symmetric_pooling(draw):
    size = draw(st.integers(1, 4))
    stride = draw(st.integers(1, 4))
    k = draw(st.integers(0, 3))
    side = size + k * stride  # (side - size) % stride == 0: a symmetric grid
    dtype = draw(st.sampled_from([np.uint8, np.bool_, np.uint16, np.int64]))
    # int64 values whose window sums cannot overflow (those raise ValueError, tested elsewhere)
    elements = st.integers(-(2**40), 2**40) if dtype == np.int64 else None
    x = draw(hnp.arrays(dtype, (draw(st.integers(1, 3)), side, side), elements=elements))
    return x, size, stride


@settings(max_examples=150, deadline=None)
@given(symmetric_pooling(), st.sampled_from(["max", "mean", "sum"]), st.integers(0, 7))
def test_pool_commutes_with_d4_on_symmetric_grids(args, mode, j):
    x, size, stride = args
    g = get_group("D4")
    gx = np.ascontiguousarray(g.apply(x, j))
    np.testing.assert_array_equal(
        gb.pool(gx, size, stride, mode=mode), g.apply(gb.pool(x, size, stride, mode=mode), j)
    )


@settings(max_examples=150, deadline=None)
@given(images_and_group(dtypes=[np.bool_], max_side=9))
def test_local_pattern_class_moves_with_the_pixel(args):
    x, g, j = args
    n, h, w = x.shape
    gx = np.ascontiguousarray(g.apply(x, j))
    dest = g.act_on_index(j, h, w).ravel()
    base = gb.local_patterns(x, g).classes.reshape(n, -1)
    moved = gb.local_patterns(gx, g).classes.reshape(n, -1)
    np.testing.assert_array_equal(moved[:, dest], base)
