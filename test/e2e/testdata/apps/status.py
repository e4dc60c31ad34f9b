"""Sends the status line given in ?s= (percent-decoded) verbatim (WP-11)."""
from urllib.parse import unquote


def application(environ, start_response):
    start_response(unquote(environ.get("QUERY_STRING", "")), [("Content-Type", "text/plain")])
    return [b"status body\n"]
