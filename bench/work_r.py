"""Work "R": uint8 (N, H, W) -> binarize (> 127) -> D4 orbit -> 2x2 max-pool -> (N, 8, H/2, W/2).

Every implementation returns the same uint8 array (asserted before timing).  Pooling commutes
with D4 here (H and W even), so the fast peers pool first and orbit the small planes; max-pool then
threshold equals threshold then max-pool because ``> 127`` is monotone.
"""

from __future__ import annotations

import numpy as np

import glassbox as gb

from . import peers

THRESHOLD = 127
D4 = gb.get_group("D4")


def numpy_literal(x):
    """As written: binarize, orbit the full images, then pool."""
    b = (x > THRESHOLD).astype(np.uint8)
    o = np.stack([D4.apply(b, i) for i in range(D4.order)], axis=1)
    n, g, h, w = o.shape
    return o.reshape(n, g, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def numpy_pool_first(x):
    """Max of the four strided views, threshold, then orbit into one preallocated array."""
    b = np.greater(peers.max_pool2_numpy(x), THRESHOLD).view(np.uint8)
    return peers.orbit_numpy(b, D4)


def opencv_pool_first(x):
    """OpenCV max of row pairs and column pairs on the batch as one tall image, threshold, orbit."""
    return peers.orbit_numpy(peers.cv_threshold(peers.max_pool2_opencv(x), THRESHOLD), D4)


def opencv_dilate(x):
    """OpenCV 2x2 dilation (anchor top-left) of the batch as one tall image, subsample,
    threshold."""
    import cv2

    n, h, w = x.shape
    d = cv2.dilate(x.reshape(n * h, w), np.ones((2, 2), np.uint8), anchor=(0, 0))
    m = np.ascontiguousarray(d.reshape(n, h, w)[:, ::2, ::2])
    return peers.orbit_numpy(peers.cv_threshold(m, THRESHOLD), D4)


def torch_pool_first(x):
    """torch CPU max_pool2d, threshold, then orbit with rot90 / flip / transpose."""
    import torch

    t = torch.from_numpy(x).unsqueeze(1)
    m = torch.nn.functional.max_pool2d(t.float(), 2).squeeze(1)
    b = (m > THRESHOLD).to(torch.uint8)
    return peers.orbit_torch(b, D4).numpy()


def glassbox_fresh(x):
    return gb.represent_fused(x, THRESHOLD)


def glassbox_composed(x, n_threads=None):
    """The public kernels one after the other, each returning a new array: binarize, pool the
    full images, orbit the small planes."""
    b = gb.binarize(x, THRESHOLD, n_threads=n_threads)
    return gb.orbit(gb.pool(b, 2, n_threads=n_threads), D4, n_threads=n_threads)


def make_glassbox_out(x):
    out = np.empty((x.shape[0], D4.order, x.shape[1] // 2, x.shape[2] // 2), dtype=np.uint8)
    return lambda x: gb.represent_fused(x, THRESHOLD, out=out)


def make_glassbox_packed_out(x):
    n, h, w = x.shape
    out = np.empty((n, D4.order, h // 2, (w // 2 + 7) // 8), dtype=np.uint8)
    return lambda x: gb.represent_fused(x, THRESHOLD, packed=True, out=out)


def implementations():
    """(name, factory(x) -> callable(x), output is bit-packed, slow) for every available peer."""
    impls = [
        ("numpy literal (orbit, then pool)", lambda x: numpy_literal, False, True),
        ("numpy pool first", lambda x: numpy_pool_first, False, False),
    ]
    try:
        import cv2  # noqa: F401

        impls += [
            ("opencv pool first (max)", lambda x: opencv_pool_first, False, False),
            ("opencv pool first (dilate)", lambda x: opencv_dilate, False, False),
        ]
    except ImportError:
        pass
    try:
        import torch  # noqa: F401

        impls.append(("torch cpu pool first", lambda x: torch_pool_first, False, False))
    except ImportError:
        pass
    impls += [
        ("glassbox fused, fresh output", lambda x: glassbox_fresh, False, False),
        ("glassbox fused, out=", make_glassbox_out, False, False),
        ("glassbox fused, bit-packed out=", make_glassbox_packed_out, True, False),
    ]
    return impls
