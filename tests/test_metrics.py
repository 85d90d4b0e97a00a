from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest

import glassbox as gb
from glassbox import metrics


def blobs(spread, n=60, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0, 0], [5, 0, 0], [0, 5, 0]])
    y = np.repeat(np.arange(3), n)
    return centres[y] + spread * rng.standard_normal((3 * n, 3)), y


def test_class_distances_brute_force():
    X, y = blobs(1.0, n=10)
    intra, inter = [], []
    for i, j in itertools.permutations(range(len(y)), 2):
        (intra if y[i] == y[j] else inter).append(np.linalg.norm(X[i] - X[j]))
    d = metrics.class_distances(X, y)
    assert d["intra"] == pytest.approx(np.mean(intra)) and d["inter"] == pytest.approx(
        np.mean(inter)
    )
    assert d["ratio"] == pytest.approx(np.mean(intra) / np.mean(inter))


def test_class_distances_in_blocks_match_brute_force(monkeypatch):
    # blocks of 4 rows: blocks that end inside a class, and classes that end inside none
    X, y = blobs(1.0, n=10)
    y = np.array([2, 0, 1])[y]  # classes not in row order: the rows are sorted by class first
    whole = metrics.class_distances(X, y)
    monkeypatch.setattr(metrics, "_distance_rows", lambda n: 4)
    blocks = metrics.class_distances(X, y)
    intra, inter = [], []
    for i, j in itertools.permutations(range(len(y)), 2):
        (intra if y[i] == y[j] else inter).append(np.linalg.norm(X[i] - X[j]))
    for d in (whole, blocks):
        assert d["intra"] == pytest.approx(np.mean(intra), rel=1e-12)
        assert d["inter"] == pytest.approx(np.mean(inter), rel=1e-12)


def test_class_distances_of_20000_samples_does_not_crash():
    # X @ X.T of 20,000 x 400 float64 went to OpenBLAS's threaded syrk, which crashed the
    # process (numpy/numpy#19685); run apart so that a crash fails this test, not the session
    code = (
        "import numpy as np; from glassbox import metrics; "
        "rng = np.random.default_rng(0); X = rng.random((20000, 400)); "
        "y = rng.integers(0, 10, 20000); "
        "d = metrics.class_distances(X, y, max_samples=20000); "
        "assert 0.99 < d['ratio'] < 1.01, d"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_separability_orders_tight_above_loose():
    tight, loose = metrics.separability(*blobs(0.3)), metrics.separability(*blobs(3.0))
    assert tight["ratio"] < loose["ratio"]
    assert tight["fisher"] > loose["fisher"]
    assert tight["silhouette"] > loose["silhouette"]


def test_fisher_is_scale_invariant_and_matches_formula():
    X, y = blobs(1.0)
    f = metrics.fisher_criterion(X, y, n_components=3)
    assert metrics.fisher_criterion(1000 * X, y, n_components=3) == pytest.approx(f)
    mu = X.mean(0)
    Sw = sum((X[y == c] - X[y == c].mean(0)).T @ (X[y == c] - X[y == c].mean(0)) for c in range(3))
    Sb = sum(
        (y == c).sum() * np.outer(X[y == c].mean(0) - mu, X[y == c].mean(0) - mu) for c in range(3)
    )
    assert f == pytest.approx(np.trace(np.linalg.inv(Sw) @ Sb))


def test_silhouette_matches_sklearn():
    from sklearn.metrics import silhouette_score

    X, y = blobs(1.0)
    assert metrics.silhouette(X, y) == pytest.approx(silhouette_score(X, y))


def test_sampling_is_reproducible():
    X, y = blobs(1.0, n=1000)
    a = metrics.class_distances(X, y, max_samples=300, random_state=3)
    assert a == metrics.class_distances(X, y, max_samples=300, random_state=3)


def test_bad_input():
    X, y = blobs(1.0)
    with pytest.raises(ValueError, match="X must be 2-D"):
        metrics.class_distances(X[:, 0], y)
    with pytest.raises(ValueError, match="NaN"):
        metrics.fisher_criterion(np.where(X > 4, np.nan, X), y)
    with pytest.raises(ValueError, match="at least two classes"):
        metrics.silhouette(X, np.zeros_like(y))
    with pytest.raises(ValueError, match="y must have shape"):
        metrics.separability(X, y[:-1])
    with pytest.raises(TypeError, match="numeric"):
        metrics.class_distances(X.astype(complex), y)
    with pytest.raises(ValueError, match="max_samples"):
        metrics.class_distances(X, y, max_samples=1)
    for bad in (0, True, 2.0):  # a bool is not a count, as everywhere else in glassbox
        with pytest.raises(ValueError, match="n_components must be a positive int"):
            metrics.fisher_criterion(X, y, n_components=bad)


def test_equivariance_and_invariance_errors():
    x = np.random.default_rng(1).integers(0, 256, (5, 12, 12), dtype=np.uint8)
    assert metrics.equivariance_error(lambda a: gb.pool(a, 2), x, "D4") == 0.0
    assert (
        metrics.invariance_error(lambda a: gb.group_pool(gb.orbit(a, "D4"), mode="max"), x) == 0.0
    )
    # raw images are equivariant but not invariant
    assert metrics.equivariance_error(lambda a: a.astype(float), x) == 0.0
    assert metrics.invariance_error(lambda a: a.astype(float), x) > 0.1
    # a crop of the top rows is not equivariant under the up-down flip, but is under fh
    crop = lambda a: a[:, :6, :].astype(float)  # noqa: E731
    per = metrics.equivariance_error(
        crop, x, "D2", per_element=True, act=lambda F, i: gb.get_group("D2").apply(F, i)
    )
    assert per["fh"] == 0.0 and per["fv"] > 0.1 and set(per) == {"r180", "fh", "fv"}
    # flattened features with an explicit permutation
    g = gb.get_group("C4")
    perms = [g.act_on_index(i, 12, 12).ravel() for i in range(4)]

    def act(F, i):
        out = np.empty_like(F)
        out[:, perms[i]] = F
        return out

    assert (
        metrics.equivariance_error(lambda a: a.reshape(len(a), -1).astype(float), x, g, act=act)
        == 0.0
    )
    assert metrics.equivariance_error(lambda a: a.astype(float), x, "C4", element="r90") == 0.0


def test_relative_error():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(6, 3, 4))
    b = rng.normal(size=(6, 3, 4))
    per = metrics.relative_error(a, b, per_sample=True)
    expected = np.linalg.norm((a - b).reshape(6, -1), axis=1) / np.linalg.norm(
        b.reshape(6, -1), axis=1
    )
    np.testing.assert_allclose(per, expected)
    assert metrics.relative_error(a, b) == pytest.approx(expected.mean())
    assert metrics.relative_error(a, a) == 0.0
    # an explicit scale replaces the denominators
    np.testing.assert_allclose(
        metrics.relative_error(a, b, scale=2 * b, per_sample=True), expected / 2
    )
    # zero reference: 0 when equal, infinity otherwise
    z = np.zeros((2, 3))
    assert list(metrics.relative_error(z, z, per_sample=True)) == [0.0, 0.0]
    assert metrics.relative_error(z + [[1, 0, 0], [0, 0, 0]], z, per_sample=True)[0] == np.inf
    # it is the measure behind equivariance_error
    x = rng.integers(0, 256, (4, 6, 6)).astype(float)
    crop = lambda v: v[:, :3, :]  # noqa: E731
    g = gb.get_group("D2")
    errs = [metrics.relative_error(crop(g.apply(x, i)), g.apply(crop(x), i)) for i in range(1, 4)]
    assert errs[1] == 0.0 and errs[0] > 0.1  # the top rows map to themselves under fh only
    assert metrics.equivariance_error(crop, x, g, act=lambda F, i: g.apply(F, i)) == pytest.approx(
        np.mean(errs)
    )


def test_relative_error_bad_input():
    a = np.ones((3, 2))
    with pytest.raises(ValueError, match="actual has shape"):
        metrics.relative_error(a, np.ones((3, 3)))
    with pytest.raises(ValueError, match="at least one sample"):
        metrics.relative_error(np.ones((0, 2)), np.ones((0, 2)))
    with pytest.raises(ValueError, match="scale must have 3 samples"):
        metrics.relative_error(a, a, scale=np.ones((2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        metrics.relative_error(a, np.full((3, 2), np.nan))
