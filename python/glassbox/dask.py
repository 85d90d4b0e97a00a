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

Each block is transformed independently by ``representation.transform`` (its kernels release
the GIL, so threaded workers run them in parallel too); the fitted representation is shipped to
the workers with the task graph (a few kilobytes).
"""

from __future__ import annotations

import numpy as np

from .representation import GlassBoxRepresentation

__all__ = ["transform"]


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
    try:
        import dask.array as da
    except ImportError as exc:
        raise ImportError(
            "glassbox.dask needs dask: pip install 'glassbox[dask]' (dask[array] and "
            f"distributed). Original error: {exc}"
        ) from None
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
