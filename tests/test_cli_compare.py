"""``glassbox compare`` (glassbox/cli/compare.py); needs torch."""

from __future__ import annotations

import json

import pytest

from glassbox.cli import main

from conftest import importorskip

importorskip("torch", "torch")
from glassbox.reference import alexnet as A  # noqa: E402 - needs torch


def test_compare_command(tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["compare", "--model", "alexnet28", "--images", "40", "--train-epochs", "1"]
    args += ["--fit-maps", "--out", str(out), "--plot", "--n-components", "20"]
    assert main(args) == 0
    report = json.loads((out / "compare.json").read_text())
    assert report["model"] == "alexnet28" and report["input_size"] == 28
    assert report["n_images"] == 40 and report["dataset"] == "digits"
    assert set(report["alexnet"]) == {"random", "symmetrized", "trained"}
    for k in A.CONV_LAYERS:
        assert report["alexnet"]["symmetrized"][k]["equivariance"] < 1e-5
        assert report["alexnet"]["random"][k]["fitted_map"] is not None
    assert all(r["equivariance"] == 0.0 for k, r in report["glassbox"].items() if k != "pca")
    assert report["glassbox"]["invariant"]["invariance"] == 0.0
    assert set(report["accuracy"]) == {"alexnet28 (trained 1 epoch)", "glass box (svm)"}
    assert report["accuracy"]["glass box (svm)"] > 0.9
    md = (out / "compare.md").read_text()
    for heading in ("## Equivariance per layer", "## Glass-box layers", "## Test accuracy"):
        assert heading in md
    assert "E / chance: 0 is exact equivariance; 1 means" in md and "above 1, turning" in md
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cached = list(out.glob("alexnet28-digits-*.pt"))
    assert len(cached) == 1 and cached[0].with_suffix(".json").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    err = capsys.readouterr().err
    assert "train alexnet28 (1 epoch)" in err
    # a second run loads the cached weights instead of training
    assert main([*args, "--quiet"]) == 0
    again = json.loads((out / "compare.json").read_text())
    assert again["accuracy"] == report["accuracy"]
    assert again["training"]["cached"] == str(cached[0])
    assert "train" not in again["timings"]


def test_compare_warns_about_misaligned_sizes(tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["compare", "--model", "alexnet28", "--images", "12", "--size", "27"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "use --size 28" in err
    report = json.loads((out / "compare.json").read_text())
    assert report["warnings"] and "use --size 28" in report["warnings"][0]
    assert "use --size 28" in (out / "compare.md").read_text()
    # the control is not equivariant at the misaligned size
    assert report["alexnet"]["symmetrized"]["conv2"]["equivariance"] > 1e-3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--images", "100000"], "--images 100000 exceeds"),
        (["--weights", "/nonexistent.pt"], "--weights '/nonexistent.pt': no such file"),
        (["--dataset", "/nonexistent"], "no such file or directory"),
        (["--weights", "w.pt", "--train-epochs", "1"], "exclude each other"),
        (["--size", "3"], "too small"),
        (["--test-transform", "D4"], "--test-transform needs a trained network"),
        (["--invariance", "D4"], "--invariance needs a trained network"),
    ],
)
def test_compare_errors(tmp_path, capsys, extra, message):
    assert main(["compare", "--model", "alexnet28", "--out", str(tmp_path), *extra]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "compare.json").exists()


def test_compare_never_writes_over_its_weights_file(tmp_path, capsys):
    w = tmp_path / "compare.json"  # a weights file named as compare's report
    w.write_bytes(b"not weights")
    args = ["compare", "--model", "alexnet28", "--weights", str(w), "--out", str(tmp_path)]
    assert main([*args, "--quiet"]) == 1
    assert "is the input file" in capsys.readouterr().err
    assert w.read_bytes() == b"not weights"


def test_compare_refuses_absurd_image_counts(tmp_path, capsys, monkeypatch):
    from glassbox import _validation

    monkeypatch.setattr(_validation, "memory_limit", lambda: 10_000_000)
    assert main(["compare", "--images", "300", "--out", str(tmp_path), "--quiet"]) == 1
    assert "--images would have shape" in capsys.readouterr().err


def test_compare_under_a_group_with_an_invariant_glass_box(tmp_path, capsys):
    """--test-transform: the trained network (here with --augment, which its label says) and
    the glass box on the moved test images; --invariance: the glass box's accuracy is the same
    under every element."""
    import numpy as np

    from glassbox import datasets, get_group
    from glassbox.cli._common import split

    out = tmp_path / "cmp"
    args = ["compare", "--model", "alexnet28", "--images", "16", "--train-epochs", "1"]
    args += ["--classifier", "lda", "--invariance", "D4", "--test-transform", "D4", "--augment"]
    assert main([*args, "--out", str(out), "--n-components", "20", "--quiet"]) == 0
    report = json.loads((out / "compare.json").read_text())
    moved = report["test_transform"]
    net, glass = "alexnet28 (trained 1 epoch, D4 augmentation)", "glass box (lda, invariant to D4)"
    assert set(moved) == {net, glass} and set(report["accuracy"]) == {net, glass}
    assert set(moved[glass]["accuracy"].values()) == {report["accuracy"][glass]}
    assert moved[glass]["spread"] == 0 and moved[glass]["randomised"] == report["accuracy"][glass]
    assert moved[net]["accuracy"]["e"] == report["accuracy"][net]
    # the network's accuracy under r90, recomputed from its cached weights
    _, x_test, _, y_test = split(datasets.load_digits(), None, 0.25, 0)
    trained = A.alexnet28(num_classes=10, seed=0)
    import torch

    trained.load_state_dict(torch.load(next(out.glob("alexnet28-digits-*.pt"))))
    pred = A.predict(trained, np.ascontiguousarray(get_group("D4").apply(x_test, "r90")), size=28)
    assert moved[net]["accuracy"]["r90"] == float(np.mean(pred == y_test))
    md = (out / "compare.md").read_text()
    assert "## Test images moved by D4" in md and "| random element | worst | spread |" in md


def test_compare_refuses_an_invariance_outside_the_group(tmp_path, capsys):
    args = ["compare", "--group", "C4", "--invariance", "D4", "--train-epochs", "1"]
    args += ["--out", str(tmp_path)]
    assert main([*args, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "invariance='D4'" in err and "C4" in err
    assert not (tmp_path / "compare.json").exists() and not list(tmp_path.glob("*.pt"))
