package config

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosgi/gosgi/internal/options"
)

var update = flag.Bool("update", false, "rewrite golden files")

func mustLoad(t *testing.T, args []string, env []string) (*Config, string) {
	t.Helper()
	var log bytes.Buffer
	c, err := Load(append([]string{"uwsgi"}, args...), env, &log)
	if err != nil {
		t.Fatalf("Load(%q): %v", args, err)
	}
	return c, log.String()
}

func mustExit(t *testing.T, args []string, env []string) *Exit {
	t.Helper()
	_, err := Load(append([]string{"uwsgi"}, args...), env, nil)
	var ex *Exit
	if !errors.As(err, &ex) {
		t.Fatalf("Load(%q) err = %v, want *Exit", args, err)
	}
	return ex
}

// TestAccessors covers CF-1, CF-15, OP-301 and the alias merging of the
// accessors.
func TestAccessors(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.ini": "[uwsgi]\nsocket = /run/a.sock\nuwsgi-socket = :3031\nmaster = false\nvacuum\nenable-threads = off ; inline\nlazy-apps = whatever\nprocesses = 3abc\nlisten = abc\nreload-on-rss = 2\nbuffer-size = 99999\nenv = A=1\nenv = B=2\nx = first\nx = second\n"})
	chdir(t, dir)
	c, _ := mustLoad(t, []string{"--ini", "a.ini", "-M", "--socket", "/run/c.sock"}, nil)
	if got := c.List("socket"); !reflect.DeepEqual(got, []string{"/run/a.sock", ":3031", "/run/c.sock"}) {
		t.Errorf("List(socket) = %q", got)
	}
	if got := c.List("uwsgi-socket"); len(got) != 3 {
		t.Errorf("List(uwsgi-socket) = %q, want merged", got)
	}
	bools := map[string]bool{"master": true, "vacuum": true, "enable-threads": true, "lazy-apps": true, "die-on-term": false}
	for name, want := range bools {
		if got := c.Bool(name); got != want {
			t.Errorf("Bool(%s) = %t, want %t", name, got, want)
		}
	}
	ints := map[string]int{"processes": 3, "workers": 3, "listen": 0, "reload-on-rss": 2 << 20, "buffer-size": 65535, "harakiri": 0, "socket-timeout": 4, "max-vars": 64}
	for name, want := range ints {
		if got := c.Int(name); got != want {
			t.Errorf("Int(%s) = %d, want %d", name, got, want)
		}
	}
	if got := c.String("callable"); got != "application" {
		t.Errorf("String(callable) default = %q", got)
	}
	if got := c.String("x"); got != "second" {
		t.Errorf("String(x) = %q, want the last value", got)
	}
	if got, ok := c.First("x"); !ok || got != "first" {
		t.Errorf("First(x) = %q %t, want first (QK-12)", got, ok)
	}
	if !c.Has("uwsgi-socket") || c.Has("pidfile") {
		t.Error("Has is wrong")
	}
	if got := c.Env(); !reflect.DeepEqual(got, []string{"A=1", "B=2"}) {
		t.Errorf("Env() = %q", got)
	}
}

// TestImplied covers CF-8.
func TestImplied(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		master, thread bool
	}{
		{[]string{"--processes", "2"}, false, false},
		{[]string{"-M"}, true, false},
		{[]string{"--stats", "127.0.0.1:9191"}, true, false},
		{[]string{"--stats", "127.0.0.1:9191", "--master=false"}, false, false},
		{[]string{"--touch-reload", "/tmp/x", "--threads", "4"}, true, true},
		{[]string{"--plugin", "python3", "--py-autoreload", "1"}, true, true},
		{[]string{"-T"}, false, true},
	} {
		tc.args = append([]string{}, tc.args...)
		args := tc.args
		if args[len(args)-1] == "--master=false" {
			// master is a flag on the command line: give the value in a set.
			args = append(args[:len(args)-1], "--set", "master=false")
		}
		c, _ := mustLoad(t, args, nil)
		if c.Master() != tc.master || c.EnableThreads() != tc.thread {
			t.Errorf("%q: Master %t EnableThreads %t, want %t %t", args, c.Master(), c.EnableThreads(), tc.master, tc.thread)
		}
	}
}

func TestAtoi(t *testing.T) {
	for in, want := range map[string]int{"": 0, "12": 12, " 7x": 7, "-3": -3, "+4": 4, "abc": 0, "99999999999999999999": -1} {
		if got := Atoi(in); got != want {
			t.Errorf("Atoi(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestImmediateExits covers OP-304, OP-305, CF-6 and PM-31.
func TestImmediateExits(t *testing.T) {
	ex := mustExit(t, []string{"--version", "--processes", "3"}, nil)
	if ex.Code != 0 || ex.Stdout != options.Version+"\n" {
		t.Errorf("--version: %+v", ex)
	}
	ex = mustExit(t, []string{"-h"}, nil)
	if ex.Code != 0 || !strings.HasPrefix(ex.Stdout, "Usage: uwsgi [options...]\n    -s|--socket") || strings.Contains(ex.Stdout, "--wsgi-file") {
		t.Errorf("-h: code %d, head %q", ex.Code, ex.Stdout[:min(80, len(ex.Stdout))])
	}
	ex = mustExit(t, []string{"--plugin", "python3", "--usage"}, nil)
	if !strings.Contains(ex.Stdout, "    --wsgi-file ") {
		t.Error("--usage after --plugin python3 must list python options")
	}
	ex = mustExit(t, []string{"--socket", ":1", "--socket", ":2", "--get", "socket", "--get", "nope"}, nil)
	if ex.Code != 0 || ex.Stdout != ":1\n" {
		t.Errorf("--get: %+v", ex)
	}

	dir := t.TempDir()
	sleep := exec.Command("sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sleep.Wait() }()
	live := filepath.Join(dir, "live.pid")
	os.WriteFile(live, []byte(strconv.Itoa(sleep.Process.Pid)+"\n"), 0o644)
	ex = mustExit(t, []string{"--stop", live}, nil)
	if ex.Code != 0 {
		t.Errorf("--stop live pid: %+v", ex)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("sleep exited cleanly, want killed by SIGINT")
		}
	case <-time.After(5 * time.Second):
		sleep.Process.Kill()
		t.Error("--stop did not signal the process")
	}
	ex = mustExit(t, []string{"--reload", filepath.Join(dir, "missing.pid")}, nil)
	if ex.Code != 1 || !strings.Contains(ex.Stderr, "No such file or directory") {
		t.Errorf("--reload missing pidfile: %+v", ex)
	}
	// The sleep process is reaped, so its pid is dead now.
	ex = mustExit(t, []string{"--pause", live}, nil)
	if ex.Code != 255 || !strings.Contains(ex.Stderr, "No such process") {
		t.Errorf("--pause dead pid: %+v", ex)
	}
}

// TestConfigErrors covers CF-26, CF-37, CF-40, PL-6 and refused options.
func TestConfigErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"strict.ini":   "[uwsgi]\nstrict = true\nthis-is-not-an-option = 1\n",
		"strictok.ini": "[uwsgi]\nstrict = true\nset-placeholder = base=/srv\ndeclare-option = my=chdir=$1\nmy = /tmp\n",
		"ph.ini":       "[uwsgi]\nset-placeholder = processes=4\n",
		"set.ini":      "[uwsgi]\nset = novalue\n",
		"nest.ini":     "[uwsgi]\nfor = a b\nif-env = X\nendif =\nendfor =\n",
		"chroot.ini":   "[uwsgi]\nchroot = /jail\n",
		"php.ini":      "[uwsgi]\nplugins = php\n",
		"bad.json":     "{\"uwsgi\": [",
	})
	chdir(t, dir)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"strict.ini"}, 1, "[strict-mode] unknown config directive: this-is-not-an-option\n"},
		{[]string{"ph.ini"}, 1, "you cannot use %s as a placeholder, it is already available as an option\n"},
		{[]string{"set.ini"}, 1, "invalid placeholder/--set value\n"},
		{[]string{"nest.ini"}, 1, "recursive logic in options is not supported (option = if-env)\n"},
		{[]string{"bad.json"}, 1, "unable to load configuration from bad.json\n"},
		{[]string{"--ini", "http://example.com/x.ini"}, 1, "scheme is not supported"},
	} {
		ex := mustExit(t, tc.args, nil)
		if ex.Code != tc.code || !strings.Contains(ex.Stderr, tc.msg) {
			t.Errorf("%q: got %d %q, want %d %q", tc.args, ex.Code, ex.Stderr, tc.code, tc.msg)
		}
	}
	if _, err := Load([]string{"uwsgi", "strictok.ini"}, nil, nil); err != nil {
		t.Errorf("strict with placeholders and custom options: %v", err)
	}
	for _, f := range []string{"chroot.ini", "php.ini"} {
		_, err := Load([]string{"uwsgi", f}, nil, nil)
		var ex *Exit
		if err == nil || errors.As(err, &ex) || !strings.Contains(err.Error(), f) && f == "chroot.ini" {
			t.Errorf("%s: err = %v, want a refusal naming the file", f, err)
		}
	}
}

// TestWarningsAndPlugins covers PL-2, PL-3 and OP-300 warnings.
func TestWarningsAndPlugins(t *testing.T) {
	c, log := mustLoad(t, []string{"--thunder-lock", "--plugin", "python3,greenlet", "--wsgi-file", "app.py", "-H", "/venv"}, []string{"UWSGI_PLUGINS=http"})
	if got := c.Plugins(); !reflect.DeepEqual(got, []string{"http", "python3", "greenlet"}) {
		t.Errorf("Plugins() = %q", got)
	}
	w := strings.Join(c.Warnings(), "\n")
	if !strings.Contains(w, `option "thunder-lock" (command line): accepted, no effect because`) || !strings.Contains(w, "plugin greenlet") {
		t.Errorf("Warnings() = %q", w)
	}
	if c.String("home") != "/venv" {
		t.Errorf("-H = %q", c.String("home"))
	}
	_ = log
	var logb bytes.Buffer
	c, err := Load([]string{"/usr/bin/uwsgi_python311", "--module", "app"}, nil, &logb)
	if err != nil {
		t.Fatalf("uwsgi_python311 --module: %v", err)
	}
	if !strings.Contains(logb.String(), "[uwsgi] implicit plugin requested python311\n") || c.String("module") != "app" {
		t.Errorf("implicit plugin: log %q module %q", logb.String(), c.String("module"))
	}
}

// TestShowConfig covers CF-7 with a golden file.
func TestShowConfig(t *testing.T) {
	dir := writeFiles(t, map[string]string{"s.ini": "[uwsgi]\nbare\nm = true ; x\nk=a=b\nr = %(k)\n"})
	chdir(t, dir)
	c, log := mustLoad(t, []string{"--ini", "s.ini", "-T", "--chmod-socket", "--show-config"}, []string{"UWSGI_FOO_BAR=1"})
	var b bytes.Buffer
	b.WriteString(log)
	c.WriteShowConfig(&b)
	golden(t, "show-config.golden", b.Bytes())
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

var goldenDir = func() string { d, _ := filepath.Abs("testdata"); return d }()

// TestDebianDefaults covers DP-1 and distro-layout I-20/I-21: env-var
// options, declare-option under strict, %(deb-*) placeholders, scalar
// override and list accumulation across two --ini files.
func TestDebianDefaults(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"default.ini": "[uwsgi]\ndeclare-option = deb-confnamespace=$1\ndeclare-option = deb-confname=$1\nmaster = true\nworkers = 2\nno-orphans = true\npidfile = /run/uwsgi/%(deb-confnamespace)/%(deb-confname)/pid\nsocket = /run/uwsgi/%(deb-confnamespace)/%(deb-confname)/socket\nchown-socket = www-data\nchmod-socket = 660\nlog-date = true\nuid = www-data\ngid = www-data\n",
		"app1.ini":    "[uwsgi]\nstrict = true\nplugins = python3\nprocesses = 4\nuid = nobody\nsocket = 127.0.0.1:39031\n",
	})
	chdir(t, dir)
	env := []string{"UWSGI_DEB_CONFNAMESPACE=app", "UWSGI_DEB_CONFNAME=app1"}
	c, log := mustLoad(t, []string{"--ini", "default.ini", "--ini", "app1.ini", "--daemonize", "/var/log/uwsgi/app/app1.log"}, env)
	if got := c.List("socket"); !reflect.DeepEqual(got, []string{"/run/uwsgi/app/app1/socket", "127.0.0.1:39031"}) {
		t.Errorf("sockets = %q", got)
	}
	checks := map[string]string{"pidfile": "/run/uwsgi/app/app1/pid", "uid": "nobody", "gid": "www-data", "chmod-socket": "660", "daemonize": "/var/log/uwsgi/app/app1.log"}
	for k, want := range checks {
		if got := c.String(k); got != want {
			t.Errorf("String(%s) = %q, want %q", k, got, want)
		}
	}
	if c.Int("workers") != 4 || !c.Bool("master") || !c.Bool("no-orphans") {
		t.Errorf("workers %d master %t no-orphans %t", c.Int("workers"), c.Bool("master"), c.Bool("no-orphans"))
	}
	if !strings.Contains(log, "getting INI configuration from default.ini\n") || !strings.Contains(log, "from app1.ini\n") {
		t.Errorf("log = %q", log)
	}
	var b bytes.Buffer
	c.WriteShowConfig(&b)
	if strings.Contains(b.String(), "\napp1 = \n") {
		t.Errorf("--show-config lists declare-option expansions:\n%s", b.String())
	}
}

// Debian's default.ini declares deb-confnamespace=$1; a namespace that is
// also an option name ("test") must only set the placeholder (CF-27).
func TestDeclareOptionBareWord(t *testing.T) {
	dir := t.TempDir()
	ini := filepath.Join(dir, "d.ini")
	if err := os.WriteFile(ini, []byte("[uwsgi]\ndeclare-option = deb-confnamespace=$1\nsocket = /run/uwsgi/%(deb-confnamespace)/sock\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load([]string{"uwsgi", "--ini", ini}, []string{"UWSGI_DEB_CONFNAMESPACE=test"}, io.Discard)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := cfg.String("socket"); got != "/run/uwsgi/test/sock" {
		t.Errorf("socket = %q", got)
	}
	if cfg.Has("test") {
		t.Error("the namespace became an option")
	}
}
