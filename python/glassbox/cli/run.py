"""``glassbox run``: train, evaluate and report the glass-box model."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from .. import _core, _io, metrics
from .._kernels import permuted_copies
from .._validation import check_allocation
from ..classifier import CLASSIFIERS, GlassBoxClassifier
from ..groups import GROUP_NAMES, get_group
from ..persistence import save_model
from ..representation import GlassBoxRepresentation
from ._common import (
    MODEL_FILES,
    accuracy_under_group,
    add_dataset_arguments,
    add_seed,
    dataset_inputs,
    idx_directory,
    load_split,
    md,
    positive,
    prepare_output,
    prepare_outputs,
    report_failed_figures,
)
from ._figures import write_plots
from ._progress import Stage

_CHUNK = 10_000  # images per transform call: the progress bar's step
REPORT_FILES = ("report.json", "report.md")
FIGURES = ("orbits.png", "pca_scatter.png", "separability.png", "confusion.png")


def transform_with_progress(rep, X, label, timings, quiet):
    check_allocation((len(X), rep.n_features_out_), np.float32, f"the features of {label}")
    out = np.empty((len(X), rep.n_features_out_), dtype=np.float32)
    with Stage(label, timings, "representation", total=len(X), quiet=quiet) as stage:
        for a in range(0, len(X), _CHUNK):
            b = min(len(X), a + _CHUNK)
            out[a:b] = rep.transform(X[a:b])
            stage.advance(b)
    return out


SEPARABILITY_MAX = 10_000  # test images the separability is measured on (a stratified sample)


def _separability_sample(y_test, seed):
    """The test images the separability is measured on (an index): all of them up to
    ``SEPARABILITY_MAX``, else a stratified sample (raw pixels in float64 would otherwise need
    8 bytes a pixel of every test image)."""
    from sklearn.model_selection import train_test_split

    n = len(y_test)
    if n <= SEPARABILITY_MAX:
        return slice(None)  # all of them, as views: no copy
    counts = np.bincount(y_test)
    stratify = y_test if counts[counts > 0].min() >= 2 else None
    idx, _ = train_test_split(
        np.arange(n), train_size=SEPARABILITY_MAX, stratify=stratify, random_state=seed
    )
    return np.sort(idx)


def _round(d):
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in d.items()}


def _thresholds_note(rep, dtype, pixel_range) -> str | None:
    """Why fewer thresholds than asked, when so: integer images leave only as many distinct
    thresholds as there are grey levels between their darkest and brightest pixel
    (``pixel_range()``, asked only then)."""
    asked, got = rep.thresholds, len(rep.thresholds_)
    if not isinstance(asked, int) or got >= asked:
        return None
    if dtype.kind not in "biu":
        return f"{got} thresholds, not the {asked} asked: duplicates dropped"
    lo, hi = pixel_range()
    return (
        f"{got} thresholds, not the {asked} asked: the training pixels are integers from "
        f"{lo} to {hi}, which leave {got} distinct thresholds between them (duplicates dropped)"
    )


def add_parser(subparsers) -> None:
    """Add ``glassbox run`` and its arguments to ``subparsers``."""
    parser = subparsers.add_parser(
        "run",
        help="train and evaluate the glass-box model, write report.json / report.md",
        description=(
            "Train representation -> scaler -> PCA -> classifier on a dataset, evaluate it on the "
            "test images and report accuracy, per-class precision/recall, the confusion matrix, "
            "class separability of raw pixels / representation / PCA, and seconds per stage. "
            "Without arguments: digits, in seconds."
        ),
    )
    add_dataset_arguments(parser)
    parser.add_argument("--group", default="D4", choices=GROUP_NAMES, help="symmetry group (D4)")
    parser.add_argument(
        "--classifier",
        default="svm",
        choices=CLASSIFIERS,
        help="last layer (default: svm); kernel-ridge reads the training images of a --dataset "
        "directory of IDX files a part at a time (unless --train-size or --symmetry is given), "
        "so that they need not fit in memory",
    )
    parser.add_argument(
        "--n-components",
        type=positive,
        default=GlassBoxClassifier().n_components,  # one default: the classifier's
        help="principal components (%(default)s)",
    )
    parser.add_argument(
        "--invariance",
        default=None,
        choices=GROUP_NAMES,
        metavar="GROUP",
        help="make the model's scores exactly invariant to GROUP, a subgroup of --group "
        "(GlassBoxClassifier(invariance=GROUP); --classifier mlp keeps the cost moderate)",
    )
    add_seed(parser, "random seed of splits and samples, in [0, 2**32 - 1] (0)")
    parser.add_argument("--n-threads", type=positive, default=None, help="kernel threads (all)")
    parser.add_argument(
        "--out", default="glassbox-report", help="report directory (glassbox-report)"
    )
    parser.add_argument(
        "--test-transform",
        default=None,
        choices=GROUP_NAMES,
        metavar="GROUP",
        help="also evaluate the model on the test images moved by every element of GROUP "
        f"({', '.join(GROUP_NAMES)}): the accuracy per element and the worst",
    )
    parser.add_argument(
        "--symmetry",
        action="store_true",
        help="also report which symmetries of the square the classes respect: a fifth of the "
        "training images (at most 5,000) held out, a model trained on the others and tested "
        "on them moved by every element of D4; with --plot, symmetry.png",
    )
    parser.add_argument("--plot", action="store_true", help="also write PNG figures (matplotlib)")
    parser.add_argument(
        "--save-model",
        default=None,
        metavar="DIR",
        help="save the fitted model in DIR (model.json + arrays.npz, no pickle) for glassbox "
        "explain and glassbox.load_model",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def streams(args) -> bool:
    """Whether ``glassbox run`` reads the training images a part at a time instead of loading
    them: kernel-ridge (whose fit is sums over parts) on a directory of IDX files, with every
    training image used (no ``--train-size`` sample) and no ``--symmetry`` report (both draw
    from the training images in memory)."""
    if args.classifier != "kernel-ridge" or args.train_size is not None or args.symmetry:
        return False
    return idx_directory(args.dataset)


def run(args) -> int:
    """Run ``glassbox run`` with parsed arguments; returns the exit status."""
    with contextlib.ExitStack() as stack:
        return _run(args, stack)


def _run(args, stack) -> int:
    out_dir = _prepare_outputs(args)
    say = (lambda *a: None) if args.quiet else print
    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    stream = streams(args)
    with Stage("load", timings, "load", quiet=args.quiet):
        loaded = load_split(
            args.dataset,
            args.image_size,
            args.train_size,
            args.test_size,
            args.seed,
            stack,
            stream=stream,
        )
        name, class_names, shape, x_train, x_test, y_train, y_test = loaded
    if args.test_transform is not None:  # before any work
        get_group(args.test_transform).check_shape(x_test.shape, "--test-transform: the images")
    if args.symmetry:
        get_group("D4").check_shape(x_test.shape, "--symmetry: the images")
        _symmetry_validation_size(y_train)
    streamed = " (read a part at a time)" if stream else ""
    say(
        f"{name}: {len(y_train):,} training{streamed} and {len(x_test):,} test images of "
        f"{shape[0]}x{shape[1]}, {len(class_names)} classes"
    )
    clf, f_test, z_test, pred, pixel_range = _fit_and_predict(
        args, x_train, y_train, x_test, timings
    )
    sep = _separability(args, x_test, y_test, f_test, z_test, timings)
    symmetry = None
    if args.symmetry:
        symmetry = symmetry_report(args, x_train, y_train, timings)
    moved = None
    if args.test_transform is not None:
        moved = transformed_accuracy(
            clf, x_test, y_test, f_test, args.test_transform, timings, args.quiet, args.seed
        )
    timings["total"] = time.perf_counter() - t_start
    about = (name, class_names, shape, x_train.dtype, pixel_range)
    report = _report(args, about, clf, y_train, y_test, pred, sep, timings)
    if moved is not None:
        report["test_transform"] = moved
    if symmetry is not None:
        report["symmetry"] = symmetry

    # everything that is not a figure first: a figure that fails must not cost the results
    _io.write_atomically(out_dir / "report.json", (json.dumps(report, indent=2) + "\n").encode())
    _io.write_atomically(out_dir / "report.md", markdown(report).encode())
    if args.save_model is not None:
        _save_model(args, clf, class_names, report["accuracy"], timings)
    written, failed = [], []
    if args.plot:
        with Stage("plots", timings, "plots", quiet=args.quiet):
            written, failed = write_plots(
                out_dir, report, clf.representation_, x_test, y_test, z_test, class_names
            )
    say("")
    say(summary(report))
    say(f"report: {out_dir / 'report.json'}, {out_dir / 'report.md'}")
    if written:
        say("figures: " + ", ".join(str(p) for p in written))
    if args.save_model is not None:
        say(f"model: {args.save_model} (glassbox explain --model {args.save_model} --index N)")
    return report_failed_figures("run", failed)


def _prepare_outputs(args):
    """Check every output before any work; the report directory."""
    inputs = dataset_inputs(args.dataset)
    figures = FIGURES + (("symmetry.png",) if args.symmetry else ())
    out_dir = prepare_output(args, REPORT_FILES + (figures if args.plot else ()), inputs)
    if args.save_model is not None:
        prepare_outputs("--save-model", args.save_model, MODEL_FILES, inputs, quiet=args.quiet)
    return out_dir


def _model(args, invariance):
    """The unfitted model the options describe."""
    return GlassBoxClassifier(
        representation=GlassBoxRepresentation(group=args.group, n_threads=args.n_threads),
        n_components=args.n_components,
        classifier=args.classifier,
        random_state=args.seed,
        invariance=invariance,
    )


def _fit_and_predict(args, x_train, y_train, x_test, timings):
    """Fit the model stage by stage (each timed, the representation with progress); the
    fitted model, the test images' features and principal components, its predictions, and a
    function giving the training images' (smallest, largest) pixel.  ``x_train`` is an array,
    or an open ImageSource for kernel-ridge."""
    quiet = args.quiet
    clf = _model(args, args.invariance)
    y_enc = clf._check_fit_input(None, y_train, n_images=len(x_train))
    rep = clf._new_representation()
    info: dict = {}
    if args.classifier == "kernel-ridge":  # every stage from sums over parts: one fit
        # (the fit asks for the memory it holds at once: parts, not the images' features)
        label = "fit (pixel range, moments, kernel ridge)"
        with Stage(label, timings, "classifier", total=3 * len(x_train), quiet=quiet) as stage:

            def progress(done, total):
                stage.total = total  # 2 passes when the thresholds are given
                stage.advance(done)

            clf._fit_kernel_ridge(rep, x_train, y_enc, progress, info)
        f_test = transform_with_progress(rep, x_test, "representation (test)", timings, quiet)
    else:
        clf._check_fit_memory(
            rep, x_train.shape, f"--dataset {args.dataset}", "train on fewer with --train-size N"
        )
        with Stage("fit representation", timings, "representation", quiet=quiet):
            rep.fit(x_train)
        f_train = transform_with_progress(rep, x_train, "representation (train)", timings, quiet)
        f_test = transform_with_progress(rep, x_test, "representation (test)", timings, quiet)
        with Stage(f"fit scaler + PCA + {args.classifier}", quiet=quiet):
            clf._fit_features(rep, f_train, y_enc, timings)
        del f_train
    with Stage("predict", timings, "predict", quiet=quiet):
        z_test = clf._reduce_features(f_test)
        pred = clf._predict_features(f_test, z_test)

    def pixel_range():
        if "pixel_range" in info:
            return info["pixel_range"]
        return x_train.min(), x_train.max()

    return clf, f_test, z_test, pred, pixel_range


def transformed_accuracy(
    clf, x_test, y_test, f_test, group, timings, quiet=True, seed=0, key="test_transform"
) -> dict:
    """The fitted model's accuracy on the test images moved by each element of ``group``.

    The features of ``h·x`` are those of ``x`` permuted (``feature_permutation(h)``, the
    exactness contract) when ``h`` is in the representation's group: no feature is computed
    again; for other elements they are computed from the moved images.

    Returns
    -------
    dict
        ``group``, ``accuracy`` (element -> accuracy), ``worst`` (element and accuracy),
        ``spread`` (best - worst), ``randomised`` (each test image moved by its own random
        element, drawn with ``seed``) and ``recomputed`` (the elements whose features were
        computed from moved images).
    """
    g = get_group(group)
    rep = clf.representation_
    own = get_group(rep.group).elements
    recomputed = []

    with Stage(
        f"test under {g.name}", timings, key, total=g.order, unit="elements", quiet=quiet
    ) as st:

        def predict(i, h):
            if h in own:
                F = permuted_copies(f_test, [rep.feature_permutation(h)], n_threads=rep.n_threads)
            else:
                F = rep.transform(np.ascontiguousarray(g.apply(x_test, h)))
                recomputed.append(h)
            pred = clf._predict_features(F)
            st.advance(i + 1)
            return pred

        moved = accuracy_under_group(predict, y_test, g, seed)
    return {**moved, "recomputed": recomputed}


#: An element is respected when the model's validation accuracy on images moved by it is at
#: most this far below its accuracy on the images as they are.
SYMMETRY_TOLERANCE = 0.05
_SYMMETRY_VALIDATION = 5_000  # at most this many validation images


def symmetry_report(args, x_train, y_train, timings) -> dict:
    """Which symmetries of the square the dataset's classes respect, measured on training
    images only: a fifth of them (at most 5,000, stratified) held out for validation, a model
    of run's configuration (without invariance) fitted on the others, and its accuracy on the
    validation images moved by each element of D4.

    Returns
    -------
    dict
        ``n_fit``, ``n_validation``; ``accuracy`` (element -> accuracy) and ``ci95`` (its
        Wilson interval); ``drop`` (accuracy of the images as they are minus that of the
        moved ones); ``tolerance``; ``respected`` (the elements whose drop is at most the
        tolerance); ``subgroup`` (the largest subgroup of D4 made of respected elements);
        ``closest``: the larger subgroup whose worst element drops the least, and that drop
        (None when ``subgroup`` is D4); ``randomised`` (each validation image moved by its
        own random element).
    """
    from sklearn.model_selection import train_test_split

    n_val = _symmetry_validation_size(y_train)
    x_fit, x_val, y_fit, y_val = train_test_split(
        x_train, y_train, test_size=n_val, stratify=y_train, random_state=args.seed
    )
    D4 = get_group("D4")
    clf = _model(args, invariance=None)
    with Stage(
        f"symmetry: fit on {len(y_fit):,} training images", timings, "symmetry", quiet=args.quiet
    ):
        clf.fit(x_fit, y_fit)
        f_val = clf.representation_.transform(x_val)
    moved = transformed_accuracy(
        clf, x_val, y_val, f_val, D4, timings, args.quiet, args.seed, key="symmetry"
    )
    acc = moved["accuracy"]
    drop = {h: acc["e"] - a for h, a in acc.items()}
    respected = [h for h in D4.elements if drop[h] <= SYMMETRY_TOLERANCE]
    subgroup = max(
        (get_group(name) for name in GROUP_NAMES
         if set(get_group(name).elements) <= set(respected)),
        key=lambda g: g.order,
    )  # fmt: skip
    # the nearest larger symmetry: the subgroup (beyond the respected one) whose worst element
    # costs the least accuracy
    larger = [get_group(n) for n in GROUP_NAMES if get_group(n).order > subgroup.order]
    larger = [g for g in larger if set(subgroup.elements) <= set(g.elements)]
    closest = min(larger, key=lambda g: (max(drop[h] for h in g.elements), g.order), default=None)
    return {
        "n_fit": int(len(y_fit)),
        "n_validation": int(len(y_val)),
        "accuracy": acc,
        "ci95": {h: list(_wilson(a, len(y_val))) for h, a in acc.items()},
        "drop": drop,
        "tolerance": SYMMETRY_TOLERANCE,
        "respected": respected,
        "subgroup": subgroup.name,
        "closest": None
        if closest is None
        else {"subgroup": closest.name, "drop": max(drop[h] for h in closest.elements)},
        "randomised": moved["randomised"],
    }


def _closest_text(sym) -> str:
    c = sym.get("closest")
    if not c:
        return ""
    return f"; closest: {c['subgroup']} (accuracy drops by up to {c['drop']:.3f})"


def _symmetry_validation_size(y_train) -> int:
    """Validation images of the symmetry report; refuses a split that cannot hold a class."""
    n_val = min(_SYMMETRY_VALIDATION, len(y_train) // 5)
    classes = np.unique(y_train).size
    if n_val < classes:
        raise ValueError(
            f"--symmetry needs at least {classes} validation images (one per class), a fifth "
            f"of the {len(y_train)} training images is {n_val} (use more training images)"
        )
    return n_val


def _wilson(p, n, z=1.959963984540054):
    """The 95% Wilson interval of a proportion p of n."""
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return round(float(max(0.0, centre - half)), 6), round(float(min(1.0, centre + half)), 6)


def _separability(args, x_test, y_test, f_test, z_test, timings):
    """Class separability of the test images' raw pixels, features and principal components."""
    with Stage("separability", timings, "separability", quiet=args.quiet):
        idx = _separability_sample(y_test, args.seed)
        y_sep = y_test[idx]
        raw = x_test[idx].reshape(len(y_sep), -1).astype(np.float64)
        return {
            "raw": _round(metrics.separability(raw, y_sep, random_state=args.seed)),
            "representation": _round(
                metrics.separability(f_test[idx], y_sep, random_state=args.seed)
            ),
            "pca": _round(metrics.separability(z_test[idx], y_sep, random_state=args.seed)),
        }


def _report(args, about, clf, y_train, y_test, pred, sep, timings) -> dict:
    """report.json's content; ``about``: the dataset's name, class names, image shape, the
    training images' dtype and a function giving their pixel range."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    name, class_names, shape, dtype, pixel_range = about
    rep = clf.representation_
    labels = np.arange(len(class_names))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_test, pred, labels=labels, zero_division=0
    )
    return {
        "glassbox_version": _core.__version__,
        "command": "glassbox " + " ".join(getattr(args, "argv", ["run"])),
        "dataset": name,
        "accuracy": float(accuracy_score(y_test, pred)),
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
        "image_shape": [int(v) for v in shape],
        "group": args.group,
        "classifier": args.classifier,
        "invariance": args.invariance,
        "n_components": int(clf.pca_.n_components_),
        "thresholds": [float(t) for t in rep.thresholds_],
        "thresholds_requested": rep.thresholds,
        "notes": [n for n in (_thresholds_note(rep, dtype, pixel_range),) if n],
        "class_names": list(class_names),
        "per_class": [
            {
                "class": class_names[k],
                "precision": float(precision[k]),
                "recall": float(recall[k]),
                "f1": float(f1[k]),
                "support": int(support[k]),
            }
            for k in labels
        ],
        "confusion_matrix": confusion_matrix(y_test, pred, labels=labels).tolist(),
        "separability": sep,
        "features": {
            "invariant": rep.block_sizes_["invariant"],
            "equivariant": rep.block_sizes_["equivariant"],
            "total": int(rep.n_features_out_),
            "pca_components": int(clf.pca_.n_components_),
            "pca_explained_variance": float(clf.pca_.explained_variance_ratio_.sum()),
        },
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
    }


def _save_model(args, clf, class_names, accuracy, timings) -> None:
    """Save the model with what ``glassbox explain --index`` needs to find the same test
    images."""
    builtin = args.dataset in ("digits", "fashion-mnist")
    dataset = {
        "spec": args.dataset if builtin else str(Path(args.dataset).resolve()),
        "image_size": args.image_size,
        "train_size": args.train_size,
        "test_size": args.test_size,
        "seed": args.seed,
    }
    meta = {"dataset": dataset, "class_names": list(class_names), "accuracy": accuracy}
    with Stage("save model", timings, "save", quiet=args.quiet):
        save_model(clf, args.save_model, metadata=meta)


def summary(report) -> str:
    """A few lines for the terminal."""
    s = report["separability"]
    f = report["features"]
    lines = [
        f"test accuracy {report['accuracy']:.4f} on {report['n_test']:,} images "
        f"({report['dataset']}, group {report['group']}, {report['classifier']}, "
        f"{report['n_train']:,} training images)",
        f"features: {f['total']:,} ({_block_text(f)}) -> {f['pca_components']} principal "
        "components",
        "separability     ratio (lower better)   Fisher   silhouette",
    ]
    for k in ("raw", "representation", "pca"):
        lines.append(
            f"  {k:15s} {s[k]['ratio']:10.4f}        {s[k]['fisher']:10.2f}   "
            f"{s[k]['silhouette']:8.4f}"
        )
    moved = report.get("test_transform")
    if moved:
        w = moved["worst"]
        lines.append(
            f"test images moved by {moved['group']}: "
            + ", ".join(f"{h} {a:.4f}" for h, a in moved["accuracy"].items())
            + f"; worst {w['element']} {w['accuracy']:.4f}; each image moved by a random "
            f"element {moved['randomised']:.4f}"
        )
    sym = report.get("symmetry")
    if sym:
        lines.append(
            f"symmetry (validation): the classes respect {sym['subgroup']}"
            + _closest_text(sym)
            + " ("
            + ", ".join(f"{h} {a:.4f}" for h, a in sym["accuracy"].items())
            + ")"
        )
    lines += [f"note: {n}" for n in report.get("notes", [])]
    t = report["timings"]
    lines.append("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in t.items()))
    return "\n".join(lines)


def _block_text(f):
    parts = []
    for block in ("invariant", "equivariant"):
        sizes = f[block]
        if sizes:
            parts.append(f"{block} " + " + ".join(f"{v} {k}" for k, v in sizes.items()))
    return "; ".join(parts)


def markdown(report) -> str:
    """report.md: the report as tables."""
    s = report["separability"]
    f = report["features"]
    out = [
        f"# glassbox run: {md(report['dataset'])}",
        "",
        f"`{report['command']}` (glassbox {report['glassbox_version']})",
        "",
        f"- test accuracy: **{report['accuracy']:.4f}** on {report['n_test']:,} test images "
        f"({report['n_train']:,} training images)",
        f"- group {report['group']}, classifier {report['classifier']}"
        + (f" (invariant to {report['invariance']})" if report.get("invariance") else "")
        + ", "
        f"{report['n_components']} principal components, {len(report['thresholds'])} thresholds",
        f"- features: {f['total']:,} ({_block_text(f)}); PCA keeps "
        f"{f['pca_explained_variance']:.1%} of their variance",
        *(f"- note: {n}" for n in report.get("notes", [])),
        "",
        "## Class separability of the test images",
        "",
        "| layer | intra/inter distance ratio (lower is better) | Fisher criterion | silhouette |",
        "|---|---:|---:|---:|",
    ]
    for k, name in (
        ("raw", "raw pixels"),
        ("representation", "representation"),
        ("pca", "after PCA"),
    ):
        out.append(
            f"| {name} | {s[k]['ratio']:.4f} | {s[k]['fisher']:.2f} | {s[k]['silhouette']:.4f} |"
        )
    out += [
        "",
        "## Per class",
        "",
        "| class | precision | recall | support |",
        "|---|---:|---:|---:|",
    ]
    for c in report["per_class"]:
        out.append(
            f"| {md(c['class'])} | {c['precision']:.3f} | {c['recall']:.3f} | {c['support']} |"
        )
    moved = report.get("test_transform")
    if moved:
        out += [
            "",
            f"## Test images moved by {moved['group']}",
            "",
            "The model trained as above, tested on every test image moved by one element "
            "(features permuted, not recomputed, for the elements of the representation's group"
            + (
                f"; computed again for {', '.join(moved['recomputed'])}"
                if moved["recomputed"]
                else ""
            )
            + ").",
            "",
            "| element | test accuracy |",
            "|---|---:|",
            *(f"| {h} | {a:.4f} |" for h, a in moved["accuracy"].items()),
            "",
            f"Worst: {moved['worst']['element']} ({moved['worst']['accuracy']:.4f}); spread "
            f"{moved['spread']:.4f}; each test image moved by its own random element: "
            f"{moved['randomised']:.4f}.",
        ]
    sym = report.get("symmetry")
    if sym:
        out += [
            "",
            "## Symmetries the classes respect",
            "",
            f"A model trained on {sym['n_fit']:,} of the training images, tested on "
            f"{sym['n_validation']:,} others (validation, never the test set) moved by each "
            f"element of D4. An element is respected when the accuracy drops by at most "
            f"{sym['tolerance']:.2f}: **{sym['subgroup']}** "
            f"({', '.join(sym['respected'])}){_closest_text(sym)}.",
            "",
            "| element | validation accuracy | 95% interval | drop |",
            "|---|---:|---|---:|",
            *(
                f"| {h} | {a:.4f} | [{sym['ci95'][h][0]:.3f}, {sym['ci95'][h][1]:.3f}] "
                f"| {sym['drop'][h]:+.4f} |"
                for h, a in sym["accuracy"].items()
            ),
            "",
            f"Each validation image moved by its own random element: {sym['randomised']:.4f}.",
        ]
    names = [md(n) for n in report["class_names"]]
    out += ["", "## Confusion matrix (rows: true class, columns: predicted)", ""]
    out.append("| | " + " | ".join(names) + " |")
    out.append("|---|" + "---:|" * len(names))
    for name, row in zip(names, report["confusion_matrix"], strict=True):
        out.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    out += ["", "## Seconds per stage", "", "| stage | seconds |", "|---|---:|"]
    for k, v in report["timings"].items():
        out.append(f"| {k} | {v:.2f} |")
    return "\n".join(out) + "\n"
