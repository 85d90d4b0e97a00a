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

import contextlib
import mmap
import numbers
import os
import threading
from pathlib import Path

import numpy as np

from . import _io
from ._validation import check_allocation, check_memory, refuse_sparse_or_masked

__all__ = [
    "ImageSource",
    "check_output_path",
    "fit_reduction",
    "open_images",
    "transform_chunked",
    "transform_reduced",
]


class ImageSource:
    """Images readable by index range: ``len(src)``, ``src.shape``, ``src.read(a, b)``.

    Made by :func:`open_images`.  ``name`` names the source in error messages; ``read(a, b)``
    returns images ``a`` to ``b - 1`` as a new C-contiguous ``(b - a, H, W)`` array and raises
    an error naming the file and the image index when the data cannot be read.
    """

    name = "images"
    n = 0
    image_shape = (0, 0)
    dtype = np.dtype(np.uint8)
    paths: tuple = ()  # the files and folders read: an output must not be one of them

    def __len__(self):
        return self.n

    @property
    def shape(self):
        """``(N, H, W)``."""
        return (self.n, *self.image_shape)

    def read(self, a, b):  # pragma: no cover - overridden
        raise NotImplementedError

    def _check_images(self):
        """Images of no pixels are not images: a header of N x 0 x W would let a reader loop
        over billions of empty records (an IDX header damaged in one byte does that)."""
        if 0 in tuple(self.image_shape):
            raise ValueError(
                f"{self.name}: images of shape {tuple(self.image_shape)} hold no pixels"
            )

    def _check_read(self, count, what="images"):
        """Refuse, before allocating, ``count`` images that the memory available cannot hold."""
        check_allocation((count, *self.image_shape), self.dtype, f"{self.name}: {count} {what}")

    def take(self, indices):
        """The images at sorted ``indices``, as one ``(len(indices), H, W)`` array."""
        idx = np.asarray(indices, dtype=np.intp)
        self._check_read(idx.size, "sampled images")
        out = np.empty((idx.size, *self.image_shape), dtype=np.dtype(self.dtype).newbyteorder("="))
        k = 0
        while k < idx.size:  # runs of consecutive indices are read at once
            j = k
            while j + 1 < idx.size and idx[j + 1] == idx[j] + 1:
                j += 1
            out[k : j + 1] = self.read(int(idx[k]), int(idx[j]) + 1)
            k = j + 1
        return out

    def close(self):
        """Release open files (sources are also context managers)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class _ArraySource(ImageSource):
    def __init__(self, arr, image_shape):
        if arr.ndim == 2 and image_shape is not None:
            h, w = image_shape
            if arr.shape[1] != h * w:
                raise ValueError(
                    f"source has rows of {arr.shape[1]} values, image_shape {image_shape} needs "
                    f"{h * w}"
                )
            arr = arr.reshape(arr.shape[0], h, w)
        if arr.ndim != 3:
            raise ValueError(f"source must be an (N, H, W) array, got shape {arr.shape}")
        self.arr = arr
        self.n, self.image_shape, self.dtype = arr.shape[0], arr.shape[1:], arr.dtype
        self.name = "the source array"
        self._check_images()
        filename = getattr(arr, "filename", None) if isinstance(arr, np.memmap) else None
        self.paths = (filename,) if filename else ()
        # pages of a shared mapping can be dropped after reading (they stay in the page cache);
        # never those of a copy-on-write one (mode "c"): that would discard the user's changes
        shared = isinstance(arr, np.memmap) and getattr(arr, "mode", "c") in ("r", "r+", "w+")
        self._mm = getattr(arr, "_mmap", None) if shared else None

    def read(self, a, b):
        self._check_read(b - a)
        out = np.array(self.arr[a:b], order="C", copy=True)
        if self._mm is not None:
            self._release(a, b)
        return out

    def _release(self, a, b):
        """Drop the mapped pages just read from this process's resident set (best effort):
        they stay in the page cache, and reading them again faults them back in."""
        try:
            base = np.frombuffer(self._mm, dtype=np.uint8).ctypes.data
            chunk = self.arr[a:b]
            start = chunk.ctypes.data - base
            if not chunk.flags.c_contiguous or start < 0:
                return
            page = mmap.PAGESIZE
            lo = (start // page) * page
            hi = start + chunk.nbytes
            hi = min(-(-hi // page) * page, len(self._mm))
            if hi > lo:
                self._mm.madvise(mmap.MADV_DONTNEED, lo, hi - lo)
        except (AttributeError, ValueError, OSError, TypeError):
            pass


class _NpyRows(ImageSource):
    """The images of an ``.npy`` file, stored one after another, read with ``readinto``."""

    def __init__(self, path, offset, n, image_shape, dtype):
        self.path, self.offset = Path(path), offset
        self.n, self.image_shape, self.dtype = n, tuple(image_shape), np.dtype(dtype)
        self.name = str(self.path)
        self.paths = (self.path,)
        self._check_images()
        self.row = int(np.prod(self.image_shape)) * self.dtype.itemsize
        self.f = _io.open_regular(self.path)
        size = os.fstat(self.f.fileno()).st_size
        have = (size - offset) // self.row if self.row else n
        if have < n:
            self.f.close()
            raise ValueError(
                f"{self.path}: truncated .npy file: the header promises {n} images of "
                f"{self.image_shape}, the data end in image {have}"
            )

    def read(self, a, b):
        self._check_read(b - a)
        out = np.empty((b - a, *self.image_shape), dtype=self.dtype)
        try:
            self.f.seek(self.offset + a * self.row)
            got = self.f.readinto(memoryview(out).cast("B"))
        except OSError as exc:
            raise OSError(
                f"{self.path}: reading images {a}..{b - 1} failed: {exc.strerror or exc}"
            ) from exc
        if got != out.nbytes:
            raise ValueError(
                f"{self.path}: truncated: image {a + got // self.row} of {self.n} cannot be read "
                "(the file ends early)"
            )
        return out if self.dtype.isnative else out.astype(self.dtype.newbyteorder("="))

    def close(self):
        self.f.close()


class _Idx(ImageSource):
    """An IDX file of images, gzip or not, read through the one IDX reader (:class:`_io.IdxFile`):
    a size that disagrees with the header, or a gzip trailer that does not verify, is an error
    by the time the last image has been read."""

    def __init__(self, path):
        self.f = _io.IdxFile(path, ndim=3, unit="image")
        self.path, self.name = self.f.path, self.f.name
        self.paths = (self.path,)
        self.n, self.image_shape = self.f.n, self.f.record_shape
        self.dtype = self.f.dtype
        try:
            self._check_images()
        except ValueError:
            self.f.close()
            raise

    def read(self, a, b):
        self._check_read(b - a)
        return self.f.read(a, b)

    def close(self):
        self.f.close()


class _Folder(ImageSource):
    """Image files under a directory (recursively, in sorted path order), read as grey levels."""

    def __init__(self, root, image_shape):
        self.root = Path(root)
        self.paths = (self.root,)
        self.files = sorted(
            p
            for p in self.root.rglob("*")
            if p.suffix.lower() in _io.IMAGE_SUFFIXES and p.is_file()
        )
        if not self.files:
            raise ValueError(f"{self.root}: no image files")
        self.n, self.name = len(self.files), str(self.root)
        self.dtype = np.dtype(np.uint8)
        if image_shape is None:
            image_shape = self._imread(0).shape
        self.image_shape = tuple(int(s) for s in image_shape)

    def _imread(self, i, shape=None):
        try:
            return _io.read_grey(self.files[i], shape)
        except ValueError as exc:
            raise ValueError(f"{exc} (image {i})") from None

    def read(self, a, b):
        self._check_read(b - a)
        out = np.empty((b - a, *self.image_shape), dtype=np.uint8)
        for i in range(a, b):
            out[i - a] = self._imread(i, self.image_shape)
        return out


def open_images(source, *, image_shape=None):
    """Open a collection of images for reading in chunks.

    Parameters
    ----------
    source : array_like, np.memmap, str or path-like
        An ``(N, H, W)`` array (or ``(N, H * W)`` with ``image_shape``); an ``.npy`` file; an
        IDX file of images (``*-idx3-ubyte``, gzip or not); or a directory of image files (read
        recursively in sorted order, as grey levels, resized to ``image_shape`` if given, else
        to the first image's shape).
    image_shape : (int, int), optional

    Returns
    -------
    ImageSource
        Use as a context manager, or call ``close()``.

    Raises
    ------
    FileNotFoundError
        No such file or directory.
    ValueError
        An unknown format, a header that does not describe images, or a truncated file (named,
        with the first image that cannot be read).
    """
    if image_shape is not None:
        image_shape = tuple(int(s) for s in image_shape)
        if len(image_shape) != 2 or min(image_shape) < 1:
            raise ValueError(f"image_shape must be (H, W) with positive sides, got {image_shape}")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"source {str(path)!r}: no such file or directory")
        if path.is_dir():
            return _Folder(path, image_shape)
        return _open_file(path, image_shape)
    if isinstance(source, ImageSource):
        return source
    refuse_sparse_or_masked(source, "source")
    arr = source if isinstance(source, np.ndarray) else np.asarray(source)
    return _ArraySource(arr, image_shape)


def _open_file(path, image_shape):
    with _io.open_regular(path) as f:
        try:
            head = f.read(16)
        except OSError as exc:
            raise OSError(exc.errno, f"{path}: cannot be read ({exc.strerror})") from None
    if head[:6] == b"\x93NUMPY":
        return _open_npy(path, image_shape)
    if head[:2] == b"\x1f\x8b" or (
        len(head) >= 4 and head[:2] == b"\0\0" and head[2] in _io.IDX_DTYPES
    ):
        return _Idx(path)
    raise ValueError(f"{path}: not an .npy or IDX file (unknown format)")


def _open_npy(path, image_shape):
    with _io.open_regular(path) as f:
        shape, fortran, dtype, offset = _io.npy_header(f, str(path))
    if dtype.kind not in "biuf":
        raise ValueError(f"{path}: holds {dtype}, not numeric images")
    if fortran and len(shape) > 1:
        raise ValueError(f"{path}: Fortran-ordered arrays cannot be streamed by image")
    if len(shape) == 2 and image_shape is not None:
        if shape[1] != image_shape[0] * image_shape[1]:
            raise ValueError(f"{path}: rows of {shape[1]} values do not fit {image_shape}")
        shape = (shape[0], *image_shape)
    if len(shape) != 3:
        raise ValueError(f"{path}: holds an array of shape {shape}, not (N, H, W) images")
    return _NpyRows(path, offset, shape[0], shape[1:], dtype)


@contextlib.contextmanager
def _opened(source, image_shape):
    """``open_images(source)``, closed at the end unless it was an open source already."""
    if isinstance(source, ImageSource):
        yield source
    else:
        with open_images(source, image_shape=image_shape) as src:
            yield src


def check_output_path(path, what="out", inputs=()):
    """Check, before any work, that ``path`` can become an ``.npy`` output file.

    Parameters
    ----------
    path : str or path-like
    what : str
        How error messages name it (``"out"``, or ``"OUTPUT"`` on the command line).
    inputs : iterable of path-like
        Files and folders that will be read: ``path`` must not be one of them, nor lie inside
        one (symbolic links, ``..`` and hard links included).

    Returns
    -------
    Path

    Raises
    ------
    ValueError, FileNotFoundError, IsADirectoryError, PermissionError
        Not an ``.npy`` name, one of the inputs, no such directory, a directory, or a directory
        not writable.
    """
    p = Path(path)
    if p.suffix != ".npy":
        raise ValueError(f"{what} {str(p)!r} must be an .npy file (its name must end in .npy)")
    _io.refuse_overwrite([p], inputs, what)
    if not p.parent.is_dir():
        raise FileNotFoundError(f"{what} {str(p)!r}: no such directory {str(p.parent)!r}")
    if p.is_dir():
        raise IsADirectoryError(f"{what} {str(p)!r} is a directory")
    if p.exists() and not p.is_file():
        raise ValueError(f"{what} {str(p)!r} exists and is not a regular file")
    if not os.access(p.parent, os.W_OK):
        raise PermissionError(f"{what} {str(p)!r}: its directory is not writable")
    return p


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


_PAGE = 4096  # the unit of direct I/O, and the size of the .npy header written here
_WRITE_DEPTH = 2  # blocks queued for the writing thread; depth + 2 blocks exist at most


def _npy_header(shape, dtype):
    """An .npy format 2.0 header padded to one page, so that the data start page-aligned."""
    from numpy.lib import format as npf

    text = repr(
        {"descr": npf.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
    )
    size = -(-(12 + len(text) + 1) // _PAGE) * _PAGE
    body = (text + " " * (size - 12 - len(text) - 1) + "\n").encode("latin1")
    return b"\x93NUMPY\x02\x00" + len(body).to_bytes(4, "little") + body


class _NpyWriter:
    """An ``.npy`` file written in order through a temporary file, renamed when complete.

    Blocks are written by a background thread, so writing overlaps computing the next chunk;
    at most ``depth`` blocks wait in the queue and ``depth + 2`` blocks exist (bounded memory).
    Where the file system allows it (Linux ``O_DIRECT``), blocks go to disk straight from the
    buffers the features were computed in, page-aligned: no copy into the page cache, whose
    CPU cost would compete with the kernels.  Elsewhere, ordinary writes are flushed as they go.
    """

    def __init__(self, path, shape, dtype, depth=_WRITE_DEPTH):
        import queue

        self.path = check_output_path(path)
        self.tmpfile = None  # the locked temporary file (_io.TemporaryFile), made by open()
        self.fd = None
        self.direct = False
        self.error = None
        self.queue = queue.Queue(maxsize=depth)
        self.free = queue.Queue()  # buffers the thread has written, for reuse
        self.n_buffers, self.max_buffers = 0, depth + 2
        self.thread = None
        self.dtype = np.dtype(dtype)
        self.header = _npy_header(tuple(int(v) for v in shape), self.dtype)
        self.assigned = 0  # data bytes handed to write() so far (main thread)
        self.tail = b""  # data bytes written to no page yet (writing thread)
        self.data_bytes = 0

    def open(self):
        """Create the temporary file, write the header and start the writing thread.

        Temporary files that killed runs left beside the output are removed first."""
        _io.remove_stale_temporaries(self.path)
        self.tmpfile = _io.TemporaryFile(self.path, create=False)  # abort() discards it
        try:
            self.tmpfile.create()
        except OSError as exc:
            raise OSError(
                exc.errno, f"out {str(self.path)!r}: cannot write there ({exc.strerror})"
            ) from exc
        self.fd = self.tmpfile.fd  # it holds the lock: open until published or discarded
        direct = getattr(os, "O_DIRECT", 0)
        if direct:
            try:
                self.fd = os.open(self.tmpfile.tmp, os.O_WRONLY | os.O_CLOEXEC | direct)
                self.direct = True
            except OSError:  # e.g. tmpfs: ordinary writes
                pass
        if self.direct:
            page = mmap.mmap(-1, len(self.header))
            page.write(self.header)
            self._write_raw(memoryview(page))
        else:
            self._write_raw(memoryview(self.header))
        self.thread = threading.Thread(target=self._run, name="glassbox-npy-writer", daemon=True)
        self.thread.start()

    @property
    def tmp(self):
        """The temporary file's path (None before :meth:`open` and once published)."""
        return None if self.tmpfile is None else self.tmpfile.tmp

    def _write_raw(self, data):
        view = memoryview(data).cast("B")
        while len(view):
            n = os.write(self.fd, view)
            view = view[n:]

    def _run(self):
        while True:
            item = self.queue.get()
            if item is None:
                return
            block, first, raw, lead = item
            if self.error is None:  # after an error, drain; the main thread raises it
                try:
                    if self.direct:
                        self._write_direct(block, raw, lead)
                    else:
                        self._write_raw(memoryview(block).cast("B"))
                        os.fdatasync(self.fd)  # write back as we go: no long final wait
                except OSError as exc:
                    self.error = OSError(
                        exc.errno,
                        f"out {str(self.path)!r}: writing the features of images {first}.."
                        f"{first + len(block) - 1} failed: {exc.strerror or exc}",
                    )
            if raw is not None:
                self.free.put(raw)

    def _write_direct(self, block, raw, lead):
        """``raw`` holds ``block`` at byte ``lead``; the bytes before it are the last partial
        page of the previous block (``self.tail``): write the whole pages, keep the rest."""
        if len(self.tail) != lead:  # pragma: no cover - the main thread computed lead
            raise OSError("internal error: misaligned block")
        mv = memoryview(raw)
        mv[:lead] = self.tail
        total = lead + block.nbytes
        full = total // _PAGE * _PAGE
        self._write_raw(mv[:full])
        self.tail = bytes(mv[full:total])
        self.data_bytes += block.nbytes

    def buffer(self, shape, dtype):
        """A C-contiguous block to compute into: a written one reused, or a new one while
        fewer than ``depth + 2`` exist (then wait for one)."""
        import queue

        rows, cols = shape
        try:
            raw = self.free.get_nowait()
        except queue.Empty:
            if self.n_buffers < self.max_buffers:
                self.n_buffers += 1
                size = -(-(_PAGE + rows * cols * self.dtype.itemsize) // _PAGE) * _PAGE
                raw = mmap.mmap(-1, size)  # page-aligned, as direct I/O needs
            else:
                while True:
                    self._raise()
                    try:
                        raw = self.free.get(timeout=0.5)
                        break
                    except queue.Empty:
                        if not self.thread.is_alive():  # pragma: no cover - defensive
                            raise RuntimeError("the writing thread stopped") from None
        lead = self.assigned % _PAGE if self.direct else 0
        view = np.frombuffer(raw, self.dtype, count=rows * cols, offset=lead).reshape(rows, cols)
        return view, raw, lead

    def _raise(self):
        if self.error is not None:
            raise self.error

    def write(self, block, first, raw=None, lead=0):
        """Queue ``block`` (rows ``first``...); ``raw``, from :meth:`buffer`, returns to the
        pool once written."""
        self._raise()
        if self.direct and raw is None:  # a block of its own: into an aligned buffer
            view, raw, lead = self.buffer(block.shape, self.dtype)
            view[...] = block
            block = view
        self.assigned += block.nbytes
        self.queue.put((np.ascontiguousarray(block), first, raw, lead))

    def _stop(self):
        if self.thread is not None and self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()

    def commit(self):
        self._stop()
        try:
            self._raise()
            if self.direct and self.tail:  # the last partial page, then the exact length
                page = mmap.mmap(-1, _PAGE)
                page.write(self.tail)
                self._write_raw(memoryview(page))
                os.ftruncate(self.fd, len(self.header) + self.data_bytes)
            self._close_direct()
            self.tmpfile.publish()  # fsync, the ordinary mode (not 0600), rename
        except OSError as exc:
            self.abort()
            if exc is self.error:
                raise
            raise OSError(
                exc.errno, f"out {str(self.path)!r}: finishing the file failed: {exc.strerror}"
            ) from exc

    def _close_direct(self, sync=True):
        """Close the O_DIRECT descriptor, if there is one (the locked descriptor belongs to
        ``tmpfile``, which closes it when it publishes or discards the file)."""
        fd, self.fd = self.fd, None
        if self.direct and fd is not None:
            if sync:
                os.fsync(fd)
            os.close(fd)

    def abort(self):
        try:
            if self.thread is not None and self.thread.is_alive():
                self.error = self.error or OSError("aborted")  # skip what is still queued
                self._stop()
        finally:
            with contextlib.suppress(OSError):
                self._close_direct(sync=False)
            if self.tmpfile is not None:
                self.tmpfile.discard()


def _check_chunk_size(chunk_size):
    if (
        not isinstance(chunk_size, numbers.Integral)
        or isinstance(chunk_size, bool)
        or chunk_size < 1
    ):
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    return int(chunk_size)


def _chunks(n, chunk_size, min_last=1):
    """[a, b) bounds of chunks; a last chunk shorter than ``min_last`` joins the one before."""
    bounds = [(a, min(n, a + chunk_size)) for a in range(0, n, chunk_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < min_last:
        last = bounds.pop()
        bounds[-1] = (bounds[-1][0], last[1])
    return bounds


def fit_reduction(representation, source, n_components, *, scale=True, chunk_size=10_000,
                  progress=None):  # fmt: skip
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
    chunk_size = _check_chunk_size(chunk_size)
    with _opened(source, rep.image_shape_) as src:
        n = len(src)
        _check_source_shape(src, rep)
        if (
            not isinstance(n_components, numbers.Integral)
            or isinstance(n_components, bool)
            or not 1 <= n_components <= min(n, rep.n_features_out_)
        ):
            raise ValueError(
                f"n_components must be an int in [1, {min(n, rep.n_features_out_)}] (the number "
                f"of images and of features), got {n_components!r}"
            )
        bounds = _chunks(n, max(chunk_size, n_components), min_last=n_components)
        longest = max(b - a for a, b in bounds)
        # a chunk of images and its features, the scaled copy and IncrementalPCA's float64 work
        check_memory(
            _estimate_stream_memory(src, rep.n_features_out_, longest, 1)
            + longest * rep.n_features_out_ * 8 * 3,
            f"chunk_size={chunk_size}: chunks of {longest} images",
        )
        passes = 2 if scale else 1
        scaler = StandardScaler() if scale else None
        pca = IncrementalPCA(n_components=int(n_components))
        done = 0
        for p in range(passes):
            for a, b in bounds:
                F = rep.transform(src.read(a, b))
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
        return rep._transform_into(rep._images(x, rep.image_shape_), block)

    return _stream(rep, rep.transform, rep.n_features_out_, source, out, chunk_size, progress, into)


def _stream(rep, func, n_out, source, out, chunk_size, progress, into=None):
    """Write ``func(images)`` chunk by chunk (see :func:`transform_chunked`); ``into(images,
    block)``, when given, computes the same into a preallocated block."""
    chunk_size = _check_chunk_size(chunk_size)
    # the fitted shape: used by flattened (N, H * W) data and to resize folder images
    with _opened(source, rep.image_shape_) as src:
        n = len(src)
        _check_source_shape(src, rep)
        shape = (n, n_out)
        step = min(chunk_size, n)  # buffers for the chunks there are, not for chunk_size
        to_file = isinstance(out, (str, os.PathLike))
        if to_file:
            check_output_path(out, "out", src.paths)
        elif out is None:
            check_allocation(shape, np.float32, "the output of transform_chunked")
        else:
            if not isinstance(out, np.ndarray):
                raise TypeError(f"out must be an .npy path or an ndarray, got {type(out).__name__}")
            if out.shape != shape or out.dtype != np.float32:
                raise ValueError(
                    f"out must have shape {shape} and dtype float32, got {out.shape} {out.dtype}"
                )
            if not out.flags.writeable:
                raise ValueError("out is read-only")
            _refuse_out_over_source(out, src)
        # the writer's blocks and the features being computed; in memory, the features and
        # a copy where ``out`` is not contiguous
        buffers = _WRITE_DEPTH + 3 if to_file else 2
        check_memory(
            _estimate_stream_memory(src, n_out, step, buffers),
            f"chunk_size={chunk_size}: chunks of {step} images",
        )
        writer = None
        result = None if to_file else out
        try:  # from here on an error or Ctrl-C removes the temporary output file
            if to_file:
                writer = _NpyWriter(out, shape, np.float32)  # creates nothing yet
                writer.open()
            elif out is None:
                result = np.empty(shape, dtype=np.float32)
            for a in range(0, n, step):
                b = min(n, a + step)
                x = src.read(a, b)
                if into is None:
                    F = func(x)
                    if writer is not None:
                        writer.write(F, a)
                    else:
                        result[a:b] = F
                elif writer is not None:
                    view, raw, lead = writer.buffer((step, n_out), np.float32)
                    writer.write(into(x, view[: b - a]), a, raw, lead)
                elif result[a:b].flags.c_contiguous:
                    into(x, result[a:b])
                else:
                    result[a:b] = func(x)
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
