"""Files: written atomically, never over an input, read only when they are what they claim.

This module imports nothing from glassbox.  It holds every rule about files that more than one
part of glassbox needs:

- **Writing.**  Every file glassbox produces is written to a temporary file beside it, named
  ``.<name>.<16 hex digits>.tmp``, and renamed over the target only when complete
  (:func:`write_atomically`, :class:`TemporaryFile`).  While it is written, the temporary file is
  locked (``flock``); a temporary file of that naming whose lock is free belongs to a run that
  was killed, and :func:`remove_stale_temporaries` removes it.
- **Outputs never over inputs.**  :func:`refuse_overwrite` compares the files a command will write
  with the files and folders it reads (after symbolic links, and by inode for hard links).
- **Reading.**  :func:`open_regular` refuses what is not a regular file (a FIFO would block, a
  device never end) before reading a byte; :class:`IdxFile` is the one reader of IDX files, gzip
  or not, which refuses a size that disagrees with the header and, for gzip, verifies the CRC
  and length stored in its trailer; :func:`npz_members` reads the headers of an ``.npz``
  archive's arrays without decompressing them; :func:`read_grey` decodes an image file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gzip
import io
import os
import re
import secrets
import stat
import struct
import threading
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = [
    "IDX_DTYPES",
    "IMAGE_SUFFIXES",
    "IdxFile",
    "Folder",
    "TemporaryFile",
    "check_writable_dir",
    "file_mode",
    "npy_header",
    "npz_members",
    "open_regular",
    "read_grey",
    "refuse_overwrite",
    "remove_stale_temporaries",
    "resize",
    "write_atomically",
]

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp"}
)

# -- modes ------------------------------------------------------------------------------------


def _umask() -> int:
    """The process's umask, read without changing it where Linux says it (``os.umask`` can only
    read it by setting it, which another thread creating a file at that instant would see)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # pragma: no cover - not Linux
    os.umask(mask)  # pragma: no cover
    return mask  # pragma: no cover


def file_mode() -> int:
    """The mode of an ordinary new file: ``0o666`` less the umask."""
    return 0o666 & ~_umask()


# -- temporary files --------------------------------------------------------------------------


def _stale_pattern(name: str) -> re.Pattern:
    # this naming, and that of earlier glassbox versions (mkstemp's 8 characters)
    return re.compile(rf"\.{re.escape(name)}\.(?:[0-9a-f]{{16}}|[a-z0-9_]{{8}})\.tmp")


class TemporaryFile:
    """A locked temporary file beside ``path``, published under ``path`` when complete.

    ``fd`` is open for writing; the file is created with mode 0600 and gets the ordinary mode
    (:func:`file_mode`) when published.  ``flock`` on ``fd`` tells other glassbox processes that
    the file is being written: it is released by the kernel when this process ends, however it
    ends, so that a later run can remove what a killed run left.

    Use as a context manager: the file is removed on leaving, unless :meth:`publish` was called.
    With ``create=False`` nothing exists until :meth:`create`: an owner that stores the object
    first can then discard whatever an interruption during creation leaves.
    """

    def __init__(self, path, *, create=True):
        self.path = Path(path)
        self.tmp = self.fd = None
        if create:
            self.create()

    def create(self) -> None:
        """Create and lock the file.  Interrupted (Ctrl-C, a signal) at any point, it leaves
        nothing behind: the name is recorded before the file exists, so that :meth:`discard`
        finds it."""
        try:
            for _ in range(16):
                self.tmp = self.path.parent / f".{self.path.name}.{secrets.token_hex(8)}.tmp"
                try:
                    fd = os.open(
                        self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600
                    )
                except OSError:
                    self.tmp = None  # not ours (EEXIST) or not created
                    raise
                self.fd = fd
                if _lock(fd, self.tmp):
                    return
                self._close()  # pragma: no cover - removed by a cleaner between open and lock
                self.tmp = None  # pragma: no cover
            raise OSError(errno.EAGAIN, f"cannot create a temporary file beside {self.path}")
        except BaseException:
            self.discard()
            raise

    def write(self, data) -> None:
        """Write all of ``data`` (bytes-like) at the current position."""
        view = memoryview(data).cast("B")
        while len(view):
            view = view[os.write(self.fd, view) :]

    def publish(self) -> Path:
        """Flush to disk, give the ordinary mode and rename over ``path``; return ``path``."""
        os.fsync(self.fd)
        os.fchmod(self.fd, file_mode())
        os.replace(self.tmp, self.path)
        self._close()
        self.tmp = None
        return self.path

    def discard(self) -> None:
        """Remove the temporary file (a no-op once published)."""
        if self.tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                self.tmp.unlink()
            self.tmp = None
        self._close()

    def _close(self):
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.discard()
        return False


def _lock(fd, tmp) -> bool:
    """Lock a new temporary file; False when a cleaner removed it between creation and lock."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # pragma: no cover - a cleaner holds it and is removing it
        return False
    except OSError:  # pragma: no cover - a file system without flock: unlocked, still unique
        return True
    try:
        return os.stat(tmp).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:  # pragma: no cover - removed by a cleaner
        return False


def remove_stale_temporaries(path) -> list[tuple[Path, int]]:
    """Remove the temporary files that killed runs left beside ``path``.

    A file named as :class:`TemporaryFile` names them (or as earlier glassbox versions did)
    whose lock is free has no living writer.  Files of other names, and temporary files that a
    running process is writing, are left alone.

    Returns
    -------
    list of (Path, int)
        The files removed and their sizes in bytes.
    """
    path = Path(path)
    pattern = _stale_pattern(path.name)
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # a living writer holds it (or no flock here: leave it)
                continue
            os.unlink(entry.path)  # under the lock, so no writer can take it meanwhile
            removed.append((Path(entry.path), st.st_size))
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


def write_atomically(path, data) -> Path:
    """Write ``data`` to ``path`` through a locked temporary file renamed at the end: ``path``
    is never seen half-written, and an error or interruption leaves no temporary file."""
    path = Path(path)
    remove_stale_temporaries(path)
    with TemporaryFile(path) as tmp:
        tmp.write(data)
        return tmp.publish()


def check_writable_dir(path, option, *, create=True) -> Path:
    """Check that directory ``path`` is writable, creating it if needed; return it.

    With ``create=False`` a missing directory is not created (the writer will), but its
    nearest existing parent must be a writable directory."""
    out_dir = Path(path)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{option} {str(out_dir)!r} exists and is not a directory")
    if not out_dir.exists() and not create:
        parent = out_dir.absolute().parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise PermissionError(f"{option} {str(out_dir)!r}: {str(parent)!r} is not writable")
        return out_dir
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(
            exc.errno, f"{option} {str(out_dir)!r}: cannot create it ({exc.strerror})"
        ) from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise PermissionError(f"{option} {str(out_dir)!r} is not writable")
    return out_dir


# -- outputs never over inputs ----------------------------------------------------------------


def _real(path) -> str:
    return os.path.realpath(os.fspath(path))


class Folder(NamedTuple):
    """An input folder whose files of these suffixes (at any depth) are read."""

    path: os.PathLike | str
    suffixes: frozenset = IMAGE_SUFFIXES


def refuse_overwrite(outputs: Iterable, inputs: Iterable, what: str = "output") -> None:
    """Refuse, before any work, to write a file that is one of the inputs or would join one.

    Parameters
    ----------
    outputs : iterable of path-like
        The files that will be written (their temporary files lie beside them).
    inputs : iterable of path-like or Folder
        Files that will be read, and folders read as a collection: a :class:`Folder` (or a
        plain path that is a directory, meaning the image files under it) protects every file
        under it with one of its suffixes, since a file written there would join the input.
    what : str
        How the message names the output (``"OUTPUT"``, ``"--out"``, ``"out"``).

    Raises
    ------
    ValueError
        Naming the output and the input it would overwrite.  Symbolic links and ``..`` are
        resolved, and hard links are recognised by inode.
    """
    files, folders = [], []
    for item in inputs:
        if item is None:
            continue
        if not isinstance(item, Folder) and os.path.isdir(item):
            item = Folder(item)
        if isinstance(item, Folder):
            folders.append((item, _real(item.path).rstrip(os.sep) + os.sep))
        else:
            files.append((item, _real(item)))
    for out in outputs:
        out_real = _real(out)
        for item, real in files:
            same = out_real == real
            if not same:
                with contextlib.suppress(OSError):
                    same = os.path.samefile(out_real, real)
            if same:
                raise ValueError(
                    f"{what} {os.fspath(out)!r} is the input file {os.fspath(item)!r}: glassbox "
                    "never writes over its inputs; choose another output"
                )
        for item, prefix in folders:
            if out_real.startswith(prefix) and Path(out_real).suffix.lower() in item.suffixes:
                raise ValueError(
                    f"{what} {os.fspath(out)!r} lies inside the input folder "
                    f"{os.fspath(item.path)!r}, whose {Path(out_real).suffix} files it reads: "
                    "glassbox never writes into its inputs; choose another output"
                )


# -- reading ----------------------------------------------------------------------------------


def open_regular(path, what=None):
    """Open a regular file for reading in binary mode.

    A FIFO, socket or device is refused before anything is read (opening a FIFO for reading
    would wait for a writer forever).

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError, ValueError
        Each naming ``what`` (default: the path).
    """
    name = os.fspath(path) if what is None else what
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise FileNotFoundError(f"cannot read {name}: no such file") from None
    except IsADirectoryError:  # pragma: no cover - Linux opens directories read-only
        raise IsADirectoryError(f"{name} is a directory, not a file") from None
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot read {name}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(f"{name} is a directory, not a file")
        if not stat.S_ISREG(mode):
            raise ValueError(f"{name} is not a regular file (a FIFO, socket or device)")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_file(path, what=None) -> bytes:
    """The bytes of a regular file (see :func:`open_regular`)."""
    name = os.fspath(path) if what is None else what
    with open_regular(path, what) as f:
        try:
            return f.read()
        except OSError as exc:
            raise OSError(exc.errno, f"{name}: reading failed ({exc.strerror})") from None


# -- .npy headers -----------------------------------------------------------------------------


class NpyHeader(NamedTuple):
    """What an ``.npy`` header says."""

    shape: tuple
    fortran_order: bool
    dtype: np.dtype
    offset: int  # bytes from the start of the file to the data


def npy_header(f, name) -> NpyHeader:
    """Parse the ``.npy`` header at the start of binary file object ``f``.

    Raises
    ------
    ValueError
        Not an ``.npy`` file, or a corrupt header.
    """
    from numpy.lib import format as npf

    try:
        version = npf.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npf.read_array_header_1_0(f, max_header_size=100_000)
        else:  # 3.0 differs from 2.0 only in the header text's encoding
            shape, fortran, dtype = npf.read_array_header_2_0(f, max_header_size=100_000)
    except (ValueError, OSError, SyntaxError, TypeError, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"{name}: not a valid .npy file ({exc})") from None
    offset = f.tell() if hasattr(f, "tell") else None
    return NpyHeader(tuple(int(s) for s in shape), bool(fortran), dtype, offset)


def _nbytes(shape, dtype) -> int:
    n = dtype.itemsize
    for s in shape:
        n *= int(s)
    return n


# What reading a damaged zip archive can raise: zipfile reports most damage as BadZipFile, but
# an unknown version or compression method, encryption, or a bad name with other exceptions.
ZIP_ERRORS = (
    zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError,
    EOFError, ValueError, zlib.error, struct.error,
)  # fmt: skip


class NpzMember(NamedTuple):
    """One array of an ``.npz`` archive, described by its header."""

    shape: tuple
    dtype: np.dtype
    nbytes: int


def npz_members(data, name) -> dict[str, NpzMember]:
    """The arrays of an ``.npz`` archive, from their headers (nothing is decompressed but them).

    Parameters
    ----------
    data : bytes or binary file object
    name : str
        How messages name the archive.

    Returns
    -------
    dict of str to NpzMember
        Keyed like ``numpy.load``'s ``files`` (the member names without ``.npy``).

    Raises
    ------
    ValueError
        Not a zip archive (with numpy's invitation to unpickle replaced by this plain fact), a
        member that is not an ``.npy`` array, a header whose size disagrees with the member's
        (a declared shape far larger than the data is refused here, before anything is
        allocated), or an array of Python objects.
    """
    f = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    head = f.read(4)
    f.seek(0)
    if head[:2] != b"PK":
        raise ValueError(f"{name}: not a valid .npz archive (it is not a zip file)")
    try:
        zf = zipfile.ZipFile(f)
        infos = zf.infolist()
    except ZIP_ERRORS as exc:
        raise ValueError(f"{name}: not a valid .npz archive ({exc})") from None
    members = {}
    for info in infos:
        key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if info.is_dir() or not info.filename.endswith(".npy"):
            raise ValueError(f"{name}: member {info.filename!r} is not an .npy array")
        try:
            with zf.open(info) as m:
                h = npy_header(m, f"{name} (array {key!r})")
                offset = m.tell()
        except ValueError:
            raise
        except ZIP_ERRORS as exc:
            raise ValueError(f"{name}: array {key!r} cannot be read ({exc})") from None
        if h.dtype.hasobject:
            raise ValueError(
                f"{name}: array {key!r} holds Python objects: it cannot be read without pickle"
            )
        nbytes = _nbytes(h.shape, h.dtype)
        if offset + nbytes != info.file_size:
            raise ValueError(
                f"{name}: array {key!r} declares shape {h.shape} of {h.dtype} ({nbytes} bytes), "
                f"but the archive holds {max(info.file_size - offset, 0)} bytes of data for it"
            )
        members[key] = NpzMember(h.shape, h.dtype, nbytes)
    return members


# -- IDX --------------------------------------------------------------------------------------

IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


# deflate compresses at most about 1032:1, so a gzip file whose header promises more is corrupt
_DEFLATE_MAX_RATIO = 1032


class IdxFile:
    """The one reader of IDX files (the MNIST format), gzip-compressed or not.

    The header is checked on opening; for an uncompressed file, so is the size: a file shorter
    or longer than its header says is refused at once (for a gzip file, a header declaring more
    data than the compressed size could possibly hold).  A gzip file can only be checked when it
    is read to its end: reading the last record also reads the gzip trailer, so that a CRC or
    length that does not match (a corrupted or truncated member), or data beyond what the header
    says, raises ``ValueError`` there.  Everything read through this class is checked this way
    by the time the last record has been returned.

    Attributes
    ----------
    n : int
        Number of records (the first dimension).
    record_shape : tuple of int
    dtype : numpy.dtype
        As stored (big-endian for multi-byte types); :meth:`read` returns native byte order.
    """

    def __init__(self, path, *, ndim=None, unit="record"):
        self.path = Path(path)
        self.unit = unit  # what messages call a record: "image", "label"
        self.name = str(self.path)
        self._f = self._raw = None
        self._raw = open_regular(self.path)
        try:
            magic = self._raw.read(2)
            self._raw.seek(0)
            self.gzip = magic == b"\x1f\x8b"
            self._f = gzip.GzipFile(fileobj=self._raw, mode="rb") if self.gzip else self._raw
            self._read_header(ndim)
        except BaseException:
            self.close()
            raise

    def _bad(self, exc):
        return ValueError(f"{self.name}: corrupt or truncated gzip data ({exc})")

    def _read_header(self, ndim):
        try:
            head = self._f.read(4)
        except (OSError, EOFError, zlib.error) as exc:
            raise self._bad(exc) from None
        if len(head) < 4 or head[0] != 0 or head[1] != 0:
            raise ValueError(f"{self.name}: not an IDX file (bad magic number)")
        dtype = IDX_DTYPES.get(head[2])
        if dtype is None:
            raise ValueError(f"{self.name}: unknown IDX data type code 0x{head[2]:02x}")
        nd = head[3]
        if not 1 <= nd <= 4:
            raise ValueError(f"{self.name}: corrupt IDX header ({nd} dimensions)")
        if ndim is not None and nd != ndim:
            raise ValueError(
                f"{self.name}: an IDX file of {nd} dimension(s), expected {ndim}"
                + (" (images)" if ndim == 3 else "")
            )
        try:
            raw = self._f.read(4 * nd)
        except (OSError, EOFError, zlib.error) as exc:
            raise self._bad(exc) from None
        if len(raw) != 4 * nd:
            raise ValueError(f"{self.name}: corrupt IDX header (it ends early)")
        shape = struct.unpack(f">{nd}I", raw)
        self.n, self.record_shape, self.dtype = shape[0], tuple(shape[1:]), dtype
        self.header_size = 4 + 4 * nd
        self.record_bytes = _nbytes(self.record_shape, dtype)
        self.data_bytes = self.n * self.record_bytes
        self.pos = 0  # the next record the stream is at
        size = os.fstat(self._raw.fileno()).st_size
        if self.gzip:
            if self.header_size + self.data_bytes > _DEFLATE_MAX_RATIO * size + 65536:
                raise ValueError(
                    f"{self.name}: corrupt: its header declares {shape} ({self.data_bytes} bytes "
                    f"of data), more than {size} bytes of gzip data can hold"
                )
        else:
            body = size - self.header_size
            if body != self.data_bytes:
                what = "truncated" if body < self.data_bytes else "longer than its header says"
                raise ValueError(
                    f"{self.name}: {what}: header {shape} needs {self.data_bytes} bytes of data, "
                    f"found {body}"
                )

    @property
    def shape(self):
        return (self.n, *self.record_shape)

    def _restart(self):
        self._f.close()
        self._raw.seek(0)
        self._f = gzip.GzipFile(fileobj=self._raw, mode="rb")
        self._f.read(self.header_size)
        self.pos = 0

    def read(self, a, b) -> np.ndarray:
        """Records ``a`` to ``b - 1``, a new C-contiguous array in native byte order.

        Raises
        ------
        ValueError
            Corrupt or truncated data (naming the file and the record), or, once the last record
            is read, a gzip trailer that does not match or data beyond the header's size.
        """
        out = np.empty((b - a, *self.record_shape), dtype=self.dtype)
        want = out.nbytes
        try:
            if not self.gzip:
                self._raw.seek(self.header_size + a * self.record_bytes)
            else:
                if a < self.pos:  # a gzip stream only reads forward: start again
                    self._restart()
                while self.pos < a:  # skip, in bounded pieces
                    k = min(a - self.pos, max(1, (1 << 22) // max(1, self.record_bytes)))
                    if len(self._f.read(k * self.record_bytes)) != k * self.record_bytes:
                        raise EOFError("unexpected end of data")
                    self.pos += k
            got = self._f.readinto(memoryview(out).cast("B")) if want else 0
            if got != want:
                raise ValueError(
                    f"{self.name}: truncated: {self.unit} {a + got // max(1, self.record_bytes)} "
                    f"of {self.n} cannot be read (the data end early)"
                )
            self.pos = b
            if self.gzip and b == self.n:
                self._check_end()
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(
                f"{self.name}: corrupt or truncated gzip data (found while reading {self.unit}s "
                f"{a}..{b - 1}: {exc})"
            ) from None
        return out if self.dtype.isnative else out.astype(self.dtype.newbyteorder("="))

    def _check_end(self):
        """At the end of the header's data: the gzip trailer must verify and nothing follow.

        Corrupt deflate data often decode to more bytes than the header declares: the rest is
        read (the file's size bounds it), so that a CRC failure is reported as corruption."""
        extra = self._f.read(1)  # reads the trailer: CRC-32 and length are checked here
        if extra:
            while self._f.read(1 << 20):  # raises at the CRC check if the data are corrupt
                pass
            raise ValueError(
                f"{self.name}: longer than its header says: data continue after the "
                f"{self.n} {self.unit}s of {self.record_shape} the header declares"
            )

    def read_all(self) -> np.ndarray:
        """Every record, verified (see the class)."""
        return self.read(0, self.n)

    def close(self):
        for f in (self._f, self._raw):
            if f is not None:
                with contextlib.suppress(OSError, EOFError, zlib.error):
                    f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# -- images -----------------------------------------------------------------------------------

_DECODE_LOCK = threading.Lock()
_PIPE: list[int] = []


def _capture_stderr():
    """A non-blocking pipe to catch what C libraries print on fd 2 while decoding."""
    if not _PIPE:
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)  # a decoder that says more than the pipe holds loses the rest
        _PIPE.extend((r, w))
    return _PIPE


def _decode(buf: np.ndarray):
    """``cv2.imdecode`` as grey levels, with what OpenCV and its codecs print on stderr caught
    rather than shown beside glassbox's own message.  Returns ``(image or None, text)``."""
    import cv2

    with _DECODE_LOCK:
        r, w = _capture_stderr()
        saved = os.dup(2)
        try:
            os.dup2(w, 2)
            img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        said = b""
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(r, 65536):
                said += chunk
    return img, said.decode("utf-8", "replace").strip()


def read_grey(path, shape=None, name=None) -> np.ndarray:
    """One image file as grey levels, resized to ``shape`` (H, W) if given.

    Decoded by OpenCV from the file's bytes.  A file that cannot be decoded, or whose decoder
    reports corrupt data (a truncated JPEG decodes to a half-grey image otherwise), raises a
    ``ValueError`` naming ``name`` (default: the path), with what the decoder said.
    """
    name = os.fspath(path) if name is None else name
    data = read_file(path, name)
    if not data:
        raise ValueError(f"{name}: an empty file, not an image")
    img, said = _decode(np.frombuffer(data, np.uint8))
    if img is None or said:
        detail = f" ({' '.join(said.split())[:300]})" if said else ""
        raise ValueError(f"{name}: cannot be read as an image{detail}")
    return img if shape is None else resize(img, shape)


def resize(img: np.ndarray, shape) -> np.ndarray:
    """``img`` at ``shape`` (H, W) with ``cv2.INTER_AREA`` (the one resizing rule of every image
    reader here); dtypes ``cv2.resize`` does not take go through float32."""
    import cv2

    h, w = shape
    if img.shape == (h, w):
        return img
    if img.dtype not in (np.uint8, np.uint16, np.float32):
        img = img.astype(np.float32)
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
