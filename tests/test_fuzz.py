"""A short fuzz run in the normal suite (the long one is `python tests/fuzz.py --seconds N`)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz import FUZZ_SETTINGS, check_case


@settings(max_examples=400, **FUZZ_SETTINGS)
@given(st.data())
def test_fuzz_kernels(data):
    assert check_case(data) in ("accepted", "rejected")
