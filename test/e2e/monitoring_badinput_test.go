package e2e

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestStatsPathIsARegularFile: a stats path taken by a regular file is
// reported, left alone, and the app serves without stats.
func TestStatsPathIsARegularFile(t *testing.T) {
	RequireTools(t)
	e := NewEnv(t, Impl{Name: "gosgi", Bin: GosgiBin(t)}, Setup{NoStart: true})
	path := filepath.Join(e.Addr("dir"), "stats.sock")
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := Start(t, "gosgi", e.Impl.Bin, Args(helloArgs("--processes", "1", "--stats", path), e.Vars), StartOptions{})
	srv.WaitLog(t, `stats: `+regexp.QuoteMeta(path)+` exists and is not a socket: not removing it: the stats server is off`, StartTimeout)
	wantHello(t, e.Addr("http"))
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Errorf("the file was touched: %q", b)
	}
}

// TestStatsStuckClientsDoNotStopServing: a hundred stats clients that
// connect and never read leave the app serving, and once they are gone
// the stats server answers again.
func TestStatsStuckClientsDoNotStopServing(t *testing.T) {
	e := gosgiEnv(t, helloArgs("--processes", "1", "--stats", "{http2}"))
	var conns []net.Conn
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("tcp", e.Addr("http2"), RequestTimeout)
		if err != nil {
			t.Fatalf("stats client %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	// Requests from several clients at once, while the stats clients hang.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wantHello(t, e.Addr("http"))
		}()
	}
	wg.Wait()
	for _, c := range conns {
		c.Close()
	}
	deadline := time.Now().Add(RequestTimeout)
	for {
		raw, err := RawExchange(e.Addr("http2"), nil)
		if err == nil && strings.Contains(string(raw), `"workers"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never answered again: %v %q", err, raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLogFilesThatCannotBeOpened: logto2, a logger and a req-logger in a
// directory the instance may not write to (after the privilege drop when
// running as root) are reported with the path and the reason; the log
// stays where it was and the app serves, request lines included.
func TestLogFilesThatCannotBeOpened(t *testing.T) {
	RequireTools(t)
	e := NewEnv(t, Impl{Name: "gosgi", Bin: GosgiBin(t)}, Setup{NoStart: true})
	private := filepath.Join(e.Addr("dir"), "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	var drop []string
	if os.Getuid() == 0 {
		// root opens anything: the files are opened as nobody instead.
		drop = []string{"--uid", "nobody", "--gid", "nogroup"}
		// nobody reaches the directory but not into private (0700 root).
		for _, d := range []string{filepath.Dir(e.Addr("dir")), e.Addr("dir")} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	} else if err := os.Chmod(private, 0o500); err != nil {
		t.Fatal(err)
	}
	args := append(helloArgs("--processes", "1", "--logto2", private+"/main.log",
		"--req-logger", "file:"+private+"/req.log"), drop...)
	srv := Start(t, "gosgi", e.Impl.Bin, Args(args, e.Vars), StartOptions{})
	srv.WaitLog(t, `logto2: open\("`+regexp.QuoteMeta(private)+`/main.log"\): permission denied: the log stays on the current output`, StartTimeout)
	wantHello(t, e.Addr("http"))
	srv.WaitLog(t, `req-logger: logger "file:`+regexp.QuoteMeta(private)+`/req.log": open .*permission denied: its lines go to the default log`, RequestTimeout)
	srv.WaitLog(t, `GET / => generated 14 bytes`, RequestTimeout)
	wantHello(t, e.Addr("http"))
	if srv.Exited() {
		t.Fatalf("the instance ended:\n%s", srv.Log())
	}
}

// TestLogto2OpenedAfterPrivilegeDrop: logto2 (LG-23) is opened once the
// instance runs as its uid, so the file belongs to that user, and it takes
// the log from then on: the request lines and app output land in it.
func TestLogto2OpenedAfterPrivilegeDrop(t *testing.T) {
	RequireTools(t)
	e := NewEnv(t, Impl{Name: "gosgi", Bin: GosgiBin(t)}, Setup{NoStart: true})
	dir := e.Addr("dir")
	var drop []string
	wantUID := os.Getuid()
	if wantUID == 0 {
		drop = []string{"--uid", "nobody", "--gid", "nogroup"}
		wantUID = 65534
		// nobody must reach the directory: the test's temporary tree is 0700.
		if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	logPath := filepath.Join(dir, "late.log")
	args := append(helloArgs("--processes", "1", "--logto2", logPath), drop...)
	srv := Start(t, "gosgi", e.Impl.Bin, Args(args, e.Vars), StartOptions{Ready: "-"})
	waitLogFile(t, logPath, "spawned uWSGI worker 1")
	wantHello(t, e.Addr("http"))
	waitLogFile(t, logPath, "GET / => generated 14 bytes")
	var st syscall.Stat_t
	if err := syscall.Stat(logPath, &st); err != nil {
		t.Fatal(err)
	}
	if int(st.Uid) != wantUID {
		t.Errorf("logto2 file owned by uid %d, want %d (opened after the drop)", st.Uid, wantUID)
	}
	if strings.Contains(srv.Log(), "GET / => generated") {
		t.Errorf("request line in the first log too:\n%s", srv.Log())
	}
}

// TestLogRouterBadRules: a rule the router cannot use stops the start with
// a message naming the option and value, on the terminal's stderr.
func TestLogRouterBadRules(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--logger", "x stdio", "--log-route", "x ("}, `log-route "x \(": error parsing regexp`},
		{[]string{"--log-drain", `^((?!health).)*$`}, `log-drain "\^\(\(\?!health\)\.\)\*\$": error parsing regexp: invalid or unsupported Perl syntax`},
		{[]string{"--log-route", "nobody x"}, `log-route "nobody x": no logger named "nobody"`},
		{[]string{"--log-encoder", "gzip"}, `log encoder "gzip": compressed log lines are not provided by gosgi`},
	}
	for _, c := range cases {
		t.Run(c.args[len(c.args)-1], func(t *testing.T) {
			e := gosgiEnvNoStart(t)
			srv := Start(t, "gosgi", e.Impl.Bin, Args(helloArgs(c.args...), e.Vars), StartOptions{Ready: "-"})
			if code := srv.Wait(t, StartTimeout); code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			srv.WaitLog(t, c.want, StartTimeout)
		})
	}
}

func gosgiEnvNoStart(t *testing.T) *Env {
	t.Helper()
	RequireTools(t)
	return NewEnv(t, Impl{Name: "gosgi", Bin: GosgiBin(t)}, Setup{NoStart: true})
}
