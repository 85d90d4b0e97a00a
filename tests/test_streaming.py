"""Streaming: transform_chunked, the reduction by chunks and ``glassbox preprocess``."""

from __future__ import annotations

import errno
import gzip
import os

import numpy as np
import pytest

import glassbox as gb
from glassbox import streaming
from glassbox.cli import main
from glassbox.streaming._npy_writer import NpyWriter

from conftest import no_temporaries, write_idx


@pytest.fixture(scope="module")
def rep(images):
    return gb.GlassBoxRepresentation(thresholds=8).fit(images)


@pytest.mark.parametrize("chunk_size", [1, 7, 100, 257, 10_000])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_chunked_equals_in_memory(images, rep, chunk_size, n_threads, tmp_path):
    r = gb.GlassBoxRepresentation(thresholds=8, n_threads=n_threads).fit(images)
    expected = rep.transform(images)
    np.testing.assert_array_equal(r.transform_chunked(images, chunk_size=chunk_size), expected)
    out = r.transform_chunked(images, tmp_path / "f.npy", chunk_size=chunk_size)
    assert isinstance(out, np.memmap) and not out.flags.writeable
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(np.load(tmp_path / "f.npy"), expected)
    assert no_temporaries(tmp_path)


def test_every_source_kind(images, rep, tmp_path):
    import cv2

    expected = rep.transform(images)
    np.save(tmp_path / "x.npy", images)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    idx = write_idx(tmp_path / "x-idx3-ubyte", images)
    idz = write_idx(tmp_path / "z-idx3-ubyte.gz", images, compress=True)
    folder = tmp_path / "folder"
    for i, im in enumerate(images[:30]):
        sub = folder / f"class{i % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(sub / f"{i:03d}.png"), im)
    flat = images.reshape(len(images), -1)
    for source in (mm, tmp_path / "x.npy", str(idx), idz, flat):
        got = rep.transform_chunked(source, chunk_size=50)
        np.testing.assert_array_equal(got, expected, err_msg=str(type(source)))
    files = sorted(folder.rglob("*.png"))
    order = [int(f.stem) for f in files]
    np.testing.assert_array_equal(rep.transform_chunked(folder, chunk_size=4), expected[order])
    with streaming.open_images(idz) as src:  # the gzip source reads backwards by reopening
        np.testing.assert_array_equal(src.read(200, 202), images[200:202])
        np.testing.assert_array_equal(src.read(3, 5), images[3:5])
        np.testing.assert_array_equal(src.take([1, 2, 3, 100]), images[[1, 2, 3, 100]])


def test_copy_on_write_memmap_keeps_its_changes(images, rep, tmp_path):
    np.save(tmp_path / "x.npy", images)
    mm = np.load(tmp_path / "x.npy", mmap_mode="c")
    mm[:] = 255 - mm  # private changes, in memory only
    expected = rep.transform(255 - images)
    np.testing.assert_array_equal(rep.transform_chunked(mm, chunk_size=40), expected)
    np.testing.assert_array_equal(mm, 255 - images)  # still there after reading
    ro = np.load(tmp_path / "x.npy", mmap_mode="r")
    np.testing.assert_array_equal(rep.transform_chunked(ro, chunk_size=40), rep.transform(images))
    np.testing.assert_array_equal(ro[100:110], images[100:110])  # pages dropped, data kept


def test_out_array_and_memmap(images, rep, tmp_path):
    expected = rep.transform(images)
    buf = np.zeros_like(expected)
    assert rep.transform_chunked(images, buf, chunk_size=60) is buf
    np.testing.assert_array_equal(buf, expected)
    mm = np.lib.format.open_memmap(tmp_path / "o.npy", "w+", np.float32, expected.shape)
    rep.transform_chunked(images, mm, chunk_size=60)
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), expected)
    with pytest.raises(ValueError, match="out must have shape"):
        rep.transform_chunked(images, buf[:-1])
    with pytest.raises(ValueError, match="out must have shape"):
        rep.transform_chunked(images, buf.astype(np.float64))
    with pytest.raises(ValueError, match="out must end in .npy|must end in .npy"):
        rep.transform_chunked(images, tmp_path / "o.txt")
    with pytest.raises(TypeError, match="out must be an .npy path or an ndarray"):
        rep.transform_chunked(images, [1, 2])


def test_bad_sources(images, rep, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        rep.transform_chunked(tmp_path / "missing.npy")
    (tmp_path / "junk.bin").write_bytes(b"hello world, not images")
    with pytest.raises(ValueError, match="unknown format"):
        rep.transform_chunked(tmp_path / "junk.bin")
    np.save(tmp_path / "small.npy", images[:, :14, :14])
    with pytest.raises(ValueError, match=r"shape \(14, 14\).*fitted on \(28, 28\)"):
        rep.transform_chunked(tmp_path / "small.npy")
    np.save(tmp_path / "obj.npy", np.array([None, 1], dtype=object))
    with pytest.raises(ValueError, match="not numeric images"):
        rep.transform_chunked(tmp_path / "obj.npy")
    np.save(tmp_path / "one.npy", np.zeros(5))
    with pytest.raises(ValueError, match="not \\(N, H, W\\) images"):
        rep.transform_chunked(tmp_path / "one.npy")
    # a truncated file is refused before anything is written, naming the first missing image
    np.save(tmp_path / "t.npy", images)
    raw = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(raw[: len(raw) - 784 * 10 - 5])
    with pytest.raises(ValueError, match=r"t.npy: truncated .npy file.*end in image 246"):
        rep.transform_chunked(tmp_path / "t.npy", tmp_path / "out.npy")
    assert not (tmp_path / "out.npy").exists() and no_temporaries(tmp_path)
    write_idx(tmp_path / "bad-idx3-ubyte.gz", images, compress=True)
    raw = (tmp_path / "bad-idx3-ubyte.gz").read_bytes()
    (tmp_path / "bad-idx3-ubyte.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"bad-idx3-ubyte.gz: corrupt or truncated gzip .*image"):
        rep.transform_chunked(tmp_path / "bad-idx3-ubyte.gz", tmp_path / "out.npy", chunk_size=10)
    assert not (tmp_path / "out.npy").exists() and no_temporaries(tmp_path)
    with pytest.raises(ValueError, match="chunk_size"):
        rep.transform_chunked(images, chunk_size=0)


@pytest.mark.parametrize("kind", ["npy", "npy-big-endian", "idx", "memmap"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_images_in_a_file_are_named_by_file_and_image(images, tmp_path, kind, bad):
    """NaN or infinity in a file of float images: every reader of files (transform_chunked,
    fit from a path, kernel-ridge's parts) names the file and the first such image."""
    x = images.astype(np.float32)
    x[203, 5, 7] = bad
    x[230, 0, 0] = bad
    if kind == "idx":
        src = write_idx(tmp_path / "x-idx3-ubyte", x, code=0x0D)
    else:
        src = tmp_path / "x.npy"
        np.save(src, x.astype(">f4") if kind == "npy-big-endian" else x)
        if kind == "memmap":
            src = np.load(src, mmap_mode="r")
    rep = gb.GlassBoxRepresentation(thresholds=8).fit(images)
    message = r"x(\.npy|-idx3-ubyte): image 203 contains NaN or infinite values"
    with pytest.raises(ValueError, match=message):
        rep.transform_chunked(src, tmp_path / "out.npy", chunk_size=100)
    assert not (tmp_path / "out.npy").exists() and no_temporaries(tmp_path)
    if kind == "memmap":
        return  # an array given to fit is checked as X, whole
    y = np.arange(len(x)) % 3
    for classifier in ("kernel-ridge", "lda"):
        with pytest.raises(ValueError, match=message):
            gb.GlassBoxClassifier(classifier=classifier, n_components=5).fit(src, y)


@pytest.mark.parametrize("kind", ["npy", "idx"])
def test_no_images_read_from_a_float_file_are_no_images(tmp_path, kind):
    """Reads of no images (at the end of a file, from a file of none) are empty arrays, through
    the finiteness check of float files too (an .npy read of none was a TypeError)."""
    x = np.zeros((0, 3, 2), np.float32)
    if kind == "idx":
        src = write_idx(tmp_path / "e-idx3-ubyte", x, code=0x0D)
    else:
        src = tmp_path / "e.npy"
        np.save(src, x)
    with streaming.open_images(src) as s:
        assert s.read(0, 0).shape == (0, 3, 2)
    y = np.ones((3, 3, 2), np.float32)
    np.save(tmp_path / "f.npy", y)
    with streaming.open_images(tmp_path / "f.npy") as s:
        assert s.read(3, 3).shape == (0, 3, 2) and np.array_equal(s.read(1, 3), y[1:])


def test_file_truncated_mid_stream(images, rep, tmp_path):
    """The input shrinks while it is read: the error names the file and the image, and no
    output that looks complete is left."""
    np.save(tmp_path / "x.npy", images)
    size = (tmp_path / "x.npy").stat().st_size

    def shrink(done, total):
        if done == 100:
            os.truncate(tmp_path / "x.npy", size - 784 * 57 - 100)

    with pytest.raises(ValueError, match=r"x.npy: truncated: image 199 of 257"):
        rep.transform_chunked(tmp_path / "x.npy", tmp_path / "f.npy", chunk_size=100,
                              progress=shrink)  # fmt: skip
    assert not (tmp_path / "f.npy").exists() and no_temporaries(tmp_path)


def test_folder_images_of_another_size_are_resized(images, rep, tmp_path):
    import cv2

    big = cv2.resize(images[0], (56, 56), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(tmp_path / "a.png"), big)
    cv2.imwrite(str(tmp_path / "b.png"), images[1])
    got = rep.transform_chunked(tmp_path)
    small = cv2.resize(big, (28, 28), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(got, rep.transform(np.stack([small, images[1]])))
    with streaming.open_images(tmp_path) as src:  # no shape given: the first image's
        assert src.image_shape == (56, 56)


def test_unreadable_image_in_a_folder(images, rep, tmp_path):
    import cv2

    for i, im in enumerate(images[:12]):
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), im)
    (tmp_path / "07.png").write_bytes(b"\x89PNG broken")
    out = tmp_path / "out" / "f.npy"
    out.parent.mkdir()
    with pytest.raises(ValueError, match=r"07.png: cannot be read as an image \(image 7\)"):
        rep.transform_chunked(tmp_path, out, chunk_size=5)
    assert not out.exists() and no_temporaries(out.parent)


def test_full_disk_is_reported_and_cleaned_up(images, rep, tmp_path, monkeypatch):
    """The disk fills up after two blocks of features (the writing thread writes in order)."""
    real = NpyWriter._write_raw
    blocks = []

    def filling(self, data):
        if len(memoryview(data).cast("B")) > 5000:  # a block of features, not the header
            blocks.append(1)
            if len(blocks) > 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, data)

    monkeypatch.setattr(NpyWriter, "_write_raw", filling)
    with pytest.raises(OSError, match=r"f.npy'?: writing the features of images 100..149 failed: "):
        rep.transform_chunked(images, tmp_path / "f.npy", chunk_size=50)
    assert not (tmp_path / "f.npy").exists() and no_temporaries(tmp_path)


def test_direct_and_buffered_writes_agree(images, rep, tmp_path, monkeypatch):
    """O_DIRECT writes (page-aligned, the last page padded then truncated) and ordinary writes
    give the same file; blocks of every size cross page boundaries."""
    expected = rep.transform(images)
    for chunk in (1, 3, 50, 257):
        rep.transform_chunked(images, tmp_path / f"d{chunk}.npy", chunk_size=chunk)
        np.testing.assert_array_equal(np.load(tmp_path / f"d{chunk}.npy"), expected)
    Z = np.random.default_rng(0).normal(size=(257, 7))
    w = NpyWriter(tmp_path / "z.npy", Z.shape, np.float32)
    w.open()
    for a in range(0, 257, 10):
        w.write(Z[a : a + 10].astype(np.float32), a)  # not from buffer(): copied, aligned
    w.commit()
    np.testing.assert_array_equal(np.load(tmp_path / "z.npy"), Z.astype(np.float32))
    monkeypatch.delattr(streaming.os, "O_DIRECT", raising=False)
    rep.transform_chunked(images, tmp_path / "b.npy", chunk_size=50)
    assert (tmp_path / "b.npy").read_bytes() == (tmp_path / "d50.npy").read_bytes()
    assert no_temporaries(tmp_path)


def test_existing_output_is_replaced_only_when_complete(images, rep, tmp_path):
    np.save(tmp_path / "f.npy", np.arange(3))
    with pytest.raises(ValueError, match="stop"):
        rep.transform_chunked(images, tmp_path / "f.npy", progress=_boom, chunk_size=50)
    np.testing.assert_array_equal(np.load(tmp_path / "f.npy"), np.arange(3))  # untouched
    rep.transform_chunked(images, tmp_path / "f.npy", chunk_size=50)
    assert np.load(tmp_path / "f.npy").shape == (257, rep.n_features_out_)
    assert oct((tmp_path / "f.npy").stat().st_mode & 0o777) != oct(0o600)


def _boom(done, total):
    raise ValueError("stop")


def test_fit_reduction_matches_incremental_pca(images, rep):
    from sklearn.decomposition import IncrementalPCA
    from sklearn.preprocessing import StandardScaler

    calls = []
    scaler, pca = streaming.fit_reduction(
        rep, images, 20, chunk_size=60, progress=lambda d, t: calls.append((d, t))
    )
    assert calls[-1] == (514, 514)
    F = rep.transform(images)
    ref_scaler = StandardScaler().fit(F)
    np.testing.assert_allclose(scaler.mean_, ref_scaler.mean_, rtol=1e-6)
    np.testing.assert_allclose(scaler.scale_, ref_scaler.scale_, rtol=1e-6)
    ref = IncrementalPCA(20)
    Z = ref_scaler.transform(F)
    for a, b in [(0, 60), (60, 120), (120, 180), (180, 257)]:  # the last 17 join the 4th chunk
        ref.partial_fit(Z[a:b])
    np.testing.assert_allclose(pca.components_, ref.components_, rtol=1e-4, atol=1e-5)
    out = streaming.transform_reduced(rep, scaler, pca, images, chunk_size=100)
    np.testing.assert_allclose(out, ref.transform(Z), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="n_components must be an int in"):
        streaming.fit_reduction(rep, images, 0)


def test_check_output_path(tmp_path):
    assert streaming.check_output_path(tmp_path / "f.npy") == tmp_path / "f.npy"
    with pytest.raises(ValueError, match=r"OUTPUT '.*f.txt' must be an .npy file"):
        streaming.check_output_path(tmp_path / "f.txt", "OUTPUT")
    with pytest.raises(FileNotFoundError, match="no such directory"):
        streaming.check_output_path(tmp_path / "no" / "f.npy")
    (tmp_path / "d.npy").mkdir()
    with pytest.raises(IsADirectoryError, match="is a directory"):
        streaming.check_output_path(tmp_path / "d.npy")


# -- outputs never over inputs (files and arrays) --------------------------------------------


def test_output_file_over_the_input_is_refused_before_any_work(images, rep, tmp_path, monkeypatch):
    src = tmp_path / "x.npy"
    np.save(src, images)
    before = src.read_bytes()
    (tmp_path / "link.npy").symlink_to(src)
    os.link(src, tmp_path / "hard.npy")
    (tmp_path / "d").mkdir()
    monkeypatch.chdir(tmp_path / "d")
    mm = np.load(src, mmap_mode="r")
    cases = [
        (src, src),
        (str(src), "../x.npy"),
        (src, "./../d/../x.npy"),
        (src, tmp_path / "link.npy"),
        (tmp_path / "link.npy", src),
        (src, tmp_path / "hard.npy"),
        (mm, src),  # a memmap of the output file as the source
        (mm[10:50], "../x.npy"),
    ]
    for source, out in cases:
        with pytest.raises(ValueError, match="never writes over its inputs"):
            rep.transform_chunked(source, out=out)
    with pytest.raises(ValueError, match="never writes over its inputs"):
        streaming.transform_reduced(rep, None, _pca(rep, images), src, out=src)
    assert src.read_bytes() == before and no_temporaries(tmp_path)


def _pca(rep, images):
    from sklearn.decomposition import PCA

    return PCA(4).fit(rep.transform(images))


@pytest.mark.parametrize(("src_at", "out_at"), [(0, 0), (4 * 1000, 0), (0, 4 * 1000), (0, 70_000)])
def test_output_array_sharing_memory_with_the_source_is_refused(images, rep, src_at, out_at):
    """out and the source images in one buffer, overlapping at various offsets."""
    n, nf = 100, rep.n_features_out_
    arena = np.zeros(4 * n * nf + n * 784, dtype=np.uint8)
    src = arena[src_at : src_at + n * 784].reshape(n, 28, 28)
    src[:] = images[:n]
    out = arena[out_at : out_at + 4 * n * nf].view(np.float32).reshape(n, nf)
    with pytest.raises(ValueError, match="out shares memory with the source"):
        rep.transform_chunked(src, out=out, chunk_size=7)
    np.testing.assert_array_equal(src, images[:n])  # refused before anything was written


def test_separate_arrays_in_one_buffer_and_memmaps_of_another_file(images, rep, tmp_path):
    n, nf = 100, rep.n_features_out_
    arena = np.zeros(4 * n * nf + n * 784, dtype=np.uint8)
    out = arena[: 4 * n * nf].view(np.float32).reshape(n, nf)
    src = arena[4 * n * nf :].reshape(n, 28, 28)
    src[:] = images[:n]
    np.testing.assert_array_equal(rep.transform_chunked(src, out=out), rep.transform(src))
    # a memmap output over the file the source is mapped from (another mapping of it)
    np.save(tmp_path / "x.npy", np.zeros((n, nf), np.float32))
    src_mm = np.load(tmp_path / "x.npy", mmap_mode="r").view(np.uint8)[:, :784].reshape(n, 28, 28)
    with pytest.raises(ValueError, match="never writes over its inputs"):
        rep.transform_chunked(src_mm, out=np.load(tmp_path / "x.npy", mmap_mode="r+"))


# -- the one IDX reader on every path --------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_corrupted_gzip_idx_is_refused_by_streaming_as_by_read_idx(images, rep, tmp_path, seed):
    """100 random bytes in the middle of a gzip IDX file: the CRC check refuses it on every
    path, and no output is left."""
    write_idx(tmp_path / "x-idx3-ubyte.gz", images, compress=True)
    raw = bytearray((tmp_path / "x-idx3-ubyte.gz").read_bytes())
    rng = np.random.default_rng(seed)
    mid = len(raw) // 2 + int(rng.integers(-len(raw) // 5, len(raw) // 5))
    raw[mid : mid + 100] = rng.integers(0, 256, 100, dtype=np.uint8).tobytes()
    (tmp_path / "x-idx3-ubyte.gz").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="x-idx3-ubyte.gz: (corrupt|longer than)"):
        gb.datasets.read_idx(tmp_path / "x-idx3-ubyte.gz")
    for chunk in (1, 50, 10_000):
        with pytest.raises(ValueError, match="x-idx3-ubyte.gz: (corrupt|longer than)"):
            rep.transform_chunked(
                tmp_path / "x-idx3-ubyte.gz", tmp_path / "o.npy", chunk_size=chunk
            )
        assert not (tmp_path / "o.npy").exists() and no_temporaries(tmp_path)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("extra", [b"\0", b"\0" * 784, b"trailing garbage"])
def test_idx_longer_than_its_header_is_refused_when_streamed(images, rep, tmp_path, compress,
                                                             extra):  # fmt: skip
    head = bytes([0, 0, 0x08, 3]) + np.array(images.shape, ">u4").tobytes()
    data = head + images.tobytes() + extra
    (tmp_path / "x-idx3-ubyte").write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(ValueError, match="longer than its header says"):
        rep.transform_chunked(tmp_path / "x-idx3-ubyte", tmp_path / "o.npy", chunk_size=100)
    assert not (tmp_path / "o.npy").exists() and no_temporaries(tmp_path)


# -- memory set by min(chunk_size, N), refused before allocating -----------------------------


def test_a_chunk_size_beyond_the_images_sizes_buffers_by_the_images(images, rep, tmp_path):
    out = rep.transform_chunked(images, tmp_path / "o.npy", chunk_size=10**9)
    np.testing.assert_array_equal(out, rep.transform(images))
    np.testing.assert_array_equal(rep.transform_chunked(images, chunk_size=10**12),
                                  rep.transform(images))  # fmt: skip


def test_chunks_beyond_memory_are_refused_naming_chunk_size(images, rep, tmp_path, monkeypatch):
    from glassbox import _validation

    monkeypatch.setattr(_validation, "memory_limit", lambda: 2 * 2**20)
    monkeypatch.setattr(_validation, "_ALWAYS_ALLOWED", 0)
    for out in (None, tmp_path / "o.npy"):
        with pytest.raises(ValueError, match="chunk_size=200: chunks of 200 images would need"):
            rep.transform_chunked(images, out, chunk_size=200)
    with pytest.raises(ValueError, match="chunk_size=500: chunks of 257 images would need"):
        streaming.fit_reduction(rep, images, 5, chunk_size=500)
    assert no_temporaries(tmp_path)


def test_masked_and_sparse_sources_are_refused(images, rep):
    with pytest.raises(TypeError, match="source: masked arrays are not supported"):
        rep.transform_chunked(np.ma.masked_array(images, images > 200))
    with pytest.raises(TypeError, match="source: masked arrays"):
        streaming.open_images(np.ma.masked_array(images))


def test_fifo_source_is_refused_not_waited_on(rep, tmp_path):
    os.mkfifo(tmp_path / "x.npy")
    with pytest.raises(ValueError, match="not a regular file"):
        rep.transform_chunked(tmp_path / "x.npy")
    rc = main(["preprocess", str(tmp_path / "x.npy"), str(tmp_path / "o.npy"), "--quiet"])
    assert rc == 1


# -- killed runs: TERM and HUP like INT; stale temporaries removed by the next run -----------


# -- the fit of preprocess, saved and applied again ------------------------------------------


@pytest.mark.parametrize("shape", [(2**32 - 1, 0, 5), (10, 5, 0), (0, 0, 0)])
def test_sources_of_images_without_pixels_are_refused(rep, tmp_path, shape):
    """A damaged IDX header (one byte) can declare billions of 0-pixel images, which a reader
    would loop over for ever: images must have pixels."""
    head = bytes([0, 0, 0x08, 3]) + np.array(shape, ">u4").tobytes()
    for compress in (False, True):
        path = tmp_path / f"x{int(compress)}-idx3-ubyte"
        path.write_bytes(gzip.compress(head) if compress else head)
        with pytest.raises(ValueError, match=r"hold no pixels"):
            streaming.open_images(path)
    np.save(tmp_path / "e.npy", np.zeros((7, 0, 3), np.uint8))
    with pytest.raises(ValueError, match=r"hold no pixels"):
        streaming.open_images(tmp_path / "e.npy")
    with pytest.raises(ValueError, match=r"hold no pixels"):
        rep.transform_chunked(np.zeros((5, 3, 0), np.uint8))
