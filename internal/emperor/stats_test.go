package emperor

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixedEmperor is an emperor state with known values for the stats
// document.
func fixedEmperor() *Emperor {
	t0 := time.Unix(1795233386, 0)
	e := &Emperor{Settings: Settings{Tyrant: true}}
	e.sources = []Source{{Arg: "/etc/uwsgi.d", Dir: "/etc/uwsgi.d"}}
	e.level = 4 * time.Millisecond
	e.vassals = map[string]*vassal{
		"app.ini": {name: "app.ini", pid: 4242, uid: 1001, gid: 1002, born: t0, lastMod: t0,
			ready: true, accepting: true, loyal: true, lastReady: t0, lastRun: t0.Add(2 * time.Second), lastAccept: t0.Add(time.Second), lastLoyal: t0.Add(5 * time.Second), respawns: 2},
		"new.ini": {name: "new.ini", pid: -1, uid: 1001, gid: 1001, born: t0.Add(9 * time.Second), lastRun: t0.Add(9 * time.Second), lastMod: t0, waiting: true, sockPath: "/run/uwsgi/new.socket"},
	}
	e.blacklist = map[string]*blackItem{"bad.ini": {first: t0, last: t0.Add(3 * time.Second), level: 2001 * time.Millisecond, attempts: 3}}
	return e
}

// TestStatsGolden pins the emperor stats document: uWSGI 2.0.21's keys
// in its order (observed from its emperor-stats server).
func TestStatsGolden(t *testing.T) {
	st := fixedEmperor().snapshot()
	st.PID, st.UID, st.GID, st.Cwd = 100, 0, 0, "/etc/uwsgi.d"
	got, err := json.MarshalIndent(st, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/emperor-stats.golden.json"
	if *update {
		os.WriteFile(golden, got, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("stats document differs from %s (go test -update):\n%s", golden, got)
	}
}

// TestStatsUwsgitop feeds the document to the emperor view of uwsgitop
// (the keys it reads: version, cwd, uid, gid, pid, emperor,
// emperor_tyrant, vassals[].id/pid), rendered by python3 as it does.
func TestStatsUwsgitop(t *testing.T) {
	need(t, python3)
	doc := fixedEmperor().statsJSON()
	script := `
import json, sys
dd = json.load(sys.stdin)
print("uwsgi-%s - emperor: %s - tyrant: %d" % (dd['version'], dd['emperor'], dd['emperor_tyrant']))
print("node: - cwd: %s - uid: %d - gid: %d - masterpid: %d" % (dd['cwd'], dd['uid'], dd['gid'], dd['pid']))
w = max([len(v['id']) for v in dd['vassals']])
for v in dd['vassals']:
    print(" %s\t%d" % (v['id'].ljust(w), v['pid']))
`
	cmd := exec.Command(python3, "-c", script)
	cmd.Stdin = bytes.NewReader(doc)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("uwsgitop view: %v\n%s", err, out)
	}
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if len(lines) != 4 || string(lines[0]) != "uwsgi-2.0.21 - emperor: ['/etc/uwsgi.d'] - tyrant: 1" ||
		string(lines[2]) != " app.ini\t4242" || string(lines[3]) != " new.ini\t-1" {
		t.Errorf("uwsgitop view:\n%s", out)
	}
}
