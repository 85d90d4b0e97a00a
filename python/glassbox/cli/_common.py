"""What the commands share: argument types, the dataset arguments and loading, output checks,
and how a failed figure is reported."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import _io, datasets
from .._io import check_writable_dir
from .._validation import check_memory

MODEL_FILES = ("model.json", "arrays.npz")  # what save_model writes in a model directory
SEED_MAX = 2**32 - 1  # what NumPy's and scikit-learn's seeds accept


def positive(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def non_negative(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {v}")
    return v


def seed_value(text: str) -> int:
    """argparse type: a seed NumPy and scikit-learn accept."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= v <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"expected a seed in [0, 2**32 - 1], got {v}")
    return v


def add_seed(parser, help_text) -> None:
    """--seed, in [0, 2**32 - 1], default 0."""
    parser.add_argument("--seed", type=seed_value, default=0, help=help_text)


def add_image_size(parser, help_text) -> None:
    """--image-size H W: how the images of a folder are sized."""
    parser.add_argument(
        "--image-size", type=positive, nargs=2, metavar=("H", "W"), default=None, help=help_text
    )


def add_dataset_arguments(parser) -> None:
    """--dataset and how it is split: the same for every command that reads a dataset."""
    parser.add_argument(
        "--dataset",
        default="digits",
        help="digits (default), fashion-mnist, or a PATH: an .npz file, a directory of IDX files "
        "(MNIST layout) or of one sub-folder of images per class (needs --image-size)",
    )
    parser.add_argument(
        "--train-size",
        type=positive,
        default=None,
        help="use N training images (a stratified sample; default: all)",
    )
    add_image_size(parser, "image size for an image-folder dataset")
    parser.add_argument(
        "--test-size",
        type=float,
        default=0.25,
        help="held-out fraction for datasets without a standard split (0.25, stratified)",
    )


def load_dataset(spec: str, image_size=None) -> datasets.ImageDataset:
    """A dataset by name (``digits``, ``fashion-mnist``) or path (.npz, IDX or image folder)."""
    if spec == "digits":
        return datasets.load_digits()
    if spec == "fashion-mnist":
        return datasets.load_fashion_mnist()
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(
            f"--dataset {spec!r}: not digits or fashion-mnist, and no such file or directory"
        )
    if not path.is_dir():
        if path.suffix != ".npz":
            raise ValueError(f"--dataset {spec!r}: a file must be an .npz archive")
        return datasets.load_npz(path)
    if idx_directory(spec):
        return datasets.load_idx(path)
    if image_size is None:
        raise ValueError(
            f"--dataset {spec!r} is an image folder: give the image size with --image-size H W"
        )
    return datasets.load_image_folder(path, tuple(image_size))


def idx_directory(spec: str) -> bool:
    """Whether ``--dataset spec`` is a directory of IDX files (MNIST layout): one holding an
    IDX file of images, gzip or not."""
    if spec in ("digits", "fashion-mnist") or not Path(spec).is_dir():
        return False
    return any(p.name.endswith(("idx3-ubyte", "idx3-ubyte.gz")) for p in Path(spec).iterdir())


def load_split(spec, image_size, train_size, test_size, seed, stack, *, stream=False):
    """``(name, class names, image shape, x_train, x_test, y_train, y_test)`` of ``--dataset
    spec`` split as :func:`split` splits it.  With ``stream`` (a directory of IDX files, every
    training image: ``train_size`` None), ``x_train`` is an open ImageSource of the training
    file, closed with ``stack``, and only the labels and the test images are read."""
    if stream:
        if train_size is not None or not idx_directory(spec):
            raise ValueError("only every training image of an IDX directory can stream")
        src, y_train, x_test, y_test, names, name = datasets._open_idx_training(spec)
        stack.callback(src.close)
        return name, names, src.image_shape, src, x_test, y_train, y_test
    ds = load_dataset(spec, image_size)
    x_train, x_test, y_train, y_test = split(ds, train_size, test_size, seed)
    return ds.name, ds.class_names, ds.images.shape[1:], x_train, x_test, y_train, y_test


def _idx_files(path: Path):
    return [p for p in path.iterdir() if p.name.endswith(("-ubyte", "-ubyte.gz"))]


def dataset_inputs(spec: str) -> list:
    """The files and folders ``--dataset spec`` reads: no output may be one of them."""
    if spec in ("digits", "fashion-mnist"):
        return []
    path = Path(spec)
    if not path.is_dir():
        return [path]
    idx = _idx_files(path)
    return idx if idx else [_io.Folder(path)]


def prepare_outputs(option: str, directory, names, inputs, *, quiet=False, create=True) -> Path:
    """Checks made before a command's work, not after it: ``directory`` (given as ``option``)
    is writable (created now, or with ``create=False`` by the writer), none of the files
    ``names`` in it is an input or inside one, and temporary files that killed runs left beside
    them are removed (and reported)."""
    files = [Path(directory) / n for n in names]
    _io.refuse_overwrite(files, inputs, option)  # before the directory is even created
    out_dir = check_writable_dir(directory, option, create=create)
    for f in files:
        for stale, size in _io.remove_stale_temporaries(f):
            if not quiet:
                print(
                    f"removed {stale}, a temporary file of {size:,} bytes that an interrupted "
                    "run left",
                    file=sys.stderr,
                )
    return out_dir


def prepare_output(args, names=(), inputs=()) -> Path:
    """``prepare_outputs`` for ``--out``, after checking that ``--plot`` has matplotlib."""
    if getattr(args, "plot", False):
        require_matplotlib("--plot needs matplotlib")
    return prepare_outputs("--out", args.out, names, inputs, quiet=args.quiet)


def require_matplotlib(why: str) -> None:
    """ImportError ``why`` plus how to install, unless matplotlib imports."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(f"{why}: pip install matplotlib (or glassbox[plot])") from None


def split(ds, train_size, test_size, seed):
    """The standard split when there is one, else a stratified one; then an optional
    stratified sample of the training images."""
    from sklearn.model_selection import train_test_split

    if ds.n_train is not None:
        x_train, x_test, y_train, y_test = ds.standard_split()
    else:
        # a stratified split copies every image into one of its two halves
        check_memory(ds.images.nbytes, f"--dataset {ds.name}: the split of its images")
        if not 0 < test_size < 1:
            raise ValueError(f"--test-size must lie in (0, 1), got {test_size}")
        x_train, x_test, y_train, y_test = train_test_split(
            ds.images, ds.labels, test_size=test_size, stratify=ds.labels, random_state=seed
        )
    if train_size is not None:
        if train_size > len(x_train):
            raise ValueError(
                f"--train-size {train_size} exceeds the {len(x_train)} training images"
            )
        if train_size < len(x_train):
            x_train, _, y_train, _ = train_test_split(
                x_train, y_train, train_size=train_size, stratify=y_train, random_state=seed
            )
    return x_train, x_test, y_train, y_test


def report_failed_figures(command, failed) -> int:
    """Say which figures could not be drawn (everything else was written); the exit status."""
    if not failed:
        return 0
    for name, exc in failed:
        print(
            f"glassbox {command}: error: figure {name} could not be drawn "
            f"({type(exc).__name__}: {exc})",
            file=sys.stderr,
        )
    print(f"glassbox {command}: every other output was written", file=sys.stderr)
    return 1


def md(text) -> str:
    """``text`` as one Markdown table cell or heading: ``|`` and ``$`` (which some renderers
    read as mathematics) escaped, line breaks as spaces."""
    text = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("$", "\\$")
    return " ".join(text.split())


def accuracy_under_group(predict, y, group, seed) -> dict:
    """Test accuracy under every element of ``group``: ``predict(i, h)`` returns the predicted
    labels of the test images moved by element ``h`` (index ``i``).

    Returns a dict: ``group``; ``accuracy`` (element -> accuracy); ``worst`` (element and
    accuracy); ``spread`` (best - worst); ``randomised``: the accuracy when each test image is
    moved by its own random element (drawn with ``seed``; the same draw for every model).
    """
    import numpy as np

    from ..groups import get_group

    g = get_group(group)
    y = np.asarray(y)
    drawn = np.random.default_rng(seed).integers(0, g.order, len(y))
    accuracy, hit = {}, np.zeros(len(y), dtype=bool)
    for i, h in enumerate(g.elements):
        ok = np.asarray(predict(i, h)) == y
        accuracy[h] = float(ok.mean())
        hit[drawn == i] = ok[drawn == i]
    worst = min(accuracy, key=accuracy.get)
    return {
        "group": g.name,
        "accuracy": accuracy,
        "worst": {"element": worst, "accuracy": accuracy[worst]},
        "spread": max(accuracy.values()) - accuracy[worst],
        "randomised": float(hit.mean()),
    }
