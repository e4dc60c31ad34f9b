"""Defines no `application` (PY-1: "unable to find ... callable")."""
app = None
