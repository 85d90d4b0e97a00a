"""The exactness contract on every Fashion-MNIST test image: ``transform(h·X) ==
transform(X)[:, feature_permutation(h)]`` bit for bit for all 8 elements of D4, every block, the
defaults and each configuration of ``bench.representation.OPTIONS`` (thresholds fitted on the
60,000 training images).  The unit tests check the same on a slice; this is the whole set.

    python -m bench.exactness
"""

from __future__ import annotations

import sys
import time

import numpy as np

import glassbox as gb
from bench.representation import OPTIONS

BLOCKS = ("both", "invariant", "equivariant")


def check(x_train, x_test, configurations=None, group="D4", say=print) -> int:
    """Assert the contract for every configuration and block; returns the number of
    (configuration, block, element) triples checked."""
    configurations = {"defaults": {}, **OPTIONS} if configurations is None else configurations
    g = gb.get_group(group)
    n = 0
    for label, params in configurations.items():
        for blocks in BLOCKS:
            t = time.perf_counter()
            rep = gb.GlassBoxRepresentation(group=group, blocks=blocks, **params).fit(x_train)
            F = rep.transform(x_test)
            for h in g.elements:
                moved = rep.transform(np.ascontiguousarray(g.apply(x_test, h)))
                if not np.array_equal(moved, F[:, rep.feature_permutation(h)]):
                    raise AssertionError(
                        f"{label}, blocks={blocks}: element {h} breaks the contract"
                    )
                n += 1
            say(
                f"{label}, blocks={blocks}: {F.shape[0]:,} images x {F.shape[1]:,} features, "
                f"bit for bit under all {g.order} elements ({time.perf_counter() - t:.1f} s)"
            )
    return n


def main(argv=None) -> int:
    try:
        ds = gb.datasets.load_fashion_mnist()
    except FileNotFoundError as exc:
        print(f"bench.exactness: {exc}", file=sys.stderr)
        return 1
    x_train, x_test, _, _ = ds.standard_split()
    n = check(x_train, x_test)
    print(f"exactness: {n} (configuration, block, element) triples, every test image, no failure")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
