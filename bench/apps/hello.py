"""Smallest useful WSGI app: fixed 12-byte body, so the numbers measure the server."""

BODY = b"Hello World\n"


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]
