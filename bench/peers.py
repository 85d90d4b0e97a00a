"""Building blocks of the peer implementations, shared by work R and the kernel families:
each written once, as well as NumPy, OpenCV or torch allow."""

from __future__ import annotations

import numpy as np


def orbit_numpy(x, group, out=None):
    """(N, G, H, W): every element of ``group`` applied to (N, H, W), copied into one array."""
    if out is None:
        out = np.empty((x.shape[0], group.order, *x.shape[1:]), dtype=x.dtype)
    for i in range(group.order):
        out[:, i] = group.apply(x, i)
    return out


def orbit_torch(x, group):
    """The same with torch's rot90 / flip / transpose on an (N, H, W) tensor or array, stacked
    into a tensor."""
    import torch

    t = torch.as_tensor(x)
    views = {
        "e": lambda b: b,
        "r90": lambda b: torch.rot90(b, 1, (1, 2)),
        "r180": lambda b: torch.rot90(b, 2, (1, 2)),
        "r270": lambda b: torch.rot90(b, 3, (1, 2)),
        "fh": lambda b: torch.flip(b, (2,)),
        "fv": lambda b: torch.flip(b, (1,)),
        "t": lambda b: b.transpose(1, 2),
        "at": lambda b: torch.flip(b, (1, 2)).transpose(1, 2),
    }
    return torch.stack([views[e](t) for e in group.elements], dim=1)


def cv_threshold(x, t):
    """OpenCV's ``x > t`` (0 / 1) on an (N, H, W) batch seen as one tall 2-D image (OpenCV 5
    wants 2-D arrays)."""
    import cv2

    n, h, w = x.shape
    return cv2.threshold(x.reshape(n * h, w), t, 1, cv2.THRESH_BINARY)[1].reshape(n, h, w)


def max_pool2_numpy(x):
    """2x2 max-pooling of (N, H, W), H and W even: the maximum of four strided views."""
    return np.maximum(
        np.maximum(x[:, ::2, ::2], x[:, ::2, 1::2]), np.maximum(x[:, 1::2, ::2], x[:, 1::2, 1::2])
    )


def max_pool2_opencv(x):
    """The same with OpenCV: the maximum of row pairs, then of column pairs, on the batch as one
    tall image."""
    import cv2

    n, h, w = x.shape
    pairs = x.reshape(n * h // 2, 2 * w)
    v = cv2.max(pairs[:, :w], pairs[:, w:])  # (n*h/2, w)
    cols = v.reshape(-1, 2)
    m = cv2.max(np.ascontiguousarray(cols[:, 0]), np.ascontiguousarray(cols[:, 1]))
    return m.reshape(n, h // 2, w // 2)
