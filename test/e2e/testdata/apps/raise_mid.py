"""Sends one chunk, then raises while the body is being iterated (PY-33)."""


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        yield b"first chunk\n"
        raise RuntimeError("e2e-raise-mid-iteration")

    return body()
