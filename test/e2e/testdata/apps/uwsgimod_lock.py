# PY-46: a uwsgi lock held by a process that gets killed must not stay
# held. /hold takes lock 0 and keeps it (answering with the pid); /state
# tells whether it is locked; /take locks and unlocks it.
import os

import uwsgi


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/hold":
        uwsgi.lock()
        body = str(os.getpid())
    elif path == "/state":
        body = "locked=%s" % uwsgi.is_locked()
    else:
        uwsgi.lock()
        uwsgi.unlock()
        body = "taken"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
