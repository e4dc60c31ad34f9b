"""A minimal WSGI application served by examples/hello.ini."""


def application(environ, start_response):
    body = b"Hello from gosgi! You asked for %s\n" % environ["PATH_INFO"].encode("latin-1")
    start_response("200 OK", [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ])
    return [body]
