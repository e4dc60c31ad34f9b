package master

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestParseDaemon2 covers attach-daemon2's keys (PM-75): pidfile= makes
// the daemon smart, daemonize= has the master write that pidfile.
func TestParseDaemon2(t *testing.T) {
	for _, tc := range []struct {
		in        string
		cmd       string
		pidfile   string
		daemonize bool
		stop      syscall.Signal
	}{
		{"cmd=sleep 10", "sleep 10", "", false, syscall.SIGTERM},
		{"cmd=celery worker,pidfile=/run/c.pid", "celery worker", "/run/c.pid", false, syscall.SIGTERM},
		{"cmd=x,pidfile=/p,daemonize=1,stopsignal=3", "x", "/p", true, syscall.SIGQUIT},
		{"cmd=x,stopsignal=abc,freq=5", "x", "", false, syscall.SIGTERM},
		{"pidfile=/p", "", "/p", false, syscall.SIGTERM},
	} {
		d := parseDaemon2(tc.in)
		if d.cmd != tc.cmd || d.pidfile != tc.pidfile || d.daemonize != tc.daemonize || d.stop != tc.stop {
			t.Errorf("parseDaemon2(%q) = cmd %q pidfile %q daemonize %v stop %v", tc.in, d.cmd, d.pidfile, d.daemonize, d.stop)
		}
	}
}

func FuzzParseDaemon2(f *testing.F) {
	f.Add("cmd=sleep 10,pidfile=/tmp/x.pid,stopsignal=15")
	f.Add(",,=,cmd=")
	f.Fuzz(func(t *testing.T, s string) {
		d := parseDaemon2(s)
		if d.stop <= 0 {
			t.Fatalf("parseDaemon2(%q): stop signal %d", s, d.stop)
		}
	})
}

// TestReadPidfile: what a daemon may leave in its pidfile.
func TestReadPidfile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		content string
		pid     int
		ok      bool
	}{
		{"1234\n", 1234, true},
		{"  42 ", 42, true},
		{"", 0, false},
		{"abc\n", 0, false},
		{"-5\n", 0, false},
	} {
		p := filepath.Join(dir, "d.pid")
		os.WriteFile(p, []byte(tc.content), 0o644)
		pid, err := readPidfile(p)
		if pid != tc.pid || (err == nil) != tc.ok {
			t.Errorf("readPidfile(%q) = %d, %v", tc.content, pid, err)
		}
	}
	if _, err := readPidfile(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("missing pidfile read without error")
	}
}

// TestParseSmartSpec: smart-attach-daemon's "PIDFILE COMMAND".
func TestParseSmartSpec(t *testing.T) {
	for _, tc := range []struct {
		in, pidfile, cmd string
		ok               bool
	}{
		{"/run/d.pid memcached -d -P /run/d.pid", "/run/d.pid", "memcached -d -P /run/d.pid", true},
		{"  /p   cmd  ", "/p", "cmd", true},
		{"/p", "/p", "", false},
		{"", "", "", false},
	} {
		pidfile, cmd, ok := parseSmartSpec(tc.in)
		if pidfile != tc.pidfile || cmd != tc.cmd || ok != tc.ok {
			t.Errorf("parseSmartSpec(%q) = %q, %q, %v", tc.in, pidfile, cmd, ok)
		}
	}
}

func FuzzParseSmartSpec(f *testing.F) {
	f.Add("/run/d.pid memcached -d")
	f.Add(" \t x")
	f.Fuzz(func(t *testing.T, s string) {
		pidfile, cmd, ok := parseSmartSpec(s)
		if ok && (pidfile == "" || cmd == "" || strings.Contains(pidfile, " ")) {
			t.Fatalf("parseSmartSpec(%q) = %q, %q", s, pidfile, cmd)
		}
	})
}

func FuzzParsePid(f *testing.F) {
	f.Add([]byte("1234\n"))
	f.Add([]byte("-1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if pid, ok := parsePid(b); ok && pid <= 0 {
			t.Fatalf("parsePid(%q) = %d", b, pid)
		}
	})
}
