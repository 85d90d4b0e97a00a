from __future__ import annotations

import numpy as np
import pytest

import glassbox as gb
from glassbox.groups import get_group

import _reference as ref
from conftest import GROUPS, THREADS, fits


def burnside(group, size):
    """Number of orbits of size x size binary patches: the mean over g of 2**cycles(g)."""
    g = get_group(group)
    positions = np.arange(size * size).reshape(size, size)
    total = 0
    for i in range(g.order):
        perm = g.apply(positions, i).ravel()  # position perm[k] moves to k
        seen, cycles = set(), 0
        for start in range(size * size):
            if start in seen:
                continue
            cycles += 1
            k = start
            while k not in seen:
                seen.add(k)
                k = int(perm[k])
        total += 2**cycles
    assert total % g.order == 0
    return total // g.order


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("size", [1, 3])
def test_class_count_is_burnside(group, size):
    table = gb.pattern_table(group, size)
    assert len(table.canonical_codes) == burnside(group, size)


def test_known_counts():
    assert len(gb.pattern_table("D4").canonical_codes) == 102 == burnside("D4", 3)
    assert len(gb.pattern_table("C4").canonical_codes) == 140 == burnside("C4", 3)
    assert len(gb.pattern_table("trivial").canonical_codes) == 512 == burnside("trivial", 3)


@pytest.mark.parametrize("group", GROUPS)
def test_table_matches_brute_force(group):
    canon, class_of, elem_of = ref.pattern_table(group, 3)
    table = gb.pattern_table(group, 3)
    np.testing.assert_array_equal(table.canonical_codes, canon)
    np.testing.assert_array_equal(table.class_of_code, class_of)
    np.testing.assert_array_equal(table.element_of_code, elem_of)


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize(
    "shape", [(1, 1), (2, 2), (5, 5), (8, 8), (4, 7), (3, 1), (1, 6), (7, 5), (28, 28), (31, 33)]
)
@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("size", [1, 3])
def test_matches_reference(group, shape, n_threads, size):
    x = np.random.default_rng(2).integers(0, 2, (3, *shape)).astype(np.uint8)
    if not fits(group, shape):
        with pytest.raises(ValueError, match="non-square"):
            gb.local_patterns(x, group)
        return
    got = gb.local_patterns(x, group, size=size, n_threads=n_threads)
    want_c, want_e = ref.local_patterns(x, group, size)
    assert got.classes.dtype == np.uint16 and got.elements.dtype == np.uint8
    np.testing.assert_array_equal(got.classes, want_c)
    np.testing.assert_array_equal(got.elements, want_e)
    np.testing.assert_array_equal(
        gb.local_patterns(x.astype(bool), group, size=size).classes, want_c
    )


@pytest.mark.parametrize("group", GROUPS)
def test_class_is_invariant_and_element_equivariant(group):
    g = get_group(group)
    x = np.random.default_rng(5).integers(0, 2, (2, 9, 9)).astype(np.uint8)
    table = gb.pattern_table(group)
    base = gb.local_patterns(x, group)
    for i in range(g.order):
        gx = np.ascontiguousarray(g.apply(x, i))
        moved = gb.local_patterns(gx, group)
        dest = g.act_on_index(i, 9, 9).ravel()  # pixel p of x is pixel dest[p] of g.x
        np.testing.assert_array_equal(
            moved.classes.reshape(2, -1)[:, dest], base.classes.reshape(2, -1)
        )
        # the element found at g(p) carries g.x's pattern there to the canonical code
        codes = ref.pattern_codes(gx).ravel()
        elems = moved.elements.ravel()
        canon = table.canonical_codes[moved.classes.ravel()]
        for code, e, c in zip(codes[::7], elems[::7], canon[::7], strict=True):
            patch = ((int(code) >> np.arange(9)) & 1).reshape(3, 3)
            assert ref._encode(g.apply(patch, int(e))) == c


def test_rejects_non_binary_and_bad_size():
    with pytest.raises(ValueError, match="only 0 and 1; 1 other"):
        gb.local_patterns(np.array([[[0, 2], [1, 0]]], dtype=np.uint8), "D4")
    with pytest.raises(ValueError, match="size must be 1 or 3"):
        gb.local_patterns(np.zeros((1, 5, 5), dtype=np.uint8), size=5)
    with pytest.raises(TypeError, match="binary must have dtype"):
        gb.local_patterns(np.zeros((1, 5, 5), dtype=np.float32))


def test_single_pixel_pattern():
    x = np.zeros((1, 3, 3), dtype=np.uint8)
    x[0, 1, 1] = 1
    lp = gb.local_patterns(x, "D4")
    # the centre sees only itself: code 1 << 4 = 16; a corner sees the centre diagonally
    assert gb.pattern_table("D4").canonical_codes[lp.classes[0, 1, 1]] == 16
    assert (
        len({int(c) for c in lp.classes[0, [0, 0, 2, 2], [0, 2, 0, 2]]}) == 1
    )  # all corners alike
