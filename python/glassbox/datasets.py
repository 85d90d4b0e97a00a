"""Image datasets: scikit-learn's bundled digits, MNIST-format IDX files, Fashion-MNIST from its
Debian package, NumPy ``.npz`` files and folders of images.

Nothing here downloads anything, and nothing is unpickled: every loader reads plain arrays and
checks them, and a truncated, corrupt or mismatched file raises an error naming the file.
"""

from __future__ import annotations

import gzip
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_DIR",
    "ImageDataset",
    "load_digits",
    "load_fashion_mnist",
    "load_idx",
    "load_image_folder",
    "load_npz",
    "read_idx",
]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp"}


@dataclass(frozen=True)
class ImageDataset:
    """Grey-level images with integer labels.

    Attributes
    ----------
    images : ndarray, shape (N, H, W)
    labels : ndarray of int64, shape (N,)
        Class indices into ``class_names``.
    class_names : tuple of str
    name : str
    n_train : int or None
        When the data come with a standard split, ``images[:n_train]`` is the training set and
        the rest the test set; None when there is no standard split.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    name: str
    n_train: int | None = None

    def __post_init__(self) -> None:
        if self.images.ndim != 3 or self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"{self.name}: images must be (N, H, W) and labels (N,), got {self.images.shape} "
                f"and {self.labels.shape}"
            )
        if self.labels.size and (
            self.labels.min() < 0 or self.labels.max() >= len(self.class_names)
        ):
            raise ValueError(f"{self.name}: labels must lie in [0, {len(self.class_names)})")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def standard_split(self):
        """``(X_train, X_test, y_train, y_test)`` of the standard split.

        Raises
        ------
        ValueError
            When the dataset has no standard split.
        """
        if self.n_train is None:
            raise ValueError(f"{self.name} has no standard train/test split")
        k = self.n_train
        return self.images[:k], self.images[k:], self.labels[:k], self.labels[k:]


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise OSError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    return raw


def read_idx(path) -> np.ndarray:
    """Read one IDX file (the MNIST format), gzip-compressed or not.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    ndarray
        In native byte order, with the file's dtype and shape.

    Raises
    ------
    ValueError
        A file that is not IDX, or whose size does not match its header (truncated or padded).
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    dtype = _IDX_DTYPES.get(data[2])
    if dtype is None:
        raise ValueError(f"{path}: unknown IDX data type code 0x{data[2]:02x}")
    ndim = data[3]
    if not 1 <= ndim <= 4 or len(data) < 4 + 4 * ndim:
        raise ValueError(f"{path}: corrupt IDX header ({ndim} dimensions)")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
    body = len(data) - 4 - 4 * ndim
    if body != expected:
        what = "truncated" if body < expected else "longer than its header says"
        raise ValueError(
            f"{path}: {what}: header {shape} needs {expected} bytes of data, found {body}"
        )
    arr = np.frombuffer(data, dtype, offset=4 + 4 * ndim).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def _find(directory: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(f"{directory}: no {stem} or {stem}.gz")


def _pair(directory: Path, prefix: str):
    ipath, lpath = (
        _find(directory, f"{prefix}-images-idx3-ubyte"),
        _find(directory, f"{prefix}-labels-idx1-ubyte"),
    )
    images, labels = read_idx(ipath), read_idx(lpath)
    if images.ndim != 3:
        raise ValueError(f"{ipath}: images must be 3-dimensional, got shape {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"{lpath} has {labels.shape[0]} labels but {ipath} has {images.shape[0]} images"
        )
    return images, labels.astype(np.int64)


def load_idx(directory, *, class_names=None, name=None) -> ImageDataset:
    """MNIST-format data from a directory: ``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each
    optionally gzip-compressed (``.gz``).

    Parameters
    ----------
    directory : str or path-like
    class_names : sequence of str, optional
        Default: the label values as strings.
    name : str, optional
        Default: the directory's name.

    Returns
    -------
    ImageDataset
        Training images first; ``n_train`` marks the standard split.

    Raises
    ------
    FileNotFoundError
        A file is missing.
    ValueError
        A file is corrupt, truncated, or does not match its partner.
    """
    directory = Path(directory)
    x_train, y_train = _pair(directory, "train")
    x_test, y_test = _pair(directory, "t10k")
    if x_train.shape[1:] != x_test.shape[1:] or x_train.dtype != x_test.dtype:
        raise ValueError(f"{directory}: training and test images differ in shape or dtype")
    labels = np.concatenate([y_train, y_test])
    if class_names is None:
        class_names = tuple(str(k) for k in range(int(labels.max()) + 1))
    return ImageDataset(
        np.concatenate([x_train, x_test]),
        labels,
        tuple(class_names),
        name or directory.name,
        len(x_train),
    )


def load_fashion_mnist(directory=None) -> ImageDataset:
    """Fashion-MNIST (70,000 28x28 uint8 images, 60,000 for training) from the Debian package
    ``dataset-fashion-mnist``.

    Parameters
    ----------
    directory : str or path-like, optional
        Default ``/usr/share/datasets/fashion-mnist`` (or ``$GLASSBOX_FASHION_MNIST``).

    Returns
    -------
    ImageDataset

    Raises
    ------
    FileNotFoundError
        When the files are absent, saying how to install them (nothing is downloaded).
    """
    directory = Path(directory or os.environ.get("GLASSBOX_FASHION_MNIST", FASHION_MNIST_DIR))
    if not directory.is_dir():
        raise FileNotFoundError(
            f"Fashion-MNIST not found in {directory}. Install it with "
            "`apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or pass the directory of "
            "its IDX files; glassbox never downloads data."
        )
    return load_idx(directory, class_names=FASHION_MNIST_CLASSES, name="fashion-mnist")


def load_digits() -> ImageDataset:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, grey levels 0-16 as uint8).

    Returns
    -------
    ImageDataset
        No standard split (``n_train`` is None).
    """
    from sklearn.datasets import load_digits as _sk_digits

    d = _sk_digits()
    return ImageDataset(
        d.images.astype(np.uint8),
        d.target.astype(np.int64),
        tuple(str(k) for k in range(10)),
        "digits",
    )


def load_npz(path) -> ImageDataset:
    """A dataset saved with ``np.savez(path, images=..., labels=..., [class_names=...],
    [n_train=...])``; loaded without pickle.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    ImageDataset

    Raises
    ------
    ValueError
        Missing arrays, wrong shapes, object arrays, or a file that is not a valid ``.npz``.
    """
    path = Path(path)
    try:
        # the file is opened here so that it is closed even when np.load fails half-way
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
            missing = {"images", "labels"} - set(f.files)
            if missing:
                raise ValueError(f"{path}: missing array(s) {sorted(missing)}")
            images, labels = f["images"], f["labels"]
            names = f["class_names"] if "class_names" in f.files else None
            n_train = int(f["n_train"]) if "n_train" in f.files else None
    except FileNotFoundError:
        raise
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from None
    except ValueError as exc:
        if str(path) in str(exc):
            raise
        raise ValueError(f"{path}: {exc}") from None
    if images.ndim != 3:
        raise ValueError(f"{path}: images must be (N, H, W), got shape {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0] or labels.dtype.kind not in "iu":
        raise ValueError(f"{path}: labels must be N integers, got {labels.dtype} {labels.shape}")
    labels = labels.astype(np.int64)
    if names is None:
        names = tuple(str(k) for k in range(int(labels.max()) + 1))
    return ImageDataset(images, labels, tuple(str(n) for n in names), path.stem, n_train)


def _read_grey(path, shape=None, name=None) -> np.ndarray:
    """One image file as grey levels (OpenCV, ``IMREAD_GRAYSCALE``), resized to ``shape`` if
    given; a ``ValueError`` naming ``name`` (else the path) when it cannot be decoded."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ValueError(f"{path if name is None else name}: cannot be read as an image")
    return img if shape is None else _resize(img, shape)


def _resize(img: np.ndarray, shape) -> np.ndarray:
    """``img`` at ``shape`` (H, W) with ``cv2.INTER_AREA`` (the one resizing rule of every image
    reader here); dtypes ``cv2.resize`` does not take go through float32."""
    import cv2

    h, w = shape
    if img.shape == (h, w):
        return img
    if img.dtype not in (np.uint8, np.uint16, np.float32):
        img = img.astype(np.float32)
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def load_image_folder(root, shape) -> ImageDataset:
    """Images in one sub-folder per class, read as grey levels with OpenCV.

    Parameters
    ----------
    root : str or path-like
        ``root/<class name>/<image files>``; classes are the sub-folders in sorted order. Files
        whose suffix is not an image format OpenCV reads (.png, .jpg, .bmp, .pgm, .tif, ...) are
        ignored.
    shape : (int, int)
        (H, W) every image is resized to (``cv2.INTER_AREA``).

    Returns
    -------
    ImageDataset
        uint8 images.

    Raises
    ------
    FileNotFoundError
        ``root`` is not a directory.
    ValueError
        No classes or no images, or an image file that cannot be decoded (named).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    if len(shape) != 2 or any(int(s) < 1 for s in shape):
        raise ValueError(f"shape must be (H, W) with positive sides, got {shape}")
    h, w = (int(s) for s in shape)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise ValueError(f"{root} has no class sub-folders")
    images, labels = [], []
    for k, cls in enumerate(classes):
        for f in sorted((root / cls).iterdir()):
            if f.suffix.lower() not in _IMAGE_SUFFIXES or not f.is_file():
                continue
            images.append(_read_grey(f, (h, w)))
            labels.append(k)
    if not images:
        raise ValueError(f"{root}: no image files in its class folders")
    return ImageDataset(
        np.stack(images), np.array(labels, dtype=np.int64), tuple(classes), root.name
    )
