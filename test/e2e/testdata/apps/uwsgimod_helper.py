# Event recording shared by uwsgimod_opts.py and uwsgimod_spoolmod.py: lines
# go to events in the directory named by UWSGIMOD_EVENTS_DIR.
import os

import uwsgi

EVENTS = os.path.join(os.environ["UWSGIMOD_EVENTS_DIR"], "events")


def event(text):
    fd = os.open(EVENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (text + "\n").encode())
    finally:
        os.close(fd)


def role():
    if uwsgi.i_am_the_spooler():
        return "spooler"
    if uwsgi.mule_id():
        return "mule%d" % uwsgi.mule_id()
    if uwsgi.worker_id():
        return "worker%d" % uwsgi.worker_id()
    return "master"


event("helper imported as %s in %s" % (__name__, role()))
