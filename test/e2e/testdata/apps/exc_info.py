"""start_response called again with exc_info (PY-30): before headers are sent
it replaces them; after (?late=1) it re-raises the original exception."""
import sys
from urllib.parse import parse_qs


def application(environ, start_response):
    late = parse_qs(environ.get("QUERY_STRING", "")).get("late")
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "1")])
    if not late:
        try:
            raise ValueError("e2e-exc-info-early")
        except ValueError:
            start_response("500 Internal Server Error",
                           [("Content-Type", "text/plain"), ("X-Second", "1")],
                           sys.exc_info())
        return [b"recovered\n"]

    def body():
        yield b"headers went out\n"
        try:
            raise ValueError("e2e-exc-info-late")
        except ValueError:
            start_response("500 Internal Server Error",
                           [("Content-Type", "text/plain")], sys.exc_info())
        yield b"not reached\n"

    return body()
