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

// livePidIn waits until path holds the pid of a live process other than
// not, and returns it.
func livePidIn(t *testing.T, path string, not int, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(path)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid != not && processAlive(pid) {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no live pid (other than %d) within %v; content %q", path, not, timeout, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// killDaemon signals a daemon and, when it leads one, its process group:
// both implementations start smart-attach-daemon2's command through a
// shell that leads its group, and the pidfile names that shell.
func killDaemon(pid int, sig syscall.Signal) {
	syscall.Kill(-pid, sig)
	syscall.Kill(pid, sig)
}

// TestSmartAttachDaemon: PM-75 / OP-91, a daemon followed through its
// pidfile: its pid survives a graceful reload (the new image adopts it:
// "found valid/active pidfile"), a killed daemon is started again, and a
// stop leaves it running, as uWSGI does. smart-attach-daemon's command
// forks and writes the pidfile itself; smart-attach-daemon2's does not
// fork, and the master writes the pidfile.
func TestSmartAttachDaemon(t *testing.T) {
	for _, tc := range []struct {
		opt, cmd string
	}{
		{"smart-attach-daemon", "sh -c 'sleep 1000 & echo $! > %s'"},
		{"smart-attach-daemon2", "sleep 1001"},
	} {
		t.Run(tc.opt, func(t *testing.T) {
			Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
				pidfile := filepath.Join(e.Vars["dir"], "daemon.pid")
				cmd := tc.cmd
				if strings.Contains(cmd, "%s") {
					cmd = fmt.Sprintf(cmd, pidfile)
				}
				args := Args(helloArgs("--processes", "1", "--"+tc.opt, pidfile+" "+cmd), e.Vars)
				srv := Start(t, e.Impl.Name, e.Impl.Bin, args, StartOptions{Dir: e.Vars["dir"]})
				t.Cleanup(func() {
					if b, err := os.ReadFile(pidfile); err == nil {
						if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 {
							killDaemon(pid, syscall.SIGKILL)
						}
					}
				})
				first := livePidIn(t, pidfile, 0, StartTimeout)

				srv.Signal(t, syscall.SIGHUP)
				srv.WaitLog(t, regexp.QuoteMeta(fmt.Sprintf("found valid/active pidfile for \"%s\" (pid: %d)", cmd, first)), StartTimeout)
				srv.WaitLogCount(t, `spawned uWSGI worker 1 `, 2, StartTimeout)
				wantHello(t, e.Addr("http"))
				res := map[string]any{"survives_reload": processAlive(first)}

				killDaemon(first, syscall.SIGTERM)
				second := livePidIn(t, pidfile, first, 10*time.Second)
				res["respawned"] = second != first

				res["exit"] = srv.Stop(t)
				time.Sleep(500 * time.Millisecond) // time for a stop to reach the daemon, if one were sent
				res["alive_after_stop"] = processAlive(second)
				return res
			})
		})
	}
}
