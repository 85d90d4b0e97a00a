"""The representation layer's benchmark: ``GlassBoxRepresentation.transform`` on 70,000 28x28
images (Fashion-MNIST when installed, else random images of that size) against the same
features computed with vectorised NumPy (levels through a lookup table, shifted differences,
reshaped window sums, orbit sums as a 0/1 matrix product), asserted equal before timing."""

from __future__ import annotations

import numpy as np

import glassbox as gb
from glassbox.representation import DIRECTIONS

CHUNK = 5000  # images per NumPy pass: keeps its temporaries in memory


def images(n=70_000):
    """(images, description): Fashion-MNIST's 70,000 images, or random ones without it."""
    try:
        ds = gb.datasets.load_fashion_mnist()
        return ds.images[:n], "Fashion-MNIST"
    except FileNotFoundError:
        rng = np.random.default_rng(0)
        return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), "random uint8"


def numpy_features(rep):
    """A function computing ``rep.transform`` (uint8 images, blocks="both") with NumPy."""
    t = rep.thresholds_
    lut = np.searchsorted(t, np.arange(256), side="left").astype(np.int32)  # thresholds < v
    p, c = rep.pool_size, rep.cell_size
    dists = [int(d) for d in rep.distances_]
    D = max(dists)
    n_inv = rep.n_invariant_
    inv_index = rep.orbit_index_
    M = np.zeros((inv_index.size, n_inv), dtype=np.float32)
    M[np.arange(inv_index.size), inv_index] = 1.0

    def run(x):
        N, H, W = x.shape
        out = np.empty((N, rep.n_features_out_), dtype=np.float32)
        for a in range(0, N, CHUNK):
            L = lut[x[a : a + CHUNK]]
            n = L.shape[0]
            pad = np.zeros((n, H + 2 * D, W + 2 * D), dtype=np.int32)
            pad[:, D : D + H, D : D + W] = L
            parts = [L.reshape(n, H // p, p, W // p, p).sum(axis=(2, 4)).reshape(n, -1)]
            for d in dists:
                for dr, dc in DIRECTIONS:
                    nb = pad[:, D + d * dr : D + d * dr + H, D + d * dc : D + d * dc + W]
                    step = np.maximum(L - nb, 0)
                    parts.append(
                        step.reshape(n, H // c, c, W // c, c).sum(axis=(2, 4)).reshape(n, -1)
                    )
            eq = np.concatenate(parts, axis=1).astype(np.float32)
            out[a : a + n, :n_inv] = eq @ M
            out[a : a + n, n_inv:] = eq
        return out

    return run


# Configurations beside the defaults, timed in the same run (issue 25's candidates): each is a
# different set of features, so they are "the same job", not checked equal to the defaults.
OPTIONS = {
    "pooling='smooth', normalize='sqrt'": {"pooling": "smooth", "normalize": "sqrt"},
    "pooling='smooth', normalize='sqrt', second_order=True": {
        "pooling": "smooth",
        "normalize": "sqrt",
        "second_order": True,
    },
}


def implementations(x):
    """(name, function, slow) for the representation benchmark, fitted on ``x``."""
    rep = gb.GlassBoxRepresentation().fit(x[:60_000])
    rep1 = gb.GlassBoxRepresentation(n_threads=1).fit(x[:60_000])
    return [
        ("NumPy, same features (vectorised)", numpy_features(rep), True),
        ("glassbox GlassBoxRepresentation.transform, 1 thread", rep1.transform, False),
        ("glassbox GlassBoxRepresentation.transform", rep.transform, False),
    ]


def option_implementations(x):
    """(name, function) of the configurations in OPTIONS, fitted on ``x``."""
    out = []
    for label, params in OPTIONS.items():
        rep = gb.GlassBoxRepresentation(**params).fit(x[:60_000])
        out.append((f"glassbox GlassBoxRepresentation.transform, {label}", rep.transform))
    return out
