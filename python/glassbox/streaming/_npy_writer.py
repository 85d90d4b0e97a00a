"""The ``.npy`` output file: written in order by a background thread through a locked
temporary file, published under its name only when complete."""

from __future__ import annotations

import contextlib
import mmap
import os
import threading
from pathlib import Path

import numpy as np

from .. import _io


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


PAGE = 4096  # the unit of direct I/O, and the size of the .npy header written here


WRITE_DEPTH = 2  # blocks queued for the writing thread; depth + 2 blocks exist at most


def npy_header(shape, dtype):
    """An .npy format 2.0 header padded to one page, so that the data start page-aligned."""
    from numpy.lib import format as npf

    text = repr(
        {"descr": npf.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
    )
    size = -(-(12 + len(text) + 1) // PAGE) * PAGE
    body = (text + " " * (size - 12 - len(text) - 1) + "\n").encode("latin1")
    return b"\x93NUMPY\x02\x00" + len(body).to_bytes(4, "little") + body


class NpyWriter:
    """An ``.npy`` file written in order through a temporary file, renamed when complete.

    Blocks are written by a background thread, so writing overlaps computing the next chunk;
    at most ``depth`` blocks wait in the queue and ``depth + 2`` blocks exist (bounded memory).
    Where the file system allows it (Linux ``O_DIRECT``), blocks go to disk straight from the
    buffers the features were computed in, page-aligned: no copy into the page cache, whose
    CPU cost would compete with the kernels.  Elsewhere, ordinary writes are flushed as they go.
    """

    def __init__(self, path, shape, dtype, depth=WRITE_DEPTH):
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
        self.header = npy_header(tuple(int(v) for v in shape), self.dtype)
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
        full = total // PAGE * PAGE
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
                size = -(-(PAGE + rows * cols * self.dtype.itemsize) // PAGE) * PAGE
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
        lead = self.assigned % PAGE if self.direct else 0
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
                page = mmap.mmap(-1, PAGE)
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
