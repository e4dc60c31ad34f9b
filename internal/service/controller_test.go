package service

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMarker(t *testing.T) { // C-51
	tests := []struct {
		o     Outcome
		id    string
		names bool
		want  string
	}{
		{Done, "app/a", false, "."},
		{Already, "app/a", false, "."},
		{Failed, "app/a", false, "!"},
		{NotFound, "app/a", false, "?"},
		{Done, "app/a", true, "app/a"},
		{Already, "app/a", true, "(app/a)"},
		{Failed, "app/a", true, "app/a!"},
		{NotFound, "app/a", true, "app/a?"},
		{Already, "app/with space", true, "('app/with space')"},
		{Done, "app/new\nline\x7f", true, "app/new?line?"},
		{Done, "app/tab\there", true, "app/tab?here"},
	}
	for _, tt := range tests {
		if got := Marker(tt.o, tt.id, tt.names); got != tt.want {
			t.Errorf("Marker(%v, %q, %v) = %q, want %q", tt.o, tt.id, tt.names, got, tt.want)
		}
	}
}

func TestExitCode(t *testing.T) { // C-53
	for _, c := range []struct{ in, want int }{{0, 0}, {1, 1}, {7, 7}, {255, 255}, {256, 255}, {1000, 255}} {
		if got := exitCode(c.in); got != c.want {
			t.Errorf("exitCode(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestPidState(t *testing.T) { // C-36
	for _, c := range []struct {
		s    PidState
		want int
	}{{Running, 0}, {Dead, 1}, {NoPidfile, 3}, {Unreadable, 4}} {
		if got := c.s.LSBStatus(); got != c.want {
			t.Errorf("%d.LSBStatus() = %d, want %d", c.s, got, c.want)
		}
	}
}

func TestParsePid(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"123\n", 123, true}, {" 42 ", 42, true}, {"", 0, false}, {"0\n", 0, false},
		{"-1", 0, false}, {"12ab", 0, false}, {"99999999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, err := ParsePid([]byte(tt.in))
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParsePid(%q) = %d, %v", tt.in, got, err)
		}
	}
}

func FuzzParsePid(f *testing.F) {
	for _, s := range []string{"1\n", "", "x", "+3", " 9 "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if pid, err := ParsePid(data); err == nil && pid <= 0 {
			t.Fatalf("ParsePid(%q) = %d without error", data, pid)
		}
	})
}

func TestArgv(t *testing.T) { // C-22, DP-1
	c := New(DebianLayout(), DefaultSettings())
	en := "/etc/uwsgi/apps-enabled/"
	tests := []struct {
		inherited, config string
		want              []string
		err               bool
	}{
		{DefaultInheritedConfig, en + "site.ini", []string{"/usr/bin/uwsgi", "--ini", DefaultInheritedConfig, "--ini", en + "site.ini", "--daemonize", "/var/log/uwsgi/app/site.log"}, false},
		{DefaultInheritedConfig, en + "sub/site.yml", []string{"/usr/bin/uwsgi", "--ini", DefaultInheritedConfig, "--yaml", en + "sub/site.yml", "--daemonize", "/var/log/uwsgi/app/site.log"}, false},
		{"/etc/uwsgi/base.json", en + "site.xml", []string{"/usr/bin/uwsgi", "--json", "/etc/uwsgi/base.json", "--xmlconfig", en + "site.xml", "--daemonize", "/var/log/uwsgi/app/site.log"}, false},
		{"", en + "site.db", []string{"/usr/bin/uwsgi", "--sqlite", en + "site.db", "--daemonize", "/var/log/uwsgi/app/site.log"}, false},
		{"/etc/uwsgi/base.conf", en + "site.ini", nil, true},
	}
	for _, tt := range tests {
		c.InheritedConfig = tt.inherited
		got, err := c.Argv(Instance{Namespace: "app", Name: "site", Config: tt.config}, true)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Argv(%s, %s) = %q, %v; want %q", tt.inherited, tt.config, got, err, tt.want)
		}
		// In the foreground (uwsgi-app@.service) only --daemonize goes.
		if fg, _ := c.Argv(Instance{Namespace: "app", Name: "site", Config: tt.config}, false); tt.want != nil && !reflect.DeepEqual(fg, tt.want[:len(tt.want)-2]) {
			t.Errorf("foreground Argv = %q", fg)
		}
	}
}

func TestInstanceEnv(t *testing.T) { // C-21
	c := New(DebianLayout(), DefaultSettings())
	c.Env = []string{"PATH=/bin", "UWSGI_DEB_CONFNAME=stale", "UWSGI_BIN=/x", "LANG=C.UTF-8", "UWSGI_PROCESSES=4"}
	c.DropEnv = []string{"UWSGI_BIN"}
	got := c.InstanceEnv(Instance{Namespace: "test", Name: "ns1"})
	want := []string{"PATH=/bin", "LANG=C.UTF-8", "UWSGI_PROCESSES=4", "UWSGI_DEB_CONFNAMESPACE=test", "UWSGI_DEB_CONFNAME=ns1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("InstanceEnv = %q, want %q", got, want)
	}
}

// scratch is a controller over an empty layout in a temp dir, with
// output captured.
func scratch(t *testing.T) (*Controller, *bytes.Buffer, *bytes.Buffer) {
	root := t.TempDir()
	l := Layout{ConfDir: root + "/etc", RunDir: root + "/run", LogDir: root + "/log", Daemon: "/usr/bin/uwsgi"}
	c := New(l, DefaultSettings())
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	return c, &out, &errb
}

func TestRunOutput(t *testing.T) { // C-50, C-52, C-53, C-36, C-39
	tests := []struct {
		name     string
		settings func(*Settings)
		cmd      Command
		args     []string
		out      string
		code     int
	}{
		{"omitted", nil, Start, nil, "Starting app server(s): uwsgi (omitted; missing conffile(s) in ROOT/etc/apps-enabled).\n", 0},
		{"omitted stop", nil, Stop, nil, "Stopping app server(s): uwsgi (omitted; missing conffile(s) in ROOT/etc/apps-enabled).\n", 0},
		{"not found", nil, Reload, []string{"a", "test/b"}, "Reloading app server(s): uwsgi -> ? ? done.\n", 0},
		{"not found names", func(s *Settings) { s.PrintConfnames = true }, ForceReload, []string{"a", "test/b", "x/y/z"}, "Forced reloading app server(s): uwsgi -> app/a? test/b? x/y/z? done.\n", 0},
		{"restart", nil, Restart, []string{"a"}, "Restarting app server(s): uwsgi -> ? done.\n", 0},
		{"quiet", func(s *Settings) { s.Verbose = false }, Stop, []string{"a"}, "", 0},
		{"status one", nil, Status, []string{"a"}, "uwsgi is not running ... failed!\n", 3},
		{"status two", nil, Status, []string{"a", "../b"}, "uwsgi app/a is not running ... failed!\nuwsgi ../b is not running ... failed!\n", 3},
		{"status all empty", nil, Status, nil, "uwsgi is not running (no conffile(s) in ROOT/etc/apps-enabled) ... failed!\n", 3},
		{"usage", nil, Command("bogus"), nil, "", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, out, _ := scratch(t)
			if tt.settings != nil {
				tt.settings(&c.Settings)
			}
			code := c.Run(tt.cmd, tt.args)
			want := strings.ReplaceAll(tt.out, "ROOT", filepath.Dir(c.ConfDir))
			if out.String() != want || code != tt.code {
				t.Errorf("output %q code %d; want %q code %d", out.String(), code, want, tt.code)
			}
		})
	}
}

func TestStatusCodes(t *testing.T) { // C-36
	c, out, _ := scratch(t)
	inst := Instance{Namespace: "app", Name: "x"}
	if err := os.MkdirAll(c.InstanceDir(inst), 0o755); err != nil {
		t.Fatal(err)
	}
	// Our own pid is alive but is not a uwsgi: dead with pidfile (1).
	if err := os.WriteFile(c.Pidfile(inst), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := c.Run(Status, []string{"x"}); code != 1 {
		t.Errorf("foreign pid: code %d, output %q", code, out)
	}
	// Garbage: unknown (4).
	out.Reset()
	os.WriteFile(c.Pidfile(inst), []byte("garbage"), 0o644)
	if code := c.Run(Status, []string{"x"}); code != 4 || !strings.HasPrefix(out.String(), "could not access PID file for uwsgi") {
		t.Errorf("garbage pidfile: code %d, output %q", code, out)
	}
	// Running: point the daemon at this test binary, whose comm matches.
	out.Reset()
	exe, _ := os.Executable()
	c.Daemon = exe
	os.WriteFile(c.Pidfile(inst), []byte(strconv.Itoa(os.Getpid())), 0o644)
	if code := c.Run(Status, []string{"x"}); code != 0 || out.String() != "uwsgi is running.\n" {
		t.Errorf("running: code %d, output %q", code, out)
	}
}

// TestStopEscalates: a master that ignores SIGQUIT is killed after
// QuitTimeout (C-30), and the run directory removed.
func TestStopEscalates(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("%s is required: %v", py, err)
	}
	c, out, errb := scratch(t)
	c.Daemon = py
	c.QuitTimeout, c.KillTimeout = 300*time.Millisecond, 5*time.Second
	inst := Instance{Namespace: "app", Name: "stubborn"}
	if err := os.MkdirAll(c.InstanceDir(inst), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", "import signal, sys, time\nsignal.signal(signal.SIGQUIT, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(30)")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	buf := make([]byte, 6)
	if _, err := stdout.Read(buf); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(c.Pidfile(inst), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
	start := time.Now()
	code := c.Run(Stop, []string{"stubborn"})
	waitErr := cmd.Wait()
	if code != 0 || out.String() != "Stopping app server(s): uwsgi -> . done.\n" {
		t.Errorf("stop: code %d, output %q, stderr %q", code, out, errb)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Errorf("process ended with %v, want SIGKILL", waitErr)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 4*time.Second {
		t.Errorf("stop took %s", d)
	}
	if !strings.Contains(errb.String(), "ignored SIGQUIT") {
		t.Errorf("stderr %q does not explain the kill", errb)
	}
	if _, err := os.Stat(c.InstanceDir(inst)); !os.IsNotExist(err) {
		t.Errorf("run directory left: %v", err)
	}
}
