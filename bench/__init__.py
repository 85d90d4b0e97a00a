"""glassbox's CPU benchmark suite (run with ``python -m bench``)."""
