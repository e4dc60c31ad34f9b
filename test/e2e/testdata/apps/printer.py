"""print() and sys.stderr output must land in the server log (TOP-19, PY-20)."""
import sys


def application(environ, start_response):
    print("e2e-print-stdout", environ.get("QUERY_STRING", ""))
    sys.stderr.write("e2e-print-stderr\n")
    environ["wsgi.errors"].write("e2e-wsgi-errors\n")
    # wsgi.errors is block buffered (PY-21): apps flush it themselves.
    environ["wsgi.errors"].flush()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"printed\n"]
