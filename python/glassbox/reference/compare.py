"""Per-layer equivariance and class separability: AlexNet (black box) beside the glass box.

For a network layer ``phi_l`` and the non-identity elements ``g`` of a group, on images
``x_1 .. x_n``:

- **equivariance error** ``E_l(g) = mean_i ||phi_l(g x_i) - g phi_l(x_i)|| / ||phi_l(x_i)||``,
  ``g`` acting on the feature map's spatial axes (conv layers only);
- **chance**: the same distance between unrelated images,
  ``mean_i ||phi_l(x_j(i)) - phi_l(x_i)|| / ||phi_l(x_i)||`` with ``j(i) != i`` a fixed random
  pairing; ``E_l / chance`` near 1 means ``phi_l(g x)`` is no closer to ``g phi_l(x)`` than an
  unrelated image's features are;
- **invariance error** after global average pooling (conv layers) or of the vector itself (fc
  layers): ``mean_i ||gap(phi_l(g x_i)) - gap(phi_l(x_i))|| / ||gap(phi_l(x_i))||``;
- optionally the **fitted-map error** of Lenc & Vedaldi (2015): per element, a 1x1 channel map
  with bias ``M_g`` fitted by ridge regression so that ``phi_l(g x) ~ M_g(g phi_l(x))`` on the
  first half of the images, its error measured on the second half (divided by
  ``||phi_l(x)||``); small when the layer is equivariant up to a channel permutation or mixing;
- **separability** (:func:`glassbox.metrics.separability`) of each layer's flattened features.

The glass-box layers (pixels, the representation's equivariant and invariant blocks, all of the
representation, and PCA when a classifier is fitted) get the same measures, with the group acting
on the representation through :meth:`~glassbox.GlassBoxRepresentation.feature_permutation`:
their equivariance and invariance errors are exactly 0 by construction.

All distances come from :func:`glassbox.metrics.relative_error`.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import metrics
from .._validation import check_int
from ..groups import get_group

__all__ = ["alexnet_layers", "glassbox_layers"]


def _pairing(n, seed):
    """A fixed random pairing ``j(i) != i`` (a cyclic shift of a random order)."""
    if n < 2:
        raise ValueError("the chance level needs at least two images")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    shift = int(rng.integers(1, n))
    j = np.empty(n, dtype=np.intp)
    j[order] = order[(np.arange(n) + shift) % n]
    return j


def _labels(y, n):
    """Class labels for the separability, checked."""
    if y is None:
        raise ValueError("y (class labels) is needed for separability")
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},), got {y.shape}")
    return y


def _gap(a):
    return a.mean(axis=(2, 3)) if a.ndim == 4 else a


class _RidgeMap:
    """Streaming ridge regression ``Y ~ [A, 1] M`` over positions (rows) of channel vectors."""

    def __init__(self, c):
        self.ata = np.zeros((c + 1, c + 1))
        self.aty = np.zeros((c + 1, c))
        self.m = None

    @staticmethod
    def _rows(a):  # (n, C, h, w) -> (n h w, C + 1)
        rows = np.moveaxis(a, 1, -1).reshape(-1, a.shape[1]).astype(np.float64)
        return np.hstack([rows, np.ones((rows.shape[0], 1))])

    def add(self, a, y):
        ra = self._rows(a)
        self.ata += ra.T @ ra
        self.aty += ra.T @ np.moveaxis(y, 1, -1).reshape(-1, y.shape[1])

    def solve(self, alpha=1e-6):
        c = self.ata.shape[0] - 1
        lam = alpha * max(np.trace(self.ata[:c, :c]) / max(c, 1), 1e-12)
        reg = lam * np.eye(c + 1)
        reg[c, c] = 0.0  # the bias is not penalised
        self.m = np.linalg.solve(self.ata + reg, self.aty)

    def apply(self, a):
        out = self._rows(a) @ self.m  # (n h w, C)
        n, c, h, w = a.shape
        return np.moveaxis(out.reshape(n, h, w, c), -1, 1)


def _check_prepared(x, g, fit_maps):
    """x as prepared images the group acts on, or a ValueError."""
    x = np.asarray(x)
    if x.ndim != 4 or x.dtype != np.float32:
        raise ValueError(f"x must be a float32 (N, C, S, S) array, got {x.dtype} {x.shape}")
    n = x.shape[0]
    if n < (4 if fit_maps else 2):
        raise ValueError(f"x needs at least {4 if fit_maps else 2} images, got {n}")
    g.check_shape(x.shape, "x")
    return x


def _element_errors(model, g, i, x, base, layers, conv, fit_maps, bounds, batch_size, tick):
    """Per-image errors of element i: invariance (every layer), equivariance and the fitted
    map's (conv layers; the maps fitted on the first half, tested on the second)."""
    from .alexnet import activations

    n = x.shape[0]
    half = n // 2
    e_rows = {name: np.empty(n) for name in conv}
    i_rows = {name: np.empty(n) for name in layers}
    f_rows = {name: np.empty(n - half) for name in conv}
    maps = {name: _RidgeMap(base[name].shape[1]) for name in conv} if fit_maps else {}
    for a, b in bounds:
        if fit_maps and a == half:
            for m in maps.values():
                m.solve()
        moved = activations(
            model, np.ascontiguousarray(g.apply(x[a:b], i)), layers, batch_size=batch_size
        )
        for name in layers:
            ref = base[name][a:b]
            i_rows[name][a:b] = metrics.relative_error(
                _gap(moved[name]), _gap(ref), per_sample=True
            )
            if name not in e_rows:
                continue
            g_ref = g.apply(ref, i)
            e_rows[name][a:b] = metrics.relative_error(
                moved[name], g_ref, scale=ref, per_sample=True
            )
            if fit_maps and a < half:
                maps[name].add(g_ref, moved[name])
            elif fit_maps:
                f_rows[name][a - half : b - half] = metrics.relative_error(
                    moved[name], maps[name].apply(g_ref), scale=ref, per_sample=True
                )
        tick(b - a)
    return i_rows, e_rows, f_rows


def alexnet_layers(
    model,
    x,
    y=None,
    *,
    group="D4",
    layers=None,
    fit_maps=False,
    separability=True,
    seed=0,
    batch_size=64,
    progress=None,
):
    """Equivariance, invariance and separability of every layer of an AlexNet.

    Parameters
    ----------
    model : glassbox.reference.alexnet.AlexNet
    x : ndarray of float32, shape (N, C, S, S)
        Prepared images (:func:`glassbox.reference.alexnet.prepare_images`); the group acts on
        them directly.  N >= 2 (N >= 4 with ``fit_maps``).
    y : array_like, shape (N,), optional
        Class labels, needed for ``separability``.
    group : str or Group
    layers : sequence of str, optional
        Default: all of :data:`~glassbox.reference.alexnet.LAYERS`.  The equivariance error and
        fitted map are defined for conv layers only (``None`` for fc layers).
    fit_maps : bool
        Also fit and test Lenc & Vedaldi's 1x1 channel maps.
    separability : bool
        Also compute :func:`glassbox.metrics.separability` of each layer's flattened features.
    seed : int
        Seed of the chance pairing (and of the separability's sampling).
    batch_size : int
        Images per forward pass.
    progress : callable, optional
        ``progress(done, total)`` counting forward passes over images.

    Warns
    -----
    UserWarning
        When the input size misaligns a stage's grid under the group's flips and rotations
        (:func:`~glassbox.reference.alexnet.misaligned_stages`): the errors then include a grid
        shift; the warning names the nearest aligned size.

    Returns
    -------
    dict
        Layer name -> ``{"shape", "equivariance", "equivariance_per_element", "chance",
        "equivariance_vs_chance", "invariance", "invariance_per_element", "fitted_map",
        "fitted_map_per_element", "separability"}`` (floats, ``None`` where undefined).
    """
    from .alexnet import CONV_LAYERS, LAYERS, activations, alignment_message

    g = get_group(group)
    layers = list(LAYERS if layers is None else layers)
    x = _check_prepared(x, g, fit_maps)
    n = x.shape[0]
    if separability:
        y = _labels(y, n)
    if g.order > 1 and x.shape[-1] == x.shape[-2]:
        msg = alignment_message(model, x.shape[-1])
        if msg:
            warnings.warn(msg, UserWarning, stacklevel=2)
    batch_size = check_int(batch_size, "batch_size")
    conv = [name for name in layers if name in CONV_LAYERS]
    others = [i for i in range(g.order) if i != 0]
    total, done = n * g.order, 0

    def tick(k):
        nonlocal done
        done += k
        if progress is not None:
            progress(done, total)

    base = {name: [] for name in layers}
    for a in range(0, n, batch_size):
        acts = activations(model, x[a : a + batch_size], layers, batch_size=batch_size)
        for name in layers:
            base[name].append(acts[name])
        tick(min(batch_size, n - a))
    base = {name: np.concatenate(v) for name, v in base.items()}
    pair = _pairing(n, seed)

    eq = {name: {} for name in conv}
    inv = {name: {} for name in layers}
    fit = {name: {} for name in conv} if fit_maps else None
    half = n // 2
    # batches never straddle the half: the maps are fitted on [0, half) and tested on the rest
    bounds = [(a, min(a + batch_size, half)) for a in range(0, half, batch_size)]
    bounds += [(a, min(a + batch_size, n)) for a in range(half, n, batch_size)]
    for i in others:
        i_rows, e_rows, f_rows = _element_errors(
            model, g, i, x, base, layers, conv, fit_maps, bounds, batch_size, tick
        )
        for name in layers:
            inv[name][g.elements[i]] = float(i_rows[name].mean())
        for name in conv:
            eq[name][g.elements[i]] = float(e_rows[name].mean())
            if fit_maps:
                fit[name][g.elements[i]] = float(f_rows[name].mean())

    out = {}
    for name in layers:
        feats = base[name]
        chance = metrics.relative_error(feats[pair], feats)
        e = float(np.mean(list(eq[name].values()))) if name in eq and others else None
        row = {
            "shape": list(feats.shape[1:]),
            "equivariance": e,
            "equivariance_per_element": eq.get(name),
            "chance": chance,
            "equivariance_vs_chance": (e / chance if e is not None and chance > 0 else None),
            "invariance": float(np.mean(list(inv[name].values()))) if others else None,
            "invariance_per_element": inv[name],
            "fitted_map": (
                float(np.mean(list(fit[name].values()))) if fit_maps and name in fit else None
            ),
            "fitted_map_per_element": fit.get(name) if fit_maps else None,
            "separability": (
                metrics.separability(feats.reshape(n, -1), y, random_state=seed)
                if separability
                else None
            ),
        }
        out[name] = row
    return out


def glassbox_layers(representation, images, y=None, *, reduced=None, separability=True, seed=0):
    """The same measures for the glass-box layers.

    Layers: ``pixels`` (the images themselves), ``equivariant`` and ``invariant`` (the
    representation's blocks), ``representation`` (both), and ``pca`` when ``reduced`` is given.
    The group acts on pixels spatially and on the representation through
    ``representation.feature_permutation``; both errors are then exactly 0 where the
    construction says so (the fitted-map error is not needed: the map is a known permutation).

    Parameters
    ----------
    representation : GlassBoxRepresentation
        Fitted, with ``blocks="both"``.
    images : array_like, shape (N, H, W)
    y : array_like, shape (N,), optional
        Needed for ``separability``.
    reduced : array_like, shape (N, k), optional
        The images' PCA features (separability only; PCA features carry no group action).
    separability : bool
    seed : int
        Seed of the chance pairing and of the separability's sampling.

    Returns
    -------
    dict
        Layer name -> the keys of :func:`alexnet_layers` (``fitted_map`` is ``None``).
    """
    from sklearn.utils.validation import check_is_fitted

    rep = representation
    check_is_fitted(rep, "thresholds_")
    if rep.blocks != "both":
        raise ValueError(f"representation must have blocks='both', got {rep.blocks!r}")
    g = get_group(rep.group)
    x = np.asarray(images)
    n = x.shape[0] if x.ndim else 0
    if x.ndim != 3 or n < 2:
        raise ValueError(f"images must be (N, H, W) with N >= 2, got shape {x.shape}")
    if separability:
        y = _labels(y, n)
    k = rep.n_invariant_
    F = rep.transform(x)
    blocks = {
        "pixels": (lambda a: np.asarray(a, np.float64), None),
        "equivariant": (lambda a: rep.transform(a)[:, k:], slice(k, None)),
        "invariant": (lambda a: rep.transform(a)[:, :k], slice(0, k)),
        "representation": (rep.transform, slice(None)),
    }
    others = [i for i in range(g.order) if i != 0]
    perms = {i: rep.feature_permutation(i) for i in range(g.order)}
    pair = _pairing(n, seed)
    out = {}
    for name, (phi, cols) in blocks.items():
        if cols is None:
            act = lambda A, i: g.apply(A, i)  # noqa: E731
            feats = np.asarray(x, np.float64)
        else:
            sub = np.arange(F.shape[1])[cols]
            where = np.full(F.shape[1], -1)
            where[sub] = np.arange(sub.size)

            def act(A, i, sub=sub, where=where):  # the block's columns, permuted as a whole
                return A[:, where[perms[i][sub]]]

            feats = F[:, cols]
        eq = metrics.equivariance_error(phi, x, g, act=act, per_element=True) if others else {}
        iv = metrics.invariance_error(phi, x, g, per_element=True) if others else {}
        chance = metrics.relative_error(feats[pair], feats)
        e = float(np.mean(list(eq.values()))) if others else None
        out[name] = {
            "shape": list(feats.shape[1:]),
            "equivariance": e,
            "equivariance_per_element": eq,
            "chance": chance,
            "equivariance_vs_chance": e / chance if e is not None and chance > 0 else None,
            "invariance": float(np.mean(list(iv.values()))) if others else None,
            "invariance_per_element": iv,
            "fitted_map": None,
            "fitted_map_per_element": None,
            "separability": (
                metrics.separability(feats.reshape(n, -1), y, random_state=seed)
                if separability
                else None
            ),
        }
    if reduced is not None:
        z = np.asarray(reduced, np.float64)
        if z.ndim != 2 or z.shape[0] != n:
            raise ValueError(f"reduced must have shape ({n}, k), got {z.shape}")
        out["pca"] = {
            "shape": [z.shape[1]],
            "equivariance": None,
            "equivariance_per_element": None,
            "chance": metrics.relative_error(z[pair], z),
            "equivariance_vs_chance": None,
            "invariance": None,
            "invariance_per_element": None,
            "fitted_map": None,
            "fitted_map_per_element": None,
            "separability": (
                metrics.separability(z, y, random_state=seed) if separability else None
            ),
        }
    return out
