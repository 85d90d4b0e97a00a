"""Features of image collections larger than memory, one chunk at a time.

:func:`transform_chunked` reads images in chunks from a NumPy array or ``np.memmap``, an ``.npy``
file, an IDX file (gzip or not) or a folder of image files, and writes the representation's
features into an ``.npy`` file (or an array), so that peak memory depends on the chunk size and
not on the number of images.  Files are read with ordinary reads, not mapped, and output files
are written sequentially: neither grows the process's resident memory with N.

An output file appears under its name only when complete: it is written to a temporary file
beside it and renamed at the end; an error or an interruption removes the temporary file.
"""

from __future__ import annotations

import os

import numpy as np

from .. import _io
from .._kernels import permuted_copies
from .._validation import check_allocation, check_int, check_memory
from ._npy_writer import WRITE_DEPTH, NpyWriter, check_output_path
from ._sources import ImageSource, open_images, opened

__all__ = [
    "ImageSource",
    "check_output_path",
    "fit_reduction",
    "open_images",
    "transform_chunked",
    "transform_reduced",
]


def _refuse_out_over_source(out, src):
    """An output array must not overlap the images it is computed from: chunks written early
    would be read back as images later (or a memmap over the input file would be overwritten)."""
    arr = getattr(src, "arr", None)
    if arr is not None and np.may_share_memory(out, arr):
        try:
            overlap = np.shares_memory(out, arr, max_work=10**6)
        except np.exceptions.TooHardError:  # pragma: no cover - strides too intricate to tell
            overlap = True
        if overlap:
            raise ValueError("out shares memory with the source images; pass a separate array")
    filename = getattr(out, "filename", None) if isinstance(out, np.memmap) else None
    if filename:
        _io.refuse_overwrite([filename], src.paths, "out (a memmap of)")


def _estimate_stream_memory(src, n_out, chunk, buffers):
    """Bytes that streaming ``chunk`` images at a time holds at once: the images read, a copy
    converted for the kernel (float64 at most), and ``buffers`` blocks of features."""
    h, w = src.image_shape
    return chunk * (h * w * (src.dtype.itemsize + 8) + buffers * n_out * 4)


def _chunks(n, chunk_size, min_last=1):
    """[a, b) bounds of chunks; a last chunk shorter than ``min_last`` joins the one before."""
    bounds = [(a, min(n, a + chunk_size)) for a in range(0, n, chunk_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < min_last:
        last = bounds.pop()
        bounds[-1] = (bounds[-1][0], last[1])
    return bounds


def fit_reduction(representation, source, n_components, *, scale=True, chunk_size=10_000,
                  progress=None, permutations=None):  # fmt: skip
    """Fit ``StandardScaler`` and ``IncrementalPCA`` on the features of every image, by chunks.

    Two passes over ``source``: the scaler's ``partial_fit``, then the PCA's ``partial_fit`` on
    the scaled features; the ``(N, n_features)`` matrix is never held in memory.

    Parameters
    ----------
    representation : GlassBoxRepresentation
        Fitted.
    source : see :func:`open_images`
    n_components : int
        At most the number of images and of features.
    scale : bool
        Standardise before PCA (as :class:`~glassbox.GlassBoxClassifier` does by default).
    chunk_size : int
        Images per chunk (a shorter last chunk joins the one before, so that every PCA batch
        has at least ``n_components`` images).
    progress : callable, optional
        ``progress(done, total)``, counting images over both passes.
    permutations : list of ndarray, optional
        Fit on the features of every image under each of these feature permutations (the
        ``feature_permutation`` of group elements: the images moved by them, computed once):
        each chunk's copies, element-major, form one batch.

    Returns
    -------
    scaler : StandardScaler or None
    pca : IncrementalPCA
    """
    from sklearn.decomposition import IncrementalPCA
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils.validation import check_is_fitted

    rep = representation
    check_is_fitted(rep, "thresholds_")
    chunk_size = check_int(chunk_size, "chunk_size")
    with opened(source, rep.image_shape_) as src:
        n = len(src)
        _check_source_shape(src, rep)
        G = 1 if permutations is None else len(permutations)
        if permutations is not None:
            nf = rep.n_features_out_
            for perm in permutations:
                perm = np.asarray(perm)
                if perm.shape != (nf,) or not np.array_equal(np.sort(perm), np.arange(nf)):
                    raise ValueError(f"permutations must be permutations of the {nf} features")
            if G == 0:
                raise ValueError("permutations must hold at least one permutation")
        n_components = check_int(
            n_components,
            "n_components",
            max_val=min(n * G, rep.n_features_out_),
            hint="the number of rows (images x permutations) and of features",
        )
        least = -(-n_components // G)  # images a batch needs to hold n_components rows
        bounds = _chunks(n, max(chunk_size, least), min_last=least)
        longest = max(b - a for a, b in bounds)
        # a chunk of images and its features, its copies, the scaled copy and IncrementalPCA's
        # float64 work
        check_memory(
            _estimate_stream_memory(src, rep.n_features_out_, longest, 1)
            + longest * G * rep.n_features_out_ * (4 + 8 * 3),
            f"chunk_size={chunk_size}: chunks of {longest} images"
            + (f" x {G} permutations" if G > 1 else ""),
        )
        passes = 2 if scale else 1
        scaler = StandardScaler() if scale else None
        pca = IncrementalPCA(n_components=int(n_components))
        done = 0
        for p in range(passes):
            for a, b in bounds:
                F = rep.transform(src.read(a, b))
                if permutations is not None:
                    F = permuted_copies(F, permutations, n_threads=rep.n_threads)
                if scale and p == 0:
                    scaler.partial_fit(F)
                else:
                    pca.partial_fit(scaler.transform(F) if scale else F)
                done += b - a
                if progress is not None:
                    progress(done, passes * n)
    return scaler, pca


def _check_source_shape(src, rep):
    if len(src) == 0:
        raise ValueError(f"{src.name}: holds no images")
    if tuple(src.image_shape) != tuple(rep.image_shape_):
        raise ValueError(
            f"{src.name}: images of shape {tuple(src.image_shape)}, the representation was "
            f"fitted on {tuple(rep.image_shape_)}"
        )


def transform_chunked(representation, source, out=None, *, chunk_size=10_000, progress=None):
    """Features of a collection of images, computed one chunk at a time.

    Parameters
    ----------
    representation : GlassBoxRepresentation
        Fitted.
    source : array_like, np.memmap, str, path-like or ImageSource
        See :func:`open_images`.  Images must have the representation's ``image_shape_``
        (image folders are resized to it).
    out : str, path-like or ndarray, optional
        An ``.npy`` path: the features are written there, through a temporary file renamed
        at the end, and returned opened as a read-only ``np.memmap``.  An array (or writable
        ``np.memmap``) of shape ``(N, n_features_out_)`` and dtype float32: filled in place.
        Default: a new in-memory array.
    chunk_size : int
        Images per chunk: peak memory is about ``chunk_size * (H * W + 2 * 4 *
        n_features_out_)`` bytes plus the output when it is in memory.
    progress : callable, optional
        ``progress(done, total)`` after every chunk.

    Returns
    -------
    ndarray or np.memmap of float32, shape (N, n_features_out_)
        Equal to ``representation.transform(images)`` for every chunk size and thread count.

    Raises
    ------
    ValueError, OSError
        Unreadable or truncated input (named, with the image index), a full disk or another
        write error (named, with the images being written).  No output file is left behind.
    """
    from sklearn.utils.validation import check_is_fitted

    rep = representation
    check_is_fitted(rep, "thresholds_")

    def into(x, block):
        return rep.transform(x, out=block)

    return _stream(rep, rep.transform, rep.n_features_out_, source, out, chunk_size, progress, into)


def _stream(rep, func, n_out, source, out, chunk_size, progress, into=None):
    """Write ``func(images)`` chunk by chunk (see :func:`transform_chunked`); ``into(images,
    block)``, when given, computes the same into a preallocated block."""
    chunk_size = check_int(chunk_size, "chunk_size")
    # the fitted shape: used by flattened (N, H * W) data and to resize folder images
    with opened(source, rep.image_shape_) as src:
        n = len(src)
        _check_source_shape(src, rep)
        shape = (n, n_out)
        step = min(chunk_size, n)  # buffers for the chunks there are, not for chunk_size
        to_file = _check_out(out, shape, src)
        # the writer's blocks and the features being computed; in memory, the features and
        # a copy where ``out`` is not contiguous
        buffers = WRITE_DEPTH + 3 if to_file else 2
        check_memory(
            _estimate_stream_memory(src, n_out, step, buffers),
            f"chunk_size={chunk_size}: chunks of {step} images",
        )
        writer = None
        result = None if to_file else out
        try:  # from here on an error or Ctrl-C removes the temporary output file
            if to_file:
                writer = NpyWriter(out, shape, np.float32)  # creates nothing yet
                writer.open()
            elif out is None:
                result = np.empty(shape, dtype=np.float32)
            for a in range(0, n, step):
                b = min(n, a + step)
                _compute_chunk(src.read(a, b), a, func, into, writer, result, (step, n_out))
                if progress is not None:
                    progress(b, n)
            if writer is not None:
                writer.commit()
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
    if writer is not None:
        return np.load(writer.path, mmap_mode="r")
    if isinstance(result, np.memmap):
        result.flush()
    return result


def _check_out(out, shape, src) -> bool:
    """Check ``out`` (an .npy path, an array or None) before any work; whether it is a file."""
    if isinstance(out, (str, os.PathLike)):
        check_output_path(out, "out", src.paths)
        return True
    if out is None:
        check_allocation(shape, np.float32, "the output of transform_chunked")
        return False
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be an .npy path or an ndarray, got {type(out).__name__}")
    if out.shape != shape or out.dtype != np.float32:
        raise ValueError(
            f"out must have shape {shape} and dtype float32, got {out.shape} {out.dtype}"
        )
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    _refuse_out_over_source(out, src)
    return False


def _compute_chunk(x, a, func, into, writer, result, block_shape):
    """The features of images x (rows a.. of the output) into the writer or ``result``: computed
    in place (``into``) where the destination is a contiguous block, else copied."""
    b = a + len(x)
    if into is None:
        F = func(x)
        if writer is not None:
            writer.write(F, a)
        else:
            result[a:b] = F
    elif writer is not None:
        view, raw, lead = writer.buffer(block_shape, np.float32)
        writer.write(into(x, view[: b - a]), a, raw, lead)
    elif result[a:b].flags.c_contiguous:
        into(x, result[a:b])
    else:
        result[a:b] = func(x)


def transform_reduced(representation, scaler, pca, source, out=None, *, chunk_size=10_000,
                      progress=None):  # fmt: skip
    """Principal components of the features of every image, chunk by chunk.

    Parameters
    ----------
    representation : GlassBoxRepresentation
    scaler : StandardScaler or None
    pca : PCA or IncrementalPCA
        Fitted, for example by :func:`fit_reduction`.
    source, out, chunk_size, progress :
        As in :func:`transform_chunked`.

    Returns
    -------
    ndarray or np.memmap of float32, shape (N, pca.n_components_)
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(representation, "thresholds_")
    check_is_fitted(pca)

    def func(x):
        F = representation.transform(x)
        return pca.transform(scaler.transform(F) if scaler is not None else F).astype(np.float32)

    return _stream(representation, func, int(pca.n_components_), source, out, chunk_size, progress)
