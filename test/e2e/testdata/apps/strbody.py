"""A str item in the body is not written (PY-31): logged as an unhandled
object, the response goes on."""


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"before\n", "a unicode str", b"after\n"]
