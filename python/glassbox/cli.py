"""The ``glassbox`` command.

``glassbox run`` trains and evaluates the three-layer glass-box model on a dataset and writes a
report of what each layer does to class separability; ``glassbox compare`` measures AlexNet's
layers (equivariance, separability) beside the glass box's (needs torch); ``glassbox
preprocess`` streams a large image collection into an .npy file of features; ``glassbox
explain`` shows why a saved model classified an image as it did; ``glassbox tour``
walks through the kernels on synthetic images.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from . import __version__

_SEED_MAX = 2**32 - 1  # what NumPy's and scikit-learn's seeds accept


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _non_negative(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {v}")
    return v


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= v <= _SEED_MAX:
        raise argparse.ArgumentTypeError(f"expected a seed in [0, 2**32 - 1], got {v}")
    return v


def _add_seed(parser, help_text) -> None:
    parser.add_argument("--seed", type=_seed, default=0, help=help_text)


def _add_dataset_arguments(parser) -> None:
    """--dataset and how it is split: the same for every command that reads a dataset."""
    parser.add_argument(
        "--dataset",
        default="digits",
        help="digits (default), fashion-mnist, or a PATH: an .npz file, a directory of IDX files "
        "(MNIST layout) or of one sub-folder of images per class (needs --image-size)",
    )
    parser.add_argument(
        "--train-size",
        type=_positive,
        default=None,
        help="use N training images (a stratified sample; default: all)",
    )
    parser.add_argument(
        "--image-size",
        type=_positive,
        nargs=2,
        metavar=("H", "W"),
        default=None,
        help="image size for an image-folder dataset",
    )
    parser.add_argument(
        "--test-size",
        type=float,
        default=0.25,
        help="held-out fraction for datasets without a standard split (0.25, stratified)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``glassbox`` command (all sub-commands)."""
    from . import _tour
    from .classifier import CLASSIFIERS
    from .groups import GROUP_NAMES

    parser = argparse.ArgumentParser(
        prog="glassbox", description="Glass-box CNN: an inspectable, exactly symmetric model."
    )
    parser.add_argument("--version", action="version", version=f"glassbox {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="train and evaluate the glass-box model, write report.json / report.md",
        description=(
            "Train representation -> scaler -> PCA -> classifier on a dataset, evaluate it on the "
            "test images and report accuracy, per-class precision/recall, the confusion matrix, "
            "class separability of raw pixels / representation / PCA, and seconds per stage. "
            "Without arguments: digits, in seconds."
        ),
    )
    _add_dataset_arguments(run)
    run.add_argument("--group", default="D4", choices=GROUP_NAMES, help="symmetry group (D4)")
    run.add_argument(
        "--classifier", default="svm", choices=CLASSIFIERS, help="last layer (default: svm)"
    )
    run.add_argument(
        "--n-components", type=_positive, default=200, help="principal components (200)"
    )
    _add_seed(run, "random seed of splits and samples, in [0, 2**32 - 1] (0)")
    run.add_argument("--n-threads", type=_positive, default=None, help="kernel threads (all)")
    run.add_argument("--out", default="glassbox-report", help="report directory (glassbox-report)")
    run.add_argument("--plot", action="store_true", help="also write PNG figures (matplotlib)")
    run.add_argument(
        "--save-model",
        default=None,
        metavar="DIR",
        help="save the fitted model in DIR (model.json + arrays.npz, no pickle) for glassbox "
        "explain and glassbox.load_model",
    )
    run.add_argument("--quiet", action="store_true", help="no progress output")

    explain = sub.add_parser(
        "explain",
        help="why a saved model classified an image as it did: PNG + JSON",
        description=(
            "Load a model saved by `glassbox run --save-model DIR`, explain its score for one "
            "image (exactly for the linear classifiers, by occlusion otherwise) and write "
            "DIR/explain.png (the image, its orbit, the pixel heatmap, the target class's "
            "prototypes and the top contributing feature groups) and DIR/explain.json (the "
            "numbers). Needs matplotlib."
        ),
    )
    explain.add_argument("--model", required=True, metavar="DIR", help="a saved model")
    which = explain.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--image", metavar="PATH", help="an image file (grey levels; resized to the model's size)"
    )
    which.add_argument(
        "--index",
        type=_non_negative,
        metavar="N",
        help="image N of the test split of the dataset the model was trained on",
    )
    explain.add_argument(
        "--target",
        default=None,
        metavar="CLASS",
        help="the class whose score is explained (name or label; default: the predicted class)",
    )
    explain.add_argument("--out", default="glassbox-explain", help="output directory")
    explain.add_argument("--quiet", action="store_true", help="no terminal output")

    compare = sub.add_parser(
        "compare",
        help="AlexNet vs the glass box: equivariance and separability per layer (needs torch)",
        description=(
            "Measure, per layer and group element, how equivariant and how class-separating "
            "AlexNet's internal layers are (random init, a D4-symmetrised control, and trained or "
            "loaded weights when asked), beside the glass-box layers, on the same test images. "
            "Writes DIR/compare.json and DIR/compare.md. Needs torch: pip install "
            "'glassbox[torch]'. Nothing is downloaded."
        ),
    )
    _add_dataset_arguments(compare)
    compare.add_argument(
        "--model",
        default="alexnet",
        choices=("alexnet", "alexnet28"),
        help="alexnet: torchvision's AlexNet at 223 px (default); alexnet28: a half-width "
        "AlexNet for 28x28 images",
    )
    compare.add_argument(
        "--weights",
        default=None,
        metavar="PATH",
        help="a state_dict file (torch.save) to measure beside the random init",
    )
    compare.add_argument(
        "--train-epochs",
        type=_non_negative,
        default=0,
        metavar="N",
        help="train the model for N epochs on the training images (cached under --out) and "
        "also fit the glass-box classifier, to compare accuracies (default 0: random init only)",
    )
    compare.add_argument(
        "--augment", action="store_true", help="train with random group elements (augmentation)"
    )
    compare.add_argument(
        "--images",
        type=_positive,
        default=256,
        metavar="N",
        help="test images for the measures (a stratified sample; default 256)",
    )
    compare.add_argument(
        "--size",
        type=_positive,
        default=None,
        help="the network's input side (default: 223 for alexnet, 28 for alexnet28; sizes that "
        "misalign the grids get a warning)",
    )
    compare.add_argument("--group", default="D4", choices=GROUP_NAMES, help="symmetry group (D4)")
    compare.add_argument(
        "--fit-maps",
        action="store_true",
        help="also fit Lenc & Vedaldi's 1x1 channel maps (equivariance up to channel mixing)",
    )
    compare.add_argument(
        "--classifier", default="svm", choices=CLASSIFIERS, help="glass-box classifier (svm)"
    )
    compare.add_argument(
        "--n-components", type=_positive, default=200, help="glass-box principal components"
    )
    compare.add_argument(
        "--batch-size", type=_positive, default=64, help="images per forward pass (64)"
    )
    compare.add_argument(
        "--train-batch-size", type=_positive, default=128, help="images per training step (128)"
    )
    _add_seed(compare, "seed of weights and samples, in [0, 2**32 - 1] (0)")
    compare.add_argument("--n-threads", type=_positive, default=None, help="torch threads")
    compare.add_argument("--out", default="glassbox-compare", help="output directory")
    compare.add_argument("--plot", action="store_true", help="also write compare.png")
    compare.add_argument("--quiet", action="store_true", help="no progress output")

    pre = sub.add_parser(
        "preprocess",
        help="features of a large image collection, streamed to an .npy file",
        description=(
            "Fit the representation's thresholds on a random sample of INPUT (and, with "
            "--n-components, a scaler and PCA over all of it), then stream every image through "
            "the fit in chunks and write the result to OUTPUT (.npy) with bounded memory. The "
            "fit is saved beside OUTPUT (OUTPUT without .npy, plus .fitted/; or --save-fitted "
            "DIR) in glassbox's model format; --fitted DIR applies a saved fit instead of "
            "fitting, so that training, validation and test files share one fit. INPUT: an .npy "
            "file, an IDX file (gzip or not) or a folder of images. OUTPUT appears only when "
            "complete (a temporary file is renamed at the end), and never over INPUT."
        ),
    )
    pre.add_argument("input", metavar="INPUT", help=".npy file, IDX file or image folder")
    pre.add_argument("output", metavar="OUTPUT", help="the .npy file to write")
    pre.add_argument(
        "--fitted",
        default=None,
        metavar="DIR",
        help="apply the fit saved by an earlier glassbox preprocess (its thresholds, scaler and "
        "PCA) instead of fitting on INPUT; the options that shape a fit are then refused",
    )
    pre.add_argument(
        "--save-fitted",
        default=None,
        metavar="DIR",
        help="where to save the fit (default: beside OUTPUT, OUTPUT's name with .fitted "
        "instead of .npy; with --fitted, not saved again unless this is given)",
    )
    pre.add_argument(
        "--group", default=None, choices=GROUP_NAMES, help="symmetry group (default D4)"
    )
    pre.add_argument(
        "--chunk-size", type=_positive, default=10_000, help="images per chunk (10000)"
    )
    pre.add_argument(
        "--fit-sample",
        type=_positive,
        default=None,
        metavar="N",
        help="images the thresholds are fitted on (a random sample; default 10000)",
    )
    pre.add_argument(
        "--n-components",
        type=_positive,
        default=None,
        metavar="K",
        help="write K principal components instead of the features (scaler and "
        "IncrementalPCA fitted over all images in chunks: two more passes)",
    )
    pre.add_argument("--no-scale", action="store_true", help="PCA without standardising first")
    pre.add_argument(
        "--image-size",
        type=_positive,
        nargs=2,
        metavar=("H", "W"),
        default=None,
        help="size images of a folder are resized to (default: the first image's, or the "
        "fitted size with --fitted)",
    )
    pre.add_argument(
        "--seed", type=_seed, default=None, help="seed of the fit sample, in [0, 2**32 - 1] (0)"
    )
    pre.add_argument("--n-threads", type=_positive, default=None, help="kernel threads (all)")
    pre.add_argument("--quiet", action="store_true", help="no progress output")

    tour = sub.add_parser(
        "tour",
        help="a short tour of the kernels on synthetic images",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _tour.add_arguments(tour)
    return parser


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C's KeyboardInterrupt so that every clean-up that
    Ctrl-C runs (temporary files removed, writer threads stopped) runs for them too."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


@contextlib.contextmanager
def signals_as_interrupts(signals=(signal.SIGTERM, signal.SIGHUP)):
    """While the command runs, ``signals`` interrupt it as Ctrl-C does.

    A signal that is ignored (``nohup`` ignores SIGHUP) stays ignored; after the first, further
    ones are ignored while the clean-up runs.  Only in the main thread (where Python delivers
    signals); elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = []

    def handler(signum, frame):
        if not fired:
            fired.append(signum)
            raise Interrupted(signum)

    previous = {}
    try:
        for sig in signals:
            if signal.getsignal(sig) is signal.SIG_DFL:
                previous[sig] = signal.signal(sig, handler)
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``glassbox`` command; returns the exit status.

    Errors are reported as ``glassbox COMMAND: error: ...`` with status 1; Ctrl-C, SIGTERM
    and SIGHUP stop the command with status 128 + the signal's number, after removing every
    temporary file it was writing."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for the report
    if args.command is None:
        parser.print_help()
        return 2
    try:
        with signals_as_interrupts():
            return _dispatch(args)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", int(signal.SIGINT))
        name = "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"
        print(f"\ninterrupted{name}", file=sys.stderr)
        return 128 + signum
    except MemoryError as exc:  # a last resort: every path estimates its memory beforehand
        print(f"glassbox {args.command}: error: out of memory ({exc})", file=sys.stderr)
        return 1
    except (ValueError, TypeError, FileNotFoundError, ImportError, OSError) as exc:
        print(f"glassbox {args.command}: error: {exc}", file=sys.stderr)
        return 1


def _dispatch(args) -> int:
    if args.command == "tour":
        from . import _tour

        return _tour.tour(args)
    if args.command == "preprocess":
        from . import _preprocess

        return _preprocess.run(args)
    if args.command == "explain":
        from . import _explain

        return _explain.run(args)
    if args.command == "compare":
        from . import _compare

        return _compare.run(args)
    from . import _run

    return _run.run(args)


__all__ = ["Interrupted", "build_parser", "main", "signals_as_interrupts"]
