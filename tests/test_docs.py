"""The public API is documented, and the examples in its docstrings run."""

from __future__ import annotations

import doctest

import pytest

import glassbox
from glassbox import _kernels, classifier, explain, groups, metrics, persistence, representation


@pytest.mark.parametrize(
    "module", [_kernels, classifier, explain, groups, metrics, persistence, representation]
)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize(
    "name", [n for n in glassbox.__all__ if n not in ("__version__", "GROUP_NAMES", "CLASSIFIERS")]
)
def test_public_names_have_numpydoc_docstrings(name):
    obj = getattr(glassbox, name)
    doc = obj.__doc__ or ""
    assert len(doc) > 40, name
    if callable(obj) and not isinstance(obj, type):
        assert "Parameters\n    ----------" in doc and "Returns\n    -------" in doc, name
