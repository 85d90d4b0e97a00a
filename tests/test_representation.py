from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

import glassbox as gb
from glassbox import GlassBoxRepresentation, get_group

from conftest import GROUPS, THREADS


@pytest.fixture(scope="module")
def fashion():
    ds = gb.datasets.load_fashion_mnist()
    x_train, x_test, _, _ = ds.standard_split()
    return x_train[:3000], x_test[:1500]


@pytest.mark.parametrize("blocks", ["both", "invariant", "equivariant"])
def test_exactness_contract_on_fashion_mnist(fashion, blocks):
    """transform(h.X) == transform(X)[:, perm(h)] bit for bit, for every element of D4, with the
    identity on the invariant block."""
    x_train, x_test = fashion
    rep = GlassBoxRepresentation(blocks=blocks).fit(x_train)
    F = rep.transform(x_test)
    assert F.dtype == np.float32 and F.shape == (len(x_test), rep.n_features_out_)
    g = get_group("D4")
    for h in g.elements:
        perm = rep.feature_permutation(h)
        assert sorted(perm) == list(range(F.shape[1]))
        np.testing.assert_array_equal(perm[: rep.n_invariant_], np.arange(rep.n_invariant_))
        np.testing.assert_array_equal(rep.transform(g.apply(x_test, h)), F[:, perm])
    if blocks == "equivariant":
        assert rep.n_invariant_ == 0
    else:
        inv = F[:, : rep.n_invariant_]
        for h in g.elements:
            np.testing.assert_array_equal(
                rep.transform(g.apply(x_test, h))[:, : rep.n_invariant_], inv
            )


@pytest.mark.parametrize("group", GROUPS)
def test_exactness_for_every_group(group):
    x = gb.datasets.load_digits().images
    rep = GlassBoxRepresentation(group=group, thresholds=2, cell_size=4, pool_size=2).fit(x)
    F = rep.transform(x)
    g = get_group(group)
    for h in range(g.order):
        np.testing.assert_array_equal(
            rep.transform(g.apply(x, h)), F[:, rep.feature_permutation(h)]
        )


def test_feature_names_and_layout(fashion):
    x_train, _ = fashion
    rep = GlassBoxRepresentation(thresholds=[50, 150]).fit(x_train)
    names = rep.get_feature_names_out()
    assert len(names) == rep.n_features_out_ == len(set(names))
    n_classes = len(gb.pattern_table("D4").canonical_codes)
    # invariant: 2 thresholds x (28 position orbits of a 14x14 grid + 102 classes x 3 cell orbits)
    assert rep.n_invariant_ == 2 * (28 + n_classes * 3)
    # equivariant: 2 x (14 x 14 pooled positions + 102 classes x 4 x 4 cells)
    assert rep.n_features_out_ - rep.n_invariant_ == 2 * (196 + n_classes * 16)
    assert all(n.startswith("inv:") for n in names[: rep.n_invariant_])
    assert all(n.startswith("eq:") for n in names[rep.n_invariant_ :])
    assert "eq:pattern[x>150]:class0(code 0)@cell(3,3)" in set(names)
    assert "inv:plane[x>50]:sum2x2:orbit-of(0,0)" in set(names)


def test_features_count_what_they_say():
    x = np.zeros((1, 28, 28), dtype=np.uint8)
    x[0, 0:2, 0:2] = 255  # a 2x2 bright square in the top-left corner
    rep = GlassBoxRepresentation(thresholds=[100], blocks="equivariant").fit(
        np.concatenate([x, x + 1])
    )
    f = dict(zip(rep.get_feature_names_out(), rep.transform(x)[0], strict=True))
    assert f["eq:plane[x>100]:sum2x2@(0,0)"] == 4
    assert f["eq:plane[x>100]:sum2x2@(0,1)"] == 0
    # every pixel of the 7x7 top-left cell has one pattern class: 49 counts in all
    cell = [v for n, v in f.items() if n.startswith("eq:pattern") and n.endswith("@cell(0,0)")]
    assert sum(cell) == 49


@pytest.mark.parametrize("n_threads", THREADS)
def test_threads_and_flat_input(fashion, n_threads):
    x_train, x_test = fashion
    rep = GlassBoxRepresentation(thresholds=3).fit(x_train)
    base = rep.transform(x_test[:200])
    rep_t = (
        clone(rep)
        .set_params(n_threads=n_threads, image_shape=(28, 28))
        .fit(x_train.reshape(len(x_train), -1))
    )
    np.testing.assert_array_equal(rep_t.thresholds_, rep.thresholds_)
    np.testing.assert_array_equal(rep_t.transform(x_test[:200].reshape(200, -1)), base)


def test_learnt_thresholds(fashion):
    x_train, _ = fashion
    rep = GlassBoxRepresentation(thresholds=4).fit(x_train)
    t = rep.thresholds_
    assert t.size == 4 and np.all(np.diff(t) > 0) and np.all(t == np.floor(t))
    assert 0 < t[0] and t[-1] < 255


def test_bad_input(fashion):
    x_train, _ = fashion
    with pytest.raises(ValueError, match="cell_size=5 must divide"):
        GlassBoxRepresentation(cell_size=5).fit(x_train)
    with pytest.raises(ValueError, match="pool_size=3 must divide"):
        GlassBoxRepresentation(pool_size=3).fit(x_train)
    with pytest.raises(ValueError, match="non-square"):
        GlassBoxRepresentation(cell_size=2).fit(x_train[:, :, :26])
    with pytest.raises(ValueError, match="not a square image"):
        GlassBoxRepresentation().fit(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="blocks must be one of"):
        GlassBoxRepresentation(blocks="all").fit(x_train)
    with pytest.raises(ValueError, match="same value"):
        GlassBoxRepresentation().fit(np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(TypeError, match="X must hold numbers"):
        GlassBoxRepresentation().fit(np.zeros((3, 28, 28), complex))
    rep = GlassBoxRepresentation(thresholds=[100])
    with pytest.raises(Exception, match="not fitted"):
        rep.transform(x_train)
    rep.fit(x_train)
    with pytest.raises(ValueError, match="fitted on"):
        rep.transform(x_train[:, :14, :14])
    with pytest.raises(ValueError, match="NaN or infinite"):
        rep.transform(np.full((2, 28, 28), np.nan))
    with pytest.raises(ValueError, match="must not be empty"):
        rep.transform(np.zeros((0, 28, 28), np.uint8))


@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.float32])
def test_views_beyond_memory_refused_before_copying(dtype):
    """Found by the long sanitized fuzz run: fit copied a broadcast view of 4.88 TiB and died
    with MemoryError. It must refuse with the size, before copying or scanning the values."""
    huge = np.broadcast_to(np.zeros((), dtype), (5000, 2**15, 2**15))
    with pytest.raises(ValueError, match="a copy of X would have shape .* more than this machine"):
        GlassBoxRepresentation(cell_size=1, pool_size=1).fit(huge)


def test_cell_histograms_against_bincount():
    rng = np.random.default_rng(0)
    lab = rng.integers(0, 7, (3, 10, 13)).astype(np.uint16)
    got = gb.cell_histograms(lab, 7, 3)
    assert got.shape == (3, 7, 3, 4) and got.dtype == np.int32
    for b in range(3):
        for i in range(3):
            for j in range(4):
                want = np.bincount(
                    lab[b, 3 * i : 3 * i + 3, 3 * j : 3 * j + 3].ravel(), minlength=7
                )
                np.testing.assert_array_equal(got[b, :, i, j], want)
    with pytest.raises(ValueError, match=r"labels: \d+ value\(s\) are >= n_labels=5"):
        gb.cell_histograms(lab, 5, 3)
    with pytest.raises(ValueError, match="cell=11 is larger"):
        gb.cell_histograms(lab, 7, 11)
    with pytest.raises(TypeError, match="labels must have dtype uint16"):
        gb.cell_histograms(lab.astype(np.int32), 7, 3)
