package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// gosgiEnv starts gosgi alone, for behaviours where gosgi deliberately goes
// beyond uWSGI (docs/compat.md) and there is nothing to compare with.
func gosgiEnv(t *testing.T, args []string) *Env {
	t.Helper()
	RequireTools(t)
	return NewEnv(t, Impl{Name: "gosgi", Bin: GosgiBin(t)}, Setup{Args: args})
}

// load sends requests from n clients until stop is closed and counts
// answers that are not a whole 200.
type load struct {
	ok, failed atomic.Int64
	failures   sync.Map // first error texts, for the failure message
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startLoad(addr string, n int) *load {
	l := &load{stop: make(chan struct{})}
	for i := 0; i < n; i++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				raw, err := RawExchange(addr, []byte(Get("/hello")))
				if err == nil && strings.HasPrefix(string(raw), "HTTP/1.1 200 OK") && strings.HasSuffix(string(raw), "Hello, World!\n") {
					l.ok.Add(1)
					continue
				}
				l.failed.Add(1)
				l.failures.LoadOrStore(fmt.Sprint(err, " ", len(raw)), true)
			}
		}()
	}
	return l
}

func (l *load) finish() { close(l.stop); l.wg.Wait() }

// TestReloadUnderLoadLosesNothing: three SIGHUP reloads while clients
// keep sending requests; every request gets its whole answer (PM-20 as
// gosgi does it: new workers first, then the old ones finish and go).
func TestReloadUnderLoadLosesNothing(t *testing.T) {
	e := gosgiEnv(t, helloArgs("--processes", "2", "--disable-logging"))
	before := workerPids(t, e.Srv, 2)
	l := startLoad(e.Addr("http"), 8)
	for i := 1; i <= 3; i++ {
		time.Sleep(400 * time.Millisecond)
		e.Srv.Signal(t, syscall.SIGHUP)
		e.Srv.WaitLogCount(t, `gracefully \(RE\)spawned uWSGI master process`, i, StartTimeout)
		e.Srv.WaitLogCount(t, `worker \d buried after`, 2*i, StartTimeout)
	}
	time.Sleep(300 * time.Millisecond)
	l.finish()
	if l.failed.Load() != 0 {
		var errs []string
		l.failures.Range(func(k, _ any) bool { errs = append(errs, k.(string)); return true })
		t.Errorf("%d of %d requests failed across 3 reloads: %v", l.failed.Load(), l.ok.Load()+l.failed.Load(), errs)
	}
	if l.ok.Load() < 100 {
		t.Errorf("only %d requests served during the reloads", l.ok.Load())
	}
	after := workerPids(t, e.Srv, 8)
	if after[1] == before[1] || after[2] == before[2] {
		t.Errorf("workers not replaced: before %v, after %v", before, after)
	}
	if code := e.Srv.Stop(t); code != 0 {
		t.Errorf("exit %d after SIGINT", code)
	}
}

// TestHarakiri: PM-40's log block and the respawn, as uWSGI; the client
// gets a 504 from gosgi where uWSGI closes the connection (QK-9).
func TestHarakiri(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--processes", "1", "--http-socket", "{http}",
		"--wsgi-file", "{apps}/router.py", "--harakiri", "2"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		pids := workerPids(t, e.Srv, 1)
		raw, _ := RawExchange(e.Addr("http"), []byte(Get("/slow?s=10")))
		status := "closed without a reply"
		if len(raw) > 0 {
			status = strings.SplitN(string(raw), "\r\n", 2)[0]
		}
		want := map[string]string{"gosgi": "HTTP/1.1 504 Gateway Timeout", "uwsgi": "closed without a reply"}[e.Impl.Name]
		if status != want {
			t.Errorf("reply %q, want %q", status, want)
		}
		e.Srv.WaitLog(t, fmt.Sprintf(`\*\*\* HARAKIRI ON WORKER 1 \(pid: %d, try: 1\) \*\*\*`, pids[1]), StartTimeout)
		e.Srv.WaitLog(t, `HARAKIRI \[core 0\] 127\.0\.0\.1 - GET /slow\?s=10 since \d+`, StartTimeout)
		e.Srv.WaitLog(t, fmt.Sprintf(`DAMN ! worker 1 \(pid: %d\) died, killed by signal 9 :\( trying respawn \.\.\.`, pids[1]), StartTimeout)
		e.Srv.WaitLog(t, `Respawned uWSGI worker 1 \(new pid: \d+\)`, StartTimeout)
		if r := Do(t, e.Addr("http"), Get("/hello")); string(r.Body) != "Hello, World!\n" {
			t.Errorf("after the respawn: %q", r.Raw)
		}
		return "harakiri logged and worker respawned"
	})
}

// TestMaxRequestsRecycles: PM-43 with min-worker-lifetime 0 (PM-44).
func TestMaxRequestsRecycles(t *testing.T) {
	Differential(t, Setup{Args: helloArgs("--processes", "1", "--max-requests", "2", "--min-worker-lifetime", "0")},
		func(t *testing.T, e *Env) any {
			pids := workerPids(t, e.Srv, 1)
			wantHello(t, e.Addr("http"))
			wantHello(t, e.Addr("http"))
			e.Srv.WaitLog(t, fmt.Sprintf(`\.\.\.The work of process %d is done\. Seeya!`, pids[1]), StartTimeout)
			e.Srv.WaitLog(t, fmt.Sprintf(`worker 1 killed successfully \(pid: %d\)`, pids[1]), StartTimeout)
			e.Srv.WaitLog(t, `Respawned uWSGI worker 1 \(new pid: \d+\)`, StartTimeout)
			wantHello(t, e.Addr("http"))
			return "recycled"
		})
}

// TestChainReload: touch-chain-reload replaces the workers one at a time
// (PM-47) while requests keep being answered.
func TestChainReload(t *testing.T) {
	touch := filepath.Join(t.TempDir(), "chain")
	if err := os.WriteFile(touch, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e := gosgiEnv(t, helloArgs("--processes", "2", "--touch-chain-reload", touch, "--disable-logging"))
	before := workerPids(t, e.Srv, 2)
	l := startLoad(e.Addr("http"), 4)
	time.Sleep(1100 * time.Millisecond) // mtimes have a one-second step on some file systems
	now := time.Now()
	if err := os.Chtimes(touch, now, now); err != nil {
		t.Fatal(err)
	}
	e.Srv.WaitLog(t, `has been touched\.\.\. chain reload !!!`, StartTimeout)
	e.Srv.WaitLog(t, `chain next victim is worker 1`, StartTimeout)
	e.Srv.WaitLog(t, `chain next victim is worker 2`, StartTimeout)
	e.Srv.WaitLog(t, `chain reloading complete`, StartTimeout)
	e.Srv.WaitLogCount(t, `worker \d buried after`, 2, StartTimeout)
	l.finish()
	if l.failed.Load() != 0 || l.ok.Load() == 0 {
		t.Errorf("during the chain reload: %d ok, %d failed", l.ok.Load(), l.failed.Load())
	}
	after := currentPids(e.Srv.Log())
	if after[1] == before[1] || after[2] == before[2] {
		t.Errorf("workers not replaced: %v -> %v", before, after)
	}
}

// currentPids reads each worker's latest pid from the spawn and respawn
// lines of a log.
func currentPids(log string) map[int]int {
	re := regexp.MustCompile(`(?:spawned uWSGI worker (\d+) \(pid: (\d+)|Respawned uWSGI worker (\d+) \(new pid: (\d+))`)
	out := map[int]int{}
	for _, m := range re.FindAllStringSubmatch(log, -1) {
		var id, pid int
		if m[1] != "" {
			fmt.Sscan(m[1], &id)
			fmt.Sscan(m[2], &pid)
		} else {
			fmt.Sscan(m[3], &id)
			fmt.Sscan(m[4], &pid)
		}
		out[id] = pid
	}
	return out
}

// TestMasterFifo: PM-35 'p' pauses (PM-28: no new request is answered),
// 'p' again resumes, 'q' stops gracefully with exit status 0.
func TestMasterFifo(t *testing.T) {
	Differential(t, Setup{Args: helloArgs("--processes", "1", "--master-fifo", "{dir}/fifo")}, func(t *testing.T, e *Env) any {
		workerPids(t, e.Srv, 1)
		e.Srv.Settle()
		fifo := filepath.Join(e.Vars["dir"], "fifo")
		// uWSGI creates its fifo in a master cycle, late on a busy machine.
		for deadline := time.Now().Add(3 * StartTimeout); ; time.Sleep(20 * time.Millisecond) {
			if fi, err := os.Stat(fifo); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no master fifo at %s; log:\n%s", fifo, tail(e.Srv.Log()))
			}
		}
		send := func(cmd string) {
			// uWSGI re-creates its fifo (unlink, mkfifo) when a writer closes it,
			// so it may be missing for a moment.
			f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			for deadline := time.Now().Add(StartTimeout); os.IsNotExist(err) && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
				f, err = os.OpenFile(fifo, os.O_WRONLY, 0)
			}
			if err != nil {
				t.Fatalf("open fifo: %v", err)
			}
			f.WriteString(cmd)
			f.Close()
		}
		wantHello(t, e.Addr("http"))
		send("p")
		e.Srv.WaitLog(t, `\*\*\* PAUSE \(press start to resume`, StartTimeout)
		time.Sleep(300 * time.Millisecond)
		c, err := net.Dial("tcp", e.Addr("http"))
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(Get("/hello")))
		c.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
		if n, _ := c.Read(make([]byte, 64)); n > 0 {
			t.Errorf("a paused instance answered")
		}
		send("p")
		e.Srv.WaitLog(t, `resuming workers`, StartTimeout)
		c.SetReadDeadline(time.Now().Add(RequestTimeout))
		buf := make([]byte, 256)
		if n, _ := c.Read(buf); !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200 OK") {
			t.Errorf("the request queued during the pause got %q after resume", buf[:n])
		}
		c.Close()
		send("q")
		if code := e.Srv.Wait(t, StopTimeout); code != 0 {
			t.Errorf("exit %d after 'q', want 0", code)
		}
		e.Srv.WaitLog(t, `goodbye to uWSGI\.`, StartTimeout)
		return "paused, resumed, stopped"
	})
}

// TestCheaper: PM-50 starts cheaper-initial workers only, and the stats
// server shows the others as cheap with id 0 (ST-12).
func TestCheaper(t *testing.T) {
	args := helloArgs("--processes", "3", "--cheaper", "1", "--stats", "{http2}")
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		workerPids(t, e.Srv, 1)
		e.Srv.Settle()
		if n := len(regexp.MustCompile(`spawned uWSGI worker \d`).FindAllString(e.Srv.Log(), -1)); n != 1 {
			t.Errorf("%d workers spawned at start, want 1", n)
		}
		doc := readStats(t, e.Addr("http2"))
		var statuses []string
		for _, w := range doc.Workers {
			statuses = append(statuses, fmt.Sprintf("%d:%s", w.ID, w.Status))
		}
		if len(doc.Workers) != 3 {
			t.Errorf("stats list %d workers, want 3", len(doc.Workers))
		}
		return statuses
	})
}

type statsDoc struct {
	Version string `json:"version"`
	Workers []struct {
		ID       int    `json:"id"`
		Pid      int    `json:"pid"`
		Requests int    `json:"requests"`
		Status   string `json:"status"`
		Cores    []struct {
			Requests int `json:"requests"`
		} `json:"cores"`
	} `json:"workers"`
}

func readStats(t *testing.T, addr string) statsDoc {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, RequestTimeout)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(RequestTimeout))
	var doc statsDoc
	if err := json.NewDecoder(c).Decode(&doc); err != nil {
		t.Fatalf("stats: %v", err)
	}
	return doc
}

// TestStatsCountsRequests: ST-11 per worker and per core counters after
// real requests, as uWSGI reports them.
func TestStatsCountsRequests(t *testing.T) {
	Differential(t, Setup{Args: helloArgs("--processes", "1", "--stats", "{http2}")}, func(t *testing.T, e *Env) any {
		workerPids(t, e.Srv, 1)
		for i := 0; i < 3; i++ {
			wantHello(t, e.Addr("http"))
		}
		// uWSGI marks the worker idle only after the client has its
		// answer, so the status is read once it has settled.
		doc := readStats(t, e.Addr("http2"))
		for deadline := time.Now().Add(2 * time.Second); len(doc.Workers) == 1 && doc.Workers[0].Status == "busy" && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
			doc = readStats(t, e.Addr("http2"))
		}
		if len(doc.Workers) != 1 {
			t.Fatalf("stats list %d workers", len(doc.Workers))
		}
		w := doc.Workers[0]
		cores := 0
		for _, c := range w.Cores {
			cores += c.Requests
		}
		return map[string]any{"id": w.ID, "requests": w.Requests, "core_requests": cores, "status": w.Status}
	})
}

// TestReloadKeepsServingWhenTheAppBreaks: a reload whose app no longer
// imports leaves the previous workers serving and says why; the next reload
// after the fix replaces them.
func TestReloadKeepsServingWhenTheAppBreaks(t *testing.T) {
	RequireTools(t)
	dir := t.TempDir()
	app := filepath.Join(dir, "app.py")
	hello, err := os.ReadFile(filepath.Join(AppsDir(t), "hello.py"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(app, hello, 0o644)
	e := gosgiEnv(t, []string{"--master", "--processes", "2", "--http-socket", "{http}", "--wsgi-file", app, "--need-app"})
	workerPids(t, e.Srv, 2)
	os.WriteFile(app, []byte("raise ImportError('broken on purpose')\n"), 0o644)
	e.Srv.Signal(t, syscall.SIGHUP)
	e.Srv.WaitLog(t, `!!! reload failed: .* the previous workers keep serving`, StartTimeout)
	wantHello(t, e.Addr("http"))
	os.WriteFile(app, hello, 0o644)
	e.Srv.Signal(t, syscall.SIGHUP)
	e.Srv.WaitLogCount(t, `spawned uWSGI worker 1 `, 2, StartTimeout)
	e.Srv.WaitLogCount(t, `worker \d buried after`, 2, StartTimeout)
	wantHello(t, e.Addr("http"))
	if code := e.Srv.Stop(t); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestReloadRunsTheInstalledBinary: a package upgrade replaces the binary
// under a running instance; SIGHUP re-executes the new file in place (same
// pid, sockets kept), by the name the instance was started as (C-24, C-31).
func TestReloadRunsTheInstalledBinary(t *testing.T) {
	RequireTools(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "uwsgi")
	copyFile := func() {
		data, err := os.ReadFile(GosgiBin(t))
		if err != nil {
			t.Fatal(err)
		}
		tmp := bin + ".new"
		if err := os.WriteFile(tmp, data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, bin); err != nil { // as dpkg installs files
			t.Fatal(err)
		}
	}
	copyFile()
	e := NewEnv(t, Impl{Name: "gosgi", Bin: bin}, Setup{Args: helloArgs("--processes", "1")})
	workerPids(t, e.Srv, 1)
	copyFile()
	e.Srv.Signal(t, syscall.SIGHUP)
	e.Srv.WaitLog(t, `running `+regexp.QuoteMeta(bin), StartTimeout)
	e.Srv.WaitLog(t, `gracefully \(RE\)spawned uWSGI master process \(pid: `+fmt.Sprint(e.Srv.Pid())+`\)`, StartTimeout)
	e.Srv.WaitLogCount(t, `spawned uWSGI worker 1 `, 2, StartTimeout)
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", e.Srv.Pid()))
	if err != nil || exe != bin {
		t.Errorf("master runs %q (%v), want the new %s", exe, err, bin)
	}
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", e.Srv.Pid()))
	if strings.TrimSpace(string(comm)) != "uwsgi" {
		t.Errorf("process name %q, want uwsgi", comm)
	}
	wantHello(t, e.Addr("http"))
}

// TestAttachDaemon: PM-75, the daemon runs under the master, is listed in
// stats and is stopped with the instance.
func TestAttachDaemon(t *testing.T) {
	e := gosgiEnv(t, helloArgs("--processes", "1", "--attach-daemon", "sleep 1000", "--stats", "{http2}"))
	e.Srv.WaitLog(t, `\[uwsgi-daemons\] spawning "sleep 1000" \(uid: \d+ gid: \d+\)`, StartTimeout)
	workerPids(t, e.Srv, 1)
	c, err := net.DialTimeout("tcp", e.Addr("http2"), RequestTimeout)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Daemons []struct {
			Cmd string `json:"cmd"`
			Pid int    `json:"pid"`
		} `json:"daemons"`
	}
	c.SetDeadline(time.Now().Add(RequestTimeout))
	if err := json.NewDecoder(c).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if len(doc.Daemons) != 1 || doc.Daemons[0].Cmd != "sleep 1000" || doc.Daemons[0].Pid == 0 {
		t.Fatalf("stats daemons = %+v", doc.Daemons)
	}
	pid := doc.Daemons[0].Pid
	if code := e.Srv.Stop(t); code != 0 {
		t.Errorf("exit %d", code)
	}
	e.Srv.WaitLog(t, `\[uwsgi-daemons\] stopping daemon \(pid: \d+\): sleep 1000`, StartTimeout)
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("daemon %d still running after the stop", pid)
	}
}

// TestProcessTitles: auto-procname and procname-prefix-spaced (OP-85..88)
// change what ps shows, not the process name init scripts match (C-31).
func TestProcessTitles(t *testing.T) {
	e := gosgiEnv(t, helloArgs("--processes", "1", "--auto-procname", "--procname-prefix-spaced", "e2e"))
	pids := workerPids(t, e.Srv, 1)
	for pid, want := range map[int]string{e.Srv.Pid(): "e2e uWSGI master", pids[1]: "e2e uWSGI worker 1"} {
		// A new worker takes its title right after its spawn line.
		title := func() string {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			return strings.TrimRight(string(cmdline), "\x00")
		}
		for deadline := time.Now().Add(StartTimeout); title() != want && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if got := title(); got != want {
			t.Errorf("pid %d title %q, want %q", pid, got, want)
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if strings.TrimSpace(string(comm)) != "uwsgi" {
			t.Errorf("pid %d name %q, want uwsgi", pid, comm)
		}
	}
	e.Srv.Signal(t, syscall.SIGHUP) // the re-exec still has the real command line
	e.Srv.WaitLogCount(t, `spawned uWSGI worker 1 `, 2, StartTimeout)
	wantHello(t, e.Addr("http"))
}

// TestSharedSocket: PM-63, a shared socket bound first and used as =0,
// kept across a reload.
func TestSharedSocket(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--processes", "1", "--shared-socket", "{http}",
		"--http-socket", "=0", "--wsgi-file", "{apps}/hello.py"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		e.Srv.WaitLog(t, `uwsgi shared socket 0 bound to TCP address `+regexp.QuoteMeta(e.Addr("http"))+` fd \d+`, StartTimeout)
		wantHello(t, e.Addr("http"))
		e.Srv.Signal(t, syscall.SIGHUP)
		e.Srv.WaitLogCount(t, `spawned uWSGI worker 1 `, 2, StartTimeout)
		wantHello(t, e.Addr("http"))
		return "served"
	})
}

// TestCheaperBacklog: PM-52's backlog algorithm starts cheap workers while
// requests wait in the listen queue.
func TestCheaperBacklog(t *testing.T) {
	e := gosgiEnv(t, []string{"--master", "--processes", "3", "--http-socket", "{http}", "--wsgi-file", "{apps}/router.py",
		"--cheaper", "1", "--cheaper-algo", "backlog", "--cheaper-overload", "1", "--cheaper-step", "2"})
	workerPids(t, e.Srv, 1)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			RawExchange(e.Addr("http"), []byte(Get("/slow?s=0.5")))
		}()
	}
	e.Srv.WaitLog(t, `spawned uWSGI worker [23] `, StartTimeout)
	wg.Wait()
}

// TestRecyclingUnderLoadLosesNothing: workers recycled by max-requests
// are replaced before they go (the new worker first), so clients never
// wait on an empty slot or lose a request.
func TestRecyclingUnderLoadLosesNothing(t *testing.T) {
	e := gosgiEnv(t, helloArgs("--processes", "2", "--max-requests", "200", "--min-worker-lifetime", "0", "--disable-logging"))
	workerPids(t, e.Srv, 2)
	l := startLoad(e.Addr("http"), 6)
	e.Srv.WaitLogCount(t, `worker \d killed successfully`, 4, 3*StartTimeout)
	l.finish()
	if l.failed.Load() != 0 {
		t.Errorf("%d of %d requests failed while workers were recycled", l.failed.Load(), l.ok.Load()+l.failed.Load())
	}
}

// TestStopRightAfterReload: a vassal reloaded (SIGHUP) and stopped by its
// emperor at once (EM-ragnarok) gets the stop byte while its new master is
// still spawning the worker. The stop must reach that worker even before
// it has set up its signal handling: nothing may survive the emperor, and
// the vassal must not need the emperor's SIGKILL ("NO MERCY"). The race is
// not hit every time, so it is tried several times.
func TestStopRightAfterReload(t *testing.T) {
	RequireTools(t)
	bin := GosgiBin(t)
	for i := 0; i < 5; i++ {
		dir := t.TempDir()
		pidfile := filepath.Join(dir, "v.pid")
		ini := fmt.Sprintf("[uwsgi]\nplugin = python3\nmaster = true\nprocesses = 1\nhttp-socket = %s\nwsgi-file = %s\npidfile = %s\n",
			FreePort(t), filepath.Join(AppsDir(t), "hello.py"), pidfile)
		if err := os.WriteFile(filepath.Join(dir, "v.ini"), []byte(ini), 0o644); err != nil {
			t.Fatal(err)
		}
		emp := Start(t, "emperor", bin, []string{"--emperor", dir}, StartOptions{Ready: `\[emperor\] vassal v\.ini is ready to accept requests`})
		b, err := os.ReadFile(pidfile)
		if err != nil {
			t.Fatal(err)
		}
		vassal, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		// No pause between the two: the stop must land during the re-exec.
		if err := syscall.Kill(vassal, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(emp.Pid(), syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		emp.Wait(t, StopTimeout)
		log := emp.Log()
		if strings.Contains(log, "NO MERCY") {
			t.Fatalf("run %d: the vassal had to be SIGKILLed; log:\n%s", i, tail(log))
		}
		pids := []int{vassal}
		for _, m := range regexp.MustCompile(`spawned uWSGI worker \d+ \(pid: (\d+)`).FindAllStringSubmatch(log, -1) {
			pid, _ := strconv.Atoi(m[1])
			pids = append(pids, pid)
		}
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil {
				t.Fatalf("run %d: pid %d survived the emperor; log:\n%s", i, pid, tail(log))
			}
		}
	}
}
