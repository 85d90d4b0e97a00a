"""Save and load fitted models without pickle.

A model is saved as a directory of two files:

- ``model.json``: the format name and version, the library versions, the user's metadata, the
  predictions of a few probe images, a SHA-256 checksum, and the object tree: every estimator
  as its class name (from a fixed list of allowed classes) and its attributes, encoded as JSON
  values (numbers, strings, lists, tuples, dicts, ``None``) or references to arrays;
- ``arrays.npz``: the arrays, read with ``numpy.load(allow_pickle=False)``.

Two kinds of model are stored: a fitted :class:`~glassbox.GlassBoxClassifier`, and a fitted
preprocessing (a scikit-learn ``Pipeline`` of a :class:`~glassbox.GlassBoxRepresentation`,
optionally a ``StandardScaler`` and a ``PCA`` / ``IncrementalPCA``), which ``glassbox
preprocess`` writes so that several files can share one fit.

Loading never runs code from the files: no pickle, no imports named by the file.  The checksum
covers every field of ``model.json`` (the metadata included) and every byte of ``arrays.npz``;
array headers are read before the arrays, so that a declared size beyond memory is refused
before anything is allocated; every estimator's parameters and fitted attributes are checked
as its ``__init__`` and ``fit`` would check them (the feature layout is rebuilt from the
parameters and compared); and the model must reproduce the outputs stored with it.  Anything
else is refused with a ``ValueError``.  The checksum detects corruption and accidental edits;
it is not a signature: someone who edits the files and recomputes it gets a model made of
allowed classes with values that pass these checks, never code execution.

Files of earlier format versions still load.  Version 1 (glassbox before the whole-file
checksum): the checksum covers the model and the arrays but not the metadata, which is checked
for consistency only.  Versions 1 and 2 store the representation's feature layout under the
private names it had then (``_level_grid``, ``_cell_grid``, ``_inv_index``); they are loaded
under the documented names of version 3 (``level_grid_``, ``cell_grid_``, ``orbit_index_``).
Versions 1 to 3 predate the representation's ``pooling``, ``second_order`` and ``normalize``;
they are loaded with the values that compute what those versions computed (``"cells"``,
``False``, ``None``); versions 1 to 4 predate the classifier's ``augment`` and versions 1 to 5
its ``invariance`` (both loaded as ``None``); versions 1 to 6 predate the second stage of
``"kernel-ridge"`` (loaded as one stage: ``refine_landmarks=0``, ``refine_fraction=0.0``,
``n_refined_=0``).

Each file is written through a temporary file and renamed, ``arrays.npz`` first and
``model.json`` last: an interrupted save leaves either the previous model or a pair whose
checksum does not match, never a model that looks complete.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np

from . import _core, _io
from ._nystroem import NystroemRidgeClassifier
from ._validation import check_allocation, check_memory
from .classifier import GlassBoxClassifier
from .groups import Group, get_group
from .representation import GlassBoxRepresentation

__all__ = ["load_model", "preprocessing", "save_model"]

FORMAT = "glassbox-model"
VERSION = 7
_READS = (1, 2, 3, 4, 5, 6, 7)  # format versions this glassbox loads
# Fitted attributes renamed by a format version: {version: {class: {old name: new name}}};
# files of earlier versions are loaded with the new names.
_RENAMED = {
    3: {
        "glassbox.representation.GlassBoxRepresentation": {
            "_level_grid": "level_grid_",
            "_cell_grid": "cell_grid_",
            "_inv_index": "orbit_index_",
        },
    },
}
# Parameters (and fitted attributes) added by a format version: {version: {class: {name: the
# value that gives the behaviour of every earlier version}}}; files of earlier versions are
# loaded with these values.
_ADDED = {
    4: {
        "glassbox.representation.GlassBoxRepresentation": {
            "pooling": "cells",
            "second_order": False,
            "normalize": None,
        },
    },
    5: {"glassbox.classifier.GlassBoxClassifier": {"augment": None}},
    6: {"glassbox.classifier.GlassBoxClassifier": {"invariance": None}},
    7: {
        "glassbox._nystroem.NystroemRidgeClassifier": {
            "refine_landmarks": 0,
            "refine_fraction": 0.0,
            "n_refined_": 0,
        },
    },
}
_N_PROBES = 4


@functools.cache
def _allowed():
    """Class name -> class: everything a GlassBoxClassifier is made of."""
    from sklearn.decomposition import PCA, IncrementalPCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import LabelBinarizer, StandardScaler
    from sklearn.svm import SVC

    classes = (
        GlassBoxClassifier, GlassBoxRepresentation, StandardScaler, PCA, IncrementalPCA, SVC,
        LogisticRegression, LinearDiscriminantAnalysis, KNeighborsClassifier, MLPClassifier,
        LabelBinarizer, Pipeline, NystroemRidgeClassifier,
    )  # fmt: skip
    return {f"{c.__module__}.{c.__qualname__}": c for c in classes}


# Fitted state that is not needed to predict and is not plain data: left out, rebuilt on load.
_SKIPPED = {
    "GlassBoxClassifier": {"pipeline_"},  # the stages again: re-assembled
    "MLPClassifier": {"_optimizer", "_random_state"},  # training state only
}


class _Encoder:
    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, a, path):
        if a.dtype.kind == "O":
            if not all(isinstance(v, str) for v in a.flat):
                raise TypeError(f"cannot save {path}: an object array that is not all strings")
            key = f"a{len(self.arrays)}"
            self.arrays[key] = a.astype(str)
            return {"__array__": key, "object": True}
        if a.dtype.kind not in "biufU":
            raise TypeError(f"cannot save {path}: arrays of dtype {a.dtype} are not supported")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.ascontiguousarray(a)
        return {"__array__": key}

    def encode(self, v, path="model"):
        allowed = _allowed()
        if isinstance(v, np.generic):  # before float: np.float64 is a float
            if v.dtype.kind not in "biuf":
                raise TypeError(f"cannot save {path}: a NumPy scalar of dtype {v.dtype}")
            return {"__scalar__": v.dtype.str, "value": v.item()}
        if v is None or isinstance(v, (bool, str, int, float)):
            return v
        if isinstance(v, np.ndarray):
            return self.array(v, path)
        if isinstance(v, tuple):
            return {"__tuple__": [self.encode(x, f"{path}[{i}]") for i, x in enumerate(v)]}
        if isinstance(v, list):
            return [self.encode(x, f"{path}[{i}]") for i, x in enumerate(v)]
        if isinstance(v, dict):
            if not all(isinstance(k, str) for k in v):
                raise TypeError(f"cannot save {path}: a dict with non-string keys")
            return {"__dict__": {k: self.encode(x, f"{path}.{k}") for k, x in v.items()}}
        if isinstance(v, Group):
            return {"__group__": v.name}
        name = f"{type(v).__module__}.{type(v).__qualname__}"
        if name in allowed and allowed[name] is type(v):
            skip = _SKIPPED.get(type(v).__name__, set())
            state = {k: x for k, x in vars(v).items() if k not in skip}
            return {"__estimator__": name, "state": self.encode(state, path)}
        raise TypeError(f"cannot save {path}: objects of type {name} are not supported")


def _renames(version) -> dict:
    """{class: ({old: new}, {added: value})}: what a file of format ``version`` needs renamed
    and added, in order."""
    out: dict = {}
    for v in sorted(set(_RENAMED) | set(_ADDED)):
        if version < v:
            for cls, names in _RENAMED.get(v, {}).items():
                out.setdefault(cls, ({}, {}))[0].update(names)
            for cls, values in _ADDED.get(v, {}).items():
                out.setdefault(cls, ({}, {}))[1].update(values)
    return out


def _renamed(state, changes, path):
    """``state`` with the attributes of an earlier format under their current names, and the
    parameters added since at the values that keep its behaviour."""
    names, added = changes
    clash = sorted(new for old, new in names.items() if old in state and new in state)
    clash += sorted(k for k in added if k in state)
    if clash:
        raise ValueError(
            f"{path}: holds attributes its format version does not have, or both the old and "
            f"the current names of some: {clash}"
        )
    return {**{names.get(k, k): x for k, x in state.items()}, **added}


def _decode(v, arrays, path="model", renames=None):
    renames = {} if renames is None else renames
    allowed = _allowed()
    if v is None or isinstance(v, (bool, str, int, float)):
        return v
    if isinstance(v, list):
        return [_decode(x, arrays, f"{path}[{i}]", renames) for i, x in enumerate(v)]
    if not isinstance(v, dict) or len(v) == 0:
        raise ValueError(f"{path}: unknown encoding {v!r:.80}")
    tag = next(iter(v))
    if tag == "__array__" and set(v) <= {"__array__", "object"}:
        key = v["__array__"]
        if not isinstance(key, str) or key not in arrays:
            raise ValueError(f"{path}: refers to a missing array {key!r:.40}")
        a = arrays[key]
        return a.astype(object) if v.get("object") is True else a
    if tag == "__scalar__" and set(v) == {"__scalar__", "value"}:
        dtype = np.dtype(str(v["__scalar__"]))
        if dtype.kind not in "biuf" or not isinstance(v["value"], (bool, int, float)):
            raise ValueError(f"{path}: bad scalar {v!r:.80}")
        return dtype.type(v["value"])
    if tag == "__tuple__" and len(v) == 1 and isinstance(v[tag], list):
        return tuple(_decode(x, arrays, f"{path}[{i}]", renames) for i, x in enumerate(v[tag]))
    if tag == "__dict__" and len(v) == 1 and isinstance(v[tag], dict):
        return {k: _decode(x, arrays, f"{path}.{k}", renames) for k, x in v[tag].items()}
    if tag == "__group__" and len(v) == 1 and isinstance(v[tag], str):
        return get_group(v[tag])
    if tag == "__estimator__" and set(v) == {"__estimator__", "state"}:
        name = v["__estimator__"]
        if name not in allowed:
            raise ValueError(
                f"{path}: class {name!r:.100} is not one glassbox loads (allowed: "
                f"{', '.join(sorted(allowed))})"
            )
        state = _decode(v["state"], arrays, path, renames)
        if not isinstance(state, dict):
            raise ValueError(f"{path}: the state of {name} is not a dict")
        if name in renames:
            state = _renamed(state, renames[name], path)
        obj = allowed[name].__new__(allowed[name])
        obj.__dict__.update(state)
        return obj
    raise ValueError(f"{path}: unknown encoding {v!r:.80}")


def _kind(model):
    """``"classifier"`` or ``"preprocessing"``: what :func:`save_model` stores, or a TypeError."""
    from sklearn.pipeline import Pipeline

    if isinstance(model, GlassBoxClassifier):
        return "classifier"
    if isinstance(model, Pipeline):
        _check_preprocessing_steps(model, TypeError)
        return "preprocessing"
    if isinstance(model, GlassBoxRepresentation):
        raise TypeError(
            "model must be a GlassBoxClassifier or a preprocessing Pipeline; to save a "
            "representation alone, pass Pipeline([('representation', rep)])"
        )
    raise TypeError(
        f"model must be a GlassBoxClassifier or a preprocessing Pipeline, got "
        f"{type(model).__name__}"
    )


def _check_preprocessing_steps(pipe, error):
    """A preprocessing Pipeline: a GlassBoxRepresentation, then optionally a StandardScaler,
    then optionally a PCA or IncrementalPCA, named as :func:`preprocessing` names them."""
    from sklearn.decomposition import PCA, IncrementalPCA
    from sklearn.preprocessing import StandardScaler

    steps = getattr(pipe, "steps", None)
    kinds = [("representation", (GlassBoxRepresentation,)), ("scaler", (StandardScaler,)),
             ("pca", (PCA, IncrementalPCA))]  # fmt: skip
    ok = (
        isinstance(steps, list)
        and steps
        and all(isinstance(st, tuple) and len(st) == 2 and isinstance(st[0], str) for st in steps)
    )
    if ok:
        names = [n for n, _ in steps]
        allowed = [n for n, _ in kinds]
        ok = names[0] == "representation" and names == [n for n in allowed if n in names]
        ok = ok and all(type(est) in dict(kinds)[n] for n, est in steps)
    if not ok:
        raise error(
            "a preprocessing Pipeline must have the steps ('representation', "
            "GlassBoxRepresentation), optionally ('scaler', StandardScaler), optionally ('pca', "
            "PCA or IncrementalPCA), in that order"
        )


def preprocessing(representation, scaler=None, pca=None):
    """The fitted stages of ``glassbox preprocess`` as one scikit-learn ``Pipeline``.

    Parameters
    ----------
    representation : GlassBoxRepresentation
        Fitted.
    scaler : StandardScaler, optional
        Fitted on the representation's features.
    pca : PCA or IncrementalPCA, optional
        Fitted on the (scaled) features.

    Returns
    -------
    sklearn.pipeline.Pipeline
        ``transform`` gives what ``glassbox preprocess`` writes (the principal components, or
        the features without ``pca``); :func:`save_model` stores it.
    """
    from sklearn.pipeline import Pipeline

    steps = [("representation", representation)]
    if scaler is not None:
        steps.append(("scaler", scaler))
    if pca is not None:
        steps.append(("pca", pca))
    return Pipeline(steps)


def _probe_images(rep, value_range):
    if value_range is None:
        t = rep.thresholds_
        value_range = [float(t[0]) - 1.0, float(t[-1]) + 1.0]
    lo, hi = (float(v) for v in value_range)
    check_allocation((_N_PROBES, *rep.image_shape_), np.float64, "the model's probe images")
    return [lo, hi], np.random.default_rng(12345).uniform(lo, hi, (_N_PROBES, *rep.image_shape_))


def _fingerprint(model, value_range=None):
    """What the model makes of a few fixed random images whose pixels span ``value_range``
    (default: the thresholds' range, widened by 1): for a classifier, their principal
    components and predictions; for a preprocessing, its output.  Stored at save time,
    recomputed at load time from the stored range."""
    if _kind(model) == "preprocessing":
        rng, X = _probe_images(model.steps[0][1], value_range)
        return {"range": rng, "output": _preprocessing_output64(model, X).tolist()}
    rng, X = _probe_images(model.representation_, value_range)
    Z = model._reduce_features(model.representation_.transform(X))
    return {
        "range": rng,
        "components": Z.tolist(),
        "predictions": model.classifier_.predict(Z).tolist(),
    }


def _preprocessing_output64(pipe, X):
    """A preprocessing's output computed in float64 throughout: its own ``transform`` computes
    float32 features in float32, whose last bits depend on how BLAS splits the work."""
    steps = dict(pipe.steps)
    Z = steps["representation"].transform(X).astype(np.float64)
    scaler, pca = steps.get("scaler"), steps.get("pca")
    if scaler is not None:
        Z = (Z - np.asarray(scaler.mean_, np.float64)) / np.asarray(scaler.scale_, np.float64)
    if pca is not None:
        V = np.asarray(pca.components_, np.float64)
        if getattr(pca, "whiten", False):
            V = V / np.sqrt(np.asarray(pca.explained_variance_, np.float64))[:, None]
        Z = (Z - np.asarray(pca.mean_, np.float64)) @ V.T
    return Z


def _same_fingerprint(fp, stored) -> bool:
    def close(a, b):
        return np.allclose(a, np.asarray(b, dtype=np.float64), rtol=1e-9)

    try:
        if "output" in fp:
            return close(fp["output"], stored["output"])
        return fp["predictions"] == stored["predictions"] and close(
            fp["components"], stored["components"]
        )
    except (TypeError, KeyError, ValueError):
        return False


def _checksum(doc: dict, npz: bytes, version: int = VERSION) -> str:
    """SHA-256 of the model file's content and of the arrays.  Version 2 covers every field of
    ``doc`` but ``sha256`` itself (key order and white space do not count); version 1 covered
    only ``doc["model"]``."""
    if version == 1:
        text = json.dumps(doc.get("model"), sort_keys=True)
    else:
        text = json.dumps({k: v for k, v in doc.items() if k != "sha256"}, sort_keys=True)
    h = hashlib.sha256()
    h.update(text.encode())
    h.update(b"\0")
    h.update(npz)
    return h.hexdigest()


def save_model(model, path, *, metadata=None):
    """Save a fitted model without pickle.

    Parameters
    ----------
    model : GlassBoxClassifier or sklearn.pipeline.Pipeline
        Fitted: a classifier, or a preprocessing (see :func:`preprocessing`).
    path : str or path-like
        A directory (created if needed); ``model.json`` and ``arrays.npz`` are written in it,
        replacing a model saved there before.
    metadata : dict, optional
        JSON-serialisable information stored beside the model (for example the dataset),
        covered by the checksum.

    Returns
    -------
    pathlib.Path
        The directory.

    Raises
    ------
    TypeError
        ``model`` is not a fitted GlassBoxClassifier or preprocessing, or holds something this
        format cannot store (named).

    Examples
    --------
    >>> import tempfile
    >>> from glassbox import GlassBoxClassifier, datasets, load_model, save_model
    >>> ds = datasets.load_digits()
    >>> clf = GlassBoxClassifier(n_components=20, classifier="lda").fit(ds.images, ds.labels)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     back = load_model(save_model(clf, d, metadata={"dataset": "digits"}))
    >>> bool((back.predict(ds.images) == clf.predict(ds.images)).all())
    True
    """
    import sklearn
    from sklearn.utils.validation import check_is_fitted

    kind = _kind(model)
    if kind == "classifier":
        check_is_fitted(model, "pipeline_")
    else:
        for _, est in model.steps:
            check_is_fitted(est)
    meta = {} if metadata is None else metadata
    try:
        json.dumps(meta)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metadata must be JSON-serialisable: {exc}") from None
    enc = _Encoder()
    tree = enc.encode(model)
    buf = io.BytesIO()
    np.savez(buf, **enc.arrays)
    npz = buf.getvalue()
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "glassbox": _core.__version__,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "metadata": meta,
        "fingerprint": _fingerprint(model),
        "model": tree,
    }
    doc["sha256"] = _checksum(doc, npz)
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    _io.write_atomically(out / "arrays.npz", npz)
    _io.write_atomically(out / "model.json", (json.dumps(doc, indent=1) + "\n").encode())
    return out


# model.json holds the object tree and a few numbers: far below this unless it is not one
_MAX_JSON_BYTES = 256 * 2**20


def _read_doc(root, where):
    with _io.open_regular(root / "model.json", f"{where}/model.json") as f:
        size = os.fstat(f.fileno()).st_size
        if size > _MAX_JSON_BYTES:
            raise ValueError(f"{where}/model.json: {size} bytes, not a glassbox model file")
        raw = f.read()
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{where}/model.json: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{where}/model.json: not a {FORMAT} file")
    if doc.get("version") not in _READS:
        raise ValueError(
            f"{where}/model.json: format version {doc.get('version')!r}, this glassbox reads "
            f"versions {', '.join(map(str, _READS))}"
        )
    return doc


def _read_arrays(npz, where):
    """The arrays of ``arrays.npz``, their headers checked before any is read."""
    name = f"{where}/arrays.npz"
    members = _io.npz_members(npz, name)
    check_memory(sum(m.nbytes for m in members.values()), f"{name}: its arrays")
    try:
        with np.load(io.BytesIO(npz), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except _io.ZIP_ERRORS as exc:
        raise ValueError(f"{name}: cannot be read without pickle ({exc})") from None


def _validate(obj, path="model"):
    """Check every glassbox estimator and Pipeline in a decoded tree as ``fit`` would."""
    from sklearn.pipeline import Pipeline

    if isinstance(obj, (GlassBoxClassifier, GlassBoxRepresentation)):
        obj._check_fitted_state()
    elif isinstance(obj, Pipeline):
        _check_preprocessing_steps(obj, ValueError)
        for _, est in obj.steps:
            _validate(est)


def load_model(path, *, with_metadata=False):
    """Load a model saved by :func:`save_model` (or ``glassbox run --save-model``, or the fitted
    state ``glassbox preprocess`` writes).

    Parameters
    ----------
    path : str or path-like
        The directory holding ``model.json`` and ``arrays.npz``.
    with_metadata : bool
        Also return the metadata saved with the model.

    Returns
    -------
    model : GlassBoxClassifier or sklearn.pipeline.Pipeline
        As saved.
    metadata : dict
        Only with ``with_metadata=True``.

    Raises
    ------
    FileNotFoundError
        A file is missing.
    ValueError
        The files are not a glassbox model, were changed or damaged (checksum), name a class
        that is not allowed, hold an object array, declare arrays larger than the memory
        available, hold parameters or fitted attributes that ``fit`` would not produce, or give
        a model that does not reproduce its stored outputs.  Nothing from the files is executed.
    """
    root = Path(path)
    where = str(root)
    for name in ("model.json", "arrays.npz"):
        if not (root / name).exists():
            raise FileNotFoundError(f"{where}: no {name} (not a model saved by glassbox)")
    doc = _read_doc(root, where)
    npz = _io.read_file(root / "arrays.npz", f"{where}/arrays.npz")
    if doc.get("sha256") != _checksum(doc, npz, doc["version"]):
        raise ValueError(
            f"{where}: checksum mismatch: model.json or arrays.npz was changed or damaged "
            "after it was saved (or the save was interrupted); refusing to load it"
        )
    arrays = _read_arrays(npz, where)
    try:
        model = _decode(doc.get("model"), arrays, renames=_renames(doc["version"]))
    except (TypeError, KeyError, RecursionError) as exc:
        raise ValueError(f"{where}/model.json: malformed model ({exc})") from None
    try:
        kind = _kind(model)
    except TypeError as exc:
        raise ValueError(f"{where}/model.json: {exc}") from None
    if doc.get("kind", "classifier") != kind:
        raise ValueError(f"{where}/model.json: says it holds a {doc.get('kind')!r}, not {kind!r}")
    stored = doc.get("fingerprint")
    try:
        _validate(model)
        if kind == "classifier":
            model._assemble(model.representation_)
        fp = _fingerprint(model, stored["range"])
    except Exception as exc:  # any failure here means the state is inconsistent
        raise ValueError(
            f"{where}: the saved model cannot be used ({type(exc).__name__}: {exc})"
        ) from None
    if not _same_fingerprint(fp, stored):
        raise ValueError(
            f"{where}: the loaded model does not reproduce the "
            f"{'predictions' if kind == 'classifier' else 'outputs'} stored with it "
            "(a changed file, or library versions that compute differently: saved with "
            f"scikit-learn {doc.get('sklearn')}, numpy {doc.get('numpy')})"
        )
    meta = doc.get("metadata")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise ValueError(f"{where}/model.json: its metadata is not a JSON object")
    return (model, meta) if with_metadata else model
