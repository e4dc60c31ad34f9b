package e2e

import (
	"fmt"
	"net"
	"os"
	"strings"
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
		t.Skip("cap needs a root master to drop from: run the e2e tests as root")
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
