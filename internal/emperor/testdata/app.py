# WSGI app for the emperor's end-to-end tests: /groups answers with the
# process's identity, /open tries the unix socket named in GOSGI_TEST_OPEN.
import os
import socket


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/open":
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(os.environ["GOSGI_TEST_OPEN"])
            body = "open ok"
        except OSError as e:
            body = "open failed: %s" % e
        finally:
            s.close()
    else:
        body = "uid=%d gid=%d groups=%s" % (os.getuid(), os.getgid(), sorted(os.getgroups()))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
