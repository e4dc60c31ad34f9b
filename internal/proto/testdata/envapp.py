# Dumps the CGI part of the WSGI environ (str values, latin-1 as on the
# wire) as JSON, for the differential test against the real uWSGI.
import json


def application(environ, start_response):
    env = {k: v for k, v in environ.items() if isinstance(v, str) and "." not in k}
    body = json.dumps(env, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
