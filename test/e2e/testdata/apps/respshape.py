"""Answers "hello world\n" (times ?rep=) shaped by the query: cl adds a
Content-Length, gzip marks the body uWSGI-Encoding: gzip (http-auto-gzip),
parts yields it in two pieces. X-Foo and X-Bar are there to be deleted
(del-header)."""
from urllib.parse import parse_qs


def application(environ, start_response):
    q = parse_qs(environ.get("QUERY_STRING", ""))
    body = b"hello world\n" * int(q.get("rep", ["1"])[0])
    headers = [("Content-Type", "text/plain"), ("X-Foo", "foo"), ("x-bar", "bar")]
    if "cl" in q:
        headers.append(("Content-Length", str(len(body))))
    if "gzip" in q:
        headers.append(("uWSGI-Encoding", "gzip"))
    start_response("200 OK", headers)
    if "parts" in q:
        return [body[:5], body[5:]]
    return [body]
