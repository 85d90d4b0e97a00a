"""Optional dependencies: a missing one skips its tests, unless GLASSBOX_REQUIRE_OPTIONAL=1 (CI)
makes it an error, so that CI cannot pass over untested code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
NEEDS_MISSING = """
from conftest import importorskip

importorskip("glassbox_no_such_module", "nothing")


def test_it():
    pass
"""


# a module skipped whole leaves no test collected: pytest's status 5; an import error: 2
@pytest.mark.parametrize(
    ("required", "status", "says"), [("0", 5, "1 skipped"), ("1", 2, "is required here")]
)
def test_a_missing_optional_dependency_skips_unless_required(tmp_path, required, status, says):
    (tmp_path / "test_needs_missing.py").write_text(NEEDS_MISSING)
    env = {**os.environ, "GLASSBOX_REQUIRE_OPTIONAL": required, "PYTHONPATH": str(TESTS)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == status, done.stdout + done.stderr
    assert says in done.stdout + done.stderr
