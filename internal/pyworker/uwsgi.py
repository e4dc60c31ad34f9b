# The `uwsgi` module as apps see it under gosgi (spec PY-40..PY-50). Values
# follow uWSGI 2.0's types: bytes where uWSGI gives bytes (TOP-18). Anything
# gosgi does not provide raises AttributeError naming docs/compat.md.
#
# This file runs once, in the zygote, before any fork: everything shared
# between workers, mules and spoolers (shared memory for caches, sharedareas
# and the signal and timer tables; the lock file; the datagram socketpairs
# that carry uwsgi signals, mule messages and spooler wake-ups) is created
# here so that every child inherits it. The master (Go) runs no Python, so
# what uWSGI's master drives (timers, cron, file monitors) is driven by a
# thread of worker 1 instead.
import errno as _errno
import os
import signal as _signal
import socket as _socket
import sys as _sys
import time as _time
import weakref as _weakref

import _gosgi

_loader = _sys.modules["_gosgi_loader"]
_spec = _loader.SPEC

version = _spec["version"].encode()
version_info = tuple(int(x) for x in _spec["version"].split("-")[0].split(".")[:3]) + (0, b"")
hostname = _spec["hostname"].encode()
numproc = _spec.get("processes", 1)
cores = _spec.get("gevent") or _spec.get("threads", 1)
has_threads = 1
buffer_size = _spec.get("buffer_size", 4096)
started_on = _spec.get("started_on", int(_time.time()))
is_a_reload = bool(_spec.get("reloads", 0))
loop = b"gevent" if _spec.get("gevent") else None
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
    # PY-41: `env` and `start_response` are those of the running request.
    if name in ("env", "start_response"):
        cur = _current()
        if cur is None:
            return None
        return cur[2] if name == "env" else cur[3]
    if name.startswith("queue_"):
        raise AttributeError("module 'uwsgi' has no attribute '%s' (the queue option is not set)" % name)
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


# ================================================================ shared
# Everything below is created at import, in the zygote, before any fork.

import errno as _errno
import fcntl as _fcntl
import mmap as _mmap
import random as _random
import select as _select
import stat as _stat
import struct as _struct
import tempfile as _tempfile
import threading as _threading
import traceback as _traceback
import zlib as _zlib


def _opt_values(name):
    """The values of an option in config order, as str."""
    out = []
    for e in _spec.get("opt") or []:
        if e["k"] == name:
            out.append("" if e.get("n") else e["v"])
    return out


def _opt_int(name, default):
    vals = _opt_values(name)
    if not vals:
        return default
    try:
        return int(vals[-1])
    except ValueError:
        raise ValueError("option %s: %r is not a number" % (name, vals[-1]))


def _keyval(text):
    """uWSGI's key=value,key=value option syntax."""
    out = {}
    for part in text.split(","):
        k, sep, v = part.partition("=")
        if sep:
            out[k.strip()] = v.strip()
    return out


_mule_scripts = list(_spec.get("mules") or [])
# Absolute: the spooler chdirs into its directory, as uWSGI's does.
_spooler_dirs = [os.path.abspath(d) for d in _spec.get("spoolers") or []]
_unique_spooler_dirs = []
for _d in _spooler_dirs:
    if _d not in _unique_spooler_dirs:
        _unique_spooler_dirs.append(_d)
if _spooler_dirs:
    spoolers = tuple(d.encode() for d in _unique_spooler_dirs)
for _d in _unique_spooler_dirs:
    # uWSGI creates a missing spool directory at startup.
    try:
        os.makedirs(_d, 0o755, exist_ok=True)
    except OSError as _e:
        _loader.log("unable to create the spool directory %s: %s" % (_d, _e))

# Who this process is: set by _process_started after the fork.
_role = "master"
_mule_id = 0
_spooler_id = 0


def mule_id():
    return _mule_id


def i_am_the_spooler():
    return True if _role == "spooler" else None


# The state page: the signal table (256 x 64 bytes: registered flag, wid of
# the registering process, target name) and the timer table (64 entries).
_SIG_ENTRY = 64
_TIMER_FMT = "<BBxxiiihhhhhH"  # kind, signum, secs, iterations, fired, cron m h d mo wd, pathlen
_TIMER_HDR = _struct.calcsize(_TIMER_FMT)
_TIMER_ENTRY = 512
_MAX_TIMERS = 64
_TIMERS_OFF = 256 * _SIG_ENTRY
_PIDS_OFF = _TIMERS_OFF + _MAX_TIMERS * _TIMER_ENTRY  # spooler pids, 8 bytes each
_STATE_SIZE = _PIDS_OFF + 64 * 8 + 4096
_state = _mmap.mmap(-1, _STATE_SIZE)

# Locks: POSIX record locks on one byte each of an unlinked file, so a lock
# held by a killed process is released by the kernel; a threading.Lock per
# lock serialises the threads of one process (record locks are per process).
_n_user_locks = _opt_int("locks", 0) + 1
try:
    # An anonymous file: nothing on disk, works without a writable /tmp.
    _lock_fd = os.memfd_create("gosgi-locks", os.MFD_CLOEXEC)
except (AttributeError, OSError):
    _lockfile = _tempfile.TemporaryFile(prefix="gosgi-locks-")
    _lock_fd = _lockfile.fileno()
_CACHE_LOCK_BASE = 1 << 20
_STATE_LOCK = (1 << 20) - 1


class _Lock:
    def __init__(self, offset):
        self.offset = offset
        self.tlock = _threading.RLock()
        self.depth = 0

    def acquire(self):
        self.tlock.acquire()
        if self.depth == 0:
            while True:
                try:
                    _fcntl.lockf(_lock_fd, _fcntl.LOCK_EX, 1, self.offset)
                    break
                except InterruptedError:
                    continue
        self.depth += 1

    def release(self):
        if self.depth == 0:
            return
        self.depth -= 1
        if self.depth == 0:
            _fcntl.lockf(_lock_fd, _fcntl.LOCK_UN, 1, self.offset)
        self.tlock.release()

    def held_here(self):
        return self.depth > 0

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


_user_locks = [_Lock(i) for i in range(_n_user_locks)]
_state_lock = _Lock(_STATE_LOCK)


def _user_lock(num):
    if not isinstance(num, int) or num < 0 or num >= _n_user_locks:
        raise ValueError("The lock number is out of range (0..%d)" % (_n_user_locks - 1))
    return _user_locks[num]


def lock(num=0):
    """PY-46: take process-shared lock num (0 always exists; `locks = N` adds N)."""
    if _role == "spooler":
        # uWSGI's spooler has no user locks; taking one there is a no-op.
        return None
    _user_lock(num).acquire()
    return None


def unlock(num=0):
    if _role == "spooler":
        return None
    _user_lock(num).release()
    return None


def is_locked(num=0):
    lk = _user_lock(num)
    if lk.held_here():
        return True
    try:
        _fcntl.lockf(_lock_fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB, 1, lk.offset)
    except OSError:
        return True
    _fcntl.lockf(_lock_fd, _fcntl.LOCK_UN, 1, lk.offset)
    return False


# ------------------------------------------------------------ datagrams
# One AF_UNIX datagram socketpair per queue. Writers use the non-blocking
# send end; each process reads only its own queues.


def _pair(bufsize=0):
    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_DGRAM)
    if bufsize:
        for s in (a, b):
            try:
                s.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDBUF, bufsize)
                s.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVBUF, bufsize)
            except OSError:
                pass
    b.setblocking(False)
    return a, b  # a: read end, b: write end


_sig_any_worker = _pair()
_sig_workers = {w: _pair() for w in range(1, numproc + 1)}
_sig_any_mule = _pair()
_sig_mules = {m: _pair() for m in range(1, len(_mule_scripts) + 1)}
_sig_spoolers = {s: _pair() for s in range(1, len(_spooler_dirs) + 1)}

_mule_msg_size = _opt_int("mule-msg-size", 65536)
_mq_any = _pair(4 * _mule_msg_size)
_mq = {m: _pair(4 * _mule_msg_size) for m in range(1, len(_mule_scripts) + 1)}

# farm = name:1,2 (mule ids)
_farms = {}
for _f in _opt_values("farm"):
    _name, _sep, _ids = _f.partition(":")
    try:
        _members = [int(x) for x in _ids.split(",") if x.strip()]
    except ValueError:
        raise ValueError("invalid farm definition %r (want name:1,2,...)" % _f)
    _farms[_name.strip()] = (_members, _pair(4 * _mule_msg_size))
    _loader.log("created farm %d name: %s mules:%s" % (len(_farms), _name.strip(), ",".join(map(str, _members))))

# spooler wake-ups, one per spooler directory
_spool_wake = {d: _pair() for d in _unique_spooler_dirs}


def _send(sock, data):
    try:
        sock.send(data)
        return True
    except BlockingIOError:
        return False
    except OSError as e:
        if e.errno in (_errno.ENOBUFS, _errno.EAGAIN):
            return False
        raise


# --------------------------------------------------------------- signals
# PY-45: 256 signal numbers; a handler is a Python callable that exists in
# the processes that registered it or inherited it (register before the fork
# to have it everywhere); the shared table records the target so any process
# can raise the signal.

_handlers = {}
_signal_cond = _threading.Condition()
_last_signal = None
_signal_seq = 0


def _check_signum(num):
    if not isinstance(num, int) or isinstance(num, bool) or not 0 <= num <= 255:
        raise ValueError("uwsgi signal number must be an integer in 0..255, got %r" % (num,))


def _target_socks(target):
    t = target or ""
    if t in ("", "worker", "worker0"):
        return [_sig_any_worker[1]]
    if t in ("workers", "active-workers"):
        return [p[1] for p in _sig_workers.values()]
    if t.startswith("worker") and t[6:].isdigit():
        n = int(t[6:])
        if n not in _sig_workers:
            raise ValueError("signal target %s: there is no worker %d" % (t, n))
        return [_sig_workers[n][1]]
    if t in ("mule", "mule0"):
        if not _sig_mules:
            raise ValueError("signal target %s: no mule configured" % t)
        return [_sig_any_mule[1]]
    if t == "mules":
        return [p[1] for p in _sig_mules.values()]
    if t.startswith("mule") and t[4:].isdigit():
        n = int(t[4:])
        if n not in _sig_mules:
            raise ValueError("signal target %s: there is no mule %d" % (t, n))
        return [_sig_mules[n][1]]
    if t in ("spooler", "spoolers"):
        if not _sig_spoolers:
            raise ValueError("signal target %s: no spooler configured" % t)
        return [p[1] for p in _sig_spoolers.values()]
    raise ValueError("unsupported uwsgi signal target %r (gosgi: see docs/compat.md)" % t)


def _sig_entry(num):
    off = num * _SIG_ENTRY
    flag, wid, tlen = _struct.unpack_from("<BBB", _state, off)
    if not flag:
        return None
    return wid, bytes(_state[off + 3:off + 3 + tlen]).decode()


def _current_wid():
    return _worker_id


def register_signal(num, target, handler):
    """PY-45: register handler for signal num, delivered to target."""
    _check_signum(num)
    if not callable(handler):
        raise ValueError("uwsgi signal handler must be callable")
    target = target.decode() if isinstance(target, bytes) else str(target or "")
    _target_socks(target)  # validates
    tb = target.encode()[:_SIG_ENTRY - 4]
    with _state_lock:
        off = num * _SIG_ENTRY
        _struct.pack_into("<BBB", _state, off, 1, _current_wid() & 0xFF, len(tb))
        _state[off + 3:off + 3 + len(tb)] = tb
    _handlers[num] = handler
    _loader.log("[uwsgi-signal] signum %d registered (wid: %d modifier1: 0 target: %s)"
                % (num, _current_wid(), target or "default, any worker"))
    return True


def signal_registered(num):
    _check_signum(num)
    return True if _sig_entry(num) is not None else None


def signal(num, remote=None):
    """PY-45: raise signal num; its handler runs in the target processes."""
    _check_signum(num)
    if remote:
        raise ValueError("remote uwsgi signals are not provided by gosgi (see docs/compat.md)")
    entry = _sig_entry(num)
    socks = _target_socks(entry[1]) if entry else [_sig_any_worker[1]]
    for s in socks:
        if not _send(s, bytes([num])):
            _loader.log("*** SIGNAL QUEUE IS FULL: signal %d lost ***" % num)
    return None


def signal_wait(num=None):
    """Block until this process receives a uwsgi signal (num, or any); the
    handler, if any, runs too (in this process's signal thread)."""
    if num is not None:
        _check_signum(num)
    if _role == "master":
        raise ValueError("signal_wait() needs a worker, mule or spooler: the master gets no signals")
    with _signal_cond:
        seq = _signal_seq
        while True:
            _signal_cond.wait_for(lambda: _signal_seq != seq)
            seq = _signal_seq
            if num is None or _last_signal == num:
                return None


def signal_received():
    return _last_signal


def _who():
    if _role == "mule":
        return "mule %d" % _mule_id
    if _role == "spooler":
        return "spooler %d" % _spooler_id
    return "worker %d" % _worker_id


def _dispatch_signal(num):
    global _last_signal, _signal_seq
    with _signal_cond:
        _last_signal = num
        _signal_seq += 1
        _signal_cond.notify_all()
    handler = _handlers.get(num)
    if handler is None:
        _loader.log("%s - error managing signal %d on %s" % (_time.ctime(), num, _who()))
        return
    try:
        handler(num)
    except BaseException:
        _traceback.print_exc()


def _signal_socks_for_me():
    if _role == "worker":
        socks = [_sig_any_worker[0]]
        if _worker_id in _sig_workers:
            socks.append(_sig_workers[_worker_id][0])
        return socks
    if _role == "mule":
        return [_sig_any_mule[0], _sig_mules[_mule_id][0]]
    if _role == "spooler":
        return [_sig_spoolers[_spooler_id][0]]
    return []


def _signal_loop(socks):
    for s in socks:
        s.setblocking(False)
    while True:
        try:
            ready, _, _ = _select.select(socks, [], [])
        except InterruptedError:
            continue
        for s in ready:
            try:
                data = s.recv(16)
            except (BlockingIOError, InterruptedError):
                continue  # another process took it
            for b in data:
                _dispatch_signal(b)


# ---------------------------------------------------------------- timers
# Timers, red-black timers, cron entries and file monitors live in a shared
# table; worker 1 runs the thread that fires them (uWSGI's master does).

_T_TIMER, _T_RBTIMER, _T_CRON, _T_FILEMON = 1, 2, 3, 4


def _add_timer_entry(kind, num, secs=0, iterations=0, cron=(0, 0, 0, 0, 0), path=b""):
    _check_signum(num)
    if len(path) > _TIMER_ENTRY - _TIMER_HDR:
        raise ValueError("path too long for a file monitor: %r" % path)
    with _state_lock:
        for i in range(_MAX_TIMERS):
            off = _TIMERS_OFF + i * _TIMER_ENTRY
            if _state[off] == 0:
                _struct.pack_into(_TIMER_FMT, _state, off, kind, num, secs, iterations, 0, *cron, len(path))
                _state[off + _TIMER_HDR:off + _TIMER_HDR + len(path)] = path
                return True
    raise ValueError("unable to add the timer for signal %d: all %d timer slots are in use" % (num, _MAX_TIMERS))


def _check_secs(secs):
    if not isinstance(secs, int) or isinstance(secs, bool) or secs <= 0:
        raise ValueError("timer seconds must be a positive integer, got %r" % (secs,))


def add_timer(num, secs):
    """PY-45: raise signal num every secs seconds."""
    _check_secs(secs)
    return _add_timer_entry(_T_TIMER, num, secs)


def add_rb_timer(num, secs, iterations=0):
    """PY-45: like add_timer; iterations > 0 stops after that many."""
    _check_secs(secs)
    if not isinstance(iterations, int) or iterations < 0:
        raise ValueError("rb timer iterations must be a non-negative integer")
    return _add_timer_entry(_T_RBTIMER, num, secs, iterations)


_CRON_RANGES = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("weekday", 0, 7))


def _check_cron(fields):
    out = []
    for (name, lo, hi), v in zip(_CRON_RANGES, fields):
        if not isinstance(v, int) or isinstance(v, bool):
            raise ValueError("cron %s must be an integer, got %r" % (name, v))
        # -1 is "any", -N is "every N" (uWSGI's cron extension).
        if v < -hi or (v >= 0 and not lo <= v <= hi):
            raise ValueError("cron %s %d out of range (%d..%d, -1 any, -N every N)" % (name, v, lo, hi))
        out.append(v)
    return tuple(out)


def add_cron(num, minute, hour, day, month, weekday):
    """PY-45: raise signal num when the cron spec matches (-1 = any)."""
    cron = _check_cron((minute, hour, day, month, weekday))
    return _add_timer_entry(_T_CRON, num, cron=cron)


_filemon_initial = {}  # path -> its state when the monitor was added


def add_file_monitor(num, path):
    """PY-45: raise signal num when path (a file or directory) changes."""
    if isinstance(path, str):
        path = path.encode()
    # The watcher thread may first look later (it runs in worker 1): a
    # change made in between must still count.
    _filemon_initial.setdefault(path, _fstat_key(path))
    return _add_timer_entry(_T_FILEMON, num, path=path)


def _cron_field_match(spec, value):
    if spec == -1:
        return True
    if spec < -1:
        return value % (-spec) == 0
    return spec == value


def _cron_match(cron, tm):
    minute, hour, day, month, wday = cron
    wd = (tm.tm_wday + 1) % 7  # cron: 0 = Sunday; 7 too
    return (_cron_field_match(minute, tm.tm_min) and _cron_field_match(hour, tm.tm_hour)
            and _cron_field_match(day, tm.tm_mday) and _cron_field_match(month, tm.tm_mon)
            and (_cron_field_match(wday, wd) or wday == 7 and wd == 0))


def _fstat_key(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


def _option_crons():
    """The command crons (cron, unique-cron, cron2) as the master parsed
    them, in the stats' order: (fields, command, unique, harakiri seconds,
    legion)."""
    return [(tuple(c["fields"]), c["command"], c.get("unique", False), c.get("harakiri", 0), c.get("legion"))
            for c in _spec.get("crons") or []]


def _timer_loop():
    import subprocess

    state = {}  # slot -> (generation key, next fire / last stat / last minute, fired)
    crons = _option_crons()
    running = {}  # cron index -> its running command
    last_minute = None
    while True:
        now = _time.monotonic()
        for i in range(_MAX_TIMERS):
            off = _TIMERS_OFF + i * _TIMER_ENTRY
            kind, num, secs, iters, _fired, cm, ch, cd, cmo, cw, plen = _struct.unpack_from(_TIMER_FMT, _state, off)
            if kind == 0:
                state.pop(i, None)
                continue
            key = (kind, num, secs, iters, cm, ch, cd, cmo, cw)
            st = state.get(i)
            if st is None or st[0] != key:
                if kind in (_T_TIMER, _T_RBTIMER):
                    st = [key, now + secs, 0]
                elif kind == _T_FILEMON:
                    path = bytes(_state[off + _TIMER_HDR:off + _TIMER_HDR + plen])
                    first = _filemon_initial.get(path, _fstat_key(path))
                    st = [key, (path, first), 0]
                    state[i] = st
                    continue  # compared from the next round on, against first
                else:
                    st = [key, None, 0]
                state[i] = st
                continue
            if kind in (_T_TIMER, _T_RBTIMER):
                if iters and st[2] >= iters:
                    continue
                if now >= st[1]:
                    st[1] += secs
                    if st[1] <= now:  # late (a long stop): do not fire a burst
                        st[1] = now + secs
                    st[2] += 1
                    _raise_quietly(num)
            elif kind == _T_FILEMON:
                path, old = st[1]
                cur = _fstat_key(path)
                if cur != old:
                    st[1] = (path, cur)
                    _raise_quietly(num)
        tm = _time.localtime()
        minute = (tm.tm_year, tm.tm_yday, tm.tm_hour, tm.tm_min)
        if minute != last_minute:
            if last_minute is not None:
                for i, st in list(state.items()):
                    if st[0][0] == _T_CRON and _cron_match(st[0][4:], tm):
                        _raise_quietly(st[0][1])
            last_minute = minute
        _run_crons(crons, running, subprocess)
        _time.sleep(0.25)


def _run_crons(crons, running, subprocess):
    """Starts the command crons that are due, as uWSGI's master does: when
    the time fields match and the last start is a minute old (so a matching
    entry runs at startup too), unless a unique one still runs; kills runs
    older than their harakiri."""
    now = _time.time()
    tm = _time.localtime(now)
    for index, (fields, command, unique, harakiri, legion) in enumerate(crons):
        if legion:  # a legion lord's only: there are no legions
            continue
        proc = running.get(index)
        if proc is not None and proc.poll() is not None:
            running.pop(index)
            proc = None
        if proc is not None and harakiri and now - proc.started >= harakiri and not proc.killed:
            _loader.log('*** HARAKIRI ON CRON "%s" (pid: %d) ***' % (command, proc.pid))
            proc.killed = True
            try:
                os.killpg(proc.pid, _signal.SIGKILL)
            except OSError:
                pass
        if (unique and proc is not None) or not _cron_match(fields, tm):
            continue
        last_off = _counter_off("cron", index, "LastRun")
        if last_off is not None and now - _struct.unpack_from("q", _counters, last_off)[0] < 60:
            continue
        _counter_set(last_off, int(now))
        # Its own session, so that harakiri kills the whole command.
        p = subprocess.Popen(["/bin/sh", "-c", command], start_new_session=True)
        p.started, p.killed = now, False
        running[index] = p
        _loader.log('%s - [uwsgi-cron] running "%s" (pid %d)' % (_time.ctime(), command, p.pid))
        _cron_started(index, p, command)


def _cron_started(index, proc, command):
    """Show the running command in the stats (ST-15) until it exits, then
    log how long it ran."""
    pid_off, at_off = _counter_off("cron", index, "Pid"), _counter_off("cron", index, "StartedAt")
    _counter_set(pid_off, proc.pid)
    _counter_set(at_off, int(_time.time()))

    def wait():
        proc.wait()
        _loader.log('[uwsgi-cron] command "%s" running with pid %d exited after %d second(s)'
                    % (command, proc.pid, int(_time.time() - proc.started)))
        # An overlapping later run of the same entry keeps its own numbers.
        if _counters is not None and pid_off is not None and _struct.unpack_from("q", _counters, pid_off)[0] == proc.pid:
            _counter_set(pid_off, 0)
            _counter_set(at_off, 0)

    _os_thread(wait, (), "uwsgi-cron")


def _raise_quietly(num):
    try:
        signal(num)
    except ValueError as e:
        _loader.log("unable to raise signal %d: %s" % (num, e))


# ------------------------------------------------------- stats counters
# ST-9, ST-15: the numbers of caches and spoolers that the master's stats
# server shows live in a region of the scoreboard. This zygote maps it
# before any fork, so every child writes the same pages; the master reads
# them. Native "q" at 8-byte aligned offsets is one whole store.


def _map_counters():
    L = _board_layout
    size = L.get("extras_size") or 0
    fd = (_spec.get("worker") or {}).get("scoreboard_fd")
    if size and fd:
        try:
            mem = _mmap.mmap(fd, size, _mmap.MAP_SHARED, _mmap.PROT_READ | _mmap.PROT_WRITE,
                             offset=L["extras_offset"])
            mem[:] = bytes(size)  # a reload starts the counts again
            return mem
        except (OSError, ValueError) as e:
            _loader.log("cache and spooler counters are not shared, stats will show 0: %s" % e)
    return None


_counters = _map_counters()


def _counter_off(kind, index, field):
    """Offset of a counter in _counters, or None when it is not kept."""
    L = _board_layout
    if _counters is None:
        return None
    if kind == "cache":
        if index >= L["max_caches"]:
            return None
        return index * L["cache_size"] + L["cache_" + field]
    if kind == "cron":
        if index >= L["max_crons"]:
            return None
        return L["crons"] + index * L["cron_size"] + L["cron_" + field]
    if not 1 <= index <= L["max_spoolers"]:
        return None
    return L["spoolers"] + index * L["spooler_size"] + L["spooler_" + field]


def _counter_set(off, value):
    if off is not None:
        _struct.pack_into("q", _counters, off, value)


def _counter_add(off, delta=1):
    if off is not None:
        _struct.pack_into("q", _counters, off, _struct.unpack_from("q", _counters, off)[0] + delta)


# --------------------------------------------------------------- metrics
# PY-50, ST-16: the metrics subsystem. The master registers the metrics
# (built-in and `metric` options, one list handed over in the boot bundle)
# and keeps one int64 per metric in the scoreboard's metrics region; this
# zygote maps that region before any fork. Reads need no lock (one aligned
# 8-byte load); a change is a compare-and-swap retried until no other
# process changed the value in between (_gosgi.metric_cas). The master only
# writes metrics that have a collector, which the application may not
# change, so the two never race.

import operator as _operator

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _map_metrics():
    defs = _spec.get("metrics")
    L = _board_layout
    fd = (_spec.get("worker") or {}).get("scoreboard_fd")
    if not defs or not fd or "metrics_offset" not in L:
        return None, {}
    slots = max(d["s"] for d in defs) + 1
    size = (slots * 8 + _mmap.PAGESIZE - 1) // _mmap.PAGESIZE * _mmap.PAGESIZE
    try:
        mem = _mmap.mmap(fd, size, _mmap.MAP_SHARED, _mmap.PROT_READ | _mmap.PROT_WRITE,
                         offset=L["metrics_offset"])
    except (OSError, ValueError) as e:
        _loader.log("metrics are not shared, uwsgi.metric_* will not work: %s" % e)
        return None, {}
    # name -> (byte offset, writable, initial value)
    return mem, {d["n"]: (d["s"] * 8, bool(d.get("w")), d.get("i", 0)) for d in defs}


_metrics_mem, _metrics = _map_metrics()
_metrics_base = 0
if _metrics_mem is not None:
    import ctypes as _ctypes

    _metrics_base = _ctypes.addressof(_ctypes.c_char.from_buffer(_metrics_mem))


def _wrap64(v):
    """C's int64 arithmetic wraps around."""
    return (v - _INT64_MIN) % (1 << 64) + _INT64_MIN


def _metric_args(fname, key, value):
    if not isinstance(key, str):
        raise TypeError("%s() argument 1 must be str, not %s" % (fname, type(key).__name__))
    value = _operator.index(value)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise OverflowError("Python int too large to convert to C long")
    return value


def _metric_arity(fname, args, most):
    """The TypeError CPython's argument parser gives uWSGI's functions."""
    if not args:
        raise TypeError("%s() takes %s 1 argument (0 given)" % (fname, "exactly" if most == 1 else "at least"))
    if len(args) > most:
        raise TypeError("%s() takes %s %d argument%s (%d given)"
                        % (fname, "exactly" if most == 1 else "at most", most, "" if most == 1 else "s", len(args)))


def metric_get(*args):
    _metric_arity("metric_get", args, 1)
    key = args[0]
    if not isinstance(key, str):
        raise TypeError("metric_get() argument 1 must be str, not %s" % type(key).__name__)
    m = _metrics.get(key)
    if m is None:
        return 0
    return _struct.unpack_from("q", _metrics_mem, m[0])[0]


def _metric_op(fname, op):
    def f(*args):
        _metric_arity(fname, args, 2)
        key, value = args[0], (args[1] if len(args) > 1 else 1)
        value = _metric_args(fname, key, value)
        m = _metrics.get(key)
        if m is None or not m[1]:
            return None  # unknown, or collected by the master / an alias
        off, _, initial = m
        while True:
            cur = _struct.unpack_from("q", _metrics_mem, off)[0]
            new = op(cur, value, initial)
            if new is None:
                return None
            if _gosgi.metric_cas(_metrics_base + off, cur, _wrap64(new)):
                return True
    f.__name__ = fname
    return f


def _c_div(a, b, _initial):
    if b == 0:
        return None  # uWSGI refuses a division by zero
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


metric_set = _metric_op("metric_set", lambda cur, v, i: v)
metric_inc = _metric_op("metric_inc", lambda cur, v, i: cur + v)
metric_dec = _metric_op("metric_dec", lambda cur, v, i: cur - v)
metric_mul = _metric_op("metric_mul", lambda cur, v, i: cur * v)
metric_div = _metric_op("metric_div", _c_div)
metric_set_max = _metric_op("metric_set_max", lambda cur, v, i: v if v > cur else cur)
# uWSGI takes a new minimum only above the metric's initial value.
metric_set_min = _metric_op("metric_set_min", lambda cur, v, i: v if v > i and v < cur else cur)


# ----------------------------------------------------------------- queue
# The queue subsystem (`queue = N`): N blocks of queue-blocksize bytes in
# shared memory (or in the queue-store file), each a 16-byte header (size,
# time) and the message; a push position for push/pop (a stack) and a pull
# position for pull (a FIFO), both wrapping around.

_QUEUE_HDR = 16  # push and pull positions (u64 each), then the blocks
_queue_size = _opt_int("queue", 0)
_queue_block = _opt_int("queue-blocksize", 8192)
_queue_lock = _Lock(_CACHE_LOCK_BASE - 2)


def _map_queue():
    if _queue_size <= 0:
        return None
    page = os.sysconf("SC_PAGE_SIZE")
    if _queue_block <= _QUEUE_HDR or (_queue_block * _queue_size) % page:
        _loader.log("invalid queue size/blocksize %d: must be a multiple of memory page size (%d bytes)"
                    % (_queue_block, page))
        raise SystemExit(1)
    total = _QUEUE_HDR + _queue_block * _queue_size
    store = _opt_values("queue-store")
    if store:
        path = store[-1]
        if os.path.exists(path):
            st = os.stat(path)
            if st.st_size != total or not _stat.S_ISREG(st.st_mode):
                _loader.log("invalid queue store file. Please remove it or fix queue blocksize/items to match its size")
                raise SystemExit(1)
            _loader.log("recovered queue from backing store file: %s" % path)
        else:
            _loader.log("creating a new queue store file: %s" % path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.ftruncate(fd, total)
            mem = _mmap.mmap(fd, total)
        finally:
            os.close(fd)
    else:
        mem = _mmap.mmap(-1, total)
    _loader.log("*** Queue subsystem initialized: %dMB preallocated ***" % (_queue_block * _queue_size // (1024 * 1024)))
    return mem


_queue = _map_queue()
if _queue is not None:
    queue_size = _queue_size


def _queue_pos(i):
    return _struct.unpack_from("<Q", _queue, 8 * i)[0]


def _queue_set_pos(i, v):
    _struct.pack_into("<Q", _queue, 8 * i, v)


def _queue_item(index):
    """The message in block index, None when the block is empty."""
    off = _QUEUE_HDR + index * _queue_block
    size = _struct.unpack_from("<Q", _queue, off)[0]
    if size == 0:
        return None
    return bytes(_queue[off + 16:off + 16 + size])


def _queue_write(index, message):
    off = _QUEUE_HDR + index * _queue_block
    _struct.pack_into("<QQ", _queue, off, len(message), int(_time.time()))
    _queue[off + 16:off + 16 + len(message)] = message


def _queue_clear(index):
    _struct.pack_into("<Q", _queue, _QUEUE_HDR + index * _queue_block, 0)


def _queue_message(message):
    if isinstance(message, str):
        message = message.encode()
    message = bytes(message)
    # A block holds its header and the message.
    if not message or len(message) > _queue_block - 16:
        return None
    return message


def queue_push(message):
    """Stores message at the push position; True, or None when it does not
    fit in a block."""
    message = _queue_message(message)
    if message is None:
        return None
    with _queue_lock:
        pos = _queue_pos(0)
        _queue_write(pos, message)
        _queue_set_pos(0, (pos + 1) % _queue_size)
    return True


def queue_set(pos, message):
    message = _queue_message(message)
    if message is None or not 0 <= int(pos) < _queue_size:
        return None
    with _queue_lock:
        _queue_write(int(pos), message)
    return True


def queue_pop():
    """The last message pushed (a stack), removed; None when empty."""
    with _queue_lock:
        pos = (_queue_pos(0) - 1) % _queue_size
        _queue_set_pos(0, pos)
        msg = _queue_item(pos)
        if msg is not None:
            _queue_clear(pos)
    return msg


def queue_pull():
    """The oldest message (a FIFO), removed; None when empty."""
    with _queue_lock:
        pos = _queue_pos(1)
        msg = _queue_item(pos)
        if msg is not None:
            _queue_clear(pos)
            _queue_set_pos(1, (pos + 1) % _queue_size)
    return msg


def queue_get(index):
    if not 0 <= int(index) < _queue_size:
        return None
    with _queue_lock:
        return _queue_item(int(index))


def queue_last(num=None):
    """The last message pushed, or a list of the last num (at most the
    queue's size), newest first."""
    with _queue_lock:
        pos = _queue_pos(0)
        if num is None:
            return _queue_item((pos - 1) % _queue_size)
        return [_queue_item((pos - 1 - i) % _queue_size) for i in range(min(int(num), _queue_size))]


def queue_slot():
    return _queue_pos(0)


def queue_pull_slot():
    return _queue_pos(1)


if _queue is None:  # as in uWSGI, the functions exist with a queue only
    del queue_push, queue_set, queue_pop, queue_pull, queue_get, queue_last, queue_slot, queue_pull_slot


# ----------------------------------------------------------------- cache
# PY-47: cache2 (and the legacy `cache = N`) as a hash table with linear
# probing in shared memory; one record lock per cache. The area starts with
# the count of used slots; a slot is state (0 empty, 1 used, 2 deleted), key
# length, value length, expiry, key, value. Like uWSGI's, a cache of N items
# holds N-1 (its slot 0 is reserved).

_SLOT_HDR = "<BxHIq"
_SLOT_HDR_SIZE = _struct.calcsize(_SLOT_HDR)


class _Cache:
    def __init__(self, name, items, blocksize, keysize, index, lastmod=False):
        if items <= 0:
            raise ValueError("cache %s: items must be positive" % name)
        self.name, self.items, self.blocksize, self.keysize = name, items, blocksize, keysize
        self.lastmod = lastmod  # cache2 lastmod=1: stats show the time of the last change
        self.ctr = {f: _counter_off("cache", index, f)
                    for f in ("Items", "Hits", "Miss", "Full", "LastModifiedAt")}
        self.slot = _SLOT_HDR_SIZE + keysize + blocksize
        self.mem = _mmap.mmap(-1, 8 + items * self.slot)
        self.lock = _Lock(_CACHE_LOCK_BASE + index)
        # The sizes uWSGI 2.0 reports for the same cache (its item header is
        # 88 bytes on 64-bit Linux), so the startup line reads the same.
        item = 88 + keysize
        total = items * item + items * blocksize
        _loader.log("*** Cache \"%s\" initialized: %dMB (key: %d bytes, keys: %d bytes, data: %d bytes, "
                    "bitmap: 0 bytes) preallocated ***" % (name, total // (1024 * 1024), item, items * item,
                                                           items * blocksize))

    def _off(self, i):
        return 8 + i * self.slot

    def _used(self, delta=0):
        n = _struct.unpack_from("<q", self.mem, 0)[0] + delta
        if delta:
            _struct.pack_into("<q", self.mem, 0, n)
            _counter_set(self.ctr["Items"], n)
        return n

    def _modified(self):
        if self.lastmod:
            _counter_set(self.ctr["LastModifiedAt"], int(_time.time()))

    def _find(self, key, now):
        """(slot of key or None, first free slot or None)."""
        h = _zlib.crc32(key) % self.items
        free = None
        for n in range(self.items):
            i = (h + n) % self.items
            off = self._off(i)
            st, klen, vlen, exp = _struct.unpack_from(_SLOT_HDR, self.mem, off)
            if st == 0:
                return None, free if free is not None else i
            if st == 2:
                if free is None:
                    free = i
                continue
            if klen == len(key) and self.mem[off + _SLOT_HDR_SIZE:off + _SLOT_HDR_SIZE + klen] == key:
                if exp and exp <= now:
                    self.mem[off] = 2  # expired: gone
                    self._used(-1)
                    if free is None:
                        free = i
                    continue
                return i, free
        return None, free

    def get(self, key, count=False):
        """The value of key or None; count: a lookup uWSGI counts in hits/miss
        (cache_get; not cache_exists nor the math functions)."""
        with self.lock:
            i, _ = self._find(key, int(_time.time()))
            if count:
                _counter_add(self.ctr["Miss" if i is None else "Hits"])
            if i is None:
                return None
            off = self._off(i)
            _, klen, vlen, _ = _struct.unpack_from(_SLOT_HDR, self.mem, off)
            base = off + _SLOT_HDR_SIZE + self.keysize
            return bytes(self.mem[base:base + vlen])

    def put(self, key, value, expires, overwrite):
        if len(key) > self.keysize:
            _loader.log('*** cache "%s": key too long (%d > %d bytes) ***' % (self.name, len(key), self.keysize))
            return None
        if len(value) > self.blocksize:
            _loader.log('*** cache "%s": item too big (%d > %d bytes blocksize) ***'
                        % (self.name, len(value), self.blocksize))
            return None
        now = int(_time.time())
        with self.lock:
            i, free = self._find(key, now)
            if i is not None and not overwrite:
                return None
            if i is None:
                if free is None or self._used() >= self.items - 1:
                    _loader.log('*** DANGER cache "%s" is FULL !!! ***' % self.name)
                    _counter_add(self.ctr["Full"])
                    return None
                i = free
                self._used(1)
            off = self._off(i)
            exp = now + expires if expires else 0
            _struct.pack_into(_SLOT_HDR, self.mem, off, 1, len(key), len(value), exp)
            self.mem[off + _SLOT_HDR_SIZE:off + _SLOT_HDR_SIZE + len(key)] = key
            base = off + _SLOT_HDR_SIZE + self.keysize
            self.mem[base:base + len(value)] = value
            self._modified()
            return True

    def delete(self, key):
        with self.lock:
            i, _ = self._find(key, int(_time.time()))
            if i is None:
                return None
            self.mem[self._off(i)] = 2
            self._used(-1)
            self._modified()
            return True

    def clear(self):
        with self.lock:
            for i in range(self.items):
                self.mem[self._off(i)] = 0
            _struct.pack_into("<q", self.mem, 0, 0)
            _counter_set(self.ctr["Items"], 0)
            self._modified()
        return True

    def keys(self):
        now = int(_time.time())
        out = []
        with self.lock:
            for i in range(self.items):
                off = self._off(i)
                st, klen, _, exp = _struct.unpack_from(_SLOT_HDR, self.mem, off)
                if st == 1 and not (exp and exp <= now):
                    out.append(bytes(self.mem[off + _SLOT_HDR_SIZE:off + _SLOT_HDR_SIZE + klen]))
        return out

    def math(self, key, op, amount, expires):
        with self.lock:
            cur = self.get(key)
            if cur is None:
                base = 0
            elif len(cur) == 8:
                base = _struct.unpack("<q", cur)[0]
            else:
                return None
            try:
                v = op(base, amount)
            except ZeroDivisionError:
                return None
            v = (v + (1 << 63)) % (1 << 64) - (1 << 63)
            return self.put(key, _struct.pack("<q", v), expires, True)


def _size(text, default):
    if not text:
        return default
    t = text.strip().upper()
    mult = 1
    for suffix, m in (("K", 1024), ("M", 1024 * 1024), ("G", 1024 * 1024 * 1024)):
        if t.endswith(suffix):
            t, mult = t[:-1], m
    return int(t) * mult


def _build_caches():
    caches = []
    legacy = _opt_values("cache")
    if legacy and legacy[-1]:
        caches.append(_Cache("default", int(legacy[-1]), _size(_opt_values("cache-blocksize")[-1:] and
                                                                 _opt_values("cache-blocksize")[-1], 65536),
                             2048, 0))
    for text in _opt_values("cache2"):
        kv = _keyval(text)
        name = kv.get("name")
        if not name:
            raise ValueError("cache2 %r: you have to specify a cache name" % text)
        caches.append(_Cache(name, int(kv.get("items") or kv.get("maxitems") or 0),
                             _size(kv.get("blocksize"), 65536), int(kv.get("keysize") or 2048), len(caches),
                             kv.get("lastmod", "0") not in ("", "0")))
    return caches


_caches = _build_caches()


def _cache(name):
    if not _caches:
        return None
    if name is None or name == "" or name == b"":
        return _caches[0]
    if isinstance(name, bytes):
        name = name.decode()
    if "@" in name:
        raise ValueError("remote caches are not provided by gosgi (see docs/compat.md)")
    for c in _caches:
        if c.name == name:
            return c
    return None


def _b(v, what="value"):
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    raise TypeError("%s must be bytes or str, not %s" % (what, type(v).__name__))


def cache_get(key, cache=None):
    c = _cache(cache)
    return None if c is None else c.get(_b(key, "key"), count=True)


def cache_exists(key, cache=None):
    c = _cache(cache)
    return None if c is None or c.get(_b(key, "key")) is None else True


def cache_set(key, value, expires=0, cache=None):
    c = _cache(cache)
    return None if c is None else c.put(_b(key, "key"), _b(value), int(expires or 0), False)


def cache_update(key, value, expires=0, cache=None):
    c = _cache(cache)
    return None if c is None else c.put(_b(key, "key"), _b(value), int(expires or 0), True)


def cache_del(key, cache=None):
    c = _cache(cache)
    return None if c is None else c.delete(_b(key, "key"))


def cache_clear(cache=None):
    c = _cache(cache)
    return None if c is None else c.clear()


def cache_keys(cache=None):
    c = _cache(cache)
    return None if c is None else c.keys()


def cache_num(key, cache=None):
    c = _cache(cache)
    v = None if c is None else c.get(_b(key, "key"))
    if v is None or len(v) != 8:
        return None if v is None else 0
    return _struct.unpack("<q", v)[0]


def _cache_math(op):
    def f(key, amount=1, expires=0, cache=None):
        c = _cache(cache)
        return None if c is None else c.math(_b(key, "key"), op, int(amount), int(expires or 0))
    return f


cache_inc = _cache_math(lambda a, b: a + b)
cache_dec = _cache_math(lambda a, b: a - b)
cache_mul = _cache_math(lambda a, b: a * b)
cache_div = _cache_math(lambda a, b: a // b)


# ------------------------------------------------------------ sharedarea
# PY-46: `sharedarea = PAGES` (or pages=N / size=N) creates area 0, 1, ...


def _build_sharedareas():
    page = _mmap.PAGESIZE
    out = []
    for text in _opt_values("sharedarea"):
        kv = _keyval(text)
        if kv:
            size = _size(kv.get("size"), 0) or int(kv.get("pages") or 1) * page
        else:
            size = int(text) * page
        area = _mmap.mmap(-1, size)
        out.append(area)
        import ctypes

        addr = ctypes.addressof(ctypes.c_char.from_buffer(area))
        _loader.log("sharedarea %d created at 0x%x (%d pages, area at 0x%x)"
                    % (len(out) - 1, addr, size // page, addr))
    return out


_sharedareas = _build_sharedareas()


def _area(id, pos, length):
    if not isinstance(id, int) or not 0 <= id < len(_sharedareas):
        raise ValueError("there is no sharedarea %r" % (id,))
    area = _sharedareas[id]
    if pos < 0 or pos + length > len(area):
        raise ValueError("sharedarea %d: position %d (+%d) out of range (size %d)" % (id, pos, length, len(area)))
    return area


def sharedarea_read(id, pos, length=0):
    if length <= 0:
        length = len(_area(id, 0, 0)) - pos
    area = _area(id, pos, length)
    return bytes(area[pos:pos + length])


def sharedarea_write(id, pos, data):
    data = _b(data, "data")
    area = _area(id, pos, len(data))
    area[pos:pos + len(data)] = data
    return None


def sharedarea_readbyte(id, pos):
    return _area(id, pos, 1)[pos]


def sharedarea_writebyte(id, pos, value):
    _area(id, pos, 1)[pos] = value & 0xFF
    return None


def _int_helpers(bits, fmt):
    size = bits // 8

    def read(id, pos):
        return _struct.unpack_from(fmt, _area(id, pos, size), pos)[0]

    def write(id, pos, value):
        _struct.pack_into(fmt, _area(id, pos, size), pos, value)
        return None

    def add(delta_sign):
        def f(id, pos, amount=1):
            area = _area(id, pos, size)
            with _state_lock:
                v = _struct.unpack_from(fmt, area, pos)[0] + delta_sign * amount
                mod = 1 << bits
                v %= mod
                if fmt[-1].islower() and v >= mod // 2:
                    v -= mod
                _struct.pack_into(fmt, area, pos, v)
            return v
        return f

    return read, write, add(1), add(-1)


(sharedarea_read8, sharedarea_write8, sharedarea_inc8, sharedarea_dec8) = _int_helpers(8, "<b")
(sharedarea_read16, sharedarea_write16, sharedarea_inc16, sharedarea_dec16) = _int_helpers(16, "<h")
(sharedarea_read32, sharedarea_write32, sharedarea_inc32, sharedarea_dec32) = _int_helpers(32, "<i")
(sharedarea_read64, sharedarea_write64, sharedarea_inc64, sharedarea_dec64) = _int_helpers(64, "<q")


def sharedarea_memoryview(id):
    return memoryview(_area(id, 0, 0))


def sharedarea_rlock(id):
    _area(id, 0, 0)
    _state_lock.acquire()


sharedarea_wlock = sharedarea_rlock


def sharedarea_unlock(id):
    _area(id, 0, 0)
    _state_lock.release()


# ----------------------------------------------------------------- mules
# PY-48, PM-76: mule_msg queues a datagram for mule N, any mule (0/None) or
# a farm (str); mules read theirs with mule_get_msg().


def mule_msg(msg, target=None):
    msg = _b(msg, "message")
    if len(msg) > _mule_msg_size:
        raise ValueError("mule message too big (%d > %d bytes, see mule-msg-size)" % (len(msg), _mule_msg_size))
    if isinstance(target, (str, bytes)):
        name = target.decode() if isinstance(target, bytes) else target
        if name not in _farms:
            raise ValueError("unknown farm %r" % name)
        sock = _farms[name][1][1]
    elif not target:
        if not _mq:
            raise ValueError("no mule configured")
        sock = _mq_any[1]
    else:
        if target not in _mq:
            raise ValueError("invalid mule number %r" % (target,))
        sock = _mq[target][1]
    if not _send(sock, msg):
        _loader.log("*** mule message queue is full: message lost ***")
        return False
    return True


def farm_msg(farm, msg):
    mule_msg(msg, farm if isinstance(farm, (str, bytes)) else str(farm))
    return None


def _my_farms():
    return [pair[0] for name, (members, pair) in _farms.items() if _mule_id in members]


def mule_get_msg(signals=True, farms=True, buffer_size=65536, timeout=-1):
    """In a mule: wait for the next message for this mule, any mule or one of
    its farms. Returns bytes, or None after timeout seconds (>= 0)."""
    if _role != "mule":
        raise ValueError("you can receive mule messages only in a mule !!!")
    socks = [_mq[_mule_id][0], _mq_any[0]] + (_my_farms() if farms else [])
    for s in socks:
        s.setblocking(False)
    deadline = None if timeout is None or timeout < 0 else _time.monotonic() + timeout
    while True:
        wait = None if deadline is None else max(0.0, deadline - _time.monotonic())
        try:
            ready, _, _ = _select.select(socks, [], [], wait)
        except InterruptedError:
            continue
        if not ready:
            return None
        for s in ready:
            try:
                return s.recv(max(buffer_size, _mule_msg_size))
            except (BlockingIOError, InterruptedError):
                continue


def farm_get_msg():
    """In a mule: the next message of one of its farms, or None."""
    if _role != "mule":
        return None
    for s in _my_farms():
        try:
            s.setblocking(False)
            return s.recv(_mule_msg_size)
        except BlockingIOError:
            continue
    return None


def _run_mule(mid):
    script = _mule_scripts[mid - 1] if 0 < mid <= len(_mule_scripts) else ""
    if script and script not in ("1", "true"):
        # PM-76: a script mule runs the file as __main__; when it ends the
        # mule ends and the master respawns it.
        return _loader._run_script(script)
    # A plain mule: a message loop (uwsgidecorators' @mulefunc dispatcher is
    # the usual mule_msg_hook).
    while True:
        msg = mule_get_msg()
        hook = _sys.modules[__name__].__dict__.get("mule_msg_hook")
        if hook is None:
            _loader.log("*** mule %d received a %d bytes message ***" % (mid, len(msg)))
            continue
        harakiri = _opt_int("mule-harakiri", 0)
        if harakiri:
            set_user_harakiri(harakiri)
        try:
            hook(msg)
        except BaseException:
            _traceback.print_exc()
        finally:
            if harakiri:
                set_user_harakiri(0)


# --------------------------------------------------------------- spooler
# PM-77, PY-48. A task file is a uwsgi packet (modifier1 17) of the task's
# key/value pairs, followed by the raw body when there is one.

_SPOOL_PREFIX = "uwsgi_spoolfile_on_"
_counts = {"tasks": 0}
_spool_counter = 0
_spooler_freq = _spec.get("spooler_frequency") or 30


def _encode_packet(pairs):
    out = []
    for k, v in pairs:
        if len(k) > 0xFFFF or len(v) > 0xFFFF:
            raise ValueError("spooler item %r too big (keys and values are at most 65535 bytes)" % k[:32])
        out.append(_struct.pack("<H", len(k)) + k + _struct.pack("<H", len(v)) + v)
    data = b"".join(out)
    if len(data) > 0xFFFF:
        raise ValueError("spooler task too big (%d bytes, at most 65535 without body)" % len(data))
    return _struct.pack("<BHB", 17, len(data), 0) + data


def _decode_packet(data, modifier1=17):
    """Parse a spool file (or, modifier1 None, any uwsgi packet): (pairs,
    body). Raises ValueError when damaged."""
    if len(data) < 4:
        raise ValueError("truncated header (%d bytes)" % len(data))
    mod1, size, _mod2 = _struct.unpack_from("<BHB", data, 0)
    if modifier1 is not None and mod1 != modifier1:
        raise ValueError("not a spooler packet (modifier1 %d)" % mod1)
    if 4 + size > len(data):
        raise ValueError("truncated packet (%d of %d bytes)" % (len(data) - 4, size))
    pos, end, pairs = 4, 4 + size, []
    while pos < end:
        if pos + 2 > end:
            raise ValueError("truncated key length at %d" % pos)
        (kl,) = _struct.unpack_from("<H", data, pos)
        pos += 2
        if pos + kl + 2 > end:
            raise ValueError("truncated key at %d" % pos)
        k = data[pos:pos + kl]
        pos += kl
        (vl,) = _struct.unpack_from("<H", data, pos)
        pos += 2
        if pos + vl > end:
            raise ValueError("truncated value at %d" % pos)
        pairs.append((k, data[pos:pos + vl]))
        pos += vl
    return pairs, data[end:]


def spool(*args, **kwargs):
    """PY-48: write a spooler task; returns its path as bytes."""
    global _spool_counter
    if args and isinstance(args[0], dict):
        task = dict(args[0])
    elif args:
        raise ValueError("spooler callable dictionary must contains only bytes")
    else:
        task = {}
    task.update(kwargs)
    if not _unique_spooler_dirs:
        raise ValueError("spooler not configured (use the spooler option)")
    pairs, body = [], b""
    where = _unique_spooler_dirs[0]
    priority = None
    for k, v in task.items():
        if not isinstance(k, (bytes, str)) or not isinstance(v, (bytes, str)):
            raise ValueError("spooler callable dictionary must contains only bytes")
        k, v = _b(k), _b(v)
        if k == b"body":
            body = v
            continue
        if k == b"spooler":
            where = os.path.abspath(os.fsdecode(v))
        elif k == b"priority":
            priority = os.fsdecode(v)
        pairs.append((k, v))
    data = _encode_packet(pairs) + body
    directory = where
    if priority:
        if not priority.isdigit():
            raise ValueError("spooler priority must be a number, got %r" % priority)
        directory = os.path.join(where, priority)
        os.makedirs(directory, exist_ok=True)
    _spool_counter += 1
    now = _time.time()
    name = "%s%s_%d_%d_%d_%d_%d" % (_SPOOL_PREFIX, _spec["hostname"], os.getpid(), _spool_counter,
                                   _random.randrange(1 << 31), int(now), int((now % 1) * 1e6))
    path = os.path.join(directory, name)
    # Written under a hidden name and renamed, so a spooler never sees half a task.
    tmp = os.path.join(directory, "." + name)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise OSError(e.errno, "unable to write spool file %s: %s" % (path, e.strerror)) from e
    _loader.log("[spooler] written %d bytes to file %s" % (len(data), path))
    wake = _spool_wake.get(where)
    if wake is not None:
        _send(wake[1], b"w")
    return path.encode()


send_to_spooler = spool


def set_spooler_frequency(freq):
    global _spooler_freq
    _spooler_freq = int(freq)
    return True


def spooler_jobs():
    out = []
    for d in _unique_spooler_dirs:
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        out.extend(os.path.join(d, n).encode() for n in names
                   if n.startswith(_SPOOL_PREFIX) and not n.endswith(".corrupt"))
    return out


def spooler_pid():
    if not _spooler_dirs:
        return 0
    return _struct.unpack_from("<q", _state, _PIDS_OFF + 8)[0]


def _spool_files(directory):
    """Task files in directory, then in its numbered priority subdirectories."""
    try:
        entries = os.listdir(directory)
    except OSError as e:
        _loader.log("[spooler] unable to read %s: %s" % (directory, e))
        return []
    files, prios = [], []
    for n in entries:
        p = os.path.join(directory, n)
        if n.startswith(_SPOOL_PREFIX) and not n.endswith(".corrupt"):
            try:
                files.append((os.stat(p).st_mtime_ns, n, p))
            except OSError:
                pass
        elif n.isdigit() and os.path.isdir(p):
            prios.append((int(n), p))
    out = [p for _, _, p in sorted(files)]
    for _, p in sorted(prios):
        out.extend(_spool_files(p))
    return out


def _manage_task(directory, path):
    name = os.path.basename(path)
    tag = "[spooler %s pid: %d]" % (directory, os.getpid())
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return  # another spooler took it
    try:
        try:
            _fcntl.lockf(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
        except OSError:
            return  # being written or managed elsewhere
        if not os.path.exists(path):
            return
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read()
        try:
            pairs, body = _decode_packet(data)
        except ValueError as e:
            aside = path + ".corrupt"
            _loader.log("%s invalid spool file %s (%s): moved to %s" % (tag, name, e, aside))
            try:
                os.rename(path, aside)
            except OSError as e2:
                _loader.log("%s unable to move %s aside: %s" % (tag, name, e2))
            return
        kv = dict(pairs)
        at = kv.get(b"at")
        if at:
            try:
                if float(at) > _time.time():
                    return
            except ValueError:
                pass
        env = {"spooler_task_name": name.encode()}
        env.update(kv)
        if body:
            env["body"] = body
        quiet = bool(_opt_values("spooler-quiet"))
        if not quiet:
            _loader.log("%s managing request %s ..." % (tag, name))
        started = _time.time()
        fn = _sys.modules[__name__].__dict__.get("spooler")
        if fn is None:
            _loader.log("unable to find the spooler function, have you loaded it into the spooler process ?")
            return
        chdir = _opt_values("spooler-chdir")
        if chdir:
            os.chdir(chdir[-1])
        harakiri = _opt_int("spooler-harakiri", 0)
        if harakiri:
            set_user_harakiri(harakiri)
        try:
            _counter_set(_counter_off("spooler", _spooler_id, "Running"), 1)
            ret = fn(env)
        except BaseException:
            _traceback.print_exc()
            return
        finally:
            if harakiri:
                set_user_harakiri(0)
            if chdir:
                os.chdir(directory)
            _counts["tasks"] += 1
            _counter_set(_counter_off("spooler", _spooler_id, "Running"), 0)
            _counter_set(_counter_off("spooler", _spooler_id, "Tasks"), _counts["tasks"])
        if not isinstance(ret, int) or isinstance(ret, bool):
            return  # like SPOOL_RETRY
        if ret == SPOOL_OK:
            try:
                os.unlink(path)
            except OSError as e:
                _loader.log("%s unable to remove %s: %s" % (tag, name, e))
            if not quiet:
                _loader.log("%s done with task %s after %d seconds" % (tag, name, int(_time.time() - started)))
        elif ret == SPOOL_IGNORE:
            _loader.log("unable to find the spooler function, have you loaded it into the spooler process ?")
    finally:
        os.close(fd)


def _run_spooler(sid):
    directory = _spooler_dirs[sid - 1]
    _struct.pack_into("<q", _state, _PIDS_OFF + 8 * sid, os.getpid())
    # A respawned spooler counts its tasks from 0, as uWSGI's does.
    _counter_set(_counter_off("spooler", sid, "Tasks"), 0)
    _counter_set(_counter_off("spooler", sid, "Running"), 0)
    try:
        os.chdir(directory)
    except OSError as e:
        _loader.log("[spooler] unable to chdir to %s: %s" % (directory, e))
        _time.sleep(1)  # the master respawns us: do not spin
        return 1
    wake = _spool_wake[directory][0]
    wake.setblocking(False)
    max_tasks = _opt_int("spooler-max-tasks", 0)
    while True:
        for path in _spool_files(directory):
            _manage_task(directory, path)
            if max_tasks and _counts["tasks"] >= max_tasks:
                # spooler-max-tasks: end; the master spawns a fresh spooler.
                _loader.log("[spooler %s pid: %d] maximum number of tasks reached (%d) recycling ..."
                            % (directory, os.getpid(), max_tasks))
                return 0
        try:
            _select.select([wake], [], [], max(1, _spooler_freq))
        except InterruptedError:
            pass
        try:
            while wake.recv(64):
                pass
        except (BlockingIOError, InterruptedError):
            pass


# ------------------------------------------------------------------- rpc
# PY-50: local RPC. Functions registered before the fork exist everywhere.

_rpc = {}


def register_rpc(name, func, argc=0):
    bname = _b(name, "rpc name")
    if len(bname) > 255:
        _loader.log("the supplied RPC name string is too long, max size is 255")
        raise ValueError("unable to register rpc function")
    if not callable(func):
        raise ValueError("unable to register rpc function")
    _rpc[bname] = func
    shown = bname.decode("utf-8", "replace")
    if _role == "master":
        _loader.log('registered shared/inherited RPC function "%s"' % shown)
    else:
        _loader.log('registered RPC function "%s" on %s' % (shown, _who()))
    return True


def rpc_list():
    return tuple(_rpc)


def call(name, *args):
    func = _rpc.get(_b(name, "rpc name"))
    if func is None:
        raise ValueError("unable to call rpc function")
    ret = func(*[_b(a, "rpc argument") for a in args])
    if ret is None:
        return None
    return _b(ret, "rpc result")


def rpc(node, name, *args):
    if node not in (None, "", b""):
        raise ValueError("remote rpc is not provided by gosgi (see docs/compat.md)")
    return call(name, *args)


# ----------------------------------------------------------------- async
# uWSGI's async API. In gevent mode (gevent = N) a request's greenlet
# registers what it waits for (wait_fd_read, wait_fd_write, async_sleep);
# suspend() lets the other greenlets run until the first of them fires, and
# ready_fd() then names the fd that did (-1: a timeout). uWSGI 2.0.21's
# gevent loop refuses wait_fd_* and ignores async_sleep; gosgi waits as the
# API describes (docs/compat.md). Outside gevent mode, as in uWSGI, there is
# nothing to switch to: suspend and green_schedule return at once and
# wait_fd_* raise.

_async_waits = _weakref.WeakKeyDictionary()  # greenlet -> [(fd, None for a timer; write; timeout)]
_async_ready = _weakref.WeakKeyDictionary()  # greenlet -> fd that ended its last suspend()


def _async_state():
    import gevent

    return gevent.getcurrent()


def _async_add(fd, write, timeout):
    if not _spec.get("gevent"):
        raise OSError("unable to fd %d to the event queue" % fd)
    _async_waits.setdefault(_async_state(), []).append((fd, write, timeout))


def wait_fd_read(fd, timeout=0):
    _async_add(int(fd), False, timeout)


def wait_fd_write(fd, timeout=0):
    _async_add(int(fd), True, timeout)


def async_sleep(timeout):
    if _spec.get("gevent"):
        _async_waits.setdefault(_async_state(), []).append((None, False, timeout))
    return b""


def suspend():
    if not _spec.get("gevent"):
        return True
    import gevent
    from gevent.event import AsyncResult

    me = _async_state()
    waits = _async_waits.pop(me, None)
    _async_ready[me] = -1
    if not waits:
        gevent.sleep(0)
        return True
    loop = gevent.get_hub().loop
    ready = AsyncResult()
    watchers = []
    timeouts = [t for fd, _, t in waits if t and t > 0]
    try:
        for fd, write, _ in waits:
            if fd is not None:
                w = loop.io(fd, 2 if write else 1)
                w.start(ready.set, fd)
                watchers.append(w)
        fd = ready.wait(min(timeouts) if timeouts else None)
        if fd is not None:
            _async_ready[me] = fd
    finally:
        for w in watchers:
            w.stop()
            w.close()
    return True


def ready_fd():
    if not _spec.get("gevent"):
        return -1
    return _async_ready.get(_async_state(), -1)


def green_schedule():
    if _spec.get("gevent"):
        import gevent

        gevent.sleep(0)
    return True


def async_connect(addr):
    """Starts a non-blocking connect to "host:port" or a unix socket path
    and returns its fd (wait_fd_write tells when it is done)."""
    if isinstance(addr, bytes):
        addr = addr.decode()
    host, sep, port = addr.rpartition(":")
    if sep and port.isdigit():
        s = _socket.socket(_socket.AF_INET6 if ":" in host else _socket.AF_INET, _socket.SOCK_STREAM)
        target = (host.strip("[]"), int(port))
    else:
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        target = addr
    s.setblocking(False)
    err = s.connect_ex(target)
    if err not in (0, _errno.EINPROGRESS, _errno.EAGAIN):  # else finishing in the background
        s.close()
        raise OSError(err, "unable to connect to %s" % addr)
    return s.detach()


# --------------------------------------------------------------- harakiri

_user_harakiri = None


def set_user_harakiri(seconds):
    """PY-44: kill this process if the current work lasts more than seconds
    (0 clears). gosgi arms a timer in the process itself."""
    global _user_harakiri
    if _user_harakiri is not None:
        _user_harakiri.cancel()
        _user_harakiri = None
    if not seconds:
        return None

    def fire():
        _loader.log("%s - *** HARAKIRI ON %s (pid: %d, try: 1) ***" % (_time.ctime(), _who().upper(), os.getpid()))
        os.kill(os.getpid(), _signal.SIGKILL)

    _user_harakiri = _threading.Timer(int(seconds), fire)
    _user_harakiri.daemon = True
    _user_harakiri.start()
    return None


def micros():
    return int(_time.time() * 1000000)


# ------------------------------------------------- the running request
# PY-42/PY-43 and the websocket API of PY-50: they act on the request that
# runs on the calling thread.

if "mode" in opt:
    mode = opt["mode"] if not isinstance(opt["mode"], list) else opt["mode"][-1]


def _current():
    """The running request as _gosgi.current() describes it; in gevent mode
    the calling greenlet's (its loop tags it with its core)."""
    core = -1
    if _spec.get("gevent"):
        import greenlet

        core = getattr(greenlet.getcurrent(), "gosgi_core", -1)
    return _gosgi.current(core)


def _running():
    cur = _current()
    if cur is None:
        raise SystemError("you can call uwsgi api function only from the main callable")
    return cur


def connection_fd():
    return _running()[1]


def request_id():
    """Requests this core completed before the running one (as uWSGI counts)."""
    core = _running()[0]
    view = _gosgi.scoreboard()
    if view is None:
        return 0
    L = _board_layout
    base = L["header_size"] + _worker_id * L["slot_size"] + L["cores"]
    return _board_int(view, base + (core % L["max_cores"]) * L["core_size"])


def log_this_request():
    _running()
    _gosgi.log_this_request()
    return None


def logsize():
    """Size of the log file when logging to a file, else 0."""
    try:
        st = os.fstat(2)
    except OSError:
        return 0
    return st.st_size if _stat.S_ISREG(st.st_mode) else 0


def accepting():
    # gosgi's workers accept as soon as they run (stats report accepting=1),
    # so there is nothing to switch on.
    return None


def listen_queue(id=0):
    try:
        fd = sockets[int(id)]
    except (IndexError, ValueError):
        raise ValueError("unable to find socket %s" % (id,))
    return _gosgi.listen_queue(fd)


def sendfile(what, chunk=0, pos=0, filesize=0):
    """Sends a file (path, file object or descriptor) as the running
    request's body at once, with sendfile(); True when it went out, None
    when the file cannot be opened. chunk is accepted for compatibility:
    the kernel picks the sizes."""
    _running()
    fd, opened = what, False
    if isinstance(what, (str, bytes)):
        try:
            fd, opened = os.open(what, os.O_RDONLY), True
        except OSError as e:
            _loader.log("uwsgi.sendfile(): %s" % e)
            return None
    elif not isinstance(what, int):
        fd = what.fileno()
    try:
        return True if _gosgi.sendfile(fd, int(pos), int(filesize) or -1) else None
    finally:
        if opened:
            os.close(fd)


def offload(filename, size=0):
    """uWSGI hands the transfer to an offload thread; gosgi sends the file
    at once with sendfile() (the worker core waits without the GIL)."""
    sendfile(filename, 0, 0, size)
    return b""


def add_var(key, value):
    """Adds a variable to the running request, for the request log
    (logformat %(var.KEY))."""
    _running()
    k = key.encode("latin-1") if isinstance(key, str) else bytes(key)
    v = value.encode("latin-1") if isinstance(value, str) else bytes(value)
    if not _gosgi.add_var(k, v, buffer_size):
        raise ValueError("unable to add request var, check your buffer size")
    return True


_warning_message = None


def set_warning_message(message):
    """uWSGI 2.0 keeps the text in its shared memory, where nothing shows
    it; gosgi keeps it likewise (uwsgi._warning_message)."""
    global _warning_message
    _warning_message = str(message)
    return True


def cl():
    """CONTENT_LENGTH of the running request as an int."""
    try:
        return int(_running()[2].get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def disconnect():
    """Closes the client connection now; the app goes on without it."""
    _running()
    _gosgi.disconnect()
    return None


def parsefile(path):
    """The variables of a file holding a uwsgi packet (a spool file, say)."""
    with open(path, "rb") as f:
        pairs, _ = _decode_packet(f.read(), None)
    return dict(pairs)


def extract(location):
    """The content of a file (a path or file:// URL)."""
    if isinstance(location, bytes):
        location = location.decode()
    if location.startswith("file://"):
        location = location[len("file://"):]
    elif "://" in location:
        raise ValueError("unable to extract %s: only files are supported by gosgi" % location)
    with open(location, "rb") as f:
        return f.read()


def embedded_data(name):
    # gosgi's binary embeds no user data: every lookup fails as uWSGI's
    # does for a missing symbol.
    raise ValueError("unable to find symbol %s" % name)


# Legions are not provided (docs/compat.md): answer as a node of none.
def i_am_the_lord(name):
    return False


def lord_scroll(name):
    return None


def scrolls(name):
    return None


def connect(address, timeout=0):
    """A connected socket's descriptor: host:port or a unix socket path."""
    if isinstance(address, bytes):
        address = address.decode()
    host, sep, port = address.rpartition(":")
    if sep and port.isdigit() and "/" not in address:
        s = _socket.create_connection((host or "127.0.0.1", int(port)), timeout or None)
    else:
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        if timeout:
            s.settimeout(timeout)
        s.connect(address)
    s.setblocking(True)
    return s.detach()


def is_connected(fd):
    try:
        with _socket.socket(fileno=os.dup(fd)) as s:
            s.getpeername()
        return True
    except OSError:
        return False


def send(fd, data=None):
    if data is None:  # send(data) writes to the running request's client
        fd, data = connection_fd(), fd
    if isinstance(data, str):
        data = data.encode()
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    return True


def recv(fd, size=4096):
    data = os.read(fd, size)
    return data or None


def close(fd):
    os.close(fd)
    return None


def _wait_readable(fd, timeout):
    """True when fd has something to read within timeout seconds (0: look
    at once). In gevent mode the greenlet waits in the hub."""
    if timeout and _spec.get("gevent"):
        from gevent.socket import wait_read

        try:
            wait_read(fd, timeout=timeout)
            return True
        except _socket.timeout:
            return False
    poller = _select.poll()
    poller.register(fd, _select.POLLIN)
    return bool(poller.poll(max(0, int(timeout * 1000))))


_chunked_limit = _opt_int("chunked-input-limit", 1024 * 1024)
_chunked_timeout = _opt_int("chunked-input-timeout", _opt_int("socket-timeout", 4))
_chunked = {}  # core id -> ((connection fd, request id), decoder)


class _ChunkedInput:
    """Decodes a chunk-encoded request body as the client sends it."""

    def __init__(self):
        self.buf = bytearray()
        self.done = False

    def fill(self, timeout):
        while True:
            # _running() first: in gevent mode another greenlet's request
            # may have run while this one waited.
            fd = _running()[1]
            data = _gosgi.raw_read(65536)
            if data is None:  # nothing yet
                if timeout and _wait_readable(fd, timeout):
                    continue
                if timeout == 0:
                    return False
            if not data:  # timed out, or the client went away
                raise OSError("unable to receive chunked part")
            self.buf += data
            return True

    def chunk(self, timeout):
        """The next chunk's data, b"" after the last one; None when it is
        not all there and timeout is 0."""
        while not self.done:
            eol = self.buf.find(b"\r\n")
            if eol < 0:
                if len(self.buf) > 1024:
                    raise OSError("unable to receive chunked part")
                if not self.fill(timeout):
                    return None
                continue
            size_field = bytes(self.buf[:eol]).split(b";", 1)[0].strip()
            try:
                size = int(size_field, 16)
            except ValueError:
                raise OSError("unable to receive chunked part")
            if size > _chunked_limit:
                raise OSError("chunked part too big (%d > %d)" % (size, _chunked_limit))
            if size == 0:
                self.done = True
                break
            if len(self.buf) < eol + 2 + size + 2:
                if not self.fill(timeout):
                    return None
                continue
            data = bytes(self.buf[eol + 2:eol + 2 + size])
            del self.buf[:eol + 2 + size + 2]
            return data
        return b""


def _chunked_input():
    core, fd = _running()[:2]
    key = (fd, request_id())
    st = _chunked.get(core)
    if st is None or st[0] != key:
        st = (key, _ChunkedInput())
        _chunked[core] = st
    return st[1]


def chunked_read(timeout=0):
    """The next chunk of a chunk-encoded request body; b"" after the last."""
    return _chunked_input().chunk(timeout or _chunked_timeout)


def chunked_read_nb():
    """Like chunked_read, but None when the next chunk is not all there."""
    return _chunked_input().chunk(0)


_WS_MAGIC = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_ws_ping_freq = _opt_int("websockets-ping-freq", 30)
_ws_pong_tolerance = _opt_int("websockets-pong-tolerance", 3)
_ws_max_size = _opt_int("websockets-max-size", 1024) * 1024


class _WebSocket:
    """One websocket session: the running request after its handshake."""

    def __init__(self, fd, environ):
        self.fd = fd
        # how uWSGI's websocket log lines name the request
        self.who = '"%s %s" (%s)' % (environ.get("REQUEST_METHOD", ""), environ.get("REQUEST_URI", ""),
                                     environ.get("REMOTE_ADDR", ""))
        self.buf = bytearray()
        self.parts = []  # payloads of a fragmented message
        self.started = _time.monotonic()
        self.last_ping = 0.0  # never pinged yet
        self.last_pong = 0.0

    def send(self, opcode, payload):
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        payload = bytes(payload)
        n = len(payload)
        if n < 126:
            head = _struct.pack("!BB", 0x80 | opcode, n)
        elif n <= 0xFFFF:
            head = _struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            head = _struct.pack("!BBQ", 0x80 | opcode, 127, n)
        _running()  # in gevent mode: this greenlet's request, after any wait
        try:
            _gosgi.raw_write(head + payload)
        except OSError:
            raise OSError("unable to send websocket message")

    def frame(self):
        """(opcode, fin, payload) of the next whole frame in buf, or None."""
        b = self.buf
        if len(b) < 2:
            return None
        fin, opcode, masked, n = b[0] & 0x80, b[0] & 0x0F, b[1] & 0x80, b[1] & 0x7F
        pos = 2
        if n == 126:
            if len(b) < 4:
                return None
            n = _struct.unpack_from("!H", b, 2)[0]
            pos = 4
        elif n == 127:
            if len(b) < 10:
                return None
            n = _struct.unpack_from("!Q", b, 2)[0]
            pos = 10
        if n > _ws_max_size:
            _loader.log("[uwsgi-websocket] %s message too big (%d > %d)" % (self.who, n, _ws_max_size))
            raise OSError("unable to receive websocket message")
        mask = b""
        if masked:
            mask = bytes(b[pos:pos + 4])
            pos += 4
        if len(b) < pos + n:
            return None
        payload = bytes(b[pos:pos + n])
        del b[:pos + n]
        if mask:
            # XOR with the repeated 4-byte mask, done on big integers.
            m = (mask * (n // 4 + 1))[:n]
            payload = (int.from_bytes(payload, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")
        return opcode, bool(fin), payload

    def message(self):
        """The next complete text/binary message from buf, or None."""
        while True:
            f = self.frame()
            if f is None:
                return None
            opcode, fin, payload = f
            if opcode == 0x9:  # ping
                self.send(0xA, payload)
            elif opcode == 0xA:  # pong
                self.last_pong = _time.monotonic()
            elif opcode == 0x8:  # close: answer it, the session is over
                try:
                    self.send(0x8, b"")
                except OSError:
                    pass
                raise OSError("unable to receive websocket message")
            elif opcode in (0x0, 0x1, 0x2):
                self.parts.append(payload)
                if sum(len(p) for p in self.parts) > _ws_max_size:
                    raise OSError("unable to receive websocket message")
                if fin:
                    msg = b"".join(self.parts)
                    self.parts = []
                    return msg
            else:
                raise OSError("unable to receive websocket message")

    def keepalive(self, now):
        """Pings the peer when websockets-ping-freq seconds passed since
        the last ping (at once the first time, as uWSGI does) and gives up
        when a ping went unanswered for websockets-pong-tolerance seconds."""
        if self.last_ping and self.last_pong < self.last_ping:
            if now - self.last_ping > _ws_pong_tolerance:
                _loader.log("[uwsgi-websocket] %s no PONG received in %d seconds !!!" % (self.who, _ws_pong_tolerance))
                raise OSError("unable to receive websocket message")
            return
        if now - self.last_ping >= _ws_ping_freq:
            self.send(0x9, b"")
            self.last_ping = now

    def read(self, timeout):
        """Reads what the socket has within timeout seconds; False when it
        had nothing."""
        if not _wait_readable(self.fd, timeout):
            return False
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return False
        except OSError:
            raise OSError("unable to receive websocket message")
        if not data:
            raise OSError("unable to receive websocket message")
        self.buf += data
        return True

    def recv(self, block):
        while True:
            msg = self.message()
            if msg is not None:
                return msg
            if not block:
                self.keepalive(_time.monotonic())
                if not self.read(0):
                    return b""
                continue
            base = self.last_ping or self.started
            if self.last_ping and self.last_pong < self.last_ping:
                wait = self.last_ping + _ws_pong_tolerance - _time.monotonic()
            else:
                wait = base + _ws_ping_freq - _time.monotonic()
            if not self.read(max(wait, 0.001)):
                self.keepalive(_time.monotonic())


_websockets = {}  # core id -> ((connection fd, request id), session)


def _websocket():
    core, fd = _running()[:2]
    ws = _websockets.get(core)
    if ws is None or ws[0] != (fd, request_id()):
        raise OSError("websocket handshake not done for this request")
    return ws[1]


def websocket_handshake(key=None, origin=None, proto=None):
    """Answers the running request with 101 and starts a websocket session."""
    import base64
    import hashlib

    core, fd, environ = _running()[:3]
    if key is None:
        key = environ.get("HTTP_SEC_WEBSOCKET_KEY", "")
    if isinstance(key, str):
        key = key.encode("latin-1")
    if not key:
        raise OSError("you need to pass a valid websocket key")
    if isinstance(origin, bytes):
        origin = origin.decode("latin-1")
    if isinstance(proto, bytes):
        proto = proto.decode("latin-1")
    accept = base64.b64encode(hashlib.sha1(key + _WS_MAGIC).digest()).decode()
    headers = [("Upgrade", "WebSocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Origin", origin or "*")]
    if proto:
        headers.append(("Sec-WebSocket-Protocol", proto))
    headers.append(("Sec-WebSocket-Accept", accept))
    head = "HTTP/1.1 101 Web Socket Protocol Handshake\r\n"
    head += "".join("%s: %s\r\n" % h for h in headers) + "\r\n"
    try:
        _gosgi.raw_head(head.encode("latin-1"), 101, len(headers))
    except OSError:
        raise OSError("unable to complete websocket handshake")
    _websockets[core] = ((fd, request_id()), _WebSocket(fd, environ))
    return None


def websocket_recv(*request_context):
    return _websocket().recv(True)


def websocket_recv_nb(*request_context):
    return _websocket().recv(False)


def websocket_send(message, *request_context):
    _websocket().send(0x1, message)
    return None


def websocket_send_binary(message, *request_context):
    _websocket().send(0x2, message)
    return None


# ------------------------------------------------------------ life cycle


def _os_thread(target, args, name):
    """Starts a daemon OS thread, also once gevent monkey-patched threading
    (gevent mode, or an app that patches at import): a patched Thread is a
    greenlet of the calling thread, whose hub never runs in a worker."""
    monkey = _sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        monkey.get_original("_thread", "start_new_thread")(target, tuple(args))
        return
    _threading.Thread(target=target, args=args, name=name, daemon=True).start()


def _process_started(role, ident):
    """Runs first in every forked child (worker, mule, spooler)."""
    global _role, _mule_id, _spooler_id
    _role = role
    if role == "mule":
        _mule_id = ident
    elif role == "spooler":
        _spooler_id = ident
    socks = _signal_socks_for_me()
    if socks:
        _os_thread(_signal_loop, (socks,), "uwsgi-signals")
    if role == "worker" and ident == 1:
        _os_thread(_timer_loop, (), "uwsgi-timers")
    tb = _opt_values("py-tracebacker")
    if role == "worker" and tb:
        _start_tracebacker("%s%d" % (tb[-1], ident))


def _start_tracebacker(path):
    """py-tracebacker: a unix socket per worker that answers every
    connection with the stack of each thread (read it with
    `uwsgi --connect-and-read PATH`)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    monkey = _sys.modules.get("gevent.monkey")
    sock = monkey.get_original("socket", "socket") if monkey and monkey.is_module_patched("socket") else _socket.socket
    srv = sock(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        srv.bind(path)
        srv.listen(16)
    except OSError as e:
        _loader.log("python tracebacker: unable to bind %s: %s" % (path, e))
        srv.close()
        return
    _loader.log("python tracebacker for worker %d available on %s" % (_worker_id, path))
    _os_thread(_tracebacker_loop, (srv,), "uWSGITraceBacker")


def _tracebacks():
    names = {t.ident: t.name for t in _threading.enumerate()}
    me = _threading.get_ident()
    out = ["*** uWSGI Python tracebacker output ***\n\n"]
    for ident, frame in _sys._current_frames().items():
        if ident == me:
            continue
        name = names.get(ident, str(ident))
        for fs in _traceback.extract_stack(frame):
            out.append("thread_id = %s filename = %s lineno = %d function = %s line = %s\n"
                       % (name, fs.filename, fs.lineno, fs.name, fs.line or ""))
        out.append("\n")
    return "".join(out).encode("utf-8", "backslashreplace")


def _tracebacker_loop(srv):
    while True:
        try:
            conn, _ = srv.accept()
        except OSError:
            _time.sleep(1)
            continue
        with conn:
            try:
                conn.sendall(_tracebacks())
            except OSError:
                pass


def in_farm(name=None):
    """In a mule: True when it belongs to farm name (any farm without name)."""
    if _role != "mule":
        return None
    if isinstance(name, bytes):
        name = name.decode()
    for fname, (members, _) in _farms.items():
        if _mule_id in members and (name is None or name == fname):
            return True
    return None
