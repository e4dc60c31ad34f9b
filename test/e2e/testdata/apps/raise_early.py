"""Raises before start_response (TOP-13, PY-33)."""


def application(environ, start_response):
    raise RuntimeError("e2e-raise-before-start-response")
