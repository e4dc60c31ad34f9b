"""`application` exists but is not callable (PY-1)."""
application = "not a function"
