package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// privilegedPort finds a free TCP port below 1024 on loopback: binding
// it after the drop to nobody needs CAP_NET_BIND_SERVICE.
func privilegedPort(t *testing.T) string {
	t.Helper()
	for p := 900; p < 1024; p++ {
		addr := fmt.Sprintf("127.0.0.1:%d", p)
		l, err := net.Listen("tcp", addr)
		if err == nil {
			l.Close()
			return addr
		}
	}
	t.Fatalf("no free port in 900..1023")
	return ""
}

// TestCapKeptAfterSetuid: OP-81, `cap = net_bind_service` with `uid =
// nobody`: the master binds a privileged port after dropping to nobody,
// and the workers run as nobody with that one capability in their
// inheritable, permitted and effective sets (none ambient), as uWSGI's do.
func TestCapKeptAfterSetuid(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("cap needs a root master to drop from: run the e2e tests as root")
	}
	Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
		// The Python processes run as nobody: they must reach the app
		// and their working directory.
		os.Chmod(e.Vars["dir"], 0o755)
		addr := privilegedPort(t)
		args := []string{"--plugin", "python3", "--master", "--processes", "1",
			"--http-socket", addr, "--wsgi-file", e.Vars["apps"] + "/capstatus.py",
			"--uid", "nobody", "--gid", "nogroup", "--cap", "net_bind_service"}
		srv := Start(t, e.Impl.Name, e.Impl.Bin, args, StartOptions{Dir: e.Vars["dir"]})
		e.Srv = srv
		r := Do(t, addr, Get("/"))
		if !strings.Contains(r.StatusLine, " 200 ") {
			t.Fatalf("reply %q", r.Raw)
		}
		body := string(r.Body)
		for _, want := range []string{"CapEff:\t0000000000000400", "CapPrm:\t0000000000000400", "Uid:\t65534"} {
			if !strings.Contains(body, want) {
				t.Errorf("worker status lacks %q:\n%s", want, body)
			}
		}
		var lines []string
		for _, l := range strings.Split(srv.Log(), "\n") {
			if strings.HasPrefix(l, "setting capability") || strings.HasPrefix(l, "setuid()") || strings.HasPrefix(l, "setgid()") {
				lines = append(lines, l)
			}
		}
		if code := srv.Stop(t); code != 0 {
			t.Errorf("exit %d", code)
		}
		return map[string]any{"worker": body, "log": lines}
	})
}

// TestPidfile2AfterDrop: pidfile is written by root before the privileges
// go, pidfile2 after them, so it belongs to uid (OP: pidfile2), each with
// its "writing pidfile to" line where uWSGI prints it.
func TestPidfile2AfterDrop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("pidfile2 needs a root master to drop from: run the e2e tests as root")
	}
	Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
		dir := e.Vars["dir"]
		// The test's own directory is private to root: nobody writes
		// pidfile2 in a directory of its own under /tmp.
		pd, err := os.MkdirTemp("", "gosgi-pidfile2-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(pd) })
		os.Chmod(pd, 0o777)
		args := []string{"--plugin", "python3", "--master", "--processes", "1",
			"--http-socket", e.Addr("http"), "--wsgi-file", e.Vars["apps"] + "/hello.py",
			"--uid", "nobody", "--gid", "nogroup", "--pidfile", pd + "/p1", "--pidfile2", pd + "/p2"}
		srv := Start(t, e.Impl.Name, e.Impl.Bin, args, StartOptions{Dir: dir})
		e.Srv = srv
		var lines, owners []string
		for _, l := range strings.Split(srv.Log(), "\n") {
			if strings.HasPrefix(l, "writing pidfile") || strings.HasPrefix(l, "setuid()") || strings.HasPrefix(l, "setgid()") {
				lines = append(lines, strings.ReplaceAll(l, pd, "DIR"))
			}
		}
		for _, p := range []string{"p1", "p2"} {
			var st syscall.Stat_t
			if err := syscall.Stat(filepath.Join(pd, p), &st); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			b, _ := os.ReadFile(filepath.Join(pd, p))
			owners = append(owners, fmt.Sprintf("%s uid %d gid %d pid ok %v", p, st.Uid, st.Gid,
				strings.TrimSpace(string(b)) == strconv.Itoa(srv.Pid())))
		}
		return map[string]any{"log": lines, "files": owners}
	})
}
