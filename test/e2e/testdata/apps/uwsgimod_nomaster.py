# PY-55: importing uwsgidecorators without the master process fails with
# uWSGI's message; the app reports what the import did.
try:
    import uwsgidecorators  # noqa: F401

    RESULT = b"imported"
except Exception as e:
    RESULT = repr(e).encode()


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [RESULT + b"\n"]
