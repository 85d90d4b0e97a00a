"""The README's example runs and its test command is the one CI runs."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})


def test_readme_commands():
    text = README.read_text()
    assert 'pip install ".[test]" && python -m pytest' in text
    assert "pip install . && python -m glassbox" in text


def test_example_module_runs():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "glassbox", "--images", "2000", "--n-threads", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "exact invariance" in done.stdout and "images/s" in done.stdout
