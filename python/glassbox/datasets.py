"""Image datasets: scikit-learn's bundled digits, MNIST-format IDX files, Fashion-MNIST from its
Debian package, NumPy ``.npz`` files and folders of images.

Nothing here downloads anything, and nothing is unpickled: every loader reads plain arrays and
checks them, and a truncated, corrupt or mismatched file raises an error naming the file.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _io
from ._validation import check_allocation, check_int, check_memory

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


@dataclass(frozen=True)
class ImageDataset:
    """Grey-level images with integer labels.

    Attributes
    ----------
    images : ndarray, shape (N, H, W)
        N >= 1 images of at least 1x1 pixels, of numbers (bool, integers or finite floats).
    labels : ndarray of int64, shape (N,)
        Class indices into ``class_names``.  The loaders here keep only the classes present
        in the data, so that indices run from 0 to the number of classes less one whatever the
        stored label values were (``{0, 1000}`` becomes classes ``"0"`` and ``"1000"``).
    class_names : tuple of str
        Distinct, non-empty names (any sequence of str is kept as a tuple).
    name : str
    n_train : int or None
        When the data come with a standard split, ``images[:n_train]`` is the training set and
        the rest the test set (both non-empty); None when there is no standard split.

    Raises
    ------
    ValueError
        Any of the above does not hold (naming the dataset).
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    name: str
    n_train: int | None = None

    def __post_init__(self) -> None:
        x, y, where = self.images, self.labels, self.name
        if not isinstance(x, np.ndarray) or isinstance(x, np.ma.MaskedArray):
            raise TypeError(f"{where}: images must be a numpy array, got {type(x).__name__}")
        if x.ndim != 3 or 0 in x.shape:
            raise ValueError(
                f"{where}: images must be (N, H, W) with N, H, W >= 1, got shape {x.shape}"
            )
        if x.dtype.kind not in "biuf":
            raise ValueError(f"{where}: images must hold numbers, got dtype {x.dtype}")
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            raise ValueError(f"{where}: images contain NaN or infinite values")
        if (
            not isinstance(y, np.ndarray)
            or isinstance(y, np.ma.MaskedArray)
            or y.dtype.kind not in "iu"
            or y.shape != (len(x),)
        ):
            raise ValueError(
                f"{where}: labels must be {len(x)} integers (one per image), got "
                f"{getattr(y, 'dtype', type(y).__name__)} of shape {getattr(y, 'shape', None)}"
            )
        names = self.class_names
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"{where}: class_names must be a sequence of str")
        names = tuple(names)
        object.__setattr__(self, "class_names", names)  # a list given is kept as a tuple
        _check_class_names(names, where)
        if y.min() < 0 or y.max() >= len(names):
            raise ValueError(
                f"{where}: labels must be class indices in [0, {len(names)}), got values "
                f"{int(y.min())}..{int(y.max())}"
            )
        if self.n_train is not None:
            k = check_int(
                self.n_train,
                f"{where}: n_train",
                max_val=len(x) - 1,
                hint="training and test images both non-empty",
            )
            object.__setattr__(self, "n_train", k)  # a NumPy integer given is kept as an int

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


def _dataset(where, images, labels, names, name, n_train=None) -> ImageDataset:
    """An ImageDataset whose errors name ``where`` (the file or folder), not its short name."""
    try:
        return ImageDataset(images, labels, names, name, n_train)
    except ValueError as exc:
        text = str(exc)
        if text.startswith(f"{name}: "):
            text = text[len(name) + 2 :]
        raise ValueError(f"{where}: {text}") from None


def _check_class_names(names, where) -> None:
    if not names:
        raise ValueError(f"{where}: no class names")
    if any(not n or not n.strip() for n in names):
        raise ValueError(f"{where}: class names must not be empty")
    seen = set()
    for n in names:
        if n in seen:
            raise ValueError(f"{where}: class name {n!r} appears more than once")
        seen.add(n)


def _encode_labels(labels, names, where):
    """(class indices 0..C-1, names) over the classes present in ``labels``.

    Without ``names`` the classes are the distinct label values, named by their values; with
    ``names`` the labels index them, and the names of absent classes are dropped.
    """
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise ValueError(f"{where}: labels must be integers, got dtype {labels.dtype}")
    if labels.size == 0:
        raise ValueError(f"{where}: holds no labels")
    present, encoded = np.unique(labels, return_inverse=True)
    if names is None:
        return encoded.astype(np.int64).ravel(), tuple(str(int(v)) for v in present)
    names = tuple(names)
    _check_class_names(names, where)
    if present[0] < 0 or present[-1] >= len(names):
        raise ValueError(
            f"{where}: labels must index the {len(names)} class names, got values "
            f"{int(present[0])}..{int(present[-1])}"
        )
    return encoded.astype(np.int64).ravel(), tuple(names[int(k)] for k in present)


def _names_array(arr, where):
    """class_names stored as an array: 1-D, of strings (or numbers, named by their text)."""
    if arr.ndim != 1:
        raise ValueError(
            f"{where}: class_names must be a 1-D array of names, got shape {arr.shape}"
        )
    if arr.dtype.kind == "S":
        try:
            return tuple(v.decode("utf-8") for v in arr.tolist())
        except UnicodeDecodeError:
            raise ValueError(f"{where}: class_names are not UTF-8 text") from None
    if arr.dtype.kind not in "Uiu":
        raise ValueError(f"{where}: class_names must be strings, got dtype {arr.dtype}")
    return tuple(str(v) for v in arr.tolist())


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
        A file that is not IDX, whose size does not match its header (truncated or padded), or
        whose gzip data fail their CRC check; or a header declaring more data than memory holds
        (refused before anything is allocated).
    """
    with _io.IdxFile(path) as f:
        check_allocation(f.shape, f.dtype, f"{f.name}: the data")  # from the header, first
        return f.read_all()


def _find(directory: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(f"{directory}: no {stem} or {stem}.gz")


def _open_pair(directory: Path, prefix: str, stack: contextlib.ExitStack):
    """The images and labels files of one IDX pair, opened and checked against each other."""
    ipath, lpath = (
        _find(directory, f"{prefix}-images-idx3-ubyte"),
        _find(directory, f"{prefix}-labels-idx1-ubyte"),
    )
    fi = stack.enter_context(_io.IdxFile(ipath, ndim=3, unit="image"))
    fl = stack.enter_context(_io.IdxFile(lpath, ndim=1, unit="label"))
    if fl.dtype.kind not in "iu":
        raise ValueError(f"{lpath}: labels must be integers, got {fl.dtype} (IDX type code)")
    if fl.n != fi.n:
        raise ValueError(f"{lpath} has {fl.n} labels but {ipath} has {fi.n} images")
    return fi, fl


def _open_halves(directory: Path, stack: contextlib.ExitStack):
    """The training and test pairs of an IDX directory, opened, their images alike."""
    train = _open_pair(directory, "train", stack)
    test = _open_pair(directory, "t10k", stack)
    if train[0].record_shape != test[0].record_shape or train[0].dtype != test[0].dtype:
        raise ValueError(f"{directory}: training and test images differ in shape or dtype")
    return train, test


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
    with contextlib.ExitStack() as stack:
        train, test = _open_halves(directory, stack)
        # both halves, then joined into one array (labels as int64), asked before reading
        n = train[0].n + test[0].n
        check_memory(
            2 * (train[0].data_bytes + test[0].data_bytes) + 3 * 8 * n,
            f"{directory}: its {n} images and labels",
        )
        x_train, y_train = (f.read_all() for f in train)
        x_test, y_test = (f.read_all() for f in test)
    where = name or directory.name
    labels, names = _encode_labels(np.concatenate([y_train, y_test]), class_names, str(directory))
    images = np.concatenate([x_train, x_test])
    return _dataset(str(directory), images, labels, names, where, len(x_train))


def _open_idx_training(directory):
    """MNIST-format data as :func:`load_idx` reads them, except the training images, which stay
    on disk: ``(source, y_train, x_test, y_test, class_names, name)``, ``source`` an open
    ImageSource of the training images (the caller closes it; its parts are checked as images
    when they are read) and the labels encoded over both halves as ``load_idx`` encodes them.
    Only the test images and the labels are read (their memory asked first)."""
    from .streaming import open_images

    directory = Path(directory)
    with contextlib.ExitStack() as stack:
        train, test = _open_halves(directory, stack)
        n_train, n = train[0].n, train[0].n + test[0].n
        if n_train == 0:
            raise ValueError(f"{directory}: the training half holds no images")
        check_memory(
            2 * test[0].data_bytes + 3 * 8 * n, f"{directory}: its test images and the labels"
        )
        y_train = train[1].read_all()
        x_test, y_test = test[0].read_all(), test[1].read_all()
        train_path = train[0].path
    labels, names = _encode_labels(np.concatenate([y_train, y_test]), None, str(directory))
    tests = _dataset(str(directory), x_test, labels[n_train:], names, directory.name)
    source = open_images(train_path)
    return source, labels[:n_train], tests.images, tests.labels, names, directory.name


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
        ``images``: (N, H, W) numbers; ``labels``: N integers; ``class_names``: a 1-D array of
        distinct names that the labels index (default: the label values); ``n_train``: an
        integer in [1, N - 1], the first ``n_train`` images being the training set.

    Returns
    -------
    ImageDataset
        Its classes are those present in ``labels`` (see :class:`ImageDataset`).

    Raises
    ------
    ValueError
        Missing arrays, wrong shapes or dtypes, invalid ``class_names`` or ``n_train``, arrays
        larger than the memory available (refused from their headers, before reading them), or
        a file that is not a valid ``.npz`` archive.
    """
    path = Path(path)
    where = str(path)
    with _io.open_regular(path) as fh:
        members = _io.npz_members(fh, where)
        missing = {"images", "labels"} - set(members)
        if missing:
            raise ValueError(f"{where}: missing array(s) {sorted(missing)}")
        im, lb = members["images"], members["labels"]
        if len(im.shape) != 3 or 0 in im.shape:
            raise ValueError(
                f"{where}: images must be (N, H, W) with N, H, W >= 1, got shape {im.shape}"
            )
        if len(lb.shape) != 1 or lb.shape[0] != im.shape[0] or lb.dtype.kind not in "iu":
            raise ValueError(
                f"{where}: labels must be N integers (N = {im.shape[0]} images), got {lb.dtype} "
                f"{lb.shape}"
            )
        for key in ("class_names", "n_train"):
            if key in members:
                check_memory(members[key].nbytes, f"{where}: {key}")
        check_memory(im.nbytes + 2 * 8 * lb.shape[0], f"{where}: the images")
        fh.seek(0)
        try:
            with np.load(fh, allow_pickle=False) as f:
                images, labels = f["images"], f["labels"]
                names = f["class_names"] if "class_names" in members else None
                n_train = f["n_train"] if "n_train" in members else None
        except _io.ZIP_ERRORS as exc:
            raise ValueError(f"{where}: not a valid .npz archive ({exc})") from None
    if names is not None:
        names = _names_array(names, where)
    if n_train is not None:
        if n_train.shape != () or n_train.dtype.kind not in "iu":
            raise ValueError(
                f"{where}: n_train must be one integer, got {n_train.dtype} of shape "
                f"{n_train.shape}" + (f" ({n_train.item()!r})" if n_train.size == 1 else "")
            )
        n_train = int(n_train)
    labels, names = _encode_labels(labels, names, where)
    return _dataset(where, images, labels, names, path.stem, n_train)


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
    try:
        h, w = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape must be (H, W) with positive sides, got {shape!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"shape must be (H, W) with positive sides, got {shape!r}")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise ValueError(f"{root} has no class sub-folders")
    files, labels = [], []
    for k, cls in enumerate(classes):
        for f in sorted((root / cls).iterdir()):
            if f.suffix.lower() in _io.IMAGE_SUFFIXES and f.is_file():
                files.append(f)
                labels.append(k)
    if not files:
        raise ValueError(f"{root}: no image files in its class folders")
    check_allocation((len(files), h, w), np.uint8, f"{root}: {len(files)} images at shape {shape}")
    images = np.empty((len(files), h, w), dtype=np.uint8)
    for i, f in enumerate(files):
        images[i] = _io.read_grey(f, (h, w))
    labels, names = _encode_labels(np.array(labels, dtype=np.int64), classes, str(root))
    return _dataset(str(root), images, labels, names, root.name)
