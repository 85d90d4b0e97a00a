"""classifier="kernel-ridge": RBF kernel ridge on Nystroem landmarks, learnt from sums over chunks
(glassbox._nystroem, glassbox._fit_stream)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from glassbox import GlassBoxClassifier, GlassBoxRepresentation, _fit_stream
from glassbox import _nystroem as ny
from glassbox._fit_stream import _Moments, reduction_from_moments
from glassbox._nystroem import NystroemRidgeClassifier
from glassbox.persistence import load_model, save_model


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int) + (X[:, 2] > 0.5)
    return X, y


def test_with_every_row_a_landmark_it_is_exact_kernel_ridge(rows):
    X, y = rows
    clf = NystroemRidgeClassifier(n_landmarks=1000, alpha=1e-3).fit(X, y)
    assert len(clf.landmarks_) == len(X)
    g = clf.gamma_
    np.testing.assert_allclose(g, 1 / (X.shape[1] * X.var()), rtol=1e-6)
    L = clf.landmarks_.astype(np.float64)
    K = ny.rbf64(L, L, g)
    # (K + jitter + alpha n I)^{-1} Y on the landmarks' order
    order = [int(np.flatnonzero((X.astype(np.float32) == row).all(1))[0]) for row in clf.landmarks_]
    Yl = ny.targets(np.searchsorted(clf.classes_, y[order]), 3)
    dual = np.linalg.solve(K + (ny._JITTER + 1e-3 * len(X)) * np.eye(len(X)), Yl)
    Xt = np.random.default_rng(1).normal(size=(50, 6))
    want = ny.rbf64(Xt, L, g) @ dual
    np.testing.assert_allclose(clf.decision_function(Xt), want, rtol=1e-4, atol=1e-4)  # float32


@pytest.mark.parametrize("refine", [0, 60])
def test_scores_are_kernel_values_times_the_dual_coefficients(rows, refine):
    X, y = rows
    clf = NystroemRidgeClassifier(n_landmarks=40, random_state=3, refine_landmarks=refine)
    clf.fit(X, y)
    Xt = X[:25] + 0.1
    np.testing.assert_array_equal(clf.decision_function(Xt), clf.kernel(Xt) @ clf.dual_coef_)
    assert clf.kernel(Xt).shape == (25, 40 + refine)
    two = NystroemRidgeClassifier(n_landmarks=40, refine_landmarks=refine).fit(X, y > 0)
    d = two.decision_function(Xt)
    assert d.shape == (25,)
    np.testing.assert_array_equal(two.predict(Xt), two.classes_[(d > 0).astype(int)])


def test_normal_equation_sums_split_at_blocks_add_up_bit_for_bit():
    rng = np.random.default_rng(5)
    Z = rng.normal(size=(5000, 8)).astype(np.float32)
    Y = ny.targets(rng.integers(0, 4, 5000), 4)
    nmap = ny.NystroemMap(Z[:30], 0.1)
    H, B = nmap.sums(Z, Y)
    for cut in (2048, 4096):
        h1, b1 = nmap.sums(Z[:cut], Y[:cut])
        h2, b2 = nmap.sums(Z[cut:], Y[cut:])
        np.testing.assert_array_equal(h1 + h2, H)
        np.testing.assert_array_equal(b1 + b2, B)
    # the padded last block adds what its rows add
    P = nmap.features(Z[4096:]).astype(np.float64)
    h2, _ = nmap.sums(Z[4096:], Y[4096:])
    np.testing.assert_allclose(h2, P.T @ P, rtol=1e-5, atol=1e-5 * np.abs(h2).max())


def test_map_whitens_and_dual_undoes_it_on_the_lower_triangle_only():
    rng = np.random.default_rng(6)
    Z = rng.normal(size=(200, 5)).astype(np.float32)
    nmap = ny.NystroemMap(Z[:40], 0.2)
    Linv = np.tril(nmap.whiten).astype(np.float64)  # what lies above the diagonal is unused
    K = ny.rbf64(Z[:40], Z[:40], 0.2) + ny._JITTER * np.eye(40)
    np.testing.assert_allclose(Linv @ K @ Linv.T, np.eye(40), atol=1e-3)  # L^-1 K L^-T = I
    np.testing.assert_allclose(
        nmap.features(Z[40:]), ny.rbf(Z[40:], Z[:40], 0.2) @ Linv.T, rtol=1e-4, atol=1e-5
    )
    W = rng.normal(size=(40, 3))
    kept = W.copy()
    np.testing.assert_allclose(nmap.dual(W), Linv.T @ W, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(W, kept)  # the coefficients given are not overwritten
    np.testing.assert_array_equal(nmap.dual(W), nmap.dual(W))


def test_sums_of_parts_are_added_in_place_in_order():
    rng = np.random.default_rng(7)
    parts = [(rng.normal(size=(4, 4)), rng.normal(size=(4, 2)), k) for k in range(5)]
    want = (sum(p[0] for p in parts), sum(p[1] for p in parts), 10)
    total = None
    for p in parts:
        total = ny.add_parts(total, p)
    for got, w in zip(total, want, strict=True):
        np.testing.assert_array_equal(got, w)  # bit for bit: the same additions, in order
    assert not np.shares_memory(total[0], parts[0][0])  # the parts are left as they were
    H, B = ny._sum((p[0], p[1]) for p in parts)
    np.testing.assert_array_equal(H, want[0])
    np.testing.assert_array_equal(B, want[1])
    assert ny._sum(iter(())) == (0.0, 0.0)


def test_duplicate_landmarks_are_dropped():
    X = np.repeat(np.arange(6.0)[:, None], 50, axis=0) * [1.0, 2.0]
    y = np.repeat([0, 1, 0, 1, 2, 2], 50)
    clf = NystroemRidgeClassifier(n_landmarks=100, refine_landmarks=0).fit(X, y)
    assert len(clf.landmarks_) == 6
    assert clf.score(X, y) == 1.0
    # each stage's landmarks are distinct (the second's may repeat the first's values)
    two = NystroemRidgeClassifier(n_landmarks=100).fit(X, y)
    assert (
        two.n_refined_ > 0 and len(np.unique(two.landmarks_[6:], axis=0)) == len(two.landmarks_) - 6
    )
    assert two.score(X, y) == 1.0


def test_the_second_stage_fits_the_first_stages_residuals_on_its_hardest_rows(rows):
    X, y = rows
    one = NystroemRidgeClassifier(n_landmarks=40, refine_landmarks=0).fit(X, y)
    two = NystroemRidgeClassifier(n_landmarks=40, refine_landmarks=60).fit(X, y)
    assert one.n_refined_ == 0 and two.n_refined_ == 120  # 0.4 of 300 rows
    # the first stage is the one-stage model
    np.testing.assert_array_equal(two.landmarks_[:40], one.landmarks_)
    np.testing.assert_array_equal(two.dual_coef_[:40], one.dual_coef_)
    # the rows it is least sure of: the smallest gaps between the two highest scores
    y_enc = np.searchsorted(one.classes_, y)
    S = ny.NystroemMap(one.landmarks_, one.gamma_).scores(X, one.dual_coef_)  # float32 kernel
    np.testing.assert_allclose(S, one.decision_function(X), atol=1e-4)
    top = np.sort(S, axis=1)
    hard = np.sort(np.argsort(top[:, -1] - top[:, -2])[:120])
    assert set(two.landmark_images_[40:]) <= set(hard) - set(one.landmark_images_)
    assert len(two.landmarks_) == 100
    # stage 2: the same ridge (10 times the penalty) on their residuals, on its landmarks
    nmap = ny.NystroemMap(two.landmarks_[40:], two.gamma_)
    Y = ny.targets(y_enc, 3)
    H, B = nmap.sums(X[hard], (Y - S)[hard], pad=False)
    want = nmap.dual(nmap.solve(H, B, 120, 10 * two.alpha))
    np.testing.assert_allclose(two.dual_coef_[40:], want, rtol=1e-12)
    # it fits the refined rows better
    S2 = two.decision_function(X)
    assert ((Y - S2)[hard] ** 2).sum() < 0.9 * ((Y - S)[hard] ** 2).sum()


def test_no_second_stage_without_rows_to_refine(rows):
    X, y = rows
    for kw in ({"n_landmarks": 300}, {"refine_fraction": 0.0}, {"refine_fraction": 0.001}):
        clf = NystroemRidgeClassifier(**{"n_landmarks": 40, **kw}).fit(X, y)
        assert clf.n_refined_ == 0
        assert len(clf.landmarks_) == min(kw.get("n_landmarks", 40), len(X))
    # the refined rows all landmarks of the first stage already: no candidate, no second stage
    m = np.array([0.5, -1.0, 2.0, -3.0])
    assert ny.refined_rows(m, 0.5, taken=[1, 3]) is None
    tau, hard, pool = ny.refined_rows(m, 0.5, taken=[3])
    assert tau == -1.0 and hard.tolist() == [1, 3] and pool.tolist() == [1]
    rng = np.random.default_rng(0)
    found = []
    for seed in range(40):  # some draws' hardest rows are all the first stage's landmarks
        clf = NystroemRidgeClassifier(n_landmarks=3, refine_fraction=0.5, random_state=seed)
        found.append(clf.fit(rng.normal(size=(4, 2)), [0, 1, 0, 1]).n_refined_)
    assert 0 in found and 2 in found


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"n_landmarks": 0}, "n_landmarks"),
        ({"n_landmarks": 2.5}, "n_landmarks"),
        ({"alpha": 0}, "alpha"),
        ({"alpha": float("nan")}, "alpha"),
        ({"gamma": -1.0}, "gamma"),
        ({"gamma": "auto"}, "gamma"),
        ({"gamma": float("inf")}, "gamma"),
        ({"refine_landmarks": -1}, "refine_landmarks"),
        ({"refine_landmarks": 2.5}, "refine_landmarks"),
        ({"refine_fraction": 1.5}, "refine_fraction"),
        ({"refine_fraction": float("nan")}, "refine_fraction"),
        ({"refine_fraction": True}, "refine_fraction"),
        ({"refine_fraction": "0.4"}, "refine_fraction"),
    ],
)
def test_bad_parameters_are_named(rows, kw, match):
    X, y = rows
    with pytest.raises((ValueError, TypeError), match=match):
        NystroemRidgeClassifier(**kw).fit(X, y)


def test_reduction_from_moments_is_covariance_pca():
    rng = np.random.default_rng(2)
    F = (rng.normal(size=(700, 12)) * rng.uniform(0.1, 20, 12) + 1000).astype(np.float32)
    F[:, 3] = 7.0  # a constant feature
    for scale in (True, False):
        mom = _Moments(F[:128].mean(axis=0, dtype=np.float64))  # the first chunk's mean
        for a in range(0, 700, 128):
            mom.add(F[a : a + 128])
        scaler, pca = reduction_from_moments(mom, 5, scale, 0)
        G = F.astype(np.float64)
        if scale:
            ref_s = StandardScaler().fit(G)
            np.testing.assert_allclose(scaler.mean_, ref_s.mean_, rtol=1e-12)
            np.testing.assert_allclose(scaler.scale_, ref_s.scale_, rtol=1e-9)
            G = ref_s.transform(G)
        else:
            assert scaler is None
        ref = PCA(5, svd_solver="covariance_eigh").fit(G)
        np.testing.assert_allclose(pca.components_, ref.components_, atol=1e-8)
        np.testing.assert_allclose(pca.explained_variance_, ref.explained_variance_, rtol=1e-9)
        np.testing.assert_allclose(pca.transform(G), ref.transform(G), atol=1e-6)


@pytest.fixture(scope="module")
def digits_split(digits_images):
    X, y = digits_images
    return X[:900], y[:900], X[900:1300], y[900:1300]


def _model(**kw):
    rep = GlassBoxRepresentation(thresholds=6)
    return GlassBoxClassifier(rep, n_components=30, classifier="kernel-ridge", **kw)


def test_accuracy_on_digits(digits_split):
    X, y, Xt, yt = digits_split
    clf = _model().fit(X, y)
    assert clf.score(Xt, yt) > 0.93
    assert clf.pca_.n_components_ == 30 and len(clf.classifier_.landmarks_) == 900


@pytest.mark.parametrize("chunk", [1, 700, 2048, 5000])
def test_the_model_is_the_same_for_any_chunk_size_and_file(digits_split, tmp_path, chunk):
    X, y, Xt, _ = digits_split
    ref = _model().fit(X, y)
    np.save(tmp_path / "x.npy", X)
    for source in (X, tmp_path / "x.npy", str(tmp_path / "x.npy")):
        got = _model(pca_batch_size=chunk).fit(source, y)
        np.testing.assert_array_equal(got.classifier_.dual_coef_, ref.classifier_.dual_coef_)
        np.testing.assert_array_equal(got.pca_.components_, ref.pca_.components_)
        np.testing.assert_array_equal(got.class_means_, ref.class_means_)
        np.testing.assert_array_equal(got.decision_function(Xt), ref.decision_function(Xt))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_the_model_is_the_same_for_any_thread_count_of_the_representation(digits_split, threads):
    X, y, Xt, _ = digits_split
    ref = _model().fit(X, y)
    rep = GlassBoxRepresentation(thresholds=6, n_threads=threads)
    got = GlassBoxClassifier(rep, n_components=30, classifier="kernel-ridge").fit(X, y)
    np.testing.assert_array_equal(got.classifier_.dual_coef_, ref.classifier_.dual_coef_)


@pytest.mark.parametrize("blas", [1, 2, 3])
def test_the_model_is_the_same_for_any_blas_thread_count(digits_split, blas):
    """Products run on one BLAS thread (several parts at once instead), so that BLAS's
    thread count, whose rounding differs, cannot change the model."""
    X, y, Xt, _ = digits_split
    ref = _model().fit(X, y)
    with threadpool_limits(blas):
        got = _model().fit(X, y)
    np.testing.assert_array_equal(got.classifier_.dual_coef_, ref.classifier_.dual_coef_)
    np.testing.assert_array_equal(got.decision_function(Xt), ref.decision_function(Xt))
    alone = NystroemRidgeClassifier(n_landmarks=300)
    Z = ref._reduced(X)
    with threadpool_limits(blas):
        np.testing.assert_array_equal(
            alone.fit(Z, y).dual_coef_,
            NystroemRidgeClassifier(n_landmarks=300).fit(Z, y).dual_coef_,
        )


@pytest.mark.parametrize("kw", [{}, {"augment": "D1h"}])
def test_two_stages_are_the_same_model_for_any_chunks_threads_and_source(
    digits_split, tmp_path, monkeypatch, small_stages, kw
):
    """The second stage's rows are chosen by scores computed in the same fixed blocks as the
    sums, and its sums are added in part order, so that chunks, threads, the source and
    whether the rows are kept in memory or read again do not change the model."""
    X, y, Xt, _ = digits_split
    ref = _model(**kw).fit(X, y)
    head = ref.classifier_
    rows = 900 * (2 if kw else 1)
    assert head.n_refined_ >= int(0.4 * rows) and len(head.landmarks_) == 350
    np.save(tmp_path / "x.npy", X)
    rep3 = GlassBoxRepresentation(thresholds=6, n_threads=3)
    fits = [
        lambda: _model(pca_batch_size=1, **kw).fit(X, y),
        lambda: _model(pca_batch_size=700, **kw).fit(tmp_path / "x.npy", y),
        lambda: GlassBoxClassifier(rep3, n_components=30, classifier="kernel-ridge", **kw).fit(
            X, y
        ),
    ]
    for fit in fits:
        got = fit()
        np.testing.assert_array_equal(got.classifier_.dual_coef_, head.dual_coef_)
        np.testing.assert_array_equal(got.classifier_.landmark_images_, head.landmark_images_)
    with threadpool_limits(2):
        got = _model(**kw).fit(X, y)
    np.testing.assert_array_equal(got.classifier_.dual_coef_, head.dual_coef_)
    monkeypatch.setattr(_fit_stream, "KEEP_BYTES", 0)  # the parts read again, not kept
    got = _model(**kw).fit(tmp_path / "x.npy", y)
    np.testing.assert_array_equal(got.classifier_.dual_coef_, head.dual_coef_)
    np.testing.assert_array_equal(got.decision_function(Xt), ref.decision_function(Xt))
    # every landmark of the second stage is the training image, moved by its element, it names
    F = ref.representation_.transform(X)
    for k in (150, 230, 349):
        i, e = int(head.landmark_images_[k]), int(head.landmark_elements_[k])
        f = F[i : i + 1]
        if e:
            f = f[:, ref.representation_.feature_permutation(_element(ref, e))]
        np.testing.assert_allclose(head.landmarks_[k], ref._reduce_features(f)[0], atol=1e-5)
    assert head.landmark_elements_[150:].max() == (1 if kw else 0)


def test_parts_are_computed_in_parallel_in_order(digits_split):
    """Five parts of 8,192 images (the last one short) on 1 and 3 threads: the same model."""
    X, y, _, _ = digits_split
    Xb = np.concatenate([X] * 40)[:40_000]
    yb = np.tile(y, 40)[:40_000]
    models = []
    for threads in (1, 3):
        rep = GlassBoxRepresentation(thresholds=6, n_threads=threads)
        clf = GlassBoxClassifier(rep, n_components=10, classifier="kernel-ridge", C=1.0)
        models.append(clf.fit(Xb, yb))
    np.testing.assert_array_equal(
        models[0].classifier_.dual_coef_, models[1].classifier_.dual_coef_
    )


def test_more_landmarks_than_blocks_and_a_large_chunk(digits_split):
    """2,700 training rows: one part, one full block and a partial one of the normal equations,
    and more landmarks (2,700) than a block's rows."""
    X, y, Xt, yt = digits_split
    Xb, yb = np.concatenate([X, X[:, ::-1], X[:, :, ::-1]]), np.tile(y, 3)
    clf = _model(pca_batch_size=10**6).fit(Xb, yb)
    assert clf.classifier_.dual_coef_.shape == (len(clf.classifier_.landmarks_), 10)
    assert clf.score(Xt, yt) > 0.9


def test_fit_from_a_file_with_other_classifiers_reads_it_whole(digits_split, tmp_path):
    X, y, Xt, _ = digits_split
    np.save(tmp_path / "x.npy", X)
    rep = GlassBoxRepresentation(thresholds=6)
    a = GlassBoxClassifier(rep, n_components=20, classifier="lda").fit(tmp_path / "x.npy", y)
    b = GlassBoxClassifier(rep, n_components=20, classifier="lda").fit(X, y)
    np.testing.assert_array_equal(a.decision_function(Xt), b.decision_function(Xt))


def test_bad_sources_and_labels_are_named(digits_split, tmp_path):
    X, y, _, _ = digits_split
    np.save(tmp_path / "x.npy", X)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        _model().fit(tmp_path / "x.npy", y[:-1])
    with pytest.raises(FileNotFoundError, match="no such file"):
        _model().fit(tmp_path / "missing.npy", y)
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    with pytest.raises(ValueError, match="unknown format"):
        _model().fit(tmp_path / "junk.npy", y)
    bad = X.astype(np.float64)
    bad[5, 2, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _model().fit(bad, y)
    with pytest.raises(ValueError, match="2 classes"):
        _model().fit(X, np.zeros(len(X)))


def test_saved_model_round_trip_and_tampering(digits_split, tmp_path):
    X, y, Xt, _ = digits_split
    clf = _model().fit(X, y)
    back = load_model(save_model(clf, tmp_path / "m"))
    np.testing.assert_array_equal(back.decision_function(Xt), clf.decision_function(Xt))
    head = clf.classifier_
    head.n_refined_ = -1
    with pytest.raises(ValueError, match="n_refined_"):
        clf._check_fitted_state()
    head.n_refined_ = 0
    head.dual_coef_ = head.dual_coef_[:-1]
    with pytest.raises(ValueError, match="dual_coef_"):
        clf._check_fitted_state()


@pytest.mark.parametrize("kw", [{}, {"augment": "D1h"}])
def test_explain_examples_is_exact(digits_split, kw):
    X, y, Xt, _ = digits_split
    clf = _model(**kw).fit(X, y)
    ex = clf.explain_examples(Xt[:30])
    assert ex.exact and "exact" in repr(ex) and len(ex) == 30
    np.testing.assert_array_equal(ex.target, clf.predict(Xt[:30]))
    d = clf.decision_function(Xt[:30])
    k = np.searchsorted(clf.classes_, ex.target)
    np.testing.assert_allclose(ex.score, d[np.arange(30), k], rtol=1e-12)
    np.testing.assert_allclose(ex.baseline + ex.contributions.sum(1), ex.score, atol=1e-9)
    head = clf.classifier_
    assert ex.contributions.shape == (30, len(head.landmarks_))
    # each contribution is a training image's weight times its kernel value
    i = int(ex.training_images[0])
    if not kw:
        z = clf._reduced(X[i : i + 1])
        np.testing.assert_allclose(head.landmarks_[0], z[0], rtol=1e-5, atol=1e-5)
        assert (ex.elements == 0).all()
    else:
        assert set(np.unique(ex.elements)) == {0, 1}
    images, elements, weights = ex.top(5)
    assert images.shape == elements.shape == weights.shape == (30, 5)
    assert (np.abs(weights[:, :-1]) >= np.abs(weights[:, 1:])).all()
    assert np.abs(weights[:, 0]).max() == np.abs(ex.contributions).max()


def test_explain_examples_two_classes_and_targets(digits_split):
    X, y, Xt, _ = digits_split
    keep = np.isin(y, [3, 8])
    clf = _model().fit(X[keep], y[keep])
    d = clf.decision_function(Xt[:20])
    for target, sign in ((8, 1), (3, -1)):
        ex = clf.explain_examples(Xt[:20], target=target)
        np.testing.assert_allclose(ex.contributions.sum(1), sign * d, atol=1e-9)
    with pytest.raises(ValueError, match="not one of the classes"):
        clf.explain_examples(Xt[:20], target=5)


def test_explain_examples_of_an_invariant_model_is_exact_and_invariant(digits_split):
    from glassbox import get_group

    X, y, Xt, _ = digits_split
    clf = _model(invariance="C4").fit(X[:500], y[:500])
    ex = clf.explain_examples(Xt[:10])
    np.testing.assert_allclose(ex.contributions.sum(1), ex.score, atol=1e-9)
    g = get_group("C4")
    moved = clf.explain_examples(g.apply(Xt[:10], g.elements[1]), target=ex.target)
    np.testing.assert_array_equal(moved.score, ex.score)
    np.testing.assert_allclose(moved.contributions, ex.contributions, atol=1e-12)


@pytest.mark.parametrize("classes", [10, 2])
@pytest.mark.parametrize("kw", [{}, {"augment": "D1h"}, {"invariance": "C2"}])
def test_explain_examples_of_the_svm_onto_support_vectors(digits_split, classes, kw):
    X, y, Xt, _ = digits_split
    keep = y < classes if classes == 10 else np.isin(y, [3, 8])
    rep = GlassBoxRepresentation(thresholds=6)
    clf = GlassBoxClassifier(rep, n_components=20, **kw).fit(X[keep][:400], y[keep][:400])
    ex = clf.explain_examples(Xt[:12])
    # the score explain explains (one-vs-one margins summed), split exactly
    np.testing.assert_allclose(ex.score, clf.explain(Xt[:12]).score, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ex.baseline + ex.contributions.sum(1), ex.score, atol=1e-8)
    svc = clf.classifier_
    assert ex.contributions.shape == (12, len(svc.support_))
    n = min(400, keep.sum())
    np.testing.assert_array_equal(ex.training_images, svc.support_ % n)
    assert ex.training_images.max() < n
    # a support vector is the training image it says it is: the nearest of the training
    # images (moved by its element) to it (the SVM saw PCA's fit_transform, which differs
    # from transform by the randomised solver's approximation)
    i, e = int(ex.training_images[-1]), int(ex.elements[-1])
    F = clf.representation_.transform(X[keep][:400])
    if e:
        F = F[:, clf.representation_.feature_permutation(_element(clf, e))]
    Z = clf._reduce_features(F)
    assert np.argmin(((Z - svc.support_vectors_[-1]) ** 2).sum(1)) == i


def _element(clf, e):
    from glassbox import get_group

    return get_group(clf.augment or clf.invariance).elements[e]


def test_explain_examples_needs_a_kernel_model(digits_split):
    X, y, Xt, _ = digits_split
    rep = GlassBoxRepresentation(thresholds=6)
    clf = GlassBoxClassifier(rep, n_components=10, classifier="lda").fit(X, y)
    with pytest.raises(ValueError, match="kernel-ridge, svm"):
        clf.explain_examples(Xt[:3])
    with pytest.raises(ValueError, match="k must be"):
        _model().fit(X, y).explain_examples(Xt[:3]).top(0)


def test_a_fit_that_cannot_be_held_is_refused_before_any_work(monkeypatch, tmp_path):
    from glassbox import _validation

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (5000, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 5000)
    np.save(tmp_path / "x.npy", X)
    # 4,000 landmarks: their kernel, factor and normal equations alone take about 450 MB
    monkeypatch.setattr(_validation, "memory_limit", lambda: 200 * 2**20)
    for source in (X, tmp_path / "x.npy"):
        with pytest.raises(ValueError, match="fitting kernel-ridge on 5,000 images"):
            GlassBoxClassifier(classifier="kernel-ridge").fit(source, y)


def test_fit_from_an_image_folder_and_an_idx_file(digits_split, tmp_path):
    import gzip

    import cv2

    X, y, Xt, _ = digits_split
    X8 = (X * 16).clip(0, 255).astype(np.uint8)[:300]
    folder = tmp_path / "images"
    folder.mkdir()
    for i, im in enumerate(X8):
        cv2.imwrite(str(folder / f"{i:04d}.png"), im)
    idx = tmp_path / "train-images-idx3-ubyte.gz"
    header = np.array([0x0803, 300, 8, 8], dtype=">u4").tobytes()
    with gzip.open(idx, "wb") as f:
        f.write(header + X8.tobytes())
    ref = _model().fit(X8, y[:300])
    for source in (folder, idx):
        got = _model(pca_batch_size=100).fit(source, y[:300])
        np.testing.assert_array_equal(got.classifier_.dual_coef_, ref.classifier_.dual_coef_)
