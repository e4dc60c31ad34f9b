# pymodule-alias, spooler-import (PY-40, PM-77), signals aimed at mules and
# the spooler (PY-45), rb timers, @postfork(N) (PY-56). Events go to the
# events file via uwsgimod_helper.
# Run with: --master --processes 2 --mules 2 --spooler DIR
#           --spooler-import uwsgimod_spoolmod --pymodule-alias aliased=json
import os

import aliased
import uwsgi
import uwsgimod_helper as helper
from uwsgidecorators import postfork, rbtimer, signal


@postfork(2)
def only_worker_two():
    helper.event("postfork(2) in %s" % helper.role())


@signal(50, target="mules")
def to_mules(num):
    helper.event("signal %d in %s" % (num, helper.role()))


@signal(51, target="spooler")
def to_spooler(num):
    helper.event("signal %d in %s" % (num, helper.role()))


@signal(52, target="mule1")
def to_mule_one(num):
    helper.event("signal %d in %s" % (num, helper.role()))


@rbtimer(1, target="worker1")
def limited(num):
    if not os.path.exists(helper.EVENTS + ".rb"):
        open(helper.EVENTS + ".rb", "w").close()
        helper.event("rbtimer signal %d in %s" % (num, helper.role()))


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/signals":
        uwsgi.signal(50)
        uwsgi.signal(51)
        uwsgi.signal(52)
    elif path == "/spool":
        uwsgi.spool({b"what": b"imported"})
    body = "alias=%s dumps=%s" % (aliased.__name__, aliased.dumps([1]))
    if path == "/spoolinfo":
        body = "spooler_pid=%d jobs=%d spoolers=%d" % (
            uwsgi.spooler_pid(), len(uwsgi.spooler_jobs()), len(uwsgi.spoolers))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode() + b"\n"]
