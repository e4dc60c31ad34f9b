# The hub loop of a worker in gevent mode (gevent = N), loaded as the module
# _gosgi_gevent. The worker's Go side calls run() on its only core thread;
# it returns when the worker stops. Each connection is served by a greenlet
# holding one of the N async cores: _gosgi.async_head reads the head (Go
# parses it), _gosgi.async_run runs the app in C (Go logs it). When a socket
# has nothing to read or no room to write, the C side calls wait_fd, which
# lets the other greenlets run until it is ready.
import os
import sys
import traceback

import _gosgi
import _socket
import gevent
from gevent import get_hub
from gevent.event import Event
from gevent.socket import wait_read, wait_write

_loader = sys.modules["_gosgi_loader"]
SPEC = _loader.SPEC

# async_head's answers
WAIT, RUN, CLOSE, HANDED = 0, 1, 2, 3


class _SocketTimeout(Exception):
    pass


_TIMED_OUT = _SocketTimeout()
_timeout = (SPEC.get("worker") or {}).get("socket_timeout") or None


def wait_fd(fd, write):
    """Suspends the calling greenlet until fd is ready; False after
    socket-timeout seconds."""
    try:
        (wait_write if write else wait_read)(fd, timeout=_timeout, timeout_exc=_TIMED_OUT)
        return True
    except _SocketTimeout:
        return False


def yield_now():
    """Between two body items: let the other greenlets run, and wait for
    what the request registered (wait_fd_*, async_sleep: the
    x-wsgiorg.fdevent way of yielding an empty item to wait)."""
    sys.modules["uwsgi"].suspend()


class _Cores:
    """The free async cores. Like uWSGI, the most recently freed core is
    handed out first, starting from the highest id."""

    def __init__(self, n):
        self.free = list(range(n))
        self.freed = Event()

    def wait(self):
        while not self.free:
            self.freed.clear()
            self.freed.wait()

    def get(self):
        self.wait()
        return self.free.pop()

    def put(self, core):
        self.free.append(core)
        self.freed.set()


class _Loop:
    def __init__(self, ncores):
        self.cores = _Cores(ncores)
        self.running = set()  # greenlets serving a connection
        self.idle = set()  # ... of those, waiting for a keep-alive connection's next request
        self.stopping = False

    def accept(self, index, fd):
        lsock = _socket.socket(fileno=os.dup(fd))
        # Every worker waits on the listener: the losers of a race must not block.
        lsock.setblocking(False)
        while not self.stopping:
            # A core is picked once a connection is there, as uWSGI does.
            self.cores.wait()
            wait_read(fd)
            while not _gosgi.async_accepting():  # paused (PM-28): the connection waits in the backlog
                gevent.sleep(0.05)
            try:
                conn, _ = lsock._accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue
            except OSError as e:
                _loader.log("accept(): %s" % e.strerror)
                gevent.sleep(0.01)
                continue
            try:
                os.set_blocking(conn, False)
                core = self.cores.get()
            except BaseException:  # stopping, or the client is already gone
                os.close(conn)
                raise
            _gosgi.async_conn(core, conn, index)
            gevent.spawn(self.serve, core, conn)

    def take_pending(self, wake_fd):
        """Serves the connections whose head Go read (TLS fronts)."""
        os.set_blocking(wake_fd, False)
        while True:
            # First whatever was queued before the loop ran, then on each wake.
            self.serve_pending()
            wait_read(wake_fd)
            try:
                os.read(wake_fd, 4096)
            except BlockingIOError:
                pass

    def serve_pending(self):
        while True:
            core = self.cores.get()
            fd = _gosgi.async_pending(core)
            if fd < 0:
                self.cores.put(core)
                return
            gevent.spawn(self.serve, core, fd)

    def serve(self, core, fd):
        """Serves the connection core was given (async_conn, async_pending)."""
        me = gevent.getcurrent()
        me.gosgi_core = core  # the uwsgi module's request functions find it here
        self.running.add(me)
        kept = False
        try:
            while True:
                st = _gosgi.async_head(core)
                if st == WAIT:
                    if kept:  # may be cut when the worker stops
                        self.idle.add(me)
                    ready = wait_fd(fd, False)
                    self.idle.discard(me)
                    kept = False
                    if not ready:
                        break
                    continue
                if st == RUN:
                    if not _gosgi.async_run(core) or self.stopping:
                        break
                    kept = True
                    continue
                break  # CLOSE or HANDED
        except gevent.GreenletExit:
            pass
        except BaseException:
            traceback.print_exc()
        finally:
            self.running.discard(me)
            self.idle.discard(me)
            _gosgi.async_close(core)
            self.cores.put(core)

    def stop(self, acceptors):
        self.stopping = True
        gevent.killall(acceptors)
        gevent.killall(list(self.idle))
        # Connections Go still reads or queued (TLS fronts) are served first.
        while not _gosgi.async_drained():
            self.serve_pending()
            gevent.sleep(0.02)
        gevent.joinall(list(self.running))


def _environ_items():
    """What async modes add to the environ (PY-21): the x-wsgiorg.fdevent
    extension, served by uwsgi.wait_fd_read/wait_fd_write."""
    uwsgi = sys.modules["uwsgi"]
    return (
        ("x-wsgiorg.fdevent.readable", uwsgi.wait_fd_read),
        ("x-wsgiorg.fdevent.writable", uwsgi.wait_fd_write),
        ("x-wsgiorg.fdevent.timeout", None),
    )


def run(ncores, socks, stop_fd, wake_fd):
    _gosgi.async_setup(wait_fd, yield_now, _environ_items())
    hub = get_hub()
    _loader.log("*** running gevent loop engine [addr:0x%x] ***" % id(hub))
    loop = _Loop(ncores)
    acceptors = [gevent.spawn(loop.accept, i, fd) for i, fd in enumerate(socks)]
    pending = gevent.spawn(loop.take_pending, wake_fd)
    wait_read(stop_fd)
    loop.stop(acceptors)
    pending.kill()
    if SPEC.get("gevent_wait_for_hub"):
        # The app's own greenlets finish too: wait until the hub has nothing left.
        hub.join()
