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
    ("code", "dtype"),
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


# -- labels are class indices of the classes present (issue: labels used as indices) ----------


@pytest.mark.parametrize(
    ("values", "names"),
    [
        ([0, 2**40], ("0", "1099511627776")),
        ([0, 200_000], ("0", "200000")),
        ([0, 1000, 2000, 3000], ("0", "1000", "2000", "3000")),
        ([-5, 7], ("-5", "7")),
        ([3, 9], ("3", "9")),
    ],
)
def test_labels_become_the_classes_present(tmp_path, values, names):
    rng = np.random.default_rng(0)
    labels = np.array(values * 10, dtype=np.int64)
    np.savez(tmp_path / "d.npz", images=rng.integers(0, 9, (len(labels), 4, 4)), labels=labels)
    ds = datasets.load_npz(tmp_path / "d.npz")
    assert ds.class_names == names
    assert ds.labels.tolist() == [values.index(v) for v in labels.tolist()]


def test_named_classes_keep_their_names_and_drop_absent_ones(tmp_path):
    imgs = np.zeros((4, 3, 3), np.uint8)
    names = np.array(["cat", "dog", "eel", "fox"])
    np.savez(tmp_path / "d.npz", images=imgs, labels=np.array([3, 1, 3, 1]), class_names=names)
    ds = datasets.load_npz(tmp_path / "d.npz")
    assert ds.class_names == ("dog", "fox") and ds.labels.tolist() == [1, 0, 1, 0]
    np.savez(tmp_path / "out.npz", images=imgs, labels=np.array([0, 4, 0, 4]), class_names=names)
    with pytest.raises(ValueError, match="labels must index the 4 class names"):
        datasets.load_npz(tmp_path / "out.npz")


def test_idx_labels_are_encoded_and_must_be_integers(tmp_path):
    make_idx_dir(tmp_path, gz=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([7, 7, 50, 50, 7]))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([50, 7, 7]))
    ds = datasets.load_idx(tmp_path)
    assert ds.class_names == ("7", "50") and ds.labels.tolist() == [0, 0, 1, 1, 0, 1, 0, 0]
    for code in (0x0D, 0x0E):  # float labels: refused, not truncated
        write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([0.5, 1.7, 2.0]), code)
        with pytest.raises(ValueError, match="labels must be integers"):
            datasets.load_idx(tmp_path)


# -- dataset fields are validated ------------------------------------------------------------


def _npz(tmp_path, **extra):
    rng = np.random.default_rng(1)
    arrays = {"images": rng.integers(0, 256, (20, 4, 4)), "labels": np.arange(20) % 2}
    arrays.update(extra)
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"n_train": np.array(-20)}, r"n_train must be an int in \[1, 19\].*got -20"),
        ({"n_train": np.array(0)}, r"n_train must be an int in \[1, 19\]"),
        ({"n_train": np.array(20)}, r"n_train must be an int in \[1, 19\].*got 20"),
        ({"n_train": np.array(150)}, r"n_train must be an int in \[1, 19\]"),
        ({"n_train": np.array(15.9)}, r"n_train must be one integer, got float64"),
        ({"n_train": np.array([10, 5])}, r"n_train must be one integer"),
        ({"n_train": np.array(True)}, r"n_train must be one integer, got bool"),
        ({"class_names": np.array([["a", "b"]])}, "class_names must be a 1-D array"),
        ({"class_names": np.array(["a", "a"])}, "class name 'a' appears more than once"),
        ({"class_names": np.array(["", "b"])}, "class names must not be empty"),
        ({"class_names": np.array([" ", "b"])}, "class names must not be empty"),
        ({"class_names": np.array([1.5, 2.5])}, "class_names must be strings"),
        ({"images": np.zeros((0, 4, 4))}, r"images must be \(N, H, W\) with N, H, W >= 1"),
        ({"images": np.zeros((20, 0, 4))}, r"images must be \(N, H, W\) with N, H, W >= 1"),
        ({"images": np.full((20, 4, 4), np.nan)}, "images contain NaN or infinite values"),
        ({"images": np.full((20, 4, 4), "x")}, "images must hold numbers"),
        ({"labels": np.arange(20) * 0.5}, "labels must be N integers"),
        ({"labels": np.zeros(19, int)}, "labels must be N integers"),
    ],
)
def test_npz_fields_are_validated(tmp_path, extra, message):
    path = _npz(tmp_path, **extra)
    with pytest.raises(ValueError, match=message) as info:
        datasets.load_npz(path)
    assert str(path) in str(info.value)  # the file is named, not only the dataset


def test_npz_fields_that_are_fine(tmp_path):
    ds = datasets.load_npz(_npz(tmp_path, n_train=np.int8(15), class_names=np.array([b"x", b"y"])))
    assert ds.n_train == 15 and ds.class_names == ("x", "y")
    ds = datasets.load_npz(_npz(tmp_path, class_names=np.array([10, 20])))
    assert ds.class_names == ("10", "20")


def test_image_dataset_refuses_inconsistent_fields():
    x, y = np.zeros((3, 2, 2), np.uint8), np.array([0, 1, 1])
    datasets.ImageDataset(x, y, ("a", "b"), "ok", 2)
    assert datasets.ImageDataset(x, y, ["a", "b"], "list").class_names == ("a", "b")
    for args, message in [
        ((x, y, ("a", "a"), "d"), "appears more than once"),
        ((x, y, ("a",), "d"), r"labels must be class indices in \[0, 1\)"),
        ((x, y.astype(float), ("a", "b"), "d"), "labels must be 3 integers"),
        ((x, np.ma.masked_array(y), ("a", "b"), "d"), "labels must be 3 integers"),
        ((x[:0], y[:0], ("a", "b"), "d"), "with N, H, W >= 1"),
        ((x, y, ("a", "b"), "d", 3), r"n_train must be an int in \[1, 2\]"),
        ((x, y, ("a", "b"), "d", True), "n_train must be an int"),
        ((x, y, "ab", "d"), "class_names must be a sequence of str"),
        ((x, y, ("a", 2), "d"), "class_names must be a sequence of str"),
    ]:
        with pytest.raises(ValueError, match=message):
            datasets.ImageDataset(*args)
    with pytest.raises(TypeError, match="images must be a numpy array"):
        datasets.ImageDataset(np.ma.masked_array(x), y, ("a", "b"), "d")


@pytest.mark.parametrize("junk", [b"random bytes" * 100, b"", b"\x93NUMPY\x01\x00junk"])
def test_a_file_that_is_not_an_npz_says_so(tmp_path, junk):
    (tmp_path / "x.npz").write_bytes(junk)
    with pytest.raises(ValueError, match="x.npz: not a valid .npz archive") as info:
        datasets.load_npz(tmp_path / "x.npz")
    assert "pickle" not in str(info.value)
    np.save(tmp_path / "a.npy", np.zeros(3))
    (tmp_path / "a.npy").rename(tmp_path / "a.npz")  # an .npy named .npz
    with pytest.raises(ValueError, match="not a valid .npz archive"):
        datasets.load_npz(tmp_path / "a.npz")


def test_fifos_are_refused_not_waited_on(tmp_path):
    import os

    os.mkfifo(tmp_path / "d.npz")
    with pytest.raises(ValueError, match="not a regular file"):
        datasets.load_npz(tmp_path / "d.npz")
    os.mkfifo(tmp_path / "i")
    with pytest.raises(ValueError, match="not a regular file"):
        datasets.read_idx(tmp_path / "i")


# -- memory: what a file declares is checked before it is allocated --------------------------


def test_declared_sizes_beyond_memory_are_refused_before_reading(tmp_path, monkeypatch):
    from glassbox import _validation

    # an honest 3 MB archive of 100 MB of zeros, on a machine with 50 MB available
    zeros = np.zeros((2000, 224, 224), np.uint8)
    np.savez_compressed(tmp_path / "zeros.npz", images=zeros, labels=np.zeros(2000, int))
    monkeypatch.setattr(_validation, "memory_limit", lambda: 50 * 2**20)
    monkeypatch.setattr(_validation, "_ALWAYS_ALLOWED", 0)
    with pytest.raises(ValueError, match="zeros.npz: the images would need"):
        datasets.load_npz(tmp_path / "zeros.npz")
    path = write_idx(tmp_path / "big", np.zeros((1000, 256, 256), np.uint8), gz=True)
    with pytest.raises(ValueError, match=r"big: the data would have shape \(1000, 256, 256\)"):
        datasets.read_idx(path)
    import cv2

    for k in range(3):
        (tmp_path / "folder" / f"c{k}").mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "folder" / f"c{k}" / "a.png"), np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"folder: 3 images at shape \(5000, 5000\)"):
        datasets.load_image_folder(tmp_path / "folder", (5000, 5000))
