"""``glassbox explain``: why a saved model classified one image as it did."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np

from .. import _io
from .._validation import check_allocation
from ..explain import AGGREGATIONS
from ..groups import get_group
from ..persistence import load_model
from ._common import (
    MODEL_FILES,
    dataset_inputs,
    idx_directory,
    load_split,
    non_negative,
    prepare_outputs,
    report_failed_figures,
    require_matplotlib,
)
from ._figures import _pyplot, _save, draw_each, plain

_TOP_FEATURES = 20
_TOP_EXAMPLES = 8  # training images named (and drawn) for a kernel model
OUTPUTS = ("explain.json", "explain.png")


def read_image(path, shape):
    """One image file as grey levels (OpenCV; or an .npy (H, W) array of numbers), resized to
    ``shape`` with ``INTER_AREA`` as image folders are; every failure a ValueError (or
    FileNotFoundError) naming ``--image``."""
    path = Path(path)
    name = f"--image {str(path)!r}"
    if not path.exists():
        raise FileNotFoundError(f"{name}: no such file")
    if path.suffix == ".npy":
        with _io.open_regular(path, name) as f:
            h = _io.npy_header(f, name)
            if len(h.shape) != 2 or 0 in h.shape or h.dtype.kind not in "biuf":
                raise ValueError(
                    f"{name}: an .npy image must be a non-empty 2-D array of numbers, got "
                    f"{h.dtype} of shape {h.shape}"
                )
            check_allocation(h.shape, h.dtype, name)
            f.seek(0)
            try:
                img = np.load(f, allow_pickle=False)
            except (ValueError, OSError, EOFError) as exc:
                raise ValueError(f"{name}: cannot be read as an array ({exc})") from None
        if img.dtype.kind == "f" and not np.isfinite(img).all():
            raise ValueError(f"{name}: contains NaN or infinite values")
        if img.dtype.kind == "b":
            img = img.astype(np.uint8)
    else:
        img = _io.read_grey(path, name=name)
    return _io.resize(img, shape)


def _class_name(names, label):
    """The dataset's name of a label (labels index the class names), else the label."""
    try:
        k = int(label)
    except (TypeError, ValueError):
        return str(label)
    return str(names[k]) if 0 <= k < len(names) else str(label)


def _target_label(model, names, text):
    """--target as a class name or a label of the model."""
    if text is None:
        return None
    matches = [c for c in model.classes_ if str(c) == text or _class_name(names, c) == text]
    if not matches:
        raise ValueError(
            f"--target {text!r}: not a class of the model (classes: "
            f"{', '.join(_class_name(names, c) for c in model.classes_)})"
        )
    return matches[0]


def _dataset_record(meta, model_dir):
    """The dataset a model was trained on, as ``glassbox run --save-model`` records it, checked
    field by field: what ``--index`` needs to find the same test images."""
    data = meta.get("dataset")
    if not isinstance(data, dict) or "spec" not in data:
        raise ValueError(
            f"--index: {model_dir} does not record its dataset (saved outside glassbox run); "
            "use --image"
        )

    def bad(key, want):
        return ValueError(
            f"--index: {model_dir} records its dataset without a valid {key!r} ({want}, got "
            f"{data.get(key, 'nothing')!r}); use --image"
        )

    def is_int(v, lo):
        return isinstance(v, int) and not isinstance(v, bool) and v >= lo

    if not isinstance(data["spec"], str) or not data["spec"]:
        raise bad("spec", "a dataset name or path")
    size = data.get("image_size")
    if size is not None and not (
        isinstance(size, list) and len(size) == 2 and all(is_int(v, 1) for v in size)
    ):
        raise bad("image_size", "null or [H, W]")
    if data.get("train_size") is not None and not is_int(data.get("train_size"), 1):
        raise bad("train_size", "null or a positive int")
    t = data.get("test_size")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t < 1:
        raise bad("test_size", "a number in (0, 1)")
    if not is_int(data.get("seed"), 0):
        raise bad("seed", "an int >= 0")
    return data


def _class_names(meta, model, model_dir):
    """The dataset's class names the model's labels index, checked against the model."""
    names = meta.get("class_names")
    if names is None:
        return []
    labels = model.classes_
    if (
        not isinstance(names, list)
        or not all(isinstance(n, str) for n in names)
        or len(set(names)) != len(names)
        or (labels.dtype.kind in "iu" and (labels.min() < 0 or labels.max() >= len(names)))
    ):
        raise ValueError(
            f"{model_dir}: its metadata's class_names do not fit the model's classes "
            f"{labels.tolist()}"
        )
    return names


def add_parser(subparsers) -> None:
    """Add ``glassbox explain`` and its arguments to ``subparsers``."""
    parser = subparsers.add_parser(
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
    parser.add_argument("--model", required=True, metavar="DIR", help="a saved model")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--image", metavar="PATH", help="an image file (grey levels; resized to the model's size)"
    )
    which.add_argument(
        "--index",
        type=non_negative,
        metavar="N",
        help="image N of the test split of the dataset the model was trained on",
    )
    parser.add_argument(
        "--target",
        default=None,
        metavar="CLASS",
        help="the class whose score is explained (name or label; default: the predicted class)",
    )
    parser.add_argument("--out", default="glassbox-explain", help="output directory")
    parser.add_argument("--quiet", action="store_true", help="no terminal output")


def run(args) -> int:
    """Run ``glassbox explain`` with parsed arguments; returns the exit status."""
    with contextlib.ExitStack() as stack:
        return _run(args, stack)


class _Images:
    """Images of an open source read one at a time, as ``x[i]`` (the few training images a
    kernel model's explanation shows)."""

    def __init__(self, src):
        self.src = src

    def __getitem__(self, i):
        return self.src.take([i])[0]


def _run(args, stack) -> int:
    say = (lambda *a: None) if args.quiet else print
    require_matplotlib("glassbox explain draws a PNG with matplotlib")  # before any work
    model_files = [Path(args.model) / n for n in MODEL_FILES]
    out_dir = prepare_outputs(
        "--out", args.out, OUTPUTS, [*model_files, args.image], quiet=args.quiet
    )
    model, meta = load_model(args.model, with_metadata=True)
    rep = model.representation_
    names = _class_names(meta, model, args.model)
    true = None
    x_train = y_train = None
    if args.image is not None:
        image = read_image(args.image, rep.image_shape_)
        source = str(args.image)
    else:
        data = _dataset_record(meta, args.model)
        _io.refuse_overwrite([out_dir / n for n in OUTPUTS], dataset_inputs(data["spec"]), "--out")
        # a directory of IDX files split as it is stored: the test images, the labels and
        # the few training images shown are read, not every training image
        stream = data.get("train_size") is None and idx_directory(data["spec"])
        name, _, _, x_train, x_test, y_train, y_test = load_split(
            data["spec"], data.get("image_size"), data.get("train_size"), data["test_size"],
            data["seed"], stack, stream=stream,
        )  # fmt: skip
        x_train = _Images(x_train) if stream else x_train
        if not 0 <= args.index < len(x_test):
            raise ValueError(f"--index {args.index}: the test set has {len(x_test)} images")
        image, true = x_test[args.index], y_test[args.index]
        source = f"{name} test image {args.index}"
    target = _target_label(model, names, args.target)
    predicted = model.predict(image[None])[0]
    ex = model.explain(image[None], target=target)
    heat = ex.heatmap()[0]
    aggregates = {}
    for by in AGGREGATIONS:
        labels, values = ex.aggregate(by)
        aggregates[by] = [
            {"name": n, "contribution": float(v)} for n, v in zip(labels, values[0], strict=True)
        ]
    contrib = ex.contributions[0]
    order = np.argsort(-np.abs(contrib))[:_TOP_FEATURES]
    report = {
        "model": str(args.model),
        "image": source,
        "true_class": None if true is None else _class_name(names, true),
        "predicted_class": _class_name(names, predicted),
        "target_class": _class_name(names, ex.target[0]),
        "method": ex.method,
        "exact": bool(ex.exact),
        "score": float(ex.score[0]),
        "baseline": float(ex.baseline[0]),
        "sum_of_contributions": float(contrib.sum()),
        "residual": float(ex.residual[0]),
        "aggregates": aggregates,
        "top_features": [
            {"name": str(ex.feature_names[j]), "contribution": float(contrib[j])} for j in order
        ],
        "heatmap": heat.round(6).tolist(),
    }
    shown = None
    if model.classifier in ("svm", "kernel-ridge"):
        report["examples"], shown = _examples(model, image, target, names, x_train, y_train)
    _io.write_atomically(out_dir / "explain.json", (json.dumps(report, indent=1) + "\n").encode())
    written, failed = draw_each(
        out_dir,
        {"explain.png": lambda p: write_explain_png(p, model, ex, image, heat, report, shown)},
    )
    say(summary(report))
    say("written: " + ", ".join(str(p) for p in [*written, out_dir / "explain.json"]))
    return report_failed_figures("explain", failed)


def _examples(model, image, target, names, x_train, y_train):
    """The kernel model's score split exactly onto training images: a report entry with the
    ``_TOP_EXAMPLES`` that weigh most, and those images (moved by their element; None without
    the training images)."""
    ex = model.explain_examples(image[None], target=target)
    idx, elements, weights = (a[0] for a in ex.top(_TOP_EXAMPLES))
    group = model.augment if model.augment is not None else model.invariance
    g = get_group(group if group is not None else model.representation_.group)
    top = []
    for i, e, w in zip(idx.tolist(), elements.tolist(), weights.tolist(), strict=True):
        entry = {"training_image": i, "element": str(g.elements[e]), "contribution": w}
        if y_train is not None:
            entry["class"] = _class_name(names, y_train[i])
        top.append(entry)
    shown = None
    if x_train is not None:
        shown = [
            g.apply(x_train[i], e) for i, e in zip(idx.tolist(), elements.tolist(), strict=True)
        ]
    entry = {
        "what": "landmarks" if model.classifier == "kernel-ridge" else "support vectors",
        "count": int(ex.contributions.shape[1]),
        "score": float(ex.score[0]),
        "baseline": float(ex.baseline[0]),
        "sum_of_contributions": float(ex.contributions[0].sum()),
        "top": top,
    }
    return entry, shown


def _headline(report) -> str:
    """'<image>: predicted <class> (true <class>)': the summary's first line, the PNG's title."""
    true = report["true_class"]
    return f"{report['image']}: predicted {report['predicted_class']}" + (
        f" (true {true})" if true is not None else ""
    )


def summary(report) -> str:
    """A few lines for the terminal."""
    kind = "exact" if report["exact"] else "approximate: occlusion"
    lines = [
        _headline(report),
        f"score of {report['target_class']}: {report['score']:.4f} = baseline "
        f"{report['baseline']:.4f} + contributions {report['sum_of_contributions']:.4f}"
        + (f" + residual {report['residual']:.4f}" if not report["exact"] else "")
        + f" ({kind})",
    ]
    for by in ("block", "element", "pattern"):
        top = sorted(report["aggregates"][by], key=lambda d: -abs(d["contribution"]))[:4]
        lines.append(
            f"  by {by:8s} " + ", ".join(f"{d['name']} {d['contribution']:+.3f}" for d in top)
        )
    if "examples" in report:
        e = report["examples"]
        lines.append(
            f"onto {e['count']:,} {e['what']} (training images, exact): baseline "
            f"{e['baseline']:.4f} + "
            f"{e['sum_of_contributions']:.4f}; most influential: "
            + ", ".join(
                f"#{d['training_image']}"
                + (f" ({d['class']})" if "class" in d else "")
                + f" {d['contribution']:+.3f}"
                for d in e["top"][:4]
            )
        )
    return "\n".join(lines)


def _bars(ax, items, title, top=None):
    items = sorted(items, key=lambda d: -abs(d["contribution"]))[:top]
    items = items[::-1]
    vals = [d["contribution"] for d in items]
    ax.barh(range(len(items)), vals, color=["#c33" if v > 0 else "#36c" for v in vals])
    ax.set_yticks(range(len(items)), [plain(d["name"]) for d in items], fontsize=7)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelsize=7)


def write_explain_png(path, model, ex, image, heat, report, shown=None):
    """explain.png: the image and its orbit, the pixel heatmap, the target class's prototypes
    and the top contributing feature groups; for a kernel model with its training images
    (``shown``), the training images that weigh most in the score."""
    plt = _pyplot()
    rep = model.representation_
    g = get_group(rep.group)
    k = int(np.flatnonzero(model.classes_ == ex.target[0])[0])
    protos = model.class_prototypes()
    rows = 4 if shown else 3
    fig = plt.figure(figsize=(14, 12 if shown else 10))
    try:
        ratios = [1.0, 2.2, 2.6] + ([1.0] if shown else [])
        grid = fig.add_gridspec(rows, 8, height_ratios=ratios, hspace=0.45, wspace=0.6)
        top = report["examples"]["top"] if shown else []
        for i, (img, d) in enumerate(zip(shown or [], top, strict=True)):
            ax = fig.add_subplot(grid[3, i])
            ax.imshow(img, cmap="gray")
            label = d.get("class", "")
            lead = "training images that weigh most:\n" if i == 0 else "\n"
            ax.set_title(
                plain(f"{lead}#{d['training_image']} {label} {d['contribution']:+.2f}"),
                fontsize=7,
                loc="left" if i == 0 else "center",
            )
            ax.set_axis_off()
        for i, name in enumerate(g.elements[:8]):
            ax = fig.add_subplot(grid[0, i])
            ax.imshow(g.apply(image, i), cmap="gray")
            ax.set_title(f"orbit: {name}", fontsize=8)
            ax.set_axis_off()
        panels = [("image", image, "gray", None)]
        vmax = float(np.abs(heat).max()) or 1.0
        panels.append(("pixel heatmap (red: for, blue: against)", heat, "RdBu_r", (-vmax, vmax)))
        for key, title in (
            ("level", "prototype (equivariant)"),
            ("level_invariant", "prototype (invariant)"),
        ):
            if protos[key] is not None:
                panels.append(
                    (f"{title}: {plain(report['target_class'])}", protos[key][k], "gray", None)
                )
        for i, (title, img, cmap, lim) in enumerate(panels):
            ax = fig.add_subplot(grid[1, 2 * i : 2 * i + 2])
            im = ax.imshow(img, cmap=cmap, vmin=None if lim is None else lim[0],
                           vmax=None if lim is None else lim[1])  # fmt: skip
            ax.set_title(title, fontsize=8)
            ax.set_axis_off()
            if cmap == "RdBu_r":
                fig.colorbar(im, ax=ax, fraction=0.046)
        agg = report["aggregates"]
        bottom = grid[2, :].subgridspec(1, 4, wspace=1.1)
        _bars(fig.add_subplot(bottom[0]), agg["block"], "by block")
        _bars(fig.add_subplot(bottom[1]), agg["element"], "by group element")
        _bars(fig.add_subplot(bottom[2]), agg["pattern"], "by pattern (top 10)", 10)
        _bars(fig.add_subplot(bottom[3]), agg["plane"], "by binarization plane (top 10)", 10)
        kind = "exact" if report["exact"] else "approximate (occlusion)"
        fig.suptitle(
            plain(
                _headline(report) + f"; score of {report['target_class']} {report['score']:.3f} = "
                f"baseline {report['baseline']:.3f} + {report['sum_of_contributions']:.3f} [{kind}]"
            ),
            fontsize=10,
        )
        return _save(fig, Path(path))
    finally:
        plt.close(fig)
