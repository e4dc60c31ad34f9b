package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAddHeaderAndLogFilters: add-header on every response; with
// disable-logging, log-5xx still logs the failing request only (LG-5).
func TestAddHeaderAndLogFilters(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--processes", "1", "--http-socket", "{http}",
		"--wsgi-file", "{apps}/router.py", "--add-header", "X-Frame-Options: DENY",
		"--disable-logging", "--log-5xx"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		r := Do(t, e.Addr("http"), Get("/hello"))
		if got := r.Header("X-Frame-Options"); len(got) != 1 || got[0] != "DENY" {
			t.Errorf("X-Frame-Options = %q", got)
		}
		RawExchange(e.Addr("http"), []byte(Get("/raise_early")))
		e.Srv.WaitLog(t, `GET /raise_early => generated 0 bytes in \d+ msecs \(HTTP/1\.1 500\)`, StartTimeout)
		time.Sleep(200 * time.Millisecond)
		lines := RequestLines(e.Srv.Log())
		if len(lines) != 1 || !strings.Contains(lines[0], "/raise_early") {
			t.Errorf("request lines %q, want only the 500", lines)
		}
		return Summarise(r, "Date")
	})
}

// TestLoggers: logger = file:... takes the instance's log and req-logger
// = file:... the request lines only (LG-24); the logfile plugin is built
// into gosgi.
func TestLoggers(t *testing.T) {
	dir := t.TempDir()
	all, req := filepath.Join(dir, "all.log"), filepath.Join(dir, "req.log")
	RequireTools(t)
	// The log goes to the file: readiness is read there, not on stderr.
	e := NewEnv(t, Impl{Name: "gosgi", Bin: GosgiBin(t)}, Setup{Ready: "-",
		Args: helloArgs("--processes", "1", "--logger", "file:"+all, "--req-logger", "file:"+req)})
	deadline := time.Now().Add(StartTimeout)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(all); strings.Contains(string(b), "spawned uWSGI worker 1") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantHello(t, e.Addr("http"))
	var reqs string
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(req)
		if reqs = string(b); strings.Contains(reqs, "GET /") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(reqs, "] GET / => generated") {
		t.Errorf("req-logger file has %q", reqs)
	}
	b, _ := os.ReadFile(all)
	if !strings.Contains(string(b), "spawned uWSGI master process") || strings.Contains(string(b), "GET /") {
		t.Errorf("logger file must have the server messages and no request line:\n%s", b)
	}
}

// TestLogMaxsize: log-maxsize rotates the logto file (LG-25); every process
// keeps logging into the same, truncated file.
func TestLogMaxsize(t *testing.T) {
	RequireTools(t)
	logfile := filepath.Join(t.TempDir(), "app.log")
	e := NewEnv(t, Impl{Name: "gosgi", Bin: GosgiBin(t)}, Setup{Ready: "-",
		Args: helloArgs("--processes", "1", "--logto", logfile, "--log-maxsize", "3000")})
	deadline := time.Now().Add(3 * StartTimeout)
	var rotated []string
	for len(rotated) == 0 && time.Now().Before(deadline) {
		RawExchange(e.Addr("http"), []byte(Get("/")))
		time.Sleep(50 * time.Millisecond)
		rotated, _ = filepath.Glob(logfile + ".*")
	}
	if len(rotated) == 0 {
		t.Fatal("the log was never rotated")
	}
	b, _ := os.ReadFile(rotated[0])
	if !strings.Contains(string(b), "logsize: ") || !strings.Contains(string(b), "] GET / =>") {
		t.Errorf("rotated file lacks the rotation line or the requests:\n%s", tail(string(b)))
	}
	before, _ := os.Stat(logfile)
	for i := 0; i < 3; i++ {
		RawExchange(e.Addr("http"), []byte(Get("/")))
	}
	time.Sleep(200 * time.Millisecond)
	after, _ := os.Stat(logfile)
	if after.Size() <= before.Size() {
		t.Errorf("the workers stopped logging into %s after the rotation", logfile)
	}
}
