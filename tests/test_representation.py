from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from sklearn.base import clone

import glassbox as gb
from glassbox import GlassBoxRepresentation, get_group

import _reference
from conftest import GROUPS, THREADS, make_images


@pytest.fixture(scope="module")
def fashion():
    ds = gb.datasets.load_fashion_mnist()
    x_train, x_test, _, _ = ds.standard_split()
    return x_train[:3000], x_test[:1500]


# hard cells and raw counts: the representation's literal definition (and the defaults until
# smooth windows and square roots measured better on every validation dataset)
HARD = {"pooling": "cells", "normalize": None}

OPTIONS = {
    "cells": HARD,
    "default": {},  # smooth windows, square roots
    "second-order": {"pooling": "smooth", "normalize": "sqrt", "second_order": True},
}


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("blocks", ["both", "invariant", "equivariant"])
def test_exactness_contract_on_fashion_mnist(fashion, blocks, options):
    """transform(h.X) == transform(X)[:, perm(h)] bit for bit, for every element of D4, with the
    identity on the invariant block."""
    x_train, x_test = fashion
    rep = GlassBoxRepresentation(blocks=blocks, **OPTIONS[options]).fit(x_train)
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


def assert_exactness_contract(rep, x):
    """transform(h.x) == transform(x)[:, feature_permutation(h)] for every element h."""
    F = rep.transform(x)
    g = get_group(rep.group)
    for h in range(g.order):
        np.testing.assert_array_equal(
            rep.transform(g.apply(x, h)), F[:, rep.feature_permutation(h)]
        )


@pytest.mark.parametrize("group", GROUPS)
def test_exactness_for_every_group(group):
    x = gb.datasets.load_digits().images
    rep = GlassBoxRepresentation(group=group, thresholds=5, cell_size=4, pool_size=2).fit(x)
    assert_exactness_contract(rep, x)


@pytest.mark.parametrize("group", ["trivial", "C2", "D1h", "D1v", "D2"])
def test_exactness_on_non_square_images(group):
    x = make_images(np.uint8, (12, 18), n=20)
    rep = GlassBoxRepresentation(group=group, thresholds=4, cell_size=3, pool_size=2).fit(x)
    assert_exactness_contract(rep, x)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
@pytest.mark.parametrize(
    ("shape", "pool", "cell", "dists"), [((28, 28), 2, 4, (1, 2)), ((6, 9), 3, 3, (1, 5))]
)
def test_equal_to_the_literal_definition(dtype, shape, pool, cell, dists):
    """The C++ kernel (levels through a table or a binary search) equals the features counted
    plane by plane from the binarized images, and the invariant block is the sum over orbits."""
    x = make_images(dtype, shape, n=6, seed=3)
    thresholds = np.unique(np.quantile(x.astype(np.float64), [0.2, 0.5, 0.5, 0.8]))
    if np.dtype(dtype).kind == "u":
        thresholds = np.floor(thresholds)
    rep = GlassBoxRepresentation(
        group="trivial",
        thresholds=list(thresholds),
        pool_size=pool,
        cell_size=cell,
        distances=dists,
        blocks="equivariant",
        **HARD,
    ).fit(x)
    level, steps = _reference.glass_features(x, rep.thresholds_, pool, cell, dists)
    want = np.concatenate([level.reshape(len(x), -1), steps.reshape(len(x), -1)], axis=1)
    np.testing.assert_array_equal(rep.transform(x), want.astype(np.float32))
    both = clone(rep).set_params(group="D2", blocks="both").fit(x)
    F = both.transform(x)
    eq = F[:, both.n_invariant_ :]
    np.testing.assert_array_equal(eq, want.astype(np.float32))
    # each invariant feature is the sum of the equivariant features of its orbit
    perms = np.stack(
        [both.feature_permutation(h)[both.n_invariant_ :] - both.n_invariant_ for h in range(4)]
    )
    orbit_sums = {}
    for j in range(eq.shape[1]):
        members = tuple(sorted(set(perms[:, j])))
        orbit_sums[members] = eq[:, list(members)].sum(axis=1)
    assert len(orbit_sums) == both.n_invariant_
    got = sorted(tuple(c) for c in F[:, : both.n_invariant_].T)
    np.testing.assert_array_equal(
        np.array(got), np.array(sorted(tuple(v) for v in orbit_sums.values()))
    )


def test_feature_names_and_layout(fashion):
    x_train, _ = fashion
    rep = GlassBoxRepresentation(thresholds=[50, 150], **HARD).fit(x_train)
    names = rep.get_feature_names_out()
    assert len(names) == rep.n_features_out_ == len(set(names))
    # equivariant: 14 x 14 level windows + 2 distances x 8 directions x 7 x 7 cells
    assert rep.n_features_out_ - rep.n_invariant_ == 196 + 2 * 8 * 49
    # invariant: the 28 orbits of a 14x14 grid of windows under D4, then the step orbits
    assert rep.block_sizes_["invariant"]["level"] == 28
    assert rep.n_invariant_ == 28 + rep.block_sizes_["invariant"]["step"]
    assert all(n.startswith("inv:") for n in names[: rep.n_invariant_])
    assert all(n.startswith("eq:") for n in names[rep.n_invariant_ :])
    assert "eq:level[K=2]:sum2x2@(13,13)" in set(names)
    assert "eq:step[K=2,d=2,dir=(0,1)]:cell4x4@(6,0)" in set(names)
    assert "inv:orbit-of-level[K=2]:sum2x2@(0,0)" in set(names)


def test_features_count_what_they_say():
    x = np.zeros((1, 28, 28), dtype=np.uint8)
    x[0, 0:2, 0:2] = 255  # a 2x2 bright square in the top-left corner
    rep = GlassBoxRepresentation(
        thresholds=[100, 200], distances=(1,), blocks="equivariant", **HARD
    ).fit(np.concatenate([x, x + 1]))
    f = dict(zip(rep.get_feature_names_out(), rep.transform(x)[0], strict=True))
    assert f["eq:level[K=2]:sum2x2@(0,0)"] == 8  # 4 pixels above both thresholds
    assert f["eq:level[K=2]:sum2x2@(0,1)"] == 0
    # stepping right from the square: 2 rows leave it at column 1, on 2 planes; the left edge
    # leaves the image (0 outside) on 2 rows too, going left
    assert f["eq:step[K=2,d=1,dir=(0,1)]:cell4x4@(0,0)"] == 4
    assert f["eq:step[K=2,d=1,dir=(0,-1)]:cell4x4@(0,0)"] == 4
    assert f["eq:step[K=2,d=1,dir=(1,1)]:cell4x4@(0,0)"] == 2 * 3  # (0,1), (1,0), (1,1) exit
    elsewhere = [v for n, v in f.items() if n.startswith("eq:step") and not n.endswith("@(0,0)")]
    assert len(elsewhere) == 8 * 48 and sum(elsewhere) == 0


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
    np.testing.assert_array_equal(rep.thresholds_, [51, 102, 153, 204])  # 255 * k / 5, floored
    rep = GlassBoxRepresentation(thresholds=3).fit(x_train.astype(np.float32) / 255 + 1)
    np.testing.assert_allclose(rep.thresholds_, [1.25, 1.5, 1.75])
    binary = (x_train > 100).astype(np.uint8)
    rep = GlassBoxRepresentation(thresholds=32).fit(binary)
    np.testing.assert_array_equal(rep.thresholds_, [0])  # duplicates dropped
    rep = GlassBoxRepresentation(thresholds=[3, 1, 2, 2]).fit(x_train)
    np.testing.assert_array_equal(rep.thresholds_, [1, 2, 3])


def test_bad_input(fashion):
    x_train, _ = fashion
    with pytest.raises(ValueError, match="cell_size=5 must divide"):
        GlassBoxRepresentation(cell_size=5).fit(x_train)
    with pytest.raises(ValueError, match="pool_size=3 must divide"):
        GlassBoxRepresentation(pool_size=3).fit(x_train)
    with pytest.raises(ValueError, match="non-square"):
        GlassBoxRepresentation(cell_size=2).fit(x_train[:, :, :26])
    with pytest.raises(ValueError, match="distances must be distinct and below min"):
        GlassBoxRepresentation(distances=(1, 28)).fit(x_train)
    with pytest.raises(ValueError, match="distances must be distinct"):
        GlassBoxRepresentation(distances=(1, 1)).fit(x_train)
    with pytest.raises(ValueError, match="distances must be a positive int"):
        GlassBoxRepresentation(distances=(0,)).fit(x_train)
    with pytest.raises(ValueError, match="distances must be a sequence"):
        GlassBoxRepresentation(distances=2).fit(x_train)
    with pytest.raises(ValueError, match="thresholds must be finite"):
        GlassBoxRepresentation(thresholds=[1.0, np.nan]).fit(x_train)
    with pytest.raises(ValueError, match="thresholds must be a positive int or a sequence"):
        GlassBoxRepresentation(thresholds="many").fit(x_train)
    with pytest.raises(ValueError, match="float32 cannot hold exactly"):
        GlassBoxRepresentation(thresholds=list(range(3000)), cell_size=28, **HARD).fit(x_train * 20)
    with pytest.raises(ValueError, match="not a square image"):
        GlassBoxRepresentation().fit(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="blocks must be one of"):
        GlassBoxRepresentation(blocks="all").fit(x_train)
    with pytest.raises(ValueError, match="same value"):
        GlassBoxRepresentation().fit(np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="Complex data not supported"):
        GlassBoxRepresentation().fit(np.zeros((3, 28, 28), complex))
    with pytest.raises(TypeError, match="X must hold numbers"):
        GlassBoxRepresentation().fit(np.full((3, 28, 28), "a"))
    with pytest.raises(TypeError, match="X must hold numbers"):
        GlassBoxRepresentation().fit(np.full((3, 28, 28), "a", dtype=object))
    with pytest.raises(TypeError, match="sparse input is not supported"):
        GlassBoxRepresentation().fit(scipy.sparse.csr_matrix(np.eye(4)))
    with pytest.raises(ValueError, match="magnitude <= 2..53"):
        GlassBoxRepresentation().fit(np.full((3, 4, 4), 2**60))
    # negative integers are read exactly as float64
    neg = GlassBoxRepresentation(thresholds=[-1]).fit(np.arange(-8, 8).reshape(1, 4, 4))
    assert neg.transform(np.arange(-8, 8).reshape(1, 4, 4))[0, neg.n_invariant_ :].sum() > 0
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


def test_image_shape_with_an_inferred_side_and_no_steps():
    x = make_images(np.uint8, (3, 10), n=5)
    rep = GlassBoxRepresentation(
        group="D2",
        image_shape=(3, -1),
        pool_size=1,
        cell_size=1,
        distances=(),
        thresholds=4,
        **HARD,
    ).fit(x.reshape(5, -1))
    assert rep.image_shape_ == (3, 10)
    F = rep.transform(x.reshape(5, -1))
    np.testing.assert_array_equal(F, rep.transform(x))
    assert rep.block_sizes_["equivariant"] == {"level": 30, "step": 0}
    level, _ = _reference.glass_features(x, rep.thresholds_, 1, 1, ())
    np.testing.assert_array_equal(F[:, rep.n_invariant_ :], level.reshape(5, -1))
    for bad in [(4, -1), (-1, -1), (3,), "3x10"]:
        with pytest.raises(ValueError, match="image_shape"):
            clone(rep).set_params(image_shape=bad).fit(x.reshape(5, -1))


def test_transform_into_a_given_buffer():
    """``out=``: the same features written in place, the buffer returned; a wrong buffer is
    refused before any work, naming ``out``."""
    X = np.random.default_rng(4).integers(0, 256, (9, 28, 28), dtype=np.uint8)
    rep = GlassBoxRepresentation(thresholds=5).fit(X)
    want = rep.transform(X)
    out = np.full_like(want, -1.0)
    assert rep.transform(X, out=out) is out
    np.testing.assert_array_equal(out, want)
    with pytest.raises(ValueError, match="out must have shape"):
        rep.transform(X, out=np.empty((8, want.shape[1]), np.float32))
    with pytest.raises(TypeError, match="out must have dtype float32"):
        rep.transform(X, out=np.empty(want.shape, np.float64))
    with pytest.raises(ValueError, match="C-contiguous"):
        rep.transform(X, out=np.empty((want.shape[1], 9), np.float32).T)
    ro = np.empty_like(want)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        rep.transform(X, out=ro)


def test_the_documented_layout_attributes():
    """level_grid_, cell_grid_ and orbit_index_ describe the equivariant block, whatever
    ``blocks`` is, and orbit_index_ maps it onto the invariant block."""
    X = np.random.default_rng(5).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    for blocks in ("both", "invariant", "equivariant"):
        rep = GlassBoxRepresentation(thresholds=4, blocks=blocks, distances=(1, 2)).fit(X)
        assert rep.level_grid_ == (14, 14) and rep.cell_grid_ == (7, 7)
        n_eq = 14 * 14 + 2 * 8 * 7 * 7
        assert rep.orbit_index_.shape == (n_eq,) and rep.orbit_index_.dtype == np.int32
    both = GlassBoxRepresentation(thresholds=4, **HARD).fit(X)  # sums: no square roots
    F = both.transform(X).astype(np.float64)
    inv, eq = F[:, : both.n_invariant_], F[:, both.n_invariant_ :]
    sums = np.zeros_like(inv)
    np.add.at(sums.T, both.orbit_index_, eq.T)  # each orbit's members summed
    np.testing.assert_array_equal(sums, inv)
