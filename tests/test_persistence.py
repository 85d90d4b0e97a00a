"""glassbox.save_model / load_model: round trips without pickle, and refusal of changed files."""

from __future__ import annotations

import hashlib
import io
import json
import pickle

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
    doc["sha256"] = persistence._checksum(json.dumps(doc["model"], sort_keys=True), npz)
    (path / "model.json").write_text(json.dumps(doc))


@pytest.mark.parametrize("name", ["svm", "linear", "lda", "knn", "mlp"])
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
    assert doc["format"] == "glassbox-model" and doc["version"] == 1
    assert doc["model"]["__estimator__"] == "glassbox.classifier.GlassBoxClassifier"
    with np.load(path / "arrays.npz", allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


def test_a_changed_byte_is_refused(saved, tmp_path):
    _, path = saved
    for name in ("arrays.npz", "model.json"):
        bad = _copy(path, tmp_path / name)
        data = bytearray((bad / name).read_bytes())
        i = len(data) // 2
        data[i] = (data[i] + 1) % 256 if chr(data[i]).isdigit() is False else ord("7")
        (bad / name).write_bytes(bytes(data))
        with pytest.raises(ValueError):
            load_model(bad)


def test_an_edited_value_is_refused(saved, tmp_path):
    _, path = saved
    bad = _copy(path, tmp_path / "edited")
    doc = json.loads((bad / "model.json").read_text())
    doc["model"]["state"]["__dict__"]["C"] = 99.0
    (bad / "model.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_model(bad)


def test_edited_numbers_with_a_recomputed_checksum_are_refused(saved, tmp_path):
    """Someone who recomputes the checksum still has to match the stored predictions."""
    _, path = saved
    bad = _copy(path, tmp_path / "rehashed")
    doc = json.loads((bad / "model.json").read_text())
    rep_state = doc["model"]["state"]["__dict__"]["representation_"]["state"]["__dict__"]
    key = rep_state["thresholds_"]["__array__"]
    _edit_arrays(bad, lambda arrays: arrays.update({key: arrays[key] + 1.0}))
    with pytest.raises(ValueError, match="does not reproduce the predictions"):
        load_model(bad)


def test_a_class_outside_the_list_is_refused_without_importing_it(saved, tmp_path):
    _, path = saved
    bad = _copy(path, tmp_path / "class")
    doc = json.loads((bad / "model.json").read_text())
    doc["model"]["state"]["__dict__"]["scaler_"]["__estimator__"] = "os.system"
    (bad / "model.json").write_text(json.dumps(doc))
    _rehash(bad)
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
    "edit, message",
    [
        (lambda d: d.update(format="other"), "not a glassbox-model file"),
        (lambda d: d.update(version=2), "format version 2"),
    ],
)
def test_wrong_format_or_version(saved, tmp_path, edit, message):
    _, path = saved
    bad = _copy(path, tmp_path / "fmt")
    doc = json.loads((bad / "model.json").read_text())
    edit(doc)
    (bad / "model.json").write_text(json.dumps(doc))
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
    bad = _copy(path, tmp_path / "node")
    doc = json.loads((bad / "model.json").read_text())
    doc["model"]["state"]["__dict__"]["C"] = node
    (bad / "model.json").write_text(json.dumps(doc))
    _rehash(bad)
    with pytest.raises(ValueError):
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
    from glassbox import _run

    real = _run.write_atomically

    def failing(path, data):
        if path.name == "model.json":
            raise OSError("disk full")
        real(path, data)

    monkeypatch.setattr(_run, "write_atomically", failing)
    with pytest.raises(OSError, match="disk full"):
        save_model(b, out)
    monkeypatch.setattr(_run, "write_atomically", real)
    assert sorted(p.name for p in out.iterdir()) == ["arrays.npz", "model.json"]
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_model(out)


def test_checksum_covers_both_files():
    a = persistence._checksum("{}", b"x")
    assert a != persistence._checksum("{ }", b"x") and a != persistence._checksum("{}", b"y")
    assert a == hashlib.sha256(b"{}\0x").hexdigest()


def test_deeply_nested_json_is_refused(saved, tmp_path):
    _, path = saved
    bad = _copy(path, tmp_path / "deep")
    (bad / "model.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="model.json"):
        load_model(bad)
