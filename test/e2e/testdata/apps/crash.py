"""/crash segfaults inside C code (ctypes reads address 0); anything else
answers "ok"."""
import ctypes


def application(environ, start_response):
    if environ["PATH_INFO"] == "/crash":
        ctypes.string_at(0)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]
