"""Serves a file through wsgi.file_wrapper (PY-32): ?skip=N seeks first, so
only the rest of the file is sent; ?nofileno=1 wraps an object without
fileno() so the read(blksize) path is used."""
import io
import os
from urllib.parse import parse_qs

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data.txt")


def application(environ, start_response):
    q = parse_qs(environ.get("QUERY_STRING", ""))
    if q.get("nofileno"):
        with open(DATA, "rb") as f:
            f = io.BytesIO(f.read())
    else:
        f = open(DATA, "rb")
    f.seek(int(q.get("skip", ["0"])[0]))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return environ["wsgi.file_wrapper"](f, 64)
