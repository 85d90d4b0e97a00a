"""Figures of ``glassbox run --plot`` (matplotlib, Agg backend; written atomically).

Each figure is drawn on its own: one that fails is reported by the caller and the others are
still written.  Text that comes from the data (class and dataset names) goes through
:func:`plain`, so that matplotlib never reads it as mathtext.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .. import _io
from ..explain import step_map
from ..groups import get_group

_LEGEND_MAX = 40  # classes named in a scatter's legend; beyond, the colour bar says the index


def plain(text) -> str:
    """``text`` shown as it is by matplotlib: ``$`` would start mathtext (and a lone or
    malformed ``$...$`` makes drawing fail)."""
    return str(text).replace("$", r"\$")


def _save(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _io.write_atomically(path, buf.getvalue())
    return path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def class_colours(n: int):
    """``n`` distinct colours: tab10 / tab20 while they last, then evenly spaced hues."""
    import matplotlib

    if n <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        return [matplotlib.colormaps["tab20"](i) for i in range(n)]
    return [matplotlib.colormaps["hsv"](i / n) for i in range(n)]


def _orbits(path, report, rep, x_test, y_test, class_names):
    """Orbits of a few test images, and of one local pattern: the step map of direction (0, 1)
    computed on each transformed image (it moves and turns with the image)."""
    plt = _pyplot()
    g = get_group(report["group"])
    picks = [int(np.flatnonzero(y_test == c)[0]) for c in np.unique(y_test)[:3]]
    fig, axes = plt.subplots(
        2 * len(picks), g.order, figsize=(1.3 * g.order, 2.7 * len(picks)), squeeze=False
    )
    try:
        for row, i in enumerate(picks):
            for k, name in enumerate(g.elements):
                img = np.ascontiguousarray(g.apply(x_test[i], k))
                axes[2 * row, k].imshow(img, cmap="gray")
                axes[2 * row, k].set_title(f"{name}", fontsize=8)
                axes[2 * row + 1, k].imshow(step_map(rep, img), cmap="magma")
                if k == 0:
                    axes[2 * row, k].set_ylabel(plain(class_names[y_test[i]]), fontsize=8)
                    axes[2 * row + 1, k].set_ylabel("step (0,1)", fontsize=8)
        for ax in axes.ravel():
            ax.set_xticks([])
            ax.set_yticks([])
        fig.suptitle(f"orbits under {g.name}: images and their rightward-step maps", fontsize=10)
        return _save(fig, path)
    finally:
        plt.close(fig)


def _scatter(path, x_test, y_test, z_test, class_names):
    """The test set on its first two principal components, raw pixels beside the glass box
    (one component only: a strip, the second axis spreading the points at random)."""
    from sklearn.decomposition import PCA

    plt = _pyplot()
    n = min(len(x_test), 3000)
    raw = x_test[:n].reshape(n, -1).astype(np.float64)
    panels = [("raw pixels", PCA(min(2, *raw.shape), random_state=0).fit_transform(raw))]
    panels.append(("glassbox", np.asarray(z_test[:n, :2])))
    jitter = np.random.default_rng(0).uniform(-1, 1, n)
    classes = np.unique(y_test[:n])
    colours = class_colours(len(classes))
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    try:
        handles = []
        for ax, (title, Z) in zip(axes, panels, strict=True):
            one = Z.shape[1] < 2
            for colour, c in zip(colours, classes, strict=True):
                m = y_test[:n] == c
                h = ax.scatter(
                    Z[m, 0], jitter[m] if one else Z[m, 1], color=colour, s=4, alpha=0.7,
                    label=plain(class_names[c]),
                )  # fmt: skip
                if ax is axes[0]:
                    handles.append(h)
            ax.set_xlabel("principal component 1")
            ax.set_ylabel("random spread (one component only)" if one else "principal component 2")
            ax.set_title(f"{title}: first {'principal component' if one else 'two components'}")
        shown = handles[:_LEGEND_MAX]
        more = len(handles) - len(shown)
        fig.legend(
            shown,
            [h.get_label() for h in shown],
            loc="center right",
            fontsize=8,
            markerscale=3,
            title=f"class ({more} more not listed)" if more else "class",
        )
        fig.subplots_adjust(right=0.82)
        return _save(fig, path)
    finally:
        plt.close(fig)


_MEASURES = (
    ("ratio", "intra/inter distance ratio", "lower is better"),
    ("fisher", "Fisher criterion", "higher is better"),
    ("silhouette", "silhouette", "higher is better"),
)


def _separability(path, report):
    """Each measure per layer, its values written on the bars and its axis zoomed to them, so
    that 0.73 against 0.76 can be seen; the title says which direction is better."""
    plt = _pyplot()
    sep = report["separability"]
    layers = ["raw", "representation", "pca"]
    labels = ["raw pixels", "representation", "after PCA"]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    try:
        for ax, (key, title, better) in zip(axes, _MEASURES, strict=True):
            values = np.array([sep[k][key] for k in layers], dtype=float)
            bars = ax.bar(labels, values, color=["#999", "#3a7", "#37a"])
            ax.bar_label(bars, [f"{v:.4g}" for v in values], fontsize=8)
            lo, hi = float(values.min()), float(values.max())
            pad = 0.15 * (hi - lo) if hi > lo else 0.1 * max(abs(hi), 1e-12)
            ax.set_ylim(lo - pad if lo - pad > 0 or lo < 0 else 0, hi + 2 * pad)
            ax.set_title(f"{title}\n({better})", fontsize=9)
            ax.tick_params(axis="x", labelsize=8)
        fig.suptitle("class separability of the test images per layer", fontsize=10)
        fig.tight_layout()
        return _save(fig, path)
    finally:
        plt.close(fig)


def _confusion(path, report, class_names):
    plt = _pyplot()
    cm = np.array(report["confusion_matrix"])
    names = [plain(n) for n in class_names]
    fig, ax = plt.subplots(figsize=(7, 6))
    try:
        ax.imshow(cm, cmap="Blues")
        ax.set_xticks(range(len(names)), names, rotation=60, fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                ax.text(
                    j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if cm[i, j] > cm.max() / 2 else "black",
                )  # fmt: skip
        ax.set_title(f"confusion matrix, accuracy {report['accuracy']:.4f}")
        return _save(fig, path)
    finally:
        plt.close(fig)


def write_plots(out_dir, report, rep, x_test, y_test, z_test, class_names):
    """Write orbits.png, pca_scatter.png, separability.png and confusion.png.

    Returns
    -------
    written : list of Path
    failed : list of (str, Exception)
        The figures that could not be drawn, with why; the others were written.
    """
    out_dir = Path(out_dir)
    figures = {
        "orbits.png": lambda p: _orbits(p, report, rep, x_test, y_test, class_names),
        "pca_scatter.png": lambda p: _scatter(p, x_test, y_test, z_test, class_names),
        "separability.png": lambda p: _separability(p, report),
        "confusion.png": lambda p: _confusion(p, report, class_names),
    }
    if report.get("symmetry"):
        figures["symmetry.png"] = lambda p: _symmetry(p, report["symmetry"])
    return draw_each(out_dir, figures)


def _symmetry(path, sym):
    """Validation accuracy per element of D4 with its 95% interval; the respected elements
    (within the tolerance of the identity's) in colour, the tolerance as a dashed line."""
    plt = _pyplot()
    names = list(sym["accuracy"])
    acc = np.array([sym["accuracy"][h] for h in names])
    lo = acc - np.array([sym["ci95"][h][0] for h in names])
    hi = np.array([sym["ci95"][h][1] for h in names]) - acc
    colours = ["#3a7" if h in sym["respected"] else "#999" for h in names]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    try:
        bars = ax.bar(names, acc, color=colours, yerr=[lo, hi], capsize=3)
        ax.bar_label(bars, [f"{v:.3f}" for v in acc], fontsize=8, padding=2)
        ax.axhline(acc[0] - sym["tolerance"], color="#a33", ls="--", lw=1)
        ax.set_ylim(0, 1.08)
        ax.set_ylabel("validation accuracy")
        ax.set_title(
            f"validation images moved by each element: the classes respect {sym['subgroup']}\n"
            f"(green: within {sym['tolerance']:.2f} of the identity's accuracy, dashed)",
            fontsize=9,
        )
        fig.tight_layout()
        return _save(fig, path)
    finally:
        plt.close(fig)


def draw_each(out_dir, figures):
    """Call ``figures[name](out_dir / name)`` for each; ``(written, failed)`` as in
    :func:`write_plots`."""
    written, failed = [], []
    for name, draw in figures.items():
        try:
            written.append(draw(Path(out_dir) / name))
        except Exception as exc:  # reported by the command; the other figures still count
            failed.append((name, exc))
    return written, failed


__all__ = ["class_colours", "draw_each", "plain", "step_map", "write_plots"]
