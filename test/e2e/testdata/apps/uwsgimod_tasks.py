# PY-49, PY-55..PY-60, PM-76, PM-77: uwsgidecorators end to end. Every
# decorated function appends one line to ./events (the server's working
# directory at import), which the test compares between servers.
# Run with: --master --processes 2 --mules 2 --spooler spool
#           --spooler-frequency 1
import os
import threading

import uwsgi
from uwsgidecorators import filemon, lock, mulefunc, postfork, signal, spool, thread, timer

EVENTS = os.path.abspath("events")
WATCHED = os.path.abspath("watched")
with open(WATCHED, "w") as f:
    f.write("0")


def event(text):
    fd = os.open(EVENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (text + "\n").encode())
    finally:
        os.close(fd)


def where():
    if uwsgi.mule_id():
        return "mule"
    if uwsgi.i_am_the_spooler():
        return "spooler"
    return "worker%d" % uwsgi.worker_id()


@postfork
def forked():
    event("postfork %s" % where())


@spool
def plain_task(args):
    event("spool %s a=%s in %s" % (args["ud_spool_func"], args["a"], where()))


@spool(pass_arguments=True)
def args_task(x, y=None):
    event("spool args_task x=%r y=%r in %s" % (x, y, where()))


@mulefunc
def in_a_mule(n):
    event("mulefunc n=%d in %s" % (n, where()))


@signal(40, target="workers")
def sig40(num):
    event("signal %d in %s" % (num, where()))


def first(marker):
    """True once: for the first caller of any process (O_EXCL), as
    handlers may run in two workers at the same moment."""
    try:
        os.close(os.open(EVENTS + marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


@timer(1)
def tick(num):
    if first(".tick"):
        event("timer in worker")


@filemon(WATCHED)
def changed(num):
    # one write may be seen as several changes: record the first only
    if first(".filemon"):
        event("filemon in worker")


@lock
def locked():
    event("locked %s" % uwsgi.is_locked())


@thread
def in_thread(tag):
    event("thread %s main=%s" % (tag, threading.current_thread() is threading.main_thread()))


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/spool":
        plain_task.spool(a="1")
        args_task.spool(3, y="4")
    elif path == "/mule":
        in_a_mule(7)
    elif path == "/signal":
        uwsgi.signal(40)
    elif path == "/touch":
        with open(WATCHED, "w") as f:
            f.write("1")
    elif path == "/lock":
        locked()
    elif path == "/thread":
        in_thread("t1")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]
