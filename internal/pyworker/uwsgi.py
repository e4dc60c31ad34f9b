# The `uwsgi` module as apps see it under gosgi (spec PY-40..PY-50). Values
# follow uWSGI 2.0's types: bytes where uWSGI gives bytes (TOP-18). Anything
# gosgi does not provide raises AttributeError naming docs/compat.md.
import os
import signal as _signal
import socket as _socket
import sys as _sys
import time as _time

import _gosgi

_loader = _sys.modules["_gosgi_loader"]
_spec = _loader.SPEC

version = _spec["version"].encode()
version_info = tuple(int(x) for x in _spec["version"].split("-")[0].split(".")[:3]) + (0, b"")
hostname = _spec["hostname"].encode()
numproc = _spec.get("processes", 1)
cores = _spec.get("threads", 1)
has_threads = 1
buffer_size = _spec.get("buffer_size", 4096)
started_on = _spec.get("started_on", int(_time.time()))
is_a_reload = bool(_spec.get("reloads", 0))
loop = None
applications = None
unbit = None
SPOOL_OK = -2
SPOOL_RETRY = -1
SPOOL_IGNORE = 0
sockets = list(_spec.get("socket_fds") or [])
if _spec.get("pidfile"):
    pidfile = _spec["pidfile"].encode()

post_fork_hook = None
atexit = None
after_req_hook = None


def _build_opt(entries):
    # PY-41: name -> bytes; True for a CLI flag without value; repeated names
    # become lists in order.
    opt = {}
    for e in entries:
        key, value, novalue = e["k"], e["v"], e.get("n", False)
        v = True if novalue else value.encode("utf-8", "surrogateescape")
        if key in opt:
            if isinstance(opt[key], list):
                opt[key].append(v)
            else:
                opt[key] = [opt[key], v]
        else:
            opt[key] = v
    return opt


opt = _build_opt(_spec.get("opt") or [])
magic_table = {k.encode(): v.encode() for k, v in (_spec.get("magic") or {}).items()}

_worker_id = 0


def _worker_started(wid):
    global _worker_id
    _worker_id = wid


def worker_id():
    return _worker_id


def masterpid():
    return _spec.get("master_pid", 0) if _spec.get("master") else 0


def mule_id():
    return 0


def i_am_the_spooler():
    return False


def log(message):
    os.write(2, (str(message) + "\n").encode("utf-8", "backslashreplace"))
    return True


def reload():
    os.kill(_spec["master_pid"], _signal.SIGHUP)
    return True


def stop():
    os.kill(_spec["master_pid"], _signal.SIGINT)
    return True


def mem():
    with open("/proc/self/statm") as f:
        size, resident = f.read().split()[:2]
    page = os.sysconf("SC_PAGE_SIZE")
    return (int(resident) * page, int(size) * page)


def setprocname(name):
    try:
        with open("/proc/self/comm", "w") as f:
            f.write(str(name)[:15])
    except OSError:
        pass


_logvars = {}


def set_logvar(key, value):
    _logvars[str(key)] = str(value)


def get_logvar(key):
    v = _logvars.get(str(key))
    return None if v is None else v.encode()


def __getattr__(name):
    raise AttributeError(
        "module 'uwsgi' has no attribute '%s' (not provided by gosgi yet: see docs/compat.md)" % name
    )


# ------------------------------------------------------------ scoreboard
# workers() and total_requests() read the shared scoreboard the master and
# workers keep (PY-42, ST-22).

_board_layout = _spec.get("board") or {}


def _board_int(view, off):
    import struct

    return struct.unpack_from("<q", view, off)[0]


def total_requests():
    view = _gosgi.scoreboard()
    if view is None:
        return 0
    return _board_int(view, _board_layout["total_requests"])


def workers():
    view = _gosgi.scoreboard()
    if view is None:
        return ()
    L = _board_layout
    out = []
    for wid in range(1, numproc + 1):
        base = L["header_size"] + wid * L["slot_size"]

        def f(name):
            return _board_int(view, base + L[name])

        pid = f("Pid")
        apps = []
        for i, mp in enumerate(_loader.mountpoints()):
            abase = base + L["apps"] + i * L["app_size"]
            apps.append({
                "id": i, "modifier1": 0, "mountpoint": mp, "startup_time": 0,
                "requests": _board_int(view, abase), "exceptions": _board_int(view, abase + 8),
                "chdir": "",
            })
        out.append({
            "id": wid,
            "pid": pid,
            "requests": f("Requests"),
            "delta_requests": f("DeltaRequests"),
            "signals": f("Signals"),
            "exceptions": f("Exceptions"),
            "status": "cheap" if pid == 0 else ("busy" if f("Busy") > 0 else "idle"),
            "rss": f("RSS"),
            "vsz": f("VSZ"),
            "running_time": f("RunningTime"),
            "last_spawn": f("LastSpawn"),
            "respawn_count": f("RespawnCount"),
            "tx": f("TX"),
            "avg_rt": f("AvgRT"),
            "apps": tuple(apps),
        })
    return tuple(out)
