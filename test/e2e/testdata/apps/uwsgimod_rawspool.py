# A raw spooler callback (PM-77) that accepts every task: appends the number
# of its variables and the size of its body to ./events and returns SPOOL_OK.
import os

import uwsgi

EVENTS = os.path.abspath("events")


def spooler(env):
    line = "task vars=%d body=%d\n" % (len(env) - 1 - ("body" in env), len(env.get("body", b"")))
    fd = os.open(EVENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return uwsgi.SPOOL_OK


uwsgi.spooler = spooler


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]
