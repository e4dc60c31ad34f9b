"""Reports what wsgi.input gives the app, for post-buffering (?op=):
sum (read() then read() again), chunks (read(n) until b"", n from ?n=),
seek (read, tell, seek forth and back, invalid positions, fileno), lines
(readlines), iter (for line in input). uWSGI's readline keeps look-ahead
bytes across a seek, so readline and seek are not mixed here. The reply is JSON; exceptions
are reported as "Type: message" values."""
import hashlib
import json
import os
import stat
from urllib.parse import parse_qs


def attempt(fn):
    try:
        r = fn()
    except Exception as e:  # reported, not raised: the comparison needs it
        return "%s: %s" % (type(e).__name__, e)
    if isinstance(r, bytes):
        return r.decode("latin-1")
    return r


def digest(b):
    return "%d:%s" % (len(b), hashlib.sha256(b).hexdigest()[:16])


def fd_kind(fd):
    mode = os.fstat(fd).st_mode
    return "socket" if stat.S_ISSOCK(mode) else "file" if stat.S_ISREG(mode) else "other"


def application(environ, start_response):
    q = parse_qs(environ.get("QUERY_STRING", ""))
    op = q.get("op", ["sum"])[0]
    inp = environ["wsgi.input"]
    cl = int(environ.get("CONTENT_LENGTH") or 0)
    out = []
    if op == "sum":
        out.append(("read", attempt(lambda: digest(inp.read()))))
        out.append(("again", attempt(lambda: len(inp.read()))))
    elif op == "chunks":
        n = int(q.get("n", ["1000"])[0])
        pieces = []
        while True:
            b = inp.read(n)
            if not b:
                break
            pieces.append(b)
        out.append(("pieces", len(pieces)))
        out.append(("read", digest(b"".join(pieces))))
    elif op == "seek":
        out.append(("read5", attempt(lambda: inp.read(5))))
        out.append(("tell", attempt(inp.tell)))
        out.append(("seek3", attempt(lambda: inp.seek(3))))
        out.append(("tell", attempt(inp.tell)))
        out.append(("read4", attempt(lambda: inp.read(4))))
        out.append(("seek-1", attempt(lambda: inp.seek(-1))))
        out.append(("seek-past-end", attempt(lambda: inp.seek(cl + 1))))
        out.append(("seek-end", attempt(lambda: inp.seek(cl))))
        out.append(("read-at-end", attempt(lambda: inp.read())))
        out.append(("seek0", attempt(lambda: inp.seek(0))))
        out.append(("read", attempt(lambda: digest(inp.read()))))
        out.append(("tell", attempt(inp.tell)))
        out.append(("fileno", attempt(lambda: fd_kind(inp.fileno()))))
    elif op == "lines":
        out.append(("readlines", attempt(lambda: digest(b"".join(inp.readlines())))))
    elif op == "iter":
        lines = list(inp)
        out.append(("iter", len(lines)))
        out.append(("read", digest(b"".join(lines))))
    body = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
