"""glassbox.save_model / load_model: round trips without pickle, and refusal of changed files."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from glassbox import (
    GlassBoxClassifier,
    GlassBoxRepresentation,
    load_model,
    persistence,
    save_model,
)


@pytest.fixture(scope="module")
def digits(digits_images):
    return digits_images


@pytest.fixture(scope="module")
def saved(digits, tmp_path_factory):
    X, y = digits
    clf = GlassBoxClassifier(n_components=25, classifier="linear").fit(X[:800], y[:800])
    path = tmp_path_factory.mktemp("models") / "linear"
    save_model(clf, path, metadata={"dataset": "digits", "note": [1, 2.5, None]})
    return clf, path


def _copy(src, dst):
    dst.mkdir()
    for name in ("model.json", "arrays.npz"):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def _edit_arrays(path, edit):
    """Rewrite arrays.npz with ``edit(arrays)`` applied, then recompute the checksum."""
    with np.load(path / "arrays.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    edit(arrays)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (path / "arrays.npz").write_bytes(buf.getvalue())
    _rehash(path)


def _rehash(path):
    """Recompute the checksum of edited files, as someone editing them on purpose would."""
    doc = json.loads((path / "model.json").read_text())
    npz = (path / "arrays.npz").read_bytes()
    doc["sha256"] = persistence._checksum(doc, npz, doc["version"])
    (path / "model.json").write_text(json.dumps(doc))


def _rep_state(doc):
    return doc["model"]["state"]["__dict__"]["representation_"]["state"]["__dict__"]


def _clf_state(doc):
    return doc["model"]["state"]["__dict__"]


def _edited(path, dst, edit, *, rehash=False):
    """A copy of the model at ``path`` whose model.json had ``edit(doc)`` applied; with
    ``rehash``, its checksum recomputed, as someone editing the files on purpose would."""
    bad = _copy(path, dst)
    doc = json.loads((bad / "model.json").read_text())
    edit(doc)
    (bad / "model.json").write_text(json.dumps(doc))
    if rehash:
        _rehash(bad)
    return bad


@pytest.mark.parametrize("name", ["svm", "linear", "lda", "knn", "mlp", "kernel-ridge"])
@pytest.mark.parametrize("kw", [{}, {"pca_batch_size": 400, "scale": False}])
def test_round_trip(digits, tmp_path, name, kw):
    X, y = digits
    rep = GlassBoxRepresentation(group="C4", thresholds=[4, 9], distances=(1,))
    clf = GlassBoxClassifier(rep, n_components=20, classifier=name, **kw).fit(X[:800], y[:800])
    out = save_model(clf, tmp_path / "m")
    assert sorted(p.name for p in out.iterdir()) == ["arrays.npz", "model.json"]
    back = load_model(out)
    assert type(back) is GlassBoxClassifier
    assert back.get_params(deep=False).keys() == clf.get_params(deep=False).keys()
    assert back.representation_.get_params() == clf.representation_.get_params()
    np.testing.assert_array_equal(back.predict(X[800:]), clf.predict(X[800:]))
    if hasattr(clf, "predict_proba"):
        np.testing.assert_allclose(
            back.predict_proba(X[800:]), clf.predict_proba(X[800:]), rtol=1e-9, atol=1e-15
        )
    np.testing.assert_array_equal(back.class_means_, clf.class_means_)
    np.testing.assert_array_equal(
        back.representation_.transform(X[:5]), clf.representation_.transform(X[:5])
    )
    assert list(back.pipeline_.named_steps) == list(clf.pipeline_.named_steps)
    np.testing.assert_allclose(
        back.explain(X[:3]).contributions, clf.explain(X[:3]).contributions, rtol=1e-9, atol=1e-12
    )


def test_metadata_and_json_is_readable(saved):
    clf, path = saved
    model, meta = load_model(path, with_metadata=True)
    assert meta == {"dataset": "digits", "note": [1, 2.5, None]}
    doc = json.loads((path / "model.json").read_text())
    assert doc["format"] == "glassbox-model" and doc["version"] == 7
    assert doc["model"]["__estimator__"] == "glassbox.classifier.GlassBoxClassifier"
    with np.load(path / "arrays.npz", allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


def test_a_changed_byte_is_refused(saved, tmp_path):
    _, path = saved
    for name in ("arrays.npz", "model.json"):
        bad = _copy(path, tmp_path / name)
        data = bytearray((bad / name).read_bytes())
        i = len(data) // 2
        if name == "model.json":  # a digit, so that the JSON stays valid and only the sum fails
            i += next(k for k, c in enumerate(data[i:]) if chr(c).isdigit())
            data[i] = ord("3") if data[i] != ord("3") else ord("4")
        else:
            data[i] ^= 1
        (bad / name).write_bytes(bytes(data))
        with pytest.raises(ValueError, match="checksum mismatch"):
            load_model(bad)


def test_edited_numbers_with_a_recomputed_checksum_are_refused(saved, tmp_path):
    """Someone who recomputes the checksum still has to match the stored predictions."""
    _, path = saved
    bad = _copy(path, tmp_path / "rehashed")
    doc = json.loads((bad / "model.json").read_text())
    key = _rep_state(doc)["thresholds_"]["__array__"]
    _edit_arrays(bad, lambda arrays: arrays.update({key: arrays[key] + 1.0}))
    with pytest.raises(ValueError, match="does not reproduce the predictions"):
        load_model(bad)


def test_a_class_outside_the_list_is_refused_without_importing_it(saved, tmp_path):
    _, path = saved
    bad = _edited(path, tmp_path / "class", lambda d: _clf_state(d)["scaler_"].update(
        __estimator__="os.system"), rehash=True)  # fmt: skip
    with pytest.raises(ValueError, match="'os.system' is not one glassbox loads"):
        load_model(bad)


class _Boom:
    def __reduce__(self):
        return (exec, ("open(__import__('os').environ['GB_MARK'], 'w').close()",))


def test_a_pickle_inside_the_arrays_is_never_run(saved, tmp_path, monkeypatch):
    _, path = saved
    mark = tmp_path / "executed"
    monkeypatch.setenv("GB_MARK", str(mark))
    bad = _copy(path, tmp_path / "pickle")
    _edit_arrays(bad, lambda arrays: arrays.update({min(arrays): np.array([_Boom()], object)}))
    with pytest.raises(ValueError, match="cannot be read without pickle"):
        load_model(bad)
    assert not mark.exists()
    # and a model.json that is a pickle is not JSON
    bad2 = _copy(path, tmp_path / "pickle2")
    (bad2 / "model.json").write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(ValueError, match="not valid JSON"):
        load_model(bad2)
    assert not mark.exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(format="other"), "not a glassbox-model file"),
        (lambda d: d.update(version=99), "format version 99"),
    ],
)
def test_wrong_format_or_version(saved, tmp_path, edit, message):
    _, path = saved
    bad = _edited(path, tmp_path / "fmt", edit)
    with pytest.raises(ValueError, match=message):
        load_model(bad)


@pytest.mark.parametrize(
    "node",
    [
        {"__array__": "missing"},
        {"__scalar__": "|O", "value": 1},
        {"__nonsense__": 1},
        {"__estimator__": "glassbox.classifier.GlassBoxClassifier", "state": [1]},
    ],
)
def test_malformed_nodes_are_refused(saved, tmp_path, node):
    _, path = saved
    bad = _edited(path, tmp_path / "node", lambda d: _clf_state(d).update(C=node), rehash=True)
    with pytest.raises(ValueError, match=r"^model\.C: "):
        load_model(bad)


def test_truncated_and_missing_files(saved, tmp_path):
    _, path = saved
    bad = _copy(path, tmp_path / "trunc")
    data = (bad / "arrays.npz").read_bytes()
    (bad / "arrays.npz").write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_model(bad)
    (bad / "arrays.npz").unlink()
    with pytest.raises(FileNotFoundError, match="no arrays.npz"):
        load_model(bad)
    with pytest.raises(FileNotFoundError, match="no model.json"):
        load_model(tmp_path / "nowhere")


def test_save_refuses_what_it_cannot_store(digits, tmp_path):
    X, y = digits
    with pytest.raises(NotFittedError):
        save_model(GlassBoxClassifier(), tmp_path / "a")
    with pytest.raises(TypeError, match="must be a GlassBoxClassifier"):
        save_model(GlassBoxRepresentation().fit(X[:50]), tmp_path / "b")
    clf = GlassBoxClassifier(n_components=10, classifier="lda").fit(X[:300], y[:300])
    with pytest.raises(TypeError, match="metadata must be JSON-serialisable"):
        save_model(clf, tmp_path / "c", metadata={"x": object()})
    clf.classifier_.extra_ = lambda: None
    with pytest.raises(TypeError, match=r"model\.classifier_\.extra_: objects of type"):
        save_model(clf, tmp_path / "d")
    assert not (tmp_path / "d" / "model.json").exists()


def test_an_interrupted_save_never_looks_complete(digits, tmp_path, monkeypatch):
    """arrays.npz is written first and model.json last: an old model.json beside new arrays
    fails its checksum, and no temporary file is left."""
    X, y = digits
    a = GlassBoxClassifier(n_components=10, classifier="lda").fit(X[:300], y[:300])
    b = GlassBoxClassifier(n_components=12, classifier="lda").fit(X[:300], y[:300])
    out = tmp_path / "m"
    save_model(a, out)
    from glassbox import _io

    real = _io.write_atomically

    def failing(path, data):
        if path.name == "model.json":
            raise OSError("disk full")
        real(path, data)

    monkeypatch.setattr(_io, "write_atomically", failing)
    with pytest.raises(OSError, match="disk full"):
        save_model(b, out)
    monkeypatch.setattr(_io, "write_atomically", real)
    assert sorted(p.name for p in out.iterdir()) == ["arrays.npz", "model.json"]
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_model(out)


def test_checksum_covers_every_field_and_both_files():
    doc = {"version": 2, "metadata": {"class_names": ["a"]}, "model": {}, "sha256": "x"}
    a = persistence._checksum(doc, b"x")
    content = json.dumps({k: v for k, v in doc.items() if k != "sha256"}, sort_keys=True)
    assert a == hashlib.sha256(content.encode() + b"\0x").hexdigest()
    assert a != persistence._checksum(doc, b"y")
    for key, value in [("metadata", {"class_names": ["b"]}), ("model", {"x": 1}), ("kind", "z")]:
        assert a != persistence._checksum({**doc, key: value}, b"x"), key
    assert a == persistence._checksum({**doc, "sha256": "other"}, b"x")  # all but itself
    # format 1 covered the model tree only
    assert persistence._checksum(doc, b"x", 1) == hashlib.sha256(b"{}\0x").hexdigest()


def test_deeply_nested_json_is_refused(saved, tmp_path):
    _, path = saved
    bad = _copy(path, tmp_path / "deep")
    (bad / "model.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="model.json"):
        load_model(bad)


# -- the checksum covers the whole file; every loaded value is checked as fit would ----------


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: _clf_state(d).update(C=99.0),
        lambda d: d["metadata"].update(dataset="fashion-mnist"),
        lambda d: d["metadata"]["note"].append(3),
        lambda d: d.update(metadata={}),
        lambda d: d["fingerprint"].update(range=[0.0, 1.0]),
        lambda d: d.update(glassbox="9.9"),
        lambda d: d.update(extra="field"),
        lambda d: d.pop("kind"),
    ],
)
def test_any_edit_of_model_json_is_refused(saved, tmp_path, edit):
    _, path = saved
    bad = _edited(path, tmp_path / "meta", edit)
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_model(bad)


def test_white_space_and_key_order_are_not_edits(saved, tmp_path):
    clf, path = saved
    same = _copy(path, tmp_path / "same")
    doc = json.loads((same / "model.json").read_text())
    (same / "model.json").write_text(json.dumps(dict(reversed(list(doc.items()))), indent=4))
    assert load_model(same).get_params() == clf.get_params()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: _rep_state(d).update(group="C4"), "does not follow from the parameters"),
        (lambda d: _rep_state(d).update(group="D6"), "D6"),
        (lambda d: _rep_state(d).update(blocks="invariant"), "does not follow from the parameters"),
        (lambda d: _rep_state(d).update(blocks="all"), "blocks must be one of"),
        (lambda d: _rep_state(d).update(cell_size=3), "cell_size=3 must divide"),
        (lambda d: _rep_state(d).update(pool_size=4), "does not follow from the parameters"),
        (lambda d: _rep_state(d).update(distances={"__tuple__": [1]}), "distances_"),
        (lambda d: _rep_state(d).update(n_threads=0), "n_threads must not be 0"),
        (lambda d: _rep_state(d).update(thresholds=2), "thresholds_ holds"),
        (lambda d: _rep_state(d).update(image_shape_={"__tuple__": [4, 16]}), "image_shape_"),
        (lambda d: _rep_state(d).update(image_shape_=[8, 8]), "image_shape_ must be a pair"),
        (lambda d: _rep_state(d).update(n_features_out_=5), "n_features_out_ does not follow"),
        (lambda d: _rep_state(d).update(_extra=1), "unexpected or missing attributes"),
        (lambda d: _rep_state(d).pop("_names"), "unexpected or missing attributes"),
        (lambda d: _clf_state(d).update(classifier="svm"), "classifier_ is not what"),
        (lambda d: _clf_state(d).update(scale=False), "scaler_ does not match scale"),
        (lambda d: _clf_state(d).update(n_components=3), "pca_ keeps 25 components"),
        (lambda d: _clf_state(d).update(C=-1.0), "C must be a positive number"),
        (lambda d: _clf_state(d).update(random_state="x"), "random_state must be"),
        (lambda d: _clf_state(d).update(n_features_in_=65), "n_features_in_ does not match"),
        (lambda d: _clf_state(d).update(pca_batch_size=10), "pca_ must be a fitted IncrementalPCA"),
    ],
)
def test_inconsistent_values_with_a_recomputed_checksum_are_refused(saved, tmp_path, edit,
                                                                   message):  # fmt: skip
    """Someone editing the files on purpose recomputes the checksum: every parameter is then
    checked as __init__ and fit check it, and the feature layout is rebuilt and compared."""
    _, path = saved
    bad = _edited(path, tmp_path / "state", edit, rehash=True)
    with pytest.raises(ValueError, match=message):
        load_model(bad)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda a, k: a.update({k["thresholds_"]: a[k["thresholds_"]][::-1].copy()}), "increasing"),
        (lambda a, k: a.update({k["thresholds_"]: a[k["thresholds_"]][:0]}), "thresholds_ must"),
        (
            lambda a, k: a.update({k["orbit_index_"]: a[k["orbit_index_"]][::-1].copy()}),
            "orbit_index_",
        ),
        (lambda a, k: a.update({k["classes_"]: np.zeros(10, int)}), "classes_ must be distinct"),
        (lambda a, k: a.update({k["class_means_"]: a[k["class_means_"]][:3]}), "class_means_"),
    ],
)
def test_inconsistent_arrays_with_a_recomputed_checksum_are_refused(saved, tmp_path, edit,
                                                                   message):  # fmt: skip
    _, path = saved
    bad = _copy(path, tmp_path / "arrays")
    doc = json.loads((bad / "model.json").read_text())
    keys = {k: v["__array__"] for k, v in _rep_state(doc).items() if isinstance(v, dict)
            and "__array__" in v}  # fmt: skip
    keys.update({k: v["__array__"] for k, v in _clf_state(doc).items() if isinstance(v, dict)
                 and "__array__" in v})  # fmt: skip
    _edit_arrays(bad, lambda arrays: edit(arrays, keys))
    with pytest.raises(ValueError, match=message):
        load_model(bad)


def _rewrite_npz(path, data):
    (path / "arrays.npz").write_bytes(data)
    _rehash(path)


def test_arrays_declared_beyond_memory_are_refused_before_reading(saved, tmp_path):
    import zipfile

    from numpy.lib import format as npf

    _, path = saved
    bad = _copy(path, tmp_path / "huge")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z, z.open("a0.npy", "w") as f:
        npf.write_array_header_2_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**4, 10**4)}
        )
    _rewrite_npz(bad, buf.getvalue())
    with pytest.raises(ValueError, match=r"declares shape \(1000000, 10000, 10000\)"):
        load_model(bad)
    _rewrite_npz(bad, b"random bytes, not a zip" * 50)
    with pytest.raises(ValueError, match="arrays.npz: not a valid .npz archive"):
        load_model(bad)


def test_a_model_saved_by_format_1_still_loads():
    """tests/data/model-v1 was written by glassbox before the whole-file checksum (format 1):
    it loads, and predicts as it did."""
    from glassbox import datasets

    here = Path(__file__).parent / "data" / "model-v1"
    model, meta = load_model(here, with_metadata=True)
    assert json.loads((here / "model.json").read_text())["version"] == 1
    X = datasets.load_digits().images[300:400]
    np.testing.assert_array_equal(model.predict(X), np.load(here / "expected_predictions.npy"))
    assert meta["dataset"]["spec"] == "digits"


V2 = Path(__file__).parent / "data" / "model-v2"
OLD_NAMES = {"_level_grid": "level_grid_", "_cell_grid": "cell_grid_", "_inv_index": "orbit_index_"}


def test_a_model_saved_by_format_2_still_loads():
    """tests/data/model-v2 was written by glassbox's format 2, whose representation kept its
    feature layout under private names: it loads under the documented names of format 3, and
    predicts as it did."""
    from glassbox import datasets

    doc = json.loads((V2 / "model.json").read_text())
    assert doc["version"] == 2 and set(OLD_NAMES) <= set(_rep_state(doc))
    model, meta = load_model(V2, with_metadata=True)
    rep = model.representation_
    assert not set(OLD_NAMES) & set(vars(rep))
    assert rep.level_grid_ == (4, 4) and rep.cell_grid_ == (2, 2)
    assert rep.orbit_index_.dtype == np.int32 and rep.orbit_index_.max() + 1 == rep.n_invariant_
    X = datasets.load_digits().images[300:400]
    np.testing.assert_array_equal(model.predict(X), np.load(V2 / "expected_predictions.npy"))
    assert meta["dataset"]["spec"] == "digits"


@pytest.mark.parametrize("old", sorted(OLD_NAMES))
def test_old_and_current_names_of_one_attribute_are_refused(tmp_path, old):
    """A format-2 file holding an attribute under both names (checksum recomputed)."""

    def both(doc):
        state = _rep_state(doc)
        state[OLD_NAMES[old]] = state[old]

    bad = _edited(V2, tmp_path / "both", both, rehash=True)
    with pytest.raises(
        ValueError, match=f"both the old and the current names of .*{OLD_NAMES[old]}"
    ):
        load_model(bad)


def test_format_3_does_not_read_the_old_names(tmp_path, saved):
    """Only earlier formats are renamed: a format-3 file with an old name is refused."""
    _, path = saved

    def old_name(doc):
        state = _rep_state(doc)
        state["_level_grid"] = state.pop("level_grid_")

    bad = _edited(path, tmp_path / "old", old_name, rehash=True)
    with pytest.raises(ValueError, match="unexpected or missing attributes"):
        load_model(bad)


V3 = Path(__file__).parent / "data" / "model-v3"
ADDED = {"pooling": "cells", "second_order": False, "normalize": None}


def test_a_model_saved_by_format_3_still_loads():
    """tests/data/model-v3 was written by glassbox's format 3 (dcf2b4a), before the
    representation had ``pooling``, ``second_order`` and ``normalize``: it loads with the
    values that compute what it computed, and predicts as it did."""
    from glassbox import datasets

    doc = json.loads((V3 / "model.json").read_text())
    assert doc["version"] == 3 and not set(ADDED) & set(_rep_state(doc))
    model = load_model(V3)
    rep = model.representation_
    assert {k: getattr(rep, k) for k in ADDED} == ADDED
    X = datasets.load_digits().images[300:400]
    np.testing.assert_array_equal(model.predict(X), np.load(V3 / "expected_predictions.npy"))


@pytest.mark.parametrize("name", sorted(ADDED))
def test_an_old_format_holding_a_newer_parameter_is_refused(tmp_path, name):
    """A format-3 file cannot hold a parameter format 4 added (checksum recomputed)."""

    def newer(doc):
        _rep_state(doc)[name] = ADDED[name]

    bad = _edited(V3, tmp_path / "newer", newer, rehash=True)
    with pytest.raises(ValueError, match=f"attributes its format version does not have.*{name}"):
        load_model(bad)


V4 = Path(__file__).parent / "data" / "model-v4"


def test_a_model_saved_by_format_4_still_loads():
    """tests/data/model-v4 was written by glassbox's format 4 (242f87e, smooth pooling, second
    order and square roots), before the classifier had ``augment``: it loads with
    ``augment=None`` and predicts as it did."""
    from glassbox import datasets

    doc = json.loads((V4 / "model.json").read_text())
    assert doc["version"] == 4 and "augment" not in _clf_state(doc)
    model = load_model(V4)
    assert model.augment is None and model.representation_.second_order is True
    X = datasets.load_digits().images[300:400]
    np.testing.assert_array_equal(model.predict(X), np.load(V4 / "expected_predictions.npy"))


V5 = Path(__file__).parent / "data" / "model-v5"


def test_a_model_saved_by_format_5_still_loads():
    """tests/data/model-v5 was written by glassbox's format 5 (d62f967, a model trained with
    ``augment="D2"``), before the classifier had ``invariance``: it loads with
    ``invariance=None`` and predicts as it did."""
    from glassbox import datasets

    doc = json.loads((V5 / "model.json").read_text())
    assert doc["version"] == 5 and "invariance" not in _clf_state(doc)
    model = load_model(V5)
    assert model.invariance is None and model.augment == "D2"
    X = datasets.load_digits().images[300:400]
    np.testing.assert_array_equal(model.predict(X), np.load(V5 / "expected_predictions.npy"))


def test_format_5_cannot_hold_invariance(tmp_path):
    def newer(doc):
        _clf_state(doc)["invariance"] = "D2"

    bad = _edited(V5, tmp_path / "newer", newer, rehash=True)
    with pytest.raises(ValueError, match="attributes its format version does not have.*invariance"):
        load_model(bad)


V6 = Path(__file__).parent / "data" / "model-v6"


def _head_state(doc):
    return _clf_state(doc)["classifier_"]["state"]["__dict__"]


def test_a_model_saved_by_format_6_still_loads():
    """tests/data/model-v6 was written by glassbox's format 6 (993615a, kernel-ridge on 200
    digits), before kernel-ridge had a second stage: it loads as one stage and predicts as it
    did."""
    from glassbox import datasets

    doc = json.loads((V6 / "model.json").read_text())
    assert doc["version"] == 6 and "refine_landmarks" not in _head_state(doc)
    model = load_model(V6)
    head = model.classifier_
    assert (head.refine_landmarks, head.refine_fraction, head.n_refined_) == (0, 0.0, 0)
    assert head.n_landmarks == 4000 and len(head.landmarks_) == 200
    X = datasets.load_digits().images[300:400]
    np.testing.assert_array_equal(model.predict(X), np.load(V6 / "expected_predictions.npy"))


@pytest.mark.parametrize("name", ["refine_landmarks", "n_refined_"])
def test_format_6_cannot_hold_a_second_stage(tmp_path, name):
    def newer(doc):
        _head_state(doc)[name] = 10

    bad = _edited(V6, tmp_path / "newer", newer, rehash=True)
    with pytest.raises(ValueError, match=f"attributes its format version does not have.*{name}"):
        load_model(bad)


def test_an_invariance_outside_the_representations_group_is_refused(tmp_path):
    """A file (checksum recomputed) whose invariance group is not a subgroup of the
    representation's: refused on load, naming it."""
    from glassbox import datasets

    ds = datasets.load_digits()
    rep = GlassBoxRepresentation(group="C4", thresholds=4)
    clf = GlassBoxClassifier(rep, n_components=10, classifier="lda", invariance="C2")
    save_model(clf.fit(ds.images[:200], ds.labels[:200]), tmp_path / "m")

    def outside(doc):
        _clf_state(doc)["invariance"] = "D2"

    bad = _edited(tmp_path / "m", tmp_path / "bad", outside, rehash=True)
    with pytest.raises(ValueError, match=r"invariance='D2' holds \['fh', 'fv'\]"):
        load_model(bad)


# -- preprocessing: the second kind of model --------------------------------------------------


@pytest.mark.parametrize("stages", ["rep", "rep+pca", "rep+scaler+pca", "rep+scaler+ipca"])
def test_preprocessing_round_trip(digits, tmp_path, stages):
    from sklearn.decomposition import PCA, IncrementalPCA
    from sklearn.preprocessing import StandardScaler

    X, _ = digits
    rep = GlassBoxRepresentation(thresholds=6).fit(X[:400])
    F = rep.transform(X[:400])
    scaler = StandardScaler().fit(F) if "scaler" in stages else None
    G = scaler.transform(F) if scaler is not None else F
    pca = None
    if "ipca" in stages:
        pca = IncrementalPCA(7).fit(G)
    elif "pca" in stages:
        pca = PCA(7).fit(G)
    pipe = persistence.preprocessing(rep, scaler, pca)
    save_model(pipe, tmp_path / "p", metadata={"kind": "test"})
    back, meta = load_model(tmp_path / "p", with_metadata=True)
    assert meta == {"kind": "test"} and [n for n, _ in back.steps] == [n for n, _ in pipe.steps]
    # float64 throughout: equal to rounding; the pipeline's own float32 transform: to float32's
    Y = X[400:450]
    want = persistence._preprocessing_output64(pipe, Y)
    np.testing.assert_allclose(persistence._preprocessing_output64(back, Y), want, rtol=1e-12)
    scale = np.abs(want).max()
    np.testing.assert_allclose(back.transform(Y), want, rtol=0, atol=1e-5 * scale)
    doc = json.loads((tmp_path / "p" / "model.json").read_text())
    assert doc["kind"] == "preprocessing"


def test_only_glassbox_models_are_saved_and_loaded(digits, tmp_path):
    from sklearn.decomposition import PCA
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, _ = digits
    rep = GlassBoxRepresentation(thresholds=6).fit(X[:100])
    for pipe in (
        Pipeline([("scaler", StandardScaler().fit(X[:100].reshape(100, -1)))]),
        Pipeline([("representation", rep), ("pca", PCA(2)), ("scaler", StandardScaler())]),
        Pipeline([("rep", rep)]),
    ):
        with pytest.raises(TypeError, match="preprocessing Pipeline must have the steps"):
            save_model(pipe, tmp_path / "x")
    save_model(persistence.preprocessing(rep), tmp_path / "ok")
    doc = json.loads((tmp_path / "ok" / "model.json").read_text())
    doc["model"]["state"]["__dict__"]["steps"][0]["__tuple__"][0] = "other"
    (tmp_path / "ok" / "model.json").write_text(json.dumps(doc))
    _rehash(tmp_path / "ok")
    with pytest.raises(ValueError, match="preprocessing Pipeline must have the steps"):
        load_model(tmp_path / "ok")


def test_model_files_that_are_not_regular_files(saved, tmp_path):
    import os

    _, path = saved
    bad = _copy(path, tmp_path / "fifo")
    (bad / "arrays.npz").unlink()
    os.mkfifo(bad / "arrays.npz")
    with pytest.raises(ValueError, match="not a regular file"):
        load_model(bad)
