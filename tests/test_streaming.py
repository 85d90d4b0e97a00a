"""Streaming: transform_chunked, the reduction by chunks and ``glassbox preprocess``."""

from __future__ import annotations

import errno
import gzip
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import glassbox as gb
from glassbox import streaming
from glassbox.cli import main


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (257, 28, 28), dtype=np.uint8)
    x[:, :4] = 0  # some structure: dark rows
    return x


@pytest.fixture(scope="module")
def rep(images):
    return gb.GlassBoxRepresentation(thresholds=8).fit(images)


def write_idx(path, x, compress=False):
    head = bytes([0, 0, 0x08, 3]) + np.array(x.shape, ">u4").tobytes()
    data = head + x.tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def no_temporaries(directory):
    return not [p for p in Path(directory).iterdir() if p.name.startswith(".")]


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
    real = streaming._NpyWriter._write_raw
    blocks = []

    def filling(self, data):
        if len(memoryview(data).cast("B")) > 5000:  # a block of features, not the header
            blocks.append(1)
            if len(blocks) > 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, data)

    monkeypatch.setattr(streaming._NpyWriter, "_write_raw", filling)
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
    w = streaming._NpyWriter(tmp_path / "z.npy", Z.shape, np.float32)
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
    with pytest.raises(ValueError):
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


PREPROCESS = textwrap.dedent(
    """
    import sys
    from glassbox.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def test_preprocess_command(images, tmp_path, capsys):
    np.save(tmp_path / "x.npy", images)
    out = tmp_path / "features.npy"
    args = ["preprocess", str(tmp_path / "x.npy"), str(out), "--chunk-size", "50"]
    assert main([*args, "--fit-sample", "100"]) == 0
    F = np.load(out)
    # thresholds fitted on a random sample of 100 images, seed 0
    idx = np.sort(np.random.default_rng(0).choice(257, size=100, replace=False))
    rep = gb.GlassBoxRepresentation(image_shape=(28, 28)).fit(images[idx])
    np.testing.assert_array_equal(F, rep.transform(images))
    err = capsys.readouterr().err
    assert "images/s" in err and "write" in err
    assert main([*args, "--n-components", "10", "--quiet"]) == 0
    assert np.load(out).shape == (257, 10)
    assert main(["preprocess", str(tmp_path / "nothing.npy"), str(out)]) == 1
    assert "no such file" in capsys.readouterr().err
    # a bad OUTPUT is refused before the input is even opened
    assert main(["preprocess", str(tmp_path / "nothing.npy"), str(tmp_path / "f.txt")]) == 1
    assert "must be an .npy file" in capsys.readouterr().err
    assert main(["preprocess", str(tmp_path / "x.npy"), str(tmp_path / "no" / "f.npy")]) == 1
    assert "no such directory" in capsys.readouterr().err


def test_preprocess_interrupted_leaves_no_output(images, tmp_path):
    """Ctrl-C (SIGINT) in the middle of writing: exit status 130, no output file, no temporary."""
    big = np.repeat(images, 40, axis=0)  # ~10k images: long enough to interrupt
    np.save(tmp_path / "x.npy", big)
    out = tmp_path / "f.npy"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PREPROCESS,
            "preprocess",
            str(tmp_path / "x.npy"),
            str(out),
            "--chunk-size",
            "1",
        ],  # fmt: skip
        stderr=subprocess.PIPE,
        text=True,
    )
    # wait until the output's temporary file exists: writing has begun
    for line in proc.stderr:
        if "fit the representation" in line:
            break
    while not [p for p in tmp_path.iterdir() if p.name.startswith(".f.npy.")]:
        if proc.poll() is not None:
            pytest.fail("preprocess finished before it could be interrupted")
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 130
    assert "interrupted" in rest
    assert not out.exists() and no_temporaries(tmp_path)


def test_check_output_path(tmp_path):
    assert streaming.check_output_path(tmp_path / "f.npy") == tmp_path / "f.npy"
    with pytest.raises(ValueError, match=r"OUTPUT '.*f.txt' must be an .npy file"):
        streaming.check_output_path(tmp_path / "f.txt", "OUTPUT")
    with pytest.raises(FileNotFoundError, match="no such directory"):
        streaming.check_output_path(tmp_path / "no" / "f.npy")
    (tmp_path / "d.npy").mkdir()
    with pytest.raises(IsADirectoryError, match="is a directory"):
        streaming.check_output_path(tmp_path / "d.npy")
