"""Fails at import time (PY-1, PL-7: the traceback is printed first)."""
import does_not_exist_e2e  # noqa: F401
