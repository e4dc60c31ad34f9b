"""A generator body in several chunks, with an empty one in the middle; close()
must be called (PY-31): it logs a marker line."""
import sys


class Body:
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        for i in range(self.n):
            yield b"chunk %d\n" % i
            if i == 1:
                yield b""

    def close(self):
        sys.stderr.write("e2e-chunks-closed\n")


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Body(4)
