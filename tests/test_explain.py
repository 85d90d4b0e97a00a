"""GlassBoxClassifier.explain, glassbox.explain: exact linear decompositions, occlusion, the
hand-down of contributions to planes, patterns, group elements, cells and pixels, prototypes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from glassbox import GlassBoxClassifier, GlassBoxRepresentation, get_group
from glassbox.explain import (
    AGGREGATIONS,
    Explanation,
    _equivariant_twin,
    level_map,
    step_map,
)
from glassbox.representation import DIRECTIONS

# hard cells and raw counts: the pixel-by-pixel definitions these tests check by hand
HARD = {"pooling": "cells", "normalize": None}


@pytest.fixture(scope="module")
def digits(digits_images):
    return digits_images


def _fit(digits, classifier, n=900, **kw):
    X, y = digits
    rep_kw = {
        k: kw.pop(k) for k in ("blocks", "group", "thresholds", "pooling", "normalize") if k in kw
    }
    rep = GlassBoxRepresentation(**rep_kw)
    return GlassBoxClassifier(rep, n_components=30, classifier=classifier, **kw).fit(X[:n], y[:n])


@pytest.fixture(scope="module")
def models(digits):
    names = ("linear", "lda", "svm", "knn", "mlp", "kernel-ridge")
    return {name: _fit(digits, name) for name in names}


def _decision(clf, X, target):
    d = clf.decision_function(X)
    k = np.searchsorted(clf.classes_, target)
    if d.ndim == 1:
        return np.where(k == 1, d, -d)
    return d[np.arange(len(X)), k]


@pytest.mark.parametrize("name", ["linear", "lda"])
def test_linear_decomposition_is_exact(digits, models, name):
    X, _ = digits
    clf = models[name]
    ex = clf.explain(X[900:])
    assert ex.exact and ex.method == "linear"
    d = _decision(clf, X[900:], ex.target)
    np.testing.assert_array_equal(ex.target, clf.predict(X[900:]))
    total = ex.baseline + ex.contributions.sum(axis=1)
    assert np.max(np.abs(total - d)) <= 1e-9 * np.max(np.abs(d))
    assert np.max(np.abs(ex.residual)) <= 1e-9 * np.max(np.abs(d))
    # every class, not only the predicted one
    for c in clf.classes_[:3]:
        ex = clf.explain(X[900:950], target=c)
        d = _decision(clf, X[900:950], ex.target)
        np.testing.assert_allclose(
            ex.baseline + ex.contributions.sum(axis=1), d, rtol=1e-9, atol=1e-9
        )


@pytest.mark.parametrize(
    "kw",
    [{"scale": False}, {"blocks": "invariant"}, {"blocks": "equivariant", "group": "C4"},
     {"pca_batch_size": 300}],
)  # fmt: skip
def test_linear_decomposition_variants(digits, kw):
    X, _ = digits
    clf = _fit(digits, "linear", **kw)
    ex = clf.explain(X[900:1000])
    d = _decision(clf, X[900:1000], ex.target)
    np.testing.assert_allclose(ex.baseline + ex.contributions.sum(axis=1), d, rtol=1e-9, atol=1e-9)
    assert ex.contributions.shape == (100, clf.representation_.n_features_out_)


@pytest.mark.parametrize("name", ["linear", "lda"])
def test_two_classes(digits, name):
    X, y = digits
    keep = np.isin(y, [3, 8])
    clf = GlassBoxClassifier(n_components=20, classifier=name).fit(X[keep][:200], y[keep][:200])
    Xt = X[keep][200:]
    d = clf.decision_function(Xt)
    assert d.ndim == 1
    for target, sign in ((8, 1), (3, -1)):
        ex = clf.explain(Xt, target=target)
        np.testing.assert_allclose(ex.baseline + ex.contributions.sum(1), sign * d, atol=1e-9)


@pytest.mark.parametrize("name", ["linear", "svm", "knn", "mlp", "kernel-ridge"])
def test_every_aggregate_and_the_heatmap_sum_to_the_total(digits, models, name):
    X, _ = digits
    ex = models[name].explain(X[900:940])
    total = ex.contributions.sum(axis=1)
    scale = max(1.0, np.abs(ex.contributions).sum(axis=1).max())
    h = ex.heatmap()
    assert h.shape == (40, 8, 8)
    np.testing.assert_allclose(h.sum(axis=(1, 2)), total, atol=1e-12 * scale)
    for by in AGGREGATIONS:
        names, values = ex.aggregate(by)
        assert values.shape == (40, len(names)) and len(set(names)) == len(names)
        np.testing.assert_allclose(values.sum(axis=1), total, atol=1e-12 * scale, err_msg=by)
    with pytest.raises(ValueError, match="by must be one of"):
        ex.aggregate("nonsense")


def test_aggregate_names(models, digits):
    X, _ = digits
    clf = models["linear"]
    ex = clf.explain(X[:2])
    names, _ = ex.aggregate("block")
    assert names == ["invariant level", "invariant step", "equivariant level", "equivariant step"]
    # the block split follows the feature names
    _, v = ex.aggregate("block")
    fn = ex.feature_names
    inv_level = np.array([n.startswith("inv:") and "orbit-of-level" in n for n in fn])
    np.testing.assert_allclose(v[:, 0], ex.contributions[:, inv_level].sum(1))
    assert ex.aggregate("element")[0] == list(get_group("D4").elements)
    assert ex.aggregate("scale")[0] == ["level", "step d=1", "step d=2"]
    pat = ex.aggregate("pattern")[0]
    assert pat[0] == "level" and len(pat) == 17 and "step d=2 dir=(1,1)" in pat
    t = clf.representation_.thresholds_
    assert ex.aggregate("plane")[0] == [f"plane {k}: x > {v:g}" for k, v in enumerate(t)]
    assert ex.aggregate("cell")[0] == ["cell (0,0)", "cell (0,1)", "cell (1,0)", "cell (1,1)"]


def _unit(rep, images, j, value=1.0):
    """An explanation with slope ``value`` on output feature j only, mean 0."""
    images = rep._images(images, rep.image_shape_)
    F = rep.transform(images)
    slopes = np.zeros((len(images), rep.n_features_out_))
    slopes[:, j] = value
    mean = np.zeros(rep.n_features_out_)
    score = slopes @ F[0].astype(np.float64)
    base = np.zeros(len(images))
    t = np.zeros(len(images), dtype=int)
    return Explanation(rep, images, F, slopes, mean, t, score, base, "linear")


def test_heatmap_hands_each_feature_to_the_pixels_it_counts():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (3, 16, 16), dtype=np.uint8)
    rep = GlassBoxRepresentation(thresholds=[40, 128, 200], blocks="equivariant", **HARD).fit(X)
    lv = level_map(rep, X)
    # a level window (pool 2): the level map inside it, nothing outside
    j = 2 * 8 + 5  # window (2, 5)
    h = _unit(rep, X, j).heatmap()
    expect = np.zeros_like(h)
    expect[:, 4:6, 10:12] = lv[:, 4:6, 10:12]
    np.testing.assert_array_equal(h, expect)
    # a step feature: distance 2, direction index 3, cell (1, 2) of 4x4 cells
    n_level = 64
    k = 3
    j = n_level + ((1 * 8 + k) * 16 + 1 * 4 + 2)
    h = _unit(rep, X, j).heatmap()
    s = step_map(rep, X, DIRECTIONS[k], 2)
    expect = np.zeros_like(h)
    expect[:, 4:8, 8:12] = s[:, 4:8, 8:12]
    np.testing.assert_array_equal(h, expect)
    # the sum over the cell is the feature itself
    F = rep.transform(X)
    np.testing.assert_array_equal(h.sum(axis=(1, 2)), F[:, j])


def test_baseline_is_spread_over_the_feature_support():
    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, (2, 8, 8), dtype=np.uint8)
    rep = GlassBoxRepresentation(thresholds=[100], blocks="equivariant", **HARD).fit(X)
    images = rep._images(X, rep.image_shape_)
    F = rep.transform(images)
    slopes = np.zeros((2, rep.n_features_out_))
    slopes[:, 0] = 2.0
    mean = np.zeros(rep.n_features_out_)
    mean[0] = 3.0
    ex = Explanation(rep, images, F, slopes, mean, np.zeros(2), np.zeros(2), np.zeros(2), "linear")
    h = ex.heatmap()
    lv = level_map(rep, X)
    np.testing.assert_allclose(h[:, :2, :2], 2.0 * lv[:, :2, :2] - 2.0 * 3.0 / 4)
    assert not h[:, 2:].any() and not h[:, :, 2:].any()
    np.testing.assert_allclose(h.sum((1, 2)), ex.contributions[:, 0])


def test_invariant_feature_goes_to_its_orbit_members():
    rng = np.random.default_rng(2)
    X = rng.integers(0, 256, (2, 8, 8), dtype=np.uint8)
    rep = GlassBoxRepresentation(thresholds=[90, 170], blocks="both", **HARD).fit(X)
    names = rep.get_feature_names_out()
    o = next(i for i, n in enumerate(names) if n.startswith("inv:orbit-of-step"))
    members = np.flatnonzero(rep.orbit_index_ == o)
    h_inv = _unit(rep, X, o).heatmap()
    h_sum = sum(_unit(rep, X, rep.n_invariant_ + j).heatmap() for j in members)
    np.testing.assert_allclose(h_inv, h_sum)


def test_planes_are_the_single_threshold_representations():
    """Plane k's value is the slope-weighted features of the image binarized at t_k alone."""
    rng = np.random.default_rng(3)
    X = rng.integers(0, 256, (4, 16, 16), dtype=np.uint8)
    t = [30, 90, 150, 220]
    rep = GlassBoxRepresentation(thresholds=t, **HARD).fit(X)
    images = rep._images(X, rep.image_shape_)
    F = rep.transform(images)
    slopes = rng.normal(size=(4, rep.n_features_out_))
    z = np.zeros(rep.n_features_out_)
    ex = Explanation(rep, images, F, slopes, z, np.zeros(4), np.zeros(4), np.zeros(4), "linear")
    _, planes = ex.aggregate("plane")
    for k, tk in enumerate(t):
        one = GlassBoxRepresentation(thresholds=[tk], **HARD).fit(X)
        Fk = one.transform(X).astype(np.float64)
        np.testing.assert_allclose(planes[:, k], (slopes * Fk).sum(axis=1), rtol=1e-10)


def test_patterns_and_elements_by_hand(models, digits):
    X, _ = digits
    clf = models["linear"]
    rep = clf.representation_
    ex = clf.explain(X[:5])
    c, beta, F_eq = ex._eq_terms()
    E = c * F_eq - beta
    names, pat = ex.aggregate("pattern")
    n_level = rep.level_grid_[0] * rep.level_grid_[1]
    np.testing.assert_allclose(pat[:, 0], E[:, :n_level].sum(1))
    n_cells = rep.cell_grid_[0] * rep.cell_grid_[1]
    k = names.index("step d=2 dir=(0,1)")
    a = n_level + (k - 1) * n_cells
    np.testing.assert_allclose(pat[:, k], E[:, a : a + n_cells].sum(1))
    # elements: the identity gets exactly the canonical members of the orbits
    _, el = ex.aggregate("element")
    k0 = rep.n_invariant_  # the equivariant block's permutations, from the public one
    perms = [rep.feature_permutation(h)[k0:] - k0 for h in range(8)]
    canonical = np.array([min(p[j] for p in perms) for j in range(F_eq.shape[1])])
    reached = [np.flatnonzero(canonical == j) for j in range(F_eq.shape[1])]
    assert all(len(r) == 0 or canonical[j] == j for j, r in enumerate(reached))
    stab = np.array([sum(p[j] == j for p in perms) for j in range(F_eq.shape[1])])
    is_canonical = canonical == np.arange(F_eq.shape[1])
    # e maps the canonical member to itself; it shares it with the stabiliser's elements
    ident = (E[:, is_canonical] / (stab[is_canonical])).sum(1)
    np.testing.assert_allclose(el[:, 0], ident)


@pytest.mark.parametrize("group", ["D4", "C4", "D2"])
def test_heatmap_is_equivariant_for_an_invariant_model(digits, group):
    """The heatmap of g·x is g applied to the heatmap of x (invariant-block model)."""
    X, _ = digits
    clf = _fit(digits, "linear", blocks="invariant", group=group)
    g = get_group(group)
    x = X[900:920]
    ex = clf.explain(x)
    h = ex.heatmap()
    _, planes = ex.aggregate("plane")
    for e in g.elements:
        gx = g.apply(x, e)
        exg = clf.explain(gx, target=ex.target)
        np.testing.assert_allclose(exg.contributions, ex.contributions, atol=1e-12)
        np.testing.assert_allclose(exg.heatmap(), g.apply(h, e), atol=1e-10, err_msg=e)
        np.testing.assert_allclose(exg.aggregate("plane")[1], planes, atol=1e-10)


def test_heatmap_is_not_equivariant_for_an_equivariant_model(digits, models):
    """The control: with equivariant features the explanation depends on the pose."""
    X, _ = digits
    clf = models["linear"]
    ex = clf.explain(X[900:905])
    g = get_group("D4")
    exg = clf.explain(g.apply(X[900:905], "r90"), target=ex.target)
    assert np.abs(exg.heatmap() - g.apply(ex.heatmap(), "r90")).max() > 1e-3


def _ovo_margins(tail):
    """Per class, the sum of its one-vs-one SVM margins (the SVM's explained score)."""
    import copy

    svc = copy.deepcopy(tail[-1])
    svc.decision_function_shape = "ovo"

    def score(F):
        Z = tail[:-1].transform(F)
        d = svc.decision_function(Z)
        C = len(svc.classes_)
        out, k = np.zeros((len(F), C)), 0
        for i in range(C):
            for j in range(i + 1, C):
                out[:, i] += d[:, k]
                out[:, j] -= d[:, k]
                k += 1
        return out

    return score


def test_svm_score_is_the_sum_of_one_vs_one_margins(digits, models):
    """Its argmax is the SVM's prediction on these images; the 'ovr' votes are a step function."""
    X, _ = digits
    clf = models["svm"]
    ex = clf.explain(X[900:1000], target=0)
    F = clf.representation_.transform(X[900:1000]).astype(np.float64)
    np.testing.assert_allclose(ex.score, _ovo_margins(clf.pipeline_[1:])(F)[:, 0], rtol=1e-6)
    ex = clf.explain(X[900:1000])
    assert (ex.score > 0).mean() > 0.9


@pytest.mark.parametrize("name", ["svm", "knn", "mlp", "kernel-ridge"])
def test_occlusion_is_the_score_drop_and_says_it_is_approximate(digits, models, name):
    X, _ = digits
    clf = models[name]
    x = X[900:903]
    ex = clf.explain(x)
    assert not ex.exact and ex.method == "occlusion" and "approximate" in repr(ex)
    F = clf.representation_.transform(x).astype(np.float64)
    mu = clf.scaler_.mean_
    tail = clf.pipeline_[1:]  # scaler, PCA, classifier
    if name == "svm":
        score_of = _ovo_margins(tail)
    elif name == "kernel-ridge":
        score_of = tail.decision_function
    else:
        score_of = tail.predict_proba
    k = np.searchsorted(clf.classes_, ex.target)
    np.testing.assert_allclose(ex.score, score_of(F)[np.arange(3), k], rtol=1e-5, atol=1e-6)
    rng = np.random.default_rng(0)
    for j in rng.choice(F.shape[1], 6, replace=False):
        occluded = F.copy()
        occluded[:, j] = mu[j]
        drop = ex.score - score_of(occluded)[np.arange(3), k]
        np.testing.assert_allclose(ex.contributions[:, j], drop, rtol=1e-4, atol=1e-6)
    base = score_of(mu[None])[0, k]
    np.testing.assert_allclose(ex.baseline, base, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ex.residual, ex.score - ex.baseline - ex.contributions.sum(1))


def test_targets(digits, models):
    X, _ = digits
    clf = models["linear"]
    x = X[900:910]
    assert np.array_equal(clf.explain(x).target, clf.predict(x))
    assert (clf.explain(x, target=4).target == 4).all()
    per = np.arange(10)
    assert np.array_equal(clf.explain(x, target=per).target, per)
    with pytest.raises(ValueError, match="target 11 is not one of the classes"):
        clf.explain(x, target=11)
    with pytest.raises(ValueError, match="one class label or one per image"):
        clf.explain(x, target=[1, 2])


def test_explain_bad_input(digits, models):
    X, _ = digits
    clf = models["linear"]
    with pytest.raises(NotFittedError):
        GlassBoxClassifier().explain(X[:2])
    bad = X[:2].astype(np.float64)
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="X"):
        clf.explain(bad)
    with pytest.raises(ValueError, match="shape"):
        clf.explain(X[:2, :4, :4])
    with pytest.raises(ValueError, match="must not be empty"):
        clf.explain(X[:0])
    # flattened rows are accepted as in predict
    ex = clf.explain(X[:2].reshape(2, -1))
    np.testing.assert_allclose(ex.heatmap(), clf.explain(X[:2]).heatmap())


def test_class_prototypes(digits):
    X, y = digits
    clf = _fit(digits, "linear", **HARD)  # raw counts: the prototype is the exact class mean
    rep = clf.representation_
    P = clf.class_prototypes()
    assert set(P) == {"level", "edges", "level_invariant", "edges_invariant"}
    for v in P.values():
        assert v.shape == (10, 8, 8)
    assert P["level"].min() >= 0 and P["level"].max() <= 1
    # the equivariant level prototype is the class-mean level map, pooled
    K = rep.thresholds_.size
    lv = level_map(rep, X[:900]) / K
    pooled = lv.reshape(900, 4, 2, 4, 2).mean(axis=(2, 4))
    for c in range(10):
        m = pooled[y[:900] == c].mean(axis=0)
        np.testing.assert_allclose(P["level"][c, ::2, ::2], m, rtol=1e-10)
    # the invariant part is the group average: invariant under every element
    g = get_group("D4")
    for e in g.elements:
        np.testing.assert_allclose(g.apply(P["level_invariant"], e), P["level_invariant"])
        np.testing.assert_allclose(g.apply(P["edges_invariant"], e), P["edges_invariant"])
    avg = np.mean([g.apply(P["level"], e) for e in g.elements], axis=0)
    np.testing.assert_allclose(P["level_invariant"], avg, rtol=1e-10)


def test_class_prototypes_of_the_defaults(models):
    """With square roots (the default) the prototypes square the class-mean roots: at most the
    mean count, so the level prototype stays in [0, 1]; the invariant part is still invariant."""
    P = models["linear"].class_prototypes()
    assert P["level"].shape == (10, 8, 8) and P["level"].min() >= 0 and P["level"].max() <= 1
    assert P["edges"].min() >= 0 and P["edges"].max() > 0
    g = get_group("D4")
    for e in g.elements:
        np.testing.assert_allclose(g.apply(P["level_invariant"], e), P["level_invariant"])


def test_class_prototypes_of_one_block_models(digits):
    # without square roots, the orbit sums' average is the members' average
    inv = _fit(digits, "lda", blocks="invariant", **HARD)
    P = inv.class_prototypes()
    assert P["level"] is None and P["edges"] is None and P["level_invariant"].shape == (10, 8, 8)
    eq = _fit(digits, "lda", blocks="equivariant", **HARD)
    Q = eq.class_prototypes()
    np.testing.assert_allclose(Q["level_invariant"], P["level_invariant"], rtol=1e-10)
    np.testing.assert_allclose(Q["edges_invariant"], P["edges_invariant"], rtol=1e-10)
    with pytest.raises(NotFittedError):
        GlassBoxClassifier().class_prototypes()


def test_level_and_step_maps_sum_to_the_features():
    rng = np.random.default_rng(4)
    X = rng.integers(0, 256, (3, 12, 12), dtype=np.uint8)
    rep = GlassBoxRepresentation(thresholds=[50, 150], cell_size=3, distances=(1, 3), **HARD).fit(X)
    F_eq = _equivariant_twin(rep).transform(X)
    lv = level_map(rep, X)
    assert lv.dtype == np.int32 and lv.max() <= 2
    np.testing.assert_array_equal(
        F_eq[:, :36], lv.reshape(3, 6, 2, 6, 2).sum(axis=(2, 4)).reshape(3, -1)
    )
    for i, d in enumerate((1, 3)):
        for k, direction in enumerate(DIRECTIONS):
            s = step_map(rep, X, direction, d)
            a = 36 + (i * 8 + k) * 16
            cells = s.reshape(3, 4, 3, 4, 3).sum(axis=(2, 4)).reshape(3, -1)
            np.testing.assert_array_equal(F_eq[:, a : a + 16], cells)
