"""The ``glassbox`` command as a whole (glassbox/cli/__init__.py, _common.py, _progress.py):
entry points, shared arguments, output checks, progress."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

import glassbox as gb
from glassbox.cli import main
from glassbox.cli._progress import Stage


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


# -- outputs: never a directory that is not one, never over the dataset ----------------------


@pytest.mark.parametrize("command", [["run"], ["explain", "--index", "0", "--model", "m"]])
def test_an_out_that_is_not_a_directory_is_said_so(tmp_path, capsys, command):
    (tmp_path / "file").write_text("x")
    for out in ("/dev/null", str(tmp_path / "file")):
        assert main([*command, "--out", out, "--quiet"]) == 1
        assert f"--out '{out}' exists and is not a directory" in capsys.readouterr().err


@pytest.mark.parametrize("seed", ["-1", "4294967296", "1.5", "x"])
@pytest.mark.parametrize("command", ["run", "compare", "preprocess"])
def test_seed_is_checked_by_the_command(capsys, seed, command):
    args = [command, "--seed", seed] + (["a.npy", "b.npy"] if command == "preprocess" else [])
    with pytest.raises(SystemExit):
        main(args)
    assert "argument --seed" in capsys.readouterr().err


# -- results before figures; a figure that fails costs nothing else --------------------------


@pytest.mark.parametrize("command", ["run", "compare"])
def test_n_components_default_is_the_classifiers(command):
    """The commands take their principal components from GlassBoxClassifier's default, so
    that the two cannot drift apart."""
    from glassbox.cli import build_parser

    args = build_parser().parse_args([command])
    assert args.n_components == gb.GlassBoxClassifier().n_components
