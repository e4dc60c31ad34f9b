package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHarakiriVerbose: PM-41, harakiri-verbose adds the stuck thread's
// system call and kernel wait channel right after the HARAKIRI ON WORKER
// line (a request in time.sleep: clock_nanosleep, hrtimer_nanosleep).
func TestHarakiriVerbose(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--processes", "1", "--http-socket", "{http}",
		"--wsgi-file", "{apps}/router.py", "--harakiri", "1", "--harakiri-verbose"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		workerPids(t, e.Srv, 1)
		RawExchange(e.Addr("http"), []byte(Get("/slow?s=10")))
		e.Srv.WaitLog(t, `Respawned uWSGI worker 1 `, StartTimeout)
		block := regexp.MustCompile(`(?m)HARAKIRI ON WORKER 1 \(pid: \d+, try: 1\) \*\*\*\n` +
			`HARAKIRI: -- syscall> (\d+)( 0x[0-9a-f]+){8}\n` +
			`HARAKIRI: -- wchan> (\S+)\n`).FindStringSubmatch(e.Srv.Log())
		if block == nil {
			t.Fatalf("no harakiri-verbose block; log:\n%s", tail(e.Srv.Log()))
		}
		return map[string]string{"syscall": block[1], "wchan": block[3]}
	})
}

// TestWorkerSegfault: a worker that segfaults in C code (a C extension;
// here ctypes) is logged as uWSGI logs it ("got Segmentation Fault", a
// backtrace, "died"), respawned, and its client sees the connection
// closed without a reply; the other requests are served throughout.
func TestWorkerSegfault(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--processes", "2", "--http-socket", "{http}",
		"--wsgi-file", "{apps}/crash.py"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		workerPids(t, e.Srv, 2)
		raw, err := RawExchange(e.Addr("http"), []byte(Get("/crash")))
		res := map[string]any{"crash_reply": string(raw), "crash_reset": err != nil && isReset(err)}
		m := e.Srv.WaitLog(t, `!!! uWSGI process (\d+) got Segmentation Fault !!!`, StartTimeout)
		pid := m[1]
		e.Srv.WaitLog(t, fmt.Sprintf(`(?m)^\*\*\* backtrace of %s \*\*\*\n(.+\n)+\*\*\* end of backtrace \*\*\*$`, pid), StartTimeout)
		died := e.Srv.WaitLog(t, fmt.Sprintf(`DAMN ! worker (\d) \(pid: %s\) died :\( trying respawn \.\.\.`, pid), StartTimeout)
		e.Srv.WaitLog(t, fmt.Sprintf(`Respawned uWSGI worker %s \(new pid: \d+\)`, died[1]), StartTimeout)
		served := 0
		for i := 0; i < 4; i++ {
			if r := Do(t, e.Addr("http"), Get("/")); string(r.Body) == "ok\n" {
				served++
			}
		}
		res["served_after"] = served
		res["exit"] = e.Srv.Stop(t)
		return res
	})
}

// waitServing waits until addr answers "/" with a 200, for instances
// whose log cannot be watched.
func waitServing(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(StartTimeout)
	for {
		raw, err := RawExchange(addr, []byte(Get("/")))
		if err == nil && strings.Contains(string(raw), " 200 ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not serving within %v (%v)", addr, StartTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLogOnFullDisk: `logto = /dev/full`, every log write fails: the
// instance still starts and serves. uWSGI says nothing about the lost
// log; gosgi says it once on the stderr it was started with.
func TestLogOnFullDisk(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--processes", "1", "--http-socket", "{http}",
		"--wsgi-file", "{apps}/crash.py", "--logto", "/dev/full"}
	Differential(t, Setup{Args: args, Ready: "-"}, func(t *testing.T, e *Env) any {
		waitServing(t, e.Addr("http"))
		served := 0
		for i := 0; i < 5; i++ {
			if r := Do(t, e.Addr("http"), Get("/")); string(r.Body) == "ok\n" {
				served++
			}
		}
		exit := e.Srv.Stop(t)
		if e.Impl.Name == "gosgi" {
			n := strings.Count(e.Srv.Log(), "*** gosgi: cannot write the log /dev/full: ")
			if n != 1 {
				t.Errorf("%d reports of the failing log on stderr, want 1; stderr:\n%s", n, tail(e.Srv.Log()))
			}
		}
		return map[string]any{"served": served, "exit": exit}
	})
}
