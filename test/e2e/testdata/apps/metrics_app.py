# Drives uwsgi.metric_* (PY-50) for the metrics tests: the query string is
# a list of calls, "fn=arg1,arg2&fn2=arg" (numeric args become ints, "_"
# alone means no argument), and the response is one JSON object per call
# with its result or the exception it raised. "pid" answers the worker's
# pid; the path /raise makes the request fail with an exception.
import json
import os

import uwsgi


def _arg(a):
    try:
        return int(a)
    except ValueError:
        return a


def application(environ, start_response):
    if environ["PATH_INFO"] == "/raise":
        raise RuntimeError("the metrics test wants an exception")
    out = []
    for part in environ.get("QUERY_STRING", "").split("&"):
        if not part:
            continue
        fn, _, args = part.partition("=")
        call_args = [] if args in ("", "_") else [_arg(a) for a in args.split(",")]
        if fn == "pid":
            out.append({"call": part, "result": str(os.getpid())})
            continue
        try:
            res = repr(getattr(uwsgi, fn)(*call_args))
        except Exception as e:  # the test compares the exception too
            res = "%s: %s" % (type(e).__name__, e)
        out.append({"call": part, "result": res})
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(out).encode()]
