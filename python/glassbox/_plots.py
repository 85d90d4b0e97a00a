"""Figures of ``glassbox run --plot`` (matplotlib, Agg backend; written atomically)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .explain import step_map
from .groups import get_group


def _save(fig, path: Path) -> Path:
    from ._run import write_atomically

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    write_atomically(path, buf.getvalue())
    return path


def write_plots(out_dir, report, rep, x_test, y_test, z_test, class_names):
    """Write orbits.png, pca_scatter.png, separability.png and confusion.png; return the paths."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    out_dir = Path(out_dir)
    written = []
    g = get_group(report["group"])

    # 1. orbits of a few test images, and of one local pattern: the step map of direction
    #    (0, 1) computed on each transformed image (it moves and turns with the image)
    picks = [int(np.flatnonzero(y_test == c)[0]) for c in np.unique(y_test)[:3]]
    fig, axes = plt.subplots(
        2 * len(picks), g.order, figsize=(1.3 * g.order, 2.7 * len(picks)), squeeze=False
    )
    for row, i in enumerate(picks):
        for k, name in enumerate(g.elements):
            img = np.ascontiguousarray(g.apply(x_test[i], k))
            axes[2 * row, k].imshow(img, cmap="gray")
            axes[2 * row, k].set_title(f"{name}", fontsize=8)
            axes[2 * row + 1, k].imshow(step_map(rep, img), cmap="magma")
            if k == 0:
                axes[2 * row, k].set_ylabel(class_names[y_test[i]], fontsize=8)
                axes[2 * row + 1, k].set_ylabel("step (0,1)", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"orbits under {g.name}: images and their rightward-step maps", fontsize=10)
    written.append(_save(fig, out_dir / "orbits.png"))
    plt.close(fig)

    # 2. PCA scatter of the test set: raw pixels vs the glass-box pipeline
    n = min(len(x_test), 3000)
    raw2 = PCA(2, random_state=0).fit_transform(x_test[:n].reshape(n, -1).astype(np.float64))
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, Z, title in ((axes[0], raw2, "raw pixels"), (axes[1], z_test[:n, :2], "glassbox")):
        sc = ax.scatter(Z[:, 0], Z[:, 1], c=y_test[:n], cmap="tab10", s=4, alpha=0.7)
        ax.set_title(f"{title}: first two principal components")
    handles, _ = sc.legend_elements()
    fig.legend(handles, list(class_names)[: len(handles)], loc="center right", fontsize=8)
    written.append(_save(fig, out_dir / "pca_scatter.png"))
    plt.close(fig)

    # 3. separability per layer
    sep = report["separability"]
    layers = ["raw", "representation", "pca"]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    for ax, key, title in zip(
        axes,
        ["ratio", "fisher", "silhouette"],
        ["intra/inter distance ratio (lower is better)", "Fisher criterion", "silhouette"],
        strict=True,
    ):
        ax.bar(layers, [sep[k][key] for k in layers], color=["#999", "#3a7", "#37a"])
        ax.set_title(title, fontsize=9)
    written.append(_save(fig, out_dir / "separability.png"))
    plt.close(fig)

    # 4. confusion matrix
    cm = np.array(report["confusion_matrix"])
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(class_names)), class_names, rotation=60, fontsize=8)
    ax.set_yticks(range(len(class_names)), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if cm[i, j] > cm.max() / 2 else "black",
            )
    ax.set_title(f"confusion matrix, accuracy {report['accuracy']:.4f}")
    written.append(_save(fig, out_dir / "confusion.png"))
    plt.close(fig)
    return written


__all__ = ["step_map", "write_plots"]
