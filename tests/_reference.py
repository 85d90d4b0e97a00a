"""Plain-NumPy reference of every glassbox kernel, written independently of the package's code
paths (it uses only glassbox.groups' ``apply``, itself tested against NumPy's own expressions)."""

from __future__ import annotations

import math

import numpy as np

from glassbox.groups import get_group


def default_threshold(dtype):
    return {np.uint8: 127, np.uint16: 32767}.get(np.dtype(dtype).type, 0.5)


def _otsu_split(hist):
    hist = hist.astype(np.int64)
    n = int(hist.sum())
    b = np.arange(256, dtype=np.int64)
    s = int((b * hist).sum())
    w0 = np.cumsum(hist)[:255]
    s0 = np.cumsum(b * hist)[:255]
    w1 = n - w0
    valid = (w0 > 0) & (w1 > 0)
    if not valid.any():
        return -1
    d = (s0 * n - w0 * s).astype(np.float64)
    denom = np.where(valid, w0.astype(np.float64) * w1.astype(np.float64), 1.0)
    var = np.where(valid, d * d / denom, -1.0)
    return int(np.argmax(var))


def otsu_bins(img):
    """The 256-bin index of every pixel, as documented for method="otsu"."""
    if img.dtype == np.uint8:
        return img.astype(np.int64)
    if img.dtype.kind == "u":
        mn, mx = int(img.min()), int(img.max())
        return (img.astype(np.int64) - mn) * 256 // (mx - mn + 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mn = np.float64(img.min())
        scale = np.float64(256.0) / (np.float64(img.max()) - mn)
        v = (img.astype(np.float64) - mn) * scale
        return np.where(v >= 255, 255, np.where(v >= 1, np.floor(v), 0)).astype(np.int64)


def binarize(images, thresholds=None, method="fixed", packed=False):
    x = np.asarray(images)
    N = x.shape[0]
    if method == "fixed":
        if thresholds is None:
            thresholds = default_threshold(x.dtype)
        scalar = np.ndim(thresholds) == 0
        t = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
        if x.dtype.kind == "u":
            planes = x[:, None].astype(np.int64) > np.floor(t)[None, :, None, None]
        else:
            planes = x[:, None].astype(np.float64) > t[None, :, None, None]
    else:
        scalar = True
        planes = np.empty((N, 1) + x.shape[1:], dtype=bool)
        for n in range(N):
            img = x[n]
            if method == "mean":
                if img.dtype.kind == "u":
                    planes[n, 0] = img.astype(np.int64) * img.size > int(img.astype(np.int64).sum())
                else:
                    m = np.cumsum(img.astype(np.float64).ravel())[-1] / img.size
                    planes[n, 0] = img.astype(np.float64) > m
            else:
                bins = otsu_bins(img)
                t = _otsu_split(np.bincount(bins.ravel(), minlength=256))
                planes[n, 0] = bins > t if t >= 0 else False
    out = planes.astype(np.uint8)
    if packed:
        out = np.packbits(out, axis=-1, bitorder="little")
    return out[:, 0] if scalar else out


def orbit(images, group="D4"):
    g = get_group(group)
    return np.stack([g.apply(images, i) for i in range(g.order)], axis=1)


def _pool_out_dtype(dtype, mode):
    dtype = np.dtype(dtype)
    if mode == "max":
        return dtype
    if mode == "sum":
        return np.dtype(np.int64) if dtype.kind in "biu" else dtype
    return np.dtype(np.float64) if dtype in (np.float64, np.int64) else np.dtype(np.float32)


def pool(x, size=2, stride=None, mode="max"):
    x = np.asarray(x)
    stride = size if stride is None else stride
    H, W = x.shape[-2:]
    OH, OW = (H - size) // stride + 1, (W - size) // stride + 1

    def view(di, dj):
        return x[
            ..., di : di + stride * (OH - 1) + 1 : stride, dj : dj + stride * (OW - 1) + 1 : stride
        ]

    out_dtype = _pool_out_dtype(x.dtype, mode)
    if mode == "max":
        return np.maximum.reduce([view(di, dj) for di in range(size) for dj in range(size)]).astype(
            out_dtype
        )
    # documented order: each window column from zero, top to bottom; then the columns, left to right
    integral = x.dtype.kind in "biu"
    acc_dtype = np.int64 if integral else np.float64
    acc = np.zeros(view(0, 0).shape, dtype=acc_dtype)
    for dj in range(size):
        col = np.zeros(acc.shape, dtype=acc_dtype)
        for di in range(size):
            col = col + view(di, dj).astype(acc_dtype)
        acc = acc + col
    if mode == "sum":
        return acc.astype(out_dtype)
    return (acc.astype(np.float64) / float(size * size)).astype(out_dtype)


def group_pool(x, mode="mean", axis=1):
    x = np.moveaxis(np.asarray(x), axis, 0)
    out_dtype = _pool_out_dtype(x.dtype, mode)
    if mode == "max":
        return x.max(axis=0).astype(out_dtype)
    if x.dtype.kind in "biu":
        acc = x.astype(np.int64).sum(axis=0)
        total = acc.astype(np.float64)
    else:
        srt = np.sort(x.astype(np.float64), axis=0)
        acc = np.zeros(srt.shape[1:])
        for v in srt:
            acc = acc + v
        total = acc
    if mode == "sum":
        return acc.astype(out_dtype)
    return (total / float(x.shape[0])).astype(out_dtype)


def _encode(patch):
    return int(sum(int(v) << k for k, v in enumerate(np.asarray(patch).ravel())))


def pattern_table(group="D4", size=3):
    """Brute force: every code's patch, moved by every element with Group.apply."""
    g = get_group(group)
    n_bits = size * size
    canon, elem = [], []
    for code in range(2**n_bits):
        patch = ((code >> np.arange(n_bits)) & 1).reshape(size, size)
        moved = [_encode(g.apply(patch, i)) for i in range(g.order)]
        c = min(moved)
        canon.append(c)
        elem.append(moved.index(c))
    classes = sorted(set(canon))
    class_of = np.array([classes.index(c) for c in canon], dtype=np.uint16)
    return np.array(classes), class_of, np.array(elem, dtype=np.uint8)


def pattern_codes(binary, size=3):
    b = (np.asarray(binary) != 0).astype(np.int64)
    h = size // 2
    pad = np.pad(b, [(0, 0)] * (b.ndim - 2) + [(h, h), (h, h)])
    H, W = b.shape[-2:]
    code = np.zeros(b.shape, dtype=np.int64)
    for r in range(size):
        for c in range(size):
            code |= pad[..., r : r + H, c : c + W] << (r * size + c)
    return code


def local_patterns(binary, group="D4", size=3):
    _, class_of, elem_of = pattern_table(group, size)
    code = pattern_codes(binary, size)
    return class_of[code], elem_of[code]


def represent_fused(
    images,
    thresholds=None,
    method="fixed",
    group="D4",
    size=2,
    stride=None,
    mode="max",
    packed=False,
):
    b = binarize(images, thresholds, method)
    p = pool(b, size, stride, mode)
    if mode == "max":
        p = p.astype(np.uint8)
    elif mode == "sum":
        p = p.astype(np.uint8 if size * size <= 255 else np.uint16)
    o = orbit(p, group)
    return np.packbits(o, axis=-1, bitorder="little") if packed else o


STEP_DIRECTIONS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def glass_features(images, thresholds, pool, cell, dists):
    """Equivariant glass-box features by their literal definition: one binary plane per
    threshold, counted.  Returns (level maps (N, H/pool, W/pool), step counts
    (N, len(dists), 8, H/cell, W/cell)), int64."""
    x = np.asarray(images)
    N, H, W = x.shape
    level = np.zeros((N, H // pool, W // pool), np.int64)
    steps = np.zeros((N, len(dists), 8, H // cell, W // cell), np.int64)
    for t in thresholds:
        b = (x.astype(np.float64) > t).astype(np.int64)  # one binarization plane
        level += b.reshape(N, H // pool, pool, W // pool, pool).sum(axis=(2, 4))
        for di, d in enumerate(dists):
            padded = np.zeros((N, H + 2 * d, W + 2 * d), np.int64)
            padded[:, d : d + H, d : d + W] = b
            for k, (dr, dc) in enumerate(STEP_DIRECTIONS):
                nb = padded[:, d + d * dr : d + d * dr + H, d + d * dc : d + d * dc + W]
                s = b * (1 - nb)  # 1 at p, 0 at p + d (dr, dc)
                steps[:, di, k] += s.reshape(N, H // cell, cell, W // cell, cell).sum(axis=(2, 4))
    return level, steps


def _window_1d(size, smooth):
    """(weights, how far before the hard window it starts), written out independently of
    glassbox: ``size`` ones, or binomial weights over ``size + 2 (size // 2)`` positions."""
    if not smooth:
        return [1] * size, 0
    n = size + 2 * (size // 2)
    return [math.comb(n - 1, t) for t in range(n)], size // 2


def window_pool(maps, size, smooth):
    """(N, h, w) int64 maps -> (N, h / size, w / size): window (a, b) sums
    ``wr[u] * wc[v] * map[a size - before + u, b size - before + v]`` over the positions inside
    the map, one position at a time."""
    w, before = _window_1d(size, smooth)
    N, h, wd = maps.shape
    out = np.zeros((N, h // size, wd // size), np.int64)
    for a in range(h // size):
        for b in range(wd // size):
            for u, wu in enumerate(w):
                r = a * size - before + u
                if not 0 <= r < h:
                    continue
                for v, wv in enumerate(w):
                    c = b * size - before + v
                    if 0 <= c < wd:
                        out[:, a, b] += wu * wv * maps[:, r, c]
    return out


def _shifted(maps, dr, dc, d):
    """maps[..., i + d dr, j + d dc], 0 outside."""
    N, h, w = maps.shape
    out = np.zeros_like(maps)
    for i in range(h):
        for j in range(w):
            a, b = i + d * dr, j + d * dc
            if 0 <= a < h and 0 <= b < w:
                out[:, i, j] = maps[:, a, b]
    return out


def glass_features_full(images, thresholds, pool, cell, dists, smooth, second_order):
    """Equivariant features with every option, from their definitions: per-pixel levels (the
    sum of the binary planes), steps, the second order's half-size maps, window sums.  Returns
    a list of (N, ...) int64 blocks: level, steps (N, len(dists), 8, ...), second order
    (N, 8, 8, ...) when asked."""
    x = np.asarray(images, dtype=np.float64)
    level = sum((x > t).astype(np.int64) for t in thresholds)
    N, H, W = level.shape
    blocks = [window_pool(level, pool, smooth)]
    steps = np.zeros((N, len(dists), 8, H // cell, W // cell), np.int64)
    for i, d in enumerate(dists):
        for k, (dr, dc) in enumerate(STEP_DIRECTIONS):
            s = np.maximum(level - _shifted(level, dr, dc, d), 0)
            steps[:, i, k] = window_pool(s, cell, smooth)
    blocks.append(steps)
    if second_order:
        second = np.zeros((N, 8, 8, H // cell, W // cell), np.int64)
        for k1, (r1, c1) in enumerate(STEP_DIRECTIONS):
            s1 = np.maximum(level - _shifted(level, r1, c1, 1), 0)
            b = s1[:, 0::2, 0::2] + s1[:, 1::2, 0::2] + s1[:, 0::2, 1::2] + s1[:, 1::2, 1::2]
            for k2, (r2, c2) in enumerate(STEP_DIRECTIONS):
                t = np.maximum(b - _shifted(b, r2, c2, 1), 0)
                second[:, k1, k2] = window_pool(t, cell // 2, smooth)
        blocks.append(second)
    return blocks
