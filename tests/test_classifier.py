from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

import glassbox as gb
from glassbox import GlassBoxClassifier, GlassBoxRepresentation


@pytest.fixture(scope="module")
def digits():
    ds = gb.datasets.load_digits()
    return train_test_split(
        ds.images, ds.labels, test_size=0.25, stratify=ds.labels, random_state=0
    )


def test_digits_accuracy_with_defaults(digits):
    """The issue's acceptance split: stratified 75/25, random_state=0; >= 0.99."""
    x_train, x_test, y_train, y_test = digits
    clf = GlassBoxClassifier().fit(x_train, y_train)
    assert clf.score(x_test, y_test) >= 0.99
    assert [name for name, _ in clf.pipeline_.steps] == [
        "representation",
        "scaler",
        "pca",
        "classifier",
    ]
    # the pipeline's first stages give the classifier's input
    Z = clf.pipeline_[:-1].transform(x_test)
    np.testing.assert_array_equal(
        clf.classifier_.predict(Z), np.searchsorted(clf.classes_, clf.predict(x_test))
    )


@pytest.mark.parametrize(
    ("name", "proba", "decision"),
    [
        ("svm", False, True),
        ("linear", True, True),
        ("lda", True, True),
        ("knn", True, False),
        ("mlp", True, False),
    ],
)
def test_every_classifier(digits, name, proba, decision):
    x_train, x_test, y_train, y_test = digits
    clf = GlassBoxClassifier(classifier=name, n_components=40).fit(x_train, y_train)
    assert clf.score(x_test, y_test) > 0.95
    assert hasattr(clf, "predict_proba") is proba
    assert hasattr(clf, "decision_function") is decision
    if proba:
        p = clf.predict_proba(x_test)
        assert p.shape == (len(x_test), 10)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
        np.testing.assert_array_equal(clf.classes_[p.argmax(axis=1)], clf.predict(x_test))
    if decision:
        assert clf.decision_function(x_test).shape == (len(x_test), 10)


def test_labels_flat_input_and_parameters(digits):
    x_train, x_test, y_train, _ = digits
    names = np.array(list("abcdefghij"))
    rep = GlassBoxRepresentation(thresholds=8)
    clf = GlassBoxClassifier(representation=rep, n_components=30, scale=False)
    clf.fit(x_train.reshape(len(x_train), -1), names[y_train])
    assert clf.scaler_ is None and clf.pca_.n_components_ == 30
    assert set(clf.predict(x_test)) <= set(names)
    np.testing.assert_array_equal(clf.predict(x_test), clf.predict(x_test.reshape(len(x_test), -1)))
    assert not hasattr(rep, "thresholds_")  # the given representation is cloned, not fitted
    assert clf.representation_.thresholds_.size == 8
    assert clf.n_features_in_ == 64
    # more components than features or samples: as many as there are
    small = GlassBoxClassifier(n_components=10_000).fit(x_train[:50], y_train[:50])
    assert small.pca_.n_components_ == 50


def test_bad_input(digits):
    x_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match="classifier must be one of"):
        GlassBoxClassifier(classifier="forest").fit(x_train, y_train)
    assert not hasattr(GlassBoxClassifier(classifier="forest"), "predict_proba")
    with pytest.raises(ValueError, match="n_components must be a positive int"):
        GlassBoxClassifier(n_components=0).fit(x_train, y_train)
    with pytest.raises(ValueError, match="C must be a positive number"):
        GlassBoxClassifier(C=-1.0).fit(x_train, y_train)
    with pytest.raises(TypeError, match="representation must be a GlassBoxRepresentation"):
        GlassBoxClassifier(representation="pixels").fit(x_train, y_train)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        GlassBoxClassifier().fit(x_train, y_train[:-1])
    with pytest.raises(ValueError, match="at least 2 classes"):
        GlassBoxClassifier().fit(x_train, np.zeros(len(x_train)))
    with pytest.raises(ValueError, match="requires y"):
        GlassBoxClassifier().fit(x_train, None)
    clf = GlassBoxClassifier(n_components=20).fit(x_train, y_train)
    with pytest.raises(ValueError, match="fitted on"):
        clf.predict(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="X has 10 features, but GlassBoxClassifier is expecting"):
        clf.predict(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(np.full((2, 8, 8), np.nan))


def test_incremental_pca_in_chunks(digits, tmp_path):
    """pca_batch_size: scaler and IncrementalPCA fitted over chunks of features; the training
    images may be a memmap. Accuracy stays that of the in-memory model."""
    from sklearn.decomposition import IncrementalPCA

    x_train, x_test, y_train, y_test = digits
    full = gb.GlassBoxClassifier(n_components=40).fit(x_train, y_train)
    np.save(tmp_path / "x.npy", x_train)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    inc = gb.GlassBoxClassifier(n_components=40, pca_batch_size=300).fit(mm, y_train)
    assert isinstance(inc.pca_, IncrementalPCA) and inc.pca_.n_components_ == 40
    assert inc.pca_.n_samples_seen_ == len(x_train)
    np.testing.assert_allclose(inc.scaler_.mean_, full.scaler_.mean_, rtol=1e-6, atol=1e-9)
    assert abs(inc.score(x_test, y_test) - full.score(x_test, y_test)) < 0.02
    assert inc.score(x_test, y_test) > 0.97
    assert list(inc.pipeline_.named_steps) == ["representation", "scaler", "pca", "classifier"]
    small = gb.GlassBoxClassifier(n_components=500, pca_batch_size=50).fit(x_train, y_train)
    assert small.pca_.n_components_ == min(len(x_train), small.representation_.n_features_out_)
    with pytest.raises(ValueError, match="pca_batch_size must be None or a positive int"):
        gb.GlassBoxClassifier(pca_batch_size=0).fit(x_train, y_train)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_knn_refuses_fewer_training_images_than_neighbours_in_fit(digits, n):
    X, _, y, _ = digits
    idx = np.r_[np.flatnonzero(y == 0)[: n - 1], np.flatnonzero(y == 1)[:1]]
    clf = GlassBoxClassifier(n_components=2, classifier="knn")
    with pytest.raises(ValueError, match=f"needs at least 5 training images .* got {n}"):
        clf.fit(X[idx], y[idx])
    assert not hasattr(clf, "classifier_")
    GlassBoxClassifier(n_components=2, classifier="knn").fit(X[:5], y[:5]).predict(X[:2])


def test_fit_memory_counts_the_feature_layout_and_the_features(monkeypatch):
    """22 images of 5000 x 5000: 62.5 million features at most, whose names and permutations
    alone take gigabytes. Both count before the layout is built."""
    from glassbox import _validation

    clf, rep = GlassBoxClassifier(), GlassBoxRepresentation()
    n, H, W = 22, 5000, 5000
    nf, layout = rep._max_features(H, W), rep._layout_bytes(H, W)
    assert nf == 62_500_000 and layout > 8 * 2**30
    features = 3 * 4 * n * nf + 2 * 8 * n * min(200, n, nf)
    monkeypatch.setattr(_validation, "memory_limit", lambda: features + layout // 2)
    with pytest.raises(ValueError, match="fitting on 22 images of 5000x5000"):
        clf._check_fit_memory(rep, (n, H, W))
    monkeypatch.setattr(_validation, "memory_limit", lambda: features + layout)
    clf._check_fit_memory(rep, (n, H, W))  # exactly enough
