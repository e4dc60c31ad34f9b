# Drives the cache and spooler numbers of the stats document (ST-9, ST-15).
# /cache/get, /cache/set, /cache/fill use the cache "mycache"; /spool
# queues a task that runs until the file ./release exists, so a test can
# see the spooler busy for as long as it wants.
import os
import time

import uwsgi

RELEASE = os.path.abspath("release")


def spooler(env):
    while not os.path.exists(RELEASE):
        time.sleep(0.05)
    return uwsgi.SPOOL_OK


uwsgi.spooler = spooler


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/cache/get":
        out = uwsgi.cache_get("k", "mycache")
    elif path == "/cache/set":
        out = uwsgi.cache_set("k", "v", 0, "mycache")
    elif path == "/cache/fill":
        out = [uwsgi.cache_set("f%d" % i, "x", 0, "mycache") for i in range(6)]
    elif path == "/spool":
        out = uwsgi.spool({b"task": b"1"}) is not None
    else:
        out = "unknown"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [repr(out).encode()]
