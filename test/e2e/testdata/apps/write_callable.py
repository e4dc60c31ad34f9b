"""Data passed to write() goes out before the iterable's data (PY-31)."""


def application(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"from write() 1\n")
    write(b"from write() 2\n")
    return [b"from iterable\n"]
