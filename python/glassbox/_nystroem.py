"""RBF kernel ridge classification on landmarks, solved from normal equations summed over rows.

The classifier stage that scales: its cost is linear in the number of training rows, its memory
is set by the number of landmarks, and the rows can arrive in chunks (a file read piece by
piece, the blocks of a dask array) because everything it learns from them is a sum.

With landmarks ``l_1..l_m`` (training rows drawn without replacement, seeded), the RBF kernel
``k(x, l) = exp(-gamma |x - l|^2)`` and ``L L^T = K_mm + jitter I`` (Cholesky), every row is
mapped to ``phi(x) = L^{-1} k(x, l)`` (Nystroem's feature map, Williams & Seeger 2001).  Ridge
regression on ``phi`` with targets +1 (own class) / -1 (others) needs only
``H = sum phi phi^T`` and ``B = sum phi y^T``::

    W = (H + alpha * n * I)^{-1} B,
    score_c(x) = phi(x) . W_c = sum_i dual_coef_[i, c] k(x, l_i)

so that a score is, exactly, a weighted sum of the kernel values to the landmarks.

Rows are taken in fixed blocks of ``_BLOCK`` rows counted from the first, and blocks in parts
(``PART``): a block's products are float32 matrix products of the same shape whatever the
chunks were, run on one BLAS thread (:func:`serial`); a part's sums start from zero and add its
blocks in order; parts are computed on several threads at once (:func:`in_order`) and added in
order.  So the fitted model does not depend on how the rows were chunked, on the number of
threads, or on where a part was computed.
"""

from __future__ import annotations

import contextlib
import functools
import numbers
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.linalg import blas, cho_factor, cho_solve, lapack
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._validation import check_int, resolve_n_threads

__all__ = ["NystroemRidgeClassifier"]

_BLOCK = 2048  # rows per block of float32 products (the unit of chunk independence)
PART = 4 * _BLOCK  # rows (images, in a fit from images) whose sums are added at once
_JITTER = 1e-7  # added to K_mm's diagonal (1): keeps its Cholesky factor defined
# the second stage's ridge penalty per row, as a multiple of the first's: chosen on validation
# splits of five datasets (at 1x it overfitted the refined rows of deformed Fashion-MNIST)
_REFINE_ALPHA = 10.0


@functools.cache
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


_serial_lock = threading.Lock()
_serial_depth = 0
_serial_limiter = None


@contextlib.contextmanager
def serial():
    """A context in which BLAS and LAPACK run on one thread, for the whole process.

    Threaded products and factorisations round differently for different thread counts
    (OpenBLAS splits their sums, or picks other kernels), and the ridge system amplifies
    last-bit differences; a fit runs every product on one thread and computes several parts
    at once instead (:func:`in_order`), so that it does not depend on the number of threads.
    The limit is process-wide: it is set when the first of any nested or concurrent contexts
    opens and restored when the last one closes (a restore by one thread must not lift the
    limit under another)."""
    global _serial_depth, _serial_limiter
    with _serial_lock:
        if _serial_depth == 0:
            _serial_limiter = _controller().limit(limits=1)
        _serial_depth += 1
    try:
        yield
    finally:
        with _serial_lock:
            _serial_depth -= 1
            if _serial_depth == 0:
                _serial_limiter.restore_original_limits()
                _serial_limiter = None


def in_order(func, items, workers):
    """``func(*item)`` for every item, computed on ``workers`` threads, yielded in the items'
    order; at most ``workers`` results are computed ahead.  With BLAS on one thread
    (:func:`serial`) this is how a fit uses every core without BLAS's threads, whose rounding
    depends on their number."""
    if workers <= 1:
        for item in items:
            yield func(*item)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = deque()
        for item in items:
            pending.append(pool.submit(func, *item))
            if len(pending) >= workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def rbf(X, landmarks, gamma, sq_landmarks=None):
    """``exp(-gamma |x - l|^2)`` for every row x of X and l of landmarks, float32 (training).

    ``gamma |x - l|^2 = gamma |x|^2 + gamma |l|^2 - 2 gamma x.l`` in float32 (clipped at 0): with
    ``gamma = 1 / (n_features * var)`` the terms are of order 1, so float32 keeps the exponent
    to about 1e-6 absolute."""
    X = np.asarray(X, dtype=np.float32)
    g = np.float32(gamma)
    sx = g * np.einsum("ij,ij->i", X, X, dtype=np.float64).astype(np.float32)
    sl = g * (
        np.einsum("ij,ij->i", landmarks, landmarks, dtype=np.float64)
        if sq_landmarks is None
        else sq_landmarks
    ).astype(np.float32)
    E = X @ landmarks.T  # float32
    E *= 2 * g
    E -= sx[:, None]
    E -= sl[None, :]
    np.minimum(E, 0.0, out=E)
    return np.exp(E, out=E)


def rbf64(X, landmarks, gamma):
    """:func:`rbf` in float64 (the landmarks' own kernel, and scores): a row's values do not
    depend on the other rows beyond float64 rounding."""
    X = np.asarray(X, dtype=np.float64)
    L = np.asarray(landmarks, dtype=np.float64)
    D = X @ L.T
    D *= -2.0
    D += np.einsum("ij,ij->i", X, X)[:, None]
    D += np.einsum("ij,ij->i", L, L)[None, :]
    np.maximum(D, 0.0, out=D)
    D *= -gamma
    return np.exp(D, out=D)


def _check_positive(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


class NystroemMap:
    """Nystroem's feature map ``phi(x) = L^{-1} k(x, landmarks)`` and the sums of the normal
    equations over rows, ``H = sum phi phi^T`` and ``B = sum phi y^T``.

    Parameters
    ----------
    landmarks : ndarray of float32, shape (m, d)
        Distinct rows.
    gamma : float
    """

    def __init__(self, landmarks, gamma):
        self.landmarks = np.ascontiguousarray(landmarks, dtype=np.float32)
        self.gamma = float(gamma)
        m = len(self.landmarks)
        self._sq = np.einsum("ij,ij->i", self.landmarks, self.landmarks, dtype=np.float64)
        with serial():
            K = rbf64(self.landmarks, self.landmarks, self.gamma)  # factorised: float64
            K[np.diag_indices(m)] += _JITTER
            # positive definite (the landmarks are distinct); LAPACK in place on K.T (K is
            # symmetric: its transpose is the same matrix, in Fortran order), without the
            # copies of np.linalg.cholesky (0.3 s of 0.9 at 4,000 landmarks)
            chol, info = lapack.dpotrf(K.T, lower=1, clean=0, overwrite_a=1)
            if info != 0:  # pragma: no cover - rounding would have to beat the jitter
                raise np.linalg.LinAlgError(
                    f"the landmarks' kernel is not positive definite (dpotrf {info})"
                )
            inv, info = lapack.dtrtri(chol, lower=1, overwrite_c=1)
            if info != 0:  # pragma: no cover - a Cholesky factor has a nonzero diagonal
                raise np.linalg.LinAlgError(f"the landmarks' kernel is singular (dtrtri {info})")
        # phi(x)^T = L^{-1} k(x)^T: BLAS's triangular products read the lower triangle of
        # L^{-1} (dtrtri's Fortran-ordered result) and nothing above it (K's upper triangle)
        self.whiten = np.asarray(inv, dtype=np.float32, order="F")

    def features(self, X):
        """Nystroem features ``phi`` of rows X, float32 (n, m)."""
        K = rbf(X, self.landmarks, self.gamma, self._sq)  # (n, m) C order: K.T is Fortran
        # phi^T = L^{-1} K^T, a triangular product (half a general one's work), in place
        return blas.strmm(1.0, self.whiten, K.T, side=0, lower=1, trans_a=0, overwrite_b=1).T

    def sums(self, X, Y, out=None, *, pad=True):
        """``(H, B)`` of rows X (n, d) with targets Y (n, n_outputs): float32 products of
        blocks of ``_BLOCK`` rows counted from the first, added in float64 in row order to
        ``out`` (an ``(H, B)`` pair; default: zeros, so that the same rows give the same sums
        whatever was summed before or elsewhere).  ``pad=False`` computes a last, partial
        block at its own size: for rows that are always summed in the same blocks (a part's
        refined rows), where padding would only add work."""
        m = len(self.landmarks)
        H, B = (np.zeros((m, m)), np.zeros((m, Y.shape[1]))) if out is None else out
        for a in range(0, len(X), _BLOCK):
            x, y = X[a : a + _BLOCK], Y[a : a + _BLOCK]
            n = len(x)
            if pad:
                # a last, partial block is padded with rows whose features are zero (they
                # add exact zeros): every product then has the shape of a full block, and
                # BLAS the same code path (it picks other kernels, which round differently,
                # for other shapes)
                x, y = _full_block(x), _full_block(y)
            P = self.features(x)
            P[n:] = 0.0
            H += P.T @ P  # float32 product, float64 sum
            B += P.T @ y.astype(np.float32)
        return H, B

    def solve(self, H, B, n_rows, alpha):
        """Coefficients on the features ``phi``, W (m, n_outputs), of the ridge
        ``(H + alpha * n_rows * I) W = B``."""
        A = H.copy()
        A[np.diag_indices(len(A))] += alpha * n_rows
        with serial():
            return cho_solve(cho_factor(A, lower=True, overwrite_a=True), B)

    def dual(self, W):
        """Coefficients on the kernel values (``dual_coef_``) of coefficients W on ``phi``."""
        with serial():
            # L^{-T} W: a triangular product reading the lower triangle of the float32 L^{-1}
            # (the one :meth:`features` applies), in float64; a third of the time of a copy
            # of its lower triangle and a general product (0.6 s at 4,000 landmarks)
            whiten = self.whiten.astype(np.float64, order="F")
            W = np.asarray(W, dtype=np.float64)
            return blas.dtrmm(1.0, whiten, W, side=0, lower=1, trans_a=1)  # a new array

    def scores(self, X, dual):
        """``k(x, landmarks) . dual`` for rows X (``dual``: :meth:`dual`'s coefficients on the
        kernel values), float64 (n, n_outputs): the kernel values in float32 as :meth:`sums`
        computes them (in full blocks of ``_BLOCK`` rows counted from the first, a last one
        padded, so that a row's scores are the same whatever the chunks), without the
        whitening product (most of :meth:`features`' work)."""
        out = np.empty((len(X), dual.shape[1]))
        for a in range(0, len(X), _BLOCK):
            x = X[a : a + _BLOCK]
            n = len(x)
            out[a : a + n] = (rbf(_full_block(x), self.landmarks, self.gamma, self._sq) @ dual)[:n]
        return out


def _full_block(a):
    """Rows ``a`` followed by rows of zeros up to ``_BLOCK`` rows (``a`` itself when full)."""
    if len(a) >= _BLOCK:
        return a
    return np.concatenate([a, np.zeros((_BLOCK - len(a), a.shape[1]), a.dtype)])


def targets(y_enc, n_classes):
    """+1 / -1 targets of class indices: one column per class, or one for two classes."""
    if n_classes == 2:
        return (2.0 * y_enc - 1.0)[:, None]
    Y = -np.ones((len(y_enc), n_classes))
    Y[np.arange(len(y_enc)), y_enc] = 1.0
    return Y


def gaps(S):
    """How sure scores ``S`` are of each row, whatever its label: its highest score minus the
    second highest (for two classes, one column: the score's magnitude)."""
    if S.shape[1] == 1:
        return np.abs(S[:, 0])
    top = np.partition(S, S.shape[1] - 2, axis=1)
    return top[:, -1] - top[:, -2]


def refined_rows(all_gaps, fraction, taken, keys=None):
    """The second stage's rows: ``(tau, hard, pool)``, ``tau`` the gap (:func:`gaps`) at or
    under which a row is refined (the ``int(fraction * rows)``-th smallest; rows at exactly
    that gap are all refined, so the set depends on the gaps alone), ``hard`` the refined rows
    (positions in ``all_gaps``, or ``keys(positions)``), ``pool`` those of them not in
    ``taken`` (the first stage's landmarks), sorted: the second stage's landmark candidates.
    None when either is empty (no second stage)."""
    k = int(fraction * len(all_gaps))
    if k < 1:
        return None
    tau = float(np.partition(all_gaps, k - 1)[k - 1])
    hard = np.flatnonzero(all_gaps <= tau)
    if keys is not None:
        hard = keys(hard)
    pool = np.setdiff1d(hard, taken)
    return (tau, hard, pool) if len(pool) else None


def add_parts(total, part):
    """``total + part`` term by term, arrays in place (``total`` None: a copy of ``part``,
    which is never modified: on Dask it may still be a worker's result).  A new array per part
    would fault in 128 MB of fresh pages for every part's sums at 4,000 landmarks; the same
    additions in the same order as out of place, so the same bits."""
    if total is None:
        return [p.copy() if isinstance(p, np.ndarray) else p for p in part]
    if len(total) != len(part):  # pragma: no cover - every part of a pass has the same terms
        raise ValueError("parts of one pass must have the same number of terms")
    for i, p in enumerate(part):
        if isinstance(total[i], np.ndarray):
            np.add(total[i], p, out=total[i])
        else:
            total[i] = total[i] + p
    return total


def _sum(pairs):
    """The sum of ``(H, B)`` pairs, in their order (:func:`add_parts`)."""
    total = None
    for pair in pairs:
        total = add_parts(total, pair)
    return (0.0, 0.0) if total is None else tuple(total)


def choose_landmarks(n, n_landmarks, random_state):
    """Sorted indices of ``min(n, n_landmarks)`` rows drawn without replacement (seeded)."""
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n, size=min(n, n_landmarks), replace=False))


def distinct_rows(X):
    """(rows, where): the distinct rows of X in their first order and the index of each in X
    (duplicate landmarks would make K_mm singular)."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    _, first = np.unique(X.view(np.dtype((np.void, X.itemsize * X.shape[1]))), return_index=True)
    first = np.sort(first)
    return X[first], first


class NystroemRidgeClassifier(ClassifierMixin, BaseEstimator):
    """RBF kernel ridge classification on Nystroem landmarks: linear in the number of rows.

    Each class is fitted by ridge regression (targets +1 / -1) on the Nystroem features of
    ``n_landmarks`` training rows, from the normal equations summed over the rows, so that
    training streams: time is linear in the rows, memory is set by the landmarks, and the
    model is the same for any chunking and number of threads (this module's docstring; a
    ``GlassBoxClassifier(classifier="kernel-ridge")`` fits it from images read a part at a
    time, or on Dask with :func:`glassbox.dask.fit`).

    When there are more rows than ``n_landmarks``, a second stage refines the first where it
    is least sure: the ``refine_fraction`` of the rows with the smallest gap between their two
    highest first-stage scores (whatever their label) are fitted again, by the same ridge on
    ``refine_landmarks`` of those rows, with the first stage's residuals (target minus score)
    as targets, and the two stages' scores add (the second stage's ridge penalty is 10 times
    the first's).  More landmarks where classes meet, at a fraction of the rows: on validation
    splits of 50,000 training images of Fashion-MNIST, its silhouettes and a deformed
    Fashion-MNIST, 2,000 + 4,000 landmarks are 0.3-0.9 points more accurate than one stage of
    4,000, in about the same time; on 8,000 images and on digits, as accurate.  Either way a
    score is exactly ``sum_i dual_coef_[i, c] * exp(-gamma_ |x - landmarks_[i]|^2)``, the
    landmarks of both stages in order.

    Parameters
    ----------
    n_landmarks : int
        Training rows the first stage's kernel is expanded on (all of them when there are
        fewer).  Its time grows as ``n_rows * n_landmarks**2``, memory as ``n_landmarks**2``.
    alpha : float
        Ridge penalty per row: the normal equations are ``H + alpha * n_rows * I`` (the
        refined rows' count in the second stage).
    gamma : "scale" or float
        RBF width; ``"scale"`` is ``1 / (n_features * X.var())``, as in ``sklearn.svm.SVC``.
    random_state : int, optional
        Seeds the choice of the landmarks.
    refine_landmarks : int
        Landmarks of the second stage, drawn from the refined rows (not the first stage's);
        0: no second stage.  Its time grows as ``refine_fraction * n_rows *
        refine_landmarks**2``.
    refine_fraction : float in [0, 1]
        The share of the rows the second stage fits (0: none).

    Attributes
    ----------
    classes_ : ndarray
    landmarks_ : ndarray of float32, shape (m, n_features)
        Both stages' landmarks: the first stage's, then the second's.
    landmark_images_ : ndarray of int64, shape (m,)
        The training row (image) each landmark is.
    landmark_elements_ : ndarray of int64, shape (m,)
        The index of the group element that moved it, in a ``GlassBoxClassifier`` trained
        on copies (``augment`` or ``invariance``); else 0.
    n_refined_ : int
        Rows the second stage was fitted on (0: one stage).
    gamma_ : float
    dual_coef_ : ndarray of float64, shape (m, n_classes) or (m, 1) for two classes
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from glassbox._nystroem import NystroemRidgeClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = NystroemRidgeClassifier(n_landmarks=500).fit(X[:1500], y[:1500])
    >>> bool(clf.score(X[1500:], y[1500:]) > 0.9)
    True
    >>> clf.n_refined_, clf.landmarks_.shape[0] > 500  # 600 of the 1,500 rows, refined
    (600, True)
    """

    def __init__(self, n_landmarks=2000, alpha=1e-6, gamma="scale", random_state=0,
                 refine_landmarks=4000, refine_fraction=0.4):  # fmt: skip
        self.n_landmarks = n_landmarks
        self.alpha = alpha
        self.gamma = gamma
        self.random_state = random_state
        self.refine_landmarks = refine_landmarks
        self.refine_fraction = refine_fraction

    def _check_params(self):
        check_int(self.n_landmarks, "n_landmarks")
        _check_positive(self.alpha, "alpha")
        if not (isinstance(self.gamma, str) and self.gamma == "scale"):
            _check_positive(self.gamma, "gamma")
        check_int(self.refine_landmarks, "refine_landmarks", min_val=0)
        f = self.refine_fraction
        if isinstance(f, bool) or not isinstance(f, numbers.Real) or not 0 <= f <= 1:
            raise ValueError(f"refine_fraction must be a number in [0, 1], got {f!r}")

    def _refines(self, n_rows):
        """Whether a fit on ``n_rows`` rows has a second stage."""
        return self.refine_landmarks > 0 and self.refine_fraction > 0 and self.n_landmarks < n_rows

    def _gamma(self, var, n_features):
        if isinstance(self.gamma, str):
            return 1.0 / (n_features * var) if var > 0 else 1.0
        return float(self.gamma)

    def fit(self, X, y):
        """Fit on rows X with labels y.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
        y : array_like, shape (n_samples,)

        Returns
        -------
        self
        """
        self._check_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(f"y must hold at least 2 classes, got {self.classes_.size} class")
        X = X.astype(np.float32, copy=False)
        n = len(X)
        gamma = self._gamma(float(X.var(dtype=np.float64)), X.shape[1])
        rows = choose_landmarks(n, self.n_landmarks, self.random_state)
        landmarks, kept = distinct_rows(X[rows])
        Y = targets(y_enc, self.classes_.size)
        workers = resolve_n_threads(None)
        starts = range(0, n, PART)
        with serial():
            nmap = NystroemMap(landmarks, gamma)
            H, B = _sum(
                in_order(nmap.sums, ((X[a : a + PART], Y[a : a + PART]) for a in starts), workers)
            )
            W = nmap.solve(H, B, n, float(self.alpha))
            stages = [(nmap, W, rows[kept], np.zeros(len(kept)))]
            if self._refines(n):
                D = nmap.dual(W)
                S = np.concatenate(
                    list(in_order(nmap.scores, ((X[a : a + PART], D) for a in starts), workers))
                )
                found = refined_rows(gaps(S), float(self.refine_fraction), rows[kept])
                if found is not None:
                    tau, hard, pool = found
                    pick = pool[
                        choose_landmarks(len(pool), self.refine_landmarks, self.random_state)
                    ]
                    landmarks2, kept2 = distinct_rows(X[pick])
                    nmap2 = NystroemMap(landmarks2, gamma)
                    R = Y - S  # the first stage's residuals
                    parts = (
                        (X[h], R[h])
                        for h in (hard[(hard >= a) & (hard < a + PART)] for a in starts)
                    )
                    H2, B2 = _sum(
                        in_order(functools.partial(nmap2.sums, pad=False), parts, workers)
                    )
                    W2 = nmap2.solve(H2, B2, len(hard), _REFINE_ALPHA * float(self.alpha))
                    stages.append((nmap2, W2, pick[kept2], np.zeros(len(kept2))))
            return self._set_fitted(stages, n_refined=0 if len(stages) == 1 else len(hard))

    def _set_fitted(self, stages, n_refined=0):
        """Set the fitted attributes from ``stages``: (map, coefficients on its features,
        images, elements) per stage, ``images`` and ``elements`` saying where each landmark
        comes from."""
        self.dual_coef_ = np.concatenate([nmap.dual(W) for nmap, W, _, _ in stages])
        self.landmarks_ = np.concatenate([nmap.landmarks for nmap, _, _, _ in stages])
        self.gamma_ = stages[0][0].gamma
        self.landmark_images_ = np.concatenate(
            [np.asarray(i, dtype=np.int64) for _, _, i, _ in stages]
        )
        self.landmark_elements_ = np.concatenate(
            [np.asarray(e, dtype=np.int64) for _, _, _, e in stages]
        )
        self.n_refined_ = int(n_refined)
        return self

    def _check_fitted_state(self):
        """Check a fitted state that :meth:`fit` did not make (a loaded model): raises
        ValueError naming the attribute that does not hold."""
        self._check_params()
        L, W = self.landmarks_, self.dual_coef_
        if not (isinstance(L, np.ndarray) and L.dtype == np.float32 and L.ndim == 2
                and L.shape[0] >= 1 and L.shape[1] == self.n_features_in_
                and np.isfinite(L).all()):  # fmt: skip
            raise ValueError(
                f"landmarks_ must be finite float32 of shape (m, {self.n_features_in_})"
            )
        n_out = 1 if len(self.classes_) == 2 else len(self.classes_)
        if not (isinstance(W, np.ndarray) and W.dtype == np.float64
                and W.shape == (L.shape[0], n_out) and np.isfinite(W).all()):  # fmt: skip
            raise ValueError(f"dual_coef_ must be finite float64 of shape {(L.shape[0], n_out)}")
        _check_positive(self.gamma_, "gamma_")
        for name in ("landmark_images_", "landmark_elements_"):
            v = getattr(self, name)
            if not (isinstance(v, np.ndarray) and v.dtype == np.int64
                    and v.shape == (L.shape[0],) and (v >= 0).all()):  # fmt: skip
                raise ValueError(f"{name} must be non-negative int64 of shape ({L.shape[0]},)")
        r = self.n_refined_
        if isinstance(r, bool) or not isinstance(r, numbers.Integral) or r < 0:
            raise ValueError(f"n_refined_ must be a non-negative int, got {r!r}")

    def kernel(self, X):
        """Kernel values of rows X to the landmarks, ``exp(-gamma_ |x - l|^2)``.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)

        Returns
        -------
        ndarray of float64, shape (n_samples, n_landmarks)
        """
        check_is_fitted(self, "dual_coef_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return rbf64(X, self.landmarks_, self.gamma_)

    def decision_function(self, X):
        """Scores: one per class, or for two classes one (positive for ``classes_[1]``).

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)

        Returns
        -------
        ndarray of float64, shape (n_samples, n_classes) or (n_samples,)
        """
        S = self.kernel(X) @ self.dual_coef_
        return S[:, 0] if S.shape[1] == 1 else S

    def predict(self, X):
        """Class labels: the largest score.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)

        Returns
        -------
        ndarray, shape (n_samples,)
        """
        S = self.decision_function(X)
        idx = (S > 0).astype(np.intp) if S.ndim == 1 else S.argmax(axis=1)
        return self.classes_[idx]
