# WSGI app for the stats differential test: /sleep keeps a core busy.
import time


def application(environ, start_response):
    if environ["PATH_INFO"] == "/sleep":
        time.sleep(3)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]
