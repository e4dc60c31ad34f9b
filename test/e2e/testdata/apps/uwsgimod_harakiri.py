# PY-44, PY-60: @harakiri(1) around a call that takes 4 seconds: the worker
# is killed during the call and respawned; /fast answers normally.
import time

from uwsgidecorators import harakiri


@harakiri(1)
def too_slow():
    time.sleep(4)


def application(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        too_slow()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"done\n"]
