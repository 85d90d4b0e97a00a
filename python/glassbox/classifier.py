"""The three-layer glass-box model: representation -> StandardScaler -> PCA -> classifier."""

from __future__ import annotations

import copy
import itertools
import numbers
import os
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils import assert_all_finite
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from . import _fit_stream
from ._kernels import permuted_copies
from ._nystroem import NystroemRidgeClassifier, rbf64
from ._validation import (
    check_allocation,
    check_images,
    check_int,
    check_memory,
    refuse_sparse_or_masked,
)
from .explain import ExampleExplanation, Explanation, class_prototypes
from .groups import get_group
from .representation import GlassBoxRepresentation
from .streaming import ImageSource, fit_reduction
from .streaming._sources import opened

__all__ = ["CLASSIFIERS", "GlassBoxClassifier"]

#: Names accepted by ``GlassBoxClassifier(classifier=...)``.
CLASSIFIERS = ("svm", "linear", "lda", "knn", "mlp", "kernel-ridge")
_LINEAR = ("linear", "lda")
_REDUCE_CHUNK = 4096  # rows of features reduced at once in float64
_OCCLUSION_ROWS = 16_384  # occluded copies scored per classifier call
_KNN_NEIGHBOURS = 5
_RIDGE_C = 1e-5  # kernel-ridge's alpha is _RIDGE_C / C (1e-6 at the default C=10)


def _add_class_sums(sums, F, y_enc):
    """sums[k] += the sum of the rows of F of class k (in float64)."""
    for k in np.unique(y_enc):
        sums[k] += F[y_enc == k].sum(axis=0, dtype=np.float64)


def _make_classifier(name, C, random_state, n_samples=0, n_classes=2):
    if name == "svm":
        return SVC(C=C, kernel="rbf", gamma="scale")
    if name == "linear":
        return LogisticRegression(C=C, max_iter=2000)
    if name == "lda":
        return LinearDiscriminantAnalysis()
    if name == "kernel-ridge":
        return NystroemRidgeClassifier(alpha=_RIDGE_C / C, random_state=random_state)
    if name == "knn":
        # brute force: exact, what "auto" picks beyond 15 dimensions anyway, and no tree
        # object in the fitted state (so that glassbox.save_model can store it without pickle)
        return KNeighborsClassifier(n_neighbors=_KNN_NEIGHBOURS, algorithm="brute")
    if name == "mlp":
        # early stopping holds out 10% of the samples: only when that holds every class
        return MLPClassifier(
            hidden_layer_sizes=(256,),
            alpha=1e-3,
            max_iter=200,
            random_state=random_state,
            early_stopping=n_samples // 10 >= 2 * n_classes,
        )
    raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {name!r}")


def _has(method):
    def check(self):
        if hasattr(self, "classifier_"):
            return hasattr(self.classifier_, method)
        try:
            return hasattr(_make_classifier(self.classifier, 1.0, None), method)
        except ValueError:  # an unknown classifier name: fit will say so
            return False

    return check


class GlassBoxClassifier(ClassifierMixin, BaseEstimator):
    """Representation -> StandardScaler -> PCA -> classifier, every stage inspectable.

    Parameters
    ----------
    representation : GlassBoxRepresentation, optional
        The first layer (cloned in :meth:`fit`); default ``GlassBoxRepresentation()``.
    n_components : int
        Principal components kept (at most the number of samples and of features).  400: on
        validation splits of 50,000 training images of Fashion-MNIST, its silhouettes and a
        deformed Fashion-MNIST, 0.3-0.45 points more accurate than 200 with the SVM and
        0.1-0.4 with kernel ridge (about the same at 8,000 images); the SVM's time grows with
        it (``python -m bench.accuracy --n-components K``).
    classifier : {"svm", "linear", "lda", "knn", "mlp", "kernel-ridge"}
        RBF support-vector machine (``C``, ``gamma="scale"``), multinomial logistic regression
        (``C``), linear discriminant analysis, 5-nearest neighbours, a one-hidden-layer
        perceptron (256 units; early stopping on 10% of the samples when there are enough), or
        RBF kernel ridge regression on 2,000 Nystroem landmarks, then on 4,000 more where it is
        least sure (:class:`~glassbox._nystroem.NystroemRidgeClassifier`, ``gamma="scale"``):
        its time is linear in the number of training images and its memory independent of it,
        and it trains from files and streams (``fit`` with a path or a source, see
        :meth:`fit`).
    C : float
        Inverse regularisation of ``"svm"``, ``"linear"`` and ``"kernel-ridge"`` (whose ridge
        penalty per row is ``1e-5 / C``).
    scale : bool
        Standardise the representation's features before PCA.
    random_state : int, optional
        Seeds PCA's randomised solver and the MLP.
    pca_batch_size : int, optional
        For training sets whose features do not fit in memory: compute the features in chunks
        of this many images and fit the scaler and an ``IncrementalPCA`` with ``partial_fit``
        over them (:func:`glassbox.streaming.fit_reduction`), so that only the principal
        components of all images are held at once.  ``X`` may then be an ``np.memmap``.
        Default: one ``PCA`` on all features in memory.
    augment : str or Group, optional
        Train on every training image moved by every element of this group (a subgroup of
        the representation's), for free: the features of ``h·x`` are those of ``x`` permuted
        (:meth:`GlassBoxRepresentation.feature_permutation`, exact bit for bit), so features
        are computed once per image and the scaler, PCA and classifier see ``order`` times
        as many rows (class means included).  Default: the images as given.
    invariance : str or Group, optional
        Make the model exactly invariant to this group (a subgroup of the representation's)
        while keeping what the equivariant block knows about pose.  The classifier is trained
        on every training image moved by every element ``h`` (feature copies permuted, as
        with ``augment``), labelled with its class *and* ``h``; an image's score for class
        ``k`` is the mean over the orbit of its features (its ``order`` permuted copies,
        taken in an order fixed by their values) of each copy's score for ``k``: the best
        pose's decision score for ``"svm"``, ``"linear"`` and ``"lda"``, the probability
        summed over poses for ``"knn"`` and ``"mlp"``.  The scores of ``h·x`` are those of
        ``x`` bit for bit, for every ``h`` in the group.  The scaler and PCA are fitted on
        the images as given; the classifier sees ``order`` times as many rows and
        ``order`` times as many classes (``"mlp"`` is the one whose cost stays moderate; the
        SVM's grows faster than the rows).  Cannot be combined with ``augment``.  Default:
        no invariance.

    Attributes
    ----------
    representation_ : GlassBoxRepresentation
    scaler_ : StandardScaler or None
    pca_ : PCA or IncrementalPCA
    classifier_ : estimator
    pipeline_ : sklearn.pipeline.Pipeline
        The fitted stages in order; ``pipeline_[:-1].transform(X)`` gives the principal
        components the classifier sees (up to float32 rounding: the model itself reduces in
        float64, see :meth:`explain`).
    classes_ : ndarray
    class_means_ : ndarray of float64, shape (n_classes, n_features)
        Mean representation of each class's training images (see :meth:`class_prototypes`).
    n_features_in_ : int

    Examples
    --------
    >>> from glassbox import GlassBoxClassifier, datasets
    >>> ds = datasets.load_digits()
    >>> clf = GlassBoxClassifier(n_components=40).fit(ds.images[:1000], ds.labels[:1000])
    >>> bool(clf.score(ds.images[1000:], ds.labels[1000:]) > 0.9)
    True
    """

    def __init__(
        self,
        representation=None,
        n_components=400,
        classifier="svm",
        C=10.0,
        scale=True,
        random_state=0,
        pca_batch_size=None,
        augment=None,
        invariance=None,
    ):
        self.representation = representation
        self.n_components = n_components
        self.classifier = classifier
        self.C = C
        self.scale = scale
        self.random_state = random_state
        self.pca_batch_size = pca_batch_size
        self.augment = augment
        self.invariance = invariance

    def _check_params(self):
        if self.classifier not in CLASSIFIERS:
            raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {self.classifier!r}")
        check_int(self.n_components, "n_components")
        check_int(self.pca_batch_size, "pca_batch_size", none_ok=True)
        if not isinstance(self.C, numbers.Real) or not self.C > 0:
            raise ValueError(f"C must be a positive number, got {self.C!r}")
        rep = self.representation
        if rep is not None and not isinstance(rep, GlassBoxRepresentation):
            raise TypeError(
                f"representation must be a GlassBoxRepresentation or None, got {type(rep).__name__}"
            )
        for name in ("augment", "invariance"):
            if getattr(self, name) is not None:
                try:
                    get_group(getattr(self, name))
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"{name}: {exc}") from None
        if self.augment is not None and self.invariance is not None:
            raise ValueError(
                "augment and invariance cannot be combined: invariance trains on the group's "
                "copies of every image already (pass one of them)"
            )

    def _group_permutations(self, rep, name):
        """The feature permutations of the elements of the group in parameter ``name``
        (``"augment"`` or ``"invariance"``, a subgroup of the representation's group, as
        :meth:`_new_representation` checked); None when it is None."""
        value = getattr(self, name)
        if value is None:
            return None
        return [rep.feature_permutation(h) for h in get_group(value).elements]

    def _order(self):
        """Copies per training image: the order of ``augment`` or ``invariance`` (else 1)."""
        group = self.augment if self.augment is not None else self.invariance
        return 1 if group is None else get_group(group).order

    def fit(self, X, y):
        """Fit every stage on training images.

        Parameters
        ----------
        X : array_like, shape (N, H, W) or (N, H * W), or str, path-like or ImageSource
            The images, or a collection of them that :func:`glassbox.streaming.open_images`
            opens (an ``.npy`` or IDX file, an image folder).  ``"kernel-ridge"`` reads them
            a part at a time, in three passes, and holds only the labels and a few parts
            (``pca_batch_size`` sets how many images are read at once); the other classifiers
            read a collection whole.
        y : array_like, shape (N,)
            Class labels, in the order of the images.

        Returns
        -------
        self
        """
        if isinstance(X, (str, os.PathLike, ImageSource)):
            return self._fit_source(X, y)
        y_enc = self._check_fit_input(X, y)
        rep = self._new_representation()
        images = check_images(X, image_shape=rep.image_shape)  # (N, H, W)
        if self.classifier == "kernel-ridge":
            return self._fit_kernel_ridge(rep, images, y_enc)
        self._check_fit_memory(rep, images.shape)
        rep.fit(images)
        perms = self._group_permutations(rep, "augment")
        if self.pca_batch_size is not None:
            return self._fit_incremental(rep, images, y_enc, perms)
        F = rep.transform(images)
        if perms is not None:  # (invariance: _fit_features makes the copies after the PCA)
            F = permuted_copies(F, perms, n_threads=rep.n_threads)
            y_enc = np.tile(y_enc, len(perms))
        return self._fit_features(rep, F, y_enc)

    def _fit_source(self, source, y):
        """fit() on images read from a file, a folder or an ImageSource."""
        rep = self._new_representation()
        with opened(source, rep.image_shape) as src:
            y_enc = self._check_fit_input(None, y, n_images=len(src))
            if self.classifier == "kernel-ridge":
                return self._fit_kernel_ridge(rep, src, y_enc)
            self._check_fit_memory(rep, src.shape)
            images = src.read(0, len(src))
        return self.fit(images, y)

    def _fit_kernel_ridge(self, rep, source, y_enc, progress=None, info=None):
        """fit() for "kernel-ridge": every stage from sums over parts of the images (an array
        or an open ImageSource), read ``pca_batch_size`` at a time; ``progress(done, total)``
        counts images over the passes; a dict ``info`` receives ``"pixel_range"``, the
        smallest and largest pixel, when the thresholds needed it."""
        chunk = self.pca_batch_size or _fit_stream.DEFAULT_CHUNK
        with opened(source, None) as src:
            return _fit_stream.fit_streamed(self, rep, src, y_enc, chunk, progress, info)

    def _new_head(self):
        """The unfitted kernel-ridge stage."""
        return _make_classifier("kernel-ridge", float(self.C), self.random_state)

    def _fit_incremental(self, rep, X, y_enc, perms=None):
        """fit() with the features computed and reduced in chunks (``pca_batch_size``); with
        ``perms`` (augment), each chunk's features stand for their permuted copies; with
        ``invariance``, the reduction is fitted on the images as given and the classifier on
        their permuted copies."""
        n = np.shape(X)[0]
        G_fit = 1 if perms is None else len(perms)  # rows per image the reduction sees
        inv = self._group_permutations(rep, "invariance")
        copies = perms if perms is not None else inv
        G = 1 if copies is None else len(copies)  # rows per image the classifier sees
        n_comp = min(self.n_components, n * G_fit, rep.n_features_out_)
        self.scaler_, self.pca_ = fit_reduction(
            rep, X, n_comp, scale=self.scale, chunk_size=self.pca_batch_size, permutations=perms
        )
        # one more pass: the principal components, and the class means on the way; the rows
        # are element-major, as in the in-memory fit
        Z = np.empty((G, n, self.pca_.n_components_), dtype=np.float32)
        sums = np.zeros((self.classes_.size, rep.n_features_out_))
        for a in range(0, n, self.pca_batch_size):
            b = min(n, a + self.pca_batch_size)
            F = rep.transform(X[a:b])
            if inv is not None:  # the class means of the images as given
                _add_class_sums(sums, F, y_enc[a:b])
            if copies is not None:
                F = permuted_copies(F, copies, n_threads=rep.n_threads)
            for i in range(G):
                Fi = F[i * (b - a) : (i + 1) * (b - a)]
                if inv is None:
                    _add_class_sums(sums, Fi, y_enc[a:b])
                Z[i, a:b] = self._reduce_features(Fi)
        counts = np.bincount(y_enc, minlength=self.classes_.size) * G_fit
        self.class_means_ = sums / counts[:, None]
        y_fit = np.tile(y_enc, G) if inv is None else self._pose_labels(y_enc, G)
        self.classifier_ = _make_classifier(
            self.classifier, float(self.C), self.random_state, n * G, self._n_outputs(G)
        )
        self.classifier_.fit(Z.reshape(n * G, -1), y_fit)
        self.n_features_in_ = rep.n_features_in_
        return self._assemble(rep)

    def _pose_labels(self, y_enc, G):
        """Labels of the element-major copies of invariance: ``element * n_classes + class``."""
        return (np.arange(G)[:, None] * self.classes_.size + y_enc[None, :]).ravel()

    def _n_outputs(self, G=None):
        """Classes the classifier stage tells apart: (pose, class) pairs with invariance."""
        if self.invariance is None:
            return self.classes_.size
        return self.classes_.size * (get_group(self.invariance).order if G is None else G)

    # -- the stage protocol ---------------------------------------------------------------------
    # fit() is these stages in order.  They are an internal protocol, kept stable for glassbox's
    # own callers and for no one else (not public API): ``glassbox run`` drives
    # _check_fit_input, _new_representation, _check_fit_memory, _fit_features,
    # _reduce_features and _predict_features to show progress per chunk, time each stage and
    # word its memory hint; ``glassbox compare`` uses _reduced; glassbox.persistence uses
    # _check_fitted_state, _assemble and _reduce_features (tests/test_cli.py and
    # test_persistence.py pin them).
    def _check_fit_input(self, X, y, n_images=None):
        """Check the parameters, X's length (or ``n_images``) and y; set ``classes_``; return y
        as class indices."""
        self._check_params()
        if y is None:
            raise ValueError("GlassBoxClassifier requires y to be passed, but the target y is None")
        refuse_sparse_or_masked(y, "y")
        y = column_or_1d(y, warn=True)
        if y.dtype.kind == "f":
            assert_all_finite(y, input_name="y")
        if n_images is None:
            refuse_sparse_or_masked(X)
            shape = np.asarray(X).shape
        else:
            shape = (n_images,)
        if not shape or shape[0] != y.shape[0]:
            raise ValueError(
                f"X and y have inconsistent numbers of samples: X has shape {shape}, "
                f"y has {y.shape[0]} labels"
            )
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(f"y must hold at least 2 classes, got {self.classes_.size} class")
        if self.classifier == "knn" and y.shape[0] < _KNN_NEIGHBOURS:
            raise ValueError(
                f"classifier='knn' needs at least {_KNN_NEIGHBOURS} training images (it votes "
                f"among the {_KNN_NEIGHBOURS} nearest), got {y.shape[0]}"
            )
        return y_enc.ravel()

    def _check_fit_memory(self, rep, shape, what="X", hint=None):
        """Refuse, before the feature layout or any feature is computed, a fit on images of
        ``shape`` (N, H, W) whose features cannot be held: the feature layout, and in memory
        the features, their scaled copy and PCA's centred copy; with ``pca_batch_size``, one
        chunk of them and the principal components of all images.  The feature count is
        bounded from the representation's parameters."""
        n, H, W = shape
        G = self._order()  # rows per image the classifier sees
        G_fit = 1 if self.augment is None else G  # rows per image the reduction sees
        nf = rep._max_features(H, W)
        k = min(self.n_components, n * G_fit, nf)
        layout = rep._layout_bytes(H, W)
        if self.pca_batch_size is None:
            copies = 4 * n * nf if G > 1 else 0  # the images' own features beside the copies
            need = layout + copies + 3 * 4 * n * G_fit * nf + 2 * 8 * n * G * k
            hint = "pass pca_batch_size to stream them" if hint is None else hint
        else:
            need = layout + 4 * 8 * min(self.pca_batch_size, n) * G * nf + 4 * n * G * k
        rows = f"{n:,} images" + (f" x {G} group elements" if G > 1 else "")
        check_memory(
            need,
            f"{what}: fitting on {rows} of {H}x{W} (up to {nf:,} features each)",
            hint or "",
        )

    # What fit sets (``pipeline_`` is rebuilt from the others by ``_assemble``).
    _FITTED = (
        "classes_", "n_features_in_", "class_means_", "scaler_", "pca_", "classifier_",
        "representation_",
    )  # fmt: skip

    def _check_fitted_state(self):
        """Check a fitted state that :meth:`fit` did not make (a loaded model) as ``__init__``
        and ``fit`` would: the parameters, the representation (see
        ``GlassBoxRepresentation._check_fitted_state``), and the stages' types and shapes
        against each other.  Raises ValueError or TypeError naming what does not hold."""
        from sklearn.decomposition import IncrementalPCA

        params = set(self._get_param_names())
        present = set(vars(self)) - {"pipeline_"}
        if present != params | set(self._FITTED):
            odd = sorted(present ^ (params | set(self._FITTED)))
            raise ValueError(f"GlassBoxClassifier: unexpected or missing attributes {odd}")
        self._check_params()
        check_int(self.random_state, "random_state", min_val=None, none_ok=True)
        if not isinstance(self.scale, bool):
            raise ValueError(f"scale must be a bool, got {self.scale!r}")
        rep = self.representation_
        if not isinstance(rep, GlassBoxRepresentation):
            raise TypeError(f"representation_ must be a GlassBoxRepresentation, got {type(rep)}")
        rep._check_fitted_state()
        self._check_subgroups(rep)
        if self.n_features_in_ != rep.n_features_in_:
            raise ValueError("n_features_in_ does not match the representation's")
        c = self.classes_
        if not (isinstance(c, np.ndarray) and c.ndim == 1 and c.size >= 2):
            raise ValueError("classes_ must be a 1-D array of at least 2 classes")
        if len(np.unique(c)) != c.size:
            raise ValueError("classes_ must be distinct")
        nf, nc = rep.n_features_out_, c.size
        means = self.class_means_
        if not (
            isinstance(means, np.ndarray)
            and means.shape == (nc, nf)
            and means.dtype.kind == "f"
            and np.isfinite(means).all()
        ):
            raise ValueError(f"class_means_ must be finite floats of shape {(nc, nf)}")
        if (self.scaler_ is None) == self.scale:
            raise ValueError("scaler_ does not match scale")
        if self.scaler_ is not None and (
            type(self.scaler_) is not StandardScaler or np.shape(self.scaler_.mean_) != (nf,)
        ):
            raise ValueError(f"scaler_ must be a StandardScaler of {nf} features")
        pca = self.pca_
        incremental = self.pca_batch_size is not None and self.classifier != "kernel-ridge"
        want_pca = IncrementalPCA if incremental else PCA
        if type(pca) is not want_pca or np.shape(pca.components_)[1:] != (nf,):
            raise ValueError(f"pca_ must be a fitted {want_pca.__name__} of {nf} features")
        k = pca.components_.shape[0]
        if not 1 <= k <= self.n_components:
            raise ValueError(f"pca_ keeps {k} components, n_components={self.n_components}")
        clf = self.classifier_
        if type(clf) is not type(_make_classifier(self.classifier, 1.0, None)):
            raise ValueError(f"classifier_ is not what classifier={self.classifier!r} makes")
        n_out = self._n_outputs()
        if getattr(clf, "n_features_in_", None) != k or not np.array_equal(
            getattr(clf, "classes_", None), np.arange(n_out)
        ):
            raise ValueError(f"classifier_ must be fitted on {k} components and {n_out} classes")
        if isinstance(clf, NystroemRidgeClassifier):
            clf._check_fitted_state()

    def _new_representation(self):
        """A clone of ``representation`` (unfitted); refuses an ``augment`` or ``invariance``
        group that is not a subgroup of its group, before any work."""
        rep = (
            GlassBoxRepresentation() if self.representation is None else clone(self.representation)
        )
        self._check_subgroups(rep)
        return rep

    def _check_subgroups(self, rep):
        """Refuse an ``augment`` or ``invariance`` group that is not a subgroup of the
        representation's group: its features would not be a permutation of the image's."""
        own = get_group(rep.group)
        for name in ("augment", "invariance"):
            if getattr(self, name) is None:
                continue
            g = get_group(getattr(self, name))
            outside = [h for h in g.elements if h not in own.elements]
            if outside:
                raise ValueError(
                    f"{name}={g.name!r} holds {outside}, which the representation's group "
                    f"{own.name} does not: their features are not a permutation of the "
                    f"image's (use a subgroup of {own.name}, or "
                    f"representation=GlassBoxRepresentation(group={g.name!r}))"
                )

    def _fit_features(self, rep, F, y_enc, timings=None):
        """Fit scaler, PCA and classifier on the fitted representation's features F."""
        timings = {} if timings is None else timings
        self.n_features_in_ = rep.n_features_in_
        sums = np.zeros((self.classes_.size, F.shape[1]))
        _add_class_sums(sums, F, y_enc)
        self.class_means_ = sums / np.bincount(y_enc, minlength=self.classes_.size)[:, None]
        n_comp = min(self.n_components, F.shape[0], F.shape[1])
        self.scaler_ = StandardScaler() if self.scale else None
        self.pca_ = PCA(n_comp, random_state=self.random_state)
        t0 = time.perf_counter()
        Z = self.scaler_.fit_transform(F) if self.scaler_ is not None else F
        inv = self._group_permutations(rep, "invariance")
        if inv is None:
            Z = self.pca_.fit_transform(Z)
        else:  # the classifier sees the copies, labelled (element, class)
            self.pca_.fit(Z)
            Z = self._reduced_copies(F, inv, rep.n_threads)
            y_enc = self._pose_labels(y_enc, len(inv))
        self.classifier_ = _make_classifier(
            self.classifier, float(self.C), self.random_state, Z.shape[0], self._n_outputs()
        )
        timings["pca"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        self.classifier_.fit(Z, y_enc)
        timings["classifier"] = time.perf_counter() - t0
        return self._assemble(rep)

    def _reduced_copies(self, F, perms, n_threads):
        """Principal components of the permuted copies of features F, element-major (float32,
        shape (len(perms) * N, n_components)), made and reduced a chunk of images at a time."""
        G, n, k = len(perms), F.shape[0], self.pca_.n_components_
        Z = np.empty((G, n, k), dtype=np.float32)
        for a in range(0, n, _REDUCE_CHUNK):
            C = permuted_copies(F[a : a + _REDUCE_CHUNK], perms, n_threads=n_threads)
            Z[:, a : a + _REDUCE_CHUNK] = self._reduce_features(C).reshape(G, -1, k)
        return Z.reshape(G * n, k)

    def _assemble(self, rep):
        """Set ``pipeline_`` and ``representation_`` from the fitted stages; return self."""
        steps = [("representation", rep)]
        if self.scaler_ is not None:
            steps.append(("scaler", self.scaler_))
        steps += [("pca", self.pca_), ("classifier", self.classifier_)]
        self.pipeline_ = Pipeline(steps)
        self.representation_ = rep
        return self

    def _reduce_features(self, F):
        """Principal components of features F: ``((F - mu) / s - m) @ V.T`` in float64 (in
        chunks, to bound the memory), the linear map :meth:`explain` decomposes.  scikit-learn's
        ``PCA.transform`` would centre in the components' dtype (float32 for float32 features)."""
        V, m, mu, s = self._reduction_map()
        shift = ((mu / s + m) @ V.T)[None]
        W = (V / s).T
        Z = np.empty((F.shape[0], V.shape[0]), dtype=np.float64)
        for a in range(0, F.shape[0], _REDUCE_CHUNK):
            Z[a : a + _REDUCE_CHUNK] = np.asarray(F[a : a + _REDUCE_CHUNK], np.float64) @ W - shift
        return Z

    def _reduced(self, X):
        return self._reduce_features(self._features(X))

    def _features(self, X):
        """The fitted representation's features of X: X checked against the fitted model."""
        check_is_fitted(self, "pipeline_")
        refuse_sparse_or_masked(X)
        X = np.asarray(X)
        if X.ndim == 2 and X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but GlassBoxClassifier is expecting "
                f"{self.n_features_in_} features as input"
            )
        return self.representation_.transform(X)

    def _orbit_scores(self, F, kind="scores"):
        """Scores of the images of features F under ``invariance``: the mean over the orbit
        of each copy's class scores (``kind="scores"``: best pose of :meth:`_scores` for
        "svm", "linear", "lda", summed over poses for "knn", "mlp"; ``kind="proba"``:
        ``predict_proba`` summed over poses).

        The copies of an image are taken in the order of their bytes (a total order on their
        values), so that the copies of ``h·x`` form the same matrix as those of ``x``, in the
        same rows: every later step computes on identical input, and the scores are identical
        bit for bit.  Returns (scores (n, C), elements (G, n): the element of each sorted
        copy, poses (G, n, C): each copy's best pose per class, or None when summed)."""
        rep = self.representation_
        perms = self._group_permutations(rep, "invariance")
        G, n, C = len(perms), F.shape[0], self.classes_.size
        best = kind == "scores" and self.classifier not in ("knn", "mlp")
        scores = np.empty((n, C))
        elements = np.empty((G, n), dtype=np.intp)
        poses = np.empty((G, n, C), dtype=np.intp) if best else None
        chunk = max(1, _REDUCE_CHUNK // G)
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            m = b - a
            copies = permuted_copies(F[a:b], perms, n_threads=rep.n_threads)  # element-major
            keys = np.ascontiguousarray(copies).view(
                np.dtype((np.void, copies.itemsize * copies.shape[1]))
            )
            order = np.argsort(keys.reshape(G, m), axis=0, kind="stable")
            copies = copies[(order * m + np.arange(m)).ravel()]  # sorted-position-major
            Z = self._reduce_features(copies)
            raw = self.classifier_.predict_proba(Z) if kind == "proba" else self._scores(Z)
            raw = raw.reshape(G, m, G, C)  # (copy, image, pose, class)
            if best:
                per = raw.max(axis=2)
                poses[:, a:b] = raw.argmax(axis=2)
            else:
                per = raw.sum(axis=2)
            total = per[0].copy()
            for q in range(1, G):  # in the sorted order, one add at a time
                total += per[q]
            scores[a:b] = total / G
            elements[:, a:b] = order
        return scores, elements, poses

    def _predict_features(self, F, Z=None):
        """Predicted labels of the images of features F (``Z``: their principal components,
        when already computed; unused with ``invariance``)."""
        if self.invariance is not None:
            return self.classes_[self._orbit_scores(F)[0].argmax(axis=1)]
        Z = self._reduce_features(F) if Z is None else Z
        return self.classes_[self.classifier_.predict(Z)]

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : array_like, shape (N, H, W) or (N, H * W)

        Returns
        -------
        ndarray, shape (N,)
        """
        return self._predict_features(self._features(X))

    @available_if(_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities (``"linear"``, ``"lda"``, ``"knn"``, ``"mlp"``).

        Parameters
        ----------
        X : array_like, shape (N, H, W) or (N, H * W)

        Returns
        -------
        ndarray, shape (N, n_classes)
            Columns in the order of ``classes_``.  With ``invariance``: the mean over the
            orbit of the copies' probabilities, summed over poses.
        """
        if self.invariance is not None:
            return self._orbit_scores(self._features(X), kind="proba")[0]
        Z = self._reduced(X)
        return self.classifier_.predict_proba(Z)

    @available_if(_has("decision_function"))
    def decision_function(self, X):
        """Decision scores (``"svm"``, ``"linear"``, ``"lda"``).

        Parameters
        ----------
        X : array_like, shape (N, H, W) or (N, H * W)

        Returns
        -------
        ndarray, shape (N,) for two classes, else (N, n_classes)
            With ``invariance``: (N, n_classes) always, the mean over the orbit of each
            copy's best-pose score (one-vs-one margins summed, for the SVM), whose largest
            is the prediction.
        """
        if self.invariance is not None:
            return self._orbit_scores(self._features(X))[0]
        Z = self._reduced(X)
        return self.classifier_.decision_function(Z)

    # -- explanations ------------------------------------------------------------------------------
    def _scores(self, Z):
        """(n, n_classes) scores the explanations break down: decision_function (two classes:
        the negated score for classes_[0]); for the SVM with more classes the sum of each
        class's one-vs-one margins (SVC's "ovr" scores count votes, a step function); for
        k-NN and the MLP, predict_proba."""
        clf = self.classifier_
        if self.classifier in ("knn", "mlp"):
            return clf.predict_proba(Z)
        if self.classifier == "svm" and clf.classes_.size > 2:
            ovo = copy.copy(clf)  # shares the fitted arrays
            ovo.decision_function_shape = "ovo"
            d = ovo.decision_function(Z)  # pairs (i, j), i < j, in order; > 0 favours i
            C = clf.classes_.size
            pairs = np.zeros((d.shape[1], C))
            for k, (i, j) in enumerate(itertools.combinations(range(C), 2)):
                pairs[k, i], pairs[k, j] = 1.0, -1.0
            return d @ pairs
        d = np.asarray(clf.decision_function(Z), dtype=np.float64)
        return np.stack([-d, d], axis=1) if d.ndim == 1 else d

    def _target_index(self, target, n, predicted):
        """Class indices of the targets: the predicted classes (``predicted()``), one label,
        or one per image."""
        if target is None:
            return np.asarray(predicted(), dtype=np.intp)
        t = np.asarray(target)
        if t.ndim > 1 or (t.ndim == 1 and t.shape[0] != n):
            raise ValueError(
                f"target must be one class label or one per image ({n}), got shape {t.shape}"
            )
        lookup = {c: i for i, c in enumerate(self.classes_.tolist())}
        labels = np.broadcast_to(t, (n,)).tolist()
        idx = [lookup.get(v, -1) for v in labels]
        if -1 in idx:
            raise ValueError(
                f"target {labels[idx.index(-1)]!r} is not one of the classes "
                f"{self.classes_.tolist()}"
            )
        return np.asarray(idx, dtype=np.intp)

    def _reduction_map(self):
        """(V, m, mu, s) with the principal components ``((F - mu) / s - m) @ V.T``; ``mu`` is
        the training mean of the features."""
        pca = self.pca_
        V = np.asarray(pca.components_, dtype=np.float64)
        if getattr(pca, "whiten", False):
            V = V / np.sqrt(np.asarray(pca.explained_variance_, dtype=np.float64))[:, None]
        m = np.asarray(pca.mean_, dtype=np.float64)
        if self.scaler_ is None:
            return V, np.zeros_like(m), m, np.ones_like(m)
        mu = np.asarray(self.scaler_.mean_, dtype=np.float64)
        return V, m, mu, np.asarray(self.scaler_.scale_, dtype=np.float64)

    def _linear_map(self):
        """(A, base, mu): decision scores of every class as ``base + A @ (F - mu)``."""
        V, m, mu, s = self._reduction_map()
        W = np.asarray(self.classifier_.coef_, dtype=np.float64)
        b = np.asarray(self.classifier_.intercept_, dtype=np.float64)
        A, base = (W @ V) / s, b - W @ (V @ m)
        if W.shape[0] == 1:  # two classes: one score, for classes_[1]
            A, base = np.vstack([-A, A]), np.concatenate([-base, base])
        return A, base, mu

    def _occlusion(self, F, Z, t, score):
        """Slopes a (n, n_features) with ``a_j (F_j - mu_j)`` the drop of the target's score
        when feature j alone is set to its training mean; and the baseline scores."""
        V, _, mu, s = self._reduction_map()
        n, n_feat = F.shape
        dev = F.astype(np.float64) - mu
        slopes = np.zeros((n, n_feat))
        per_call = max(1, _OCCLUSION_ROWS // n_feat)  # images whose copies are scored at once
        for a in range(0, n, per_call):
            idx = range(a, min(n, a + per_call))
            cols = [np.flatnonzero(dev[i]) for i in idx]
            P = np.concatenate(
                [Z[i] - (dev[i, j] / s[j])[:, None] * V[:, j].T
                 for i, j in zip(idx, cols, strict=True)]
            )  # fmt: skip
            who = np.repeat(np.arange(a, a + len(cols)), [len(j) for j in cols])
            drop = score[who] - self._scores(P)[np.arange(len(P)), t[who]]
            slopes[who, np.concatenate(cols)] = drop / dev[who, np.concatenate(cols)]
        base = self._scores(self._reduce_features(mu[None]))[0]
        return slopes, base[t], mu

    def explain(self, X, *, target=None):
        """Break each image's score for a class down into contributions of the features.

        For ``classifier="linear"`` and ``"lda"`` the decomposition is exact: the scaler, the
        PCA and the linear layer compose into one linear map, and ``baseline +
        contributions.sum(1)`` equals ``decision_function`` within floating-point rounding.
        For ``"svm"``, ``"knn"`` and ``"mlp"`` it is an **approximation** by occlusion: the
        contribution of a feature is the drop of the target's score when that feature alone
        is set to its training mean (one classifier evaluation per feature and image: about
        ``n_features`` times the cost of a prediction).  See :mod:`glassbox.explain`.

        The score explained is ``decision_function`` for ``"linear"`` and ``"lda"`` (for two
        classes: its negative for ``classes_[0]``); for ``"svm"`` with more than two classes,
        the sum of the target's one-vs-one margins (scikit-learn's one-vs-rest scores count
        votes, which a single feature rarely changes); ``predict_proba`` for ``"knn"`` and
        ``"mlp"``.

        With ``invariance`` the score explained is the invariant one (``decision_function``,
        or ``predict_proba`` for k-NN and the MLP): the orbit mean of the copies' scores.  For
        the linear classifiers it is still exact: each copy's best-pose coefficients are
        handed back to the image's features through the inverse permutation.  Otherwise the
        occlusion sets a feature to the training mean of its orbit, so that the explanation
        of ``h·x`` is that of ``x`` moved by ``h`` (its heatmap is ``h`` applied to the
        heatmap of ``x``).

        Parameters
        ----------
        X : array_like, shape (N, H, W) or (N, H * W)
        target : label or array_like of labels, optional
            The class whose score is explained, one for all images or one per image; default:
            the predicted class of each image.

        Returns
        -------
        Explanation
            Contributions per feature, with :meth:`~glassbox.explain.Explanation.heatmap` and
            :meth:`~glassbox.explain.Explanation.aggregate` (planes, patterns, group elements,
            cells, blocks).

        Examples
        --------
        >>> from glassbox import GlassBoxClassifier, datasets
        >>> ds = datasets.load_digits()
        >>> clf = GlassBoxClassifier(n_components=40, classifier="linear").fit(ds.images, ds.labels)
        >>> ex = clf.explain(ds.images[:5])
        >>> bool(abs(ex.baseline + ex.contributions.sum(1) - ex.score).max() < 1e-8)
        True
        """
        check_is_fitted(self, "pipeline_")
        refuse_sparse_or_masked(X)
        rep = self.representation_
        images = check_images(X, fitted_shape=rep.image_shape_)
        # contributions, slopes and the equivariant terms: a few float64 copies of (N, features)
        check_allocation(
            (4 * images.shape[0], rep.n_features_out_), np.float64,
            "the contributions of explain (explain fewer images at a time)",
        )  # fmt: skip
        F = rep.transform(images)
        if self.invariance is not None:
            return self._explain_invariant(images, F, target)
        Z = self._reduce_features(F)
        t = self._target_index(target, len(F), lambda: self.classifier_.predict(Z))
        score = self._scores(Z)[np.arange(len(t)), t]
        if self.classifier in _LINEAR:
            A, base, mu = self._linear_map()
            slopes, baseline, method = A[t], base[t], "linear"
        else:
            slopes, baseline, mu = self._occlusion(F, Z, t, score)
            method = "occlusion"
        return Explanation(rep, images, F, slopes, mu, self.classes_[t], score, baseline, method)

    def explain_examples(self, X, *, target=None):
        """Break each image's score down, exactly, onto training images (the kernel models:
        ``classifier="kernel-ridge"`` and ``"svm"``).

        A kernel model's score is a weighted sum of kernel values ``exp(-gamma |z - z_i|^2)``
        to training images ``z_i`` (principal components; moved by a group element when the
        model was trained on copies): the landmarks of ``"kernel-ridge"``, the support vectors
        of ``"svm"``.  Each term is that image's contribution; ``baseline`` is what no image
        carries (the SVM's intercepts).  The score is the one :meth:`explain` explains: the
        SVM's is the sum of the target's one-vs-one margins (for two classes, the decision
        function, negated for ``classes_[0]``).  With ``invariance`` the score is the orbit
        mean of the copies' best-pose scores, and so is each contribution.

        Parameters
        ----------
        X : array_like, shape (N, H, W) or (N, H * W)
        target : label or array_like of labels, optional
            The class explained, one for all images or one per image; default: the predicted
            class of each image.

        Returns
        -------
        ExampleExplanation
            ``contributions`` (N, n_examples), ``training_images``, ``elements`` and
            :meth:`~glassbox.explain.ExampleExplanation.top`.

        Examples
        --------
        >>> from glassbox import GlassBoxClassifier, datasets
        >>> ds = datasets.load_digits()
        >>> clf = GlassBoxClassifier(n_components=40, classifier="kernel-ridge")
        >>> clf = clf.fit(ds.images[:1000], ds.labels[:1000])
        >>> ex = clf.explain_examples(ds.images[1000:1005])
        >>> bool(abs(ex.baseline + ex.contributions.sum(1) - ex.score).max() < 1e-9)
        True
        >>> images, elements, weights = ex.top(3)  # the 3 most influential training images
        """
        check_is_fitted(self, "pipeline_")
        if self.classifier not in ("kernel-ridge", "svm"):
            raise ValueError(
                "explain_examples decomposes the scores of the kernel models (kernel-ridge, "
                f"svm) onto training images; this model has classifier={self.classifier!r} "
                "(use explain)"
            )
        F = self._features(X)
        n = len(F)
        W, base, examples, gamma, rows = self._example_weights()
        # the contributions and a kernel block beside them
        check_allocation(
            (2 * n, len(examples)), np.float64,
            "the contributions of explain_examples (explain fewer images at a time)",
        )  # fmt: skip
        if self.invariance is None:
            Z = self._reduce_features(F)
            S = self._scores(Z)
            t = self._target_index(target, n, lambda: self.classifier_.predict(Z))
            score = S[np.arange(n), t]
            contrib = rbf64(Z, examples, gamma) * W[t]
            baseline = base[t]
        else:
            scores, elements, poses = self._orbit_scores(F)
            t = self._target_index(target, n, lambda: scores.argmax(axis=1))
            perms = self._group_permutations(self.representation_, "invariance")
            C = self.classes_.size
            contrib, baseline = np.zeros((n, len(examples))), np.zeros(n)
            for q in range(len(perms)):  # the sorted copies, in the order the score adds them
                copy = np.stack([F[j][perms[elements[q, j]]] for j in range(n)])
                r = poses[q, np.arange(n), t] * C + t  # the copy's best pose for the target
                contrib += rbf64(self._reduce_features(copy), examples, gamma) * W[r]
                baseline += base[r]
            contrib /= len(perms)
            baseline /= len(perms)
            score = scores[np.arange(n), t]
        if self.classifier == "kernel-ridge":
            images, element = self.classifier_.landmark_images_, self.classifier_.landmark_elements_
        else:  # the SVM's rows are the copies, element-major, or the images
            n_train = self.classifier_.shape_fit_[0] // self._order()
            images, element = rows % n_train, rows // n_train
        return ExampleExplanation(self.classes_[t], score, baseline, contrib, images, element)

    def _example_weights(self):
        """(W, b, examples, gamma, rows): every class score of the kernel model as
        ``b[c] + sum_i W[c, i] k(z, examples[i])`` (for two classes: row 0 the negated score of
        row 1), with ``rows`` the SVM's training rows the examples are (None for kernel-ridge,
        whose head records its landmarks' images)."""
        clf = self.classifier_
        if self.classifier == "kernel-ridge":
            W = clf.dual_coef_.T
            if W.shape[0] == 1:
                W = np.vstack([-W, W])
            return W, np.zeros(W.shape[0]), clf.landmarks_, clf.gamma_, None
        # SVC, libsvm's layout: for the pair (i, j), i < j, whose margin is positive for i, the
        # coefficients of class i's support vectors are in row j - 1 of dual_coef_, those of
        # class j's in row i; a class's score is the sum of its margins (explain's)
        dual = np.asarray(clf.dual_coef_, dtype=np.float64)
        C = clf.classes_.size
        if C == 2:  # decision_function = dual_coef_ @ k + intercept_, positive for classes_[1]
            W = np.vstack([-dual[0], dual[0]])
            b = np.array([-clf.intercept_[0], clf.intercept_[0]])
        else:
            starts = np.concatenate([[0], np.cumsum(clf.n_support_)])
            W, b = np.zeros((C, dual.shape[1])), np.zeros(C)
            for p, (i, j) in enumerate(itertools.combinations(range(C), 2)):
                si, sj = slice(starts[i], starts[i + 1]), slice(starts[j], starts[j + 1])
                for cls, sign in ((i, 1.0), (j, -1.0)):
                    W[cls, si] += sign * dual[j - 1, si]
                    W[cls, sj] += sign * dual[i, sj]
                    b[cls] += sign * clf.intercept_[p]
        return W, b, clf.support_vectors_, float(clf._gamma), np.asarray(clf.support_)

    def _explain_invariant(self, images, F, target):
        """explain() under ``invariance``.  For the linear classifiers the score is a mean of
        linear terms, one per copy: copy ``h`` (features ``F[perm_h]``) with its best pose
        ``p`` adds ``base_p + A_p . (F[perm_h] - mu)``, which hands coefficient
        ``A_p[inv_h[j]]`` and offset ``(A_p * mu)[inv_h[j]]`` to feature ``j`` of the image:
        exact.  Otherwise, occlusion of the orbit-mean score, one feature at a time."""
        rep = self.representation_
        n, C = len(F), self.classes_.size
        scores, elements, poses = self._orbit_scores(F)
        t = self._target_index(target, n, lambda: scores.argmax(axis=1))
        score = scores[np.arange(n), t]
        if self.classifier in _LINEAR:
            perms = self._group_permutations(rep, "invariance")
            inverse = [np.argsort(p) for p in perms]
            A, base, mu = self._linear_map()
            Amu = A * mu
            slopes = np.zeros((n, F.shape[1]))
            offsets = np.zeros((n, F.shape[1]))
            baseline = np.zeros(n)
            for q in range(len(perms)):  # sorted copies, in the order the score adds them
                for i in range(n):
                    h, r = elements[q, i], poses[q, i, t[i]] * C + t[i]
                    slopes[i] += A[r, inverse[h]]
                    offsets[i] += Amu[r, inverse[h]]
                    baseline[i] += base[r]
            G = len(perms)
            slopes, offsets, baseline, method = slopes / G, offsets / G, baseline / G, "linear"
        else:
            # the reference is the mean of the training copies: each feature's training mean
            # averaged over its orbit, the values sorted first so that every member of an
            # orbit gets the same number (then h·x is occluded as x is, and explained alike)
            perms = self._group_permutations(rep, "invariance")
            mu = self._reduction_map()[2]
            mu = np.sort(np.stack([mu[p] for p in perms]), axis=0).sum(axis=0) / len(perms)
            dev = F.astype(np.float64) - mu
            slopes = np.zeros((n, F.shape[1]))
            for i in range(n):
                cols = np.flatnonzero(dev[i])
                occluded = np.repeat(F[i : i + 1], len(cols), axis=0)
                occluded[np.arange(len(cols)), cols] = mu[cols]
                drop = score[i] - self._orbit_scores(occluded)[0][:, t[i]]
                slopes[i, cols] = drop / dev[i, cols]
            mean_row = mu.astype(F.dtype)[None]
            baseline = self._orbit_scores(mean_row)[0][0, t]
            offsets, method = slopes * mu, "occlusion"
        return Explanation(
            rep, images, F, slopes, None, self.classes_[t], score, baseline, method,
            offsets=offsets,
        )  # fmt: skip

    def class_prototypes(self):
        """What the model considers typical of each class: the class-mean representation of the
        training images, mapped back to the image grid.

        The equivariant part shows the typical image in its own pose; the invariant part shows
        the same averaged over the group (each orbit sum spread evenly over its members), as
        the invariant features see it.

        Returns
        -------
        dict of str to ndarray of float64, shape (n_classes, H, W)
            - ``"level"``: mean fraction of thresholds exceeded per pixel (from the level maps,
              constant over each pooling window), in [0, 1];
            - ``"edges"``: mean number of oriented-step events per pixel, all directions and
              distances (constant over each cell);
            - ``"level_invariant"``, ``"edges_invariant"``: the same from the invariant block
              (the group average);
            ``"level"`` and ``"edges"`` are None for a representation with
            ``blocks="invariant"``.  Rows follow ``classes_``.  With ``normalize="sqrt"`` (the
            default) the class means are of square roots: their squares are used, at most the
            mean counts.
        """
        check_is_fitted(self, "class_means_")
        return class_prototypes(self.representation_, self.class_means_)
