"""Reports what `import uwsgi` offers (PY-41, PY-42, TOP-18) as JSON: types
and values that do not depend on the machine."""
import json
import os

import uwsgi


def typed(v):
    if isinstance(v, bytes):
        return {"bytes": v.decode("latin-1")}
    if isinstance(v, list):
        return [typed(x) for x in v]
    if v is True:
        return {"flag": True}
    return {type(v).__name__: repr(v)}


def application(environ, start_response):
    out = {
        "version_type": type(uwsgi.version).__name__,
        "version_info_len": len(uwsgi.version_info),
        "hostname_type": type(uwsgi.hostname).__name__,
        "numproc": uwsgi.numproc,
        "worker_id_in_range": 1 <= uwsgi.worker_id() <= uwsgi.numproc,
        "worker_is_self": [w["pid"] for w in uwsgi.workers() if w["id"] == uwsgi.worker_id()] == [os.getpid()],
        "masterpid_is_parent": uwsgi.masterpid() == os.getppid(),
        "opt": {k: typed(v) for k, v in sorted(uwsgi.opt.items())
                if k in ("master", "processes", "wsgi-file", "plugin", "e2e-custom", "env", "socket-timeout")},
        "buffer_size": uwsgi.buffer_size,
        "has_log": uwsgi.log("e2e-uwsgi-log-line"),
        "env_version_type": type(environ["uwsgi.version"]).__name__,
        "env_node_type": type(environ["uwsgi.node"]).__name__,
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(out, sort_keys=True, indent=1).encode()]
