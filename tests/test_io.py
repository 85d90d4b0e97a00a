"""glassbox._io: the rules about files that every reader and writer of glassbox follows.

- outputs are written through locked temporary files, renamed when complete, and never over
  an input (symbolic links, ``..``, hard links and image folders included);
- temporary files that a killed run left are removed by the next run writing that output;
- readers open regular files only (a FIFO would block forever);
- the one IDX reader refuses sizes that disagree with the header and verifies gzip trailers;
- ``.npz`` headers are read before any array, and an image that cannot be decoded is refused
  with the decoder's words in the message, not on stderr beside it.
"""

from __future__ import annotations

import fcntl
import gzip
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npf

from glassbox import _io


def _idx_bytes(arr, code=0x08):
    arr = np.asarray(arr)
    head = bytes([0, 0, code, arr.ndim]) + np.array(arr.shape, ">u4").tobytes()
    big = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    return head + arr.astype(big).tobytes()


# -- outputs never over inputs ---------------------------------------------------------------


def test_refuse_overwrite_sees_through_every_spelling_of_the_same_file(tmp_path, monkeypatch):
    src = tmp_path / "imgs.npy"
    src.write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.npy").symlink_to(src)
    os.link(src, tmp_path / "hard.npy")
    monkeypatch.chdir(tmp_path / "sub")
    spellings = [
        src,
        "../imgs.npy",
        "../sub/../imgs.npy",
        tmp_path / "link.npy",  # a symbolic link to the input
        tmp_path / "hard.npy",  # a hard link: another name, the same inode
        str(src).replace("/imgs.npy", "//imgs.npy"),
    ]
    for out in spellings:
        with pytest.raises(ValueError, match="is the input file"):
            _io.refuse_overwrite([out], [src], "OUTPUT")
        # and the other way round: the input given through the link
        with pytest.raises(ValueError, match="never writes over its inputs"):
            _io.refuse_overwrite([src], [out], "OUTPUT")
    _io.refuse_overwrite([tmp_path / "other.npy"], [src], "OUTPUT")  # a new file is fine


def test_refuse_overwrite_protects_the_files_an_input_folder_reads(tmp_path):
    folder = tmp_path / "images"
    (folder / "cat").mkdir(parents=True)
    for out in (folder / "cat" / "fig.png", folder / "report" / "orbits.PNG", folder / "x.jpg"):
        with pytest.raises(ValueError, match="lies inside the input folder"):
            _io.refuse_overwrite([out], [folder], "--out")
    # files the folder reader never reads may be written there, and so may anything beside it
    _io.refuse_overwrite([folder / "features.npy", folder / "report.json"], [folder], "--out")
    _io.refuse_overwrite([tmp_path / "images2" / "a.png"], [folder], "--out")
    only_npy = _io.Folder(folder, frozenset({".npy"}))
    with pytest.raises(ValueError, match="whose .npy files it reads"):
        _io.refuse_overwrite([folder / "a.npy"], [only_npy], "out")


# -- temporary files ---------------------------------------------------------------------------


def _temporaries(directory):
    return sorted(p.name for p in Path(directory).iterdir() if p.name.startswith("."))


def test_write_atomically_publishes_an_ordinary_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "report.json"
    _io.write_atomically(target, b"{}")
    assert target.read_bytes() == b"{}" and _temporaries(tmp_path) == []
    assert target.stat().st_mode & 0o777 == _io.file_mode()
    _io.write_atomically(target, b"[1]")  # replaces
    assert target.read_bytes() == b"[1]"


def test_a_failed_write_leaves_neither_target_nor_temporary(tmp_path, monkeypatch):
    def fail(*_):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        _io.write_atomically(tmp_path / "a.json", b"{}")
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_are_removed_and_live_ones_kept(tmp_path):
    target = tmp_path / "out.npy"
    stale = [
        tmp_path / ".out.npy.0123456789abcdef.tmp",  # this naming
        tmp_path / ".out.npy.ab_c9xyz.tmp",  # an earlier version's (mkstemp)
    ]
    for p in stale:
        p.write_bytes(b"left by a killed run")
    others = [
        tmp_path / ".other.npy.0123456789abcdef.tmp",  # beside another output
        tmp_path / ".out.npy.0123456789abcdef.bak",  # not glassbox's naming
        tmp_path / "out.npy.0123456789abcdef.tmp",
    ]
    for p in others:
        p.write_bytes(b"not ours")
    with _io.TemporaryFile(target) as live:  # a writer at work: locked
        removed = _io.remove_stale_temporaries(target)
        assert sorted(p for p, _ in removed) == sorted(stale)
        assert all(size == 20 for _, size in removed)
        live_path = live.tmp
        assert live_path.exists() and all(p.exists() for p in others)
    assert not live_path.exists()  # discarded on leaving


def test_a_killed_writer_leaves_a_file_the_next_run_removes(tmp_path):
    """SIGKILL cannot be caught: the temporary file stays, but its lock dies with the process."""
    target = tmp_path / "out.npy"
    code = (
        "import sys, os, time; from glassbox import _io\n"
        f"t = _io.TemporaryFile({str(target)!r}); t.write(b'x' * 1000)\n"
        "print(t.tmp, flush=True); time.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    tmp = Path(proc.stdout.readline().strip())
    assert tmp.exists()
    assert _io.remove_stale_temporaries(target) == []  # its writer is alive: kept
    proc.kill()
    proc.wait(timeout=60)
    proc.stdout.close()
    assert _io.remove_stale_temporaries(target) == [(tmp, 1000)]
    assert not tmp.exists()


def test_a_temporary_file_is_locked_while_it_is_written(tmp_path):
    with _io.TemporaryFile(tmp_path / "x.npy") as t:
        fd = os.open(t.tmp, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        assert t.tmp.stat().st_mode & 0o777 == 0o600  # private until published
        t.write(b"abc")
        t.publish()
    assert (tmp_path / "x.npy").read_bytes() == b"abc" and _temporaries(tmp_path) == []


@pytest.mark.parametrize("where", ["after open", "in the lock", "after the lock"])
@pytest.mark.parametrize("how", ["context", "owner"])
def test_an_interrupted_creation_leaves_no_temporary_file(tmp_path, monkeypatch, where, how):
    """Ctrl-C or a signal handler's exception can arrive between any two steps of creating
    the file: it must still be removed (found by the SIGTERM test under load)."""
    real_open, real_lock = os.open, _io._lock

    def open_then_interrupt(*a, **k):
        real_open(*a, **k)  # the file exists, the descriptor is lost with the exception
        raise KeyboardInterrupt

    def lock(fd, tmp):
        if where == "in the lock":
            raise KeyboardInterrupt
        real_lock(fd, tmp)
        raise KeyboardInterrupt

    if where == "after open":
        monkeypatch.setattr(_io.os, "open", open_then_interrupt)
    else:
        monkeypatch.setattr(_io, "_lock", lock)
    owner = None
    if how == "owner":
        owner = _io.TemporaryFile(tmp_path / "x.npy", create=False)
        assert _temporaries(tmp_path) == []

    def create():
        if owner is not None:
            owner.create()
            return
        with _io.TemporaryFile(tmp_path / "x.npy"):
            pass

    with pytest.raises(KeyboardInterrupt):
        create()
    monkeypatch.undo()
    assert _temporaries(tmp_path) == [] and not (tmp_path / "x.npy").exists()


@pytest.mark.parametrize("kind", ["file", "device"])
def test_check_writable_dir_refuses_what_is_not_a_directory(tmp_path, kind):
    path = tmp_path / "f" if kind == "file" else Path("/dev/null")
    if kind == "file":
        path.write_text("x")
    with pytest.raises(NotADirectoryError, match="exists and is not a directory"):
        _io.check_writable_dir(path, "--out")


# -- reading ---------------------------------------------------------------------------------


def test_open_regular_refuses_fifos_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.npy"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        _io.open_regular(fifo)  # would wait for a writer forever if opened plainly
    with pytest.raises(ValueError, match="--image 'x': .*not a regular file|not a regular file"):
        _io.open_regular(fifo, "--image 'x'")
    with pytest.raises(IsADirectoryError):
        _io.open_regular(tmp_path)
    with pytest.raises(ValueError, match="not a regular file"):
        _io.open_regular("/dev/zero")
    with pytest.raises(FileNotFoundError, match="no such file"):
        _io.open_regular(tmp_path / "missing")


@pytest.mark.parametrize("gz", [False, True])
def test_idx_file_reads_in_chunks_forward_and_back(tmp_path, gz):
    x = np.arange(7 * 3 * 2, dtype=np.int32).reshape(7, 3, 2) - 20
    data = _idx_bytes(x, 0x0C)
    path = tmp_path / "a"
    path.write_bytes(gzip.compress(data) if gz else data)
    with _io.IdxFile(path) as f:
        assert f.shape == (7, 3, 2) and f.gzip == gz
        np.testing.assert_array_equal(f.read(2, 5), x[2:5])
        np.testing.assert_array_equal(f.read(0, 1), x[:1])  # backwards: a gzip stream restarts
        np.testing.assert_array_equal(f.read(5, 7), x[5:])  # to the end: trailer verified
        assert f.read(3, 4).dtype.isnative


def _corruptions(good: bytes):
    """Gzip files of ``good`` damaged in every way the reader must notice."""
    z = gzip.compress(good)
    body = len(z) - 8
    flip = bytearray(z)
    flip[body // 2] ^= 0xFF
    crc = bytearray(z)
    crc[-8] ^= 0x01  # the stored CRC-32
    size = bytearray(z)
    size[-4] ^= 0x01  # the stored length
    return {
        "flipped byte in the deflate data": bytes(flip),
        "stored CRC changed": bytes(crc),
        "stored length changed": bytes(size),
        "truncated member": z[: len(z) // 2],
        "trailer cut": z[:-3],
        "data beyond the header's size": gzip.compress(good + b"\0" * 16),
        "a second member after it": z + gzip.compress(b"\1" * 16),
        "garbage after the member": z + b"junk!",
    }


@pytest.mark.parametrize("case", list(_corruptions(b"0" * 48)))
def test_every_damaged_gzip_idx_is_refused_whole_and_by_chunks(tmp_path, case):
    rng = np.random.default_rng(5)
    good = _idx_bytes(rng.integers(0, 256, (50, 8, 8)))
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(_corruptions(good)[case])
    with pytest.raises(ValueError, match=str(path)), _io.IdxFile(path) as f:
        f.read_all()
    with pytest.raises(ValueError, match=str(path)), _io.IdxFile(path) as f:  # noqa: PT012
        for a in range(0, 50, 7):
            f.read(a, min(50, a + 7))


def test_uncompressed_idx_size_must_match_the_header(tmp_path):
    good = _idx_bytes(np.zeros((4, 3, 3), np.uint8))
    for data, message in [
        (good + b"\0", "longer than its header says"),
        (good[:-1], "truncated"),
        (good[:16], "truncated"),
    ]:
        path = tmp_path / "x"
        path.write_bytes(data)
        with pytest.raises(ValueError, match=message):
            _io.IdxFile(path)


def test_idx_header_promising_more_than_gzip_can_hold(tmp_path):
    head = bytes([0, 0, 8, 3]) + np.array([10**6, 1000, 1000], ">u4").tobytes()
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(head + b"\0" * 100))
    with pytest.raises(ValueError, match="more than .* bytes of gzip data can hold"):
        _io.IdxFile(path)


def _npz_with_header(path, shape, dtype="|u1", data=b""):
    with zipfile.ZipFile(path, "w") as z, z.open("images.npy", "w") as f:
        npf.write_array_header_2_0(f, {"descr": dtype, "fortran_order": False, "shape": shape})
        f.write(data)


def test_npz_members_reads_headers_only(tmp_path):
    buf = io.BytesIO()
    np.savez_compressed(buf, images=np.zeros((1000, 28, 28), np.uint8), labels=np.arange(1000))
    members = _io.npz_members(buf.getvalue(), "d.npz")
    assert members["images"] == (((1000, 28, 28)), np.dtype(np.uint8), 784_000)
    assert members["labels"].shape == (1000,)
    # a 1.5 KB archive declaring 10**14 bytes is refused from its header
    _npz_with_header(tmp_path / "huge.npz", (10**6, 10**4, 10**4))
    assert (tmp_path / "huge.npz").stat().st_size < 2000
    with pytest.raises(ValueError, match=r"declares shape \(1000000, 10000, 10000\)"):
        _io.npz_members((tmp_path / "huge.npz").read_bytes(), "huge.npz")
    _npz_with_header(tmp_path / "short.npz", (10,), data=b"\0" * 9)
    with pytest.raises(ValueError, match="holds 9 bytes of data"):
        _io.npz_members((tmp_path / "short.npz").read_bytes(), "short.npz")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (os.urandom(3000), "not a valid .npz archive"),
        (b"", "not a valid .npz archive"),
        (b"PK\3\4" + b"\0" * 100, "not a valid .npz archive"),
        (b"\x93NUMPY\1\0" + b"\0" * 120, "not a valid .npz archive"),  # an .npy, not an .npz
    ],
)
def test_npz_that_is_not_a_zip_says_so_without_mentioning_pickle(data, message):
    with pytest.raises(ValueError, match=message) as info:
        _io.npz_members(data, "x.npz")
    assert "pickle" not in str(info.value)


def test_npz_with_objects_or_other_members_is_refused(tmp_path):
    buf = io.BytesIO()
    np.savez(buf, images=np.array([None, 1], dtype=object))
    with pytest.raises(ValueError, match="cannot be read without pickle"):
        _io.npz_members(buf.getvalue(), "o.npz")
    with zipfile.ZipFile(tmp_path / "t.npz", "w") as z:
        z.writestr("notes.txt", "hello")
    with pytest.raises(ValueError, match="'notes.txt' is not an .npy array"):
        _io.npz_members((tmp_path / "t.npz").read_bytes(), "t.npz")


def _image_files(tmp_path):
    import cv2

    img = (np.arange(64 * 64) % 251).astype(np.uint8).reshape(64, 64)
    cv2.imwrite(str(tmp_path / "ok.png"), img)
    cv2.imwrite(str(tmp_path / "ok.jpg"), img)
    png = bytearray((tmp_path / "ok.png").read_bytes())
    png[40:60] = b"\0" * 20
    jpg = (tmp_path / "ok.jpg").read_bytes()
    bad = {
        "bad.png": bytes(png),  # a damaged chunk
        "half.jpg": jpg[: len(jpg) // 2],  # cv2.imread would decode half an image
        "junk.png": b"hello",
        "empty.png": b"",
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    return img, bad


def test_read_grey_refuses_what_does_not_decode(tmp_path):
    img, bad = _image_files(tmp_path)
    np.testing.assert_array_equal(_io.read_grey(tmp_path / "ok.png"), img)
    assert _io.read_grey(tmp_path / "ok.png", (8, 16)).shape == (8, 16)
    for name in bad:
        with pytest.raises(ValueError, match=f"{name}: .*(cannot be read as an image|empty)"):
            _io.read_grey(tmp_path / name)


def test_decoders_say_nothing_on_stderr(tmp_path):
    """OpenCV and libjpeg print warnings on file descriptor 2; glassbox's own message is the
    only thing the user should see.  Checked in a fresh process, on its real stderr."""
    _image_files(tmp_path)
    code = (
        "import sys; from glassbox import _io\n"
        "for name in ('bad.png', 'half.jpg', 'junk.png'):\n"
        "    try: _io.read_grey(sys.argv[1] + '/' + name)\n"
        "    except ValueError as e: print('refused', name, e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("refused") == 3
    assert done.stderr == ""
    assert "PNG" in done.stdout or "JPEG" in done.stdout  # the decoder's words, in the message


def test_check_writable_dir_without_creating(tmp_path):
    target = tmp_path / "a" / "b.fitted"
    assert _io.check_writable_dir(target, "--save-fitted", create=False) == target
    assert not (tmp_path / "a").exists()  # the writer creates it, when it writes
    (tmp_path / "file").write_text("x")  # the nearest existing parent is not a directory
    with pytest.raises(PermissionError, match="is not writable"):
        _io.check_writable_dir(tmp_path / "file" / "x" / "y", "--save-fitted", create=False)
    with pytest.raises(NotADirectoryError, match="exists and is not a directory"):
        _io.check_writable_dir(tmp_path / "file", "--save-fitted", create=False)


@pytest.mark.parametrize(
    ("offset", "value", "what"),
    [
        (6, 109, "version needed to extract: 10.9"),  # NotImplementedError in zipfile
        (10, 99, "an unknown compression method"),  # NotImplementedError on open
        (8, 1, "the encrypted flag"),  # RuntimeError: a password is needed
        (8, 0x08 | 0x800, "a UTF-8 name flag on a name that is not"),
    ],
)
def test_npz_with_zip_features_zipfile_refuses_in_other_ways(tmp_path, offset, value, what):
    """zipfile reports some damage with NotImplementedError or RuntimeError, not BadZipFile:
    every reader must still answer ValueError (the long fuzz found the first)."""
    buf = io.BytesIO()
    np.savez(buf, images=np.zeros((2, 3, 3), np.uint8), labels=np.arange(2))
    raw = bytearray(buf.getvalue())
    entry = raw.rfind(b"PK\x01\x02")  # the central directory entry of the last member
    raw[entry + offset : entry + offset + 2] = value.to_bytes(2, "little")
    if "UTF-8" in what:
        name_at = entry + 46
        raw[name_at : name_at + 1] = b"\xff"  # not UTF-8
    with pytest.raises(ValueError, match="not a valid .npz archive|cannot be read"):
        _io.npz_members(bytes(raw), "x.npz")
    (tmp_path / "x.npz").write_bytes(bytes(raw))
    from glassbox import datasets

    with pytest.raises(ValueError, match="x.npz"):
        datasets.load_npz(tmp_path / "x.npz")
