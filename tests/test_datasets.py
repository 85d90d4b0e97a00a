from __future__ import annotations

import gzip

import numpy as np
import pytest

from glassbox import datasets


def write_idx(path, arr, code=0x08, gz=False):
    arr = np.asarray(arr)
    header = bytes([0, 0, code, arr.ndim]) + np.array(arr.shape, dtype=">u4").tobytes()
    big = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    data = header + arr.astype(big).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize(
    "code,dtype",
    [
        (0x08, np.uint8),
        (0x09, np.int8),
        (0x0B, np.int16),
        (0x0C, np.int32),
        (0x0D, np.float32),
        (0x0E, np.float64),
    ],
)
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_roundtrip(tmp_path, code, dtype, gz):
    arr = (np.arange(2 * 3 * 4).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == np.uint8:
        arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    got = datasets.read_idx(write_idx(tmp_path / "a.idx", arr, code, gz))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, arr)


def test_read_idx_bad_files(tmp_path):
    good = write_idx(tmp_path / "good", np.zeros((3, 4, 4), np.uint8)).read_bytes()
    cases = {
        "truncated": (good[:-5], "truncated"),
        "padded": (good + b"\0", "longer than its header says"),
        "magic": (b"\x01\x00" + good[2:], "not an IDX file"),
        "dtype": (good[:2] + b"\x42" + good[3:], "unknown IDX data type"),
        "header": (good[:6], "corrupt IDX header"),
        "gzip": (gzip.compress(good)[:-8], "corrupt or truncated gzip"),
        "empty": (b"", "not an IDX file"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ValueError, match=message) as info:
            datasets.read_idx(path)
        assert str(path) in str(info.value)
    with pytest.raises(OSError, match="cannot read"):
        datasets.read_idx(tmp_path / "missing")


def make_idx_dir(tmp_path, n_train=5, n_test=3, gz=True):
    rng = np.random.default_rng(0)
    sfx = ".gz" if gz else ""
    write_idx(
        tmp_path / f"train-images-idx3-ubyte{sfx}", rng.integers(0, 256, (n_train, 6, 6)), gz=gz
    )
    write_idx(tmp_path / f"train-labels-idx1-ubyte{sfx}", rng.integers(0, 3, n_train), gz=gz)
    write_idx(
        tmp_path / f"t10k-images-idx3-ubyte{sfx}", rng.integers(0, 256, (n_test, 6, 6)), gz=gz
    )
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{sfx}", np.arange(n_test) % 3, gz=gz)
    return tmp_path


@pytest.mark.parametrize("gz", [False, True])
def test_load_idx(tmp_path, gz):
    ds = datasets.load_idx(make_idx_dir(tmp_path, gz=gz))
    assert ds.images.shape == (8, 6, 6) and ds.labels.dtype == np.int64 and ds.n_train == 5
    assert ds.class_names == ("0", "1", "2") and len(ds) == 8
    x_tr, x_te, y_tr, y_te = ds.standard_split()
    assert x_tr.shape[0] == 5 and y_te.tolist() == [0, 1, 2]


def test_load_idx_mismatch_and_missing(tmp_path):
    make_idx_dir(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(4), gz=True)
    with pytest.raises(
        ValueError, match="t10k-labels-idx1-ubyte.gz has 4 labels but .*t10k-images"
    ):
        datasets.load_idx(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="no t10k-labels-idx1-ubyte"):
        datasets.load_idx(tmp_path)


def test_load_fashion_mnist():
    ds = datasets.load_fashion_mnist()
    assert ds.images.shape == (70_000, 28, 28) and ds.images.dtype == np.uint8
    assert ds.n_train == 60_000 and ds.class_names == datasets.FASHION_MNIST_CLASSES
    assert np.bincount(ds.labels).tolist() == [7000] * 10


def test_load_fashion_mnist_absent(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        datasets.load_fashion_mnist(tmp_path / "nowhere")


def test_load_digits():
    ds = datasets.load_digits()
    assert ds.images.shape == (1797, 8, 8) and ds.images.max() == 16 and ds.n_train is None
    with pytest.raises(ValueError, match="no standard"):
        ds.standard_split()


def test_load_npz(tmp_path):
    imgs = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    np.savez(
        tmp_path / "d.npz", images=imgs, labels=np.array([0, 1]), class_names=np.array(["a", "b"])
    )
    ds = datasets.load_npz(tmp_path / "d.npz")
    np.testing.assert_array_equal(ds.images, imgs)
    assert ds.class_names == ("a", "b") and ds.name == "d"
    np.savez(tmp_path / "nolabels.npz", images=imgs)
    with pytest.raises(ValueError, match=r"nolabels.npz: missing array\(s\) \['labels'\]"):
        datasets.load_npz(tmp_path / "nolabels.npz")
    np.savez(tmp_path / "pickled.npz", images=imgs, labels=np.array([object(), 1], dtype=object))
    with pytest.raises(ValueError, match="pickled.npz"):
        datasets.load_npz(tmp_path / "pickled.npz")
    np.savez(tmp_path / "short.npz", images=imgs, labels=np.array([0]))
    with pytest.raises(ValueError, match="labels must be N integers"):
        datasets.load_npz(tmp_path / "short.npz")
    (tmp_path / "cut.npz").write_bytes((tmp_path / "d.npz").read_bytes()[:50])
    with pytest.raises(ValueError, match="cut.npz"):
        datasets.load_npz(tmp_path / "cut.npz")


def test_load_image_folder(tmp_path):
    import cv2

    for cls, value in (("cat", 10), ("dog", 200)):
        (tmp_path / cls).mkdir()
        for k in range(2):
            cv2.imwrite(str(tmp_path / cls / f"{k}.png"), np.full((10, 12), value + k, np.uint8))
    (tmp_path / "cat" / "notes.txt").write_text("ignored")
    ds = datasets.load_image_folder(tmp_path, (5, 6))
    assert ds.images.shape == (4, 5, 6) and ds.class_names == ("cat", "dog")
    assert ds.labels.tolist() == [0, 0, 1, 1] and ds.images[3, 0, 0] == 201
    (tmp_path / "dog" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png: cannot be read"):
        datasets.load_image_folder(tmp_path, (5, 6))
    with pytest.raises(FileNotFoundError):
        datasets.load_image_folder(tmp_path / "none", (5, 6))
    with pytest.raises(ValueError, match="shape must be"):
        datasets.load_image_folder(tmp_path, (0, 6))
