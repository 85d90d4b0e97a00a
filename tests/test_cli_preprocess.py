"""``glassbox preprocess`` (glassbox/cli/preprocess.py): streaming to a file, its saved fit,
interruptions."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import glassbox as gb
from glassbox.cli import main

from conftest import no_temporaries, write_idx

PREPROCESS = textwrap.dedent(
    """
    import signal, sys
    from glassbox.cli import main
    # as from an interactive shell: a test run in the background (`cmd &` without job control,
    # nohup) would otherwise hand SIGINT and SIGHUP down ignored, and ignored they stay
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    sys.exit(main(sys.argv[1:]))
    """
)


def test_preprocess_command(images, tmp_path, capsys):
    np.save(tmp_path / "x.npy", images)
    out = tmp_path / "features.npy"
    args = ["preprocess", str(tmp_path / "x.npy"), str(out), "--chunk-size", "50"]
    assert main([*args, "--fit-sample", "100"]) == 0
    F = np.load(out)
    # thresholds fitted on a random sample of 100 images, seed 0
    idx = np.sort(np.random.default_rng(0).choice(257, size=100, replace=False))
    rep = gb.GlassBoxRepresentation(image_shape=(28, 28)).fit(images[idx])
    np.testing.assert_array_equal(F, rep.transform(images))
    err = capsys.readouterr().err
    assert "images/s" in err and "write" in err
    assert main([*args, "--n-components", "10", "--quiet"]) == 0
    assert np.load(out).shape == (257, 10)
    assert main(["preprocess", str(tmp_path / "nothing.npy"), str(out)]) == 1
    assert "no such file" in capsys.readouterr().err
    # a bad OUTPUT is refused before the input is even opened
    assert main(["preprocess", str(tmp_path / "nothing.npy"), str(tmp_path / "f.txt")]) == 1
    assert "must be an .npy file" in capsys.readouterr().err
    assert main(["preprocess", str(tmp_path / "x.npy"), str(tmp_path / "no" / "f.npy")]) == 1
    assert "no such directory" in capsys.readouterr().err


def _start_preprocess(tmp_path, out):
    big = np.random.default_rng(0).integers(0, 256, (30_000, 28, 28), dtype=np.uint8)
    np.save(tmp_path / "x.npy", big)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PREPROCESS,
            "preprocess",
            str(tmp_path / "x.npy"),
            str(out),
            "--chunk-size",
            "1",
        ],  # fmt: skip
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stderr:
        if "fit the representation" in line:
            break
    while not [p for p in tmp_path.iterdir() if p.name.startswith(f".{out.name}.")]:
        if proc.poll() is not None:
            pytest.fail("preprocess finished before it could be interrupted")
    return proc


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_preprocess_interrupted_leaves_no_output(tmp_path, sig):
    """Ctrl-C (SIGINT), SIGTERM or SIGHUP in the middle of writing: exit status 128 + the
    signal's number, no output file, no temporary file."""
    out = tmp_path / "f.npy"
    proc = _start_preprocess(tmp_path, out)
    proc.send_signal(sig)
    rest = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 128 + sig
    assert "interrupted" in rest
    if sig != signal.SIGINT:
        assert f"interrupted by {signal.Signals(sig).name}" in rest
    assert not out.exists() and no_temporaries(tmp_path)


def test_a_killed_run_leaves_a_temporary_file_the_next_run_removes(tmp_path, capsys):
    out = tmp_path / "f.npy"
    proc = _start_preprocess(tmp_path, out)
    proc.kill()  # SIGKILL: nothing can be cleaned up now
    proc.wait(timeout=120)
    proc.stderr.close()
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".f.npy.")]
    assert len(left) == 1 and not out.exists()
    np.save(tmp_path / "y.npy", np.zeros((10, 28, 28), np.uint8) + np.arange(28, dtype=np.uint8))
    assert main(["preprocess", str(tmp_path / "y.npy"), str(out)]) == 0
    err = capsys.readouterr().err
    assert f"removed {left[0]}" in err and "interrupted run" in err
    assert no_temporaries(tmp_path) and np.load(out).shape[0] == 10
    # the Python API removes them too, silently
    left[0].write_bytes(b"stale")
    gb.GlassBoxRepresentation(thresholds=4).fit(np.load(tmp_path / "y.npy")).transform_chunked(
        tmp_path / "y.npy", out
    )
    assert no_temporaries(tmp_path)


@pytest.mark.parametrize("n_components", [None, 6])
def test_preprocess_saves_its_fit_and_applies_it_to_other_files(images, tmp_path, n_components):
    """Training and test files preprocessed separately share one fit: the same image gets the
    same numbers in both, although the test images alone would give other thresholds."""
    shared = images[:5] // 3  # in both files
    train = np.concatenate([images[5:200], shared])
    test = np.concatenate([images[200:] // 3, shared])  # no bright pixels: other thresholds
    np.save(tmp_path / "train.npy", train)
    np.save(tmp_path / "test.npy", test)
    extra = [] if n_components is None else ["--n-components", str(n_components)]
    args = ["--quiet", "--chunk-size", "40", *extra]
    assert main(["preprocess", str(tmp_path / "train.npy"), str(tmp_path / "a.npy"), *args]) == 0
    fitted = tmp_path / "a.fitted"
    assert sorted(p.name for p in fitted.iterdir()) == ["arrays.npz", "model.json"]
    pipe = gb.load_model(fitted)
    a = np.load(tmp_path / "a.npy")
    np.testing.assert_array_equal(pipe.transform(train).astype(np.float32), a)
    args = ["--quiet", "--chunk-size", "13", "--fitted", str(fitted)]
    assert main(["preprocess", str(tmp_path / "test.npy"), str(tmp_path / "b.npy"), *args]) == 0
    b = np.load(tmp_path / "b.npy")
    np.testing.assert_array_equal(b[-5:], a[-5:])  # the same images, the same coordinates
    assert not (tmp_path / "b.fitted").exists()  # applied, not fitted: nothing new to save
    # without --fitted the test file gets its own fit, and other numbers
    assert main(["preprocess", str(tmp_path / "test.npy"), str(tmp_path / "c.npy"), "--quiet",
                 *extra]) == 0  # fmt: skip
    assert not np.array_equal(np.load(tmp_path / "c.npy")[-5:], a[-5:])


def test_preprocess_fitted_refuses_what_would_change_the_fit(images, tmp_path, capsys):
    np.save(tmp_path / "x.npy", images)
    assert main(["preprocess", str(tmp_path / "x.npy"), str(tmp_path / "a.npy"), "--quiet"]) == 0
    fitted = str(tmp_path / "a.fitted")
    base = ["preprocess", str(tmp_path / "x.npy"), str(tmp_path / "b.npy"), "--fitted", fitted]
    for extra, message in [
        (["--group", "C4"], "--group cannot change it"),
        (["--n-components", "3"], "--n-components cannot change it"),
        (["--seed", "3", "--fit-sample", "9"], "--fit-sample, --seed cannot change it"),
        (["--no-scale"], "--no-scale cannot change it"),
        (["--image-size", "14", "14"], "is for images of 28x28"),
        (["--save-fitted", fitted], "is the input file"),
    ]:
        assert main([*base, *extra]) == 1
        assert message in capsys.readouterr().err
        assert not (tmp_path / "b.npy").exists()
    gb.save_model(gb.GlassBoxClassifier(n_components=5, classifier="lda").fit(
        images[:60], np.arange(60) % 3), tmp_path / "clf")  # fmt: skip
    assert main([*base[:3], "--fitted", str(tmp_path / "clf")]) == 1
    assert "holds a classifier" in capsys.readouterr().err
    assert main([*base[:3], "--fitted", str(tmp_path / "nothing")]) == 1
    assert "no model.json" in capsys.readouterr().err


def test_preprocess_saves_no_fit_of_a_file_found_corrupt(images, tmp_path, capsys):
    """The sample the thresholds are fitted on is read before the end of a gzip file, whose
    CRC is checked last: neither the output nor the fit of a corrupt file is left."""
    write_idx(tmp_path / "x-idx3-ubyte.gz", images, compress=True)
    raw = bytearray((tmp_path / "x-idx3-ubyte.gz").read_bytes())
    raw[-8] ^= 0xFF  # the stored CRC: every image decodes, the check at the end fails
    (tmp_path / "x-idx3-ubyte.gz").write_bytes(bytes(raw))
    out = tmp_path / "f.npy"
    args = ["preprocess", str(tmp_path / "x-idx3-ubyte.gz"), str(out), "--fit-sample", "50"]
    assert main([*args, "--quiet"]) == 1
    assert "CRC check failed" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "f.fitted").exists() and no_temporaries(tmp_path)
