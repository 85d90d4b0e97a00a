"""``glassbox run --save-model`` and ``glassbox explain``: the PNG and JSON of one image's
explanation, and the command's errors."""

from __future__ import annotations

import numpy as np
import pytest

from glassbox import datasets
from glassbox.explain import AGGREGATIONS


@pytest.fixture(scope="module")
def saved_linear(tmp_path_factory):
    from glassbox.cli import main

    root = tmp_path_factory.mktemp("explain")
    args = ["run", "--classifier", "linear", "--n-components", "30", "--quiet"]
    assert main([*args, "--out", str(root / "rep"), "--save-model", str(root / "model")]) == 0
    return root / "model"


def test_explain_command_on_a_test_image(saved_linear, tmp_path, capsys):
    import json

    from glassbox import load_model
    from glassbox.cli import _common as _run
    from glassbox.cli import main

    out = tmp_path / "ex"
    assert main(["explain", "--model", str(saved_linear), "--index", "7", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "digits test image 7: predicted" in text and "(exact)" in text
    assert (out / "explain.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rep = json.loads((out / "explain.json").read_text())
    assert rep["method"] == "linear" and rep["exact"] is True
    assert rep["score"] == pytest.approx(rep["baseline"] + rep["sum_of_contributions"], abs=1e-9)
    assert set(rep["aggregates"]) == set(AGGREGATIONS)
    for by, items in rep["aggregates"].items():
        total = sum(d["contribution"] for d in items)
        assert total == pytest.approx(rep["sum_of_contributions"], abs=1e-9), by
    heat = np.array(rep["heatmap"])
    assert heat.shape == (8, 8)
    assert heat.sum() == pytest.approx(rep["sum_of_contributions"], abs=1e-4)
    assert len(rep["top_features"]) == 20
    # the same numbers as the API on the same image
    model = load_model(saved_linear)
    ds = _run.load_dataset("digits")
    _, x_test, _, y_test = _run.split(ds, None, 0.25, 0)
    ex = model.explain(x_test[7:8])
    assert rep["score"] == pytest.approx(ex.score[0], rel=1e-12)
    assert rep["true_class"] == ds.class_names[y_test[7]]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_explain_command_on_an_image_file_with_a_target(saved_linear, tmp_path):
    import json

    import cv2

    from glassbox.cli import main

    ds = datasets.load_digits()
    img = (ds.images[5].astype(np.float64) * 255 / 16).astype(np.uint8)
    big = cv2.resize(img, (32, 32), interpolation=cv2.INTER_NEAREST)
    path = tmp_path / "five.png"
    cv2.imwrite(str(path), big)
    out = tmp_path / "ex"
    args = ["explain", "--model", str(saved_linear), "--image", str(path), "--target", "3"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    rep = json.loads((out / "explain.json").read_text())
    assert rep["target_class"] == "3" and rep["image"] == str(path) and rep["true_class"] is None
    np.save(tmp_path / "img.npy", ds.images[5])
    args = ["explain", "--model", str(saved_linear), "--image", str(tmp_path / "img.npy")]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    np.save(tmp_path / "big.npy", np.kron(ds.images[5] > 8, np.ones((2, 2), bool)))  # resized
    args = ["explain", "--model", str(saved_linear), "--image", str(tmp_path / "big.npy")]
    assert main([*args, "--out", str(out), "--quiet"]) == 0


def test_explain_command_with_an_approximate_model(tmp_path, capsys):
    import json

    from glassbox.cli import main

    model = tmp_path / "m"
    args = ["run", "--classifier", "knn", "--n-components", "20", "--quiet", "--train-size", "400"]
    assert main([*args, "--out", str(tmp_path / "r"), "--save-model", str(model)]) == 0
    out = tmp_path / "ex"
    assert main(["explain", "--model", str(model), "--index", "0", "--out", str(out)]) == 0
    assert "approximate: occlusion" in capsys.readouterr().out
    rep = json.loads((out / "explain.json").read_text())
    assert rep["exact"] is False and rep["method"] == "occlusion"
    assert rep["score"] == pytest.approx(
        rep["baseline"] + rep["sum_of_contributions"] + rep["residual"]
    )


@pytest.mark.parametrize("classifier", ["kernel-ridge", "svm"])
def test_explain_command_names_the_training_images_of_a_kernel_model(tmp_path, capsys, classifier):
    import json

    from glassbox import load_model
    from glassbox.cli import _common as _run
    from glassbox.cli import main

    model = tmp_path / "m"
    args = ["run", "--classifier", classifier, "--n-components", "20", "--quiet"]
    assert main([*args, "--train-size", "500", "--out", str(tmp_path / "r"), "--save-model",
                 str(model)]) == 0  # fmt: skip
    out = tmp_path / "ex"
    assert main(["explain", "--model", str(model), "--index", "4", "--out", str(out)]) == 0
    assert "(training images, exact)" in capsys.readouterr().out
    rep = json.loads((out / "explain.json").read_text())
    e = rep["examples"]
    assert e["what"] == ("landmarks" if classifier == "kernel-ridge" else "support vectors")
    assert e["score"] == pytest.approx(e["baseline"] + e["sum_of_contributions"], abs=1e-9)
    assert len(e["top"]) == 8
    weights = [abs(d["contribution"]) for d in e["top"]]
    assert weights == sorted(weights, reverse=True)
    # the names are the training images of the split the model was trained on
    ds = _run.load_dataset("digits")
    x_train, x_test, y_train, _ = _run.split(ds, 500, 0.25, 0)
    ex = load_model(model).explain_examples(x_test[4:5])
    first = e["top"][0]
    images, _, w = ex.top(1)
    assert first["training_image"] == images[0, 0] and first["contribution"] == pytest.approx(
        w[0, 0], rel=1e-12
    )
    assert first["class"] == ds.class_names[y_train[first["training_image"]]]
    assert (out / "explain.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_explain_command_errors(saved_linear, tmp_path, capsys):
    from glassbox.cli import main

    def fails(args, message):
        assert main(["explain", *args, "--out", str(tmp_path / "o")]) == 1
        assert message in capsys.readouterr().err

    fails(["--model", str(tmp_path / "none"), "--index", "0"], "no model.json")
    fails(["--model", str(saved_linear), "--index", "450"], "the test set has 450 images")
    fails(["--model", str(saved_linear), "--index", "0", "--target", "cat"], "--target 'cat'")
    fails(["--model", str(saved_linear), "--image", str(tmp_path / "x.png")], "no such file")
    np.save(tmp_path / "c.npy", np.ones((8, 8), complex))
    fails(
        ["--model", str(saved_linear), "--image", str(tmp_path / "c.npy")], "2-D array of numbers"
    )
    (tmp_path / "junk.png").write_bytes(b"not an image")
    fails(["--model", str(saved_linear), "--image", str(tmp_path / "junk.png")], "cannot be read")
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    for name in ("model.json", "arrays.npz"):
        (tampered / name).write_bytes((saved_linear / name).read_bytes())
    data = bytearray((tampered / "arrays.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tampered / "arrays.npz").write_bytes(bytes(data))
    fails(["--model", str(tampered), "--index", "0"], "checksum mismatch")
    with pytest.raises(SystemExit):
        main(["explain", "--model", str(saved_linear), "--index", "0", "--image", "x.png"])
    with pytest.raises(SystemExit):
        main(["explain", "--model", str(saved_linear)])
    assert not (tmp_path / "o" / "explain.json").exists()


def test_index_finds_a_dataset_file_from_another_directory(tmp_path, monkeypatch):
    """--save-model records a dataset PATH absolute, so explain --index works from anywhere."""
    import json

    from glassbox.cli import main

    ds = datasets.load_digits()
    (tmp_path / "data").mkdir()
    np.savez(tmp_path / "data" / "d.npz", images=ds.images[:400], labels=ds.labels[:400])
    monkeypatch.chdir(tmp_path / "data")
    args = ["run", "--dataset", "d.npz", "--classifier", "lda", "--n-components", "20", "--quiet"]
    assert main([*args, "--out", "rep", "--save-model", "model"]) == 0
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "ex"
    args = ["explain", "--model", "data/model", "--index", "3", "--out", str(out), "--quiet"]
    assert main(args) == 0
    assert json.loads((out / "explain.json").read_text())["image"] == "d test image 3"


def test_explain_a_model_saved_from_python(tmp_path):
    """A model saved with save_model (invariant block only, no dataset recorded): --image works,
    --index says what is missing."""
    import json

    from glassbox import GlassBoxClassifier, GlassBoxRepresentation, save_model
    from glassbox.cli import main

    ds = datasets.load_digits()
    rep = GlassBoxRepresentation(blocks="invariant")
    clf = GlassBoxClassifier(rep, n_components=20, classifier="lda").fit(ds.images, ds.labels)
    save_model(clf, tmp_path / "m")
    np.save(tmp_path / "x.npy", ds.images[0])
    out = tmp_path / "ex"
    args = ["explain", "--model", str(tmp_path / "m"), "--out", str(out), "--quiet"]
    assert main([*args, "--image", str(tmp_path / "x.npy")]) == 0
    report = json.loads((out / "explain.json").read_text())
    assert [d["name"] for d in report["aggregates"]["block"]] == [
        "invariant level",
        "invariant step",
    ]
    assert (out / "explain.png").stat().st_size > 10_000
    assert main([*args, "--index", "0"]) == 1


def test_explain_without_matplotlib_says_so_before_any_work(
    saved_linear, tmp_path, monkeypatch, capsys
):
    import sys

    from glassbox.cli import main

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    out = tmp_path / "ex"
    assert main(["explain", "--model", str(saved_linear), "--index", "0", "--out", str(out)]) == 1
    assert "draws a PNG with matplotlib" in capsys.readouterr().err
    assert not out.exists()


# -- every bad --image is a clear error naming it --------------------------------------------


def _npz_bytes(**arrays):
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "write", "message"),
    [
        ("empty.npy", lambda p: np.save(p, np.zeros((0, 0))), "non-empty 2-D array of numbers"),
        ("row.npy", lambda p: np.save(p, np.zeros((0, 8))), "non-empty 2-D array of numbers"),
        ("cube.npy", lambda p: np.save(p, np.zeros((2, 8, 8))), "non-empty 2-D array of numbers"),
        ("zip.npy", lambda p: p.write_bytes(_npz_bytes(a=np.zeros(3))), "not a valid .npy file"),
        ("nan.npy", lambda p: np.save(p, np.full((8, 8), np.nan)), "NaN or infinite"),
        ("text.npy", lambda p: p.write_text("hello"), "not a valid .npy file"),
        ("empty.png", lambda p: p.write_bytes(b""), "an empty file, not an image"),
        ("half.png", lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 50), "cannot be read"),
    ],
)
def test_bad_image_files_are_refused_naming_image(saved_linear, tmp_path, capsys, name, write,
                                                  message):  # fmt: skip
    from glassbox.cli import main

    write(tmp_path / name)
    args = ["explain", "--model", str(saved_linear), "--image", str(tmp_path / name)]
    assert main([*args, "--out", str(tmp_path / "o"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"--image '{tmp_path / name}'" in err and message in err
    assert "Traceback" not in err and "cv2.error" not in err and "WARN" not in err
    assert not (tmp_path / "o" / "explain.json").exists()


def test_fifo_as_image_is_refused(saved_linear, tmp_path, capsys):
    import os

    from glassbox.cli import main

    os.mkfifo(tmp_path / "x.png")
    args = ["explain", "--model", str(saved_linear), "--image", str(tmp_path / "x.png")]
    assert main([*args, "--out", str(tmp_path / "o")]) == 1
    assert "not a regular file" in capsys.readouterr().err


def _save_with_metadata(saved_linear, tmp_path, meta):
    from glassbox import load_model, save_model

    model = load_model(saved_linear)
    return save_model(model, tmp_path / "m", metadata=meta)


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        ({"spec": "digits", "seed": 0}, "valid 'test_size'"),
        ({"spec": "digits", "test_size": 0.25}, "valid 'seed'"),
        ({"spec": "digits", "test_size": 2, "seed": 0}, "valid 'test_size'"),
        ({"spec": "digits", "test_size": 0.25, "seed": -1}, "valid 'seed'"),
        ({"spec": "digits", "test_size": 0.25, "seed": 0, "image_size": [8]}, "'image_size'"),
        ({"spec": "digits", "test_size": 0.25, "seed": 0, "train_size": 0}, "'train_size'"),
        ({"spec": 3, "test_size": 0.25, "seed": 0}, "valid 'spec'"),
        ({"test_size": 0.25, "seed": 0}, "does not record its dataset"),
        ("digits", "does not record its dataset"),
    ],
)
def test_partial_dataset_records_are_refused_clearly(saved_linear, tmp_path, capsys, dataset,
                                                     message):  # fmt: skip
    from glassbox.cli import main

    model = _save_with_metadata(saved_linear, tmp_path, {"dataset": dataset})
    assert (
        main(["explain", "--model", str(model), "--index", "0", "--out", str(tmp_path / "o")]) == 1
    )
    err = capsys.readouterr().err
    assert message in err and "KeyError" not in err


@pytest.mark.parametrize(
    "names", [["a", "a", "b", "c", "d", "e", "f", "g", "h", "i"], ["a", "b"], "abc", [1, 2]]
)
def test_class_names_that_do_not_fit_the_model_are_refused(saved_linear, tmp_path, capsys,
                                                           names):  # fmt: skip
    from glassbox.cli import main

    meta = {"class_names": names}
    model = _save_with_metadata(saved_linear, tmp_path, meta)
    np.save(tmp_path / "x.npy", datasets.load_digits().images[0])
    args = ["explain", "--model", str(model), "--image", str(tmp_path / "x.npy")]
    assert main([*args, "--out", str(tmp_path / "o")]) == 1
    assert "class_names do not fit the model's classes" in capsys.readouterr().err


def test_explain_json_survives_a_failing_png(saved_linear, tmp_path, capsys, monkeypatch):
    import json

    from glassbox.cli import explain as _explain
    from glassbox.cli import main

    def broken(*a):
        raise RuntimeError("no figure today")

    monkeypatch.setattr(_explain, "write_explain_png", broken)
    out = tmp_path / "o"
    assert main(["explain", "--model", str(saved_linear), "--index", "3", "--out", str(out)]) == 1
    assert "figure explain.png could not be drawn" in capsys.readouterr().err
    assert json.loads((out / "explain.json").read_text())["exact"] is True
    assert not (out / "explain.png").exists()


def test_explain_never_writes_over_the_model_or_the_image(saved_linear, tmp_path, capsys):
    import shutil

    from glassbox.cli import main

    model = tmp_path / "m"
    shutil.copytree(saved_linear, model)
    np.save(tmp_path / "x.npy", datasets.load_digits().images[0])
    (model / "explain.json").symlink_to(model / "model.json")  # a trap: a link to the input
    assert main(["explain", "--model", str(model), "--index", "0", "--out", str(model)]) == 1
    assert "is the input file" in capsys.readouterr().err
    assert (model / "model.json").read_bytes() == (saved_linear / "model.json").read_bytes()


@pytest.mark.parametrize("classifier", ["kernel-ridge", "svm"])
def test_explain_reads_only_what_it_shows_of_an_idx_directory(
    tmp_path, monkeypatch, whole_idx_reads, classifier
):
    """A model trained on a directory of IDX files: explain --index reads the test images, the
    labels and the few training images it shows, never the training images whole, and writes
    what it writes when it loads the directory whole."""
    import json

    from test_cli_run import _idx_dataset

    from glassbox.cli import explain as explain_cli
    from glassbox.cli import main

    folder = tmp_path / "idx"
    _idx_dataset(folder)
    model = tmp_path / "m"
    args = ["run", "--dataset", str(folder), "--classifier", classifier, "--n-components", "20"]
    assert main([*args, "--quiet", "--out", str(tmp_path / "r"), "--save-model", str(model)]) == 0
    read_whole = whole_idx_reads
    read_whole.clear()  # (the run above read them)
    explain = ["explain", "--model", str(model), "--index", "7", "--quiet", "--out"]
    assert main([*explain, str(tmp_path / "a")]) == 0
    assert "train-images-idx3-ubyte" not in read_whole and "t10k-images-idx3-ubyte" in read_whole
    monkeypatch.setattr(explain_cli, "idx_directory", lambda spec: False)  # load it whole
    assert main([*explain, str(tmp_path / "b")]) == 0
    assert "train-images-idx3-ubyte" in read_whole
    a, b = (json.loads((tmp_path / d / "explain.json").read_text()) for d in "ab")
    assert a == b and len(a["examples"]["top"]) == 8 and a["true_class"] is not None
