"""GlassBoxClassifier(augment=...): training on the group's copies of every image by permuting
feature columns, which is the same as computing the features of the moved images, for free."""

from __future__ import annotations

import numpy as np
import pytest

from glassbox import GlassBoxClassifier, GlassBoxRepresentation, get_group
from glassbox.persistence import load_model, save_model
from glassbox.streaming import fit_reduction


@pytest.fixture(scope="module")
def digits(digits_images):
    X, y = digits_images
    return X[:300], y[:300], X[300:500], y[300:500]


def _moved(X, y, group):
    g = get_group(group)
    return np.concatenate([g.apply(X, h) for h in g.elements]), np.tile(y, g.order)


@pytest.mark.parametrize(("group", "augment"), [("D4", "D4"), ("D4", "C4"), ("D2", "D2")])
def test_same_model_as_training_on_moved_images(digits, group, augment):
    X, y, Xt, _ = digits
    rep = GlassBoxRepresentation(group=group, thresholds=8)
    aug = GlassBoxClassifier(rep, n_components=30, augment=augment).fit(X, y)
    Xm, ym = _moved(X, y, augment)
    ref = GlassBoxClassifier(rep, n_components=30).fit(Xm, ym)
    np.testing.assert_array_equal(aug.scaler_.mean_, ref.scaler_.mean_)
    np.testing.assert_array_equal(aug.class_means_, ref.class_means_)
    np.testing.assert_allclose(np.abs(aug.pca_.components_), np.abs(ref.pca_.components_),
                               atol=1e-6)  # fmt: skip
    np.testing.assert_array_equal(aug.predict(Xt), ref.predict(Xt))
    np.testing.assert_array_equal(aug.decision_function(Xt), ref.decision_function(Xt))


def test_features_are_computed_once_per_image(digits, monkeypatch):
    X, y, _, _ = digits
    rows = []
    real = GlassBoxRepresentation.transform

    def counting(self, images, out=None):
        rows.append(len(images))
        return real(self, images, out=out)

    monkeypatch.setattr(GlassBoxRepresentation, "transform", counting)
    clf = GlassBoxClassifier(n_components=20, augment="D4").fit(X, y)
    assert sum(rows) == len(X)  # not 8 times as many
    assert clf.classifier_.fit_status_ == 0 and clf.classifier_.shape_fit_[0] == 8 * len(X)


def test_streamed_fit_with_augmentation(digits):
    """pca_batch_size: the chunks' copies stream through the scaler and IncrementalPCA; the
    scaler and class means equal the in-memory fit's, the components span the same space."""
    X, y, Xt, yt = digits
    mem = GlassBoxClassifier(n_components=20, augment="D4").fit(X, y)
    streamed = GlassBoxClassifier(n_components=20, augment="D4", pca_batch_size=70).fit(X, y)
    np.testing.assert_allclose(streamed.scaler_.mean_, mem.scaler_.mean_, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(streamed.scaler_.var_, mem.scaler_.var_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(streamed.class_means_, mem.class_means_, rtol=1e-12)
    np.testing.assert_allclose(
        streamed.pca_.explained_variance_ratio_.sum(),
        mem.pca_.explained_variance_ratio_.sum(),
        rtol=1e-3,
    )
    assert streamed.classifier_.shape_fit_[0] == 8 * len(X)
    assert abs(streamed.score(Xt, yt) - mem.score(Xt, yt)) <= 0.03


def test_a_group_outside_the_representations_is_refused(digits):
    X, y, _, _ = digits
    rep = GlassBoxRepresentation(group="C4")
    with pytest.raises(ValueError, match=r"augment='D4' holds \['fh', 'fv', 't', 'at'\]"):
        GlassBoxClassifier(rep, augment="D4").fit(X, y)
    with pytest.raises(ValueError, match="augment: "):
        GlassBoxClassifier(augment="D5").fit(X, y)
    with pytest.raises(ValueError, match="augment: "):
        GlassBoxClassifier(augment=4).fit(X, y)


def test_memory_check_counts_the_copies(monkeypatch):
    """Refused before any feature is computed when the copies cannot be held, though the
    images' own features could."""
    from glassbox import _validation

    X = np.random.default_rng(0).integers(0, 256, (1000, 28, 28), dtype=np.uint8)
    y = np.arange(1000) % 3
    monkeypatch.setattr(_validation, "memory_limit", lambda: 100_000_000)
    GlassBoxClassifier(n_components=10).fit(X, y)  # fits without augmentation
    with pytest.raises(ValueError, match="fitting on 1,000 images x 8 group elements"):
        GlassBoxClassifier(n_components=10, augment="D4").fit(X, y)


def test_saved_and_loaded(tmp_path, digits):
    X, y, Xt, _ = digits
    clf = GlassBoxClassifier(n_components=20, augment="D2").fit(X, y)
    save_model(clf, tmp_path / "m")
    back = load_model(tmp_path / "m")
    assert back.augment == "D2"
    np.testing.assert_array_equal(back.predict(Xt), clf.predict(Xt))


def test_fit_reduction_checks_its_permutations(digits):
    X, _, _, _ = digits
    rep = GlassBoxRepresentation().fit(X)
    nf = rep.n_features_out_
    for bad in ([np.arange(nf - 1)], [np.zeros(nf, int)], []):
        with pytest.raises(ValueError, match="permutations"):
            fit_reduction(rep, X, 5, permutations=bad)


# -- the compiled column gather behind it -------------------------------------------------------


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_permuted_copies_equal_numpy(n_threads):
    from glassbox._kernels import permuted_copies

    rng = np.random.default_rng(0)
    F = rng.standard_normal((37, 50)).astype(np.float32)
    index = [rng.permutation(50), rng.integers(0, 50, 50), np.arange(50)[::-1]]
    got = permuted_copies(F, index, n_threads=n_threads)
    np.testing.assert_array_equal(got, np.concatenate([F[:, p] for p in index]))
    # other lengths, a strided view (copied); no rows is an error
    short = [rng.integers(0, 50, 7)]
    np.testing.assert_array_equal(permuted_copies(F[:, ::1], short), F[:, short[0]])
    view = F[::2, :]
    np.testing.assert_array_equal(permuted_copies(view, short), view[:, short[0]])
    with pytest.raises(ValueError, match="rows must not be empty"):
        permuted_copies(F[:0], index)


def test_permuted_copies_refuse_bad_input():
    from glassbox import _core
    from glassbox._kernels import permuted_copies

    F = np.zeros((4, 6), np.float32)
    with pytest.raises(TypeError, match="rows"):
        permuted_copies(F.astype(np.float64), [np.arange(6)])
    with pytest.raises(ValueError, match="rows"):
        permuted_copies(F[0], [np.arange(6)])
    with pytest.raises(ValueError, match=r"index values must lie in \[0, rows.shape\[1\]\)"):
        permuted_copies(F, [np.array([0, 6])])
    with pytest.raises(ValueError, match=r"index values must lie"):
        permuted_copies(F, [np.array([-1, 0])])
    with pytest.raises(ValueError, match="at least one"):
        permuted_copies(F, [])
    with pytest.raises(ValueError, match="one length"):
        permuted_copies(F, [np.arange(6), np.arange(5)])
    with pytest.raises(ValueError, match="out must not overlap rows"):
        _core.take_columns(F, np.arange(6), F, 1)
    with pytest.raises(ValueError, match="out"):
        _core.take_columns(F, np.arange(6), np.zeros((4, 5), np.float32), 1)
