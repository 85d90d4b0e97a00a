"""``glassbox run``: reports, figures, errors, memory (glassbox/cli/run.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import glassbox as gb
from glassbox import _io
from glassbox.cli import _common, main
from glassbox.cli import run as _run

from conftest import write_idx

REPORT_KEYS = {"accuracy", "n_train", "n_test", "group", "separability", "timings"}


def _report(out):
    return json.loads((out / "report.json").read_text())


def test_run_on_digits_by_default(tmp_path, capsys):
    """No dataset argument: digits, stratified 75/25 with seed 0, accuracy >= 0.99."""
    out = tmp_path / "rep"
    assert main(["run", "--out", str(out), "--plot"]) == 0
    report = _report(out)
    assert set(report) >= REPORT_KEYS
    assert report["dataset"] == "digits" and report["group"] == "D4"
    assert report["command"] == f"glassbox run --out {out} --plot"
    assert report["n_train"] == 1347 and report["n_test"] == 450
    assert report["accuracy"] >= 0.99
    for layer in ("raw", "representation", "pca"):
        assert set(report["separability"][layer]) >= {"ratio", "fisher", "silhouette"}
    cm = np.array(report["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 450
    assert np.trace(cm) / 450 == pytest.approx(report["accuracy"])
    assert len(report["per_class"]) == 10
    f = report["features"]
    assert f["total"] == sum(f["invariant"].values()) + sum(f["equivariant"].values())
    assert {"representation", "pca", "classifier", "predict", "total"} <= set(report["timings"])
    md = (out / "report.md").read_text()
    assert f"**{report['accuracy']:.4f}**" in md and "## Confusion matrix" in md
    for png in ("orbits", "pca_scatter", "separability", "confusion"):
        assert (out / f"{png}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left
    assert oct((out / "report.json").stat().st_mode & 0o777) != oct(0o600)
    text = capsys.readouterr()
    assert "test accuracy" in text.out and "separability" in text.out
    assert "representation (train)" in text.err  # progress goes to stderr


@pytest.mark.parametrize("classifier", ["linear", "lda", "knn", "mlp", "kernel-ridge"])
def test_run_other_classifiers_and_groups(tmp_path, classifier):
    out = tmp_path / classifier
    args = [
        "run",
        "--classifier",
        classifier,
        "--group",
        "C4",
        "--train-size",
        "600",
        "--n-components",
        "40",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(args) == 0
    report = _report(out)
    assert report["classifier"] == classifier and report["group"] == "C4"
    assert report["n_train"] == 600 and report["n_components"] == 40
    assert report["accuracy"] > 0.9


def test_run_on_fashion_mnist_sample(tmp_path):
    out = tmp_path / "fm"
    assert (
        main(
            [
                "run",
                "--dataset",
                "fashion-mnist",
                "--train-size",
                "2000",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    report = _report(out)
    assert report["n_test"] == 10_000 and report["n_train"] == 2000
    assert report["accuracy"] > 0.8


def test_run_on_files(tmp_path):
    ds = gb.datasets.load_digits()
    npz = tmp_path / "d.npz"
    np.savez(npz, images=ds.images, labels=ds.labels)
    assert main(["run", "--dataset", str(npz), "--out", str(tmp_path / "a"), "--quiet"]) == 0
    assert _report(tmp_path / "a")["n_test"] == 450
    import cv2

    folder = tmp_path / "folder"
    for k in range(3):
        (folder / f"class{k}").mkdir(parents=True)
        for i in np.flatnonzero(ds.labels == k)[:20]:
            cv2.imwrite(str(folder / f"class{k}" / f"{i}.png"), ds.images[i] * 15)
    assert (
        main(
            [
                "run",
                "--dataset",
                str(folder),
                "--image-size",
                "8",
                "8",
                "--out",
                str(tmp_path / "b"),
                "--quiet",
            ]
        )
        == 0
    )
    assert _report(tmp_path / "b")["class_names"] == ["class0", "class1", "class2"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "/nonexistent/x"], "no such file or directory"),
        (["--train-size", "99999"], "exceeds the 1347 training images"),
        (["--test-size", "1.5"], "--test-size must lie in"),
    ],
)
def test_run_errors(tmp_path, capsys, args, message):
    assert main(["run", *args, "--out", str(tmp_path), "--quiet"]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "report.json").exists()


def test_run_error_on_files(tmp_path, capsys):
    (tmp_path / "x.txt").write_text("hello")
    assert main(["run", "--dataset", str(tmp_path / "x.txt"), "--out", str(tmp_path)]) == 1
    assert "must be an .npz archive" in capsys.readouterr().err
    (tmp_path / "imgs" / "a").mkdir(parents=True)
    assert main(["run", "--dataset", str(tmp_path / "imgs"), "--out", str(tmp_path)]) == 1
    assert "--image-size" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "--train-size", "0"])
    assert main([]) == 2


def test_report_is_never_half_written(tmp_path, monkeypatch):
    target = tmp_path / "report.json"

    def fail(*_):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        _io.write_atomically(target, b"{}")
    assert list(tmp_path.iterdir()) == []


def _image_folder(root, n=12):
    import cv2

    ds = gb.datasets.load_digits()
    for k in range(3):
        (root / f"class{k}").mkdir(parents=True)
        for i in np.flatnonzero(ds.labels == k)[:n]:
            cv2.imwrite(str(root / f"class{k}" / f"{i}.png"), ds.images[i] * 15)
    return root


def test_figures_are_never_written_into_the_image_folder_they_read(tmp_path, capsys):
    folder = _image_folder(tmp_path / "imgs")
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    for out in (folder / "report", folder / "class0", folder):
        args = ["run", "--dataset", str(folder), "--image-size", "8", "8", "--out", str(out)]
        assert main([*args, "--plot", "--quiet"]) == 1
        assert "lies inside the input folder" in capsys.readouterr().err
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before
    # a report without figures reads nothing back: it may go there
    assert main([*args, "--quiet", "--n-components", "5"]) == 0


def test_one_component_and_mathtext_class_names_draw_and_save(tmp_path):
    ds = gb.datasets.load_digits()
    names = np.array(["$x^2$", "a$b", "$$", r"\frac", "e|f", "g\nh", r"$\alpha", "7", "8", "9"])
    np.savez(tmp_path / "d.npz", images=ds.images, labels=ds.labels, class_names=names)
    out, model = tmp_path / "out", tmp_path / "model"
    args = ["run", "--dataset", str(tmp_path / "d.npz"), "--n-components", "1", "--plot"]
    assert main([*args, "--save-model", str(model), "--out", str(out), "--quiet"]) == 0
    for png in ("orbits", "pca_scatter", "separability", "confusion"):
        assert (out / f"{png}.png").read_bytes()[:4] == b"\x89PNG"
    assert gb.load_model(model).predict(ds.images[:5]).shape == (5,)
    md = (out / "report.md").read_text()
    assert "| e\\|f |" in md and "| g h |" in md and "| \\$x^2\\$ |" in md


def test_a_failing_figure_is_reported_and_everything_else_written(tmp_path, capsys, monkeypatch):
    from glassbox.cli import _figures as _plots

    def broken(*a):
        raise RuntimeError("the figure broke")

    monkeypatch.setattr(_plots, "_scatter", broken)
    out, model = tmp_path / "out", tmp_path / "model"
    args = ["run", "--plot", "--save-model", str(model), "--out", str(out), "--quiet"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "figure pca_scatter.png could not be drawn (RuntimeError: the figure broke)" in err
    assert "every other output was written" in err
    assert _report(out)["accuracy"] > 0.95 and (out / "report.md").exists()
    assert sorted(p.name for p in model.iterdir()) == ["arrays.npz", "model.json"]
    assert gb.load_model(model) is not None
    written = sorted(p.name for p in out.iterdir())
    assert written == ["confusion.png", "orbits.png", "report.json", "report.md",
                       "separability.png"]  # fmt: skip


def test_scatter_legend_names_every_class_once_in_its_own_colour(tmp_path, monkeypatch):
    """More than 10 classes: each class drawn on its own with its name (legend_elements binned
    them and tab10 repeated colours)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from glassbox.cli import _figures as _plots

    seen = {}
    real = _plots._save

    def capture(fig, path):
        if path.name == "pca_scatter.png":
            legend = fig.legends[0]
            seen["labels"] = [t.get_text() for t in legend.get_texts()]
            seen["colours"] = [tuple(h.get_facecolor()[0]) for h in legend.legend_handles]
        return real(fig, path)

    monkeypatch.setattr(_plots, "_save", capture)
    rng = np.random.default_rng(0)
    y = np.arange(300) % 15
    x = rng.integers(0, 255, (300, 8, 8), dtype=np.uint8)
    z = rng.normal(size=(300, 3))
    names = [f"class {k}" for k in range(15)]
    report = {"separability": {k: {"ratio": 0.5, "fisher": 1.0, "silhouette": 0.1}
                               for k in ("raw", "representation", "pca")}}  # fmt: skip
    _plots._scatter(tmp_path / "pca_scatter.png", x, y, z, names)
    _plots._separability(tmp_path / "separability.png", report)
    assert seen["labels"] == names
    assert len(set(seen["colours"])) == 15


def test_fewer_thresholds_than_asked_are_explained(tmp_path, capsys):
    assert main(["run", "--out", str(tmp_path), "--n-components", "20"]) == 0
    report = _report(tmp_path)
    assert len(report["thresholds"]) == 16 and report["thresholds_requested"] == 32
    assert "16 thresholds, not the 32 asked" in report["notes"][0]
    assert "integers from 0 to 16" in report["notes"][0]
    assert "16 thresholds, not the 32 asked" in capsys.readouterr().out
    assert "note: 16 thresholds" in (tmp_path / "report.md").read_text()


def test_labels_that_are_not_indices_give_one_row_per_class_present(tmp_path):
    ds = gb.datasets.load_digits()
    labels = np.where(ds.labels < 5, 0, 2**40)
    np.savez(tmp_path / "d.npz", images=ds.images, labels=labels)
    assert main(["run", "--dataset", str(tmp_path / "d.npz"), "--out", str(tmp_path / "r"),
                 "--quiet", "--n-components", "10"]) == 0  # fmt: skip
    report = _report(tmp_path / "r")
    assert report["class_names"] == ["0", "1099511627776"]
    assert np.array(report["confusion_matrix"]).shape == (2, 2)


def test_separability_is_measured_on_a_bounded_sample():
    y = np.repeat(np.arange(4), 7000)
    idx = _run._separability_sample(y, seed=0)
    assert len(idx) == _run.SEPARABILITY_MAX and np.all(np.diff(idx) > 0)
    assert np.bincount(y[idx]).tolist() == [2500] * 4  # stratified
    assert np.array_equal(y[_run._separability_sample(y[:900], seed=0)], y)  # all: a view


def test_memory_is_checked_before_the_layout_and_the_features(tmp_path, capsys, monkeypatch):
    """Large images give millions of features (5000 x 5000: 31 million, killed at 24 GB): the
    fit is refused from the parameters, before the feature names or any feature exist."""
    from glassbox import _validation, representation

    folder = _image_folder(tmp_path / "imgs")
    monkeypatch.setattr(_validation, "memory_limit", lambda: 2 * 2**30)
    built = []
    monkeypatch.setattr(representation.GlassBoxRepresentation, "_layout", built.append)
    args = ["run", "--dataset", str(folder), "--image-size", "2000", "2000", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "fitting on 27 images of 2000x2000 (up to 10,000,000 features each) would need" in err
    assert "more than this machine's memory available now (2.0 GiB)" in err
    assert "train on fewer with --train-size N" in err  # what the command can do about it
    assert built == []  # refused before the layout was built


def test_out_of_memory_is_an_error_message_not_a_traceback(tmp_path, capsys, monkeypatch):
    def no_memory(*a, **k):
        raise MemoryError("Unable to allocate 3 GiB")

    monkeypatch.setattr(_common, "load_dataset", no_memory)
    assert main(["run", "--out", str(tmp_path), "--quiet"]) == 1
    assert (
        "glassbox run: error: out of memory (Unable to allocate 3 GiB)" in capsys.readouterr().err
    )


def test_reports_written_in_a_checkout_are_ignored_by_git():
    ignored = (Path(__file__).parents[1] / ".gitignore").read_text().split()
    for name in ("glassbox-report/", "glassbox-explain/", "glassbox-compare/", "bench-results/"):
        assert name in ignored


# -- --test-transform: the test set under every element of a group -------------------------------


@pytest.mark.parametrize(("group", "recomputed"), [("D4", []), ("C4", ["fh", "fv", "t", "at"])])
def test_test_transform_equals_predicting_moved_images(digits_images, group, recomputed):
    """The accuracy under each element equals that of predicting the moved images, whether the
    features were permuted (elements of the representation's group) or computed again."""
    X, y = digits_images
    rep = gb.GlassBoxRepresentation(group=group)
    clf = gb.GlassBoxClassifier(rep, n_components=30).fit(X[:800], y[:800])
    x_test, y_test = X[800:1100], y[800:1100]
    f_test = clf.representation_.transform(x_test)
    timings = {}
    got = _run.transformed_accuracy(clf, x_test, y_test, f_test, "D4", timings)
    g = gb.get_group("D4")
    assert list(got["accuracy"]) == list(g.elements) and got["group"] == "D4"
    for h in g.elements:
        want = float(np.mean(clf.predict(g.apply(x_test, h)) == y_test))
        assert got["accuracy"][h] == want, h
    assert got["accuracy"]["e"] == clf.score(x_test, y_test)
    assert got["recomputed"] == recomputed
    worst = min(got["accuracy"].values())
    assert got["worst"]["accuracy"] == worst and got["accuracy"][got["worst"]["element"]] == worst
    assert got["spread"] == pytest.approx(max(got["accuracy"].values()) - worst)
    assert "test_transform" in timings
    # each test image moved by its own element, drawn with the seed
    drawn = np.random.default_rng(0).integers(0, g.order, len(y_test))
    moved = np.stack([g.apply(x, int(i)) for x, i in zip(x_test, drawn, strict=True)])
    assert got["randomised"] == float(np.mean(clf.predict(moved) == y_test))


def test_run_reports_the_test_set_under_a_group(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", "--test-transform", "D2", "--out", str(out)]) == 0
    report = _report(out)
    moved = report["test_transform"]
    assert moved["group"] == "D2" and list(moved["accuracy"]) == ["e", "r180", "fh", "fv"]
    assert moved["accuracy"]["e"] == report["accuracy"] and moved["recomputed"] == []
    md = (out / "report.md").read_text()
    assert (
        "## Test images moved by D2" in md and f"| r180 | {moved['accuracy']['r180']:.4f} |" in md
    )
    assert "test images moved by D2: e " in capsys.readouterr().out
    # without the option, no such section
    assert main(["run", "--out", str(tmp_path / "plain"), "--quiet"]) == 0
    assert "test_transform" not in _report(tmp_path / "plain")


def test_test_transform_refuses_a_group_the_images_cannot_take(tmp_path, capsys):
    """Rotations by 90 degrees need square images: refused before any work, naming the option."""
    rng = np.random.default_rng(0)
    npz = tmp_path / "d.npz"
    np.savez(npz, images=rng.integers(0, 256, (60, 8, 12), np.uint8), labels=np.arange(60) % 3)
    args = ["run", "--dataset", str(npz), "--group", "D2", "--test-transform", "C4"]
    assert main([*args, "--out", str(tmp_path / "r"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "--test-transform" in err and "rotations by 90 degrees" in err
    assert not (tmp_path / "r" / "report.json").exists()
    with pytest.raises(SystemExit):
        main(["run", "--test-transform", "D5"])
    assert "invalid choice: 'D5'" in capsys.readouterr().err


# -- --invariance: an exactly invariant model ---------------------------------------------------


def test_run_with_invariance_is_invariant_on_the_test_set(tmp_path, capsys):
    out = tmp_path / "r"
    args = ["run", "--invariance", "D4", "--classifier", "lda", "--test-transform", "D4"]
    assert main([*args, "--out", str(out)]) == 0
    report = _report(out)
    assert report["invariance"] == "D4"
    moved = report["test_transform"]["accuracy"]
    assert set(moved.values()) == {report["accuracy"]} and report["test_transform"]["spread"] == 0
    assert "(invariant to D4)" in (out / "report.md").read_text()
    # the model's own predictions are what run reports
    assert main(["run", "--classifier", "lda", "--out", str(tmp_path / "plain"), "--quiet"]) == 0
    plain = _report(tmp_path / "plain")
    assert plain["invariance"] is None
    assert "(invariant to" not in (tmp_path / "plain" / "report.md").read_text()


def test_run_refuses_an_invariance_outside_the_group(tmp_path, capsys, monkeypatch):
    """Refused before any feature is computed, naming both groups."""
    args = ["run", "--group", "C4", "--invariance", "D4", "--out", str(tmp_path / "r")]

    def no_work(*a, **k):
        raise AssertionError("a feature was computed")

    monkeypatch.setattr(gb.GlassBoxRepresentation, "fit", no_work)
    assert main([*args, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "invariance='D4'" in err and "C4" in err
    assert not (tmp_path / "r" / "report.json").exists()


# -- --symmetry: which symmetries the classes respect, on validation images ----------------------


def _rings(path, n=360, side=16, seed=0):
    """Classes that are rings of three radii, plus noise: every element of D4 respects them."""
    rng = np.random.default_rng(seed)
    r = np.hypot(*np.meshgrid(np.arange(side) - 7.5, np.arange(side) - 7.5))
    labels = np.arange(n) % 3
    images = rng.integers(0, 60, (n, side, side))
    for k, radius in enumerate((2.5, 4.5, 6.5)):
        images[labels == k] += (np.abs(r - radius) < 1.0) * 180
    np.savez(path, images=images.astype(np.uint8), labels=labels)
    return path


def test_symmetry_report_finds_the_respected_subgroup(tmp_path, capsys):
    out = tmp_path / "r"
    args = ["run", "--dataset", str(_rings(tmp_path / "rings.npz")), "--symmetry"]
    assert main([*args, "--classifier", "lda", "--n-components", "20", "--out", str(out)]) == 0
    sym = _report(out)["symmetry"]
    assert sym["subgroup"] == "D4" and sym["respected"] == list(gb.get_group("D4").elements)
    assert sym["closest"] is None
    assert sym["n_fit"] + sym["n_validation"] == 270  # the training images only
    assert max(sym["drop"].values()) <= sym["tolerance"]
    for h, (lo, hi) in sym["ci95"].items():
        assert lo <= sym["accuracy"][h] <= hi
    assert "the classes respect D4" in capsys.readouterr().out


def test_symmetry_report_on_digits(tmp_path):
    """Digits respect no symmetry: the report says trivial; the validation images are training
    images (the test accuracy is not touched), and --plot draws symmetry.png."""
    out = tmp_path / "r"
    assert main(["run", "--symmetry", "--plot", "--out", str(out), "--quiet"]) == 0
    report = _report(out)
    sym = report["symmetry"]
    assert sym["subgroup"] == "trivial" and sym["respected"] == ["e"]
    # the nearest symmetry: the subgroup whose worst element costs least
    worst = {
        name: max(sym["drop"][h] for h in gb.get_group(name).elements)
        for name in gb.GROUP_NAMES
        if name != "trivial"
    }
    assert sym["closest"]["drop"] == min(worst.values())
    assert worst[sym["closest"]["subgroup"]] == min(worst.values())
    assert sym["accuracy"]["e"] > 0.95 and sym["accuracy"]["r90"] < 0.5
    assert sym["drop"]["r90"] == pytest.approx(sym["accuracy"]["e"] - sym["accuracy"]["r90"])
    assert sym["n_fit"] + sym["n_validation"] == report["n_train"]
    assert "## Symmetries the classes respect" in (out / "report.md").read_text()
    assert (out / "symmetry.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plain = tmp_path / "plain"
    assert main(["run", "--out", str(plain), "--quiet"]) == 0
    assert _report(plain)["accuracy"] == report["accuracy"] and "symmetry" not in _report(plain)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((16, 8, 8), "--symmetry needs at least 4 validation images (one per class)"),
        ((40, 8, 12), "--symmetry: the images"),  # not square: no rotation by 90 degrees
    ],
)
def test_symmetry_report_refuses_before_any_work(tmp_path, capsys, monkeypatch, shape, message):
    rng = np.random.default_rng(0)
    npz = tmp_path / "tiny.npz"
    np.savez(npz, images=rng.integers(0, 256, shape, np.uint8), labels=np.arange(shape[0]) % 4)

    def no_work(*a, **k):
        raise AssertionError("a model was fitted")

    monkeypatch.setattr(gb.GlassBoxRepresentation, "fit", no_work)
    args = ["run", "--dataset", str(npz), "--symmetry", "--group", "D2"]
    assert main([*args, "--out", str(tmp_path / "r"), "--quiet"]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r" / "report.json").exists()


# -- kernel-ridge reads the training images of an IDX directory a part at a time ---------------


def _idx_dataset(directory, gz=False, code=0x08, scale=15):
    """Digits (times ``scale``) as an IDX directory: the stratified 75/25 split of seed 0 as
    its training and test halves, labels stored as 10..19; the four arrays."""
    from sklearn.model_selection import train_test_split

    ds = gb.datasets.load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(
        ds.images * scale, ds.labels, test_size=0.25, stratify=ds.labels, random_state=0
    )
    directory.mkdir()
    for stem, x, y in (("train", x_tr, y_tr), ("t10k", x_te, y_te)):
        suffix = ".gz" if gz else ""
        write_idx(directory / f"{stem}-images-idx3-ubyte{suffix}", x, gz, code)
        write_idx(directory / f"{stem}-labels-idx1-ubyte{suffix}", y + 10, gz)
    return x_tr.astype(np.uint8), x_te.astype(np.uint8), y_tr + 10, y_te + 10


@pytest.mark.parametrize("gz", [False, True])
def test_kernel_ridge_run_reads_the_training_images_a_part_at_a_time(
    tmp_path, capsys, whole_idx_reads, gz
):
    """The training images of an IDX directory are never read whole (only the labels and the
    test images are), and the model is the one fitted on the images in memory: the same
    confusion matrix as GlassBoxClassifier's predictions."""
    from sklearn.metrics import confusion_matrix

    folder = tmp_path / "idx"
    x_tr, x_te, y_tr, y_te = _idx_dataset(folder, gz)
    read_whole = whole_idx_reads
    out = tmp_path / "r"
    args = ["run", "--dataset", str(folder), "--classifier", "kernel-ridge", "--out", str(out)]
    assert main([*args, "--n-components", "30"]) == 0
    assert not [name for name in read_whole if name.startswith("train-images")]
    assert {name.split("-")[0] + "-" + name.split("-")[1] for name in read_whole} == {
        "train-labels", "t10k-images", "t10k-labels"
    }  # fmt: skip
    assert "1,347 training (read a part at a time) and 450 test images" in capsys.readouterr().out
    report = _report(out)
    assert report["n_train"] == 1347 and report["image_shape"] == [8, 8]
    assert report["class_names"] == [str(k) for k in range(10, 20)]
    model = gb.GlassBoxClassifier(n_components=30, classifier="kernel-ridge").fit(x_tr, y_tr)
    expected = confusion_matrix(y_te, model.predict(x_te))
    assert report["confusion_matrix"] == expected.tolist()
    assert report["accuracy"] > 0.95
    assert report["thresholds"] == [float(t) for t in model.representation_.thresholds_]


def test_kernel_ridge_run_explains_fewer_thresholds_from_the_streamed_pixel_range(tmp_path):
    folder = tmp_path / "idx"
    _idx_dataset(folder, scale=1)  # grey levels 0..16
    out = tmp_path / "r"
    args = ["run", "--dataset", str(folder), "--classifier", "kernel-ridge", "--out", str(out)]
    with_sample = ["--train-size", "1000", "--out", str(tmp_path / "s")]
    assert main([*args, "--quiet", "--n-components", "20"]) == 0
    assert main([*args[:-2], *with_sample, "--quiet", "--n-components", "20"]) == 0
    note = _report(out)["notes"][0]
    assert "16 thresholds, not the 32 asked: the training pixels are integers from 0 to 16" in note
    assert _report(tmp_path / "s")["notes"][0] == note  # the same words in memory
    assert _report(tmp_path / "s")["n_train"] == 1000


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ([], True),
        (["--train-size", "100"], False),  # a sample of the images in memory
        (["--symmetry"], False),  # its split draws from the images in memory
        (["--classifier", "svm"], False),
    ],
)
def test_which_runs_stream(tmp_path, extra, expected):
    import argparse

    from glassbox.cli import run as run_cli

    parser = argparse.ArgumentParser()
    run_cli.add_parser(parser.add_subparsers())
    folder = tmp_path / "idx"
    _idx_dataset(folder)
    base = ["run", "--dataset", str(folder), "--classifier", "kernel-ridge"]
    assert run_cli.streams(parser.parse_args([*base, *extra])) is expected
    assert not run_cli.streams(parser.parse_args(["run", "--classifier", "kernel-ridge"]))
    npz = tmp_path / "d.npz"
    np.savez(npz, images=np.zeros((4, 8, 8), np.uint8), labels=np.arange(4) % 2)
    assert not run_cli.streams(parser.parse_args(["run", "--dataset", str(npz)]))
    (tmp_path / "imgs" / "a").mkdir(parents=True)  # an image folder: loaded, then split
    folder_args = ["run", "--dataset", str(tmp_path / "imgs"), "--classifier", "kernel-ridge"]
    assert not run_cli.streams(parser.parse_args(folder_args))


@pytest.mark.parametrize("damage", ["truncated", "nan"])
def test_kernel_ridge_run_refuses_damaged_training_images(tmp_path, capsys, damage):
    """A damaged training file is found while it is read (a part at a time): an error naming
    it or what is wrong, and no report."""
    folder = tmp_path / "idx"
    if damage == "truncated":
        _idx_dataset(folder)
        path = folder / "train-images-idx3-ubyte"
        path.write_bytes(path.read_bytes()[:-100])
        message = "train-images-idx3-ubyte"
    else:
        x_tr, *_ = _idx_dataset(folder, code=0x0D)
        bad = x_tr.astype(np.float32)
        bad[1000, 3, 3] = np.nan
        write_idx(folder / "train-images-idx3-ubyte", bad, code=0x0D)
        message = "NaN"
    out = tmp_path / "r"
    args = ["run", "--dataset", str(folder), "--classifier", "kernel-ridge", "--out", str(out)]
    assert main([*args, "--quiet"]) == 1
    assert message in capsys.readouterr().err
    assert not (out / "report.json").exists()
