# Bad input to the uwsgi module (PY-45..PY-47): every call must fail with a
# clear error (or the documented None) and leave the instance working. Also
# checks that uwsgi.workers() does not leak. Prints "call -> result" lines.
# Run with: --master --cache2 name=default,items=4,blocksize=16 --mules 1
import time
import tracemalloc

import uwsgi

# Saturday 21 November 2026, 02:45 (tm_wday 5: cron weekday 6).
SAT = time.struct_time((2026, 11, 21, 2, 45, 0, 5, 325, 0))
SUN = time.struct_time((2026, 11, 22, 2, 45, 0, 6, 326, 0))

CALLS = [
    "uwsgi.register_signal(256, '', print)",
    "uwsgi.register_signal(-1, '', print)",
    "uwsgi.register_signal(5, 'nowhere', print)",
    "uwsgi.register_signal(5, 'worker9', print)",
    "uwsgi.signal(999)",
    "uwsgi.add_timer(300, 1)",
    "uwsgi.add_timer(5, 0)",
    "uwsgi.add_cron(5, 60, -1, -1, -1, -1)",
    "uwsgi.add_cron(5, -1, 24, -1, -1, -1)",
    "uwsgi.add_cron(5, -1, -1, 0, -1, -1)",
    "uwsgi.add_cron(5, -1, -1, -1, 13, -1)",
    "uwsgi.add_cron(5, -1, -1, -1, -1, 8)",
    "uwsgi.add_cron(5, 'x', -1, -1, -1, -1)",
    "uwsgi.add_cron(5, 30, 2, -1, -1, -1)",
    "uwsgi.cache_set('big', b'x' * 17)",
    "uwsgi.cache_set('key' * 1000, b'v')",
    "uwsgi.cache_set(1, b'v')",
    "[uwsgi.cache_set('k%d' % i, b'v') for i in range(4)]",
    "uwsgi.cache_get('k0')",
    "uwsgi.cache_get('k0', 'nosuchcache')",
    "uwsgi.lock(1)",
    "uwsgi.unlock(-1)",
    "uwsgi.sharedarea_read(0, 0, 1)",
    "uwsgi.mule_msg(b'x', 7)",
    "uwsgi.mule_msg(b'x' * 70000)",
    "uwsgi.farm_msg('nofarm', b'x')",
    "uwsgi.spool({b'a': b'b'})",
    "uwsgi.mule_get_msg()",
    "uwsgi.register_rpc('r' * 256, print)",
    "uwsgi.register_rpc('r' * 255, print)",
    "uwsgi.no_such_function()",
    "uwsgi.signal_registered(256)",
    "uwsgi._cron_match((-1, -1, -1, -1, -1), SAT)",
    "uwsgi._cron_match((45, 2, 21, 11, 6), SAT)",
    "uwsgi._cron_match((44, 2, 21, 11, 6), SAT)",
    "uwsgi._cron_match((-15, -1, -1, -1, -1), SAT)",
    "uwsgi._cron_match((-2, -1, -1, -1, -1), SAT)",
    "uwsgi._cron_match((-1, -1, -1, -1, 0), SAT)",
    "uwsgi._cron_match((-1, -1, -1, -1, 0), SUN)",
    "uwsgi._cron_match((-1, -1, -1, -1, 7), SUN)",
    "uwsgi._cron_match((-1, 3, -1, -1, -1), SAT)",
]


def workers_leak():
    tracemalloc.start()
    for _ in range(200):
        uwsgi.workers()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(2000):
        uwsgi.workers()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return grown < 64 * 1024


def application(environ, start_response):
    out = []
    for expr in CALLS:
        try:
            out.append("%s -> %r" % (expr, eval(expr)))
        except Exception as e:
            out.append("%s raised %s: %s" % (expr, type(e).__name__, e))
    out.append("workers() does not leak: %s" % workers_leak())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["\n".join(out).encode() + b"\n"]
