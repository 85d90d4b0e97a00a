"""Work "R": uint8 (N, H, W) -> binarize (> 127) -> D4 orbit -> 2x2 max-pool -> (N, 8, H/2, W/2).

Every implementation returns the same uint8 array (asserted before timing).  Pooling commutes
with D4 here (H and W even), so the fast peers pool first and orbit the small planes; max-pool then
threshold equals threshold then max-pool because ``> 127`` is monotone.
"""

from __future__ import annotations

import numpy as np

import glassbox as gb

THRESHOLD = 127
D4 = gb.get_group("D4")


def _orbit_into(out: np.ndarray, planes: np.ndarray) -> np.ndarray:
    for i in range(D4.order):
        out[:, i] = D4.apply(planes, i)
    return out


def numpy_literal(x):
    """As written: binarize, orbit the full images, then pool."""
    b = (x > THRESHOLD).astype(np.uint8)
    o = np.stack([D4.apply(b, i) for i in range(D4.order)], axis=1)
    n, g, h, w = o.shape
    return o.reshape(n, g, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def numpy_pool_first(x):
    """Max of the four strided views, threshold, then orbit into one preallocated array."""
    m = np.maximum(
        np.maximum(x[:, ::2, ::2], x[:, ::2, 1::2]), np.maximum(x[:, 1::2, ::2], x[:, 1::2, 1::2])
    )
    b = np.greater(m, THRESHOLD).view(np.uint8)
    out = np.empty((x.shape[0], D4.order, *b.shape[1:]), dtype=np.uint8)
    return _orbit_into(out, b)


def opencv_pool_first(x):
    """OpenCV max of row pairs and column pairs on the batch as one tall image, threshold, orbit."""
    import cv2

    n, h, w = x.shape
    pairs = x.reshape(n * h // 2, 2 * w)
    v = cv2.max(pairs[:, :w], pairs[:, w:])  # (n*h/2, w)
    cols = v.reshape(-1, 2)
    m = cv2.max(np.ascontiguousarray(cols[:, 0]), np.ascontiguousarray(cols[:, 1]))
    _, b = cv2.threshold(m.reshape(n * (h // 2), w // 2), THRESHOLD, 1, cv2.THRESH_BINARY)
    out = np.empty((n, D4.order, h // 2, w // 2), dtype=np.uint8)
    return _orbit_into(out, b.reshape(n, h // 2, w // 2))


def opencv_dilate(x):
    """OpenCV 2x2 dilation (anchor top-left) of the batch as one tall image, subsample,
    threshold."""
    import cv2

    n, h, w = x.shape
    d = cv2.dilate(x.reshape(n * h, w), np.ones((2, 2), np.uint8), anchor=(0, 0))
    m = np.ascontiguousarray(d.reshape(n, h, w)[:, ::2, ::2])
    _, b = cv2.threshold(m.reshape(n * (h // 2), w // 2), THRESHOLD, 1, cv2.THRESH_BINARY)
    out = np.empty((n, D4.order, h // 2, w // 2), dtype=np.uint8)
    return _orbit_into(out, b.reshape(n, h // 2, w // 2))


def torch_pool_first(x):
    """torch CPU max_pool2d, threshold, then orbit with rot90 / flip / transpose."""
    import torch

    t = torch.from_numpy(x).unsqueeze(1)
    m = torch.nn.functional.max_pool2d(t.float(), 2).squeeze(1)
    b = (m > THRESHOLD).to(torch.uint8)
    views = [
        b,
        torch.rot90(b, 1, (1, 2)),
        torch.rot90(b, 2, (1, 2)),
        torch.rot90(b, 3, (1, 2)),
        torch.flip(b, (2,)),
        torch.flip(b, (1,)),
        b.transpose(1, 2),
        torch.flip(b, (1, 2)).transpose(1, 2),
    ]
    return torch.stack(views, dim=1).numpy()


def glassbox_fresh(x):
    return gb.represent_fused(x, THRESHOLD)


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
