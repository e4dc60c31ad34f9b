package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run the real uWSGI 2.0 (Debian's uwsgi-core with the python3
// and http plugins), nginx and wrk: the suite exists to drive them.
const realUWSGI = "/usr/bin/uwsgi"

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if _, err2 := os.Stat(tool); err2 != nil {
				t.Fatalf("%s is required for this test: %v", tool, err)
			}
		}
	}
}

func testOptions(t *testing.T) *Options {
	apps, err := filepath.Abs("../../apps")
	if err != nil {
		t.Fatal(err)
	}
	return &Options{Duration: time.Second, Warmup: time.Second, AppsDir: apps}
}

// TestMeasureRealUWSGI is one short run per mode against the real uWSGI,
// with the exact command line the suite gives every server.
func TestMeasureRealUWSGI(t *testing.T) {
	requireTools(t, realUWSGI, "wrk", "/usr/sbin/nginx")
	t.Setenv("PATH", os.Getenv("PATH")+":/usr/sbin")
	o := testOptions(t)
	for _, spec := range []string{"http-socket:hello:2:1", "uwsgi-nginx:hello:1:1", "http-router:hello:1:1", "http-socket:post1m:1:1:4", "http-socket:flask:1:1"} {
		c, err := ParseConfigs(spec, 10)
		if err != nil {
			t.Fatal(err)
		}
		r := measure(context.Background(), o, Server{"uwsgi", realUWSGI}, c[0], 1, t.TempDir())
		if r.Err != "" {
			t.Errorf("%s: %s", spec, r.Err)
			continue
		}
		if r.Wrk.Requests == 0 || r.Wrk.Errors() != 0 || r.CPUSec <= 0 || r.Mem.RSSKB <= 0 || r.Mem.PSSKB <= 0 || r.Mem.Procs < c[0].Workers+1 {
			t.Errorf("%s: implausible result %+v", spec, r)
		}
	}
}

// A server that fails to start or answers the wrong body gives an error
// result, never numbers.
func TestMeasureBrokenServers(t *testing.T) {
	requireTools(t, "/usr/bin/python3", "wrk")
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage-server")
	script := `#!/usr/bin/python3
# Fast, but not the app: answers every request with the wrong body.
import http.server, sys
host, port = sys.argv[sys.argv.index("--http-socket") + 1].rsplit(":", 1)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"Hello Wrld\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer((host, int(port)), H).serve_forever()
`
	if err := os.WriteFile(garbage, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	exits := filepath.Join(dir, "exits")
	if err := os.WriteFile(exits, []byte("#!/bin/sh\necho 'bind(): Address already in use' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := Config{modeHTTPSocket, "hello", 1, 1, 10}
	tests := []struct {
		bin, wantErr string
	}{
		{garbage, `verify: request 1: body "Hello Wrld\n"`},
		{filepath.Join(dir, "missing"), "no such file"},
		{exits, "server exited during start-up (exit status 1): # " + exits},
	}
	for _, tt := range tests {
		start := time.Now()
		r := measure(context.Background(), testOptions(t), Server{"broken", tt.bin}, c, 1, dir)
		if !strings.Contains(r.Err, tt.wantErr) || r.Wrk.Requests != 0 {
			t.Errorf("%s: error %q, want it to contain %q (and no numbers)", tt.bin, r.Err, tt.wantErr)
		}
		if time.Since(start) > 10*time.Second {
			t.Errorf("%s: took %v to fail", tt.bin, time.Since(start))
		}
	}
	if strings.Contains(tail(filepath.Join(dir, "r1_"+c.Tag()+"_broken.server.log")), "Address already in use") == false {
		t.Error("server log does not keep the failing server's output")
	}
}

// TestReloadRealUWSGI: 3 SIGHUPs during a short wrk run; uWSGI replaces its
// workers each time and keeps answering (PM-20: same master pid).
func TestReloadRealUWSGI(t *testing.T) {
	requireTools(t, realUWSGI, "wrk")
	o := testOptions(t)
	c := Config{modeHTTPSocket, "hello", 2, 1, 10}
	var res ReloadResult
	err := withStack(context.Background(), o, Server{"uwsgi", realUWSGI}, c, "reload", t.TempDir(), func(st *Stack) error {
		var err error
		res, err = runReload(context.Background(), st, 6*time.Second, "")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sighups != 3 || res.Reloads != 3 || res.AliveErr != "" || res.Wrk.Requests == 0 || res.MaxReload <= 0 {
		t.Errorf("reload result %+v, want 3 SIGHUPs, 3 reloads seen, still answering", res)
	}
}

// Stop must leave nothing behind: master, workers, temp dir.
func TestStopKillsTree(t *testing.T) {
	requireTools(t, realUWSGI)
	o := testOptions(t)
	st, err := StartStack(context.Background(), Server{"uwsgi", realUWSGI}, Config{modeHTTPSocket, "hello", 2, 1, 10}, o.AppsDir, t.TempDir(), "stop")
	if err != nil {
		t.Fatal(err)
	}
	tree := processTree(st.Pid())
	if len(tree) < 3 {
		t.Fatalf("tree %+v, want master + 2 workers", tree)
	}
	st.Stop()
	now := allStats()
	for _, p := range tree {
		if q, ok := now[p.Pid]; ok && q.Start == p.Start && q.State != 'Z' {
			t.Errorf("process %d still alive after Stop", p.Pid)
		}
	}
	if _, err := os.Stat(st.Dir); !os.IsNotExist(err) {
		t.Errorf("temp dir %s not removed", st.Dir)
	}
}

// A process group that ignores the polite signal is killed after the wait.
func TestProcStopForces(t *testing.T) {
	p, err := startProc("/bin/sh", []string{"-c", "trap '' INT; sleep 60 & wait"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var tree []procStat
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end) && len(tree) < 2; time.Sleep(20 * time.Millisecond) {
		tree = processTree(p.cmd.Process.Pid)
	}
	if len(tree) < 2 {
		t.Fatalf("tree %+v, want the shell and its sleep", tree)
	}
	start := time.Now()
	p.stop(syscall.SIGINT, 300*time.Millisecond)
	if !p.exited() || time.Since(start) > 3*time.Second {
		t.Fatalf("shell not stopped (exited=%v after %v)", p.exited(), time.Since(start))
	}
	time.Sleep(100 * time.Millisecond)
	now := allStats()
	for _, q := range tree {
		// A zombie is dead, just not yet reaped by its new parent.
		if r, ok := now[q.Pid]; ok && r.Start == q.Start && r.State != 'Z' {
			t.Errorf("process %d survived", q.Pid)
		}
	}
}
