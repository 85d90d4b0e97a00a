"""The ``glassbox`` command: ``run`` (report files, figures, errors) and ``tour``."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import glassbox as gb
from glassbox import _run
from glassbox._progress import Stage
from glassbox.cli import main

REPORT_KEYS = {"accuracy", "n_train", "n_test", "group", "separability", "timings"}


def _report(out):
    return json.loads((out / "report.json").read_text())


def test_run_on_digits_by_default(tmp_path, capsys):
    """No dataset argument: digits, stratified 75/25 with seed 0, accuracy >= 0.99."""
    out = tmp_path / "rep"
    assert main(["run", "--out", str(out), "--plot"]) == 0
    report = _report(out)
    assert REPORT_KEYS <= set(report)
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


@pytest.mark.parametrize("classifier", ["linear", "lda", "knn", "mlp"])
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
    "args,message",
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
        _run.write_atomically(target, b"{}")
    assert list(tmp_path.iterdir()) == []


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_and_timings():
    stream, timings = _Terminal(), {}
    with Stage("work", timings, "work", total=200, stream=stream) as stage:
        stage.advance(100)
        assert "100/200 images" in stream.getvalue() and "#" * 15 in stream.getvalue()
        stage.advance(200)
    assert timings["work"] >= 0
    assert stream.getvalue().endswith("\n") and "200/200" in stream.getvalue()
    quiet = _Terminal()
    with Stage("silent", total=3, stream=quiet, quiet=True) as stage:
        stage.advance(3)
    assert quiet.getvalue() == ""
    log = io.StringIO()  # not a terminal: one line at the end, with the error when it failed
    with pytest.raises(RuntimeError), Stage("fit", stream=log):
        raise RuntimeError
    assert log.getvalue().startswith("fit: done in") and "[RuntimeError]" in log.getvalue()


# A hang, not slowness: importing numpy, scikit-learn and the core under ASan on a loaded CI
# machine once took longer than 60 s.
_HANG = 300


def _script(name):
    return str(Path(sys.executable).parent / name)


def test_console_script_and_module():
    done = subprocess.run(
        [_script("glassbox"), "--version"], capture_output=True, text=True, timeout=_HANG
    )
    assert done.returncode == 0 and done.stdout.strip() == f"glassbox {gb.__version__}"
    done = subprocess.run(
        [sys.executable, "-m", "glassbox", "run", "--help"],
        capture_output=True,
        text=True,
        timeout=_HANG,
    )
    assert done.returncode == 0 and "--dataset" in done.stdout


def test_tour_runs():
    done = subprocess.run(
        [sys.executable, "-m", "glassbox", "tour", "--images", "2000", "--n-threads", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "exact invariance" in done.stdout and "images/s" in done.stdout
