# The uwsgi module's functions that act on the running request (PY-41..43,
# PY-50 websockets), for TestUwsgiRequestAPI and TestWebsocket.
import os

import uwsgi

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data.txt")


def websocket(env):
    uwsgi.websocket_handshake(env["HTTP_SEC_WEBSOCKET_KEY"], env.get("HTTP_ORIGIN", ""))
    while True:
        msg = uwsgi.websocket_recv()
        if msg == b"bye":
            uwsgi.websocket_send(b"ciao")
            return []
        if msg == b"binary":
            uwsgi.websocket_send_binary(b"\x00\x01\x02")
        elif msg == b"nb":
            uwsgi.websocket_send(repr(uwsgi.websocket_recv_nb()).encode())
        else:
            uwsgi.websocket_send(b"echo:" + msg)


def application(env, start_response):
    path = env["PATH_INFO"]
    if path == "/ws":
        return websocket(env)
    if path == "/ws-proto":
        uwsgi.websocket_handshake(None, None, "chat")
        uwsgi.websocket_recv()
        return []
    if path == "/no-handshake":
        try:
            uwsgi.websocket_send(b"x")
        except OSError as e:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [("OSError %s" % e).encode()]
    if path.startswith("/sendfile/"):
        start_response("200 OK", [("Content-Type", "text/plain")])
        how = path[len("/sendfile/"):]
        if how == "path":
            uwsgi.sendfile(DATA)
        elif how == "file":
            with open(DATA, "rb") as f:
                uwsgi.sendfile(f)
        elif how == "fd":
            fd = os.open(DATA, os.O_RDONLY)
            uwsgi.sendfile(fd)
            os.close(fd)
        elif how == "range":
            uwsgi.sendfile(DATA, 0, 2, 5)
        return []
    if path == "/chunked":
        parts = []
        try:
            while True:
                part = uwsgi.chunked_read()
                parts.append(repr(part))
                if not part:
                    break
        except OSError as e:
            parts.append("OSError %s" % e)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [("%r %s\n" % (env.get("wsgi.input").read(), " ".join(parts))).encode()]
    if path == "/quiet":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"not logged"]
    if path == "/forced":
        uwsgi.log_this_request()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"logged"]
    # Answered with uwsgi.start_response, as old apps do.
    uwsgi.start_response("200 OK", [("Content-Type", "text/plain")])
    lines = [
        "env is environ %s" % (uwsgi.env is env),
        "connection_fd int %s" % (isinstance(uwsgi.connection_fd(), int) and uwsgi.connection_fd() > 2),
        "request_id %d" % uwsgi.request_id(),
        "listen_queue %d" % uwsgi.listen_queue(),
        "logsize int %s" % isinstance(uwsgi.logsize(), int),
        "accepting %r" % (uwsgi.accepting(),),
    ]
    return [("\n".join(lines) + "\n").encode()]
