# WSGI app for the request-line differential test against the real uWSGI.
def application(environ, start_response):
    if environ["PATH_INFO"] == "/raise":
        raise RuntimeError("boom")
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "application/json"), ("X-Test", "yes")])
    return [b'{"ok": true, "echo": "', body, b'"}']
