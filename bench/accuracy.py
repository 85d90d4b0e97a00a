"""Validation accuracy of representations on several datasets, in one pipeline.

The discipline of choosing defaults: every dataset is split into training and *validation* images
drawn from its training images only (never a test set); every representation goes through the
same StandardScaler -> PCA -> RBF SVM pipeline on the same split; each accuracy is reported with
its 95% interval (Wilson), so that a difference smaller than the intervals is read as none.

Datasets (28 x 28 unless said; all built from training images, seeded):

- ``fashion``: Fashion-MNIST;
- ``digits8``: scikit-learn's 8 x 8 digits (the training 75% of the stratified 75/25 split with
  random_state=0 that ``glassbox run`` tests on);
- ``digits28``: the same digits upsampled to 28 x 28 with a small random affine jitter (shift up
  to 1 pixel, rotation up to 8 degrees, scale 0.95-1.05);
- ``fashion-deformed``: Fashion-MNIST with random shifts of up to 2 pixels, rotations of up to 15
  degrees and scalings of 0.9-1.1;
- ``silhouettes``: Fashion-MNIST binarised at its background level (> 0): shapes only.

Representations: ``raw`` pixels, ``hog`` (scikit-image, 4 x 4 cells, 2 x 2 blocks),
``scattering`` (kymatio, J=2, L=8, as in the benchmark suite) and ``glassbox``
(``GlassBoxRepresentation()`` with its defaults, or the parameters given with ``--glassbox``).

    python -m bench.accuracy                         # every dataset and representation, 8,000
    python -m bench.accuracy --train-size 60000 --datasets fashion silhouettes
    python -m bench.accuracy --glassbox '{"cell_size": 7}' --methods glassbox
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

import glassbox as gb

DATASETS = ("fashion", "digits8", "digits28", "fashion-deformed", "silhouettes")
# the pipeline's principal components: GlassBoxClassifier's default, for every representation
N_COMPONENTS = gb.GlassBoxClassifier().n_components
METHODS = ("raw", "hog", "scattering", "glassbox")
Z95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``correct / n`` (95% by default)."""
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


# -- datasets: training images only ------------------------------------------------------------


def _fashion_train():
    x, _, y, _ = gb.datasets.load_fashion_mnist().standard_split()
    return x, y


def _digits_train():
    from sklearn.model_selection import train_test_split

    ds = gb.datasets.load_digits()
    x, _, y, _ = train_test_split(
        ds.images, ds.labels, test_size=0.25, stratify=ds.labels, random_state=0
    )
    return (x * (255 / 16)).round().astype(np.uint8), y


def _warp(images, rng, shift, degrees, scale, size=None):
    """Each image moved by its own random similarity (border 0), resized to ``size`` first."""
    import cv2

    out_side = size or images.shape[1]
    out = np.empty((len(images), out_side, out_side), np.uint8)
    for i, im in enumerate(images):
        if size is not None:
            im = cv2.resize(im, (size, size), interpolation=cv2.INTER_LINEAR)
        centre = ((out_side - 1) / 2, (out_side - 1) / 2)
        m = cv2.getRotationMatrix2D(centre, rng.uniform(-degrees, degrees), rng.uniform(*scale))
        m[:, 2] += rng.uniform(-shift, shift, 2)
        out[i] = cv2.warpAffine(im, m, (out_side, out_side), flags=cv2.INTER_LINEAR)
    return out


def load(name: str, seed: int = 0):
    """(images, labels) of a validation dataset: training images only."""
    rng = np.random.default_rng(seed)
    if name == "fashion":
        return _fashion_train()
    if name == "digits8":
        return _digits_train()
    if name == "digits28":
        x, y = _digits_train()
        return _warp(x, rng, shift=1, degrees=8, scale=(0.95, 1.05), size=28), y
    if name == "fashion-deformed":
        x, y = _fashion_train()
        return _warp(x, rng, shift=2, degrees=15, scale=(0.9, 1.1)), y
    if name == "silhouettes":
        x, y = _fashion_train()
        return ((x > 0) * 255).astype(np.uint8), y
    raise ValueError(f"dataset must be one of {DATASETS}, got {name!r}")


def split(x, y, train_size, val_size, seed=0):
    """Stratified training and validation images; 75% / 25% of what there is when there are
    fewer than ``train_size + val_size``."""
    from sklearn.model_selection import train_test_split

    if train_size + val_size > len(y):
        train_size, val_size = None, 0.25
    x_tr, x_val, y_tr, y_val = train_test_split(
        x, y, train_size=train_size, test_size=val_size, stratify=y, random_state=seed
    )
    return x_tr, x_val, y_tr, y_val


# -- representations ---------------------------------------------------------------------------


def features(method: str, x_train, x_other, glassbox_params=None):
    """(features of x_train, features of x_other) of a representation fitted on x_train."""
    if method == "raw":
        return (x.reshape(len(x), -1).astype(np.float32) / 255 for x in (x_train, x_other))
    if method == "hog":
        from skimage.feature import hog

        def f(x):
            return np.stack([hog(im, pixels_per_cell=(4, 4), cells_per_block=(2, 2)) for im in x])

        return f(x_train), f(x_other)
    if method == "scattering":
        from kymatio.scattering2d.frontend.numpy_frontend import ScatteringNumPy2D

        scat = ScatteringNumPy2D(J=2, shape=x_train.shape[1:], L=8)

        def f(x):
            return np.concatenate(
                [scat(x[a : a + 1000].astype(np.float32) / 255) for a in range(0, len(x), 1000)]
            ).reshape(len(x), -1)

        return f(x_train), f(x_other)
    if method == "glassbox":
        rep = gb.GlassBoxRepresentation(**(glassbox_params or {})).fit(x_train)
        return rep.transform(x_train), rep.transform(x_other)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def score(f_train, y_train, f_val, y_val, n_components=N_COMPONENTS, seed=0):
    """Accuracy of StandardScaler -> PCA -> SVC(C=10, RBF) fitted on the training features."""
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    k = min(n_components, f_train.shape[0], f_train.shape[1])
    model = make_pipeline(
        StandardScaler(), PCA(k, random_state=seed), SVC(C=10.0, gamma="scale")
    ).fit(f_train, y_train)
    return int(np.count_nonzero(model.predict(f_val) == y_val))


def run(datasets=DATASETS, methods=METHODS, train_size=8000, val_size=2000, seed=0,
        glassbox_params=None, log=print, n_components=N_COMPONENTS):  # fmt: skip
    """One row per (dataset, method): accuracy, its 95% interval, sizes and seconds; or the
    error of a representation that cannot take a dataset's images (the others still run)."""
    rows = []
    for name in datasets:
        x, y = load(name, seed)
        x_tr, x_val, y_tr, y_val = split(x, y, train_size, val_size, seed)
        for method in methods:
            t0 = time.perf_counter()
            try:
                f_tr, f_val = features(method, x_tr, x_val, glassbox_params)
            except (ValueError, TypeError) as exc:  # parameters this dataset cannot take
                rows.append({"dataset": name, "method": method, "error": str(exc)})
                log(f"{name:17s} {method:11s} error: {exc}")
                continue
            correct = score(f_tr, y_tr, f_val, y_val, n_components, seed)
            lo, hi = wilson(correct, len(y_val))
            row = {
                "dataset": name,
                "method": method,
                "accuracy": correct / len(y_val),
                "ci95": [lo, hi],
                "n_train": len(y_tr),
                "n_val": len(y_val),
                "n_features": int(f_tr.shape[1]),
                "n_components": min(n_components, *f_tr.shape),
                "seconds": time.perf_counter() - t0,
            }
            rows.append(row)
            log(
                f"{name:17s} {method:11s} {row['accuracy']:.4f} [{lo:.4f}, {hi:.4f}] "
                f"({row['n_train']:,} / {row['n_val']:,}, {row['n_features']:,} features, "
                f"{row['seconds']:.0f} s)"
            )
    return rows


def markdown(rows) -> str:
    """One table: a row per dataset, a column per representation (accuracy [95% interval])."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    names = list(dict.fromkeys(r["dataset"] for r in rows))
    cell = {(r["dataset"], r["method"]): r for r in rows}
    out = [
        "| dataset (train / validation) | " + " | ".join(methods) + " |",
        "|---|" + "---:|" * len(methods),
    ]
    for name in names:
        done = [r for r in rows if r["dataset"] == name and "error" not in r]
        cells = []
        for m in methods:
            r = cell.get((name, m))
            if r is None:
                cells.append("-")
            elif "error" in r:
                cells.append("error")
            else:
                cells.append(f"{r['accuracy']:.4f} [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]")
        size = f"{done[0]['n_train']:,} / {done[0]['n_val']:,}" if done else "-"
        out.append(f"| {name} ({size}) | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.accuracy", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--train-size", type=int, default=8000)
    parser.add_argument("--val-size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--glassbox", type=json.loads, default=None, metavar="JSON",
        help="GlassBoxRepresentation parameters, e.g. '{\"cell_size\": 7}'",
    )  # fmt: skip
    parser.add_argument(
        "--n-components", type=int, default=N_COMPONENTS,
        help=f"principal components of the pipeline ({N_COMPONENTS}: GlassBoxClassifier's)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="write results.json/.md here")
    args = parser.parse_args(argv)
    rows = run(args.datasets, args.methods, args.train_size, args.val_size, args.seed,
               args.glassbox, n_components=args.n_components)  # fmt: skip
    table = markdown(rows)
    print()
    print(table)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
        (args.out / "results.md").write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
