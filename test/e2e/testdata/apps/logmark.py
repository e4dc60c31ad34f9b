# Writes one raw line to stderr per request, for the log router tests
# (LG-25): "MARK <path> "quoted" \ tab<TAB>here é \x01 <CR> \xff".
import os


def application(environ, start_response):
    path = environ["PATH_INFO"].encode("latin-1")
    os.write(2, b"MARK " + path + b' "quoted" \\ tab\there \xc3\xa9 \x01\r\xff\n')
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]
