"""The representation over a ``dask.array`` of images: on threads, processes or a cluster.

glassbox does not schedule anything itself; Dask does (``pip install "glassbox[dask]"``)::

    import dask.array as da
    from dask.distributed import Client, LocalCluster
    import glassbox as gb
    import glassbox.dask

    client = Client(LocalCluster(n_workers=2))            # or Client("scheduler:8786")
    images = da.from_npy_stack(...)                       # (N, H, W), chunked along N
    rep = gb.GlassBoxRepresentation().fit(images[:10_000].compute())
    features = glassbox.dask.transform(images, rep)       # lazy (N, n_features) float32
    features.to_zarr("features.zarr")                     # or .compute(), da.to_npy_stack ...

    clf = glassbox.dask.fit(gb.GlassBoxClassifier(classifier="kernel-ridge"), images, labels)

Each block is transformed independently by ``representation.transform`` (its kernels release
the GIL, so threaded workers run them in parallel too); the fitted representation is shipped to
the workers with the task graph (a few kilobytes).  :func:`fit` trains the whole model with
the workers computing the sums of parts of the images, added in order by the caller: the
same model as :meth:`GlassBoxClassifier.fit` in one process.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from . import _fit_stream, _nystroem
from ._validation import resolve_n_threads
from .classifier import GlassBoxClassifier
from .representation import GlassBoxRepresentation

__all__ = ["fit", "transform"]


def _import_dask():
    try:
        import dask.array as da
    except ImportError as exc:
        raise ImportError(
            "glassbox.dask needs dask: pip install 'glassbox[dask]' (dask[array] and "
            f"distributed). Original error: {exc}"
        ) from None
    return da


def _transform_block(block, representation):
    if block.shape[0] == 0:  # common after boolean filtering: no images, no features
        return np.empty((0, representation.n_features_out_), dtype=np.float32)
    return representation.transform(block)


def transform(images, representation):
    """Map a fitted representation over the blocks of a dask array of images.

    Parameters
    ----------
    images : dask.array.Array, shape (N, H, W)
        Images (numbers or bool, as :meth:`GlassBoxRepresentation.transform` takes them)
        chunked along N; chunks that split H or W are merged first (``rechunk``).  Blocks may
        be empty, and their sizes unknown (as after boolean filtering): an empty block gives an
        empty block of features.
    representation : GlassBoxRepresentation
        Fitted on images of shape ``(H, W)``.

    Returns
    -------
    dask.array.Array of float32, shape (N, n_features_out_)
        Lazy; one block per block of ``images``; equal to ``representation.transform`` of
        the computed images.

    Raises
    ------
    ImportError
        dask is not installed.
    TypeError, ValueError
        Not a dask array, wrong dimensions or shape, or an unfitted representation.
    """
    da = _import_dask()
    from sklearn.utils.validation import check_is_fitted

    if not isinstance(representation, GlassBoxRepresentation):
        raise TypeError(
            f"representation must be a GlassBoxRepresentation, got {type(representation).__name__}"
        )
    check_is_fitted(representation, "thresholds_")
    if not isinstance(images, da.Array):
        raise TypeError(f"images must be a dask.array.Array, got {type(images).__name__}")
    if images.ndim != 3:
        raise ValueError(f"images must be (N, H, W), got {images.ndim} dimensions")
    if tuple(images.shape[1:]) != tuple(representation.image_shape_):
        raise ValueError(
            f"images have shape {tuple(images.shape[1:])}, the representation was fitted on "
            f"{tuple(representation.image_shape_)}"
        )
    if np.dtype(images.dtype).kind not in "buif":
        raise TypeError(f"images must be numeric or bool, got dtype {images.dtype}")
    if len(images.chunks[1]) > 1 or len(images.chunks[2]) > 1:
        images = images.rechunk({1: -1, 2: -1})
    return da.map_blocks(
        _transform_block,
        images,
        representation,
        dtype=np.float32,
        drop_axis=2,
        chunks=(images.chunks[0], (representation.n_features_out_,)),
        meta=np.empty((0, 0), dtype=np.float32),
    )


def _run_part(func, x, y, *args):
    with _nystroem.serial():  # on a worker too: one BLAS thread, the caller's rounding
        return func([np.asarray(x)], y, *args)


def _client():
    """The dask.distributed client in use, or None (then dask's local scheduler runs)."""
    try:
        from distributed import get_client
    except ImportError:
        return None
    try:
        return get_client()
    except ValueError:  # no client
        return None


def _map_parts(parts, y_enc, client, workers):
    """``map_parts`` of :func:`glassbox._fit_stream.fit_parts` over dask arrays ``parts``
    (delayed), a few parts ahead of the one whose result is consumed (``workers`` parts at
    once on dask's local scheduler)."""
    import dask

    def on_cluster(func, *args):
        slots = max(1, sum(client.nthreads().values()))
        shared = [client.scatter(a, broadcast=True, hash=False) for a in args]
        pending = deque()
        for i, part in enumerate(parts):
            y = y_enc[i * _fit_stream.PART : (i + 1) * _fit_stream.PART]
            x = client.compute(part)
            pending.append(client.submit(_run_part, func, x, y, *shared, pure=False))
            if len(pending) >= 2 * slots:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def local(func, *args):
        shared = [dask.delayed(a, traverse=False) for a in args]
        for a in range(0, len(parts), workers):
            window = [
                dask.delayed(_run_part)(
                    func, part, y_enc[i * _fit_stream.PART : (i + 1) * _fit_stream.PART], *shared
                )
                for i, part in enumerate(parts[a : a + workers], start=a)
            ]
            yield from dask.compute(*window)

    return on_cluster if client is not None else local


def fit(model, images, y, *, progress=None):
    """Fit a ``GlassBoxClassifier(classifier="kernel-ridge")`` on a dask array of images.

    The workers compute the sums of parts of 8,192 images (pixel range, feature moments,
    normal equations); the caller adds them in order and solves.  The model is the one
    :meth:`GlassBoxClassifier.fit` gives in one process on the same images, bit for bit.
    Runs on the dask.distributed client in use, else on dask's local scheduler.

    Parameters
    ----------
    model : GlassBoxClassifier
        With ``classifier="kernel-ridge"`` (fitted in place).
    images : dask.array.Array, shape (N, H, W)
        Images (numbers or bool), any chunks (rechunked to parts).
    y : array_like or dask.array.Array, shape (N,)
        Class labels (held in memory by the caller).
    progress : callable, optional
        ``progress(done, total)``, counting images over the passes.

    Returns
    -------
    GlassBoxClassifier
        ``model``, fitted.

    Raises
    ------
    ImportError
        dask is not installed.
    TypeError, ValueError
        Not a kernel-ridge GlassBoxClassifier, not a dask array of (N, H, W) numbers, labels
        that do not match.
    """
    da = _import_dask()
    if not isinstance(model, GlassBoxClassifier):
        raise TypeError(f"model must be a GlassBoxClassifier, got {type(model).__name__}")
    if model.classifier != "kernel-ridge":
        raise ValueError(
            "model: glassbox.dask.fit trains classifier='kernel-ridge' (learnt from sums over "
            f"parts of the images), got classifier={model.classifier!r}"
        )
    if not isinstance(images, da.Array):
        raise TypeError(f"images must be a dask.array.Array, got {type(images).__name__}")
    if images.ndim != 3:
        raise ValueError(f"images must be (N, H, W), got {images.ndim} dimensions")
    if np.dtype(images.dtype).kind not in "buif":
        raise TypeError(f"images must be numeric or bool, got dtype {images.dtype}")
    if any(np.isnan(c) for c in images.shape):
        images = images.compute_chunk_sizes()
    if isinstance(y, da.Array):
        y = y.compute()
    n = int(images.shape[0])
    y_enc = model._check_fit_input(None, y, n_images=n)
    rep = model._new_representation()
    arr = images.rechunk((_fit_stream.PART, -1, -1))
    parts = list(arr.to_delayed().ravel())
    client = _client()

    def take(indices):
        return np.asarray(arr[np.asarray(indices, dtype=np.intp)].compute())

    H, W = (int(s) for s in images.shape[1:])
    workers = resolve_n_threads(None)  # as the one-process fit (asked before serial() limits it)
    with _nystroem.serial():
        return _fit_stream.fit_parts(
            model, rep, (n, H, W), np.dtype(images.dtype), y_enc,
            _map_parts(parts, y_enc, client, workers), take, progress, workers=workers,
        )  # fmt: skip
