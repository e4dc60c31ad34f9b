# The queue subsystem (PY-50 queue_*), for TestUwsgiQueue: pushes, pulls,
# pops, gets and sets on a 4-block queue, its wrap-around and a message
# too big for a block, in one request; /push and /get0 for the store test.
import uwsgi

EXPRS = [
    "uwsgi.queue_size", "uwsgi.queue_slot()", "uwsgi.queue_pull_slot()",
    "uwsgi.queue_push(b'a')", "uwsgi.queue_push('b')", "uwsgi.queue_push(b'c')",
    "uwsgi.queue_slot()", "uwsgi.queue_pull_slot()",
    "uwsgi.queue_get(0)", "uwsgi.queue_get(1)", "uwsgi.queue_get(5)",
    "uwsgi.queue_last()", "uwsgi.queue_last(2)", "uwsgi.queue_pull()", "uwsgi.queue_pop()",
    "uwsgi.queue_slot()", "uwsgi.queue_pull_slot()",
    "uwsgi.queue_set(0, b'z')", "uwsgi.queue_get(0)",
    "uwsgi.queue_pull()", "uwsgi.queue_pull()", "uwsgi.queue_pop()",
    "[uwsgi.queue_push(b'%d' % i) for i in range(6)]",
    "uwsgi.queue_slot()", "uwsgi.queue_pull_slot()", "uwsgi.queue_pull()", "uwsgi.queue_last(10)",
    "uwsgi.queue_push(b'x' * 9000)", "uwsgi.queue_set(99, b'q')",
]


def t(expr):
    try:
        return "%s -> %r" % (expr, eval(expr))
    except Exception as e:
        return "%s raised %s: %s" % (expr, type(e).__name__, e)


def application(env, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    path = env["PATH_INFO"]
    if path == "/push":
        return [repr(uwsgi.queue_push(env["QUERY_STRING"])).encode()]
    if path == "/get0":
        return [repr(uwsgi.queue_get(0)).encode()]
    return [("\n".join(t(e) for e in EXPRS) + "\n").encode()]
