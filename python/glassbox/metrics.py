"""Class separability of feature matrices, and equivariance / invariance errors of feature maps.

Separability (larger is better unless said otherwise):

- :func:`class_distances`: mean intra-class and inter-class Euclidean distance and their ratio
  (the glass-box paper's measure; *smaller* ratio is better),
- :func:`fisher_criterion`: ``trace(pinv(S_w) S_b)`` on the first principal components,
- :func:`silhouette`: the silhouette coefficient with the true labels as clusters,
- :func:`separability`: all three.

Symmetry: :func:`equivariance_error` and :func:`invariance_error` of any feature map under a
group, per element or averaged; :func:`relative_error` is the per-sample measure behind both,
for features computed elsewhere (for example a network's activations).
"""

from __future__ import annotations

import numpy as np

from ._validation import check_allocation, check_int, refuse_sparse_or_masked
from .groups import get_group

__all__ = [
    "class_distances",
    "equivariance_error",
    "fisher_criterion",
    "invariance_error",
    "relative_error",
    "separability",
    "silhouette",
]


def _features_and_labels(X, y):
    refuse_sparse_or_masked(X, "X")
    refuse_sparse_or_masked(y, "y")
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must be a numeric array, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must not be empty, got shape {X.shape}")
    if X.dtype != np.float64:
        check_allocation(X.shape, np.float64, "a float64 copy of X")
    X = X.astype(np.float64, copy=False)
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinite values")
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
    classes, y = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise ValueError("y must contain at least two classes")
    return X, y.ravel()


def _sample(X, y, max_samples, random_state):
    max_samples = check_int(max_samples, "max_samples", min_val=2)
    if X.shape[0] <= max_samples:
        return X, y
    rng = np.random.default_rng(random_state)
    idx = np.sort(rng.choice(X.shape[0], size=max_samples, replace=False))
    return X[idx], y[idx]


def class_distances(X, y, *, max_samples=2000, random_state=0):
    """Mean intra-class and inter-class Euclidean distances.

    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
    y : array_like, shape (n_samples,)
        Class labels (at least two classes).
    max_samples : int
        Pairs are taken among at most this many samples, drawn at random without replacement
        (all pairs of a 70,000-sample set would be 2.4e9 distances); they are computed a
        block of rows at a time (about 4 million distances: a few temporaries of 32 MB beside
        a copy of the sample), not as an n x n matrix.
    random_state : int
        Seed of that draw.

    Returns
    -------
    dict
        ``intra``: mean distance over pairs of distinct samples of the same class; ``inter``:
        over pairs of different classes; ``ratio``: ``intra / inter`` (smaller separates better).

    Examples
    --------
    >>> from glassbox.metrics import class_distances
    >>> d = class_distances([[0.0], [1.0], [10.0], [11.0]], [0, 0, 1, 1])
    >>> d["intra"], d["inter"], round(d["ratio"], 3)
    (1.0, 10.0, 0.1)
    """
    X, y = _features_and_labels(X, y)
    X, y = _sample(X, y, max_samples, random_state)
    n_same = int(np.sum(np.bincount(y).astype(np.int64) ** 2)) - len(y)  # ordered pairs, i != j
    if n_same == 0:
        raise ValueError("no two samples share a class; intra-class distance is undefined")
    n_diff = len(y) * (len(y) - 1) - n_same
    # rows in class order: a class's pairs are then a slice of each row's distances
    order = np.argsort(y, kind="stable")
    X, y = X[order], y[order]
    bounds = np.searchsorted(y, np.arange(y.max() + 2))  # class c: rows bounds[c]:bounds[c+1]
    sq = np.einsum("ij,ij->i", X, X)
    # X @ X.T is never formed: NumPy hands a product of an array with its own transpose to
    # BLAS's syrk, and OpenBLAS's threaded syrk crashes on large outputs (numpy/numpy#19685;
    # 20,000 x 400 float64 on a 2-core machine).  Blocks of rows against a copy of X.T make it
    # a general product, with memory set by the block rather than by n^2.
    XT = np.ascontiguousarray(X.T)
    same_sum = diff_sum = 0.0
    step = _distance_rows(len(X))
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        for a in range(lo, hi, step):
            b = slice(a, min(a + step, hi))
            d = np.sqrt(np.maximum(sq[b, None] + sq[None, :] - 2.0 * (X[b] @ XT), 0.0))
            rows = np.arange(len(d))
            d[rows, rows + a] = 0.0  # a sample and itself (rounding leaves about 1e-8)
            within = float(d[:, lo:hi].sum())
            same_sum += within
            diff_sum += float(d.sum()) - within
    intra = same_sum / n_same
    inter = diff_sum / n_diff if n_diff else float("nan")
    return {"intra": intra, "inter": inter, "ratio": intra / inter if inter > 0 else float("inf")}


def _distance_rows(n):
    """Rows of a block of :func:`class_distances`: about 2**22 distances (32 MB) at a time."""
    return max(1, min(n, 2**22 // max(n, 1)))


def fisher_criterion(X, y, *, n_components=20, random_state=0):
    """Fisher's criterion ``trace(pinv(S_w) S_b)`` on the first principal components.

    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
    y : array_like, shape (n_samples,)
    n_components : int
        Principal components kept (fewer when X has fewer samples or features).
    random_state : int
        For the randomized PCA solver on large inputs.

    Returns
    -------
    float
        Larger separates better; scale-invariant.

    Examples
    --------
    >>> from glassbox.metrics import fisher_criterion
    >>> fisher_criterion([[0.0, 0], [1, 0], [10, 0], [11, 0]], [0, 0, 1, 1], n_components=1)
    100.0
    """
    from sklearn.decomposition import PCA

    X, y = _features_and_labels(X, y)
    n_components = check_int(n_components, "n_components")
    k = int(min(n_components, X.shape[0] - 1, X.shape[1]))
    Z = (
        PCA(n_components=k, random_state=random_state).fit_transform(X)
        if k < X.shape[1]
        else X - X.mean(0)
    )
    mean = Z.mean(axis=0)
    Sw = np.zeros((Z.shape[1], Z.shape[1]))
    Sb = np.zeros_like(Sw)
    for c in np.unique(y):
        Zc = Z[y == c]
        mc = Zc.mean(axis=0)
        Sw += (Zc - mc).T @ (Zc - mc)
        Sb += Zc.shape[0] * np.outer(mc - mean, mc - mean)
    return float(np.trace(np.linalg.pinv(Sw) @ Sb))


def silhouette(X, y, *, max_samples=2000, random_state=0):
    """Silhouette coefficient of the classes, in [-1, 1] (larger separates better).

    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
    y : array_like, shape (n_samples,)
    max_samples, random_state :
        As in :func:`class_distances`.

    Returns
    -------
    float
    """
    from sklearn.metrics import silhouette_score

    X, y = _features_and_labels(X, y)
    X, y = _sample(X, y, max_samples, random_state)
    if np.unique(y).size < 2:
        raise ValueError("the sample holds fewer than two classes; raise max_samples")
    return float(silhouette_score(X, y))


def separability(X, y, *, n_components=20, max_samples=2000, random_state=0):
    """Distance ratio, Fisher criterion and silhouette of one feature matrix.

    Parameters
    ----------
    X, y, n_components, max_samples, random_state :
        See :func:`class_distances`, :func:`fisher_criterion` and :func:`silhouette`.

    Returns
    -------
    dict
        ``ratio``, ``intra``, ``inter``, ``fisher``, ``silhouette``.
    """
    out = class_distances(X, y, max_samples=max_samples, random_state=random_state)
    out["fisher"] = fisher_criterion(X, y, n_components=n_components, random_state=random_state)
    out["silhouette"] = silhouette(X, y, max_samples=max_samples, random_state=random_state)
    return out


def relative_error(actual, expected, *, scale=None, per_sample=False):
    """Mean relative distance ``||actual_i - expected_i|| / ||scale_i||`` over samples ``i``.

    The measure behind :func:`equivariance_error` and :func:`invariance_error`, for features
    that are already computed: pass ``phi(g x)`` and ``g phi(x)`` for an equivariance error,
    ``phi(g x)`` and ``phi(x)`` for an invariance error, ``phi(x_j)`` and ``phi(x_i)`` of
    unrelated images for the chance level.

    Parameters
    ----------
    actual, expected : array_like, shape (n_samples, ...)
        Same shape; each sample is flattened.
    scale : array_like, shape (n_samples, ...), optional
        Samples whose norms are the denominators; default ``expected``.
    per_sample : bool
        Return the (n_samples,) array of errors instead of their mean.

    Returns
    -------
    float or ndarray of float64
        A sample whose denominator is 0 counts 0 when ``actual_i == expected_i`` and infinity
        otherwise.

    Examples
    --------
    >>> from glassbox.metrics import relative_error
    >>> relative_error([[3.0, 4.0], [1.0, 0.0]], [[3.0, 4.0], [2.0, 0.0]])
    0.25
    """
    for arr, name in ((actual, "actual"), (expected, "expected"), (scale, "scale")):
        refuse_sparse_or_masked(arr, name)
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        raise ValueError(f"actual has shape {a.shape}, expected has shape {e.shape}")
    if a.ndim < 1 or a.shape[0] == 0:
        raise ValueError(f"actual and expected need at least one sample, got shape {a.shape}")
    s = e if scale is None else np.asarray(scale, dtype=np.float64)
    if s.shape[:1] != a.shape[:1]:
        raise ValueError(f"scale must have {a.shape[0]} samples, got shape {s.shape}")
    n = a.shape[0]
    num = np.linalg.norm((a - e).reshape(n, -1), axis=1)
    den = np.linalg.norm(s.reshape(n, -1), axis=1)
    if not (np.all(np.isfinite(num)) and np.all(np.isfinite(den))):
        raise ValueError("actual, expected or scale contains NaN or infinite values")
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.where(num > 0, np.inf, 0.0))
    return rel if per_sample else float(rel.mean())


def _relative_errors(feature_map, X, group, element, act):
    g = get_group(group)
    refuse_sparse_or_masked(X, "X")
    X = np.asarray(X)
    g.check_shape(X.shape, "X")
    elements = [i for i in range(g.order) if i != 0] if element is None else [g.index(element)]
    base = np.asarray(feature_map(X), dtype=np.float64)
    if base.shape[0] != X.shape[0]:
        raise ValueError(f"feature_map must return one row per image, got shape {base.shape}")
    errors = {}
    for i in elements:
        moved = np.asarray(feature_map(np.ascontiguousarray(g.apply(X, i))), dtype=np.float64)
        expected = np.asarray(act(base, i), dtype=np.float64)
        if moved.shape != expected.shape:
            raise ValueError(
                f"feature_map(g x) has shape {moved.shape}, "
                f"g acting on features gives {expected.shape}"
            )
        errors[g.elements[i]] = relative_error(moved, expected, scale=base)
    return errors


def equivariance_error(feature_map, X, group="D4", element=None, *, act=None, per_element=False):
    """Mean relative equivariance error ``||phi(g x) - g phi(x)|| / ||phi(x)||``.

    Parameters
    ----------
    feature_map : callable
        ``phi``: maps an image batch (N, ..., H, W) to features with one row per image.
    X : array_like, shape (N, ..., H, W)
    group : str or Group
    element : int or str, optional
        One element; default: every element except the identity, averaged.
    act : callable, optional
        ``act(features, i)`` applies element ``i`` to ``phi(x)``.  Default: the group acting on
        the last two axes of the features (spatial feature maps).  For a vector representation
        with a feature permutation ``P_i``, pass ``lambda F, i: F[:, P_i]``.
    per_element : bool
        Return a dict element name -> error instead of the mean.

    Returns
    -------
    float or dict
        0 for an exactly equivariant map.  Images with ``phi(x) == 0`` count 0 when
        ``phi(g x) == g phi(x)`` and infinity otherwise.

    Examples
    --------
    >>> import numpy as np, glassbox as gb
    >>> x = np.random.default_rng(0).integers(0, 256, (4, 8, 8), dtype=np.uint8)
    >>> equivariance_error(lambda a: gb.pool(a, 2), x, "D4")
    0.0
    """
    g = get_group(group)
    act = act or (lambda F, i: g.apply(F, i))
    errors = _relative_errors(feature_map, X, g, element, act)
    return errors if per_element else float(np.mean(list(errors.values())))


def invariance_error(feature_map, X, group="D4", element=None, *, per_element=False):
    """Mean relative invariance error ``||phi(g x) - phi(x)|| / ||phi(x)||``.

    Parameters
    ----------
    feature_map, X, group, element, per_element :
        As in :func:`equivariance_error`.

    Returns
    -------
    float or dict
        0 for an exactly invariant map.

    Examples
    --------
    >>> import numpy as np, glassbox as gb
    >>> x = np.random.default_rng(0).integers(0, 256, (4, 8, 8), dtype=np.uint8)
    >>> invariance_error(lambda a: gb.group_pool(gb.orbit(a, "D4")), x, "D4")
    0.0
    """
    errors = _relative_errors(feature_map, X, group, element, lambda F, i: F)
    return errors if per_element else float(np.mean(list(errors.values())))
