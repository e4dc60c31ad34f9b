"""start_response argument checks (PY-30). ?case= picks the mistake; with
?catch=1 the TypeError text is returned as the body of a 200, otherwise it
escapes the app."""
from urllib.parse import parse_qs

CASES = {
    "nonlatin1": lambda sr: sr("200 OK", [("X-Euro", "\u20ac")]),
    "tuple": lambda sr: sr("200 OK", (("X-A", "1"),)),
    "notuple": lambda sr: sr("200 OK", ["X-A: 1"]),
    "bytesname": lambda sr: sr("200 OK", [(b"X-A", "1")]),
    "bytesvalue": lambda sr: sr("200 OK", [("X-A", b"1")]),
    "bytesstatus": lambda sr: sr(b"200 OK", []),
    "nonlatin1status": lambda sr: sr("200 \u20ac", []),
}


def application(environ, start_response):
    q = parse_qs(environ.get("QUERY_STRING", ""))
    case = q.get("case", ["nonlatin1"])[0]
    try:
        CASES[case](start_response)
    except TypeError as e:
        if not q.get("catch"):
            raise
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [("%s: %s\n" % (type(e).__name__, e)).encode()]
    return [b"no error\n"]
