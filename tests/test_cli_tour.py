"""``glassbox tour`` (glassbox/cli/tour.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from glassbox.cli import main


def test_tour_runs():
    done = subprocess.run(
        [sys.executable, "-m", "glassbox", "tour", "--images", "2000", "--n-threads", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "exact invariance" in done.stdout and "images/s" in done.stdout


def test_tour_refuses_a_batch_beyond_memory_and_explains_itself(capsys):
    assert main(["tour", "--images", "100000000"]) == 1
    assert "--images 100000000: the timing run would need" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["tour", "--help"])
    text = capsys.readouterr().out
    assert "exactly invariant" in text and "(default: 70000)" in text
