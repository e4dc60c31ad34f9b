package emperor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	realUWSGI = "/usr/bin/uwsgi"
	python3   = "/usr/bin/python3"
)

// need fails the test when a real part is missing: these tests must
// never pass by skipping.
func need(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("required %s is missing: %v", p, err)
		}
	}
}

// waitFor polls cond for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// running is an emperor served in the test process.
type running struct {
	e       *Emperor
	log     *syncBuffer
	vlog    string // vassals' stdout/stderr
	sigs    chan os.Signal
	done    chan error
	stats   string
	stopped bool
}

func startEmperor(t *testing.T, s Settings, env []string) *running {
	t.Helper()
	dir := t.TempDir()
	r := &running{log: &syncBuffer{}, sigs: make(chan os.Signal, 4), done: make(chan error, 1),
		vlog: filepath.Join(dir, "vassals.log"), stats: filepath.Join(dir, "stats.sock")}
	out, err := os.Create(r.vlog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	s.Stats = r.stats
	if s.Freq == 0 {
		s.Freq = time.Second
	}
	if s.Throttle == 0 {
		s.Throttle, s.MaxThrottle = 100*time.Millisecond, 500*time.Millisecond
	}
	if s.CurseTolerance == 0 {
		s.CurseTolerance = 5 * time.Second
	}
	if env == nil {
		env = os.Environ()
	}
	r.e = &Emperor{Settings: s, Log: newTestLogger(r.log), Env: env, Stdout: out, Stderr: out}
	go func() { r.done <- r.e.Serve(r.sigs) }()
	t.Cleanup(func() { r.shutdown(t) })
	waitFor(t, 5*time.Second, "stats socket", func() bool { _, err := os.Stat(r.stats); return err == nil })
	return r
}

// shutdown brings Ragnarok and waits for Serve to return.
func (r *running) shutdown(t *testing.T) {
	t.Helper()
	if r.stopped {
		return
	}
	r.stopped = true
	r.sigs <- syscall.SIGINT
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("emperor did not stop; log:\n%s", r.log.String())
	}
}

func (r *running) vassalLog() string {
	b, _ := os.ReadFile(r.vlog)
	return string(b)
}

func (r *running) waitLog(t *testing.T, line string) {
	t.Helper()
	waitFor(t, 15*time.Second, fmt.Sprintf("log line %q\nemperor log:\n%s", line, r.log.String()), func() bool {
		return strings.Contains(r.log.String(), line)
	})
}

// statsDoc reads the emperor stats server.
func (r *running) statsDoc(t *testing.T) Stats {
	t.Helper()
	c, err := net.DialTimeout("unix", r.stats, 2*time.Second)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	var st Stats
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("stats JSON: %v\n%s", err, b)
	}
	return st
}

func (st Stats) vassal(name string) *VassalStats {
	for i := range st.Vassals {
		if st.Vassals[i].ID == name {
			return &st.Vassals[i]
		}
	}
	return nil
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func httpGet(url string) (string, error) {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func appPath(t *testing.T) string {
	p, err := filepath.Abs("testdata/app.py")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func vassalIni(app string, port int) string {
	return fmt.Sprintf("[uwsgi]\nplugin = python3\nhttp-socket = 127.0.0.1:%d\nwsgi-file = %s\nmaster = true\nprocesses = 1\n", port, app)
}

// TestLifecycleRealUWSGI runs real uWSGI 2.0 vassals under the emperor:
// a new file spawns one, a newer mtime reloads it in place, removal stops
// it, SIGHUP reloads all, and Ragnarok ends everything (T-04..T-09, DP-4).
func TestLifecycleRealUWSGI(t *testing.T) {
	need(t, realUWSGI, python3)
	dir := t.TempDir()
	r := startEmperor(t, Settings{Sources: []string{dir}, Binary: realUWSGI}, nil)

	port := freePort(t)
	ini := filepath.Join(dir, "a.ini")
	if err := os.WriteFile(ini, []byte(vassalIni(appPath(t), port)), 0o644); err != nil {
		t.Fatal(err)
	}
	r.waitLog(t, "[emperor] vassal a.ini has been spawned")
	r.waitLog(t, "[emperor] vassal a.ini is ready to accept requests")
	waitFor(t, 10*time.Second, "the vassal to answer", func() bool {
		body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/groups", port))
		return err == nil && strings.HasPrefix(body, "uid=")
	})
	if !strings.Contains(r.vassalLog(), "*** has_emperor mode detected (fd: 3) ***") {
		t.Errorf("vassal did not see UWSGI_EMPEROR_FD:\n%s", r.vassalLog())
	}
	st := r.statsDoc(t)
	v := st.vassal("a.ini")
	if v == nil || v.Ready != 1 || v.Accepting != 1 || v.Monitor != dir || len(st.Emperor) != 1 {
		t.Fatalf("stats: %+v", st)
	}
	pid := v.PID

	// Newer mtime: graceful reload, same master pid (T-04).
	future := time.Now().Add(2 * time.Second)
	os.Chtimes(ini, future, future)
	r.waitLog(t, "[emperor] reload the uwsgi instance a.ini")
	waitFor(t, 10*time.Second, "vassal reload", func() bool {
		return strings.Contains(r.vassalLog(), "received message 1 from emperor")
	})
	r.waitLog(t, "[emperor] vassal a.ini is ready to accept requests")
	if st := r.statsDoc(t); st.vassal("a.ini") == nil || st.vassal("a.ini").PID != pid || st.vassal("a.ini").Respawns != 1 {
		t.Errorf("after reload: %+v (want pid %d, 1 respawn)", st.vassal("a.ini"), pid)
	}

	// SIGHUP reloads every vassal (T-09).
	before := strings.Count(r.log.String(), "reload the uwsgi instance a.ini")
	r.sigs <- syscall.SIGHUP
	waitFor(t, 5*time.Second, "SIGHUP reload", func() bool {
		return strings.Count(r.log.String(), "reload the uwsgi instance a.ini") > before
	})

	// Removal stops it (T-04).
	os.Remove(ini)
	r.waitLog(t, "[emperor] stop the uwsgi instance a.ini")
	r.waitLog(t, "[emperor] removed uwsgi instance a.ini")
	if strings.Contains(r.log.String(), "curse the uwsgi instance a.ini") {
		t.Error("a vassal stopped on request must not be cursed")
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("vassal master %d still alive after removal", pid)
	}
	if !strings.Contains(r.vassalLog(), "received message 0 from emperor") {
		t.Errorf("vassal log lacks the stop message:\n%s", r.vassalLog())
	}

	// Ragnarok with a vassal running (T-05).
	port2 := freePort(t)
	os.WriteFile(filepath.Join(dir, "b.ini"), []byte(vassalIni(appPath(t), port2)), 0o644)
	r.waitLog(t, "[emperor] vassal b.ini is ready to accept requests")
	pid2 := r.statsDoc(t).vassal("b.ini").PID
	r.shutdown(t)
	log := r.log.String()
	for _, l := range []string{"[emperor] *** RAGNAROK EVOKED ***", "[emperor] stop the uwsgi instance b.ini", "[emperor] removed uwsgi instance b.ini", "The Emperor is buried."} {
		if !strings.Contains(log, l) {
			t.Errorf("log lacks %q:\n%s", l, log)
		}
	}
	if err := syscall.Kill(pid2, 0); err == nil {
		t.Errorf("vassal %d survived Ragnarok", pid2)
	}
}

// fakeVassal returns a wrapper that runs testdata/fakevassal.py, copied
// with its interpreter call into dir so that any user can run it.
func fakeVassal(t *testing.T, dir string) string {
	t.Helper()
	src, err := os.ReadFile("testdata/fakevassal.py")
	if err != nil {
		t.Fatal(err)
	}
	py := filepath.Join(dir, "fakevassal.py")
	if err := os.WriteFile(py, src, 0o644); err != nil {
		t.Fatal(err)
	}
	sh := filepath.Join(dir, "fakevassal")
	if err := os.WriteFile(sh, []byte("#!/bin/sh\nexec "+python3+" "+py+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return sh
}

func readReport(t *testing.T, path string) map[string]any {
	t.Helper()
	var doc map[string]any
	waitFor(t, 10*time.Second, "report "+path, func() bool {
		b, err := os.ReadFile(path)
		return err == nil && json.Unmarshal(b, &doc) == nil
	})
	return doc
}

// TestBadInput: a vassal that cannot start is respawned with a growing
// delay and logged, a directory that disappears is reported once, and
// the other vassals are not disturbed.
func TestBadInput(t *testing.T) {
	need(t, realUWSGI, python3)
	dir, other := t.TempDir(), t.TempDir()
	tools := t.TempDir()
	reports := t.TempDir()
	env := append(os.Environ(), "FAKE_REPORT_DIR="+reports)
	fake := fakeVassal(t, tools)
	// Vassals named crash* exit at once, like one whose config is broken.
	crashWrapper := filepath.Join(tools, "crashing")
	os.WriteFile(crashWrapper, []byte("#!/bin/sh\ncase \"$2\" in crash*) exit 1;; esac\nexec "+fake+" \"$@\"\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "good.ini"), []byte("[uwsgi]\n"), 0o644)
	os.WriteFile(filepath.Join(other, "kept.ini"), []byte("[uwsgi]\n"), 0o644)

	r := startEmperor(t, Settings{Sources: []string{dir, other}, Binary: crashWrapper,
		Throttle: 200 * time.Millisecond, MaxThrottle: 600 * time.Millisecond}, env)
	r.waitLog(t, "[emperor] vassal good.ini is ready to accept requests")
	r.waitLog(t, "[emperor] vassal kept.ini is ready to accept requests")
	goodPid := r.statsDoc(t).vassal("good.ini").PID
	os.WriteFile(filepath.Join(dir, "crash.ini"), []byte("[uwsgi]\n"), 0o644)
	r.waitLog(t, "[emperor] curse the uwsgi instance crash.ini")
	r.waitLog(t, "[emperor] unloyal bad behaving vassal found: crash.ini throttling it...")
	time.Sleep(3 * time.Second)
	curses := strings.Count(r.log.String(), "curse the uwsgi instance crash.ini")
	// Backoff 0, 0.2, 0.4, 0.6 s then halving at the maximum: within
	// ~4 s a crash loop gets a handful of tries, never hundreds.
	if curses < 3 || curses > 15 {
		t.Errorf("%d spawns of the crashing vassal in about 4s; log:\n%s", curses, r.log.String())
	}
	st := r.statsDoc(t)
	if len(st.Blacklist) != 1 || st.Blacklist[0].ID != "crash.ini" {
		t.Errorf("blacklist %+v", st.Blacklist)
	}

	// The other directory vanishes: logged once, its vassal is kept.
	if err := os.RemoveAll(other); err != nil {
		t.Fatal(err)
	}
	r.waitLog(t, "[emperor] cannot scan "+other)
	time.Sleep(2500 * time.Millisecond)
	if n := strings.Count(r.log.String(), "[emperor] cannot scan "+other); n != 1 {
		t.Errorf("missing directory reported %d times", n)
	}
	st = r.statsDoc(t)
	if st.vassal("kept.ini") == nil {
		t.Errorf("vassal of the vanished directory was stopped: %+v", st.Vassals)
	}
	if v := st.vassal("good.ini"); v == nil || v.PID != goodPid {
		t.Errorf("good vassal disturbed: %+v (pid was %d)", v, goodPid)
	}
	// Not a config, not a vassal.
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	time.Sleep(1500 * time.Millisecond)
	if r.statsDoc(t).vassal("notes.txt") != nil {
		t.Error("notes.txt became a vassal")
	}
}

// TestManyVassals: hundreds of files start paced (no fork storm) and all
// come up; Ragnarok stops them all.
func TestManyVassals(t *testing.T) {
	dir, tools := t.TempDir(), t.TempDir()
	sh := filepath.Join(tools, "tiny")
	// A minimal vassal: report spawned and accepting, exit on any byte.
	os.WriteFile(sh, []byte("#!/bin/sh\nprintf '\\001\\005' >&3\nexec head -c1 <&3 >/dev/null\n"), 0o755)
	const n = 200
	for i := 0; i < n; i++ {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("v%03d.ini", i)), []byte("[uwsgi]\n"), 0o644)
	}
	start := time.Now()
	r := startEmperor(t, Settings{Sources: []string{dir}, Binary: sh, Throttle: 100 * time.Millisecond, MaxThrottle: time.Second}, nil)
	var first time.Duration
	waitFor(t, 60*time.Second, "all vassals", func() bool {
		c := len(r.statsDoc(t).Vassals)
		if c > 0 && first == 0 {
			first = time.Since(start)
		}
		return c == n
	})
	took := time.Since(start)
	// Paced at most 10 ms apart once spawns come back to back: 200
	// vassals need more than one second.
	if took < time.Second {
		t.Errorf("%d vassals started in %s: spawns are not paced", n, took)
	}
	r.shutdown(t)
	if got := strings.Count(r.log.String(), "] removed uwsgi instance"); got != n {
		t.Errorf("%d vassals removed at Ragnarok, want %d", got, n)
	}
}

// TestInvalidConfigRealUWSGI: real uWSGI refuses a vassal file that is
// not a usable config and exits; the emperor curses and throttles it
// while a good vassal keeps serving (spec "bad input").
func TestInvalidConfigRealUWSGI(t *testing.T) {
	need(t, realUWSGI, python3)
	dir := t.TempDir()
	port := freePort(t)
	os.WriteFile(filepath.Join(dir, "good.ini"), []byte(vassalIni(appPath(t), port)), 0o644)
	r := startEmperor(t, Settings{Sources: []string{dir}, Binary: realUWSGI}, nil)
	r.waitLog(t, "[emperor] vassal good.ini is ready to accept requests")
	os.WriteFile(filepath.Join(dir, "bad.ini"), []byte("[uwsgi]\nfoo\n=bar\n[[["), 0o644)
	r.waitLog(t, "[emperor] curse the uwsgi instance bad.ini (pid: ")
	r.waitLog(t, "[emperor] unloyal bad behaving vassal found: bad.ini throttling it...")
	if body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", port)); err != nil || !strings.HasPrefix(body, "uid=") {
		t.Errorf("good vassal: %q %v", body, err)
	}
}

// TestOnDemandRealUWSGI: with emperor-on-demand-directory the emperor
// holds DIR/<name>.socket and starts the real uWSGI vassal on the first
// connection, the socket passed as its stdin; a vassal that dies goes
// back to waiting, and removing the file closes the socket (T-20).
func TestOnDemandRealUWSGI(t *testing.T) {
	need(t, realUWSGI, python3)
	dir, sockDir := t.TempDir(), t.TempDir()
	r := startEmperor(t, Settings{Sources: []string{dir}, Binary: realUWSGI, OnDemandDir: sockDir}, nil)
	ini := fmt.Sprintf("[uwsgi]\nplugin = python3\nwsgi-file = %s\nmaster = true\nprocesses = 1\nprotocol = http\n", appPath(t))
	os.WriteFile(filepath.Join(dir, "app.ini"), []byte(ini), 0o644)
	sock := filepath.Join(sockDir, "app.socket")
	r.waitLog(t, fmt.Sprintf(`[uwsgi-emperor] app.ini -> "on demand" instance detected, waiting for connections on socket "%s" ...`, sock))
	if v := r.statsDoc(t).vassal("app.ini"); v == nil || v.PID != -1 || v.OnDemand != sock {
		t.Fatalf("waiting vassal in stats: %+v", v)
	}
	if strings.Contains(r.log.String(), "has been spawned") {
		t.Fatal("on-demand vassal started before any connection")
	}
	client := http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
		DisableKeepAlives: true,
	}}
	get := func() string {
		t.Helper()
		resp, err := client.Get("http://app/")
		if err != nil {
			t.Fatalf("request on the on-demand socket: %v\nlog:\n%s", err, r.log.String())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if body := get(); !strings.HasPrefix(body, "uid=") {
		t.Errorf("first request: %q", body)
	}
	r.waitLog(t, "[emperor] vassal app.ini has been spawned")
	if !strings.Contains(r.vassalLog(), "inherited UNIX address "+sock+" fd 0") {
		t.Errorf("vassal did not take the socket from stdin:\n%s", r.vassalLog())
	}
	pid := r.statsDoc(t).vassal("app.ini").PID
	syscall.Kill(pid, syscall.SIGKILL)
	r.waitLog(t, fmt.Sprintf(`[uwsgi-emperor] app.ini -> back to "on demand" mode, waiting for connections on socket "%s" ...`, sock))
	if body := get(); !strings.HasPrefix(body, "uid=") {
		t.Errorf("request after the vassal died: %q", body)
	}
	os.Remove(filepath.Join(dir, "app.ini"))
	r.waitLog(t, "[emperor] removed uwsgi instance app.ini")
	waitFor(t, 5*time.Second, "socket removal", func() bool { _, err := os.Stat(sock); return err != nil })
}

// TestWrappersHeartbeatAndUSR1: emperor-wrapper-override and -fallback
// are tried around a missing binary; a vassal whose heartbeat stops is
// killed and respawned (emperor-required-heartbeat); SIGUSR1 lists the
// vassals.
func TestWrappersHeartbeatAndUSR1(t *testing.T) {
	dir, tools := t.TempDir(), t.TempDir()
	tiny := filepath.Join(tools, "tiny")
	// Spawned, accepting, one heartbeat, then silence until told to stop.
	os.WriteFile(tiny, []byte("#!/bin/sh\nprintf '\\001\\005\\032' >&3\nexec head -c1 <&3 >/dev/null\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "hb.ini"), []byte("[uwsgi]\n"), 0o644)
	r := startEmperor(t, Settings{Sources: []string{dir}, Binary: "/nonexistent/uwsgi",
		WrapperOverride: []string{"/nonexistent/override"}, WrapperFallback: []string{"/nonexistent/fb", tiny},
		RequiredHeartbeat: time.Second}, nil)
	r.waitLog(t, "[emperor] trying to use /nonexistent/override as binary wrapper ...")
	r.waitLog(t, "[emperor] trying to use "+tiny+" as binary fallback ...")
	r.waitLog(t, "[emperor] vassal hb.ini is ready to accept requests")
	r.sigs <- syscall.SIGUSR1
	r.waitLog(t, "vassal instance hb.ini (last modified ")
	r.waitLog(t, "[emperor] vassal hb.ini sent no heartbeat in last 1 seconds, brutally respawning it...")
	r.waitLog(t, "[emperor] curse the uwsgi instance hb.ini")
	waitFor(t, 10*time.Second, "respawn", func() bool {
		return strings.Count(r.log.String(), "[emperor] vassal hb.ini is ready to accept requests") >= 2
	})
}
