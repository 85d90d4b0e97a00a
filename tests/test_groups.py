from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest

from glassbox.groups import GROUP_NAMES, Group, get_group

from conftest import GROUPS

# The definitions, written again here as NumPy expressions.
NUMPY_ACTIONS = {
    "e": lambda x: x,
    "r90": lambda x: np.rot90(x, 1, axes=(-2, -1)),
    "r180": lambda x: np.rot90(x, 2, axes=(-2, -1)),
    "r270": lambda x: np.rot90(x, 3, axes=(-2, -1)),
    "fh": lambda x: x[..., ::-1],
    "fv": lambda x: x[..., ::-1, :],
    "t": lambda x: np.swapaxes(x, -1, -2),
    "at": lambda x: np.swapaxes(x[..., ::-1, ::-1], -1, -2),
}
D4 = ("e", "r90", "r180", "r270", "fh", "fv", "t", "at")
EXPECTED = {
    "trivial": ("e",),
    "C2": ("e", "r180"),
    "C4": ("e", "r90", "r180", "r270"),
    "D1h": ("e", "fh"),
    "D1v": ("e", "fv"),
    "D1t": ("e", "t"),
    "D2": ("e", "r180", "fh", "fv"),
    "D4": D4,
}


def test_names_and_elements():
    assert set(GROUP_NAMES) == set(EXPECTED)
    for name, elements in EXPECTED.items():
        g = get_group(name)
        assert g.elements == elements
        assert g.order == len(elements)
        assert [D4[c] for c in g.codes] == list(elements)  # subgroups keep D4's order
        assert g.keeps_shape == (name not in ("C4", "D1t", "D4"))


@pytest.mark.parametrize("name", GROUPS)
def test_apply_is_the_documented_numpy_expression(name):
    g = get_group(name)
    x = np.arange(2 * 3 * 5 * 5).reshape(2, 3, 5, 5)
    for i, e in enumerate(g.elements):
        np.testing.assert_array_equal(g.apply(x, i), NUMPY_ACTIONS[e](x))
        np.testing.assert_array_equal(g.apply(x, e), NUMPY_ACTIONS[e](x))


@pytest.mark.parametrize("name", GROUPS)
def test_group_laws(name):
    g = get_group(name)
    n = g.order
    c = g.cayley
    assert c.shape == (n, n)
    assert c.min() >= 0 and c.max() < n  # closure
    assert g.elements[0] == "e"
    np.testing.assert_array_equal(c[0], np.arange(n))  # identity
    np.testing.assert_array_equal(c[:, 0], np.arange(n))
    for a, b, d in itertools.product(range(n), repeat=3):  # associativity
        assert c[c[a, b], d] == c[a, c[b, d]]
    for a in range(n):  # inverses
        assert c[a, g.inverse[a]] == 0 and c[g.inverse[a], a] == 0
    for row in c:  # Latin square: each product once
        assert sorted(row) == list(range(n))


@pytest.mark.parametrize("name", GROUPS)
def test_cayley_agrees_with_composing_apply(name):
    g = get_group(name)
    x = np.random.default_rng(0).integers(0, 255, (3, 6, 6))
    for i, j in itertools.product(range(g.order), repeat=2):
        np.testing.assert_array_equal(g.apply(g.apply(x, j), i), g.apply(x, int(g.cayley[i, j])))


@pytest.mark.parametrize("name", GROUPS)
@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (1, 1)])
def test_act_on_index(name, shape):
    g = get_group(name)
    if not g.keeps_shape and shape[0] != shape[1]:
        with pytest.raises(ValueError, match="non-square"):
            g.act_on_index(0, *shape)
        return
    x = np.random.default_rng(1).standard_normal(shape)
    for i in range(g.order):
        dest = g.act_on_index(i, *shape)
        assert dest.shape == shape
        assert sorted(dest.ravel()) == list(range(x.size))
        np.testing.assert_array_equal(g.apply(x, i).ravel()[dest], x)


def test_act_on_index_geometry():
    g = get_group("D4")
    H = 4
    # rot90 (counter-clockwise) sends the top-left corner to the bottom-left corner
    assert g.act_on_index("r90", H, H)[0, 0] == (H - 1) * H
    # the left-right flip sends the top-left corner to the top-right corner
    assert g.act_on_index("fh", H, H)[0, 0] == H - 1
    # the transpose fixes the diagonal
    assert all(g.act_on_index("t", H, H)[k, k] == k * H + k for k in range(H))


@pytest.mark.parametrize("name", ["C4", "D1t", "D4"])
def test_non_square_refused(name):
    with pytest.raises(ValueError, match="non-square"):
        get_group(name).apply(np.zeros((3, 4)), 0)


@pytest.mark.parametrize("name", ["trivial", "C2", "D1h", "D1v", "D2"])
def test_non_square_accepted(name):
    g = get_group(name)
    x = np.arange(12).reshape(3, 4)
    for i in range(g.order):
        assert g.apply(x, i).shape == (3, 4)


def test_bad_names_and_indices():
    with pytest.raises(ValueError, match="unknown group 'D8'"):
        get_group("D8")
    with pytest.raises(TypeError, match="group must be"):
        get_group(4)
    g = get_group("C2")
    assert get_group(g) is g
    with pytest.raises(ValueError, match="out of range"):
        g.apply(np.zeros((2, 2)), 2)
    with pytest.raises(ValueError, match="not in group C2"):
        g.apply(np.zeros((2, 2)), "r90")
    with pytest.raises(TypeError, match="element must be"):
        g.apply(np.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        g.apply(np.zeros(3), 0)
    with pytest.raises(ValueError, match="H must be a positive integer"):
        g.act_on_index(0, 0, 3)
    assert g.index(-1) == 1


def test_groups_are_shared_and_pickle():
    g = get_group("D4")
    assert get_group("D4") is g
    assert pickle.loads(pickle.dumps(g)) is g
    assert isinstance(g, Group) and "D4" in repr(g)
    with pytest.raises(ValueError, match="read-only"):
        g.cayley[0, 0] = 1
