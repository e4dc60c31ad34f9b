# TestForkHooks: os.register_at_fork hooks registered at import.
import os

EVENTS = os.environ["EVENTS"]


def event(s):
    with open(EVENTS, "a") as f:
        f.write(s + "\n")


os.register_at_fork(after_in_child=lambda: event("child %d" % os.getpid()))


def application(env, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
