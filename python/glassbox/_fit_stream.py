"""``GlassBoxClassifier(classifier="kernel-ridge").fit``: every stage learnt from sums over chunks.

Three passes over the images, each reading a chunk of images at a time, so that memory does
not grow with the number of images (only the labels are held):

0. the smallest and largest pixel (the representation's thresholds);
1. the features' moments: their sum and the sum of their outer products, shifted by the mean of
   the first block (so that large means do not cancel the variances away), which give the
   scaler and the principal components exactly as ``StandardScaler`` and
   ``PCA(svd_solver="covariance_eigh")`` on all the features would (up to rounding); the class
   sums of the features on the way;
2. the normal equations of the Nystroem ridge head on the principal components
   (:class:`~glassbox._nystroem.NystroemMap`).

Images are grouped into blocks of ``_BLOCK`` (2,048) and parts of ``PART`` (8,192) counted
from the first image.  A block's contribution is the same computation whatever the chunks; a
part's sums start from zero and add its blocks in order; the parts' sums are added in part
order.  So the fitted model depends on the images alone, not on ``chunk_size``, and a part can
be computed anywhere (:func:`glassbox.dask.fit` computes them on Dask's workers).  Sums of
features are float64.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from sklearn.utils.extmath import svd_flip

from . import _nystroem
from ._kernels import permuted_copies
from ._validation import check_images, check_memory, resolve_n_threads

_BLOCK = _nystroem._BLOCK
PART = _nystroem.PART  # images whose sums are added at once: the unit of exactness
DEFAULT_CHUNK = PART  # images read at once when no chunk size is given
# a two-stage fit reads its classifier rows three times: it keeps them when they take at most
# this much (the second and third reads then skip the images and the representation)
KEEP_BYTES = 256 * 2**20


class _Moments:
    """Sums of rows shifted by ``shift`` (float64, of the rows' width): ``n``, ``s1 = sum(r -
    c)``, ``s2 = sum((r - c)(r - c)^T)``; a part's moments start from zero and parts add up."""

    def __init__(self, shift):
        self.shift = np.asarray(shift, dtype=np.float64)
        self.n = 0
        self.s1 = np.zeros(self.shift.size)
        self.s2 = np.zeros((self.shift.size, self.shift.size))

    def add(self, R):
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


class Plan:
    """What every part of a fit needs (picklable, for Dask's workers): the classifier, with
    ``classes_`` and, from pass 1 on, its reduction; the fitted representation; the feature
    permutations of ``augment`` / ``invariance``."""

    def __init__(self, clf, rep):
        self.clf, self.rep = clf, rep
        self.aug = clf._group_permutations(rep, "augment")
        self.inv = clf._group_permutations(rep, "invariance")
        self.copies = self.aug if self.aug is not None else self.inv
        self.G = 1 if self.copies is None else len(self.copies)  # classifier rows per image
        self.G_fit = 1 if self.aug is None else self.G  # reduction rows per image
        self.n_classes = clf.classes_.size
        self.n_out = clf._n_outputs(self.G)

    def reduction_rows(self, F):
        if self.aug is None:
            return F
        return permuted_copies(F, self.aug, n_threads=self.rep.n_threads)

    def classifier_rows(self, F, y):
        """Principal components (float64) and class indices of the rows the classifier sees
        for images of features F and classes y (copies element-major)."""
        if self.copies is not None:
            F = permuted_copies(F, self.copies, n_threads=self.rep.n_threads)
            y = np.tile(y, self.G) if self.inv is None else self.clf._pose_labels(y, self.G)
        with _nystroem.serial():
            return self.clf._reduce_features(F), y


def _image_blocks(chunks):
    """(images, offset) of consecutive blocks of ``_BLOCK`` images from an iterable of
    block-aligned chunks."""
    off = 0
    for x in chunks:
        for a in range(0, len(x), _BLOCK):
            yield x[a : a + _BLOCK], off + a
        off += len(x)


def part_range(chunks, y, image_shape):
    """(smallest, largest) pixel of a part's images (checked as images)."""
    lo = hi = None
    for x in chunks:
        x = check_images(x, image_shape=image_shape)
        lo = x.min() if lo is None else min(lo, x.min())
        hi = x.max() if hi is None else max(hi, x.max())
    return lo, hi


def first_shift(plan, x):
    """The mean of the reduction rows of the first block of images (the moments' shift)."""
    return plan.reduction_rows(plan.rep.transform(x)).mean(axis=0, dtype=np.float64)


def part_moments(chunks, y, plan, shift):
    """(s1, s2, rows, class sums) of a part's reduction rows, from zero, block by block."""
    mom = _Moments(shift)
    sums = np.zeros((plan.n_classes, plan.rep.n_features_out_))
    for x, off in _image_blocks(chunks):
        R = plan.reduction_rows(plan.rep.transform(x))
        mom.add(R)
        yb = np.tile(y[off : off + len(x)], plan.G_fit)
        for k in range(plan.n_classes):
            sums[k] += R[yb == k].sum(axis=0, dtype=np.float64)
    return mom.s1, mom.s2, mom.n, sums


def part_rows(chunks, y, plan):
    """(principal components, class indices) of a part's classifier rows, block by block."""
    for x, off in _image_blocks(chunks):
        yield plan.classifier_rows(plan.rep.transform(x), y[off : off + len(x)])


def part_equations(chunks, y, plan, nmap, keep=False):
    """(H, B, rows, kept) of the normal equations of a part's classifier rows, from zero;
    ``kept``: with ``keep``, the rows block by block as :func:`part_rows` gives them (in
    float32, as the kernel reads them), else None."""
    m = len(nmap.landmarks)
    H, B = np.zeros((m, m)), np.zeros((m, 1 if plan.n_out == 2 else plan.n_out))
    rows = 0
    kept = [] if keep else None
    for Z, yb in part_rows(chunks, y, plan):
        nmap.sums(Z, _nystroem.targets(yb, plan.n_out), out=(H, B))
        rows += len(Z)
        if keep:
            kept.append((Z.astype(np.float32), yb))
    return H, B, rows, kept


def rows_scores(blocks, nmap, D):
    """Blocks of (rows, class indices) with the first stage's scores (coefficients ``D`` on
    the kernel values) of their rows: a list of (rows, class indices, scores)."""
    return [(Z, yb, nmap.scores(Z, D)) for Z, yb in blocks]


def rows_refinement(scored, n_out, tau, nmap2):
    """(H, B, rows) of the second stage's normal equations over the rows of blocks ``scored``
    (:func:`rows_scores`) whose first-stage gap is at most ``tau``, with the first stage's
    residuals as targets, from zero (the refined rows of all blocks summed at once, in blocks
    of their own)."""
    Zs, Rs = [], []
    for Z, yb, S in scored:
        hard = _nystroem.gaps(S) <= tau
        Zs.append(Z[hard])
        Rs.append((_nystroem.targets(yb, n_out) - S)[hard])
    Z, R = np.concatenate(Zs), np.concatenate(Rs)
    m = len(nmap2.landmarks)
    H, B = nmap2.sums(Z, R, out=(np.zeros((m, m)), np.zeros((m, R.shape[1]))), pad=False)
    return H, B, len(Z)


def part_gaps(chunks, y, plan, nmap, D):
    """How sure the first stage is of a part's classifier rows (:func:`glassbox._nystroem.gaps`;
    one array per block, blocks in order, each block's rows element-major)."""
    return [_nystroem.gaps(S) for _, _, S in rows_scores(part_rows(chunks, y, plan), nmap, D)]


def part_refinement(chunks, y, plan, nmap, D, tau, nmap2):
    """:func:`rows_refinement` of a part's classifier rows."""
    return rows_refinement(rows_scores(part_rows(chunks, y, plan), nmap, D), plan.n_out, tau, nmap2)


def row_keys(positions, n, G):
    """The key ``element * n + image`` of classifier rows at ``positions`` of a fit's row
    order (blocks of ``_BLOCK`` images in order, each block's rows element-major)."""
    positions = np.asarray(positions, dtype=np.int64)
    block = positions // (G * _BLOCK)
    within = positions % (G * _BLOCK)
    size = np.minimum(_BLOCK, n - block * _BLOCK)
    return (within // size) * n + block * _BLOCK + within % size


def fit_parts(clf, rep, shape, dtype, y_enc, map_parts, take, progress=None, info=None, workers=1):
    """Fit ``clf`` (kernel-ridge, ``classes_`` set) and the unfitted representation ``rep``
    on images of ``shape`` (N, H, W) and ``dtype`` with class indices ``y_enc``, in parts of
    ``PART`` images.

    ``map_parts(func, *args)`` yields ``func(chunks, y, *args)`` for every part in order
    (``chunks``: the part's images as block-aligned arrays; ``y``: its class indices);
    ``take(indices)`` returns the images at sorted indices.  Sums of parts are added in part
    order, so the model depends on nothing but the images.  A dict ``info`` receives
    ``"pixel_range"`` (smallest, largest pixel) when the thresholds needed it.  A second
    stage's passes over rows kept in memory run on ``workers`` threads.  Returns ``clf``."""
    n, H, W = shape
    head = clf._new_head()
    refines = head._refines(n * clf._order())
    passes = (3 if _needs_range(rep) else 2) + (2 if refines else 0)
    done = 0

    def tick():
        nonlocal done
        done += 1
        if progress is not None:
            progress(min(n * passes, done * PART), n * passes)

    # pass 0: the thresholds need the pixel range (the layout only the shape)
    if _needs_range(rep):
        lo = hi = None
        for plo, phi in map_parts(part_range, rep.image_shape):
            lo = plo if lo is None else min(lo, plo)
            hi = phi if hi is None else max(hi, phi)
            tick()
        if info is not None:
            info["pixel_range"] = (lo, hi)
    else:
        lo = hi = check_images(take([0]), image_shape=rep.image_shape).min()
    rep.fit(np.stack([np.full((H, W), lo, dtype), np.full((H, W), hi, dtype)]))

    # pass 1: moments and class sums of the reduction rows
    plan = Plan(clf, rep)
    shift = first_shift(plan, take(np.arange(min(n, _BLOCK))))
    total = None
    for part in map_parts(part_moments, plan, shift):
        total = _nystroem.add_parts(total, part)
        tick()
    s1, s2, rows, sums = total
    mom = _Moments(shift)
    mom.n, mom.s1, mom.s2 = rows, s1, s2
    counts = np.bincount(y_enc, minlength=plan.n_classes) * plan.G_fit
    clf.class_means_ = sums / counts[:, None]
    n_comp = min(clf.n_components, rows, rep.n_features_out_)
    clf.scaler_, clf.pca_ = reduction_from_moments(mom, n_comp, clf.scale, clf.random_state)
    del mom, total, s2

    # the landmarks: classifier rows (element-major over the images, as in memory), drawn once
    chosen = _nystroem.choose_landmarks(n * plan.G, head.n_landmarks, head.random_state)
    landmarks, kept = _landmark_rows(clf, plan, take, chosen, n)
    ev = clf.pca_.explained_variance_ * ((rows - 1) / rows)  # population variances
    gamma = head._gamma(float(ev.sum()) / n_comp, n_comp)  # var of the components' values
    nmap = _nystroem.NystroemMap(landmarks, gamma)

    # pass 2: the normal equations on the principal components (plan.clf now has them); a
    # second stage reads every classifier row twice more: they are kept when they are small
    keep = refines and n * plan.G * n_comp * 4 <= KEEP_BYTES
    total, cache = None, []
    for *part, rows_kept in map_parts(part_equations, plan, nmap, keep):
        total = _nystroem.add_parts(total, part)
        cache.append(rows_kept)
        tick()
    H_sum, B_sum, rows2 = total
    W = nmap.solve(H_sum, B_sum, rows2, float(head.alpha))
    chosen = chosen[kept]
    stages = [(nmap, W, chosen % n, chosen // n)]
    n_refined = 0
    if refines:
        first = (nmap, W, chosen)
        second = _second_stage(clf, head, plan, take, n, first, cache, map_parts, workers, tick)
        if second is not None:
            stage, n_refined = second
            stages.append(stage)
        elif progress is not None:  # no second stage: its pass is skipped
            progress(n * passes, n * passes)
    del cache
    head.classes_ = np.arange(plan.n_out)
    head.n_features_in_ = n_comp
    head._set_fitted(stages, n_refined)
    clf.classifier_ = head
    clf.n_features_in_ = rep.n_features_in_
    return clf._assemble(rep)


def _second_stage(clf, head, plan, take, n, first, cache, map_parts, workers, tick):
    """Passes 3 and 4 of :func:`fit_parts`: how sure the first stage ``first`` (its map, its
    coefficients on the features, its landmarks' keys) is of every row, then the second
    stage's sums over the rows it is least sure of.  Over the rows ``cache`` kept by pass 2
    (and their scores, kept too) on ``workers`` threads, or the parts read again when it holds
    Nones.  Returns ((map, coefficients, images, elements), rows refined), or None when there
    is no second stage."""
    nmap, W, chosen = first
    keep = cache[0] is not None
    D = nmap.dual(W)
    per_block = []
    if keep:
        scored = []
        for part in _nystroem.in_order(rows_scores, ((c, nmap, D) for c in cache), workers):
            scored.append(part)
            per_block += [_nystroem.gaps(S) for _, _, S in part]
            tick()
        cache = scored
    else:
        for part in map_parts(part_gaps, plan, nmap, D):
            per_block += part
            tick()
    keys = functools.partial(row_keys, n=n, G=plan.G)
    found = _nystroem.refined_rows(
        np.concatenate(per_block), float(head.refine_fraction), chosen, keys
    )
    if found is None:
        return None
    tau, _, pool = found  # pool: sorted keys
    pick = pool[_nystroem.choose_landmarks(len(pool), head.refine_landmarks, head.random_state)]
    landmarks2, kept2 = _landmark_rows(clf, plan, take, pick, n)
    nmap2 = _nystroem.NystroemMap(landmarks2, nmap.gamma)
    if keep:
        items = ((c, plan.n_out, tau, nmap2) for c in cache)
        parts = _nystroem.in_order(rows_refinement, items, workers)
    else:
        parts = map_parts(part_refinement, plan, nmap, D, tau, nmap2)
    total = None
    for part in parts:
        total = _nystroem.add_parts(total, part)
        tick()
    H2, B2, n_refined = total
    pick = pick[kept2]
    W2 = nmap2.solve(H2, B2, n_refined, _nystroem._REFINE_ALPHA * float(head.alpha))
    return (nmap2, W2, pick % n, pick // n), n_refined


def _landmark_rows(clf, plan, take, keys, n):
    """(rows, kept): the distinct principal components of the classifier rows of ``keys``
    (``element * n + image``, of ``n`` images) and the index in ``keys`` of each."""
    images, where = np.unique(keys % n, return_inverse=True)
    F = plan.rep.transform(take(images))[where]
    if plan.copies is not None:
        F = np.stack([f[plan.copies[e]] for f, e in zip(F, keys // n, strict=True)])
    with _nystroem.serial():
        return _nystroem.distinct_rows(clf._reduce_features(F))


def _needs_range(rep):
    t = rep.thresholds
    return isinstance(t, numbers.Integral) and not isinstance(t, bool)


def fit_streamed(clf, rep, src, y_enc, chunk_size, progress=None, info=None):
    """:func:`fit_parts` over an open ImageSource, reading ``chunk_size`` images at a time
    (rounded to whole blocks, at most a part)."""
    n = len(src)
    H, W = src.image_shape
    check_stream_memory(clf, rep, (n, H, W), chunk_size)
    step = min(PART, max(_BLOCK, chunk_size // _BLOCK * _BLOCK))

    workers = resolve_n_threads(rep.n_threads)  # parts computed at once

    def map_parts(func, *args):
        # parts are read here, in order, and computed on `workers` threads
        def parts():
            for a in range(0, n, PART):
                b = min(n, a + PART)
                chunks = [src.read(c, min(b, c + step)) for c in range(a, b, step)]
                yield (chunks, y_enc[a:b], *args)

        yield from _nystroem.in_order(func, parts(), workers)

    with _nystroem.serial():  # every product on one thread: the same rounding everywhere
        return fit_parts(
            clf, rep, (n, H, W), src.dtype, y_enc, map_parts, src.take, progress, info, workers
        )  # fmt: skip


def stream_memory(
    rep, shape, chunk, G, G_fit, n_components, n_landmarks, workers, refine=0, n_out=1
):
    """Bytes :func:`fit_streamed` holds at once (beside the labels), with ``workers`` parts
    in flight: per part its images, features, one block's products and its sums; with a
    second stage of ``refine`` landmarks (``n_out`` scores a row), its map and sums and every
    row's gap."""
    n, H, W = shape
    nf = rep._max_features(H, W)
    step = min(n, PART, max(_BLOCK, chunk // _BLOCK * _BLOCK))
    m = max(min(n * G, n_landmarks), min(n * G, refine))
    images = min(n, PART) * H * W * 9  # a part's images (and a float64 copy of a chunk)
    features = step * 4 * nf
    block = _BLOCK * G * (4 * nf * 3 + 8 * n_components + 4 * 2 * m)
    hard = min(n, PART) * G * (4 * n_components + 8 * 16) if refine else 0  # a part's refined rows
    sums = max(8 * nf * nf, 8 * m * m)  # a part's moments or normal equations
    totals = 8 * nf * nf + m * m * (8 + 4 + 8 + 8) + m * nf * 4 * 2
    if refine:  # the first stage's map and coefficients beside the second's; every gap
        totals += min(n * G, n_landmarks) ** 2 * 4 + n * G * 8 * 3
        if n * G * n_components * 4 <= KEEP_BYTES:  # the classifier rows, kept (and classes
            totals += n * G * (4 * n_components + 8 + 8 * n_out)  # and first-stage scores)
    per_part = images + features + block + hard + sums
    return rep._layout_bytes(H, W) + workers * per_part + totals


def check_stream_memory(clf, rep, shape, chunk):
    G = clf._order()
    G_fit = 1 if clf.augment is None else G
    head = clf._new_head()
    n = shape[0]
    workers = min(resolve_n_threads(rep.n_threads), -(-n // PART))
    refine = head.refine_landmarks if head._refines(n * G) else 0
    n_out = 1 if len(clf.classes_) == 2 else len(clf.classes_)
    need = stream_memory(
        rep, shape, chunk, G, G_fit, min(clf.n_components, n), head.n_landmarks, workers,
        refine, n_out,
    )  # fmt: skip
    check_memory(need, f"X: fitting kernel-ridge on {n:,} images in chunks of {chunk}")
