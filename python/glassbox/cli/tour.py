"""``glassbox tour``: a short, runnable tour of the kernels on synthetic images.

It builds a small batch of shapes, runs binarize -> orbit -> pool, checks that pooling over the
group is exactly invariant and that the fused pass equals the three kernels composed, and times
the fused pass on a Fashion-MNIST-sized batch (70,000 x 28 x 28).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from .. import _core
from .._kernels import binarize, group_pool, local_patterns, orbit, pool, represent_fused
from .._validation import check_memory, resolve_n_threads
from ..groups import get_group


def _shapes(n: int, side: int, rng: np.random.Generator) -> np.ndarray:
    """Grey images of an L, a bar or a square at random places, with noise."""
    x = rng.integers(0, 60, (n, side, side)).astype(np.uint8)
    for k in range(n):
        r, c = rng.integers(2, side // 2, 2)
        kind = k % 3
        if kind == 0:  # an L: not symmetric, so its orbit has 8 distinct images
            x[k, r : r + 10, c : c + 3] = 220
            x[k, r + 7 : r + 10, c : c + 8] = 220
        elif kind == 1:
            x[k, r : r + 3, c : c + 12] = 220
        else:
            x[k, r : r + 8, c : c + 8] = 220
    return x


DESCRIPTION = (
    "A short tour of the kernels on synthetic images: binarize -> orbit -> pool on a few "
    "shapes, a check that pooling over the group is exactly invariant and that the fused pass "
    "equals the three kernels composed, then the fused pass timed on a batch of random 28x28 "
    "images. Exit status 0 when both checks hold."
)


def add_parser(subparsers) -> None:
    """Add ``glassbox tour`` and its arguments to ``subparsers``."""
    parser = subparsers.add_parser(
        "tour",
        help="a short tour of the kernels on synthetic images",
        description=DESCRIPTION,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--images",
        type=int,
        default=70_000,
        metavar="N",
        help="28x28 images in the timing run (70000: Fashion-MNIST's count)",
    )
    parser.add_argument(
        "--n-threads", type=int, default=None, help="OpenMP threads (None: all CPUs)"
    )


def run(args: argparse.Namespace) -> int:
    """Run the tour; returns the exit status."""
    if args.images < 1:
        raise ValueError("--images must be positive")
    g = get_group("D4")
    # the random images and the fused pass's output, refused before either is allocated
    check_memory(
        args.images * (28 * 28 + g.order * 14 * 14), f"--images {args.images}: the timing run"
    )
    n_threads = resolve_n_threads(args.n_threads)
    rng = np.random.default_rng(0)
    print(
        f"glassbox {_core.__version__}: OpenMP {'on' if _core.openmp_enabled() else 'off'}, "
        f"{n_threads} thread(s)"
    )

    x = _shapes(6, 28, rng)
    b = binarize(x, 127)
    o = orbit(b, g)
    p = pool(o, 2)
    print(
        f"binarize {x.shape} -> {b.shape}; orbit under D4 -> {o.shape}; 2x2 max-pool -> {p.shape}"
    )
    distinct = len({bytes(o[0, i]) for i in range(g.order)})
    print(f"the L-shape of image 0 has {distinct} distinct images in its D4 orbit")

    inv = group_pool(o, mode="mean")
    worst = max(
        int(np.count_nonzero(group_pool(orbit(np.ascontiguousarray(g.apply(b, i)), g)) != inv))
        for i in range(g.order)
    )
    print(
        f"group_pool(orbit(g.x)) differs from group_pool(orbit(x)) in {worst} values "
        "(exact invariance)"
    )

    lp = local_patterns(b, g)
    print(
        f"3x3 local patterns: {len(np.unique(lp.classes))} of 102 D4 classes occur in these images"
    )

    fused = represent_fused(x, 127, group=g)
    same = np.array_equal(fused, orbit(pool(b, 2), g))
    print(f"represent_fused == orbit(pool(binarize(x))): {same}")

    big = rng.integers(0, 256, (args.images, 28, 28), dtype=np.uint8)
    out = np.empty((args.images, g.order, 14, 14), dtype=np.uint8)
    represent_fused(big[:1000], 127, out=out[:1000], n_threads=n_threads)  # warm-up
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        represent_fused(big, 127, out=out, n_threads=n_threads)
        times.append(time.perf_counter() - t0)
    best = min(times)
    print(
        f"fused binarize + D4 orbit + 2x2 max-pool of {args.images:,} 28x28 images: "
        f"{best * 1e3:.1f} ms ({args.images / best:,.0f} images/s, best of 5)"
    )
    return 0 if same and worst == 0 else 1
