"""Image sources read in chunks: arrays and memmaps, ``.npy`` files, IDX files, image folders."""

from __future__ import annotations

import contextlib
import mmap
import os
from pathlib import Path

import numpy as np

from .. import _io
from .._validation import check_allocation, refuse_sparse_or_masked


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

    def _finite(self, out, a, name=None):
        """``out``, images ``a``, ``a + 1``, ... of a file, when they hold no NaN or infinity;
        else an error naming the file (``name``, default ``self.name``) and the first image
        that does, rather than the array the kernels would name later."""
        if out.dtype.kind == "f":
            ok = np.isfinite(out).all(axis=(1, 2))  # out: (n, H, W), n >= 0
            if not ok.all():
                raise ValueError(
                    f"{name or self.name}: image {a + int(np.argmin(ok))} contains NaN or "
                    "infinite values"
                )
        return out

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


class ArraySource(ImageSource):
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
        return self._finite(out, a, self.paths[0]) if self.paths else out

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


class NpyRows(ImageSource):
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
        if out.size:  # (a memoryview of no bytes cannot be cast: nothing to read anyway)
            self._read_into(out, a, b)
        out = out if self.dtype.isnative else out.astype(self.dtype.newbyteorder("="))
        return self._finite(out, a)

    def _read_into(self, out, a, b):
        """Read images ``a`` .. ``b - 1`` (at least one) into ``out``, as the file stores them."""
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

    def close(self):
        self.f.close()


class IdxSource(ImageSource):
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
        return self._finite(self.f.read(a, b), a)

    def close(self):
        self.f.close()


class FolderSource(ImageSource):
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
            return FolderSource(path, image_shape)
        return open_file(path, image_shape)
    if isinstance(source, ImageSource):
        return source
    refuse_sparse_or_masked(source, "source")
    arr = source if isinstance(source, np.ndarray) else np.asarray(source)
    return ArraySource(arr, image_shape)


def open_file(path, image_shape):
    with _io.open_regular(path) as f:
        try:
            head = f.read(16)
        except OSError as exc:
            raise OSError(exc.errno, f"{path}: cannot be read ({exc.strerror})") from None
    if head[:6] == b"\x93NUMPY":
        return open_npy(path, image_shape)
    if head[:2] == b"\x1f\x8b" or (
        len(head) >= 4 and head[:2] == b"\0\0" and head[2] in _io.IDX_DTYPES
    ):
        return IdxSource(path)
    raise ValueError(f"{path}: not an .npy or IDX file (unknown format)")


def open_npy(path, image_shape):
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
    return NpyRows(path, offset, shape[0], shape[1:], dtype)


@contextlib.contextmanager
def opened(source, image_shape):
    """``open_images(source)``, closed at the end unless it was an open source already."""
    if isinstance(source, ImageSource):
        yield source
    else:
        with open_images(source, image_shape=image_shape) as src:
            yield src
