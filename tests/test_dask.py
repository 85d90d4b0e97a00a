"""glassbox.dask: the representation over dask arrays, on threads and on a LocalCluster."""

from __future__ import annotations

import numpy as np
import pytest

import glassbox as gb

from conftest import importorskip

da = importorskip("dask.array", "dask")  # README's test command installs the extra
distributed = importorskip("distributed", "dask")
import glassbox.dask as gdask  # noqa: E402 - needs dask
from glassbox import _fit_stream  # noqa: E402
from glassbox._validation import resolve_n_threads  # noqa: E402


@pytest.fixture(scope="module")
def data():
    x = np.random.default_rng(3).integers(0, 256, (530, 28, 28), dtype=np.uint8)
    rep = gb.GlassBoxRepresentation(thresholds=12).fit(x)
    return x, rep


@pytest.mark.parametrize("chunks", [(100, 28, 28), (530, 28, 28), (7, 14, 28)])
def test_threads(data, chunks):
    x, rep = data
    images = da.from_array(x, chunks=chunks)
    F = gdask.transform(images, rep)
    assert F.shape == (530, rep.n_features_out_) and F.dtype == np.float32
    assert F.chunks[0] == images.chunks[0]
    np.testing.assert_array_equal(F.compute(scheduler="threads"), rep.transform(x))


def test_local_cluster_with_two_worker_processes(data):
    x, rep = data
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        images = da.from_array(x, chunks=(60, 28, 28))
        F = gdask.transform(images, rep)
        got = client.compute(F).result()
        # both workers took part
        who = client.run(lambda: __import__("os").getpid())
        assert len(set(who.values())) == 2
    np.testing.assert_array_equal(got, rep.transform(x))


def test_bad_input(data):
    x, rep = data
    with pytest.raises(TypeError, match="dask.array.Array"):
        gdask.transform(x, rep)
    with pytest.raises(ValueError, match="fitted on"):
        gdask.transform(da.from_array(x[:, :14, :14]), rep)
    with pytest.raises(ValueError, match="\\(N, H, W\\)"):
        gdask.transform(da.from_array(x[0]), rep)
    with pytest.raises(TypeError, match="GlassBoxRepresentation"):
        gdask.transform(da.from_array(x), "rep")
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        gdask.transform(da.from_array(x), gb.GlassBoxRepresentation())


@pytest.mark.parametrize(
    "keep",
    [
        lambda n: np.arange(n) >= 250,  # the first blocks empty
        lambda n: np.arange(n) < 3,  # the last blocks empty
        lambda n: np.arange(n) % 200 < 7,  # every block short
        lambda n: np.zeros(n, bool),  # everything filtered out
    ],
)
def test_empty_blocks_after_boolean_filtering(data, keep):
    """Boolean indexing leaves blocks of unknown size, some empty: an empty block gives an
    empty block of features, and the result equals transforming the kept images."""
    x, rep = data
    images = da.from_array(x, chunks=100)
    mask = keep(len(x))
    kept = images[da.from_array(mask, chunks=100)]
    assert np.isnan(kept.shape[0])  # sizes unknown until computed
    F = gdask.transform(kept, rep).compute(scheduler="threads")
    assert F.shape == (int(mask.sum()), rep.n_features_out_) and F.dtype == np.float32
    if mask.any():
        np.testing.assert_array_equal(F, rep.transform(x[mask]))


def test_bool_images_as_transform_takes_them(data):
    x, rep = data
    b = x > 127
    F = gdask.transform(da.from_array(b, chunks=(60, 28, 28)), rep).compute(scheduler="threads")
    np.testing.assert_array_equal(F, rep.transform(b))


@pytest.fixture(scope="module")
def digits_train(digits_images):
    X, y = digits_images
    return X[:1200], y[:1200]


def _kr():
    rep = gb.GlassBoxRepresentation(thresholds=6)
    return gb.GlassBoxClassifier(rep, n_components=20, classifier="kernel-ridge")


@pytest.mark.parametrize("chunks", [(1200, 8, 8), (100, 8, 8), (333, 4, 8)])
def test_fit_on_threads_is_the_one_process_model(digits_train, chunks):
    X, y = digits_train
    ref = _kr().fit(X, y)
    got = gdask.fit(_kr(), da.from_array(X, chunks=chunks), da.from_array(y, chunks=500))
    np.testing.assert_array_equal(got.classifier_.dual_coef_, ref.classifier_.dual_coef_)
    np.testing.assert_array_equal(got.pca_.components_, ref.pca_.components_)
    np.testing.assert_array_equal(got.class_means_, ref.class_means_)
    np.testing.assert_array_equal(got.decision_function(X[:50]), ref.decision_function(X[:50]))


@pytest.mark.parametrize("keep", [True, False])
def test_two_stages_on_threads_are_the_one_process_model(
    digits_train, small_stages, monkeypatch, keep
):
    """The second stage's choice of rows and sums over the parts kept in memory, or computed again
    by the workers: the one-process model either way."""
    X, y = digits_train
    ref = _kr().fit(X, y)
    assert ref.classifier_.n_refined_ >= 480
    if not keep:
        monkeypatch.setattr(_fit_stream, "KEEP_BYTES", 0)
    done = []
    images = da.from_array(X, chunks=(333, 4, 8))
    got = gdask.fit(_kr(), images, y, progress=lambda d, t: done.append((d, t)))
    np.testing.assert_array_equal(got.classifier_.dual_coef_, ref.classifier_.dual_coef_)
    np.testing.assert_array_equal(
        got.classifier_.landmark_images_, ref.classifier_.landmark_images_
    )
    assert done[-1] == (5 * 1200, 5 * 1200)


def test_fit_on_threads_computes_a_part_per_thread(digits_train, monkeypatch):
    """Dask's local scheduler gets as many parts at once as the one-process fit has threads
    (asked before the fit limits BLAS and OpenMP to one thread for its products)."""
    import dask

    X, y = digits_train
    Xb, yb = np.concatenate([X] * 14)[:16_384], np.tile(y, 14)[:16_384]  # two parts
    windows = []
    compute = dask.compute

    def counting(*args, **kw):
        windows.append(len(args))
        return compute(*args, **kw)

    monkeypatch.setattr(dask, "compute", counting)
    gdask.fit(_kr(), da.from_array(Xb, chunks=(4096, 8, 8)), yb)
    assert max(windows) == min(2, resolve_n_threads(None))


def test_fit_on_a_local_cluster_is_the_one_process_model(digits_train):
    X, y = digits_train
    # three parts of 8,192 images (the last one short) across two worker processes
    Xb, yb = np.concatenate([X] * 17)[:20_000], np.tile(y, 17)[:20_000]
    ref = _kr().fit(Xb, yb)
    done = []
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        images = da.from_array(Xb, chunks=(3000, 8, 8))
        got = gdask.fit(_kr(), images, yb, progress=lambda d, t: done.append((d, t)))
    np.testing.assert_array_equal(got.classifier_.dual_coef_, ref.classifier_.dual_coef_)
    np.testing.assert_array_equal(got.decision_function(X[:50]), ref.decision_function(X[:50]))
    # five passes: pixel range, moments, equations, the first stage's scores, the second's sums
    assert done[-1] == (100_000, 100_000)
    assert got.classifier_.n_refined_ == ref.classifier_.n_refined_ > 0


def test_fit_refuses_what_it_cannot_fit(digits_train):
    X, y = digits_train
    images = da.from_array(X, chunks=(500, 8, 8))
    with pytest.raises(ValueError, match="kernel-ridge"):
        gdask.fit(gb.GlassBoxClassifier(), images, y)
    with pytest.raises(TypeError, match="GlassBoxClassifier"):
        gdask.fit(gb.GlassBoxRepresentation(), images, y)
    with pytest.raises(TypeError, match="dask.array"):
        gdask.fit(_kr(), X, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        gdask.fit(_kr(), images, y[:-1])
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        gdask.fit(_kr(), images[:, 0], y)
    with pytest.raises(TypeError, match="numeric"):
        gdask.fit(_kr(), images.astype("U1"), y)
