package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// processAlive reports whether pid exists (signal 0 probes without sending).
func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// WaitFileMatch waits until the file at path matches pattern, for files
// written by processes the harness does not wait on (daemonize).
func WaitFileMatch(t testing.TB, path, pattern string, timeout time.Duration) []string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(path)
		if m := re.FindStringSubmatch(string(b)); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q not seen in %s within %v; content:\n%s", pattern, path, timeout, tail(string(b)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func helloArgs(extra ...string) []string {
	return append([]string{"--plugin", "python3", "--master", "--http-socket", "{http}",
		"--wsgi-file", "{apps}/hello.py"}, extra...)
}

func workerPids(t *testing.T, s *Server, n int) map[int]int {
	t.Helper()
	m := s.WaitLogCount(t, `spawned uWSGI worker (\d+) \(pid: (\d+), cores: \d+\)`, n, StartTimeout)
	pids := map[int]int{}
	for _, x := range m {
		id, _ := strconv.Atoi(x[1])
		pid, _ := strconv.Atoi(x[2])
		pids[id] = pid
	}
	return pids
}

func wantHello(t *testing.T, addr string) {
	t.Helper()
	r := Do(t, addr, Get("/"))
	if string(r.Body) != "Hello, World!\n" {
		t.Errorf("reply %q, want the hello body", r.Raw)
	}
}

// TestMasterShutdownAndPidfile: PM-24 SIGINT shutdown (exit 0, goodbye line,
// workers gone), pidfile content and mode (PM-2), PM-3 mode line.
func TestMasterShutdownAndPidfile(t *testing.T) {
	Differential(t, Setup{Args: helloArgs("--processes", "2", "--pidfile", "{dir}/app.pid")}, func(t *testing.T, e *Env) any {
		pids := workerPids(t, e.Srv, 2)
		wantHello(t, e.Addr("http"))
		pidfile := filepath.Join(e.Vars["dir"], "app.pid")
		b, err := os.ReadFile(pidfile)
		if err != nil {
			t.Fatalf("pidfile: %v", err)
		}
		if got, want := string(b), fmt.Sprintf("%d\n", e.Srv.Pid()); got != want {
			t.Errorf("pidfile holds %q, want %q", got, want)
		}
		fi, err := os.Stat(pidfile)
		if err != nil {
			t.Fatalf("stat pidfile: %v", err)
		}
		code := e.Srv.Stop(t)
		if code != 0 {
			t.Errorf("exit %d after SIGINT, want 0", code)
		}
		for _, pid := range pids {
			waitGone(t, pid, StopTimeout)
		}
		log := e.Srv.Log()
		var lines []string
		for _, w := range []string{"*** Operational MODE: preforking ***", "SIGINT/SIGTERM received...killing workers...",
			"goodbye to uWSGI.", fmt.Sprintf("spawned uWSGI master process (pid: %d)", e.Srv.Pid())} {
			if !LogHasLine(log, w) {
				t.Errorf("log lacks %q", w)
			}
			lines = append(lines, strings.ReplaceAll(w, strconv.Itoa(e.Srv.Pid()), "<PID>"))
		}
		return map[string]any{"exit": code, "pidfile_mode": fi.Mode().Perm().String(), "workers": len(pids), "log": lines}
	})
}

// TestMasterReloadOnSIGHUP: PM-20 graceful reload keeps the pid, re-spawns
// workers and keeps answering.
func TestMasterReloadOnSIGHUP(t *testing.T) {
	Differential(t, Setup{Args: helloArgs("--processes", "2")}, func(t *testing.T, e *Env) any {
		before := workerPids(t, e.Srv, 2)
		wantHello(t, e.Addr("http"))
		e.Srv.Signal(t, syscall.SIGHUP)
		e.Srv.WaitLog(t, regexp.QuoteMeta(fmt.Sprintf("gracefully (RE)spawned uWSGI master process (pid: %d)", e.Srv.Pid())), StartTimeout)
		after := workerPids(t, e.Srv, 4)
		for id, pid := range before {
			if after[id] == pid {
				t.Errorf("worker %d kept pid %d across the reload", id, pid)
			}
		}
		if e.Srv.Exited() {
			t.Fatalf("master exited on SIGHUP")
		}
		wantHello(t, e.Addr("http"))
		log := e.Srv.Log()
		var seen []string
		for _, w := range []string{"...gracefully killing workers...", "binary reloading uWSGI...",
			"gracefully (RE)spawned uWSGI master process"} {
			if LogHasLine(log, w) {
				seen = append(seen, w)
			} else {
				t.Errorf("log lacks %q", w)
			}
		}
		if code := e.Srv.Stop(t); code != 0 {
			t.Errorf("exit %d after SIGINT, want 0", code)
		}
		return seen
	})
}

// TestWorkerRespawn: a worker killed by SIGKILL is reported (PM-10) and
// replaced under the same id (PM-9); requests keep being answered.
func TestWorkerRespawn(t *testing.T) {
	Differential(t, Setup{Args: helloArgs("--processes", "2")}, func(t *testing.T, e *Env) any {
		pids := workerPids(t, e.Srv, 2)
		if err := syscall.Kill(pids[2], syscall.SIGKILL); err != nil {
			t.Fatalf("kill worker 2: %v", err)
		}
		died := fmt.Sprintf("DAMN ! worker 2 (pid: %d) died, killed by signal 9 :( trying respawn ...", pids[2])
		e.Srv.WaitLog(t, regexp.QuoteMeta(died), StartTimeout)
		m := e.Srv.WaitLog(t, `Respawned uWSGI worker 2 \(new pid: (\d+)\)`, StartTimeout)
		newPid, _ := strconv.Atoi(m[1])
		if newPid == pids[2] || !processAlive(newPid) {
			t.Errorf("respawned worker pid %d (old %d) is not a live new process", newPid, pids[2])
		}
		for i := 0; i < 4; i++ {
			wantHello(t, e.Addr("http"))
		}
		if code := e.Srv.Stop(t); code != 0 {
			t.Errorf("exit %d after SIGINT, want 0", code)
		}
		return []string{"DAMN ! worker 2 (pid: <PID>) died, killed by signal 9 :( trying respawn ...", "Respawned uWSGI worker 2 (new pid: <PID>)"}
	})
}

// TestProcessesAndThreads: PM-3 mode lines, PM-8 cores in the spawn line,
// PY-21 wsgi.multithread / wsgi.multiprocess / uwsgi.core.
func TestProcessesAndThreads(t *testing.T) {
	cases := []struct {
		name      string
		args      []string
		mode      string
		cores     string
		multiproc bool
		multithr  bool
	}{
		{"single", []string{"--processes", "1"}, "single process", "1", false, false},
		{"preforking", []string{"--processes", "2"}, "preforking", "1", true, false},
		{"threaded", []string{"--processes", "1", "--threads", "2"}, "threaded", "2", false, true},
		{"preforking_threaded", []string{"--processes", "2", "--threads", "2"}, "preforking+threaded", "2", true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"--plugin", "python3", "--master", "--http-socket", "{http}",
				"--wsgi-file", "{apps}/envdump.py"}, c.args...)
			Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
				e.Srv.WaitLog(t, regexp.QuoteMeta("*** Operational MODE: "+c.mode+" ***"), StartTimeout)
				e.Srv.WaitLog(t, `spawned uWSGI worker 1 \(pid: \d+, cores: `+c.cores+`\)`, StartTimeout)
				env := DecodeEnviron(t, Do(t, e.Addr("http"), Get("/")).Body)
				if env["wsgi.multiprocess"] != c.multiproc || env["wsgi.multithread"] != c.multithr {
					t.Errorf("multiprocess=%v multithread=%v, want %v %v", env["wsgi.multiprocess"], env["wsgi.multithread"], c.multiproc, c.multithr)
				}
				_, hasCore := env["uwsgi.core"]
				if hasCore != c.multithr {
					t.Errorf("uwsgi.core present=%v, want %v (PY-21)", hasCore, c.multithr)
				}
				return map[string]any{"multiprocess": env["wsgi.multiprocess"], "multithread": env["wsgi.multithread"], "core": hasCore}
			})
		})
	}
}

// TestLazyAppsVsPreload: without lazy-apps the module is imported once, in
// the master (PM-5); with lazy-apps once per worker and again in a
// respawned worker (PM-6).
func TestLazyAppsVsPreload(t *testing.T) {
	for _, lazy := range []bool{false, true} {
		name := "preload"
		if lazy {
			name = "lazy_apps"
		}
		t.Run(name, func(t *testing.T) {
			args := []string{"--plugin", "python3", "--master", "--processes", "2", "--http-socket", "{http}",
				"--wsgi-file", "{apps}/counter.py"}
			if lazy {
				args = append(args, "--lazy-apps")
			}
			Differential(t, Setup{Args: args, Env: []string{"E2E_COUNT_FILE={dir}/count"}}, func(t *testing.T, e *Env) any {
				countFile := filepath.Join(e.Vars["dir"], "count")
				pids := workerPids(t, e.Srv, 2)
				readCount := func() []string {
					b, _ := os.ReadFile(countFile)
					return strings.Fields(string(b))
				}
				wantN := 1
				if lazy {
					wantN = 2
				}
				deadline := time.Now().Add(StartTimeout)
				for len(readCount()) < wantN && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				wantHello := func() {
					r := Do(t, e.Addr("http"), Get("/"))
					if !strings.HasPrefix(string(r.Body), "imported-in ") {
						t.Errorf("reply %q", r.Raw)
					}
				}
				wantHello()
				imports := readCount()
				// PM-5: once, before the fork, in the process that forks the
				// workers: uWSGI's master; gosgi's Python zygote, a child of
				// the master (docs/compat.md), never a worker.
				if !lazy && (len(imports) != 1 || imports[0] == strconv.Itoa(pids[1]) || imports[0] == strconv.Itoa(pids[2]) ||
					e.Impl.Name == "uwsgi" && imports[0] != strconv.Itoa(e.Srv.Pid())) {
					t.Errorf("preload: imports in pids %v, want once before the fork, master %d, workers %v (PM-5)", imports, e.Srv.Pid(), pids)
				}
				if lazy {
					want := map[string]bool{strconv.Itoa(pids[1]): true, strconv.Itoa(pids[2]): true}
					if len(imports) != 2 || !want[imports[0]] || !want[imports[1]] {
						t.Errorf("lazy-apps: imports in pids %v, want one per worker %v (PM-6)", imports, pids)
					}
				}
				// A respawned worker imports again only with lazy-apps.
				if err := syscall.Kill(pids[1], syscall.SIGKILL); err != nil {
					t.Fatalf("kill worker 1: %v", err)
				}
				e.Srv.WaitLog(t, `Respawned uWSGI worker 1 \(new pid: \d+\)`, StartTimeout)
				wantHello()
				if lazy {
					deadline := time.Now().Add(StartTimeout)
					for len(readCount()) < 3 && time.Now().Before(deadline) {
						time.Sleep(20 * time.Millisecond)
					}
				} else {
					time.Sleep(300 * time.Millisecond)
				}
				afterRespawn := len(readCount())
				if code := e.Srv.Stop(t); code != 0 {
					t.Errorf("exit %d after SIGINT, want 0", code)
				}
				return map[string]int{"imports_at_start": len(imports), "imports_after_respawn": afterRespawn}
			})
		})
	}
}

// TestRequestLogLine pins the default request line (LG-1, LG-2) with a
// regexp on both implementations, and disable-logging (LG-5) removes it.
func TestRequestLogLine(t *testing.T) {
	// 10 variables (WP-22's 9 plus HTTP_HOST "e2e.test"); the block size
	// counts SERVER_NAME, the host name, and a five-digit ephemeral port.
	host, err := os.Hostname()
	if err != nil {
		t.Fatalf("hostname: %v", err)
	}
	lineRE := regexp.MustCompile(`^\[pid: (\d+)\|app: 0\|req: 1/1\] 127\.0\.0\.1 \(\) \{20 vars in ` +
		strconv.Itoa(198+len(host)) + ` bytes\} ` +
		`\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\] GET /x\?y=1 => generated 14 bytes in \d+ msecs ` +
		`\(HTTP/1\.1 200\) 2 headers in 65 bytes \(1 switches on core 0\)$`)
	for _, disable := range []bool{false, true} {
		name := "default"
		args := helloArgs("--processes", "1")
		if disable {
			name = "disable_logging"
			args = append(args, "--disable-logging")
		}
		t.Run(name, func(t *testing.T) {
			Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
				pids := workerPids(t, e.Srv, 1)
				wantHello := Do(t, e.Addr("http"), Get("/x?y=1"))
				if string(wantHello.Body) != "Hello, World!\n" {
					t.Errorf("reply %q", wantHello.Raw)
				}
				if disable {
					time.Sleep(300 * time.Millisecond)
					if l := RequestLines(e.Srv.Log()); len(l) != 0 {
						t.Errorf("disable-logging still logged %q", l)
					}
					return "no request line"
				}
				l := e.Srv.WaitLogCount(t, reqLineRE.String(), 1, RequestTimeout)[0][0]
				m := lineRE.FindStringSubmatch(l)
				if m == nil {
					t.Fatalf("request line %q does not have the LG-1 shape", l)
				}
				if m[1] != strconv.Itoa(pids[1]) {
					t.Errorf("request line pid %s, want the worker's %d (LG-2)", m[1], pids[1])
				}
				return NormaliseRequestLine(l)
			})
		})
	}
}

// TestLogtoAndDaemonize: LG-23 logto and daemonize files receive the server
// messages, request lines and print() output (TOP-19).
func TestLogtoAndDaemonize(t *testing.T) {
	t.Run("logto", func(t *testing.T) {
		args := []string{"--plugin", "python3", "--master", "--processes", "1", "--http-socket", "{http}",
			"--wsgi-file", "{apps}/router.py", "--logto", "{dir}/app.log"}
		Differential(t, Setup{Args: args, Ready: "-"}, func(t *testing.T, e *Env) any {
			logPath := filepath.Join(e.Vars["dir"], "app.log")
			e.Srv.WaitFile(t, logPath, DefaultReady, StartTimeout)
			Do(t, e.Addr("http"), Get("/printer?logto"))
			e.Srv.WaitFile(t, logPath, `GET /printer\?logto => generated`, RequestTimeout)
			got := checkLogFile(t, logPath, "e2e-print-stdout logto")
			if code := e.Srv.Stop(t); code != 0 {
				t.Errorf("exit %d after SIGINT, want 0", code)
			}
			e.Srv.WaitFile(t, logPath, `goodbye to uWSGI\.`, StopTimeout)
			return got
		})
	})
	t.Run("daemonize", func(t *testing.T) {
		args := []string{"--plugin", "python3", "--master", "--processes", "1", "--http-socket", "{http}",
			"--wsgi-file", "{apps}/router.py", "--daemonize", "{dir}/d.log", "--pidfile", "{dir}/d.pid"}
		Differential(t, Setup{Args: args, Ready: "-"}, func(t *testing.T, e *Env) any {
			if code := e.Srv.Wait(t, StartTimeout); code != 0 {
				t.Fatalf("the launching process exited %d, want 0", code)
			}
			logPath := filepath.Join(e.Vars["dir"], "d.log")
			pidPath := filepath.Join(e.Vars["dir"], "d.pid")
			m := WaitFileMatch(t, pidPath, `^(\d+)\n$`, StartTimeout)
			pid, _ := strconv.Atoi(m[1])
			t.Cleanup(func() {
				if processAlive(pid) {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			})
			if pid == e.Srv.Pid() {
				t.Errorf("daemon pid %d is the launcher's", pid)
			}
			WaitFileMatch(t, logPath, DefaultReady, StartTimeout)
			Do(t, e.Addr("http"), Get("/printer?daemon"))
			WaitFileMatch(t, logPath, `GET /printer\?daemon => generated`, RequestTimeout)
			got := checkLogFile(t, logPath, "e2e-print-stdout daemon")
			if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
				t.Fatalf("SIGINT daemon: %v", err)
			}
			waitGone(t, pid, StopTimeout)
			WaitFileMatch(t, logPath, `goodbye to uWSGI\.`, StopTimeout)
			return got
		})
	})
}

// checkLogFile asserts that a log file holds the banner, the worker spawn,
// a request line and the print() output, and returns what it found.
func checkLogFile(t *testing.T, path, printed string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var found []string
	for _, w := range []string{"*** Starting uWSGI ", "spawned uWSGI worker 1 ", printed} {
		if LogHasLine(string(b), w) {
			found = append(found, w)
		} else {
			t.Errorf("%s lacks %q:\n%s", filepath.Base(path), w, tail(string(b)))
		}
	}
	if len(RequestLines(string(b))) == 0 {
		t.Errorf("%s has no request line", filepath.Base(path))
	}
	return found
}

// waitGone waits (bounded) until no process has pid.
func waitGone(t *testing.T, pid int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still alive after %v", pid, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPidfileCommands: PM-31 `--reload FILE` (SIGHUP) and `--stop FILE`
// (SIGINT) exit 0; a missing pidfile exits 1, a stale pid 255 (for both).
func TestPidfileCommands(t *testing.T) {
	Differential(t, Setup{Args: helloArgs("--processes", "1", "--pidfile", "{dir}/app.pid")}, func(t *testing.T, e *Env) any {
		dir := e.Vars["dir"]
		pidfile := filepath.Join(dir, "app.pid")
		res := map[string]int{}
		e.Srv.Settle()
		r := Run(t, e.Impl.Bin, []string{"--reload", pidfile}, dir)
		res["reload"] = r.Code
		e.Srv.WaitLog(t, regexp.QuoteMeta(fmt.Sprintf("gracefully (RE)spawned uWSGI master process (pid: %d)", e.Srv.Pid())), StartTimeout)
		e.Srv.WaitLogCount(t, `spawned uWSGI worker 1 `, 2, StartTimeout)
		wantHello(t, e.Addr("http"))

		missing := filepath.Join(dir, "missing.pid")
		r = Run(t, e.Impl.Bin, []string{"--stop", missing}, dir)
		res["stop_missing"] = r.Code
		if !strings.Contains(r.Stderr, fmt.Sprintf("open(%q): No such file or directory", missing)) {
			t.Errorf("--stop missing pidfile: stderr %q", r.Stderr)
		}
		// A pid that cannot exist: above the kernel's pid_max ceiling.
		stale := filepath.Join(dir, "stale.pid")
		if err := os.WriteFile(stale, []byte("4194304\n"), 0o644); err != nil {
			t.Fatalf("write stale pidfile: %v", err)
		}
		r = Run(t, e.Impl.Bin, []string{"--stop", stale}, dir)
		res["stop_stale"] = r.Code
		if !strings.Contains(r.Stderr, "signal_pidfile()/kill(): No such process") {
			t.Errorf("--stop stale pidfile: stderr %q", r.Stderr)
		}
		r = Run(t, e.Impl.Bin, []string{"--reload", stale}, dir)
		res["reload_stale"] = r.Code

		e.Srv.Settle()
		r = Run(t, e.Impl.Bin, []string{"--stop", pidfile}, dir)
		res["stop"] = r.Code
		res["server_exit"] = e.Srv.Wait(t, StopTimeout)
		want := map[string]int{"reload": 0, "stop_missing": 1, "stop_stale": 255, "reload_stale": 255, "stop": 0, "server_exit": 0}
		for k, v := range want {
			if res[k] != v {
				t.Errorf("%s: exit %d, want %d (PM-31)", k, res[k], v)
			}
		}
		return res
	})
}
