# gevent mode test app (test/e2e/gevent_test.go). /a and /b can only both
# finish if their greenlets run concurrently: each waits for the other.
import os
import socket

import gevent
import gevent.event
import uwsgi
from gevent import monkey

IMPORT_SOCKET = socket.socket.__module__
a_in, b_in = gevent.event.Event(), gevent.event.Event()
# Bounds a broken server's wait; the test fails on the "timeout" answer.
SAFETY = 30


def body(start_response, *chunks):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [c.encode() if isinstance(c, str) else c for c in chunks]


def application(env, start_response):
    p = env["PATH_INFO"]
    if p == "/a":
        a_in.set()
        print("a: waiting for b", flush=True)
        return body(start_response, "a: b ran" if b_in.wait(SAFETY) else "a: timeout")
    if p == "/b":
        b_in.set()
        return body(start_response, "b: a ran" if a_in.wait(SAFETY) else "b: timeout")
    if p == "/post":
        data = env["wsgi.input"].read()
        return body(start_response, "read %d" % len(data))
    if p == "/three":
        return body(start_response, "one ", "two ", "three")
    if p == "/gen":
        def gen():
            for c in ("x", "y"):
                gevent.sleep(0)
                yield c.encode()
        start_response("200 OK", [])
        return gen()
    if p == "/bytes":
        start_response("200 OK", [])
        return b"bytes"
    if p == "/empty":
        start_response("200 OK", [])
        return []
    if p == "/midraise":
        def failing():
            yield b"first"
            raise ValueError("gevent test: body raised")
        start_response("200 OK", [])
        return failing()
    if p == "/file":
        start_response("200 OK", [])
        return env["wsgi.file_wrapper"](open(os.path.join(os.path.dirname(__file__), "data.txt"), "rb"))
    if p == "/write":
        write = start_response("200 OK", [])
        write(b"w1 ")
        write(b"w2 ")
        return [b"last"]
    if p == "/raise":
        raise ValueError("gevent test: app raised")
    if p == "/env":
        fdevent = sorted((k, "callable" if callable(v) else v) for k, v in env.items() if k.startswith("x-wsgiorg.fdevent."))
        return body(start_response, repr((uwsgi.loop, uwsgi.cores, "uwsgi.core" in env, env["wsgi.multithread"], fdevent)))
    if p == "/patched":
        return body(start_response, "%s %s %s" % (IMPORT_SOCKET, socket.socket.__module__, monkey.is_module_patched("threading")))
    if p == "/async":
        out = [repr(uwsgi.async_sleep(0.01)), repr(uwsgi.suspend()), repr(uwsgi.ready_fd()), repr(uwsgi.green_schedule())]
        return body(start_response, " ".join(out))
    if p == "/wait_fd_refused":
        try:
            uwsgi.wait_fd_read(0, 1)
            return body(start_response, "accepted")
        except OSError as e:
            return body(start_response, "OSError: %s" % e)
    if p == "/wait_fd":
        r, w = os.pipe()
        gevent.spawn(os.write, w, b"x")
        uwsgi.wait_fd_read(r, SAFETY)
        uwsgi.suspend()
        ok = uwsgi.ready_fd() == r
        os.close(r)
        os.close(w)
        return body(start_response, "ready" if ok else "not ready")
    if p == "/wait_fd_timeout":
        r, w = os.pipe()
        uwsgi.wait_fd_read(r, 1)
        uwsgi.suspend()
        got = uwsgi.ready_fd()
        os.close(r)
        os.close(w)
        return body(start_response, "ready_fd %d" % got)
    if p == "/fdevent":
        # The x-wsgiorg.fdevent way: register, yield an empty item, resume.
        r, w = os.pipe()
        gevent.spawn(os.write, w, b"x")

        def gen():
            env["x-wsgiorg.fdevent.readable"](r, SAFETY)
            yield b""
            yield b"ready" if uwsgi.ready_fd() == r else b"not ready"
            os.close(r)
            os.close(w)

        start_response("200 OK", [])
        return gen()
    if p == "/connect":
        fd = uwsgi.async_connect(env["HTTP_X_TARGET"])
        uwsgi.wait_fd_write(fd, SAFETY)
        uwsgi.suspend()
        ok = uwsgi.ready_fd() == fd
        os.close(fd)
        return body(start_response, "connected" if ok else "not connected")
    if p == "/hold":
        # Answers once the test connects to the unix socket it names.
        return body(start_response, wait_release(env["HTTP_X_PATH"], "holding"))
    if p == "/spawn":
        # A greenlet of the app's own that outlives the request.
        def background(path, marker):
            wait_release(path, "background waiting")
            with open(marker, "w") as f:
                f.write("background done")

        gevent.spawn(background, env["HTTP_X_PATH"], env["HTTP_X_MARKER"])
        return body(start_response, "spawned")
    return body(start_response, "hello")


def wait_release(path, what):
    from gevent import socket as gsocket

    s = gsocket.socket(gsocket.AF_UNIX, gsocket.SOCK_STREAM)
    s.bind(path)
    s.listen(1)
    print("%s on %s" % (what, path), flush=True)
    c, _ = s.accept()
    c.close()
    s.close()
    return "released"
