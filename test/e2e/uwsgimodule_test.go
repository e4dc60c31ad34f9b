package e2e

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// What apps import: the uwsgi module (PY-40..PY-50), uwsgidecorators
// (PY-55..PY-60), mules (PM-76) and the spooler (PM-77), run under real
// python3 workers and compared with uWSGI 2.0 running the same apps.

// uwsgidecoratorsPath is where Debian's python3-uwsgidecorators installs
// uWSGI's own uwsgidecorators, which the reference server needs (gosgi
// ships its own).
const uwsgidecoratorsPath = "/usr/lib/python3/dist-packages/uwsgidecorators.py"

// requireUwsgidecorators fails the test unless the reference server can
// import uwsgidecorators.
func requireUwsgidecorators(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(uwsgidecoratorsPath); err != nil {
		t.Fatalf("uWSGI's uwsgidecorators missing (%v)\n  install: apt-get install python3-uwsgidecorators", err)
	}
}

// bodyLines fetches path and returns the reply body split into lines.
func bodyLines(t *testing.T, addr, path string) []string {
	t.Helper()
	r := Do(t, addr, Get(path))
	if r.StatusLine != "HTTP/1.1 200 OK" {
		t.Fatalf("GET %s: %q", path, r.Raw)
	}
	return strings.Split(strings.TrimRight(string(r.Body), "\n"), "\n")
}

// readEvents returns the lines of an app's events file (missing: none).
func readEvents(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// waitEvents waits until every line of want is in the events file and
// returns the file's lines sorted.
func waitEvents(t *testing.T, s *Server, path string, want []string, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := readEvents(path)
		have := map[string]bool{}
		for _, l := range got {
			have[l] = true
		}
		var missing []string
		for _, w := range want {
			if !have[w] {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			sort.Strings(got)
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("events %q never seen within %v; events so far:\n%s\nlog:\n%s",
				missing, timeout, strings.Join(got, "\n"), tail(s.Log()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// spoolPacket encodes a spooler task the way uWSGI writes spool files
// (PM-77): a uwsgi packet with modifier1 17 holding the pairs, then body.
func spoolPacket(pairs [][2]string, body string) []byte {
	var kv []byte
	for _, p := range pairs {
		kv = binary.LittleEndian.AppendUint16(kv, uint16(len(p[0])))
		kv = append(kv, p[0]...)
		kv = binary.LittleEndian.AppendUint16(kv, uint16(len(p[1])))
		kv = append(kv, p[1]...)
	}
	out := []byte{17, 0, 0, 0}
	binary.LittleEndian.PutUint16(out[1:3], uint16(len(kv)))
	return append(append(out, kv...), body...)
}

// startWithSpool starts impl with a fresh spool directory in its working
// directory (created first: both servers expect it to exist).
func startWithSpool(t *testing.T, e *Env, args []string) string {
	t.Helper()
	spool := filepath.Join(e.Vars["dir"], "spool")
	if err := os.Mkdir(spool, 0o755); err != nil {
		t.Fatalf("spool dir: %v", err)
	}
	e.Srv = Start(t, e.Impl.Name, e.Impl.Bin, Args(args, e.Vars), StartOptions{Dir: e.Vars["dir"]})
	return spool
}

// rpcLines are the local RPC calls of uwsgimod_api.py: uWSGI 2.0.21's
// python3 plugin answers them with "unable to call rpc function" even for a
// function registered before the fork, so they are checked on gosgi only.
var rpcLines = map[string]string{
	"uwsgi.call('echo', b'a', b'b')": "uwsgi.call('echo', b'a', b'b') -> b'echo:a,b'",
	"uwsgi.rpc('', 'echo', b'c')":    "uwsgi.rpc('', 'echo', b'c') -> b'echo:c'",
}

// TestUwsgiModuleAPI: PY-47 cache2 (set/update/get/del/exists, math, keys,
// clear, named caches, a value larger than blocksize, a full cache), PY-46
// locks and sharedarea, PY-45 signal table, PY-50 rpc registration (a
// 300-byte name is refused), PY-42 role functions, all as uWSGI answers.
func TestUwsgiModuleAPI(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--processes", "1",
		"--wsgi-file", "{apps}/uwsgimod_api.py", "--cache2", "name=default,items=10,blocksize=100",
		"--cache2", "name=other,items=4", "--sharedarea", "1", "--locks", "2"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		var out []string
		for _, l := range bodyLines(t, e.Addr("http"), "/") {
			call, _, _ := strings.Cut(l, " ->")
			call, _, _ = strings.Cut(call, " raised")
			if want, ok := rpcLines[call]; ok {
				if e.Impl.Name == "gosgi" && l != want {
					t.Errorf("rpc: got %q, want %q", l, want)
				}
				continue
			}
			out = append(out, l)
		}
		log := e.Srv.Log()
		for _, w := range []string{
			"[uwsgi-signal] signum 30 registered (wid: 0 modifier1: 0 target: workers)",
			"the supplied RPC name string is too long, max size is 255",
			`registered shared/inherited RPC function "echo"`,
		} {
			if !LogHasLine(log, w) {
				t.Errorf("log lacks %q", w)
			}
		}
		return out
	})
}

// TestUwsgiDecorators: uwsgidecorators under both servers (PY-55..PY-60):
// @postfork in workers, mules and the spooler (PY-49); @spool and
// @spool(pass_arguments=True) run in the spooler; @mulefunc in a mule;
// @signal(target='workers') in every worker; @timer and @filemon; @lock;
// @thread. A task file written in uWSGI's spool format by the test is run
// too, and the spooler's log lines match (PM-77).
func TestUwsgiDecorators(t *testing.T) {
	requireUwsgidecorators(t)
	args := []string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--processes", "2",
		"--mules", "2", "--spooler", "{dir}/spool", "--spooler-frequency", "1",
		"--wsgi-file", "{apps}/uwsgimod_tasks.py"}
	want := []string{
		"postfork worker1", "postfork worker2", "postfork mule", "postfork spooler",
		"spool plain_task a=1 in spooler", "spool args_task x=3 y='4' in spooler",
		"spool plain_task a=interop in spooler",
		"mulefunc n=7 in mule", "signal 40 in worker1", "signal 40 in worker2",
		"timer in worker", "filemon in worker", "locked True", "thread t1 main=False",
	}
	spoolLine := regexp.MustCompile(`^\[spooler (\S+) pid: \d+\] (managing request|done with task) uwsgi_spoolfile_on_\S+ (.*)$`)
	writtenLine := regexp.MustCompile(`^\[spooler\] written (\d+) bytes to file (\S+)/uwsgi_spoolfile_on_[^_/]+_\d+_\d+_\d+_\d+_\d+$`)
	Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
		spool := startWithSpool(t, e, args)
		addr := e.Addr("http")
		for _, p := range []string{"/spool", "/mule", "/signal", "/touch", "/lock", "/thread"} {
			if got := bodyLines(t, addr, p); len(got) != 1 || got[0] != "ok" {
				t.Errorf("GET %s: %q", p, got)
			}
		}
		// Touch the watched file twice more, a second apart: a file monitor
		// polls, and a change made while it takes its first look is not
		// one it can see (the handler records the first event only).
		go func() {
			for i := 0; i < 2; i++ {
				time.Sleep(1100 * time.Millisecond)
				RawExchange(addr, []byte(Get("/touch")))
			}
		}()
		task := spoolPacket([][2]string{{"ud_spool_func", "plain_task"}, {"ud_spool_ret", "-2"}, {"a", "interop"}}, "")
		tmp := filepath.Join(e.Vars["dir"], "task")
		if err := os.WriteFile(tmp, task, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(spool, "uwsgi_spoolfile_on_test_1_1_1_1_1")); err != nil {
			t.Fatal(err)
		}
		events := waitEvents(t, e.Srv, filepath.Join(e.Vars["dir"], "events"), want, 15*time.Second)
		var spooled []string
		for _, l := range strings.Split(e.Srv.Log(), "\n") {
			if m := spoolLine.FindStringSubmatch(l); m != nil {
				if m[1] != spool {
					t.Errorf("spooler line names %s, want %s: %q", m[1], spool, l)
				}
				spooled = append(spooled, m[2]+" "+m[3])
			} else if m := writtenLine.FindStringSubmatch(l); m != nil {
				if m[2] != spool {
					t.Errorf("written line names %s, want %s: %q", m[2], spool, l)
				}
				spooled = append(spooled, "written "+m[1])
			}
		}
		sort.Strings(spooled)
		left, _ := filepath.Glob(filepath.Join(spool, "uwsgi_spoolfile_on_*"))
		return map[string]any{"events": events, "spooler log": spooled, "tasks left": len(left)}
	})
}

// TestUwsgiMuleScript: PM-76 a script mule gets messages sent to it, to any
// mule and to its farm (PY-48), in order; when the script dies the master
// respawns it and it gets the next message; the workers are undisturbed.
func TestUwsgiMuleScript(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--processes", "1",
		"--wsgi-file", "{apps}/uwsgimod_mule.py", "--mule={apps}/uwsgimod_mule.py", "--farm", "fa:1"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		addr := e.Addr("http")
		events := filepath.Join(e.Vars["dir"], "events")
		waitEvents(t, e.Srv, events, []string{"mule 1 started worker_id=0"}, 10*time.Second)
		var replies []string
		// One at a time: with several queues ready, which one a mule reads
		// first is not specified.
		for _, c := range []struct{ path, event string }{
			{"/one?a", "mule 1 got b'a'"}, {"/any?b", "mule 1 got b'b'"}, {"/farm?c", "mule 1 got b'c'"},
			{"/one?die", "mule 1 dies"},
			// The respawned mule reads the queue the dead one left.
			{"/one?after", "mule 1 got b'after'"},
		} {
			replies = append(replies, c.path+" "+strings.Join(bodyLines(t, addr, c.path), ""))
			waitEvents(t, e.Srv, events, []string{c.event}, 10*time.Second)
		}
		replies = append(replies, "/ "+strings.Join(bodyLines(t, addr, "/"), ""))
		return map[string]any{"replies": replies, "events": readEvents(events)}
	})
}

// TestSpoolerBadFiles: PM-77 damaged task files (empty, truncated header,
// wrong modifier1, truncated key, value or packet) are logged and moved
// aside as NAME.corrupt; the spooler keeps running (same pid) and still runs
// the good task queued after them. gosgi only: uWSGI 2.0 logs differently.
func TestSpoolerBadFiles(t *testing.T) {
	bin := GosgiBin(t)
	RequireTools(t, Python3)
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	if err := os.Mkdir(spool, 0o755); err != nil {
		t.Fatal(err)
	}
	good := spoolPacket([][2]string{{"ud_spool_func", "plain_task"}, {"ud_spool_ret", "-2"}, {"a", "after-bad"}}, "")
	bad := []struct{ name, data string }{
		{"empty", ""},
		{"short-header", "\x11\x05"},
		{"modifier", "\x00\x04\x00\x00\x01\x00a"},
		{"packet-longer-than-file", "\x11\x40\x00\x00\x01\x00a\x01\x00b"},
		{"key-past-packet", "\x11\x04\x00\x00\x09\x00abcd"},
		{"value-past-packet", "\x11\x06\x00\x00\x01\x00a\x09\x00b"},
	}
	srv := Start(t, "gosgi", bin, Args([]string{"--plugin", "python3", "--master", "--http-socket", "{http}",
		"--spooler", "{dir}/spool", "--spooler-frequency", "1", "--wsgi-file", "{apps}/uwsgimod_tasks.py"},
		map[string]string{"http": FreePort(t), "dir": dir, "apps": AppsDir(t)}), StartOptions{Dir: dir})
	m := srv.WaitLog(t, `spawned the uWSGI spooler on dir \S+ with pid (\d+)`, StartTimeout)
	for _, b := range bad {
		if err := os.WriteFile(filepath.Join(spool, "uwsgi_spoolfile_on_test_"+b.name), []byte(b.data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "good"), good, 0o644); err != nil {
		t.Fatal(err)
	}
	// Renamed last, with a later mtime: the bad files come first in the scan.
	time.Sleep(20 * time.Millisecond)
	if err := os.Rename(filepath.Join(dir, "good"), filepath.Join(spool, "uwsgi_spoolfile_on_test_zgood")); err != nil {
		t.Fatal(err)
	}
	waitEvents(t, srv, filepath.Join(dir, "events"), []string{"spool plain_task a=after-bad in spooler"}, 15*time.Second)
	log := srv.Log()
	for _, b := range bad {
		name := "uwsgi_spoolfile_on_test_" + b.name
		if !regexp.MustCompile(`\[spooler ` + regexp.QuoteMeta(spool) + ` pid: ` + m[1] + `\] invalid spool file ` +
			regexp.QuoteMeta(name) + ` \(.+\): moved to `).MatchString(log) {
			t.Errorf("no invalid-file line for %s; log:\n%s", name, tail(log))
		}
		if _, err := os.Stat(filepath.Join(spool, name+".corrupt")); err != nil {
			t.Errorf("%s not moved aside: %v", name, err)
		}
	}
	if strings.Contains(log, "DAMN") {
		t.Errorf("a process died:\n%s", tail(log))
	}
}

// TestUwsgiBadInput: out-of-range signals, bad timers and cron fields, cache
// items too big or too many, unknown locks, mules, farms and sharedareas,
// an over-long RPC name and an unknown attribute all fail clearly (PY-45,
// PY-46, PY-47, PY-50); uwsgi.workers() does not leak; the worker that made
// the calls keeps serving. gosgi only: uWSGI 2.0 silently truncates signal
// numbers to 8 bits and accepts any cron field.
func TestUwsgiBadInput(t *testing.T) {
	bin := GosgiBin(t)
	RequireTools(t, Python3)
	dir := t.TempDir()
	addr := FreePort(t)
	srv := Start(t, "gosgi", bin, []string{"--plugin", "python3", "--master", "--http-socket", addr, "--mules", "1",
		"--wsgi-file", filepath.Join(AppsDir(t), "uwsgimod_errors.py"),
		"--cache2", "name=default,items=4,blocksize=16"}, StartOptions{Dir: dir})
	cases := []struct{ call, want string }{
		{"uwsgi.register_signal(256, '', print)", "raised ValueError: uwsgi signal number must be an integer in 0..255, got 256"},
		{"uwsgi.register_signal(-1, '', print)", "raised ValueError: uwsgi signal number must be an integer in 0..255, got -1"},
		{"uwsgi.register_signal(5, 'nowhere', print)", "raised ValueError: unsupported uwsgi signal target 'nowhere'"},
		{"uwsgi.register_signal(5, 'worker9', print)", "raised ValueError: signal target worker9: there is no worker 9"},
		{"uwsgi.signal(999)", "raised ValueError: uwsgi signal number must be an integer in 0..255, got 999"},
		{"uwsgi.add_timer(300, 1)", "raised ValueError: uwsgi signal number must be"},
		{"uwsgi.add_timer(5, 0)", "raised ValueError: timer seconds must be a positive integer, got 0"},
		{"uwsgi.add_cron(5, 60, -1, -1, -1, -1)", "raised ValueError: cron minute 60 out of range"},
		{"uwsgi.add_cron(5, -1, 24, -1, -1, -1)", "raised ValueError: cron hour 24 out of range"},
		{"uwsgi.add_cron(5, -1, -1, 0, -1, -1)", "raised ValueError: cron day 0 out of range"},
		{"uwsgi.add_cron(5, -1, -1, -1, 13, -1)", "raised ValueError: cron month 13 out of range"},
		{"uwsgi.add_cron(5, -1, -1, -1, -1, 8)", "raised ValueError: cron weekday 8 out of range"},
		{"uwsgi.add_cron(5, 'x', -1, -1, -1, -1)", "raised ValueError: cron minute must be an integer, got 'x'"},
		{"uwsgi.add_cron(5, 30, 2, -1, -1, -1)", "-> True"},
		{"uwsgi.cache_set('big', b'x' * 17)", "-> None"},
		{"uwsgi.cache_set('key' * 1000, b'v')", "-> None"},
		{"uwsgi.cache_set(1, b'v')", "raised TypeError: key must be bytes or str, not int"},
		{"[uwsgi.cache_set('k%d' % i, b'v') for i in range(4)]", "-> [True, True, True, None]"},
		{"uwsgi.cache_get('k0')", "-> b'v'"},
		{"uwsgi.cache_get('k0', 'nosuchcache')", "-> None"},
		{"uwsgi.lock(1)", "raised ValueError: The lock number is out of range (0..0)"},
		{"uwsgi.unlock(-1)", "raised ValueError: The lock number is out of range (0..0)"},
		{"uwsgi.sharedarea_read(0, 0, 1)", "raised ValueError: there is no sharedarea 0"},
		{"uwsgi.mule_msg(b'x', 7)", "raised ValueError: invalid mule number 7"},
		{"uwsgi.mule_msg(b'x' * 70000)", "raised ValueError: mule message too big"},
		{"uwsgi.farm_msg('nofarm', b'x')", "raised ValueError: unknown farm 'nofarm'"},
		{"uwsgi.spool({b'a': b'b'})", "raised ValueError: spooler not configured"},
		{"uwsgi.mule_get_msg()", "raised ValueError: you can receive mule messages only in a mule !!!"},
		{"uwsgi.register_rpc('r' * 256, print)", "raised ValueError: unable to register rpc function"},
		{"uwsgi.register_rpc('r' * 255, print)", "-> True"},
		{"uwsgi.no_such_function()", "raised AttributeError: module 'uwsgi' has no attribute 'no_such_function' (not provided by gosgi yet: see docs/compat.md)"},
		{"uwsgi.signal_registered(256)", "raised ValueError: uwsgi signal number must be"},
		{"workers() does not leak:", " True"},
		// cron matching (PY-45, cron option): -1 any, -N every N, weekday 0 and 7 are Sunday
		{"uwsgi._cron_match((-1, -1, -1, -1, -1), SAT)", "-> True"},
		{"uwsgi._cron_match((45, 2, 21, 11, 6), SAT)", "-> True"},
		{"uwsgi._cron_match((44, 2, 21, 11, 6), SAT)", "-> False"},
		{"uwsgi._cron_match((-15, -1, -1, -1, -1), SAT)", "-> True"},
		{"uwsgi._cron_match((-2, -1, -1, -1, -1), SAT)", "-> False"},
		{"uwsgi._cron_match((-1, -1, -1, -1, 0), SAT)", "-> False"},
		{"uwsgi._cron_match((-1, -1, -1, -1, 0), SUN)", "-> True"},
		{"uwsgi._cron_match((-1, -1, -1, -1, 7), SUN)", "-> True"},
		{"uwsgi._cron_match((-1, 3, -1, -1, -1), SAT)", "-> False"},
	}
	for round := 0; round < 2; round++ { // the second round: nothing was disturbed
		lines := bodyLines(t, addr, "/")
		got := map[string]string{}
		for _, l := range lines {
			for _, c := range cases {
				if strings.HasPrefix(l, c.call) {
					got[c.call] = strings.TrimSpace(strings.TrimPrefix(l, c.call))
				}
			}
		}
		for _, c := range cases {
			if g, ok := got[c.call]; !ok || !strings.HasPrefix(g, strings.TrimSpace(c.want)) {
				t.Errorf("round %d: %s: got %q, want %q...", round, c.call, g, c.want)
			}
		}
		if round == 0 {
			// the cache is still full from round 0: expect the fourth set to fail again
			cases[17].want = "-> [None, None, None, None]"
		}
	}
	log := srv.Log()
	for _, w := range []string{
		`*** cache "default": item too big (17 > 16 bytes blocksize) ***`,
		`*** DANGER cache "default" is FULL !!! ***`,
		"the supplied RPC name string is too long, max size is 255",
	} {
		if !LogHasLine(log, w) {
			t.Errorf("log lacks %q", w)
		}
	}
	if strings.Contains(log, "DAMN") {
		t.Errorf("a process died:\n%s", tail(log))
	}
	if !strings.Contains(log, "spawned uWSGI mule 1") {
		t.Errorf("mule not spawned:\n%s", tail(log))
	}
}

// TestUwsgiOptionsAndTargets: pymodule-alias maps a module name (PY-40);
// spooler-import loads a module in the spooler only, which installs the
// task callback there (PM-77); signals aimed at "mules", "mule1" and
// "spooler" run there (PY-45); an @rbtimer aimed at worker1 gets the first
// free signal number; @postfork(2) runs in worker 2 only (PY-56).
func TestUwsgiOptionsAndTargets(t *testing.T) {
	requireUwsgidecorators(t)
	args := []string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--processes", "2",
		"--mules", "2", "--spooler", "{dir}/spool", "--spooler-frequency", "1", "--pythonpath", "{apps}",
		"--spooler-import", "uwsgimod_spoolmod", "--pymodule-alias", "aliased=json",
		"--wsgi-file", "{apps}/uwsgimod_opts.py"}
	want := []string{
		"helper imported as uwsgimod_helper in master", "postfork(2) in worker2", "rbtimer signal 0 in worker1",
		"signal 50 in mule1", "signal 50 in mule2", "signal 51 in spooler", "signal 52 in mule1",
		"spoolmod imported in spooler", "task imported in spooler",
	}
	Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
		spool := filepath.Join(e.Vars["dir"], "spool")
		if err := os.Mkdir(spool, 0o755); err != nil {
			t.Fatal(err)
		}
		e.Srv = Start(t, e.Impl.Name, e.Impl.Bin, Args(args, e.Vars),
			StartOptions{Dir: e.Vars["dir"], Env: []string{"UWSGIMOD_EVENTS_DIR=" + e.Vars["dir"]}})
		// mules and the spooler start after worker 1: wait for their postfork
		e.Srv.WaitLogCount(t, `spawned uWSGI mule \d`, 2, StartTimeout)
		e.Srv.WaitLog(t, `spawned the uWSGI spooler`, StartTimeout)
		waitEvents(t, e.Srv, filepath.Join(e.Vars["dir"], "events"), []string{"spoolmod imported in spooler"}, 10*time.Second)
		time.Sleep(300 * time.Millisecond) // let the mules reach their message loop
		var replies []string
		for _, p := range []string{"/signals", "/spool"} {
			replies = append(replies, p+" "+strings.Join(bodyLines(t, e.Addr("http"), p), ""))
		}
		events := waitEvents(t, e.Srv, filepath.Join(e.Vars["dir"], "events"), want, 15*time.Second)
		// PY-48: spooler_pid() is the pid the master logged; no job is left.
		spid := e.Srv.WaitLog(t, `spawned the uWSGI spooler on dir \S+ with pid (\d+)`, StartTimeout)[1]
		var info string
		for end := time.Now().Add(3 * time.Second); ; { // the task file goes just after the task ran
			info = strings.Join(bodyLines(t, e.Addr("http"), "/spoolinfo"), "")
			if strings.Contains(info, " jobs=0 ") || time.Now().After(end) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		replies = append(replies, "/spoolinfo "+strings.Replace(info, "spooler_pid="+spid+" ", "spooler_pid=<PID> ", 1))
		var registered []string
		for _, l := range strings.Split(e.Srv.Log(), "\n") {
			if strings.HasPrefix(l, "[uwsgi-signal] ") || strings.HasPrefix(l, "mapped virtual pymodule") {
				registered = append(registered, l)
			}
		}
		return map[string]any{"replies": replies, "events": events, "log": registered}
	})
}

// FuzzSpoolFile feeds arbitrary bytes to a running gosgi spooler as task
// files (PM-77): whatever the content, the spooler must deal with each file
// (run it, or log it and move it aside as NAME.corrupt) within a few
// seconds, and never die. The seeds cover a valid task, a task with a body
// and each kind of damage.
func FuzzSpoolFile(f *testing.F) {
	f.Add(spoolPacket([][2]string{{"a", "b"}}, ""))
	f.Add(spoolPacket([][2]string{{"a", "b"}, {"c", ""}}, "the body"))
	f.Add(spoolPacket(nil, ""))
	f.Add([]byte{})
	f.Add([]byte("\x11\x05"))
	f.Add([]byte("\x11\x40\x00\x00\x01\x00a\x01\x00b"))
	f.Add([]byte("\x11\x06\x00\x00\x01\x00a\x09\x00b"))
	bin := GosgiBin(f)
	RequireTools(f, Python3)
	dir := f.TempDir()
	spool := filepath.Join(dir, "spool")
	if err := os.Mkdir(spool, 0o755); err != nil {
		f.Fatal(err)
	}
	srv := Start(f, "gosgi", bin, []string{"--plugin", "python3", "--master", "--http-socket", FreePort(f),
		"--spooler", spool, "--spooler-frequency", "1",
		"--wsgi-file", filepath.Join(AppsDir(f), "uwsgimod_rawspool.py")}, StartOptions{Dir: dir})
	srv.WaitLog(f, `spawned the uWSGI spooler on dir`, StartTimeout)
	n := 0
	f.Fuzz(func(t *testing.T, data []byte) {
		n++
		name := filepath.Join(spool, fmt.Sprintf("uwsgi_spoolfile_on_fuzz_%d", n))
		tmp := filepath.Join(dir, "tmp")
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, name); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err := os.Stat(name); os.IsNotExist(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("spool file %q (%d bytes) still there after 5 s; log:\n%s", data, len(data), tail(srv.Log()))
			}
			time.Sleep(20 * time.Millisecond)
		}
		if strings.Contains(srv.Log(), "DAMN") || srv.Exited() {
			t.Fatalf("the spooler died on %q; log:\n%s", data, tail(srv.Log()))
		}
	})
}

// TestSpoolerMaxTasksQuiet: PM-77 with spooler-quiet (no per-task lines)
// and spooler-max-tasks (the spooler logs that it recycles after 2 tasks,
// a new one runs the rest); tasks written in uWSGI's format by the test.
func TestSpoolerMaxTasksQuiet(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--spooler", "{dir}/spool",
		"--spooler-max-tasks", "2", "--spooler-quiet", "--spooler-frequency", "1",
		"--wsgi-file", "{apps}/uwsgimod_rawspool.py"}
	recycle := regexp.MustCompile(`^\[spooler (\S+) pid: \d+\] maximum number of tasks reached \(2\) recycling \.\.\.$`)
	Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
		spool := startWithSpool(t, e, args)
		e.Srv.WaitLog(t, `spawned the uWSGI spooler`, StartTimeout)
		for i := 0; i < 3; i++ {
			tmp := filepath.Join(e.Vars["dir"], "tmp")
			if err := os.WriteFile(tmp, spoolPacket([][2]string{{"n", fmt.Sprint(i)}}, "body"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(spool, fmt.Sprintf("uwsgi_spoolfile_on_test_%d", i))); err != nil {
				t.Fatal(err)
			}
		}
		want := []string{"task vars=1 body=4", "task vars=1 body=4", "task vars=1 body=4"}
		deadline := time.Now().Add(15 * time.Second)
		for len(readEvents(filepath.Join(e.Vars["dir"], "events"))) < len(want) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		events := readEvents(filepath.Join(e.Vars["dir"], "events"))
		var recycled []string
		managing := 0
		for _, l := range strings.Split(e.Srv.Log(), "\n") {
			if m := recycle.FindStringSubmatch(l); m != nil {
				recycled = append(recycled, strings.Replace(l, m[1], "<SPOOL>", 1))
				if m[1] != spool {
					t.Errorf("recycle line names %s, want %s", m[1], spool)
				}
			}
			if strings.Contains(l, "managing request") || strings.Contains(l, "done with task") {
				managing++
			}
		}
		return map[string]any{"events": events, "recycled": regexp.MustCompile(`pid: \d+`).ReplaceAllString(
			strings.Join(recycled, "\n"), "pid: <PID>"), "per-task lines": managing}
	})
}

// TestUwsgiLockHolderKilled: PY-46 a worker takes uwsgi.lock() and is
// SIGKILLed while holding it; its respawned successor takes the lock
// without waiting forever (the lock is robust against a dead holder).
func TestUwsgiLockHolderKilled(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--processes", "1",
		"--wsgi-file", "{apps}/uwsgimod_lock.py"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		addr := e.Addr("http")
		pidText := strings.Join(bodyLines(t, addr, "/hold"), "")
		var pid int
		if _, err := fmt.Sscan(pidText, &pid); err != nil || pid <= 0 {
			t.Fatalf("/hold answered %q", pidText)
		}
		held := strings.Join(bodyLines(t, addr, "/state"), "")
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill worker %d: %v", pid, err)
		}
		e.Srv.WaitLogCount(t, `spawned uWSGI worker 1 |Respawned uWSGI worker 1 `, 2, StartTimeout)
		return []string{held, strings.Join(bodyLines(t, addr, "/take"), ""), strings.Join(bodyLines(t, addr, "/state"), "")}
	})
}

// TestUwsgiUserHarakiri: PY-44, PY-60 @harakiri(1) around a 4-second call
// kills the worker during the call (the client gets no reply), the master
// respawns it and the next request is served.
func TestUwsgiUserHarakiri(t *testing.T) {
	requireUwsgidecorators(t)
	args := []string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--processes", "1",
		"--wsgi-file", "{apps}/uwsgimod_harakiri.py"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		raw, err := RawExchange(e.Addr("http"), []byte(Get("/slow")))
		if err != nil {
			t.Fatalf("GET /slow: %v", err)
		}
		e.Srv.WaitLog(t, `\*\*\* HARAKIRI ON WORKER 1 \(pid: \d+, try: 1\) \*\*\*`, 5*time.Second)
		e.Srv.WaitLog(t, `DAMN ! worker 1 \(pid: \d+\) died, killed by signal 9 :\( trying respawn \.\.\.`, 5*time.Second)
		e.Srv.WaitLog(t, `Respawned uWSGI worker 1 \(new pid: \d+\)`, 5*time.Second)
		return []string{fmt.Sprintf("slow reply: %q", raw), "fast: " + strings.Join(bodyLines(t, e.Addr("http"), "/fast"), "")}
	})
}

// TestUwsgidecoratorsNeedMaster: PY-55 without --master, importing
// uwsgidecorators raises uWSGI's exception.
func TestUwsgidecoratorsNeedMaster(t *testing.T) {
	requireUwsgidecorators(t)
	args := []string{"--plugin", "python3", "--http-socket", "{http}", "--wsgi-file", "{apps}/uwsgimod_nomaster.py"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		return bodyLines(t, e.Addr("http"), "/")
	})
}
