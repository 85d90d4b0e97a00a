"""``glassbox compare``: AlexNet's layers beside the glass box's, per layer and group element.

Writes ``DIR/compare.json`` and ``DIR/compare.md`` (and ``compare.png`` with ``--plot``).  torch
is imported here only when the command runs.
"""

from __future__ import annotations

import io
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from .. import _core, _io
from .._validation import check_allocation
from ..classifier import CLASSIFIERS, GlassBoxClassifier
from ..groups import GROUP_NAMES, get_group
from ..representation import GlassBoxRepresentation
from ._common import (
    accuracy_under_group,
    add_dataset_arguments,
    add_seed,
    dataset_inputs,
    load_dataset,
    md,
    non_negative,
    positive,
    prepare_output,
    report_failed_figures,
    split,
)
from ._figures import _pyplot, _save, draw_each, plain
from ._progress import Stage

OUTPUTS = ("compare.json", "compare.md")
FIGURE = "compare.png"


def _import_reference():
    try:
        from ..reference import alexnet as A
        from ..reference import compare as C
    except ImportError as exc:
        raise ImportError(str(exc)) from None
    return A, C


def _eval_sample(x_test, y_test, n, seed):
    """The first comparison images: a stratified sample of ``n`` test images."""
    from sklearn.model_selection import train_test_split

    if n > len(x_test):
        raise ValueError(f"--images {n} exceeds the {len(x_test)} test images")
    if n == len(x_test):
        return x_test, y_test
    counts = np.bincount(y_test)
    stratify = y_test if n >= np.count_nonzero(counts) and counts[counts > 0].min() >= 2 else None
    x, _, y, _ = train_test_split(
        x_test, y_test, train_size=n, stratify=stratify, random_state=seed
    )
    return x, y


def _weights_cache(out_dir, args, ds_name, n_train):
    aug = f"-aug{args.group}" if args.augment else ""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in ds_name)
    return out_dir / (
        f"{args.model}-{safe}-n{n_train}-s{args.size}-e{args.train_epochs}-b{args.train_batch_size}"
        f"-seed{args.seed}{aug}.pt"
    )


def _check_memory(n, size, model):
    """Refuse --images counts whose conv1 activations alone would not fit in memory."""
    c1 = model.features[0]
    k, s, p = c1.kernel_size[0], c1.stride[0], c1.padding[0]
    side = (size + 2 * p - k) // s + 1
    # conv1..conv5 are kept for every image; conv1 is the largest, as float64 in the metrics
    check_allocation((n, c1.out_channels * side * side * 4), np.float64, "--images")


def add_parser(subparsers) -> None:
    """Add ``glassbox compare`` and its arguments to ``subparsers``."""
    parser = subparsers.add_parser(
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
    add_dataset_arguments(parser)
    parser.add_argument(
        "--model",
        default="alexnet",
        choices=("alexnet", "alexnet28"),
        help="alexnet: torchvision's AlexNet at 223 px (default); alexnet28: a half-width "
        "AlexNet for 28x28 images",
    )
    parser.add_argument(
        "--weights",
        default=None,
        metavar="PATH",
        help="a state_dict file (torch.save) to measure beside the random init",
    )
    parser.add_argument(
        "--train-epochs",
        type=non_negative,
        default=0,
        metavar="N",
        help="train the model for N epochs on the training images (cached under --out) and "
        "also fit the glass-box classifier, to compare accuracies (default 0: random init only)",
    )
    parser.add_argument(
        "--augment", action="store_true", help="train with random group elements (augmentation)"
    )
    parser.add_argument(
        "--images",
        type=positive,
        default=256,
        metavar="N",
        help="test images for the measures (a stratified sample; default 256)",
    )
    parser.add_argument(
        "--size",
        type=positive,
        default=None,
        help="the network's input side (default: 223 for alexnet, 28 for alexnet28; sizes that "
        "misalign the grids get a warning)",
    )
    parser.add_argument("--group", default="D4", choices=GROUP_NAMES, help="symmetry group (D4)")
    parser.add_argument(
        "--fit-maps",
        action="store_true",
        help="also fit Lenc & Vedaldi's 1x1 channel maps (equivariance up to channel mixing)",
    )
    parser.add_argument(
        "--classifier", default="svm", choices=CLASSIFIERS, help="glass-box classifier (svm)"
    )
    parser.add_argument(
        "--invariance",
        default=None,
        choices=GROUP_NAMES,
        metavar="GROUP",
        help="fit the glass-box classifier exactly invariant to GROUP, a subgroup of --group "
        "(GlassBoxClassifier(invariance=GROUP))",
    )
    parser.add_argument(
        "--test-transform",
        default=None,
        choices=GROUP_NAMES,
        metavar="GROUP",
        help="with a trained network: the test accuracy of the network and of the glass box "
        "on the test images moved by every element of GROUP, and with each image moved by a "
        "random element",
    )
    parser.add_argument(
        "--n-components",
        type=positive,
        default=GlassBoxClassifier().n_components,  # one default: the classifier's
        help="glass-box principal components",
    )
    parser.add_argument(
        "--batch-size", type=positive, default=64, help="images per forward pass (64)"
    )
    parser.add_argument(
        "--train-batch-size", type=positive, default=128, help="images per training step (128)"
    )
    add_seed(parser, "seed of weights and samples, in [0, 2**32 - 1] (0)")
    parser.add_argument("--n-threads", type=positive, default=None, help="torch threads")
    parser.add_argument("--out", default="glassbox-compare", help="output directory")
    parser.add_argument("--plot", action="store_true", help="also write compare.png")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run(args) -> int:
    """Run ``glassbox compare`` with parsed arguments; returns the exit status."""
    A, C = _import_reference()
    import torch

    inputs = [*dataset_inputs(args.dataset), args.weights]
    out_dir = prepare_output(args, OUTPUTS + ((FIGURE,) if args.plot else ()), inputs)
    if args.weights is not None and args.train_epochs:
        raise ValueError("--weights and --train-epochs exclude each other: measure one network")
    if args.weights is not None:
        _io.open_regular(args.weights, f"--weights {args.weights!r}").close()
    for option, value in (
        ("--invariance", args.invariance),
        ("--test-transform", args.test_transform),
    ):
        if value is not None and not (args.train_epochs or args.weights is not None):
            raise ValueError(
                f"{option} needs a trained network (--train-epochs N or --weights PATH): only "
                "then are the models' test accuracies measured"
            )
    if args.invariance is not None:  # a subgroup of --group, checked before any work
        GlassBoxClassifier(
            GlassBoxRepresentation(group=args.group), invariance=args.invariance
        )._new_representation()
    say = (lambda *a: None) if args.quiet else print
    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    if args.n_threads is not None:
        torch.set_num_threads(args.n_threads)

    with Stage("load", timings, "load", quiet=args.quiet):
        ds = load_dataset(args.dataset, args.image_size)
        x_train, x_test, y_train, y_test = split(ds, args.train_size, args.test_size, args.seed)
        x_eval, y_eval = _eval_sample(x_test, y_test, args.images, args.seed)
    if args.test_transform is not None:
        get_group(args.test_transform).check_shape(x_test.shape, "--test-transform: the images")
    n_classes = len(ds.class_names)
    model, warnings_ = _network(A, args, n_classes, len(x_eval))
    say(
        f"{ds.name}: {len(x_eval):,} test images for the measures, {args.model} at "
        f"{args.size}x{args.size} ({model.in_channels} channel"
        f"{'s' if model.in_channels > 1 else ''}), group {args.group}"
    )
    x_prep = A.prepare_images(x_eval, model, args.size)

    def measure(label, net, key, **kw):
        return _measure(C, args, net, x_prep, y_eval, label, key, timings, **kw)

    networks = {
        "random": measure(
            f"{args.model}, random init", model, "alexnet random", fit_maps=args.fit_maps
        ),
        "symmetrized": measure(
            f"{args.model}, {args.group}-symmetrised control",
            A.symmetrize(model, args.group),
            "control",
            layers=list(A.CONV_LAYERS),
            separability=False,
        ),
    }
    accuracy, moved = {}, {}
    trained, label, training = _trained_network(
        A, args, n_classes, out_dir, ds.name, x_train, y_train, timings, say
    )
    if trained is not None:
        with Stage(
            f"{args.model} test accuracy", timings, "predict", total=len(x_test), quiet=args.quiet
        ) as stage:
            pred = A.predict(
                trained, x_test, size=args.size, progress=lambda d, t: stage.advance(d)
            )
        if trained.classifier[-1].out_features == n_classes:
            accuracy[f"{args.model} ({label})"] = float(np.mean(pred == y_test))
            if args.test_transform is not None:
                moved[f"{args.model} ({label})"] = _moved_accuracy(
                    args, lambda x: A.predict(trained, x, size=args.size), x_test, y_test,
                    timings, args.model,
                )  # fmt: skip
        networks["trained"] = measure(
            f"{args.model}, {label}", trained, "alexnet trained", fit_maps=args.fit_maps
        )
    glass = _glass_box(
        C, args, (x_train, y_train), (x_test, y_test), (x_eval, y_eval), accuracy, timings, moved
    )
    timings["total"] = time.perf_counter() - t_start

    report = {
        "glassbox_version": _core.__version__,
        "torch_version": torch.__version__,
        "command": "glassbox " + " ".join(getattr(args, "argv", ["compare"])),
        "dataset": ds.name,
        "model": args.model,
        "input_size": args.size,
        "group": args.group,
        "n_images": int(len(x_eval)),
        "n_train": int(len(x_train)),
        "n_test": int(len(x_test)),
        "seed": args.seed,
        "warnings": warnings_,
        "alexnet": networks,
        "trained_label": label,
        "training": training,
        "glassbox": glass,
        "accuracy": accuracy,
        "test_transform": moved or None,
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
        },
    }
    _io.write_atomically(out_dir / "compare.json", (json.dumps(report, indent=2) + "\n").encode())
    _io.write_atomically(out_dir / "compare.md", markdown(report).encode())
    written, failed = [], []
    if args.plot:
        with Stage("plot", timings, "plot", quiet=args.quiet):
            written, failed = draw_each(out_dir, {FIGURE: lambda p: plot(report, p)})
    say("")
    say(summary(report))
    say(f"report: {out_dir / 'compare.json'}, {out_dir / 'compare.md'}")
    if written:
        say("figure: " + ", ".join(str(p) for p in written))
    return report_failed_figures("compare", failed)


def _network(A, args, n_classes, n_eval):
    """The randomly initialised network (``args.size`` set to its input size when not given),
    and the warnings about its grids' alignment (printed now, kept for the report)."""
    build = A.alexnet if args.model == "alexnet" else A.alexnet28
    model = build(num_classes=n_classes if args.model == "alexnet28" else 1000, seed=args.seed)
    if args.size is None:
        args.size = model.input_size
    warnings_ = []
    order = get_group(args.group).order
    msg = A.alignment_message(model, args.size, option="--size") if order > 1 else None
    if msg:
        warnings_.append(msg)
        print(f"glassbox compare: warning: {msg}", file=sys.stderr)
    _check_memory(n_eval, args.size, model)
    return model, warnings_


def _measure(C, args, net, x_prep, y_eval, label, key, timings, **kw):
    """Equivariance and separability of ``net``'s layers on the evaluation images."""
    total = len(x_prep) * get_group(args.group).order
    with Stage(label, timings, key, total=total, quiet=args.quiet) as stage:

        def progress(done, tot):
            stage.total = tot
            stage.advance(done)

        with warnings.catch_warnings():  # the misalignment is reported once, by _network
            warnings.filterwarnings("ignore", message="at input size", category=UserWarning)
            return C.alexnet_layers(
                net,
                x_prep,
                y_eval,
                group=args.group,
                seed=args.seed,
                batch_size=args.batch_size,
                progress=progress,
                **kw,
            )


def _trained_network(A, args, n_classes, out_dir, ds_name, x_train, y_train, timings, say):
    """The network with ``--weights``, or trained for ``--train-epochs`` (or loaded from the
    cache of an earlier training): ``(network, label, training record)``, or three Nones."""
    build = A.alexnet if args.model == "alexnet" else A.alexnet28
    if args.weights is not None:
        trained = build(
            num_classes=n_classes if args.model == "alexnet28" else 1000, weights=args.weights
        )
        return trained, f"weights {Path(args.weights).name}", None
    if not args.train_epochs:
        return None, None, None
    trained = build(num_classes=n_classes, seed=args.seed)  # a head for this dataset
    cache = _weights_cache(out_dir, args, ds_name, len(x_train))
    epochs = f"{args.train_epochs} epoch{'s' if args.train_epochs > 1 else ''}"
    label = f"trained {epochs}" + (f", {args.group} augmentation" if args.augment else "")
    if cache.is_file():
        A.load_weights(trained, cache)
        meta_path = cache.with_suffix(".json")
        training = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        say(f"trained weights loaded from {cache} (delete it to train again)")
    else:
        training = _train(A, args, trained, x_train, y_train, cache, timings, epochs)
    training["cached"] = str(cache)
    return trained, label, training


def _train(A, args, trained, x_train, y_train, cache, timings, epochs):
    """Train ``trained`` in place, cache its weights and what the training was; the latter."""
    import torch

    with Stage(
        f"train {args.model} ({epochs})",
        timings,
        "train",
        total=args.train_epochs * len(x_train),
        quiet=args.quiet,
    ) as stage:
        history = A.train(
            trained,
            x_train,
            y_train,
            size=args.size,
            epochs=args.train_epochs,
            batch_size=args.train_batch_size,
            seed=args.seed,
            augment_group=args.group if args.augment else None,
            progress=lambda d, t: stage.advance(d),
        )
    buf = io.BytesIO()
    torch.save(trained.state_dict(), buf)
    training = {
        "epochs": args.train_epochs,
        "loss_per_epoch": [round(v, 6) for v in history["loss"]],
        "seconds": round(history["seconds"], 1),
        "n_train": int(len(x_train)),
        "augment": args.group if args.augment else None,
        "optimizer": "Adam lr 1e-3",
        "batch_size": args.train_batch_size,
    }
    _io.write_atomically(cache, buf.getvalue())
    _io.write_atomically(
        cache.with_suffix(".json"), (json.dumps(training, indent=2) + "\n").encode()
    )
    return training


def _moved_accuracy(args, predict, x_test, y_test, timings, what):
    """accuracy_under_group of one model on the test images moved by --test-transform."""
    g = get_group(args.test_transform)
    with Stage(
        f"{what} under {g.name}", timings, f"{what} under {g.name}", total=g.order, unit="elements",
        quiet=args.quiet,
    ) as st:  # fmt: skip

        def predict_moved(i, h):
            pred = predict(np.ascontiguousarray(g.apply(x_test, h)))
            st.advance(i + 1)
            return pred

        return accuracy_under_group(predict_moved, y_test, g, args.seed)


def _glass_box(C, args, train, test, evaluation, accuracy, timings, moved):
    """The glass box's layers measured on the evaluation images; beside a trained network,
    its classifier is fitted too, its test accuracy added to ``accuracy`` and (with
    --test-transform) its accuracy under the group to ``moved``."""
    (x_train, y_train), (x_test, y_test), (x_eval, y_eval) = train, test, evaluation
    quiet = args.quiet
    clf = None
    if args.train_epochs or args.weights is not None:
        with Stage(f"fit glass box ({args.classifier})", timings, "glass box fit", quiet=quiet):
            clf = GlassBoxClassifier(
                representation=GlassBoxRepresentation(group=args.group),
                classifier=args.classifier,
                n_components=args.n_components,
                random_state=args.seed,
                invariance=args.invariance,
            ).fit(x_train, y_train)
        name = f"glass box ({args.classifier}" + (
            f", invariant to {args.invariance})" if args.invariance else ")"
        )
        with Stage("glass box test accuracy", timings, "glass box predict", quiet=quiet):
            accuracy[name] = float(clf.score(x_test, y_test))
        if args.test_transform is not None:
            moved[name] = _moved_accuracy(args, clf.predict, x_test, y_test, timings, "glass box")
        rep = clf.representation_
    else:
        with Stage("fit glass-box representation", timings, "glass box fit", quiet=quiet):
            rep = GlassBoxRepresentation(group=args.group).fit(x_train)
    with Stage("glass-box layers", timings, "glass box layers", quiet=quiet):
        return C.glassbox_layers(
            rep,
            x_eval,
            y_eval,
            reduced=clf._reduced(x_eval) if clf is not None else None,
            seed=args.seed,
        )


CHANCE_TEXT = (
    "0 is exact equivariance; 1 means phi(g x) is no closer to g phi(x) than the features of "
    "two unrelated images are to each other; above 1, turning or flipping an image moves its "
    "features more than replacing it with another image does: different images share most of "
    "their response (to the background, for one), while the layer's filters respond to "
    "orientation"
)


def _f(v, digits=3):
    if v is None:
        return "-"
    if v == 0:
        return "0"
    if abs(v) < 10 ** (-digits):
        return f"{v:.1e}"
    return f"{v:.{digits}f}"


_PLOT_NAMES = {
    "pixels": "GB pixels",
    "equivariant": "GB equivariant",
    "invariant": "GB invariant",
    "representation": "GB both blocks",
    "pca": "GB PCA",
}
_GLASS_NAMES = {
    "pixels": "pixels",
    "equivariant": "equivariant block",
    "invariant": "invariant block",
    "representation": "representation (both blocks)",
    "pca": "after PCA",
}


def summary(report) -> str:
    """A few lines for the terminal."""
    nets = report["alexnet"]
    lines = [
        f"{report['model']} at {report['input_size']} px on {report['n_images']} "
        f"{report['dataset']} test images, group {report['group']}",
        "layer      E random  E/chance  control E" + ("  E trained" if "trained" in nets else ""),
    ]
    for name, row in nets["random"].items():
        if row["equivariance"] is None:
            continue
        ctrl = nets["symmetrized"][name]["equivariance"]
        line = f"  {name:8s} {_f(row['equivariance']):>8s}  {_f(row['equivariance_vs_chance']):>8s}"
        line += f"  {_f(ctrl):>9s}"
        if "trained" in nets:
            line += f"  {_f(nets['trained'][name]['equivariance']):>9s}"
        lines.append(line)
    g = report["glassbox"]
    lines.append(
        "glass box: E = "
        + ", ".join(
            f"{k} {_f(v['equivariance'])}" for k, v in g.items() if v["equivariance"] is not None
        )
        + f"; invariant block invariance error {_f(g['invariant']['invariance'])}"
    )
    for k, v in report["accuracy"].items():
        lines.append(f"test accuracy {k}: {v:.4f}")
    for k, v in (report.get("test_transform") or {}).items():
        lines.append(
            f"  {k} under {v['group']}: worst {v['worst']['element']} "
            f"{v['worst']['accuracy']:.4f}, each image moved by a random element "
            f"{v['randomised']:.4f}"
        )
    lines.append("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in report["timings"].items()))
    return "\n".join(lines)


def _overview(report, variants):
    """One table: each model's test accuracy and its per-layer curves, side by side."""
    nets = report["alexnet"]
    acc = report["accuracy"]

    def curve(rows, key):
        vals = [r[key] for r in rows.values() if r[key] is not None]
        return " / ".join(_f(v, 2) for v in vals) if vals else "-"

    def fisher(rows):
        vals = [r["separability"]["fisher"] for r in rows.values() if r["separability"]]
        return " / ".join(f"{v:.1f}" for v in vals) if vals else "-"

    conv = " / ".join(k for k, r in nets["random"].items() if r["equivariance"] is not None)
    sep = " / ".join(k for k, r in nets["random"].items() if r["separability"])
    glass = " / ".join(k for k, r in report["glassbox"].items() if r["separability"])
    out = [
        "",
        "## Overview",
        "",
        f"Per-layer curves: AlexNet layers {conv} (E / chance) and {sep} (Fisher); glass-box "
        f"layers {glass}.",
        "",
        "| model | test accuracy | E / chance per layer | Fisher criterion per layer |",
        "|---|---:|---|---|",
    ]
    model = report["model"]
    for key, lab in variants:
        a = (
            next((v for k, v in acc.items() if k.startswith(model)), None)
            if key != "random"
            else None
        )
        out.append(
            f"| {model} ({lab}) | {_f(a, 4)} | {curve(nets[key], 'equivariance_vs_chance')} | "
            f"{fisher(nets[key])} |"
        )
    out.append(
        f"| {model} ({report['group']}-symmetrised control) | - | "
        + " / ".join(_f(r["equivariance_vs_chance"], 2) for r in nets["symmetrized"].values())
        + " | - |"
    )
    a = next((v for k, v in acc.items() if k.startswith("glass box")), None)
    out.append(
        f"| glass box | {_f(a, 4)} | {curve(report['glassbox'], 'equivariance_vs_chance')} | "
        f"{fisher(report['glassbox'])} |"
    )
    return out


def markdown(report) -> str:
    """compare.md: the per-layer tables."""
    nets = report["alexnet"]
    out = [
        f"# glassbox compare: {report['model']} vs the glass box on {md(report['dataset'])}",
        "",
        f"`{report['command']}` (glassbox {report['glassbox_version']}, "
        f"torch {report['torch_version']})",
        "",
        f"- {report['n_images']:,} test images (stratified sample, seed {report['seed']}); "
        f"{report['model']} input {report['input_size']}x{report['input_size']}; group "
        f"{report['group']}, errors averaged over its non-identity elements",
        "- E = mean ||phi(g x) - g phi(x)|| / ||phi(x)||; chance = mean ||phi(x_j) - phi(x_i)|| / "
        "||phi(x_i)|| for unrelated images; invariance = the same with phi(g x) and phi(x) after "
        "global average pooling (conv) or directly (fc); fitted map: Lenc & Vedaldi's 1x1 "
        "channel map, fitted on half the images and tested on the other half",
        f"- E / chance: {CHANCE_TEXT}",
    ]
    for w in report["warnings"]:
        out.append(f"- **warning**: {w}")
    variants = [("random", "random init")]
    if "trained" in nets:
        variants.append(("trained", report["trained_label"]))
    out += _overview(report, variants)
    out += _equivariance_table(report, nets, variants)
    out += _glassbox_table(report)
    out += _separability_table(report, nets, variants)
    out += _accuracy_and_training(report)
    out += _per_element_tables(nets, variants)
    out += ["", "## Seconds per stage", "", "| stage | seconds |", "|---|---:|"]
    out += [f"| {k} | {v:.1f} |" for k, v in report["timings"].items()]
    return "\n".join(out) + "\n"


def _equivariance_table(report, nets, variants) -> list[str]:
    """compare.md: equivariance of AlexNet's layers."""
    out = []
    out += ["", "## Equivariance per layer", ""]
    head = "| layer |"
    rule = "|---|"
    for _, lab in variants:
        head += f" E ({lab}) | E / chance | invariance | fitted map |"
        rule += "---:|---:|---:|---:|"
    head += f" E, {report['group']}-symmetrised control |"
    rule += "---:|"
    out += [head, rule]
    for name in nets["random"]:
        line = f"| {name} |"
        for key, _ in variants:
            r = nets[key][name]
            line += (
                f" {_f(r['equivariance'])} | {_f(r['equivariance_vs_chance'])} | "
                f"{_f(r['invariance'])} | {_f(r['fitted_map'])} |"
            )
        ctrl = nets["symmetrized"].get(name)
        line += f" {_f(ctrl['equivariance'] if ctrl else None, 3)} |"
        out.append(line)
    return out


def _glassbox_table(report) -> list[str]:
    """compare.md: equivariance of the glass-box layers."""
    out = []
    out += [
        "",
        "## Glass-box layers",
        "",
        "| layer | features | E | E / chance | invariance | chance |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in report["glassbox"].items():
        out.append(
            f"| {_GLASS_NAMES.get(name, name)} | {int(np.prod(r['shape'])):,} | "
            f"{_f(r['equivariance'])} | {_f(r['equivariance_vs_chance'])} | "
            f"{_f(r['invariance'])} | {_f(r['chance'])} |"
        )
    return out


def _separability_table(report, nets, variants) -> list[str]:
    """compare.md: class separability of every layer."""
    out = []
    out += [
        "",
        "## Class separability of each layer's features",
        "",
        "| model | layer | features | intra/inter ratio (lower is better) | Fisher | silhouette |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for key, lab in variants:
        for name, r in nets[key].items():
            s = r["separability"]
            if s:
                out.append(
                    f"| {report['model']} ({lab}) | {name} | {int(np.prod(r['shape'])):,} | "
                    f"{s['ratio']:.4f} | {s['fisher']:.2f} | {s['silhouette']:.4f} |"
                )
    for name, r in report["glassbox"].items():
        s = r["separability"]
        if s:
            out.append(
                f"| glass box | {_GLASS_NAMES.get(name, name)} | {int(np.prod(r['shape'])):,} | "
                f"{s['ratio']:.4f} | {s['fisher']:.2f} | {s['silhouette']:.4f} |"
            )
    return out


def _accuracy_and_training(report) -> list[str]:
    """compare.md: test accuracies and the training record."""
    out = []
    if report["accuracy"]:
        out += ["", "## Test accuracy", "", "| model | test accuracy |", "|---|---:|"]
        for k, v in report["accuracy"].items():
            out.append(f"| {k} | {v:.4f} |")
        out.append(f"\n({report['n_train']:,} training and {report['n_test']:,} test images.)")
    moved = report.get("test_transform")
    if moved:
        group = next(iter(moved.values()))["group"]
        elements = list(next(iter(moved.values()))["accuracy"])
        out += [
            "",
            f"## Test images moved by {group}",
            "",
            "Each model tested on every test image moved by one element, and with each image "
            "moved by its own random element (seeded; the same draw for every model).",
            "",
            "| model | " + " | ".join(elements) + " | random element | worst | spread |",
            "|---|" + "---:|" * (len(elements) + 3),
        ]
        for k, v in moved.items():
            out.append(
                f"| {k} | "
                + " | ".join(f"{v['accuracy'][h]:.4f}" for h in elements)
                + f" | {v['randomised']:.4f} | {v['worst']['accuracy']:.4f} "
                f"| {v['spread']:.4f} |"
            )
    if report["training"]:
        t = report["training"]
        out += ["", "## Training", ""]
        out += [f"- {k}: {v}" for k, v in t.items()]
    return out


def _per_element_tables(nets, variants) -> list[str]:
    """compare.md: equivariance error per group element."""
    out = []
    for key, lab in variants:
        out += ["", f"## Equivariance error per group element ({lab})", ""]
        elements = None
        for name, r in nets[key].items():
            per = r["equivariance_per_element"]
            if not per:
                continue
            if elements is None:
                elements = list(per)
                out += [
                    "| layer | " + " | ".join(elements) + " |",
                    "|---|" + "---:|" * len(elements),
                ]
            out.append(f"| {name} | " + " | ".join(_f(per[e]) for e in elements) + " |")
    return out


def plot(report, path: Path) -> Path:
    """compare.png: equivariance / chance and Fisher separability per layer."""
    plt = _pyplot()
    nets = report["alexnet"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    try:
        _draw_compare(ax1, ax2, report, nets)
        fig.suptitle(
            plain(f"glass box vs {report['model']} on {report['dataset']}, group {report['group']}")
        )
        fig.tight_layout()
        return _save(fig, path)
    finally:
        plt.close(fig)


def _draw_compare(ax1, ax2, report, nets):
    styles = {"random": "o-", "trained": "s-", "symmetrized": "^--"}
    colors = {"random": "tab:blue", "trained": "tab:red", "symmetrized": "tab:green"}
    labels = {
        "random": f"{report['model']}, random init",
        "trained": f"{report['model']}, {report['trained_label']}",
        "symmetrized": f"{report['model']}, {report['group']}-symmetrised control",
    }
    conv = [k for k, v in nets["random"].items() if v["equivariance"] is not None]
    for key, rows in nets.items():
        ys = [rows[k]["equivariance_vs_chance"] for k in conv if k in rows]
        ax1.plot(conv[: len(ys)], ys, styles[key], color=colors[key], label=plain(labels[key]))
    g = report["glassbox"]
    gx = [k for k, v in g.items() if v["equivariance"] is not None]
    ax1.plot(
        [_PLOT_NAMES[k] for k in gx],
        [g[k]["equivariance_vs_chance"] for k in gx],
        "D-",
        color="black",
        label="glass box (GB), exactly 0",
    )
    ax1.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax1.annotate(
        "1: no closer than unrelated images (see compare.md)", xy=(0.99, 1.0),
        xycoords=("axes fraction", "data"), ha="right", va="bottom", fontsize=7, color="dimgrey",
    )  # fmt: skip
    ax1.set_ylabel("equivariance error / chance")
    ax1.set_title("equivariance per layer (0 = exact)")
    ax1.tick_params(axis="x", rotation=45)
    ax1.legend(fontsize=8)
    for key in ("random", "trained"):
        if key in nets:
            names = [k for k, v in nets[key].items() if v["separability"]]
            ax2.plot(
                names,
                [nets[key][k]["separability"]["fisher"] for k in names],
                styles[key],
                color=colors[key],
                label=plain(labels[key]),
            )
    names = [k for k, v in g.items() if v["separability"]]
    ax2.plot(
        [_PLOT_NAMES[k] for k in names],
        [g[k]["separability"]["fisher"] for k in names],
        "D-",
        color="black",
        label="glass box (GB)",
    )
    ax2.set_ylabel("Fisher criterion (higher separates better)")
    ax2.set_title(f"class separability per layer ({report['n_images']} test images)")
    ax2.tick_params(axis="x", rotation=45)
    ax2.legend(fontsize=8)
