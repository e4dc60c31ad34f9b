package emperor

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunNotifyAndBrutalReload runs the emperor through Run under a fake
// systemd notify socket: READY=1 and "The Emperor is governing N
// vassals" arrive (S-22), vassals do not see NOTIFY_SOCKET (S-23),
// SIGTERM to a master without die-on-term re-executes the emperor in
// place with fresh vassals (T-09), and SIGQUIT buries it.
func TestRunNotifyAndBrutalReload(t *testing.T) {
	need(t, python3)
	dir, tools, reports := t.TempDir(), t.TempDir(), t.TempDir()
	sockPath := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	os.WriteFile(filepath.Join(dir, "v.ini"), []byte("[uwsgi]\n"), 0o644)
	logfile := filepath.Join(t.TempDir(), "emperor.log")
	o := opts{"emperor": {dir}, "emperor-freq": {"1"}, "master": {"true"}, "logto": {logfile},
		"emperor-wrapper": {fakeVassal(t, tools)}}
	j, _ := json.Marshal(o)
	self, _ := os.Executable()
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), envRunOpts+"="+string(j), "NOTIFY_SOCKET="+sockPath, "FAKE_REPORT_DIR="+reports)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()

	expect := func(want string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case m := <-msgs:
				if strings.Contains(m, want) {
					return
				}
			case <-deadline:
				t.Fatalf("no notify message containing %q; log:\n%s", want, readFile(logfile))
			}
		}
	}
	expect("READY=1")
	expect("STATUS=The Emperor is governing 1 vassals")
	rep := readReport(t, filepath.Join(reports, "v.ini.json"))
	env, _ := rep["env"].(map[string]any)
	if _, leaked := env["NOTIFY_SOCKET"]; leaked {
		t.Errorf("vassal sees NOTIFY_SOCKET: %v", env)
	}
	os.Remove(filepath.Join(reports, "v.ini.json"))

	cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, 10*time.Second, "brutal reload", func() bool {
		return strings.Contains(readFile(logfile), "...brutally reloading the Emperor...")
	})
	readReport(t, filepath.Join(reports, "v.ini.json")) // a fresh vassal
	expect("READY=1")
	select {
	case err := <-exited:
		t.Fatalf("emperor exited on SIGTERM without die-on-term: %v", err)
	default:
	}

	cmd.Process.Signal(syscall.SIGQUIT)
	expect("STATUS=The Emperor is buried.")
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("emperor did not exit on SIGQUIT")
	}
}
