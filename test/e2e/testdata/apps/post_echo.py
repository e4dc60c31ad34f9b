"""Echoes the request body read from wsgi.input in the way ?mode= asks (PY-26):
read (read()), readn (read(n) with n from ?n=, default 1000), readline
(readline() until b""), iter (for line in input), readlines. The body is the
bytes read; X-Pieces counts the reads that returned data. A read error
(WP-26, PY-27) is answered with a 500 whose body is the exception text."""
from urllib.parse import parse_qs


def application(environ, start_response):
    q = parse_qs(environ.get("QUERY_STRING", ""))
    mode = q.get("mode", ["read"])[0]
    inp = environ["wsgi.input"]
    pieces = []
    try:
        if mode == "read":
            pieces.append(inp.read())
        elif mode == "readn":
            n = int(q.get("n", ["1000"])[0])
            while True:
                b = inp.read(n)
                if not b:
                    break
                pieces.append(b)
        elif mode == "readline":
            while True:
                b = inp.readline()
                if not b:
                    break
                pieces.append(b)
        elif mode == "iter":
            for line in inp:
                pieces.append(line)
        elif mode == "readlines":
            pieces.extend(inp.readlines())
        else:
            raise ValueError("unknown mode %r" % mode)
    except OSError as e:
        msg = ("%s: %s" % (type(e).__name__, e)).encode()
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [msg]
    body = b"".join(p for p in pieces if p)
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(body))),
                              ("X-Pieces", str(len([p for p in pieces if p])))])
    return [body]
