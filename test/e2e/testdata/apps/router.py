"""Dispatches on the first path segment to the app module of the same name in
this directory (/hello/x -> hello.application), so one server start covers
many scenarios. The path is passed unchanged; other paths go to envdump."""
import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

ALLOWED = {"envdump", "hello", "raise_early", "raise_mid", "chunks", "write_callable",
           "filewrapper", "post_echo", "slow", "printer", "exc_info", "badheader",
           "strbody", "status", "uwsgiinfo"}


# Imported up front so that preloading (PM-5) covers them all.
APPS = {name: importlib.import_module(name).application for name in ALLOWED}


def application(environ, start_response):
    name = environ.get("PATH_INFO", "").lstrip("/").split("/", 1)[0]
    # Anything else goes to the environ dumper, so odd paths can be inspected.
    return APPS.get(name, APPS["envdump"])(environ, start_response)
