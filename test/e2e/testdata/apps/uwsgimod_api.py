# PY-45..PY-47, PY-50: cache, locks, sharedarea, rpc and signal-table
# functions of the uwsgi module, each result printed as "call -> repr".
# Run with: --cache2 name=default,items=10,blocksize=100
#           --cache2 name=other,items=4 --sharedarea 1 --locks 2
import uwsgi


def _echo(*args):
    return b"echo:" + b",".join(args)


uwsgi.register_rpc("echo", _echo)


def _handler(num):
    pass


uwsgi.register_signal(30, "workers", _handler)

CALLS = [
    "uwsgi.cache_set('k', b'v')",
    "uwsgi.cache_set('k', b'v2')",
    "uwsgi.cache_get('k')",
    "uwsgi.cache_update('k', b'v3')",
    "uwsgi.cache_get('k')",
    "uwsgi.cache_get(b'k')",
    "uwsgi.cache_exists('k')",
    "uwsgi.cache_exists('nope')",
    "uwsgi.cache_set('big', b'x' * 101)",
    "uwsgi.cache_get('big')",
    "uwsgi.cache_set('fits', b'x' * 100)",
    "len(uwsgi.cache_get('fits'))",
    "uwsgi.cache_del('k')",
    "uwsgi.cache_del('k')",
    "uwsgi.cache_get('k')",
    "uwsgi.cache_inc('n')",
    "uwsgi.cache_inc('n', 41)",
    "uwsgi.cache_num('n')",
    "uwsgi.cache_dec('n', 2)",
    "uwsgi.cache_mul('n', 3)",
    "uwsgi.cache_div('n', 4)",
    "uwsgi.cache_num('n')",
    "uwsgi.cache_get('n')",
    "sorted(uwsgi.cache_keys())",
    "uwsgi.cache_set('o', b'other', 0, 'other')",
    "uwsgi.cache_get('o', 'other')",
    "uwsgi.cache_get('o')",
    "uwsgi.cache_clear()",
    "uwsgi.cache_keys()",
    "uwsgi.cache_keys('other')",
    "[uwsgi.cache_set('f%d' % i, b'1', 0, 'other') for i in range(5)]",
    "uwsgi.lock()",
    "uwsgi.is_locked()",
    "uwsgi.unlock()",
    "uwsgi.lock(2)",
    "uwsgi.unlock(2)",
    "uwsgi.sharedarea_write(0, 10, b'hello')",
    "uwsgi.sharedarea_read(0, 10, 5)",
    "uwsgi.sharedarea_readbyte(0, 11)",
    "uwsgi.signal_registered(30)",
    "uwsgi.signal_registered(31)",
    "uwsgi.rpc_list()",
    "uwsgi.call('echo', b'a', b'b')",
    "uwsgi.rpc('', 'echo', b'c')",
    "uwsgi.register_rpc('x' * 300, _echo)",
    "uwsgi.mule_id()",
    "uwsgi.i_am_the_spooler()",
    "uwsgi.worker_id()",
]


def application(environ, start_response):
    out = []
    for expr in CALLS:
        try:
            out.append("%s -> %r" % (expr, eval(expr)))
        except Exception as e:
            out.append("%s raised %s" % (expr, type(e).__name__))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["\n".join(out).encode() + b"\n"]
