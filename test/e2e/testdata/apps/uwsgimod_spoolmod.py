# Loaded in the spooler by spooler-import (PM-77): installs the spooler
# callback there, after uwsgidecorators installed its own in the master.
import uwsgi
import uwsgimod_helper as helper

helper.event("spoolmod imported in %s" % helper.role())


def task(env):
    helper.event("task %s in %s" % (env[b"what"].decode(), helper.role()))
    return uwsgi.SPOOL_OK


uwsgi.spooler = task
