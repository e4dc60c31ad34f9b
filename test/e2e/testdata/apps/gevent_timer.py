# A uwsgi timer in an app that gevent has monkey-patched
# (TestGeventTimerAfterMonkeyPatch): it appends a line to $GEVENT_TICKS.
import os

from uwsgidecorators import timer


@timer(1)
def tick(signum):
    with open(os.environ["GEVENT_TICKS"], "a") as f:
        f.write("tick\n")


def application(env, start_response):
    start_response("200 OK", [])
    return [b"ok"]
