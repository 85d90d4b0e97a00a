"""``glassbox run``: train, evaluate and report the glass-box model."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__, _io, datasets, metrics
from ._io import check_writable_dir
from ._progress import Stage
from ._validation import check_allocation, check_memory
from .classifier import GlassBoxClassifier
from .representation import GlassBoxRepresentation

_CHUNK = 10_000  # images per transform call: the progress bar's step
REPORT_FILES = ("report.json", "report.md")
FIGURES = ("orbits.png", "pca_scatter.png", "separability.png", "confusion.png")
MODEL_FILES = ("model.json", "arrays.npz")


def _idx_files(path: Path):
    return [p for p in path.iterdir() if p.name.endswith(("-ubyte", "-ubyte.gz"))]


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
    if any(p.name.endswith(("idx3-ubyte", "idx3-ubyte.gz")) for p in path.iterdir()):
        return datasets.load_idx(path)
    if image_size is None:
        raise ValueError(
            f"--dataset {spec!r} is an image folder: give the image size with --image-size H W"
        )
    return datasets.load_image_folder(path, tuple(image_size))


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


def _thresholds_note(rep, x_train) -> str | None:
    """Why fewer thresholds than asked, when so: integer images leave only as many distinct
    thresholds as there are grey levels between their darkest and brightest pixel."""
    asked, got = rep.thresholds, len(rep.thresholds_)
    if not isinstance(asked, int) or got >= asked:
        return None
    if x_train.dtype.kind not in "biu":
        return f"{got} thresholds, not the {asked} asked: duplicates dropped"
    lo, hi = x_train.min(), x_train.max()
    return (
        f"{got} thresholds, not the {asked} asked: the training pixels are integers from "
        f"{lo} to {hi}, which leave {got} distinct thresholds between them (duplicates dropped)"
    )


def run(args) -> int:
    """Run ``glassbox run`` with parsed arguments; returns the exit status."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    inputs = dataset_inputs(args.dataset)
    out_dir = prepare_output(args, REPORT_FILES + (FIGURES if args.plot else ()), inputs)
    if args.save_model is not None:
        prepare_outputs("--save-model", args.save_model, MODEL_FILES, inputs, quiet=args.quiet)
    quiet = args.quiet
    say = (lambda *a: None) if quiet else print
    timings: dict[str, float] = {}
    t_start = time.perf_counter()

    with Stage("load", timings, "load", quiet=quiet):
        ds = load_dataset(args.dataset, args.image_size)
        x_train, x_test, y_train, y_test = split(ds, args.train_size, args.test_size, args.seed)
    say(
        f"{ds.name}: {len(x_train):,} training and {len(x_test):,} test images of "
        f"{ds.images.shape[1]}x{ds.images.shape[2]}, {len(ds.class_names)} classes"
    )

    rep = GlassBoxRepresentation(group=args.group, n_threads=args.n_threads)
    clf = GlassBoxClassifier(
        representation=rep,
        n_components=args.n_components,
        classifier=args.classifier,
        random_state=args.seed,
    )
    y_enc = clf._check_fit_input(x_train, y_train)
    rep = clf._new_representation()
    clf._check_fit_memory(
        rep, x_train.shape, f"--dataset {args.dataset}", "train on fewer with --train-size N"
    )
    with Stage("fit representation", timings, "representation", quiet=quiet):
        rep.fit(x_train)
    f_train = transform_with_progress(rep, x_train, "representation (train)", timings, quiet)
    f_test = transform_with_progress(rep, x_test, "representation (test)", timings, quiet)
    with Stage(f"fit scaler + PCA + {args.classifier}", quiet=quiet):
        clf._fit_features(rep, f_train, y_enc, timings)
    with Stage("predict", timings, "predict", quiet=quiet):
        z_test = clf._reduce_features(f_test)
        pred = clf.classes_[clf.classifier_.predict(z_test)]
    del f_train

    with Stage("separability", timings, "separability", quiet=quiet):
        idx = _separability_sample(y_test, args.seed)
        y_sep = y_test[idx]
        raw = x_test[idx].reshape(len(y_sep), -1).astype(np.float64)
        sep = {
            "raw": _round(metrics.separability(raw, y_sep, random_state=args.seed)),
            "representation": _round(
                metrics.separability(f_test[idx], y_sep, random_state=args.seed)
            ),
            "pca": _round(metrics.separability(z_test[idx], y_sep, random_state=args.seed)),
        }
    timings["total"] = time.perf_counter() - t_start

    labels = np.arange(len(ds.class_names))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_test, pred, labels=labels, zero_division=0
    )
    cm = confusion_matrix(y_test, pred, labels=labels)
    acc = float(accuracy_score(y_test, pred))
    report = {
        "glassbox_version": __version__,
        "command": "glassbox " + " ".join(getattr(args, "argv", ["run"])),
        "dataset": ds.name,
        "accuracy": acc,
        "n_train": int(len(x_train)),
        "n_test": int(len(x_test)),
        "image_shape": list(ds.images.shape[1:]),
        "group": args.group,
        "classifier": args.classifier,
        "n_components": int(clf.pca_.n_components_),
        "thresholds": [float(t) for t in rep.thresholds_],
        "thresholds_requested": rep.thresholds,
        "notes": [n for n in (_thresholds_note(rep, x_train),) if n],
        "class_names": list(ds.class_names),
        "per_class": [
            {
                "class": ds.class_names[k],
                "precision": float(precision[k]),
                "recall": float(recall[k]),
                "f1": float(f1[k]),
                "support": int(support[k]),
            }
            for k in labels
        ],
        "confusion_matrix": cm.tolist(),
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
    # everything that is not a figure first: a figure that fails must not cost the results
    _io.write_atomically(out_dir / "report.json", (json.dumps(report, indent=2) + "\n").encode())
    _io.write_atomically(out_dir / "report.md", markdown(report).encode())
    if args.save_model is not None:
        from .persistence import save_model

        builtin = args.dataset in ("digits", "fashion-mnist")
        dataset = {  # what `glassbox explain --index` needs to find the same test images
            "spec": args.dataset if builtin else str(Path(args.dataset).resolve()),
            "image_size": args.image_size,
            "train_size": args.train_size,
            "test_size": args.test_size,
            "seed": args.seed,
        }
        meta = {"dataset": dataset, "class_names": list(ds.class_names), "accuracy": acc}
        with Stage("save model", timings, "save", quiet=quiet):
            save_model(clf, args.save_model, metadata=meta)
    written, failed = [], []
    if args.plot:
        from ._plots import write_plots

        with Stage("plots", timings, "plots", quiet=quiet):
            written, failed = write_plots(
                out_dir, report, rep, x_test, y_test, z_test, ds.class_names
            )
    say("")
    say(summary(report))
    say(f"report: {out_dir / 'report.json'}, {out_dir / 'report.md'}")
    if written:
        say("figures: " + ", ".join(str(p) for p in written))
    if args.save_model is not None:
        say(f"model: {args.save_model} (glassbox explain --model {args.save_model} --index N)")
    return report_failed_figures("run", failed)


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


def md(text) -> str:
    """``text`` as one Markdown table cell or heading: ``|`` and ``$`` (which some renderers
    read as mathematics) escaped, line breaks as spaces."""
    text = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("$", "\\$")
    return " ".join(text.split())


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
        f"- group {report['group']}, classifier {report['classifier']}, "
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
