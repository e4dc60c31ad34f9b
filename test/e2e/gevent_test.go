package e2e

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// gevent mode (gevent = N): N greenlet cores per worker under the gevent
// hub, compared with uWSGI 2.0 running the same app with its gevent plugin.

// requireGevent fails the test unless python3 has gevent and the reference
// server its gevent plugin.
func requireGevent(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/lib/uwsgi/plugins/gevent_python3_plugin.so"); err != nil {
		t.Fatalf("uWSGI's gevent plugin missing (%v)\n  install: apt-get install uwsgi-plugin-gevent-python3 (or run `make deps`)", err)
	}
	if out, err := exec.Command(Python3, "-c", "import gevent").CombinedOutput(); err != nil {
		t.Fatalf("python3 cannot import gevent (%v: %s)\n  install: apt-get install python3-gevent (or run `make deps`)", err, out)
	}
}

// geventArgs serves gevent_app.py on one worker with 10 async cores: HTTP on
// {http}, the stats server on {http2}, the uwsgi protocol on {sock}.
func geventArgs(extra ...string) []string {
	return append([]string{"--plugins", "python3,gevent_python3", "--master", "--gevent", "10",
		"--http-socket", "{http}", "--socket", "{sock}", "--stats", "{http2}",
		"--wsgi-file", "{apps}/gevent_app.py"}, extra...)
}

var (
	reqCoreRE  = regexp.MustCompile(`switches on core (\d+)\)`)
	reqTotalRE = regexp.MustCompile(`(\|req: \d+)/\d+\]`)
)

// geventLine normalises a request line; withCore false also hides the core
// and the instance's request total, which depends on which of requests in
// flight together ends first.
func geventLine(l string, withCore bool) string {
	l = NormaliseRequestLine(l)
	if !withCore {
		l = reqTotalRE.ReplaceAllString(l, "$1/<T>]")
		l = reqCoreRE.ReplaceAllString(l, "switches on core <C>)")
	}
	return l
}

// fetch is Do for goroutines: it reports failures instead of failing.
func fetch(addr, req string) (string, error) {
	raw, err := RawExchange(addr, []byte(req))
	if err != nil {
		return "", err
	}
	return statusAndBody(raw)
}

// statusAndBody is a raw response's status line and body, one string.
func statusAndBody(raw []byte) (string, error) {
	r, err := ParseResponse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %q", err, raw)
	}
	return r.StatusLine + " " + string(r.Body), nil
}

// TestGeventGreenletsRunConcurrently: on one worker, /a (HTTP) and /b
// (uwsgi protocol) each wait for the other to have started, so both can
// only finish if the worker ran them at the same time; then a request body
// that arrives in two parts does not hold the worker: another request is
// answered in between.
func TestGeventGreenletsRunConcurrently(t *testing.T) {
	requireGevent(t)
	Differential(t, Setup{Args: geventArgs()}, func(t *testing.T, e *Env) any {
		addr := e.Addr("http")
		var wg sync.WaitGroup
		replies := make([]string, 2)
		errs := make([]error, 2)
		requests := []struct{ addr, req string }{
			{addr, Get("/a")},
			{e.Addr("sock"), string(UwsgiPacket(BasicUwsgiVars("/b"), ""))},
		}
		for i, r := range requests {
			wg.Add(1)
			go func() {
				defer wg.Done()
				replies[i], errs[i] = fetch(r.addr, r.req)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		lines := e.Srv.WaitLogCount(t, `\[pid: .*GET /[ab] => .*`, 2, RequestTimeout)
		var log []string
		cores := map[string]bool{}
		for _, m := range lines {
			log = append(log, geventLine(m[0], false))
			cores[reqCoreRE.FindStringSubmatch(m[0])[1]] = true
		}
		sort.Strings(log)
		if len(cores) != 2 {
			t.Errorf("/a and /b ran on the same core: %q", lines)
		}

		// The body's second part is sent only after /three was answered.
		c, err := Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(RequestTimeout))
		fmt.Fprintf(c, "POST /post HTTP/1.1\r\nHost: test\r\nContent-Length: 10000\r\n\r\n%s", strings.Repeat("x", 4000))
		three := Do(t, addr, Get("/three"))
		c.Write([]byte(strings.Repeat("y", 6000)))
		post, err := readAll(c)
		if err != nil {
			t.Fatalf("POST: %v", err)
		}
		r, err := ParseResponse(post)
		if err != nil {
			t.Fatalf("POST reply: %v: %q", err, post)
		}
		return map[string]any{"replies": replies, "log": log, "three": string(three.Body), "post": string(r.Body)}
	})
}

func readAll(c net.Conn) ([]byte, error) {
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			if len(out) > 0 {
				return out, nil
			}
			return nil, err
		}
	}
}

// TestGeventRequestLineAndStats: the request line of gevent mode (LG-1:
// "(N switches on core C)", C the async core) for every shape of body
// (items, a generator, bytes, nothing, a body that raises, a file, write())
// and a raising app; the stats server lists N cores per worker.
func TestGeventRequestLineAndStats(t *testing.T) {
	requireGevent(t)
	Differential(t, Setup{Args: geventArgs()}, func(t *testing.T, e *Env) any {
		addr := e.Addr("http")
		paths := []string{"/three", "/gen", "/bytes", "/empty", "/midraise", "/file", "/write", "/raise", "/"}
		var replies []string
		for _, p := range paths {
			raw, err := RawExchange(addr, []byte(Get(p)))
			if err != nil {
				t.Fatalf("GET %s: %v", p, err)
			}
			replies = append(replies, string(raw))
		}
		var log []string
		for _, m := range e.Srv.WaitLogCount(t, `\[pid: .* => .*`, len(paths), RequestTimeout) {
			log = append(log, geventLine(m[0], true))
		}
		doc := readStats(t, e.Addr("http2"))
		if len(doc.Workers) != 1 {
			t.Fatalf("stats list %d workers, want 1", len(doc.Workers))
		}
		var perCore []int
		for _, c := range doc.Workers[0].Cores {
			perCore = append(perCore, c.Requests)
		}
		return map[string]any{"replies": replies, "log": log, "requests per core": perCore,
			"spawn": regexp.MustCompile(`spawned uWSGI worker 1 \(pid: \d+, cores: (\d+)\)`).FindStringSubmatch(e.Srv.Log())[1:]}
	})
}

// TestGeventMonkeyPatch: gevent-monkey-patch patches in each worker after
// the app was imported, gevent-early-monkey-patch before the import.
func TestGeventMonkeyPatch(t *testing.T) {
	requireGevent(t)
	tests := []struct {
		name string
		opts []string
		want string // socket.socket's module at import and at request time; threading patched
	}{
		{"none", nil, "socket socket False"},
		{"late", []string{"--gevent-monkey-patch"}, "socket gevent._socket3 True"},
		{"late-lazy-apps", []string{"--gevent-monkey-patch", "--lazy-apps"}, "socket gevent._socket3 True"},
		{"early", []string{"--gevent-early-monkey-patch"}, "gevent._socket3 gevent._socket3 True"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			Differential(t, Setup{Args: geventArgs(tc.opts...)}, func(t *testing.T, e *Env) any {
				got := string(Do(t, e.Addr("http"), Get("/patched")).Body)
				if got != tc.want {
					t.Errorf("%q: /patched = %q, want %q", tc.opts, got, tc.want)
				}
				return got
			})
		})
	}
}

// TestGeventAsyncAPI: uwsgi.async_sleep, suspend, ready_fd, green_schedule,
// loop, cores and the environ's uwsgi.core and x-wsgiorg.fdevent keys
// (PY-21, PY-44) as uWSGI's gevent mode gives them, on two workers (PM-3:
// preforking+async).
func TestGeventAsyncAPI(t *testing.T) {
	requireGevent(t)
	Differential(t, Setup{Args: geventArgs("--processes", "2")}, func(t *testing.T, e *Env) any {
		out := regexp.MustCompile(`\*\*\* Operational MODE: .* \*\*\*`).FindAllString(e.Srv.Log(), -1)
		for _, p := range []string{"/async", "/env"} {
			out = append(out, string(Do(t, e.Addr("http"), Get(p)).Body))
		}
		return out
	})
}

// TestGeventWaitFd: wait_fd_read, wait_fd_write, async_connect and the
// x-wsgiorg.fdevent keys suspend the request's greenlet until the fd is
// ready, or the timeout passes (ready_fd -1). uWSGI 2.0.21's gevent loop refuses wait_fd_* ("unable to
// fd N to the event queue"), so this runs on gosgi only (docs/compat.md).
func TestGeventWaitFd(t *testing.T) {
	requireGevent(t)
	vars := map[string]string{"http": FreePort(t), "http2": FreePort(t), "sock": SockPath(t, "app.sock"), "apps": AppsDir(t)}
	s := Start(t, "gosgi", GosgiBin(t), Args(geventArgs(), vars), StartOptions{})
	tests := []struct{ path, header, want string }{
		{"/wait_fd", "", "ready"},
		{"/wait_fd_timeout", "", "ready_fd -1"},
		{"/fdevent", "", "ready"},
		{"/connect", "X-Target: " + vars["http2"], "connected"},
	}
	for _, tc := range tests {
		var hs []string
		if tc.header != "" {
			hs = append(hs, tc.header)
		}
		r := Do(t, vars["http"], Get(tc.path, hs...))
		if string(r.Body) != tc.want {
			t.Errorf("GET %s = %q, want %q\n%s", tc.path, r.Body, tc.want, tail(s.Log()))
		}
	}
}

// TestGeventBadInputIsolated: while /a waits for /b, a malformed uwsgi
// packet and a raising app are handled without disturbing it: /a and /b
// still finish, and the worker keeps serving.
func TestGeventBadInputIsolated(t *testing.T) {
	requireGevent(t)
	Differential(t, Setup{Args: geventArgs()}, func(t *testing.T, e *Env) any {
		addr := e.Addr("http")
		var a string
		var aErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			a, aErr = fetch(addr, Get("/a"))
		}()
		e.Srv.WaitLog(t, `a: waiting for b`, RequestTimeout)
		// A packet whose first key claims more bytes than the block holds.
		bad := []byte{0, 6, 0, 0, 200, 0, 'K', 'E', 'Y', 'X'}
		badReply, err := RawExchangeHalfClose(e.Addr("sock"), bad)
		if err != nil {
			t.Fatalf("malformed packet: %v", err)
		}
		raised, err := RawExchange(addr, []byte(Get("/raise")))
		if err != nil {
			t.Fatalf("/raise: %v", err)
		}
		b := string(Do(t, addr, Get("/b")).Body)
		<-done
		if aErr != nil {
			t.Fatalf("/a: %v", aErr)
		}
		after := string(Do(t, addr, Get("/")).Body)
		return map[string]string{"a": a, "b": b, "bad packet reply": string(badReply), "raise reply": string(raised), "after": after}
	})
}

// TestGeventGracefulReload: on a graceful reload (PM-20, PM-30) a gevent
// worker finishes the request in flight; with gevent-wait-for-hub it also
// waits for the app's own greenlets, without it it leaves them behind.
func TestGeventGracefulReload(t *testing.T) {
	requireGevent(t)
	for _, waitForHub := range []bool{false, true} {
		name := "control-greenlet"
		var extra []string
		if waitForHub {
			name, extra = "wait-for-hub", []string{"--gevent-wait-for-hub"}
		}
		t.Run(name, func(t *testing.T) {
			Differential(t, Setup{Args: geventArgs(extra...)}, func(t *testing.T, e *Env) any {
				addr := e.Addr("http")
				bg, hold := SockPath(t, "bg.sock"), SockPath(t, "hold.sock")
				marker := e.Addr("dir") + "/marker"
				spawned := string(Do(t, addr, Get("/spawn", "X-Path: "+bg, "X-Marker: "+marker)).Body)
				e.Srv.WaitLog(t, `background waiting on`, RequestTimeout)
				var held string
				var holdErr error
				done := make(chan struct{})
				go func() {
					defer close(done)
					held, holdErr = fetch(addr, Get("/hold", "X-Path: "+hold))
				}()
				e.Srv.WaitLog(t, `holding on`, RequestTimeout)
				e.Srv.Signal(t, syscall.SIGHUP)
				e.Srv.WaitLog(t, `Gracefully killing worker 1 `, StartTimeout)
				release(t, hold)
				<-done
				if holdErr != nil {
					t.Fatalf("/hold: %v", holdErr)
				}
				if waitForHub {
					release(t, bg) // the worker is still there, waiting for it
					e.Srv.WaitFile(t, marker, `background done`, RequestTimeout)
				}
				e.Srv.WaitLog(t, `worker 1 buried after`, StopTimeout)
				_, err := os.Stat(marker)
				return map[string]any{"spawn": spawned, "hold": held, "background finished": err == nil}
			})
		})
	}
}

// release connects to the unix socket an app greenlet waits on.
func release(t *testing.T, path string) {
	t.Helper()
	c, err := net.DialTimeout("unix", path, RequestTimeout)
	if err != nil {
		t.Fatalf("release %s: %v", path, err)
	}
	c.Close()
}

// TestGeventHTTPSSocket: requests that arrive on an https-socket reach
// the greenlet cores too: /a and /b, each waiting for the other, both
// finish over TLS.
func TestGeventHTTPSSocket(t *testing.T) {
	requireGevent(t)
	Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
		dir := e.Vars["dir"]
		ca := newTLSCA(t, dir)
		crt, key := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
		ca.issue(t, crt, key, 100)
		addr := e.Addr("http")
		args := []string{"--plugins", "python3,gevent_python3", "--master", "--gevent", "10",
			"--https-socket", addr + "," + crt + "," + key, "--wsgi-file", filepath.Join(e.Vars["apps"], "gevent_app.py")}
		e.Srv = Start(t, e.Impl.Name, e.Impl.Bin, args, StartOptions{Dir: dir})
		var wg sync.WaitGroup
		replies := make([]string, 2)
		errs := make([]error, 2)
		for i, p := range []string{"/a", "/b"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// The TLS front keeps HTTP/1.1 connections open otherwise.
				replies[i], errs[i] = fetchTLS(ca, addr, Get(p, "Connection: close"))
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		return replies
	})
}

// fetchTLS sends req over TLS and returns the status line and body.
func fetchTLS(ca *tlsCA, addr, req string) (string, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: RequestTimeout}, "tcp", addr, &tls.Config{RootCAs: ca.pool})
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(RequestTimeout))
	if _, err := c.Write([]byte(req)); err != nil {
		return "", err
	}
	raw, err := readAll(c)
	if err != nil {
		return "", err
	}
	return statusAndBody(raw)
}

// TestGeventWithoutGeventModule: gevent = N on a Python without gevent
// stops the start with a line naming the missing module, instead of
// respawning workers that cannot serve.
func TestGeventWithoutGeventModule(t *testing.T) {
	apps := AppsDir(t)
	args := []string{"--master", "--gevent", "4", "--http-socket", FreePort(t),
		"--pythonpath", filepath.Join(filepath.Dir(apps), "nogevent"), "--wsgi-file", filepath.Join(apps, "hello.py")}
	r := Run(t, GosgiBin(t), args, t.TempDir())
	want := "gevent = 4 needs the gevent module (Debian: python3-gevent)"
	if r.Code != 1 || !strings.Contains(r.Stderr, want) {
		t.Errorf("exit %d, want 1 with %q in the log:\n%s", r.Code, want, tail(r.Stderr))
	}
}

// TestGeventTimerAfterMonkeyPatch: uwsgi timers (PY-45) still fire when
// gevent patched threading before the workers started.
func TestGeventTimerAfterMonkeyPatch(t *testing.T) {
	requireGevent(t)
	requireUwsgidecorators(t)
	args := []string{"--plugins", "python3,gevent_python3", "--master", "--gevent", "4", "--gevent-early-monkey-patch",
		"--http-socket", "{http}", "--env", "GEVENT_TICKS={dir}/ticks", "--wsgi-file", "{apps}/gevent_timer.py"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		e.Srv.WaitFile(t, e.Addr("dir")+"/ticks", `tick`, RequestTimeout)
		return "ticked"
	})
}

// TestGeventStaticFileSlowReader: a static file (PM-79) going to a client
// that stopped reading does not hold the worker: with the file's first
// bytes received and far more than the socket buffers hold while nobody
// reads (the receive window grows only as the client reads) still to
// send, another request is answered; then the whole file arrives.
func TestGeventStaticFileSlowReader(t *testing.T) {
	requireGevent(t)
	const size = 16 << 20
	Differential(t, Setup{Args: geventArgs("--static-map", "/s={dir}")}, func(t *testing.T, e *Env) any {
		if err := os.WriteFile(e.Addr("dir")+"/big.bin", bytes.Repeat([]byte("0123456789abcdef"), size/16), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Dial(e.Addr("http"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(RequestTimeout))
		c.Write([]byte(Get("/s/big.bin")))
		first := make([]byte, 1024)
		if _, err := io.ReadFull(c, first); err != nil {
			t.Fatalf("first bytes of the file: %v", err)
		}
		hello := string(Do(t, e.Addr("http"), Get("/")).Body)
		rest, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("rest of the file: %v", err)
		}
		r, err := ParseResponse(append(first, rest...))
		if err != nil {
			t.Fatalf("file reply: %v", err)
		}
		return map[string]any{"hello": hello, "status": r.StatusLine, "file bytes": len(r.Body)}
	})
}

// TestAsyncAPIWithoutLoop: outside gevent mode there is nothing to switch
// to: async_sleep, suspend, ready_fd and green_schedule answer at once and
// wait_fd_read raises, as uWSGI without an async loop engine (PY-44).
func TestAsyncAPIWithoutLoop(t *testing.T) {
	requireGevent(t) // the app imports gevent
	args := []string{"--plugins", "python3", "--master", "--http-socket", "{http}", "--wsgi-file", "{apps}/gevent_app.py"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		var out []string
		for _, p := range []string{"/async", "/wait_fd_refused"} {
			out = append(out, string(Do(t, e.Addr("http"), Get(p)).Body))
		}
		return out
	})
}

// TestGeventLoopAsync: `loop = gevent` with `async = N` is the long form of
// gevent = N: /a and /b can only both finish if they ran concurrently on
// the one worker, and the banner says the same as uWSGI's (which needs
// enable-threads there to run at all).
func TestGeventLoopAsync(t *testing.T) {
	requireGevent(t)
	args := []string{"--plugins", "python3,gevent_python3", "--master", "--loop", "gevent", "--async", "10",
		"--enable-threads", "--http-socket", "{http}", "--wsgi-file", "{apps}/gevent_app.py"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		addr := e.Addr("http")
		var a string
		var aErr error
		done := make(chan struct{})
		go func() { a, aErr = fetch(addr, Get("/a")); close(done) }()
		e.Srv.WaitLog(t, `a: waiting for b`, RequestTimeout)
		b, err := fetch(addr, Get("/b"))
		<-done
		if err != nil || aErr != nil {
			t.Fatalf("/a: %v, /b: %v", aErr, err)
		}
		var banner []string
		for _, pat := range []string{`- async cores set to \d+ -`, `\*\*\* Operational MODE: \w+ \*\*\*`,
			`spawned uWSGI worker 1 \(pid: \d+, cores: \d+\)`} {
			m := e.Srv.WaitLog(t, pat, StartTimeout)
			banner = append(banner, regexp.MustCompile(`pid: \d+`).ReplaceAllString(m[0], "pid: N"))
		}
		return map[string]any{"a": a, "b": b, "banner": banner}
	})
}
