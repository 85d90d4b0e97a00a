"""Why did the model say that?  Exact explanations of the glass-box model's decisions.

Every feature of :class:`~glassbox.GlassBoxRepresentation` is a count of *events*: a (pixel,
threshold) pair above threshold inside a window (level maps), or a (pixel, threshold) pair above
threshold whose neighbour at a step ``d·(dr, dc)`` is not (oriented steps), a second-order step
at a position of the half-size map (``second_order``), each weighted by its window's weight at
that position (1 for hard windows, binomial for ``pooling="smooth"``); the invariant features
are sums of equivariant ones over group orbits.  So a contribution given to a feature
can be handed down, without loss, to the events it counts, and from there to binarization planes,
local patterns, group elements, cells and pixels.

:meth:`GlassBoxClassifier.explain <glassbox.GlassBoxClassifier.explain>` returns an
:class:`Explanation`:

- for the linear classifiers (``"linear"``, ``"lda"``) the scaler, the PCA and the linear layer
  compose into one linear map ``score = baseline + sum_j a_j (F_j - mu_j)``, where ``mu`` is the
  training mean of the features and ``baseline`` the score of that mean.  The decomposition is
  **exact**: it adds up to ``decision_function`` within floating-point rounding;
- for ``"svm"``, ``"knn"`` and ``"mlp"`` the contribution of feature ``j`` is measured by
  **occlusion**: the drop of the target's score when ``F_j`` alone is replaced by its training
  mean.  This is an **approximation**: interactions between features are not captured, and the
  contributions do not add up to ``score - baseline`` (the difference is reported as
  :attr:`Explanation.residual`).

How a feature's contribution ``C_j = a_j (F_j - mu_j)`` is handed down (:meth:`Explanation.heatmap`,
:meth:`Explanation.aggregate`): each event counted by ``F_j`` receives ``a_j``, and the baseline
part ``-a_j mu_j`` is spread evenly over the pixels the feature counts (and evenly over the
binarization planes, and over the members of an invariant feature's orbit).  An event of a step
feature belongs to its pixel ``p`` (the one above threshold), not to the neighbour; a
second-order event to the 2 x 2 pixels of its half-size position, evenly, and to every
binarization plane evenly.  With ``normalize="sqrt"`` a feature is ``F_j = sqrt(n_j)`` of its
weighted event count ``n_j``: each event receives ``a_j F_j / n_j`` times its weight, so that a
feature's events still sum to ``a_j F_j``.  Every aggregate therefore sums to the total
contribution ``sum_j C_j``.
"""

from __future__ import annotations

import functools

import numpy as np

from ._validation import check_int
from .groups import get_group
from .representation import DIRECTIONS, GlassBoxRepresentation, _window

__all__ = [
    "AGGREGATIONS",
    "ExampleExplanation",
    "Explanation",
    "class_prototypes",
    "level_map",
    "step_map",
]

#: The groupings accepted by :meth:`Explanation.aggregate`.
AGGREGATIONS = ("block", "plane", "pattern", "element", "scale", "cell")


def level_map(rep, images):
    """Per-pixel level: the number of the representation's thresholds each pixel exceeds.

    Parameters
    ----------
    rep : GlassBoxRepresentation
        Fitted.
    images : array_like, shape (..., H, W)

    Returns
    -------
    ndarray of int32, same shape
        The level maps of :class:`~glassbox.GlassBoxRepresentation` sum this over each window.

    Examples
    --------
    >>> import numpy as np
    >>> from glassbox import GlassBoxRepresentation
    >>> X = np.array([[[0, 100], [150, 250]]], dtype=np.uint8)
    >>> rep = GlassBoxRepresentation(thresholds=[50, 200], pool_size=1, cell_size=1,
    ...                              distances=(1,)).fit(X)
    >>> level_map(rep, X)[0].tolist()
    [[0, 1], [1, 2]]
    """
    x = np.asarray(images, dtype=np.float64)
    return np.searchsorted(rep.thresholds_, x, side="left").astype(np.int32)


def _neighbour(level, direction, distance):
    """``level`` at ``p + distance * direction`` (0 outside the image), same shape."""
    H, W = level.shape[-2:]
    d = distance
    pad = np.zeros((*level.shape[:-2], H + 2 * d, W + 2 * d), dtype=level.dtype)
    pad[..., d : d + H, d : d + W] = level
    dr, dc = direction
    return pad[..., d + d * dr : d + d * dr + H, d + d * dc : d + d * dc + W]


def step_map(rep, images, direction=(0, 1), distance=1):
    """Per-pixel step of one direction: ``max(level(p) - level(p + d·dir), 0)``.

    The oriented-step features sum this over each cell: it is the number of thresholds at
    which pixel ``p`` is above and its neighbour (0 outside the image) is not.

    Parameters
    ----------
    rep : GlassBoxRepresentation
        Fitted.
    images : array_like, shape (..., H, W)
    direction : (int, int)
        One of :data:`glassbox.representation.DIRECTIONS`.
    distance : int

    Returns
    -------
    ndarray of int32, same shape
    """
    level = level_map(rep, images)
    return np.maximum(level - _neighbour(level, direction, distance), 0)


def _upsample(a, k):
    """(..., h, w) -> (..., h * k, w * k), each value repeated over a k x k block."""
    return np.repeat(np.repeat(a, k, axis=-2), k, axis=-1)


def _equivariant_twin(rep):
    """``rep`` with ``blocks="equivariant"`` and the same fitted thresholds: what explanations
    need of any model (its equivariant block and that block's permutations), through the
    public API."""
    if rep.blocks == "equivariant":
        return rep
    params = {**rep.get_params(), "blocks": "equivariant", "thresholds": rep.thresholds_.tolist()}
    H, W = rep.image_shape_
    return GlassBoxRepresentation(**params).fit(np.zeros((1, H, W)))


class _Layout:
    """Where every equivariant feature of a fitted representation lives (its documented
    ``level_grid_``, ``cell_grid_`` and ``orbit_index_``): kinds, windows, cells, orbits and
    group elements."""

    def __init__(self, rep):
        self.rep = rep
        self.group = get_group(rep.group)
        self.H, self.W = rep.image_shape_
        self.p, self.c = int(rep.pool_size), int(rep.cell_size)
        self.OH, self.OW = rep.level_grid_
        self.CH, self.CW = rep.cell_grid_
        self.dists = [int(d) for d in rep.distances_]
        self.K = int(rep.thresholds_.size)
        self.n_level = self.OH * self.OW
        self.n_cells = self.CH * self.CW
        self.orbit = rep.orbit_index_.astype(np.intp)  # eq feature -> orbit
        self.n_eq = self.orbit.size
        self.n_orbits = int(self.orbit.max()) + 1
        self.orbit_size = np.bincount(self.orbit, minlength=self.n_orbits).astype(np.float64)
        self.n_inv = int(rep.n_invariant_)
        self.has_eq = rep.blocks != "invariant"
        self.smooth = rep.pooling == "smooth"
        self.second_order = bool(rep.second_order)
        self.root = rep.normalize == "sqrt"
        self.n_step = 8 * len(self.dists) * self.n_cells
        # pooling windows as (grid, pixels) weight matrices, rows and columns
        self.level_win = (
            self._weights(self.OH, self.H, self.p),
            self._weights(self.OW, self.W, self.p),
        )
        self.cell_win = (
            self._weights(self.CH, self.H, self.c),
            self._weights(self.CW, self.W, self.c),
        )
        if self.second_order:
            h = self.c // 2
            self.half_win = (
                self._weights(self.CH, self.H // 2, h),
                self._weights(self.CW, self.W // 2, h),
            )

    def _weights(self, n_grid, n_pixels, size):
        """(n_grid, n_pixels): weight of pixel row (or column) r in window g, as the kernel
        pools (positions outside the image dropped)."""
        w, before = _window(size, self.smooth)
        P = np.zeros((n_grid, n_pixels))
        for g in range(n_grid):
            r = g * size - before + np.arange(w.size)
            keep = (r >= 0) & (r < n_pixels)
            P[g, r[keep]] = w[keep]
        return P

    @staticmethod
    def pool(maps, win):
        """(..., h, w) maps -> (..., gh, gw) window sums (what the kernel counts)."""
        return np.einsum("gr,...rc,kc->...gk", win[0], maps, win[1])

    @staticmethod
    def spread(coef, win):
        """(..., gh, gw) window coefficients -> (..., h, w): what each position receives (the
        adjoint of :meth:`pool`)."""
        return np.einsum("gr,...gk,kc->...rc", win[0], coef, win[1])

    @staticmethod
    def spread_evenly(total, win):
        """(..., gh, gw) totals spread over each window in proportion to its weights (each
        window's share sums to its total)."""
        mass = np.outer(win[0].sum(1), win[1].sum(1))
        return _Layout.spread(total / mass, win)

    def maps(self, images):
        """The per-pixel maps the features pool: levels (N, H, W), first-order steps
        (N, n_dists, 8, H, W) and, with the second order, its maps (N, 8, 8, H/2, W/2)."""
        level = level_map(self.rep, images)
        steps = (
            np.stack(
                [
                    np.stack(
                        [np.maximum(level - _neighbour(level, k, d), 0) for k in DIRECTIONS], 1
                    )
                    for d in self.dists
                ],
                1,
            )
            if self.dists
            else np.zeros((len(level), 0, 8, self.H, self.W), np.int32)
        )
        second = None
        if self.second_order:
            N, H, W = level.shape
            if 1 in self.dists:  # the d = 1 step maps, already computed
                s1 = steps[:, self.dists.index(1)]
            else:
                s1 = np.stack(
                    [np.maximum(level - _neighbour(level, k, 1), 0) for k in DIRECTIONS], 1
                )
            b = s1.reshape(N, 8, H // 2, 2, W // 2, 2).sum(axis=(3, 5))
            second = np.stack([np.maximum(b - _neighbour(b, k, 1), 0) for k in DIRECTIONS], 2)
        return level, steps, second

    def counts(self, maps):
        """(N, n_eq) float64: the equivariant features before normalisation (exact)."""
        level, steps, second = maps
        N = len(level)
        parts = [
            self.pool(level.astype(np.float64), self.level_win).reshape(N, -1),
            self.pool(steps.astype(np.float64), self.cell_win).reshape(N, -1),
        ]
        if self.second_order:
            parts.append(self.pool(second.astype(np.float64), self.half_win).reshape(N, -1))
        return np.concatenate(parts, axis=1)

    @functools.cached_property
    def eq(self):
        """The equivariant twin (its transform and feature_permutation: the equivariant block),
        built on first use: class prototypes and aggregations that stay on the layout do not
        need it."""
        return _equivariant_twin(self.rep)

    def element_shares(self):
        """(n_eq, order): feature j of x is the canonical member of its orbit seen in h·x for
        the elements h of its row, which share it equally (rows sum to 1)."""
        g = self.group
        canonical = np.full(self.n_orbits, np.iinfo(np.intp).max, dtype=np.intp)
        np.minimum.at(canonical, self.orbit, np.arange(self.n_eq))
        M = np.zeros((self.n_eq, g.order))
        for h in range(g.order):
            perm = self.eq.feature_permutation(h)
            M[perm[canonical], h] += 1.0
        return M / M.sum(axis=1, keepdims=True)

    def pattern_names(self):
        names = ["level"]
        for d in self.dists:
            names += [f"step d={d} dir=({dr},{dc})" for dr, dc in DIRECTIONS]
        if self.second_order:
            names += [f"step2 dir1={a} dir2={b}" for a in DIRECTIONS for b in DIRECTIONS]
        return names

    def pattern_of(self):
        """Pattern class of every equivariant feature: 0 = level, 1 + 8 * i + k = step of
        distance i, direction k, then 1 + 8 * n_dists + 8 * k1 + k2 = second order."""
        step = np.arange(self.n_eq - self.n_level) // self.n_cells
        return np.concatenate([np.zeros(self.n_level, np.intp), 1 + step])

    def scale_of(self):
        """Scale of every pattern of :meth:`pattern_names` and the scales' names."""
        nd = len(self.dists)
        names = ["level"] + [f"step d={d}" for d in self.dists]
        scale = [0] + [1 + i for i in range(nd) for _ in range(8)]
        if self.second_order:
            names.append("second order")
            scale += [1 + nd] * 64
        return np.array(scale, dtype=np.intp), names


class Explanation:
    """The decision scores of a :class:`~glassbox.GlassBoxClassifier` for some images, broken
    down into contributions of the representation's features.

    Made by :meth:`GlassBoxClassifier.explain <glassbox.GlassBoxClassifier.explain>`; see
    :mod:`glassbox.explain` for the method and how contributions are handed down.

    Attributes
    ----------
    target : ndarray, shape (N,)
        The class explained for each image (a label of ``classes_``).
    score : ndarray of float64, shape (N,)
        The model's score for the target: ``decision_function`` for the linear classifiers (for
        two classes, the score of ``classes_[1]`` and its negative for ``classes_[0]``), the
        sum of the target's one-vs-one margins for the SVM, ``predict_proba`` for k-NN and the
        MLP.
    baseline : ndarray of float64, shape (N,)
        The score of the training mean of the features.
    contributions : ndarray of float64, shape (N, n_features)
        One value per representation feature (columns as ``feature_names``).
    feature_names : ndarray of str
    exact : bool
        True when ``baseline + contributions.sum(1) == score`` up to rounding (linear models).
    method : {"linear", "occlusion"}
    residual : ndarray of float64, shape (N,)
        ``score - baseline - contributions.sum(1)``: rounding for the linear models, the part
        the occlusion approximation does not account for otherwise.
    images : ndarray, shape (N, H, W)
        The images explained.
    """

    def __init__(
        self, rep, images, features, slopes, mean, target, score, baseline, method, offsets=None
    ):
        # contributions = slopes * features - offsets; offsets = slopes * mean unless given
        # (an invariant model's offsets are not one mean per feature)
        self._rep = rep
        self._layout = _Layout(rep)
        self.images = images
        self._slopes = slopes
        self._offsets = slopes * mean if offsets is None else offsets
        self.target = target
        self.score = score
        self.baseline = baseline
        self._features = features.astype(np.float64)
        self.contributions = slopes * self._features - self._offsets
        self.feature_names = rep.get_feature_names_out()
        self.method = method
        self.exact = method == "linear"
        self.residual = score - baseline - self.contributions.sum(axis=1)
        self._eq = self._maps_ = self._heat = None  # computed once, on first use

    def __len__(self):
        return self.score.shape[0]

    def __repr__(self):
        kind = "exact" if self.exact else "approximate"
        return f"<Explanation of {len(self)} image(s), {self.method} ({kind})>"

    # -- the contributions in the equivariant layout ---------------------------------------------
    def _eq_terms(self):
        """(c, beta, n): every contribution as ``c_j * n_j - beta_j`` over the equivariant
        features, ``n`` their counts (invariant ones handed to their orbit's members).  With
        ``normalize="sqrt"`` a feature is ``sqrt(n)``, and each of its events receives
        ``a_j F_j / n_j``, so that the events of a feature still sum to ``a_j F_j``."""
        if self._eq is None:
            L = self._layout
            N = len(self)
            a, off, F = self._slopes, self._offsets, self._features
            n = L.counts(self._maps())
            c = np.zeros((N, L.n_eq))
            beta = np.zeros((N, L.n_eq))

            def per_event(F, n):  # F / n where counts are > 0 (F is 0 where they are not)
                if not L.root:
                    return np.ones_like(n)
                return np.divide(F, n, out=np.zeros_like(n), where=n > 0)

            if L.has_eq:
                a_eq = a[:, L.n_inv :]
                c += a_eq * per_event(F[:, L.n_inv :], n)
                beta += off[:, L.n_inv :]
            if L.n_inv:
                a_inv = a[:, : L.n_inv]
                n_inv = np.stack([np.bincount(L.orbit, row, L.n_orbits) for row in n])
                c += (a_inv * per_event(F[:, : L.n_inv], n_inv))[:, L.orbit]
                beta += (off[:, : L.n_inv] / L.orbit_size)[:, L.orbit]
            self._eq = (c, beta, n)
        return self._eq

    def _maps(self):
        """The per-pixel maps of the images (see ``_Layout.maps``), computed once."""
        if self._maps_ is None:
            self._maps_ = self._layout.maps(self.images)
        return self._maps_

    def _eq_contributions(self):
        c, beta, F_eq = self._eq_terms()
        return c * F_eq - beta

    # -- pixels ----------------------------------------------------------------------------------
    def heatmap(self):
        """Contributions on the image grid.

        Each event counted by a feature puts the feature's coefficient on its pixel; the
        baseline part is spread evenly over the feature's window or cell.

        Returns
        -------
        ndarray of float64, shape (N, H, W)
            ``heatmap().sum((1, 2)) == contributions.sum(1)`` up to rounding.
        """
        return self._heatmap().copy()

    def _heatmap(self):
        """The cached heatmap (aggregate("cell") sums it): computed once, never handed out."""
        if self._heat is None:
            self._heat = self._compute_heatmap()
        return self._heat

    def _compute_heatmap(self):
        L = self._layout
        c, beta, _ = self._eq_terms()
        N = len(self)
        level, steps, second = self._maps()
        lv, st = slice(0, L.n_level), slice(L.n_level, L.n_level + L.n_step)
        grid = (N, L.OH, L.OW)
        out = L.spread(c[:, lv].reshape(grid), L.level_win) * level
        out -= L.spread_evenly(beta[:, lv].reshape(grid), L.level_win)
        cells = (N, len(L.dists), 8, L.CH, L.CW)
        out += (L.spread(c[:, st].reshape(cells), L.cell_win) * steps).sum(axis=(1, 2))
        out -= L.spread_evenly(beta[:, st].reshape(cells).sum(axis=(1, 2)), L.cell_win)
        if L.second_order:  # an event at a half-size position: its 2 x 2 pixels, evenly
            nd = slice(L.n_level + L.n_step, None)
            cells = (N, 8, 8, L.CH, L.CW)
            half = (L.spread(c[:, nd].reshape(cells), L.half_win) * second).sum(axis=(1, 2))
            half -= L.spread_evenly(beta[:, nd].reshape(cells).sum(axis=(1, 2)), L.half_win)
            out += _upsample(half, 2) / 4
        return out

    # -- aggregates ------------------------------------------------------------------------------
    def aggregate(self, by):
        """Contributions summed over groups of features.

        Parameters
        ----------
        by : {"block", "plane", "pattern", "element", "scale", "cell"}
            - ``"block"``: invariant / equivariant block and kind (level maps, steps);
            - ``"plane"``: binarization plane ``x > t_k`` (each event belongs to one plane);
            - ``"pattern"``: the local pattern: level, or a step of one distance and direction
              (an invariant feature is handed to its orbit's members, which have directions);
            - ``"element"``: group element ``h``: what the canonical patterns contribute as seen
              in ``h·x``;
            - ``"scale"``: level maps, or steps of one distance;
            - ``"cell"``: the heatmap summed over each ``cell_size`` x ``cell_size`` cell.

        Returns
        -------
        names : list of str
        values : ndarray of float64, shape (N, len(names))
            Each row sums to ``contributions.sum(1)`` of that image, up to rounding.
        """
        L = self._layout
        if by == "block":
            names, values, a = [], [], 0
            for block, sizes in self._rep.block_sizes_.items():
                for kind, n in sizes.items():  # features in this order: see block_sizes_
                    names.append(f"{block} {kind}")
                    values.append(self.contributions[:, a : a + n].sum(axis=1))
                    a += n
            return names, np.stack(values, axis=1)
        if by == "plane":
            return self._by_plane()
        if by in ("pattern", "scale"):
            E = self._eq_contributions()
            pat = L.pattern_of()
            names = L.pattern_names()
            if by == "scale":
                scale, names = L.scale_of()
                pat = scale[pat]
            onehot = np.zeros((L.n_eq, len(names)))
            onehot[np.arange(L.n_eq), pat] = 1.0
            return names, E @ onehot
        if by == "element":
            return list(L.group.elements), self._eq_contributions() @ L.element_shares()
        if by == "cell":
            h = self._heatmap().reshape(len(self), L.CH, L.c, L.CW, L.c).sum(axis=(2, 4))
            names = [f"cell ({r},{col})" for r in range(L.CH) for col in range(L.CW)]
            return names, h.reshape(len(self), -1)
        raise ValueError(f"by must be one of {AGGREGATIONS}, got {by!r}")

    def _by_plane(self):
        """Plane k holds the events at threshold k: ``level(p) > k`` for level maps and
        ``level(q) <= k < level(p)`` for steps; summed with difference arrays over k."""
        L = self._layout
        c, beta, n = self._eq_terms()
        N, K = len(self), L.K
        level = self._maps()[0].reshape(N, -1)
        base = (np.arange(N) * (K + 1))[:, None]
        diff = np.zeros(N * (K + 1))

        def add(coef, start, stop):  # +coef on planes [start, stop) of each pixel
            keep = stop > start
            diff[:] += np.bincount((base + start)[keep], coef[keep], N * (K + 1))
            diff[:] -= np.bincount((base + stop)[keep], coef[keep], N * (K + 1))

        grid = (N, L.OH, L.OW)
        c_level = L.spread(c[:, : L.n_level].reshape(grid), L.level_win).reshape(N, -1)
        add(c_level, np.zeros_like(level), level)
        cells = (N, len(L.dists), 8, L.CH, L.CW)
        c_step = L.spread(c[:, L.n_level : L.n_level + L.n_step].reshape(cells), L.cell_win)
        lv2 = level.reshape(N, L.H, L.W)
        for i, d in enumerate(L.dists):
            for k, direction in enumerate(DIRECTIONS):
                q = _neighbour(lv2, direction, d).reshape(N, -1)
                add(c_step[:, i, k].reshape(N, -1), q, level)
        planes = np.cumsum(diff.reshape(N, K + 1), axis=1)[:, :K]
        if L.second_order:  # not an event of one plane: shared evenly
            second = slice(L.n_level + L.n_step, None)
            planes += (c[:, second] * n[:, second]).sum(axis=1, keepdims=True) / K
        planes -= beta.sum(axis=1, keepdims=True) / K
        t = self._rep.thresholds_
        return [f"plane {k}: x > {t[k]:g}" for k in range(K)], planes


def class_prototypes(rep, means):
    """Class-mean features mapped back to the image grid (see
    :meth:`GlassBoxClassifier.class_prototypes <glassbox.GlassBoxClassifier.class_prototypes>`).
    """
    L = _Layout(rep)
    means = np.asarray(means, dtype=np.float64)
    C = means.shape[0]
    if L.n_inv:  # the orbit sums, handed evenly to their members
        sym = (means[:, : L.n_inv] / L.orbit_size)[:, L.orbit]
    else:  # the same from the equivariant block: the orbit average
        eq = means[:, L.n_inv :]
        sums = np.zeros((C, L.n_orbits))
        for k in range(C):
            sums[k] = np.bincount(L.orbit, eq[k], L.n_orbits)
        sym = (sums / L.orbit_size)[:, L.orbit]

    def window_mean(v, win):  # per pixel: its windows' per-pixel means, weighted as it is in them
        return L.spread_evenly(v, win) / L.spread(np.ones(v.shape[-2:]), win)

    def maps(eq):
        if L.root:  # back to (approximate) counts
            eq = eq**2
        level = window_mean(eq[:, : L.n_level].reshape(C, L.OH, L.OW), L.level_win) / L.K
        cells = (C, len(L.dists) * 8, L.CH, L.CW)
        steps = eq[:, L.n_level : L.n_level + L.n_step].reshape(cells).sum(axis=1)
        return level, window_mean(steps, L.cell_win)

    out = {}
    out["level_invariant"], out["edges_invariant"] = maps(sym)
    if L.has_eq:
        out["level"], out["edges"] = maps(means[:, L.n_inv :])
    else:
        out["level"] = out["edges"] = None
    return out


class ExampleExplanation:
    """The scores of a kernel model broken down, exactly, onto training images.

    Made by :meth:`GlassBoxClassifier.explain_examples
    <glassbox.GlassBoxClassifier.explain_examples>`.  A kernel model's score is a weighted sum
    of its kernel values to some training images (the landmarks of ``"kernel-ridge"``):
    ``score = baseline + contributions.sum(1)``, one contribution per training image.

    Attributes
    ----------
    target : ndarray, shape (N,)
        The class explained for each image.
    score : ndarray of float64, shape (N,)
        The model's ``decision_function`` for the target.
    baseline : ndarray of float64, shape (N,)
        The part of the score that no training image carries (0 for kernel ridge).
    contributions : ndarray of float64, shape (N, n_examples)
        ``weight * kernel value`` of each training image for each image.
    training_images : ndarray of int64, shape (n_examples,)
        Index of each example in the training images given to ``fit``.
    elements : ndarray of int64, shape (n_examples,)
        Index (in the group's ``elements``) of the group element that moved the training
        image, for a model trained on copies (``augment``, ``invariance``); else 0.
    exact : bool
        Always True: ``baseline + contributions.sum(1)`` equals ``score`` up to rounding.
    """

    exact = True

    def __init__(self, target, score, baseline, contributions, training_images, elements):
        self.target = target
        self.score = score
        self.baseline = baseline
        self.contributions = contributions
        self.training_images = training_images
        self.elements = elements

    def __len__(self):
        return self.score.shape[0]

    def __repr__(self):
        return (
            f"<ExampleExplanation of {len(self)} image(s) onto "
            f"{self.contributions.shape[1]} training images (exact)>"
        )

    def top(self, k=10):
        """The ``k`` training images with the largest contributions (in absolute value) to
        each image's score.

        Parameters
        ----------
        k : int

        Returns
        -------
        training_images, elements : ndarray of int64, shape (N, k)
        contributions : ndarray of float64, shape (N, k)
            Largest absolute value first.
        """
        k = min(check_int(k, "k"), self.contributions.shape[1])
        order = np.argsort(-np.abs(self.contributions), axis=1, kind="stable")[:, :k]
        rows = np.arange(len(self))[:, None]
        return (
            self.training_images[order],
            self.elements[order],
            self.contributions[rows, order],
        )
