"""``GlassBoxClassifier(classifier="kernel-ridge").fit``: every stage learnt from sums over chunks.

Three passes over the images, each reading ``chunk_size`` images at a time, so that memory does
not grow with the number of images (only the labels are held):

0. the smallest and largest pixel (the representation's thresholds);
1. the features' moments: their sum and the sum of their outer products, shifted by the mean of
   the first block (so that large means do not cancel the variances away), which give the
   scaler and the principal components exactly as ``StandardScaler`` and
   ``PCA(svd_solver="covariance_eigh")`` on all the features would (up to rounding); the class
   sums of the features on the way;
2. the normal equations of the Nystroem ridge head on the principal components
   (:class:`~glassbox._nystroem.NormalEquations`).

Images are grouped into blocks of ``_nystroem._BLOCK`` counted from the first image, and every
block's contribution is the same computation whatever the chunks, added in image order: the
fitted model does not depend on ``chunk_size``.  Sums over blocks of features are float64.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from sklearn.utils.extmath import svd_flip

from . import _nystroem
from ._kernels import permuted_copies
from ._validation import check_images, check_memory

_BLOCK = _nystroem._BLOCK
DEFAULT_CHUNK = 8 * _BLOCK  # images read at once when no chunk size is given


class _Moments:
    """Shifted sums of rows: ``n``, ``sum(r - c)``, ``sum((r - c)(r - c)^T)`` (float64)."""

    def __init__(self, n_features):
        self.n = 0
        self.shift = None
        self.s1 = np.zeros(n_features)
        self.s2 = np.zeros((n_features, n_features))

    def add(self, R):
        if self.shift is None:
            self.shift = R.mean(axis=0, dtype=np.float64)
        D = R - self.shift  # float64
        self.s1 += D.sum(axis=0)
        with _nystroem.serial():
            self.s2 += D.T @ D
        self.n += len(R)

    def mean(self):
        return self.shift + self.s1 / self.n

    def covariance(self):
        """Population covariance (divided by n)."""
        c = self.s1 / self.n
        return self.s2 / self.n - np.outer(c, c)


def reduction_from_moments(mom, n_components, scale, random_state):
    """``(scaler, pca)`` from the moments of the features, fitted as ``StandardScaler`` and
    ``PCA(n_components, svd_solver="covariance_eigh")`` on the features would be: the same
    attributes, sign convention included."""
    n, nf = mom.n, mom.s1.size
    mean = mom.mean()
    cov = mom.covariance()
    scaler = None
    if scale:
        var = np.maximum(np.diag(cov).copy(), 0.0)
        s = np.sqrt(var)
        s[s < 10 * np.finfo(np.float64).eps] = 1.0  # as StandardScaler: constant features
        scaler = StandardScaler()
        scaler.mean_, scaler.var_, scaler.scale_ = mean, var, s
        scaler.n_samples_seen_ = n
        scaler.n_features_in_ = nf
        cov = cov / np.outer(s, s)
        centre = np.zeros(nf)
    else:
        centre = mean
    C = cov * (n / max(n - 1, 1))  # the sample covariance PCA diagonalises
    with _nystroem.serial():
        vals, vecs = np.linalg.eigh(C)
    vals, vecs = np.maximum(vals[::-1], 0.0), vecs[:, ::-1]
    _, Vt = svd_flip(None, vecs.T.copy(), u_based_decision=False)
    k = int(n_components)
    pca = PCA(n_components=k, svd_solver="covariance_eigh", random_state=random_state)
    total = vals.sum()
    pca.mean_ = centre
    pca.components_ = np.ascontiguousarray(Vt[:k])
    pca.explained_variance_ = vals[:k].copy()
    pca.explained_variance_ratio_ = vals[:k] / total if total > 0 else np.zeros(k)
    pca.singular_values_ = np.sqrt(vals[:k] * max(n - 1, 1))
    pca.noise_variance_ = float(vals[k:].mean()) if k < min(nf, n) else 0.0
    pca.n_samples_ = n
    pca.n_components_ = k
    pca.n_features_in_ = nf
    return scaler, pca


def _blocks(n, chunk):
    """[a, b) of the chunks read: ``chunk`` rounded up to whole blocks."""
    step = -(-chunk // _BLOCK) * _BLOCK
    return [(a, min(n, a + step)) for a in range(0, n, step)]


def _each_block(x):
    for a in range(0, len(x), _BLOCK):
        yield a, x[a : a + _BLOCK]


def fit_streamed(clf, rep, src, y_enc, chunk_size, progress=None):
    """Fit ``clf`` (a GlassBoxClassifier with classifier="kernel-ridge", its ``classes_`` set)
    and the unfitted representation ``rep`` on the images of ``src`` (an open ImageSource) with
    class indices ``y_enc``.  Returns ``clf``."""
    n = len(src)
    H, W = src.image_shape
    check_stream_memory(clf, rep, (n, H, W), chunk_size)
    bounds = _blocks(n, chunk_size)
    total = (3 if isinstance(rep.thresholds, int) else 2) * n
    done = 0

    def tick(count):
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)

    # pass 0: the thresholds need the pixel range (the layout only the shape)
    lo = hi = None
    if isinstance(rep.thresholds, int) and not isinstance(rep.thresholds, bool):
        for a, b in bounds:
            x = check_images(src.read(a, b), image_shape=rep.image_shape)
            xl, xh = x.min(), x.max()
            lo = xl if lo is None else min(lo, xl)
            hi = xh if hi is None else max(hi, xh)
            tick(b - a)
    else:
        lo = hi = check_images(src.read(0, 1), image_shape=rep.image_shape).min()
    rep.fit(np.stack([np.full((H, W), lo, src.dtype), np.full((H, W), hi, src.dtype)]))

    aug = clf._group_permutations(rep, "augment")
    inv = clf._group_permutations(rep, "invariance")
    copies = aug if aug is not None else inv
    G = 1 if copies is None else len(copies)  # classifier rows per image
    G_fit = 1 if aug is None else G  # reduction rows per image
    nf, n_classes = rep.n_features_out_, clf.classes_.size
    n_comp = min(clf.n_components, n * G_fit, nf)

    # pass 1: moments and class sums
    mom = _Moments(nf)
    sums = np.zeros((n_classes, nf))
    for a, b in bounds:
        F_chunk = rep.transform(src.read(a, b))
        for off, F in _each_block(F_chunk):
            ya = y_enc[a + off : a + off + len(F)]
            R = F if aug is None else permuted_copies(F, aug, n_threads=rep.n_threads)
            mom.add(R)
            for k in range(n_classes):  # the class sums of the rows the reduction sees
                rows = np.tile(ya == k, G_fit)
                sums[k] += R[rows].sum(axis=0, dtype=np.float64)
        tick(b - a)
    clf.class_means_ = sums / (np.bincount(y_enc, minlength=n_classes) * G_fit)[:, None]
    clf.scaler_, clf.pca_ = reduction_from_moments(mom, n_comp, clf.scale, clf.random_state)
    del mom

    # the landmarks: classifier rows (element-major over the images, as in memory) drawn once
    head = clf._new_head()
    rows = _nystroem.choose_landmarks(n * G, head.n_landmarks, head.random_state)
    images, element = np.unique(rows % n, return_inverse=True), rows // n
    F_land = rep.transform(src.take(images[0]))
    if copies is not None:
        F_land = np.stack([F_land[j][copies[e]] for j, e in zip(images[1], element, strict=True)])
    else:
        F_land = F_land[images[1]]
    with _nystroem.serial():
        landmarks = _nystroem.distinct_rows(clf._reduce_features(F_land))
    ev = clf.pca_.explained_variance_ * ((n * G_fit - 1) / (n * G_fit))  # population
    var = float(ev.sum()) / n_comp  # the variance of the components' values
    gamma = head._gamma(var, n_comp)

    # pass 2: the normal equations on the principal components
    n_out = clf._n_outputs(G)
    eq = _nystroem.NormalEquations(landmarks, gamma, 1 if n_out == 2 else n_out)
    for a, b in bounds:
        F_chunk = rep.transform(src.read(a, b))
        for off, F in _each_block(F_chunk):
            ya = y_enc[a + off : a + off + len(F)]
            if copies is not None:
                F = permuted_copies(F, copies, n_threads=rep.n_threads)
                ya = np.tile(ya, G) if inv is None else clf._pose_labels(ya, G)
            with _nystroem.serial():
                Z = clf._reduce_features(F)
            eq.add(Z, _nystroem.targets(ya, n_out))
        tick(b - a)
    clf.classifier_ = head
    head.classes_ = np.arange(n_out)
    head.n_features_in_ = n_comp
    head._set_fitted(eq)
    clf.n_features_in_ = rep.n_features_in_
    return clf._assemble(rep)


def stream_memory(rep, shape, chunk, G, G_fit, n_components, n_landmarks):
    """Bytes :func:`fit_streamed` holds at once (beside the labels)."""
    n, H, W = shape
    nf = rep._max_features(H, W)
    step = min(n, -(-chunk // _BLOCK) * _BLOCK)
    m = min(n * G, n_landmarks)
    per_chunk = step * (H * W * 9 + 4 * nf)  # images (and a float64 copy), features
    per_block = _BLOCK * G * (4 * nf * 3 + 8 * n_components + 4 * 2 * m)
    moments = 2 * 8 * nf * nf + 8 * nf
    head = m * m * (8 + 4 + 8 + 8) + m * nf * 4 * 2
    return rep._layout_bytes(H, W) + per_chunk + per_block + moments + head


def check_stream_memory(clf, rep, shape, chunk):
    G = clf._order()
    G_fit = 1 if clf.augment is None else G
    head = clf._new_head()
    n = shape[0]
    need = stream_memory(rep, shape, chunk, G, G_fit, min(clf.n_components, n), head.n_landmarks)
    check_memory(need, f"X: fitting kernel-ridge on {n:,} images in chunks of {chunk}")
