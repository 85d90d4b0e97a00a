"""glassbox.dask: the representation over dask arrays, on threads and on a LocalCluster."""

from __future__ import annotations

import numpy as np
import pytest

import glassbox as gb

from conftest import importorskip

da = importorskip("dask.array", "dask")  # README's test command installs the extra
distributed = importorskip("distributed", "dask")
import glassbox.dask as gdask  # noqa: E402 - needs dask


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
