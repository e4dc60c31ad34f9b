# PM-76, PY-48: a script mule (`mule = this file`) and the app that feeds it.
# As a mule (__main__) it appends each message it gets to ./events and exits
# with status 3 on b"die", so the master must respawn it. As the app, each
# request path is sent to mule 1, to any mule, or to the farm "fa".
# Run with: --master --mule=uwsgimod_mule.py --farm fa:1
import os

import uwsgi

EVENTS = os.path.abspath("events")


def event(text):
    fd = os.open(EVENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (text + "\n").encode())
    finally:
        os.close(fd)


def application(environ, start_response):
    msg = environ.get("QUERY_STRING", "").encode()
    path = environ["PATH_INFO"]
    if path == "/one":
        r = uwsgi.mule_msg(msg, 1)
    elif path == "/any":
        r = uwsgi.mule_msg(msg)
    elif path == "/farm":
        r = uwsgi.farm_msg("fa", msg)
    else:
        r = "worker_id=%d mule_id=%d" % (uwsgi.worker_id(), uwsgi.mule_id())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [repr(r).encode() + b"\n"]


if __name__ == "__main__":
    event("mule %d started worker_id=%d" % (uwsgi.mule_id(), uwsgi.worker_id()))
    while True:
        m = uwsgi.mule_get_msg()
        if m == b"die":
            event("mule %d dies" % uwsgi.mule_id())
            raise SystemExit(3)
        event("mule %d got %r" % (uwsgi.mule_id(), m))
