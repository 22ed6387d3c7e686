"""Helpers the tests share (imported as `support.*`; `conftest.py` holds only fixtures)."""
