"""Save and load fitted models without pickle.

A model is saved as a directory of two files:

- ``model.json``: the format name and version, the library versions, the user's metadata, a
  SHA-256 checksum, and the object tree: every estimator as its class name (from a fixed list of
  allowed classes) and its attributes, encoded as JSON values (numbers, strings, lists, tuples,
  dicts, ``None``) or references to arrays;
- ``arrays.npz``: the arrays, read with ``numpy.load(allow_pickle=False)``.

Loading never runs code from the files: no pickle, no imports named by the file; a class not in
the allowed list, an object array, an unknown encoding, a checksum that does not match (any
byte of either file changed) or a model that does not reproduce the predictions stored with it
is refused with a ``ValueError``.  The checksum detects corruption and accidental edits; it is
not a signature: someone who edits the files and recomputes it gets a model made of allowed
classes with the values they chose, never code execution.

Each file is written through a temporary file and renamed, ``arrays.npz`` first and
``model.json`` last: an interrupted save leaves either the previous model or a pair whose
checksum does not match, never a model that looks complete.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from ._validation import check_allocation

__all__ = ["load_model", "save_model"]

FORMAT = "glassbox-model"
VERSION = 1
_N_PROBES = 4


@functools.cache
def _allowed():
    """Class name -> class: everything a GlassBoxClassifier is made of."""
    from sklearn.decomposition import PCA, IncrementalPCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import LabelBinarizer, StandardScaler
    from sklearn.svm import SVC

    from .classifier import GlassBoxClassifier
    from .representation import GlassBoxRepresentation

    classes = (
        GlassBoxClassifier, GlassBoxRepresentation, StandardScaler, PCA, IncrementalPCA, SVC,
        LogisticRegression, LinearDiscriminantAnalysis, KNeighborsClassifier, MLPClassifier,
        LabelBinarizer,
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
        from .groups import Group

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


def _decode(v, arrays, path="model"):
    from .groups import get_group

    allowed = _allowed()
    if v is None or isinstance(v, (bool, str, int, float)):
        return v
    if isinstance(v, list):
        return [_decode(x, arrays, f"{path}[{i}]") for i, x in enumerate(v)]
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
        return tuple(_decode(x, arrays, f"{path}[{i}]") for i, x in enumerate(v[tag]))
    if tag == "__dict__" and len(v) == 1 and isinstance(v[tag], dict):
        return {k: _decode(x, arrays, f"{path}.{k}") for k, x in v[tag].items()}
    if tag == "__group__" and len(v) == 1 and isinstance(v[tag], str):
        return get_group(v[tag])
    if tag == "__estimator__" and set(v) == {"__estimator__", "state"}:
        name = v["__estimator__"]
        if name not in allowed:
            raise ValueError(
                f"{path}: class {name!r:.100} is not one glassbox loads (allowed: "
                f"{', '.join(sorted(allowed))})"
            )
        state = _decode(v["state"], arrays, path)
        if not isinstance(state, dict):
            raise ValueError(f"{path}: the state of {name} is not a dict")
        obj = allowed[name].__new__(allowed[name])
        obj.__dict__.update(state)
        return obj
    raise ValueError(f"{path}: unknown encoding {v!r:.80}")


def _fingerprint(model, value_range=None):
    """The principal components and predictions of a few fixed random images whose pixels
    span ``value_range`` (default: the thresholds' range, widened by 1): stored at save time,
    recomputed at load time from the stored range."""
    rep = model.representation_
    if value_range is None:
        t = rep.thresholds_
        value_range = [float(t[0]) - 1.0, float(t[-1]) + 1.0]
    lo, hi = (float(v) for v in value_range)
    check_allocation((_N_PROBES, *rep.image_shape_), np.float64, "the model's probe images")
    X = np.random.default_rng(12345).uniform(lo, hi, (_N_PROBES, *rep.image_shape_))
    Z = model._reduce_features(rep.transform(X))
    return {
        "range": [lo, hi],
        "components": Z.tolist(),
        "predictions": model.classifier_.predict(Z).tolist(),
    }


def _checksum(tree_text: str, npz: bytes) -> str:
    h = hashlib.sha256()
    h.update(tree_text.encode())
    h.update(b"\0")
    h.update(npz)
    return h.hexdigest()


def save_model(model, path, *, metadata=None):
    """Save a fitted :class:`~glassbox.GlassBoxClassifier` without pickle.

    Parameters
    ----------
    model : GlassBoxClassifier
        Fitted.
    path : str or path-like
        A directory (created if needed); ``model.json`` and ``arrays.npz`` are written in it,
        replacing a model saved there before.
    metadata : dict, optional
        JSON-serialisable information stored beside the model (for example the dataset).

    Returns
    -------
    pathlib.Path
        The directory.

    Raises
    ------
    TypeError
        ``model`` is not a fitted GlassBoxClassifier, or holds something this format cannot
        store (named).

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

    from . import __version__
    from ._run import write_atomically
    from .classifier import GlassBoxClassifier

    if not isinstance(model, GlassBoxClassifier):
        raise TypeError(f"model must be a GlassBoxClassifier, got {type(model).__name__}")
    check_is_fitted(model, "pipeline_")
    meta = {} if metadata is None else metadata
    try:
        json.dumps(meta)
    except TypeError as exc:
        raise TypeError(f"metadata must be JSON-serialisable: {exc}") from None
    enc = _Encoder()
    tree = enc.encode(model)
    buf = io.BytesIO()
    np.savez(buf, **enc.arrays)
    npz = buf.getvalue()
    tree_text = json.dumps(tree, sort_keys=True)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "glassbox": __version__,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "metadata": meta,
        "fingerprint": _fingerprint(model),
        "sha256": _checksum(tree_text, npz),
        "model": tree,
    }
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    write_atomically(out / "arrays.npz", npz)
    write_atomically(out / "model.json", (json.dumps(doc, indent=1) + "\n").encode())
    return out


def load_model(path, *, with_metadata=False):
    """Load a model saved by :func:`save_model` (or ``glassbox run --save-model``).

    Parameters
    ----------
    path : str or path-like
        The directory holding ``model.json`` and ``arrays.npz``.
    with_metadata : bool
        Also return the metadata saved with the model.

    Returns
    -------
    model : GlassBoxClassifier
    metadata : dict
        Only with ``with_metadata=True``.

    Raises
    ------
    FileNotFoundError
        A file is missing.
    ValueError
        The files are not a glassbox model, were changed or damaged (checksum), name a class
        that is not allowed, hold an object array, or give a model that does not reproduce its
        stored predictions.  Nothing from the files is executed.
    """
    from .classifier import GlassBoxClassifier

    root = Path(path)
    where = str(root)
    for name in ("model.json", "arrays.npz"):
        if not (root / name).is_file():
            raise FileNotFoundError(f"{where}: no {name} (not a model saved by glassbox)")
    try:
        doc = json.loads((root / "model.json").read_text())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{where}/model.json: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{where}/model.json: not a {FORMAT} file")
    if doc.get("version") != VERSION:
        raise ValueError(
            f"{where}/model.json: format version {doc.get('version')!r}, this glassbox reads "
            f"version {VERSION}"
        )
    npz = (root / "arrays.npz").read_bytes()
    tree = doc.get("model")
    if doc.get("sha256") != _checksum(json.dumps(tree, sort_keys=True), npz):
        raise ValueError(
            f"{where}: checksum mismatch: model.json or arrays.npz was changed or damaged "
            "after it was saved (or the save was interrupted); refusing to load it"
        )
    try:
        with np.load(io.BytesIO(npz), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{where}/arrays.npz: cannot be read without pickle ({exc})") from None
    try:
        model = _decode(tree, arrays)
    except (TypeError, KeyError, RecursionError) as exc:
        raise ValueError(f"{where}/model.json: malformed model ({exc})") from None
    if type(model) is not GlassBoxClassifier:
        raise ValueError(f"{where}/model.json: the top object is not a GlassBoxClassifier")
    stored = doc.get("fingerprint")
    try:
        model._assemble(model.representation_)
        fp = _fingerprint(model, stored["range"])
    except Exception as exc:  # any failure here means the state is inconsistent
        raise ValueError(
            f"{where}: the saved model cannot be used ({type(exc).__name__}: {exc})"
        ) from None
    try:
        ok = fp["predictions"] == stored["predictions"] and np.allclose(
            fp["components"], np.asarray(stored["components"], dtype=np.float64), rtol=1e-9
        )
    except (TypeError, KeyError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"{where}: the loaded model does not reproduce the predictions stored with it "
            "(a changed file, or library versions that compute differently: saved with "
            f"scikit-learn {doc.get('sklearn')}, numpy {doc.get('numpy')})"
        )
    meta = doc.get("metadata") or {}
    return (model, meta) if with_metadata else model
