"""Sleeps ?s= seconds (default 1) before answering."""
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    s = float(parse_qs(environ.get("QUERY_STRING", "")).get("s", ["1"])[0])
    time.sleep(s)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"slept %g\n" % s]
