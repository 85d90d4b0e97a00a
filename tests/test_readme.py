"""The README's example runs and its test command is the one CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.skipif(not README.exists(), reason="README.md is not beside the tests (installed tests)")
def test_readme_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})


@pytest.mark.skipif(not README.exists(), reason="README.md is not beside the tests (installed tests)")
def test_readme_commands():
    text = README.read_text()
    assert 'pip install ".[test]" && python -m pytest' in text
    assert "pip install . && python -m glassbox" in text
