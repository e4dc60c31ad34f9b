# PY-50 helpers that need no subsystem: cl, parsefile, extract,
# embedded_data, the legion queries, connect/send/recv/close/is_connected,
# disconnect (TestUwsgiMiscAPI).
import os
import socket
import struct
import threading

import uwsgi

HERE = os.path.dirname(os.path.abspath(__file__))

srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(5)
port = srv.getsockname()[1]


def echo():
    while True:
        c, _ = srv.accept()
        c.sendall(b"got:" + c.recv(100))
        c.close()


def packet(path):
    kv = b""
    for k, v in [(b"a", b"1"), (b"bb", b"two")]:
        kv += struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v
    with open(path, "wb") as f:
        f.write(bytes([17]) + struct.pack("<H", len(kv)) + b"\x00" + kv)


def t(expr, **names):
    try:
        return "%s -> %r" % (expr, eval(expr, globals(), names))
    except Exception as e:
        return "%s raised %s: %s" % (expr, type(e).__name__, e)


def application(env, start_response):
    if env["PATH_INFO"] == "/addvar":
        added = uwsgi.add_var("MYVAR", "hello") and uwsgi.add_var(b"OTHER", b"world")
        warned = uwsgi.set_warning_message("disk almost full")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [("%r %r\n" % (added, warned)).encode()]
    if env["PATH_INFO"] == "/disconnect":
        uwsgi.disconnect()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"nobody reads this"]
    if not any(th.name == "echo" for th in threading.enumerate()):
        threading.Thread(target=echo, name="echo", daemon=True).start()
    start_response("200 OK", [("Content-Type", "text/plain")])
    pkt = os.path.join(env["DOCUMENT_ROOT"] if env.get("DOCUMENT_ROOT") else "/tmp", "pkt-%d" % os.getpid())
    packet(pkt)
    out = [
        t("uwsgi.cl()"),
        t("uwsgi.parsefile(pkt)", pkt=pkt),
        t("len(uwsgi.extract(data))", data=os.path.join(HERE, "data.txt")),
        t("uwsgi.embedded_data('foo')"),
        t("uwsgi.i_am_the_lord('x')"),
        t("uwsgi.lord_scroll('x')"),
        t("uwsgi.scrolls('x')"),
    ]
    os.unlink(pkt)
    fd = uwsgi.connect("127.0.0.1:%d" % port)
    out.append("connect -> %s" % type(fd).__name__)
    out.append(t("uwsgi.is_connected(fd)", fd=fd))
    out.append(t("uwsgi.send(fd, b'abc')", fd=fd))
    out.append(t("uwsgi.recv(fd)", fd=fd))
    out.append(t("uwsgi.recv(fd)", fd=fd))
    out.append(t("uwsgi.close(fd)", fd=fd))
    return [("\n".join(out) + "\n").encode()]
