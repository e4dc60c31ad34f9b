"""Dump the WSGI environ as JSON (PY-21): str, bool and int values as they
are; bytes as {"__bytes__": latin-1 text}; tuples as {"__tuple__": [...]};
anything else as {"__type__": module.qualname, "repr": repr(value)}.
"__body_read__" holds what wsgi.input.read(CONTENT_LENGTH) returned.
uwsgi.version is reported by type only: each server spells its version its
own way, and the dump's size must not depend on it."""
import json


def encode(value):
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    if isinstance(value, bytes):
        return {"__bytes__": value.decode("latin-1")}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    t = type(value)
    return {"__type__": "%s.%s" % (t.__module__, t.__qualname__), "repr": repr(value)}


def application(environ, start_response):
    out = {k: encode(v) for k, v in environ.items()}
    if isinstance(environ.get("uwsgi.version"), bytes):
        out["uwsgi.version"] = {"__bytes__": "<server version>"}
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    out["__body_read__"] = environ["wsgi.input"].read(length).decode("latin-1")
    body = json.dumps(out, sort_keys=True, indent=1).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("X-Test", "yes")])
    return [body]
