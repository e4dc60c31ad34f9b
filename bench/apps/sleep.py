"""I/O-bound app: sleeps 50 ms per request, so the ceiling is
workers x threads x 20 requests per second whatever the server's speed."""
import time

BODY = b"slept 50 ms\n"


def application(environ, start_response):
    time.sleep(0.05)
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]
