"""The glass-box representation layer as a scikit-learn transformer."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._kernels import binarize, cell_histograms, local_patterns, pattern_table, represent_fused
from ._validation import IMAGE_DTYPES, as_array, check_allocation
from .groups import get_group

__all__ = ["GlassBoxRepresentation"]

_BLOCKS = ("both", "invariant", "equivariant")


def _grid_orbits(group, n_rows, n_cols):
    """Orbit index of every position of an (n_rows, n_cols) grid under the group, and one
    representative (the smallest flat index) per orbit."""
    dest = np.stack([group.act_on_index(i, n_rows, n_cols).ravel() for i in range(group.order)])
    canonical = dest.min(axis=0)
    reps, orbit = np.unique(canonical, return_inverse=True)
    return orbit.ravel(), reps


class GlassBoxRepresentation(TransformerMixin, BaseEstimator):
    """Binarization planes, local-pattern orbits and pooling as an exactly symmetric feature map.

    For each of K thresholds the images are binarized.  The **equivariant block** holds (a) the
    binary planes sum-pooled over ``pool_size`` x ``pool_size`` windows and (b) for every cell of
    ``cell_size`` x ``cell_size`` pixels, the histogram of the 3x3 local-pattern orbit classes
    under the group (:func:`glassbox.local_patterns`).  A group element ``h`` moving the image
    moves these features among positions and cells: ``transform(h·X) ==
    transform(X)[:, feature_permutation(h)]``, bit for bit.  The **invariant block** sums each of
    them over the group's orbits of positions and of cells, so it does not change at all.

    Parameters
    ----------
    group : str or Group
        Subgroup of D4 (square images for groups with 90-degree rotations or transposes).
    thresholds : int or sequence of numbers
        An int K: K thresholds at the quantiles ``k / (K + 1)`` of the training pixels above the
        darkest value, learnt in :meth:`fit`; or the thresholds themselves.
    cell_size : int
        Side of the histogram cells; must divide H and W (so that the group maps cells to cells).
    pool_size : int
        Side of the pooling windows; must divide H and W.
    blocks : {"both", "invariant", "equivariant"}
        Which blocks :meth:`transform` returns (invariant features first).
    image_shape : (int, int), optional
        Shape of flattened input rows ``(N, H * W)``; default: square images.
    n_threads : int, optional
        OpenMP threads of the kernels (see :func:`glassbox.binarize`).

    Attributes
    ----------
    thresholds_ : ndarray of float64
    image_shape_ : tuple of int
    n_features_in_ : int
    n_features_out_ : int
    n_invariant_ : int
        The first ``n_invariant_`` output features are the invariant block (with ``blocks="both"``).

    Examples
    --------
    >>> import numpy as np
    >>> from glassbox import GlassBoxRepresentation, get_group
    >>> X = np.random.default_rng(0).integers(0, 256, (10, 28, 28), dtype=np.uint8)
    >>> rep = GlassBoxRepresentation(thresholds=[64, 128]).fit(X)
    >>> F = rep.transform(X)
    >>> g = get_group("D4")
    >>> bool(np.array_equal(rep.transform(g.apply(X, "r90")), F[:, rep.feature_permutation("r90")]))
    True
    """

    def __init__(
        self,
        group="D4",
        thresholds=4,
        cell_size=7,
        pool_size=2,
        blocks="both",
        image_shape=None,
        n_threads=None,
    ):
        self.group = group
        self.thresholds = thresholds
        self.cell_size = cell_size
        self.pool_size = pool_size
        self.blocks = blocks
        self.image_shape = image_shape
        self.n_threads = n_threads

    # -- input ---------------------------------------------------------------------------------
    def _images(self, X, shape=None):
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise TypeError(f"X must hold numbers, got dtype {X.dtype}")
        native = X.dtype.newbyteorder("=")
        if native not in IMAGE_DTYPES or not X.flags.c_contiguous:
            # a copy or conversion follows: refuse it before allocating (or scanning) anything
            # that cannot fit, e.g. a broadcast view far larger than memory
            itemsize = (
                native.itemsize if native in IMAGE_DTYPES else (8 if X.dtype.kind == "f" else 2)
            )
            check_allocation(X.shape, np.dtype(f"u{itemsize}"), "a copy of X")
        if native not in IMAGE_DTYPES:
            if X.dtype.kind in "biu":
                if X.size and (X.min() < 0 or X.max() > 65535):
                    raise ValueError("X: integer images must lie in [0, 65535]")
                X = X.astype(np.uint16 if X.size and X.max() > 255 else np.uint8)
            else:
                X = X.astype(np.float64)
        if X.ndim == 2:
            n_features = X.shape[1]
            if shape is None:
                if self.image_shape is not None:
                    shape = tuple(int(s) for s in self.image_shape)
                else:
                    side = int(round(n_features**0.5))
                    if side * side != n_features:
                        raise ValueError(
                            f"X has {n_features} features per row, not a square image: "
                            "pass image_shape=(H, W)"
                        )
                    shape = (side, side)
            if shape[0] * shape[1] != n_features:
                raise ValueError(f"X has {n_features} features per row but image_shape is {shape}")
            X = X.reshape(X.shape[0], *shape)
        elif X.ndim != 3:
            raise ValueError(f"X must be (N, H, W) images or (N, H*W) rows, got shape {X.shape}")
        elif shape is not None and X.shape[1:] != tuple(shape):
            raise ValueError(f"X has images of shape {X.shape[1:]}, fitted on {tuple(shape)}")
        # C-contiguous, native, finite (NaN / inf refused naming X), non-empty
        return as_array(X, "X", dtypes=IMAGE_DTYPES, ndims=(3,))

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, X, y=None):
        """Learn the thresholds (when ``thresholds`` is an int) and the feature layout.

        Parameters
        ----------
        X : array_like, shape (N, H, W) or (N, H * W)
        y : ignored

        Returns
        -------
        self
        """
        X = self._images(X)
        if self.blocks not in _BLOCKS:
            raise ValueError(f"blocks must be one of {_BLOCKS}, got {self.blocks!r}")
        g = get_group(self.group)
        g.check_shape(X.shape, "X")
        H, W = X.shape[1:]
        for name in ("cell_size", "pool_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
            if H % v or W % v:
                raise ValueError(
                    f"{name}={v} must divide the image sides {H}x{W}: otherwise the group does not "
                    "map the grid onto itself and the features are not exactly symmetric"
                )
        t = self.thresholds
        if isinstance(t, numbers.Integral) and not isinstance(t, bool):
            if t < 1:
                raise ValueError(f"thresholds must be a positive int or a sequence, got {t}")
            sample = X[: min(len(X), 5000)].ravel()
            bright = sample[sample > sample.min()]
            if bright.size == 0:
                raise ValueError(
                    "X: every training pixel has the same value; cannot place thresholds"
                )
            q = np.quantile(bright.astype(np.float64), np.arange(1, t + 1) / (t + 1))
            if X.dtype.kind == "u":
                q = np.floor(q)
            thresholds = np.unique(q)
        else:
            thresholds = np.atleast_1d(np.asarray(t, dtype=np.float64))
            if thresholds.ndim != 1 or thresholds.size == 0:
                raise ValueError("thresholds must be a positive int or a non-empty 1-D sequence")
        self.thresholds_ = thresholds
        self.image_shape_ = (H, W)
        self.n_features_in_ = H * W
        self._layout(g)
        return self

    def _layout(self, g):
        H, W = self.image_shape_
        K = self.thresholds_.size
        p, c = self.pool_size, self.cell_size
        table = pattern_table(g, 3)
        n_classes = len(table.canonical_codes)
        self._pool_grid, self._cell_grid = (H // p, W // p), (H // c, W // c)
        self._pos_orbit, self._pos_reps = _grid_orbits(g, *self._pool_grid)
        self._cell_orbit, self._cell_reps = _grid_orbits(g, *self._cell_grid)
        self._n_classes = n_classes
        # equivariant layouts: (K, OH, OW) planes, (K, C, CH, CW) histograms
        self._eq_shapes = ((K, *self._pool_grid), (K, n_classes, *self._cell_grid))
        names_inv, names_eq = [], []
        ts = [f"{v:g}" for v in self.thresholds_]
        for k in range(K):
            for rep in self._pos_reps:
                r, col = divmod(int(rep), self._pool_grid[1])
                names_inv.append(f"inv:plane[x>{ts[k]}]:sum{p}x{p}:orbit-of({r},{col})")
        for k in range(K):
            for cl in range(n_classes):
                for rep in self._cell_reps:
                    r, col = divmod(int(rep), self._cell_grid[1])
                    names_inv.append(
                        f"inv:pattern[x>{ts[k]}]:class{cl}(code {table.canonical_codes[cl]}):"
                        f"cell-orbit-of({r},{col})"
                    )
        for k in range(K):
            for r in range(self._pool_grid[0]):
                for col in range(self._pool_grid[1]):
                    names_eq.append(f"eq:plane[x>{ts[k]}]:sum{p}x{p}@({r},{col})")
        for k in range(K):
            for cl in range(n_classes):
                for r in range(self._cell_grid[0]):
                    for col in range(self._cell_grid[1]):
                        names_eq.append(
                            f"eq:pattern[x>{ts[k]}]:class{cl}(code {table.canonical_codes[cl]})"
                            f"@cell({r},{col})"
                        )
        self.n_invariant_ = len(names_inv) if self.blocks != "equivariant" else 0
        names = (names_inv if self.blocks != "equivariant" else []) + (
            names_eq if self.blocks != "invariant" else []
        )
        self._names = np.array(names, dtype=object)
        self.n_features_out_ = len(names)

    # -- transform -------------------------------------------------------------------------------
    def _equivariant_arrays(self, X):
        g = get_group(self.group)
        nt = self.n_threads
        t = self.thresholds_
        planes = represent_fused(
            X, list(t), group="trivial", size=self.pool_size, mode="sum", n_threads=nt
        )
        planes = planes[:, 0]  # (N, K, OH, OW)
        hists = np.empty((X.shape[0], t.size, self._n_classes, *self._cell_grid), dtype=np.int32)
        for k, tk in enumerate(t):
            classes = local_patterns(binarize(X, tk, n_threads=nt), g, n_threads=nt).classes
            hists[:, k] = cell_histograms(classes, self._n_classes, self.cell_size, n_threads=nt)
        return planes, hists

    @staticmethod
    def _indicator(orbit, n_orbits):
        """(positions, orbits) 0/1 float32 matrix: a product with it sums each orbit exactly
        (every count here is far below 2**24)."""
        m = np.zeros((orbit.size, n_orbits), dtype=np.float32)
        m[np.arange(orbit.size), orbit] = 1.0
        return m

    _CHUNK = 4096  # images per pass: bounds the temporaries and keeps them in cache

    def transform(self, X):
        """Features of images.

        Parameters
        ----------
        X : array_like, shape (N, H, W) or (N, H * W)

        Returns
        -------
        ndarray of float32, shape (N, n_features_out_)
            Integer counts, exactly representable in float32.
        """
        check_is_fitted(self, "thresholds_")
        X = self._images(X, self.image_shape_)
        N = X.shape[0]
        check_allocation((N, self.n_features_out_), np.float32, "the output of transform")
        out = np.empty((N, self.n_features_out_), dtype=np.float32)
        pos_m = self._indicator(self._pos_orbit, self._pos_reps.size)
        cell_m = self._indicator(self._cell_orbit, self._cell_reps.size)
        for a in range(0, N, self._CHUNK):
            b = min(N, a + self._CHUNK)
            planes, hists = self._equivariant_arrays(X[a:b])
            n = b - a
            planes = planes.reshape(n, -1, planes.shape[-2] * planes.shape[-1]).astype(np.float32)
            hists = hists.reshape(n, -1, hists.shape[-2] * hists.shape[-1]).astype(np.float32)
            parts = []
            if self.blocks != "equivariant":
                parts += [(planes @ pos_m).reshape(n, -1), (hists @ cell_m).reshape(n, -1)]
            if self.blocks != "invariant":
                parts += [planes.reshape(n, -1), hists.reshape(n, -1)]
            col = 0
            for part in parts:
                out[a:b, col : col + part.shape[1]] = part
                col += part.shape[1]
        return out

    def feature_permutation(self, element):
        """The permutation of output features caused by a group element.

        Parameters
        ----------
        element : int or str
            An element of ``group`` (index or name).

        Returns
        -------
        ndarray of intp, shape (n_features_out_,)
            ``perm`` with ``transform(group.apply(X, element)) == transform(X)[:, perm]``; the
            identity on the invariant block.
        """
        check_is_fitted(self, "thresholds_")
        g = get_group(self.group)
        i = g.index(element)
        pieces, offset = [], 0
        if self.blocks != "equivariant":
            pieces.append(np.arange(self.n_invariant_))
            offset = self.n_invariant_
        if self.blocks != "invariant":
            for shape in self._eq_shapes:
                n = int(np.prod(shape))
                idx = np.arange(n).reshape(shape)
                pieces.append(offset + np.ascontiguousarray(g.apply(idx, i)).ravel())
                offset += n
        return np.concatenate(pieces).astype(np.intp)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features: block, binarization plane, pattern class (with its
        canonical code), pooling window or cell, and position or orbit.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "thresholds_")
        return self._names.copy()
