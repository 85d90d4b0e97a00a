"""The representation layer's benchmark: ``GlassBoxRepresentation.transform`` on 70,000 28x28
images (Fashion-MNIST when installed, else random images of that size) against the same
features computed with vectorised NumPy (levels through a lookup table, shifted differences,
window sums as weighted strided slices, orbit sums as a 0/1 matrix product, square roots),
asserted equal before timing."""

from __future__ import annotations

import math

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


def _weights(size, smooth):
    """1-D window weights: ``size`` ones, or (smooth) the binomial coefficients of
    ``size + 2 (size // 2)`` taps."""
    if not smooth:
        return [1] * size
    taps = size + 2 * (size // 2)
    return [math.comb(taps - 1, t) for t in range(taps)]


def _window_sums(v, size, smooth):
    """Sums of ``v`` (n, H, W) over ``size`` x ``size`` windows at stride ``size``: hard
    windows, or (smooth) windows widened by ``size // 2`` with binomial weights, 0 outside."""
    if not smooth:
        n, H, W = v.shape
        return v.reshape(n, H // size, size, W // size, size).sum(axis=(2, 4))
    before = size // 2
    w = _weights(size, True)
    out = v
    for axis in (1, 2):  # separable: rows, then columns
        m = out.shape[axis]
        pad = [(0, 0)] * 3
        pad[axis] = (before, before)
        padded = np.pad(out, pad)
        acc = 0
        for t, wt in enumerate(w):
            idx = [slice(None)] * 3
            idx[axis] = slice(t, t + m, size)
            acc = acc + wt * padded[tuple(idx)]
        out = acc
    return out


def numpy_features(rep):
    """A function computing ``rep.transform`` (uint8 images, blocks="both", any ``pooling``
    and ``normalize``, no second order) with NumPy."""
    if rep.second_order:
        raise ValueError("the NumPy peer has no second-order features")
    t = rep.thresholds_
    p, c = rep.pool_size, rep.cell_size
    smooth, root = rep.pooling == "smooth", rep.normalize == "sqrt"
    # the largest count and orbit sum: int32 and float32 when they hold them exactly
    weight = max(sum(_weights(p, smooth)), sum(_weights(c, smooth))) ** 2
    ints = np.int32 if t.size * weight < 2**31 else np.int64
    exact = np.float32 if 8 * t.size * weight < 2**24 else np.float64
    lut = np.searchsorted(t, np.arange(256), side="left").astype(ints)  # thresholds < v
    dists = [int(d) for d in rep.distances_]
    D = max(dists)
    n_inv = rep.n_invariant_
    inv_index = rep.orbit_index_
    M = np.zeros((inv_index.size, n_inv), dtype=exact)
    M[np.arange(inv_index.size), inv_index] = 1.0

    def run(x):
        N, H, W = x.shape
        out = np.empty((N, rep.n_features_out_), dtype=np.float32)
        for a in range(0, N, CHUNK):
            L = lut[x[a : a + CHUNK]]
            n = L.shape[0]
            pad = np.zeros((n, H + 2 * D, W + 2 * D), dtype=ints)
            pad[:, D : D + H, D : D + W] = L
            parts = [_window_sums(L, p, smooth).reshape(n, -1)]
            for d in dists:
                for dr, dc in DIRECTIONS:
                    nb = pad[:, D + d * dr : D + d * dr + H, D + d * dc : D + d * dc + W]
                    step = np.maximum(L - nb, 0)
                    parts.append(_window_sums(step, c, smooth).reshape(n, -1))
            eq = np.concatenate(parts, axis=1).astype(exact)
            inv = eq @ M
            if root:  # IEEE square roots of the exact counts, rounded once
                eq, inv = np.sqrt(eq), np.sqrt(inv)
            out[a : a + n, :n_inv] = inv
            out[a : a + n, n_inv:] = eq
        return out

    return run


# Configurations beside the defaults, timed in the same run: each is a different set of
# features, so they are "the same job", not checked equal to the defaults.
OPTIONS = {
    "pooling='cells', normalize=None": {"pooling": "cells", "normalize": None},
    "second_order=True": {"second_order": True},
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
