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
    assert 'pip install ".[test,torch,dask]" && python -m pytest' in text
    assert "pip install . && glassbox run" in text
