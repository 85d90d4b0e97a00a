"""``glassbox run``: train, evaluate and report the glass-box model."""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from . import __version__, datasets, metrics
from ._progress import Stage
from .classifier import GlassBoxClassifier
from .representation import GlassBoxRepresentation

_CHUNK = 10_000  # images per transform call: the progress bar's step


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
    if path.is_file():
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


def split(ds, train_size, test_size, seed):
    """The standard split when there is one, else a stratified one; then an optional
    stratified sample of the training images."""
    from sklearn.model_selection import train_test_split

    if ds.n_train is not None:
        x_train, x_test, y_train, y_test = ds.standard_split()
    else:
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
    out = np.empty((len(X), rep.n_features_out_), dtype=np.float32)
    with Stage(label, timings, "representation", total=len(X), quiet=quiet) as stage:
        for a in range(0, len(X), _CHUNK):
            b = min(len(X), a + _CHUNK)
            out[a:b] = rep.transform(X[a:b])
            stage.advance(b)
    return out


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it: never a partial file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def prepare_output(args) -> Path:
    """Checks a command makes before its work, not after it: matplotlib for ``--plot``, and
    ``--out`` created and writable.  Returns the output directory."""
    if args.plot:
        require_matplotlib("--plot needs matplotlib")
    return check_writable_dir(args.out, "--out")


def require_matplotlib(why: str) -> None:
    """ImportError ``why`` plus how to install, unless matplotlib imports."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(f"{why}: pip install matplotlib (or glassbox[plot])") from None


def check_writable_dir(path, option) -> Path:
    """Create directory ``path`` if needed and check it is writable; return it."""
    out_dir = Path(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not os.access(out_dir, os.W_OK):
        raise PermissionError(f"{option} {str(out_dir)!r} is not writable")
    return out_dir


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _round(d):
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in d.items()}


def run(args) -> int:
    """Run ``glassbox run`` with parsed arguments; returns the exit status."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    out_dir = prepare_output(args)
    if args.save_model is not None:
        check_writable_dir(args.save_model, "--save-model")
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
        raw = x_test.reshape(len(x_test), -1).astype(np.float64)
        sep = {
            "raw": _round(metrics.separability(raw, y_test, random_state=args.seed)),
            "representation": _round(metrics.separability(f_test, y_test, random_state=args.seed)),
            "pca": _round(metrics.separability(z_test, y_test, random_state=args.seed)),
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
    write_atomically(out_dir / "report.json", (json.dumps(report, indent=2) + "\n").encode())
    write_atomically(out_dir / "report.md", markdown(report).encode())
    if args.plot:
        from ._plots import write_plots

        with Stage("plots", timings, "plots", quiet=quiet):
            written = write_plots(out_dir, report, rep, x_test, y_test, z_test, ds.class_names)
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
    say("")
    say(summary(report))
    say(f"report: {out_dir / 'report.json'}, {out_dir / 'report.md'}")
    if args.plot:
        say("figures: " + ", ".join(str(p) for p in written))
    if args.save_model is not None:
        say(f"model: {args.save_model} (glassbox explain --model {args.save_model} --index N)")
    return 0


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
        f"# glassbox run: {report['dataset']}",
        "",
        f"`{report['command']}` (glassbox {report['glassbox_version']})",
        "",
        f"- test accuracy: **{report['accuracy']:.4f}** on {report['n_test']:,} test images "
        f"({report['n_train']:,} training images)",
        f"- group {report['group']}, classifier {report['classifier']}, "
        f"{report['n_components']} principal components, {len(report['thresholds'])} thresholds",
        f"- features: {f['total']:,} ({_block_text(f)}); PCA keeps "
        f"{f['pca_explained_variance']:.1%} of their variance",
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
        out.append(f"| {c['class']} | {c['precision']:.3f} | {c['recall']:.3f} | {c['support']} |")
    names = report["class_names"]
    out += ["", "## Confusion matrix (rows: true class, columns: predicted)", ""]
    out.append("| | " + " | ".join(names) + " |")
    out.append("|---|" + "---:|" * len(names))
    for name, row in zip(names, report["confusion_matrix"], strict=True):
        out.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    out += ["", "## Seconds per stage", "", "| stage | seconds |", "|---|---:|"]
    for k, v in report["timings"].items():
        out.append(f"| {k} | {v:.2f} |")
    return "\n".join(out) + "\n"
