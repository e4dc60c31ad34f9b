"""Module-level side effect: appends this process's pid to the file named by
E2E_COUNT_FILE when the module is imported, so a test can count imports
(once in the master when preloading, once per worker with lazy-apps:
PM-5, PM-6). Requests answer with the importing pid and the serving pid."""
import os

IMPORTED_IN = os.getpid()
with open(os.environ["E2E_COUNT_FILE"], "a") as f:
    f.write("%d\n" % IMPORTED_IN)


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"imported-in %d served-by %d\n" % (IMPORTED_IN, os.getpid())]
