# Reads a stats document the way uwsgitop 0.12 does (ST-20): connect, read
# to EOF (or HTTP), json.loads, then the fields and arithmetic it uses.
import json
import socket
import sys
import urllib.request

addr = sys.argv[1]
if addr.startswith("http://"):
    js = urllib.request.urlopen(addr, timeout=10).read()
else:
    if ":" in addr:
        host, port = addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=10)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(addr)
    js = b""
    while True:
        data = s.recv(4096)
        if not data:
            break
        js += data
    s.close()
dd = json.loads(js.decode("utf8"))
out = ["uwsgi-%s pid %d uid %d gid %d cwd %s lq %d" % (
    dd["version"], dd["pid"], dd["uid"], dd["gid"], dd["cwd"], dd.get("listen_queue", 0))]
tot = sum(w["requests"] for w in dd["workers"])
tx = sum(w["tx"] for w in dd["workers"])
out.append("requests %d tx %d" % (tot, tx))
for w in dd["workers"]:
    st = w["status"]
    if st == "busy" or st == "cheap" or st == "pause" or st.startswith("sig"):
        pass
    out.append("%d %d %d %d %s %dms %d %d %d %d %d %d %d %d" % (
        w["id"], w["pid"], w["requests"], w["exceptions"], st, w["avg_rt"] / 1000,
        w["rss"] / 1024 / 1024, w["vsz"] / 1024 / 1024, w["tx"], w["running_time"] / 1000,
        w["last_spawn"], w["respawn_count"], w["harakiri_count"], w["signals"]))
    for c in w.get("cores", []):
        out.append("  core %d %d %d" % (c["id"], c["requests"], c["in_request"]))
print("\n".join(out))
