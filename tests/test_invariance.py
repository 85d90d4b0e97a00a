"""GlassBoxClassifier(invariance=...): a model whose scores are exactly invariant to a group,
trained on the group's copies of every image labelled with their pose."""

from __future__ import annotations

import json

import numpy as np
import pytest

from glassbox import GlassBoxClassifier, GlassBoxRepresentation, get_group
from glassbox.persistence import load_model, save_model

CLASSIFIERS = ("svm", "linear", "lda", "knn", "mlp", "kernel-ridge")


@pytest.fixture(scope="module")
def digits(digits_images):
    X, y = digits_images
    return X[:240], y[:240], X[240:300], y[240:300]


@pytest.fixture(scope="module")
def models(digits):
    X, y, _, _ = digits
    rep = GlassBoxRepresentation(thresholds=6)
    return {
        name: GlassBoxClassifier(rep, n_components=20, classifier=name, invariance="D4").fit(X, y)
        for name in CLASSIFIERS
    }


def _outputs(clf, X):
    """Every score a model hands out for X."""
    out = [clf.predict(X)]
    if hasattr(clf, "decision_function"):
        out.append(clf.decision_function(X))
    if hasattr(clf, "predict_proba"):
        out.append(clf.predict_proba(X))
    return out


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_scores_are_invariant_bit_for_bit(models, digits, name):
    clf = models[name]
    _, _, Xt, _ = digits
    want = _outputs(clf, Xt)
    g = get_group("D4")
    for h in g.elements:
        for got, ref in zip(_outputs(clf, g.apply(Xt, h)), want, strict=True):
            np.testing.assert_array_equal(got, ref, err_msg=f"{name}, element {h}")


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_the_classifier_sees_every_copy_with_its_pose(models, digits, name):
    X, y, _, _ = digits
    clf = models[name]
    C = clf.classes_.size
    assert np.array_equal(clf.classifier_.classes_, np.arange(8 * C))
    # the reduction and the class means are those of the images as given
    plain = GlassBoxClassifier(clf.representation, n_components=20, classifier=name).fit(X, y)
    np.testing.assert_array_equal(clf.scaler_.mean_, plain.scaler_.mean_)
    np.testing.assert_array_equal(clf.class_means_, plain.class_means_)


@pytest.mark.parametrize("name", ["mlp", "knn", "linear"])
def test_probabilities_are_the_orbit_mean(models, digits, name):
    _, _, Xt, _ = digits
    P = models[name].predict_proba(Xt)
    assert P.shape == (len(Xt), 10) and (P >= 0).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)


def test_scores_are_the_orbit_mean_of_the_copies_scores(models, digits):
    """decision_function of the LDA model against the definition, copy by copy."""
    clf = models["lda"]
    _, _, Xt, _ = digits
    rep = clf.representation_
    F = rep.transform(Xt)
    C = clf.classes_.size
    want = np.zeros((len(Xt), C))
    for h in get_group("D4").elements:
        Z = clf._reduce_features(F[:, rep.feature_permutation(h)])
        d = clf.classifier_.decision_function(Z).reshape(len(Xt), 8, C)
        want += d.max(axis=1) / 8
    np.testing.assert_allclose(clf.decision_function(Xt), want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(("group", "invariance"), [("D4", "C4"), ("D4", "D2"), ("C4", "C2")])
def test_subgroups(digits, group, invariance):
    X, y, Xt, _ = digits
    rep = GlassBoxRepresentation(group=group, thresholds=6)
    clf = GlassBoxClassifier(rep, n_components=20, classifier="lda", invariance=invariance)
    clf.fit(X, y)
    sub = get_group(invariance)
    assert clf.classifier_.classes_.size == sub.order * 10
    want = clf.decision_function(Xt)
    for h in sub.elements:
        np.testing.assert_array_equal(clf.decision_function(sub.apply(Xt, h)), want)
    # an element outside the subgroup moves the scores
    outside = [h for h in get_group("D4").elements if h not in sub.elements]
    moved = [clf.decision_function(get_group("D4").apply(Xt, h)) for h in outside]
    assert any(not np.array_equal(m, want) for m in moved)


def test_streamed_fit_is_invariant_too(digits):
    X, y, Xt, _ = digits
    clf = GlassBoxClassifier(
        n_components=20, classifier="lda", invariance="D4", pca_batch_size=70
    ).fit(X, y)
    assert clf.classifier_.classes_.size == 80
    plain = GlassBoxClassifier(n_components=20, pca_batch_size=70).fit(X, y)
    np.testing.assert_array_equal(clf.class_means_, plain.class_means_)
    want = clf.decision_function(Xt)
    g = get_group("D4")
    for h in g.elements:
        np.testing.assert_array_equal(clf.decision_function(g.apply(Xt, h)), want)


def test_invariant_representation_block(digits):
    """blocks="invariant": every copy is the same vector; the model is still well defined."""
    X, y, Xt, _ = digits
    rep = GlassBoxRepresentation(thresholds=6, blocks="invariant")
    clf = GlassBoxClassifier(rep, n_components=10, classifier="lda", invariance="D4").fit(X, y)
    np.testing.assert_array_equal(clf.predict(get_group("D4").apply(Xt, "r90")), clf.predict(Xt))


# -- explanations ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["linear", "lda"])
def test_linear_explanations_are_exact(models, digits, name):
    clf = models[name]
    _, _, Xt, _ = digits
    ex = clf.explain(Xt[:6])
    assert ex.exact and ex.method == "linear"
    np.testing.assert_allclose(ex.score, clf.decision_function(Xt[:6]).max(axis=1), rtol=1e-12)
    scale = np.abs(ex.contributions).sum(axis=1).max()
    assert np.abs(ex.residual).max() < 1e-9 * scale
    np.testing.assert_allclose(ex.heatmap().sum(axis=(1, 2)), ex.contributions.sum(axis=1),
                               rtol=1e-9, atol=1e-9 * scale)  # fmt: skip
    for how in ("plane", "block", "element"):
        total = ex.aggregate(how)[1].sum(axis=1)
        np.testing.assert_allclose(total, ex.contributions.sum(axis=1), atol=1e-9 * scale)


@pytest.mark.parametrize("name", ["lda", "mlp"])
@pytest.mark.parametrize("h", ["r90", "fh", "at"])
def test_heatmap_of_a_moved_image_is_the_moved_heatmap(models, digits, name, h):
    clf = models[name]
    _, _, Xt, _ = digits
    x = Xt[:3]
    g = get_group("D4")
    ex, ex_h = clf.explain(x), clf.explain(g.apply(x, h))
    np.testing.assert_array_equal(ex_h.score, ex.score)
    perm = clf.representation_.feature_permutation(h)
    np.testing.assert_allclose(ex_h.contributions, ex.contributions[:, perm], atol=1e-9)
    np.testing.assert_allclose(ex_h.heatmap(), g.apply(ex.heatmap(), h), atol=1e-9)


def test_explaining_another_class(models, digits):
    clf = models["lda"]
    _, _, Xt, _ = digits
    ex = clf.explain(Xt[:4], target=3)
    np.testing.assert_allclose(ex.score, clf.decision_function(Xt[:4])[:, 3], rtol=1e-12)
    assert np.abs(ex.residual).max() < 1e-8


def test_occlusion_explanations_of_the_invariant_score(models, digits):
    clf = models["mlp"]
    _, _, Xt, _ = digits
    ex = clf.explain(Xt[:2])
    assert not ex.exact and ex.method == "occlusion"
    np.testing.assert_array_equal(ex.score, clf.predict_proba(Xt[:2]).max(axis=1))
    assert np.isfinite(ex.contributions).all() and np.abs(ex.contributions).sum() > 0


# -- parameters and saved models ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"invariance": "D3"}, "invariance: "),
        ({"invariance": 4}, "invariance: "),
        ({"invariance": "D4", "augment": "D4"}, "augment and invariance cannot be combined"),
        (
            {"invariance": "D4", "representation": GlassBoxRepresentation(group="C4")},
            r"invariance='D4' holds \['fh', 'fv', 't', 'at'\]",
        ),
    ],
)
def test_bad_invariance_is_refused(digits, kwargs, match):
    X, y, _, _ = digits
    with pytest.raises(ValueError, match=match):
        GlassBoxClassifier(n_components=10, **kwargs).fit(X, y)


def test_saved_invariant_model_round_trip(models, digits, tmp_path):
    clf = models["mlp"]
    _, _, Xt, _ = digits
    save_model(clf, tmp_path / "m")
    doc = json.loads((tmp_path / "m" / "model.json").read_text())
    assert doc["version"] == 7
    back = load_model(tmp_path / "m")
    assert back.invariance == "D4"
    P = back.predict_proba(Xt)
    np.testing.assert_allclose(P, clf.predict_proba(Xt), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(back.predict_proba(get_group("D4").apply(Xt, "t")), P)
