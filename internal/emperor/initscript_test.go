package emperor

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInitScript drives init.d/uwsgi-emperor by executing it directly
// (Debian's is a silent no-op then: E-07), with this test binary as the
// server. It checks the 0644 pidfile (E-08), start/status/reload/stop
// exit codes, and that stop leaves other processes named uwsgi alone
// (E-05's global sweep).
func TestInitScript(t *testing.T) {
	need(t, "/usr/sbin/start-stop-daemon", python3)
	script, err := filepath.Abs("../../init.d/uwsgi-emperor")
	if err != nil {
		t.Fatal(err)
	}
	pub := publicDir(t)
	self, _ := os.Executable()
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(pub, "bin"), 0o755)
	// As on Debian, /usr/bin/uwsgi is a link to the real binary: the
	// emperor must still be named uwsgi after daemonizing.
	os.WriteFile(filepath.Join(pub, "bin", "gosgi"), data, 0o755)
	daemonPath := filepath.Join(pub, "bin", "uwsgi")
	os.Symlink("gosgi", daemonPath)
	vassals := filepath.Join(pub, "vassals")
	os.Mkdir(vassals, 0o755)
	pidfile := filepath.Join(pub, "uwsgi-emperor.pid")
	logfile := filepath.Join(pub, "log", "emperor.log")
	defaults := filepath.Join(pub, "default")
	os.WriteFile(defaults, []byte("VERBOSE=yes\nDAEMON="+daemonPath+"\nCONFIG="+filepath.Join(pub, "emperor.ini")+
		"\nPIDFILE="+pidfile+"\nLOGFILE="+logfile+"\n"), 0o644)
	// The server reads its options from here (see TestMain); they are
	// the ones the script passes on the command line.
	o := opts{"emperor": {vassals}, "emperor-freq": {"1"}, "die-on-term": {"true"}, "master": {"true"},
		"pidfile": {pidfile}, "daemonize": {logfile}, "emperor-wrapper": {fakeVassal(t, pub)}}
	j, _ := json.Marshal(o)
	env := append(os.Environ(), "UWSGI_EMPEROR_DEFAULTS="+defaults, envRunOpts+"="+string(j))

	ctl := func(verb string) (string, int) {
		cmd := exec.Command(script, verb)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", verb, err)
		}
		return string(out), code
	}

	// An unrelated program that is also called uwsgi.
	other := exec.Command(filepath.Join(pub, "bin", "other", "uwsgi"), "60")
	os.MkdirAll(filepath.Dir(other.Path), 0o755)
	sleep, _ := os.ReadFile("/bin/sleep")
	os.WriteFile(other.Path, sleep, 0o755)
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer other.Process.Kill()

	if out, code := ctl("status"); code != 3 {
		t.Errorf("status before start: rc %d %q, want 3", code, out)
	}
	out, code := ctl("start")
	if code != 0 || !strings.Contains(out, "Starting uWSGI Emperor server") {
		t.Fatalf("start: rc %d %q\nlog: %s", code, out, readFile(logfile))
	}
	fi, err := os.Stat(pidfile)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("pidfile: %v %v, want 0644", fi, err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(readFile(pidfile)))
	defer syscall.Kill(pid, syscall.SIGKILL)
	if comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); string(comm) != "uwsgi\n" {
		t.Errorf("daemonized emperor comm %q, want uwsgi", comm)
	}
	if out, code := ctl("status"); code != 0 || out != "uwsgi is running.\n" {
		t.Errorf("status: rc %d %q", code, out)
	}
	if _, code := ctl("start"); code != 0 {
		t.Errorf("second start: rc %d", code)
	}
	if p2, _ := strconv.Atoi(strings.TrimSpace(readFile(pidfile))); p2 != pid {
		t.Errorf("second start replaced the emperor: %d -> %d", pid, p2)
	}
	os.WriteFile(filepath.Join(vassals, "v.ini"), []byte("[uwsgi]\n"), 0o644)
	waitFor(t, 10*time.Second, "vassal", func() bool { return strings.Contains(readFile(logfile), "vassal v.ini is ready to accept requests") })
	if _, code := ctl("reload"); code != 0 {
		t.Errorf("reload: rc %d", code)
	}
	waitFor(t, 5*time.Second, "reload", func() bool { return strings.Contains(readFile(logfile), "reload the uwsgi instance v.ini") })

	if out, code := ctl("stop"); code != 0 {
		t.Errorf("stop: rc %d %q", code, out)
	}
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("emperor %d still running after stop", pid)
	}
	if _, err := os.Stat(pidfile); err == nil {
		t.Error("pidfile left after stop")
	}
	if err := other.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("stop killed an unrelated uwsgi process: %v", err)
	}
	if !strings.Contains(readFile(logfile), "The Emperor is buried.") {
		t.Errorf("emperor log:\n%s", readFile(logfile))
	}
	if out, code := ctl("stop"); code != 0 {
		t.Errorf("stop when stopped: rc %d %q", code, out)
	}
	if _, code := ctl("status"); code != 3 {
		t.Errorf("status after stop: rc %d, want 3", code)
	}
	if _, code := ctl("bogus"); code != 3 {
		t.Errorf("unknown verb: rc %d, want 3", code)
	}
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}
