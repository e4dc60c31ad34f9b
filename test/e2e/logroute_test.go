package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Run-dependent parts of a log line: pids, dates, durations, epoch values.
var (
	logPidRE   = regexp.MustCompile(`pid: \d+`)
	logMsecsRE = regexp.MustCompile(` in \d+ msecs`)
	logEpochRE = regexp.MustCompile(`\b1\d{9}(\d{3}){0,2}\b`)
)

func normaliseLog(s string) string {
	s = logPidRE.ReplaceAllString(s, "pid: <PID>")
	s = reqDateRE.ReplaceAllString(s, " [<DATE>] ")
	s = logMsecsRE.ReplaceAllString(s, " in <T> msecs")
	return logEpochRE.ReplaceAllString(s, "<EPOCH>")
}

// readLogFile returns a log file's lines, "" for a file never created
// (uWSGI's file logger opens its file at the first line), without the
// "[log-encoder] registered" lines uWSGI prints on its stdout.
func readLogFile(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l != "" && !strings.HasPrefix(l, "[log-encoder] registered") {
			out = append(out, normaliseLog(l))
		}
	}
	return out
}

// waitLogFile waits until a file holds a line containing want.
func waitLogFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(RequestTimeout)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never held %q:\n%s", path, want, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// linesWith keeps the lines that contain one of the markers.
func linesWith(lines []string, markers ...string) []string {
	var out []string
	for _, l := range lines {
		for _, m := range markers {
			if strings.Contains(l, m) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

// TestLogEncodersMatchUWSGI: LG-25 encoders against the real uWSGI, byte
// for byte once pids, dates and clocks are masked: format with ${msg} and
// ${msgnl}, json with uWSGI's escaping (quotes, backslash, newline, CR,
// TAB; other bytes raw), prefix, suffix after the line's newline, nl, on an
// app's raw stderr line and on the request line.
func TestLogEncodersMatchUWSGI(t *testing.T) {
	setup := Setup{Args: []string{"--plugin", "python3", "--master", "--processes", "1",
		"--http-socket", "{http}", "--wsgi-file", "{apps}/logmark.py", "--logto", "{dir}/main.log",
		"--log-encoder", "format [${msg}]${msgnl}",
		"--log-encoder", `json {"m":"${msg}","n":"${msgnl}","t":${unix},"ms":${millis},"us":${micros},"x":"${unknown}"}`,
		"--log-encoder", "prefix >>",
		"--log-encoder", "suffix <<",
		"--log-encoder", "nl"}, Ready: "-"}
	Differential(t, setup, func(t *testing.T, e *Env) any {
		logPath := filepath.Join(e.Addr("dir"), "main.log")
		waitLogFile(t, logPath, "spawned uWSGI worker 1")
		Do(t, e.Addr("http"), Get("/mark"))
		waitLogFile(t, logPath, "GET /mark")
		return linesWith(readLogFile(t, logPath), "MARK", "GET /mark", "spawned uWSGI worker")
	})
}

// TestLogRoutesMatchUWSGI: named loggers, log-route, an encoder for one
// logger, log-drain and log-filter (LG-24, LG-25): each file receives what
// the real uWSGI's receives.
func TestLogRoutesMatchUWSGI(t *testing.T) {
	setup := Setup{Args: []string{"--plugin", "python3,logfile", "--master", "--processes", "1",
		"--http-socket", "{http}", "--wsgi-file", "{apps}/logmark.py", "--logto", "{dir}/main.log",
		"--logger", "marks file:{dir}/marks.log", "--logger", "reqs file:{dir}/reqs.log",
		"--log-route", "marks ^MARK", "--log-route", "reqs GET /", "--log-encoder", "prefix:marks [M]",
		"--log-drain", "DRAIN", "--log-filter", "MARK|GET|spawned uWSGI worker"}, Ready: "-"}
	Differential(t, setup, func(t *testing.T, e *Env) any {
		dir := e.Addr("dir")
		waitLogFile(t, filepath.Join(dir, "main.log"), "spawned uWSGI worker 1")
		for _, p := range []string{"/one", "/DRAIN", "/two"} {
			Do(t, e.Addr("http"), Get(p))
		}
		waitLogFile(t, filepath.Join(dir, "reqs.log"), "GET /two")
		waitLogFile(t, filepath.Join(dir, "marks.log"), "MARK /two")
		out := map[string][]string{}
		for _, f := range []string{"main.log", "marks.log", "reqs.log"} {
			out[f] = readLogFile(t, filepath.Join(dir, f))
		}
		return out
	})
}

// TestReqLoggerEncodersMatchUWSGI: log-req-encoder applies to the
// req-logger's request lines only, ENCODER:NAME to the logger so named.
func TestReqLoggerEncodersMatchUWSGI(t *testing.T) {
	setup := Setup{Args: []string{"--plugin", "python3,logfile", "--master", "--processes", "1",
		"--http-socket", "{http}", "--wsgi-file", "{apps}/logmark.py", "--logto", "{dir}/main.log",
		"--req-logger", "file:{dir}/req.log", "--log-req-encoder", "prefix:other [O]",
		"--log-req-encoder", "format <${msg}>", "--log-req-encoder", "nl"}, Ready: "-"}
	Differential(t, setup, func(t *testing.T, e *Env) any {
		dir := e.Addr("dir")
		waitLogFile(t, filepath.Join(dir, "main.log"), "spawned uWSGI worker 1")
		Do(t, e.Addr("http"), Get("/r"))
		waitLogFile(t, filepath.Join(dir, "req.log"), "GET /r")
		waitLogFile(t, filepath.Join(dir, "main.log"), "MARK /r")
		return map[string][]string{
			"req.log":  readLogFile(t, filepath.Join(dir, "req.log")),
			"main.log": linesWith(readLogFile(t, filepath.Join(dir, "main.log")), "MARK", "GET"),
		}
	})
}

// TestLogRouterSurvivesReload: the pipe outlives a graceful reload (the
// old worker's and the new one's lines are routed) and the last lines,
// goodbye included, are written before the master exits.
func TestLogRouterSurvivesReload(t *testing.T) {
	RequireTools(t)
	e := NewEnv(t, Impl{Name: "gosgi", Bin: GosgiBin(t)}, Setup{Ready: "-", Args: []string{"--plugin", "python3",
		"--master", "--processes", "1", "--http-socket", "{http}", "--wsgi-file", "{apps}/logmark.py",
		"--logto", "{dir}/main.log", "--log-encoder", "prefix [R] "}})
	logPath := filepath.Join(e.Addr("dir"), "main.log")
	waitLogFile(t, logPath, "[R] spawned uWSGI worker 1")
	Do(t, e.Addr("http"), Get("/before"))
	e.Srv.Signal(t, syscall.SIGHUP) // graceful reload
	waitLogFile(t, logPath, "[R] gracefully (RE)spawned uWSGI master process")
	waitLogFile(t, logPath, "[R] spawned uWSGI worker 1")
	Do(t, e.Addr("http"), Get("/after"))
	waitLogFile(t, logPath, "[R] MARK /after")
	if code := e.Srv.Stop(t); code != 0 {
		t.Errorf("exit code %d", code)
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l != "" && !strings.HasPrefix(l, "[R] ") {
			t.Errorf("line not routed: %q", l)
		}
	}
	for _, want := range []string{"[R] MARK /before", "[R] binary reloading uWSGI...", "[R] MARK /after", "[R] goodbye to uWSGI."} {
		if !strings.Contains(string(b), want) {
			t.Errorf("log lacks %q:\n%s", want, b)
		}
	}
}
