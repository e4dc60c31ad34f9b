"""A stand-in vassal for the emperor tests: it speaks the emperor pipe
protocol (UWSGI_EMPEROR_FD) and reports who it runs as.

argv is what the emperor passed (--ini NAME ...). Environment knobs:
FAKE_REPORT_DIR  write <vassal name>.json there on start and on reload
FAKE_OPEN        a unix socket path to connect to (recorded as "open")
FAKE_CRASH       exit 1 at once, before talking to the emperor
"""
import json
import os
import socket
import sys

name = sys.argv[-1]
if os.environ.get("FAKE_CRASH"):
    sys.exit(1)
fd = int(os.environ["UWSGI_EMPEROR_FD"])


def status_field(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
    return ""


def report(reloads):
    opened = None
    path = os.environ.get("FAKE_OPEN")
    if path:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            opened = True
        except OSError as e:
            opened = str(e)
        s.close()
    doc = {
        "argv": sys.argv[1:],
        "cwd": os.getcwd(),
        "uid": os.getuid(),
        "gid": os.getgid(),
        "groups": sorted(os.getgroups()),
        "cap_eff": status_field("CapEff"),
        "cap_amb": status_field("CapAmb"),
        "cap_bnd": status_field("CapBnd"),
        "env": {k: v for k, v in os.environ.items() if k.startswith("UWSGI") or k == "NOTIFY_SOCKET"},
        "reloads": reloads,
        "open": opened,
    }
    d = os.environ.get("FAKE_REPORT_DIR")
    if d:
        tmp = os.path.join(d, "." + os.path.basename(name) + ".tmp")
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.rename(tmp, os.path.join(d, os.path.basename(name) + ".json"))


reloads = 0
report(reloads)
os.write(fd, bytes([1]))
os.write(fd, bytes([5]))
while True:
    b = os.read(fd, 1)
    if not b or b == b"\x00":
        sys.exit(0)
    if b == b"\x01":
        reloads += 1
        report(reloads)
