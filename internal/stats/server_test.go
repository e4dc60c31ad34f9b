package stats

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuf collects the server's messages.
type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// start runs a server until the test ends.
func start(t *testing.T, addr string, o Options, snap func() *Snapshot) (*Server, *logBuf) {
	t.Helper()
	lb := &logBuf{}
	o.Log = lb.logf
	srv, err := Listen(addr, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, snap) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return srv, lb
}

func fetch(t *testing.T, network, addr, request string) string {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if request != "" {
		if _, err := io.WriteString(c, request); err != nil {
			t.Fatal(err)
		}
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

// TestServerTransports: ST-1 (TCP, UNIX, abstract, one document then EOF,
// no request read), ST-3 (stats-http), ST-4 (minified), and the startup
// line users grep for.
func TestServerTransports(t *testing.T) {
	dir := t.TempDir()
	want := string(AppendJSON(nil, sampleSnapshot(), Format{}))
	tests := []struct {
		name    string
		addr    string
		network string
		opts    Options
		request string
		want    string
	}{
		{"tcp", "127.0.0.1:0", "tcp", Options{}, "", want},
		{"unix", filepath.Join(dir, "stats.sock"), "unix", Options{}, "", want},
		{"abstract", "@gosgi-stats-test-" + fmt.Sprint(os.Getpid()), "unix", Options{}, "", want},
		{"http", "127.0.0.1:0", "tcp", Options{HTTP: true}, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", httpHead + want},
		{"http any path", "127.0.0.1:0", "tcp", Options{HTTP: true}, "POST /whatever HTTP/1.0\r\n\r\n", httpHead + want},
		{"minified", "127.0.0.1:0", "tcp", Options{Minified: true}, "",
			string(AppendJSON(nil, sampleSnapshot(), Format{Minified: true}))},
		{"client talks anyway", "127.0.0.1:0", "tcp", Options{}, "GET / HTTP/1.0\r\n\r\n", want},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, lb := start(t, tc.addr, tc.opts, sampleSnapshot)
			addr := srv.Addr().String()
			if tc.network == "unix" {
				addr = tc.addr
				if strings.HasPrefix(addr, "@") {
					addr = "\x00" + addr[1:]
				}
			}
			if got := fetch(t, tc.network, addr, tc.request); got != tc.want {
				t.Errorf("reply differs:\n%s", firstDiff([]byte(got), []byte(tc.want)))
			}
			wantLog := fmt.Sprintf("*** Stats server enabled on %s fd: %d ***", tc.addr, srv.FD())
			if !strings.Contains(lb.String(), wantLog) || srv.FD() < 0 {
				t.Errorf("log %q lacks %q", lb.String(), wantLog)
			}
		})
	}
}

// TestServerFreshValues: every client sees a new snapshot (ST-5).
func TestServerFreshValues(t *testing.T) {
	var mu sync.Mutex
	n := int64(0)
	srv, _ := start(t, "127.0.0.1:0", Options{Minified: true}, func() *Snapshot {
		mu.Lock()
		defer mu.Unlock()
		n++
		return &Snapshot{Version: "x", ListenQueue: n}
	})
	for i := int64(1); i <= 3; i++ {
		var v struct {
			ListenQueue int64 `json:"listen_queue"`
		}
		if err := json.Unmarshal([]byte(fetch(t, "tcp", srv.Addr().String(), "")), &v); err != nil {
			t.Fatal(err)
		}
		if v.ListenQueue != i {
			t.Errorf("client %d saw listen_queue %d", i, v.ListenQueue)
		}
	}
}

// bigSnapshot is larger than a UNIX socket's buffers, so a client that
// does not read blocks the write.
func bigSnapshot() *Snapshot {
	s := sampleSnapshot()
	w := s.Workers[0]
	for i := 0; i < 500; i++ {
		w.ID = i + 1
		s.Workers = append(s.Workers, w)
	}
	return s
}

// TestServerStuckClients: clients that connect and never read, or never
// send their stats-http request, cost one slot for at most the timeout,
// get a clear log line, and do not stop others from being served.
func TestServerStuckClients(t *testing.T) {
	for _, httpMode := range []bool{false, true} {
		t.Run(fmt.Sprintf("http=%v", httpMode), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.sock")
			_, lb := start(t, path, Options{HTTP: httpMode, Timeout: 500 * time.Millisecond, MaxConns: 2}, bigSnapshot)
			var stuck []net.Conn
			for range 4 { // more than MaxConns
				c, err := net.Dial("unix", path)
				if err != nil {
					t.Fatal(err)
				}
				stuck = append(stuck, c)
			}
			defer func() {
				for _, c := range stuck {
					c.Close()
				}
			}()
			begin := time.Now()
			req := ""
			if httpMode {
				req = "GET / HTTP/1.0\r\n\r\n"
			}
			got := fetch(t, "unix", path, req)
			got = strings.TrimPrefix(got, httpHead)
			if !json.Valid([]byte(got)) {
				t.Fatalf("good client got %d bytes of invalid JSON; log:\n%s", len(got), lb.String())
			}
			if d := time.Since(begin); d > 8*time.Second {
				t.Errorf("good client waited %v", d)
			}
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(lb.String(), "stats: write to a local client: ") {
				if time.Now().After(deadline) {
					t.Fatalf("no write timeout logged: %q", lb.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if !strings.Contains(lb.String(), "i/o timeout") {
				t.Errorf("log does not say why: %q", lb.String())
			}
		})
	}
}

// TestServerManyClients: a hundred clients at once all get the whole
// document, with at most MaxConns served at a time.
func TestServerManyClients(t *testing.T) {
	srv, _ := start(t, "127.0.0.1:0", Options{}, sampleSnapshot)
	want := string(AppendJSON(nil, sampleSnapshot(), Format{}))
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", srv.Addr().String(), 10*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			b, err := io.ReadAll(bufio.NewReader(c))
			if err != nil {
				errs <- err
				return
			}
			if string(b) != want {
				errs <- fmt.Errorf("got %d bytes, want %d", len(b), len(want))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestListenErrors: a path that is a regular file is reported and left
// alone; a stale socket is replaced; a live one is refused.
func TestListenErrors(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "stats.sock")
	if err := os.WriteFile(regular, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Listen(regular, Options{})
	if err == nil || !strings.Contains(err.Error(), "exists and is not a socket") || !strings.Contains(err.Error(), regular) {
		t.Errorf("regular file: err = %v", err)
	}
	if b, _ := os.ReadFile(regular); string(b) != "precious" {
		t.Errorf("regular file was touched: %q", b)
	}

	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // the file stays, nobody listens: a crashed instance
	srv, err := Listen(stale, Options{})
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	_, err = Listen(stale, Options{})
	if err == nil || !strings.Contains(err.Error(), "another process is listening") {
		t.Errorf("live socket: err = %v", err)
	}
	srv.Close()
	if _, err := os.Lstat(stale); err != nil {
		t.Errorf("socket file removed by Close (only vacuum removes it): %v", err)
	}
	lb := &logBuf{}
	srv.opts.Log = lb.logf
	if err := srv.Vacuum(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(stale); !os.IsNotExist(err) {
		t.Errorf("socket file left after Vacuum: %v", err)
	}
	if want := "VACUUM: unix socket " + stale + " (stats) removed."; lb.String() != want {
		t.Errorf("vacuum log %q, want %q", lb.String(), want)
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, err = Listen(taken.Addr().String(), Options{})
	if err == nil || !strings.Contains(err.Error(), "stats: bind "+taken.Addr().String()) {
		t.Errorf("busy port: err = %v", err)
	}
	if _, err := Listen("", Options{}); err == nil {
		t.Error("empty address accepted")
	}
}
