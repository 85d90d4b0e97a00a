"""GlassBoxRepresentation's pooling, second_order and normalize: the features equal their
definitions, keep the exactness contract under every group, are named, explained exactly,
saved and streamed; bad values are refused with messages naming the parameter."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from glassbox import GlassBoxClassifier, GlassBoxRepresentation, get_group
from glassbox.explain import AGGREGATIONS
from glassbox.persistence import load_model, save_model

import _reference
from conftest import GROUPS, make_images

OPTIONS = [
    {"pooling": "smooth"},
    {"normalize": "sqrt"},
    {"second_order": True},
    {"pooling": "smooth", "second_order": True, "normalize": "sqrt"},
]


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize(
    ("shape", "pool", "cell", "dists"),
    [((28, 28), 2, 4, (1, 2)), ((12, 16), 2, 4, (3,)), ((10, 10), 5, 2, ())],
)
@pytest.mark.parametrize("smooth", [False, True])
@pytest.mark.parametrize("second_order", [False, True])
def test_equal_to_the_definition(dtype, shape, pool, cell, dists, smooth, second_order):
    """Every equivariant feature equals its window sum computed position by position, and its
    square root with normalize="sqrt"."""
    x = make_images(dtype, shape, n=4, seed=5)
    thresholds = np.unique(np.floor(np.quantile(x.astype(np.float64), [0.2, 0.5, 0.8])))
    params = {
        "group": "trivial",
        "thresholds": list(thresholds),
        "pool_size": pool,
        "cell_size": cell,
        "distances": dists,
        "pooling": "smooth" if smooth else "cells",
        "normalize": None,
        "second_order": second_order,
        "blocks": "equivariant",
    }
    rep = GlassBoxRepresentation(**params).fit(x)
    blocks = _reference.glass_features_full(
        x, rep.thresholds_, pool, cell, dists, smooth, second_order
    )
    want = np.concatenate([b.reshape(len(x), -1) for b in blocks], axis=1)
    assert want.max() > 0
    np.testing.assert_array_equal(rep.transform(x), want.astype(np.float32))
    root = GlassBoxRepresentation(**{**params, "normalize": "sqrt"}).fit(x)
    np.testing.assert_array_equal(root.transform(x), np.sqrt(want).astype(np.float32))


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("group", GROUPS)
def test_exactness_for_every_group(options, group):
    x = make_images(np.uint8, (16, 16), n=12, seed=2)
    rep = GlassBoxRepresentation(group=group, thresholds=6, **options).fit(x)
    F = rep.transform(x)
    g = get_group(group)
    for h in range(g.order):
        np.testing.assert_array_equal(
            rep.transform(g.apply(x, h)), F[:, rep.feature_permutation(h)], err_msg=str(h)
        )
        np.testing.assert_array_equal(rep.transform(g.apply(x, h))[:, : rep.n_invariant_],
                                      F[:, : rep.n_invariant_])  # fmt: skip


def test_exactness_on_fashion_sized_images_with_longer_distances():
    x = make_images(np.uint8, (28, 28), n=8, seed=9)
    rep = GlassBoxRepresentation(
        pooling="smooth", second_order=True, normalize="sqrt", distances=(1, 3, 4), cell_size=4
    ).fit(x)
    g = get_group("D4")
    F = rep.transform(x)
    for h in g.elements:
        np.testing.assert_array_equal(
            rep.transform(g.apply(x, h)), F[:, rep.feature_permutation(h)]
        )


def test_the_invariant_block_is_the_root_of_the_orbit_sums():
    """sqrt is taken of the orbit's summed count, not summed over square roots."""
    x = make_images(np.uint8, (16, 16), n=5, seed=4)
    plain = GlassBoxRepresentation(
        thresholds=4, pooling="smooth", second_order=True, normalize=None
    ).fit(x)
    root = clone(plain).set_params(normalize="sqrt").fit(x)
    np.testing.assert_array_equal(
        root.transform(x), np.sqrt(plain.transform(x).astype(np.float64)).astype(np.float32)
    )


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_independent_of_the_thread_count(n_threads):
    x = make_images(np.uint8, (28, 28), n=37, seed=1)
    params = {"pooling": "smooth", "second_order": True, "normalize": "sqrt"}
    want = GlassBoxRepresentation(n_threads=1, **params).fit(x).transform(x)
    got = GlassBoxRepresentation(n_threads=n_threads, **params).fit(x).transform(x)
    np.testing.assert_array_equal(got, want)


def test_names_and_block_sizes():
    x = make_images(np.uint8, (28, 28), n=3)
    rep = GlassBoxRepresentation(
        thresholds=[50, 150], pooling="smooth", second_order=True, normalize="sqrt"
    ).fit(x)
    names = rep.get_feature_names_out()
    assert len(names) == rep.n_features_out_ == len(set(names))
    eq = rep.block_sizes_["equivariant"]
    assert eq == {"level": 196, "step": 2 * 8 * 49, "step2": 64 * 49}
    assert rep.n_invariant_ == sum(rep.block_sizes_["invariant"].values())
    assert "eq:sqrt(level[K=2]:smooth2x2@(13,13))" in set(names)
    assert "eq:sqrt(step[K=2,d=2,dir=(0,1)]:smooth4x4@(6,0))" in set(names)
    assert "eq:sqrt(step2[K=2,dir1=(0,1),dir2=(-1,0)]:smooth4x4@(3,3))" in set(names)
    assert "inv:sqrt(orbit-of-level[K=2]:smooth2x2@(0,0))" in set(names)
    # hard cells, no square root: the names of the defaults before smooth pooling and sqrt
    plain = GlassBoxRepresentation(thresholds=[50, 150], pooling="cells", normalize=None).fit(x)
    assert "eq:level[K=2]:sum2x2@(13,13)" in set(plain.get_feature_names_out())
    assert "step2" not in plain.block_sizes_["equivariant"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pooling": "gaussian"}, "pooling must be one of"),
        ({"pooling": None}, "pooling must be one of"),
        ({"second_order": 1}, "second_order must be True or False"),
        ({"second_order": "yes"}, "second_order must be True or False"),
        ({"normalize": "l2"}, "normalize must be one of"),
        ({"normalize": True}, "normalize must be one of"),
        ({"second_order": True, "cell_size": 7}, "second_order=True needs an even cell_size"),
        ({"pooling": "smooth", "pool_size": 28}, "pool_size=28: smooth pooling takes windows"),
        ({"pooling": "smooth", "cell_size": 28}, "cell_size=28: smooth pooling takes windows"),
    ],
)
def test_bad_options_are_refused(params, message):
    x = make_images(np.uint8, (28, 28), n=2)
    with pytest.raises(ValueError, match=message):
        GlassBoxRepresentation(**params).fit(x)


def test_counts_beyond_float32_need_the_square_root():
    """Smooth 7-pixel windows (13 binomial taps) over many levels give counts float32 cannot
    hold exactly: refused without normalize="sqrt", which takes them (summed exactly in 64
    bits)."""
    x = make_images(np.float64, (28, 28), n=2)
    params = {"thresholds": 200, "pooling": "smooth", "cell_size": 7, "pool_size": 7}
    with pytest.raises(ValueError, match="normalize='sqrt'"):
        GlassBoxRepresentation(**params, normalize=None).fit(x)
    rep = GlassBoxRepresentation(normalize="sqrt", blocks="equivariant", **params).fit(x)
    blocks = _reference.glass_features_full(x, rep.thresholds_, 7, 7, (1, 2), True, False)
    want = np.concatenate([b.reshape(len(x), -1) for b in blocks], axis=1)
    assert want.max() >= 2**24  # the double path of the kernel's square root
    np.testing.assert_array_equal(rep.transform(x), np.sqrt(want).astype(np.float32))
    # 14-pixel windows have 28 taps: their weighted sums leave 32-bit integers even then
    wide = {**params, "cell_size": 14, "pool_size": 14, "normalize": "sqrt"}
    with pytest.raises(ValueError, match="beyond 32-bit integers"):
        GlassBoxRepresentation(**wide).fit(x)


def test_the_kernel_checks_its_options_itself():
    """The binding refuses what the Python layer refuses, should it be called directly."""
    from glassbox import _core

    x = np.zeros((2, 28, 28), np.uint8)
    t = np.array([10.0, 20.0])
    d = np.array([1], np.int64)
    inv = np.zeros(1, np.int32)

    def call(pool=2, cell=4, **kw):
        n_eq = (28 // pool) ** 2 + (8 + 64 * kw.get("second_order", False)) * (28 // cell) ** 2
        out = np.empty((2, n_eq), np.float32)
        _core.glass_features(x, t, pool, cell, d, inv, 1, False, True, out, 1, **kw)
        return out

    assert call(smooth=True, second_order=True).shape == (2, 196 + 72 * 49)
    with pytest.raises(ValueError, match="second_order needs an even cell"):
        call(cell=7, second_order=True)
    with pytest.raises(ValueError, match="smooth windows need pool and cell <= 15"):
        call(pool=28, smooth=True)


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("blocks", ["both", "invariant"])
def test_linear_explanations_stay_exact(digits_images, options, blocks):
    X, y = digits_images
    rep = GlassBoxRepresentation(blocks=blocks, **options)
    clf = GlassBoxClassifier(rep, n_components=20, classifier="linear").fit(X[:600], y[:600])
    ex = clf.explain(X[600:640])
    d = clf.decision_function(X[600:640])[np.arange(40), np.searchsorted(clf.classes_, ex.target)]
    np.testing.assert_allclose(ex.baseline + ex.contributions.sum(axis=1), d, rtol=1e-9, atol=1e-9)
    total = ex.contributions.sum(axis=1)
    scale = max(1.0, np.abs(ex.contributions).sum(axis=1).max())
    np.testing.assert_allclose(ex.heatmap().sum(axis=(1, 2)), total, atol=1e-10 * scale)
    for by in AGGREGATIONS:
        names, values = ex.aggregate(by)
        assert values.shape == (40, len(names)) and len(set(names)) == len(names)
        np.testing.assert_allclose(values.sum(axis=1), total, atol=1e-10 * scale, err_msg=by)
    protos = clf.class_prototypes()
    assert all(np.isfinite(v).all() for v in protos.values() if v is not None)


def test_second_order_names_its_patterns_and_scale(digits_images):
    X, y = digits_images
    rep = GlassBoxRepresentation(second_order=True, distances=(1,))
    clf = GlassBoxClassifier(rep, n_components=20, classifier="linear").fit(X[:600], y[:600])
    ex = clf.explain(X[600:610])
    names, _ = ex.aggregate("pattern")
    assert len(names) == 1 + 8 + 64 and names[-1] == "step2 dir1=(1, 1) dir2=(1, 1)"
    names, _ = ex.aggregate("scale")
    assert names == ["level", "step d=1", "second order"]


def test_heatmap_of_a_smooth_feature_is_its_weighted_window():
    """One smooth level feature with coefficient 1: its events carry the binomial weights of its
    window, and the heatmap sums to the feature."""
    x = np.zeros((1, 8, 8), np.uint8)
    x[0, 2:6, 2:6] = 200
    rep = GlassBoxRepresentation(
        group="trivial", thresholds=[100], pool_size=4, cell_size=4, distances=(),
        pooling="smooth", normalize=None, blocks="equivariant",
    ).fit(x)  # fmt: skip
    from glassbox.explain import Explanation

    F = rep.transform(x).astype(np.float64)
    slopes = np.zeros_like(F)
    slopes[0, 0] = 1.0  # window (0, 0): rows and columns -2..5, weights 1 7 21 35 35 21 7 1
    ex = Explanation(rep, x, F, slopes, np.zeros(F.shape[1]), np.array([0]), F[:, 0],
                     np.zeros(1), "linear")  # fmt: skip
    w = np.array([1, 7, 21, 35, 35, 21, 7, 1])[2:]  # positions 0..5 of the window inside the image
    want = np.zeros((8, 8))
    want[:6, :6] = np.outer(w, w)
    want *= x[0] > 100
    np.testing.assert_array_equal(ex.heatmap()[0], want)
    assert want.sum() == F[0, 0]


@pytest.mark.parametrize("options", OPTIONS)
def test_saved_and_loaded(tmp_path, digits_images, options):
    X, y = digits_images
    clf = GlassBoxClassifier(GlassBoxRepresentation(**options), n_components=15).fit(
        X[:400], y[:400]
    )
    save_model(clf, tmp_path / "m")
    back = load_model(tmp_path / "m")
    assert {k: getattr(back.representation_, k) for k in options} == options
    np.testing.assert_array_equal(back.predict(X[400:]), clf.predict(X[400:]))


def test_streamed_like_in_memory(tmp_path):
    x = make_images(np.uint8, (28, 28), n=23, seed=6)
    rep = GlassBoxRepresentation(pooling="smooth", second_order=True, normalize="sqrt").fit(x)
    np.save(tmp_path / "x.npy", x)
    got = rep.transform_chunked(tmp_path / "x.npy", chunk_size=5)
    np.testing.assert_array_equal(np.asarray(got), rep.transform(x))
