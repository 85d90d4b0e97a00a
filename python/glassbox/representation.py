"""The glass-box representation layer as a scikit-learn transformer."""

from __future__ import annotations

import math
import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from . import _core
from ._validation import (
    check_allocation,
    check_images,
    check_int,
    check_memory,
    check_out,
    image_shape_for,
    resolve_n_threads,
)
from .groups import get_group
from .streaming import transform_chunked

__all__ = ["GlassBoxRepresentation"]

_BLOCKS = ("both", "invariant", "equivariant")
_POOLINGS = ("cells", "smooth")
_NORMALIZE = (None, "sqrt")
_MAX_SMOOTH = 15  # smooth windows of up to 15 + 2 * 7 = 29 taps: binomial weights below 2**28
_INT32 = 2**31


# The eight step directions (dr, dc): the 3x3 grid without its centre, in row-major order.
DIRECTIONS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))
_EXACT = 2**24  # float32 holds every integer up to here
_LAYOUT_BYTES_PER_FEATURE = 300  # names (two Python str each), orbit bookkeeping, temporaries


def _window(size, smooth):
    """The 1-D weights of a pooling window of ``size`` and how many positions it starts before
    the hard window: ``size`` ones and 0, or (smooth) the binomial coefficients ``C(n - 1, t)``
    of ``n = size + 2 (size // 2)`` taps and ``size // 2`` (as the kernel's window_weights)."""
    if not smooth:
        return np.ones(size, dtype=np.int64), 0
    before = size // 2
    n = size + 2 * before
    w = np.array([math.comb(n - 1, t) for t in range(n)], dtype=np.int64)
    return w, before


class GlassBoxRepresentation(TransformerMixin, BaseEstimator):
    """Binarization planes, oriented local steps and pooling as an exactly symmetric feature map.

    Each image is binarized at K thresholds.  Summing the K binary planes gives every pixel a
    *level* (the number of thresholds below it); the features are counts over those planes:

    - **level maps** (equivariant): the number of (pixel, threshold) pairs above threshold in
      every ``pool_size`` x ``pool_size`` window: a sum-pooled, K-level image;
    - **oriented steps** (equivariant): for every distance ``d`` in ``distances``, each of the 8
      directions ``(dr, dc)`` (:data:`DIRECTIONS`) and every ``cell_size`` x ``cell_size`` cell,
      the number of (pixel p, threshold) pairs whose binary plane is 1 at p and 0 at
      ``p + d (dr, dc)`` (0 outside the image).  Equivalently the sum over the cell of
      ``max(level(p) - level(p + d (dr, dc)), 0)``: a ReLU of a directional difference, like a
      CNN's first-layer edge filter, and the 8 directions are that filter's orbit under D4;
    - **second-order steps** (equivariant, with ``second_order=True``): for each pair of
      directions ``(k1, k2)``, the d = 1 step map of ``k1`` summed over 2 x 2 blocks (a map of
      half the image's size, ``B``), and over each cell the sum of ``max(B(q) - B(q + k2), 0)``
      (cells of ``cell_size / 2`` positions of ``B``): how edges of one orientation change
      along another, the glass-box analogue of a scattering transform's second layer;
    - the **invariant block**: each equivariant feature summed over its orbit under the group
      (orbits of window positions; orbits of (distance, direction, cell) triples).

    Windows are hard (``pooling="cells"``: each pixel of the window counted once) or smooth
    (``pooling="smooth"``: a window of ``size`` is widened by ``size // 2`` on each side and
    weighted by the binomial coefficients ``C(n - 1, t)`` of its ``n`` positions along each
    axis, so that a small shift moves a feature a little).  Both keep every feature an exact
    integer count.  ``normalize="sqrt"`` returns the square root of each count (of each orbit's
    summed count in the invariant block), so that large, high-contrast objects do not dominate
    distances; the counts themselves are summed exactly in 64-bit integers first.

    A group element ``h`` moving the images moves the equivariant features among positions,
    cells and directions: ``transform(h·X) == transform(X)[:, feature_permutation(h)]`` bit for
    bit, and the invariant block does not change at all.  Every feature is an integer count
    (checked in :meth:`fit` to stay exact in float32), or with ``normalize="sqrt"`` the square
    root of one, named by :meth:`get_feature_names_out`.

    Parameters
    ----------
    group : str or Group
        Subgroup of D4 (square images for groups with 90-degree rotations or transposes).
    thresholds : int or sequence of numbers
        An int K: K thresholds evenly spaced strictly between the darkest and the brightest
        training pixel, learnt in :meth:`fit` (rounded down for integer images; duplicates
        dropped); or the thresholds themselves.
    pool_size : int
        Side of the level-map windows; must divide H and W.
    cell_size : int
        Side of the step-histogram cells; must divide H and W (so the group maps cells to cells).
    distances : sequence of int
        Step lengths, each in ``[1, min(H, W))``; empty for level maps only.
    pooling : {"smooth", "cells"}
        Overlapping binomial-weighted windows (the default; ``pool_size`` and ``cell_size`` at
        most 15), or hard ones.
    second_order : bool
        Add the 8 x 8 second-order step maps per cell (``cell_size`` must be even).
    normalize : {"sqrt", None}
        The square roots of the counts (the default; rounded once, from the exact count), or
        the counts as they are (exact in float32: :meth:`fit` refuses parameters whose counts
        could reach 2**24).  The defaults, smooth windows and square roots, were chosen on the
        validation splits of five datasets (``python -m bench.accuracy``): more accurate than
        hard cells and raw counts on every Fashion-MNIST set, within one image on digits;
        ``pooling="cells", normalize=None`` gives the defaults of glassbox before.
    blocks : {"both", "invariant", "equivariant"}
        Which blocks :meth:`transform` returns (invariant features first).
    image_shape : (int, int), optional
        Shape of flattened input rows ``(N, H * W)``, one side may be -1 (inferred, as in
        :func:`numpy.reshape`); default: square images.
    n_threads : int, optional
        OpenMP threads of the kernel (see :func:`glassbox.binarize`).

    Attributes
    ----------
    thresholds_ : ndarray of float64
    image_shape_ : tuple of int
    n_features_in_ : int
    n_features_out_ : int
    n_invariant_ : int
        The first ``n_invariant_`` output features are the invariant block (0 with
        ``blocks="equivariant"``).
    block_sizes_ : dict
        Number of features per block (``"invariant"``, ``"equivariant"``) and kind
        (``"level"``, ``"step"``, and ``"step2"`` with ``second_order``).
    level_grid_ : (int, int)
        Windows of the level maps, ``(H // pool_size, W // pool_size)``.
    cell_grid_ : (int, int)
        Cells of the step counts, ``(H // cell_size, W // cell_size)``.
    orbit_index_ : ndarray of int32, shape (n_equivariant,)
        For every equivariant feature (in the order of the equivariant block, whatever
        ``blocks`` is), its orbit under the group: the invariant feature that sums it.

    The equivariant block is ordered: the level maps (``level_grid_``, row-major), then, for
    each distance and direction of :data:`DIRECTIONS`, the cells (``cell_grid_``, row-major),
    then with ``second_order``, for each pair of directions, the cells.

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
        thresholds=32,
        pool_size=2,
        cell_size=4,
        distances=(1, 2),
        pooling="smooth",
        second_order=False,
        normalize="sqrt",
        blocks="both",
        image_shape=None,
        n_threads=None,
    ):
        self.group = group
        self.thresholds = thresholds
        self.pool_size = pool_size
        self.cell_size = cell_size
        self.distances = distances
        self.pooling = pooling
        self.second_order = second_order
        self.normalize = normalize
        self.blocks = blocks
        self.image_shape = image_shape
        self.n_threads = n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []  # always float32 counts
        return tags

    # -- input ---------------------------------------------------------------------------------
    def _images(self, X, shape=None):
        """``X`` checked as images (see ``_validation.check_images``)."""
        return check_images(
            X, fitted_shape=shape, image_shape=self.image_shape, estimator=type(self).__name__
        )

    def _image_shape(self, n_features):
        return image_shape_for(self.image_shape, n_features)

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
        g = get_group(self.group)
        g.check_shape(X.shape, "X")
        H, W = X.shape[1:]
        dists = self._check_geometry(H, W)
        self._check_layout_memory(H, W, "X")
        t = self.thresholds
        if isinstance(t, numbers.Integral) and not isinstance(t, bool):
            if t < 1:
                raise ValueError(f"thresholds must be a positive int or a sequence, got {t}")
            lo, hi = float(X.min()), float(X.max())
            if lo == hi:
                raise ValueError(
                    "X: every training pixel has the same value; cannot place thresholds"
                )
            q = lo + (hi - lo) * (np.arange(1, t + 1) / (t + 1))
            if X.dtype.kind == "u":
                q = np.floor(q)
            thresholds = np.unique(q)
        else:
            thresholds = self._given_thresholds()
        self._check_exact(g, thresholds.size)
        self.thresholds_ = thresholds
        self.distances_ = np.array(dists, dtype=np.int64)
        self.image_shape_ = (H, W)
        self.n_features_in_ = H * W
        self._layout(g)
        return self

    def _check_geometry(self, H, W):
        """``blocks``, ``cell_size``, ``pool_size`` and ``distances`` checked against H x W
        images; returns the distances as a list of ints."""
        if self.blocks not in _BLOCKS:
            raise ValueError(f"blocks must be one of {_BLOCKS}, got {self.blocks!r}")
        if not (isinstance(self.pooling, str) and self.pooling in _POOLINGS):
            raise ValueError(f"pooling must be one of {_POOLINGS}, got {self.pooling!r}")
        if not isinstance(self.second_order, (bool, np.bool_)):
            raise ValueError(f"second_order must be True or False, got {self.second_order!r}")
        norm = self.normalize
        if not (norm is None or (isinstance(norm, str) and norm in _NORMALIZE)):
            raise ValueError(f"normalize must be one of {_NORMALIZE}, got {self.normalize!r}")
        for name in ("cell_size", "pool_size"):
            v = check_int(getattr(self, name), name)
            if H % v or W % v:
                raise ValueError(
                    f"{name}={v} must divide the image sides {H}x{W}: otherwise the group does not "
                    "map the grid onto itself and the features are not exactly symmetric"
                )
            if self.pooling == "smooth" and v > _MAX_SMOOTH:
                raise ValueError(
                    f"{name}={v}: smooth pooling takes windows of at most {_MAX_SMOOTH} pixels "
                    "(their binomial weights must stay 32-bit integers); use pooling='cells'"
                )
        if self.second_order and self.cell_size % 2:
            raise ValueError(
                f"second_order=True needs an even cell_size (its maps have half the image's "
                f"size, pooled over cell_size / 2 cells), got {self.cell_size}"
            )
        try:
            dists = [check_int(d, "distances") for d in self.distances]
        except TypeError:
            raise ValueError(
                f"distances must be a sequence of positive ints, got {self.distances!r}"
            ) from None
        if len(set(dists)) != len(dists) or any(d >= min(H, W) for d in dists):
            raise ValueError(
                f"distances must be distinct and below min(H, W) = {min(H, W)}, got {dists}"
            )
        return dists

    def _given_thresholds(self):
        """``thresholds`` given as numbers: sorted, duplicates dropped, checked."""
        t = self.thresholds
        try:
            thresholds = np.atleast_1d(np.asarray(t, dtype=np.float64))
        except (TypeError, ValueError):
            raise ValueError(
                f"thresholds must be a positive int or a sequence of numbers, got {t!r}"
            ) from None
        if thresholds.ndim != 1 or thresholds.size == 0:
            raise ValueError("thresholds must be a positive int or a non-empty 1-D sequence")
        if not np.isfinite(thresholds).all():
            raise ValueError("thresholds must be finite")
        return np.unique(thresholds)

    def _count_bounds(self, K):
        """(the largest weighted column sum, the largest count) any feature can reach with K
        thresholds: levels and steps are <= K per pixel, the second order's maps <= 4 K."""
        smooth = self.pooling == "smooth"
        kinds = [(self.pool_size, K), (self.cell_size, K)]
        if self.second_order:
            kinds.append((self.cell_size // 2, 4 * K))
        sums = [(int(_window(size, smooth)[0].sum()), value) for size, value in kinds]
        return max(w * v for w, v in sums), max(w * w * v for w, v in sums)

    def _check_exact(self, g, K):
        column, count = self._count_bounds(K)
        if column >= _INT32:
            raise ValueError(
                f"{K} thresholds with these windows give sums beyond 32-bit integers: use fewer "
                "thresholds or smaller windows"
            )
        if self.normalize is None and g.order * count >= _EXACT:
            raise ValueError(
                f"{K} thresholds with these windows under a group of order {g.order} give counts "
                "that float32 cannot hold exactly (>= 2**24): use fewer thresholds, smaller "
                "windows, or normalize='sqrt'"
            )

    def _n_equivariant(self, H, W, dists):
        p, c = self.pool_size, self.cell_size
        n_second = 64 if self.second_order else 0
        return (H // p) * (W // p) + (8 * len(dists) + n_second) * (H // c) * (W // c)

    def _max_features(self, H, W):
        """An upper bound of ``n_features_out_`` for H x W images, from the parameters alone
        (the invariant block has at most as many features as the equivariant one)."""
        n_eq = self._n_equivariant(H, W, self._check_geometry(H, W))
        return n_eq * (2 if self.blocks == "both" else 1)

    def _layout_bytes(self, H, W):
        """What building the feature layout for H x W images needs: a permutation of intp per
        group element, their sorting, and two names a feature (measured: about 230 bytes a
        feature under D4)."""
        order = get_group(self.group).order
        n_eq = self._n_equivariant(H, W, self._check_geometry(H, W))
        return n_eq * (8 * order + _LAYOUT_BYTES_PER_FEATURE)

    def _check_layout_memory(self, H, W, what):
        """Refuse, before building it, a feature layout the memory available cannot hold."""
        n_eq = self._n_equivariant(H, W, self._check_geometry(H, W))
        check_memory(
            self._layout_bytes(H, W),
            f"{what}: images of {H}x{W} give {n_eq:,} equivariant features; their names and "
            "permutations",
            "use smaller images, or larger pool_size and cell_size",
        )

    # The attributes of a fitted representation: its parameters and what fit sets.
    _FITTED = (
        "thresholds_", "distances_", "image_shape_", "n_features_in_", "n_features_out_",
        "n_invariant_", "block_sizes_", "level_grid_", "cell_grid_", "orbit_index_", "_names",
    )  # fmt: skip

    def _check_fitted_state(self):
        """Check a fitted state that :meth:`fit` did not make (a loaded model) as ``__init__``
        and ``fit`` would: every parameter, the learnt thresholds, and the whole feature layout,
        rebuilt from the parameters and compared.  Raises ValueError or TypeError naming the
        first attribute that does not hold."""
        params = set(self._get_param_names())
        present = set(vars(self))
        if present != params | set(self._FITTED):
            odd = sorted(present ^ (params | set(self._FITTED)))
            raise ValueError(f"GlassBoxRepresentation: unexpected or missing attributes {odd}")
        shape = self.image_shape_
        if not (
            isinstance(shape, tuple)
            and len(shape) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in shape)
        ):
            raise ValueError(f"image_shape_ must be a pair of positive ints, got {shape!r}")
        H, W = shape
        g = get_group(self.group)
        g.check_shape((1, H, W), "image_shape_")
        dists = self._check_geometry(H, W)
        d = self.distances_
        if not (isinstance(d, np.ndarray) and d.dtype == np.int64 and d.tolist() == dists):
            raise ValueError(f"distances_ {d!r} does not follow from distances={self.distances!r}")
        t = self.thresholds_
        if not (
            isinstance(t, np.ndarray)
            and t.dtype == np.float64
            and t.ndim == 1
            and t.size
            and np.isfinite(t).all()
            and (np.diff(t) > 0).all()
        ):
            raise ValueError("thresholds_ must be finite, increasing float64 values")
        k = self.thresholds
        if isinstance(k, numbers.Integral) and not isinstance(k, bool):
            if not 1 <= t.size <= k:
                raise ValueError(f"thresholds_ holds {t.size} values, thresholds={k}")
        elif not np.array_equal(self._given_thresholds(), t):
            raise ValueError("thresholds_ does not follow from the thresholds given")
        self._check_exact(g, t.size)
        if self.image_shape is not None:
            self._image_shape(H * W)
        resolve_n_threads(self.n_threads)
        self._check_layout_memory(H, W, "image_shape_")
        fresh = object.__new__(type(self))
        fresh.__dict__.update({k: getattr(self, k) for k in params})
        fresh.thresholds_, fresh.distances_, fresh.image_shape_ = t, d, (H, W)
        fresh.n_features_in_ = H * W
        fresh._layout(g)
        for name in self._FITTED:
            a, b = getattr(fresh, name), getattr(self, name)
            if isinstance(a, np.ndarray):
                same = (
                    isinstance(b, np.ndarray)
                    and a.dtype.kind == b.dtype.kind
                    and (a.shape == b.shape and a.tolist() == b.tolist())
                )
            else:
                same = type(a) is type(b) and a == b
            if not same:
                raise ValueError(
                    f"{name} does not follow from the parameters (group={self.group!r}, "
                    f"image_shape_={shape}, ...): the fitted state is inconsistent"
                )

    def _eq_permutation(self, g, i):
        """Permutation of the equivariant features under element i (see feature_permutation)."""
        OH, OW = self.level_grid_
        CH, CW = self.cell_grid_
        nd = self.distances_.size
        level = g.apply(np.arange(OH * OW).reshape(OH, OW), i).ravel()
        # steps: index array over (distance, 3x3 direction grid, cells); the element moves the
        # cells and turns the directions (the grid's centre, unused, stays put)
        grid = np.full((nd, 3, 3, CH, CW), -1, dtype=np.intp)
        dir_pos = [(dr + 1, dc + 1) for dr, dc in DIRECTIONS]
        for k, (r, c) in enumerate(dir_pos):
            grid[:, r, c] = (np.arange(nd)[:, None, None] * 8 + k) * (CH * CW) + np.arange(
                CH * CW
            ).reshape(CH, CW)
        moved = g.apply(grid, i)  # moves cells (last two axes)
        moved = np.moveaxis(g.apply(np.moveaxis(moved, (1, 2), (-2, -1)), i), (-2, -1), (1, 2))
        steps = np.stack([moved[:, r, c] for r, c in dir_pos], axis=1).ravel()
        pieces = [level, OH * OW + steps]
        if self.second_order:
            # second order: (direction 1, direction 2, cells); the element turns both directions
            grid = np.full((3, 3, 3, 3, CH, CW), -1, dtype=np.intp)
            cells = np.arange(CH * CW).reshape(CH, CW)
            for k1, (r1, c1) in enumerate(dir_pos):
                for k2, (r2, c2) in enumerate(dir_pos):
                    grid[r1, c1, r2, c2] = (k1 * 8 + k2) * (CH * CW) + cells
            moved = g.apply(grid, i)
            for axes in ((0, 1), (2, 3)):
                moved = np.moveaxis(g.apply(np.moveaxis(moved, axes, (-2, -1)), i), (-2, -1), axes)
            second = np.stack(
                [moved[r1, c1, r2, c2] for r1, c1 in dir_pos for r2, c2 in dir_pos]
            ).ravel()
            pieces.append(OH * OW + steps.size + second)
        return np.concatenate(pieces)

    def _layout(self, g):
        H, W = self.image_shape_
        p, c = self.pool_size, self.cell_size
        self.level_grid_, self.cell_grid_ = (H // p, W // p), (H // c, W // c)
        perms = np.stack([self._eq_permutation(g, i) for i in range(g.order)])
        n_eq = perms.shape[1]
        # orbit of feature j: {perm_h[j]}; canonical member: the smallest index
        canonical = perms.min(axis=0)
        reps, inv_index = np.unique(canonical, return_inverse=True)
        self.orbit_index_ = inv_index.ravel().astype(np.int32)
        K = self.thresholds_.size
        kind = "smooth" if self.pooling == "smooth" else "sum"
        names_eq = []
        OH, OW = self.level_grid_
        for r in range(OH):
            for col in range(OW):
                names_eq.append(f"level[K={K}]:{kind}{p}x{p}@({r},{col})")
        CH, CW = self.cell_grid_
        kind = "smooth" if self.pooling == "smooth" else "cell"
        for d in self.distances_:
            for dr, dc in DIRECTIONS:
                for r in range(CH):
                    for col in range(CW):
                        names_eq.append(
                            f"step[K={K},d={d},dir=({dr},{dc})]:{kind}{c}x{c}@({r},{col})"
                        )
        if self.second_order:
            for dr1, dc1 in DIRECTIONS:
                for dr2, dc2 in DIRECTIONS:
                    for r in range(CH):
                        for col in range(CW):
                            names_eq.append(
                                f"step2[K={K},dir1=({dr1},{dc1}),dir2=({dr2},{dc2})]:"
                                f"{kind}{c}x{c}@({r},{col})"
                            )

        def named(block, name):
            return f"{block}:sqrt({name})" if self.normalize == "sqrt" else f"{block}:{name}"

        names_inv = [named("inv", "orbit-of-" + names_eq[j]) for j in reps]
        names_eq = [named("eq", name) for name in names_eq]
        n_level = OH * OW
        n_step = 8 * self.distances_.size * CH * CW
        kinds = {"level": n_level, "step": n_step}
        if self.second_order:
            kinds["step2"] = n_eq - n_level - n_step
        start = np.cumsum([0, *kinds.values()])
        n_inv_kinds = np.diff(np.searchsorted(reps, start))
        inv = self.blocks != "equivariant"
        eq = self.blocks != "invariant"
        self.n_invariant_ = len(names_inv) if inv else 0
        self._names = np.array((names_inv if inv else []) + (names_eq if eq else []), dtype=object)
        self.n_features_out_ = len(self._names)
        self.block_sizes_ = {
            "invariant": dict(zip(kinds, n_inv_kinds.tolist(), strict=True)) if inv else {},
            "equivariant": kinds if eq else {},
        }

    # -- transform -------------------------------------------------------------------------------
    def transform(self, X, out=None):
        """Features of images.

        Parameters
        ----------
        X : array_like, shape (N, H, W) or (N, H * W)
        out : ndarray of float32, shape (N, n_features_out_), optional
            Where to write the features (C-contiguous, writeable, not sharing memory with
            ``X``): reusing one buffer spares the page faults of a fresh array per call.

        Returns
        -------
        ndarray of float32, shape (N, n_features_out_)
            Integer counts, exactly representable in float32 (``out`` when given).
        """
        check_is_fitted(self, "thresholds_")
        X = self._images(X, self.image_shape_)
        shape = (X.shape[0], self.n_features_out_)
        if out is None:
            check_allocation(shape, np.float32, "the output of transform")
            out = np.empty(shape, np.float32)
        else:
            out = check_out(out, shape, np.dtype(np.float32), [X])
        return self._transform_into(X, out)

    def _transform_into(self, X, out):
        """transform() of checked images X into a checked float32 ``out``."""
        nt = resolve_n_threads(self.n_threads)
        n_inv = int(self.orbit_index_.max()) + 1
        _core.glass_features(
            X,
            self.thresholds_,
            self.pool_size,
            self.cell_size,
            self.distances_,
            self.orbit_index_,
            n_inv,
            self.blocks != "equivariant",
            self.blocks != "invariant",
            out,
            nt,
            smooth=self.pooling == "smooth",
            second_order=bool(self.second_order),
            root=self.normalize == "sqrt",
        )
        return out

    def transform_chunked(self, source, out=None, *, chunk_size=10_000, progress=None):
        """Features of images read and written one chunk at a time (bounded memory).

        Parameters
        ----------
        source : array_like, np.memmap, str or path-like
            An ``(N, H, W)`` array or memmap, an ``.npy`` file, an IDX file or a folder of
            image files (see :func:`glassbox.streaming.open_images`).
        out : str, path-like or ndarray, optional
            An ``.npy`` path (written atomically, returned as a read-only memmap) or an array
            to fill; default: a new array.
        chunk_size : int
            Images per chunk; peak memory grows with it, not with N.
        progress : callable, optional
            ``progress(done, total)`` after every chunk.

        Returns
        -------
        ndarray or np.memmap of float32, shape (N, n_features_out_)
            Equal to ``transform(images)`` for any chunk size and thread count.

        See Also
        --------
        glassbox.streaming.transform_chunked
        """
        return transform_chunked(self, source, out, chunk_size=chunk_size, progress=progress)

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
        pieces = [np.arange(self.n_invariant_)]
        if self.blocks != "invariant":
            pieces.append(self.n_invariant_ + self._eq_permutation(g, i))
        return np.concatenate(pieces).astype(np.intp)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features.

        ``eq:level[K=..]:sum{p}x{p}@(r,c)`` is the level sum of window (r, c);
        ``eq:step[K=..,d=..,dir=(dr,dc)]:cell{c}x{c}@(r,c)`` the step count of one distance,
        direction and cell; ``eq:step2[K=..,dir1=..,dir2=..]:cell{c}x{c}@(r,c)`` a second-order
        count; ``inv:orbit-of-...`` the sum of that feature over its group orbit.  Smooth
        windows are named ``smooth{p}x{p}`` / ``smooth{c}x{c}``, and with ``normalize="sqrt"``
        each name is wrapped: ``eq:sqrt(level[...]...)``, ``inv:sqrt(orbit-of-...)``.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "thresholds_")
        return self._names.copy()
