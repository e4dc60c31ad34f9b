package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/gosgi/gosgi/internal/service"
)

func TestMain(m *testing.M) {
	os.Exit(testscript.RunMain(m, map[string]func() int{
		"uwsgi-service": func() int { return run(os.Args[1:], os.Stdout, os.Stderr) },
	}))
}

// servers are the server binaries the scripts drive: UWSGI_BIN alone when
// set, else both Debian's uWSGI and gosgi's own build (make build puts it
// in bin/), so the controller is checked against the server it replaces
// and the one it ships with.
func servers(t *testing.T) map[string]string {
	if b := os.Getenv("UWSGI_BIN"); b != "" {
		return map[string]string{filepath.Base(filepath.Dir(b)) + "-" + filepath.Base(b): b}
	}
	gosgi, err := filepath.Abs("../../bin/uwsgi")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"uwsgi": "/usr/bin/uwsgi", "gosgi": gosgi}
}

// isGosgi tells the two servers apart (gosgi's --help names it; uWSGI's
// never does), for the few lines where the scripts accept a documented
// difference.
func isGosgi(bin string) bool {
	out, _ := exec.Command(bin, "--help").CombinedOutput()
	return strings.Contains(string(out), "gosgi")
}

// TestScripts drives the controller against real servers (see servers)
// in a scratch layout under $WORK: etc/, run/, log/, defaults,
// default.ini, app.py. The scripts cite the spec items (C-*, D-*, I-*)
// they check.
func TestScripts(t *testing.T) {
	if _, err := exec.LookPath("/usr/bin/python3"); err != nil {
		t.Fatalf("/usr/bin/python3 is required: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("these scripts check www-data ownership and need root")
	}
	if _, err := user.Lookup("www-data"); err != nil {
		t.Fatalf("user www-data is required: %v", err)
	}
	for name, bin := range servers(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := exec.LookPath(bin); err != nil {
				t.Fatalf("server binary %s is required (make build, or set UWSGI_BIN): %v", bin, err)
			}
			gosgi := isGosgi(bin)
			testscript.Run(t, testscript.Params{
				Dir:   "testdata",
				Setup: setupLayout(bin),
				Condition: func(cond string) (bool, error) {
					if cond == "gosgi" {
						return gosgi, nil
					}
					return false, fmt.Errorf("unknown condition %q", cond)
				},
				Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
					"uwsgireq":    cmdUwsgiReq,
					"fileinfo":    cmdFileInfo,
					"savepid":     cmdSavePid,
					"samepid":     cmdSamePid,
					"procinfo":    cmdProcInfo,
					"killpid":     cmdKillPid,
					"waitgone":    cmdWaitGone,
					"setdefaults": cmdSetDefaults,
					"waitfile":    cmdWaitFile,
					"waitlog":     cmdWaitLog,
				},
			})
		})
	}
}

// shippedDefaultINI is the inherited config the package installs; the
// scripts run it with /run/uwsgi moved under $WORK.
const shippedDefaultINI = "../../debian/default.ini"

// appPy answers with what the Debian layout promises an app: its uid and
// the two UWSGI_DEB_* variables (C-21).
const appPy = `import os
def application(env, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    body = 'hello uid=%d gid=%d confname=%s ns=%s' % (os.getuid(), os.getgid(),
        os.environ.get('UWSGI_DEB_CONFNAME'), os.environ.get('UWSGI_DEB_CONFNAMESPACE'))
    return [body.encode()]
`

func setupLayout(bin string) func(env *testscript.Env) error {
	return func(env *testscript.Env) error {
		w := env.WorkDir
		for _, d := range []string{"etc/apps-enabled", "etc/apps-available", "log/app"} {
			if err := os.MkdirAll(filepath.Join(w, d), 0o755); err != nil {
				return err
			}
		}
		// The workers run as www-data and must be able to reach the app:
		// open up $WORK and the private temp directory above it.
		for _, d := range []string{w, filepath.Dir(w)} {
			if err := os.Chmod(d, 0o755); err != nil {
				return err
			}
		}
		shipped, err := os.ReadFile(shippedDefaultINI)
		if err != nil {
			return err
		}
		files := map[string]string{
			"default.ini": strings.ReplaceAll(string(shipped), "/run/uwsgi/", w+"/run/"),
			"app.py":      appPy,
			"defaults":    defaultsFile(w),
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(w, name), []byte(body), 0o644); err != nil {
				return err
			}
		}
		env.Setenv("UWSGI_BIN", bin)
		env.Setenv("UWSGI_SERVICE_CONF_DIR", w+"/etc")
		env.Setenv("UWSGI_SERVICE_RUN_DIR", w+"/run")
		env.Setenv("UWSGI_SERVICE_LOG_DIR", w+"/log")
		env.Setenv("UWSGI_SERVICE_DEFAULTS", w+"/defaults")
		env.Setenv("UWSGI_SERVICE_SYSTEMD_DIR", w+"/systemd")
		env.Setenv("APP", w+"/app.py")
		// The init script runs with a fixed PATH, so it is told where the
		// controller (this test binary, under testscript's name) is.
		initd, err := filepath.Abs("../../init.d/uwsgi")
		if err != nil {
			return err
		}
		env.Setenv("INITD", initd)
		for _, dir := range filepath.SplitList(env.Getenv("PATH")) {
			if p := filepath.Join(dir, "uwsgi-service"); fileExists(p) {
				env.Setenv("UWSGI_SERVICE", p)
				break
			}
		}
		// Whatever a failed script leaves running is killed: only masters
		// whose pidfile lies under this script's $WORK (workers follow
		// through no-orphans).
		env.Defer(func() { killLeftovers(w) })
		return nil
	}
}

// defaultsFile is the scratch /etc/default/uwsgi: the shipped values
// with INHERITED_CONFIG pointing at $WORK/default.ini, then extra lines.
func defaultsFile(work string, extra ...string) string {
	lines := append([]string{
		"VERBOSE=yes",
		"PRINT_CONFNAMES_IN_INITD_SCRIPT_OUTPUT=no",
		"INHERITED_CONFIG=" + work + "/default.ini",
	}, extra...)
	return strings.Join(lines, "\n") + "\n"
}

// setdefaults VAR=VALUE...: rewrites $WORK/defaults with these lines
// after the standard ones (later assignments win, as in a shell).
func cmdSetDefaults(ts *testscript.TestScript, neg bool, args []string) {
	work := ts.Getenv("WORK")
	ts.Check(os.WriteFile(filepath.Join(work, "defaults"), []byte(defaultsFile(work, args...)), 0o644))
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func killLeftovers(work string) {
	pidfiles, _ := filepath.Glob(filepath.Join(work, "run", "*", "*", "pid"))
	for _, pf := range pidfiles {
		pid, err := service.ReadPid(pf)
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if bytes.Contains(cmdline, []byte(work)) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// uwsgireq SOCKET [PATH]: one uwsgi-protocol GET over a unix socket;
// the raw response goes to stdout.
func cmdUwsgiReq(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: uwsgireq SOCKET [PATH]")
	}
	path := "/"
	if len(args) == 2 {
		path = args[1]
	}
	resp, err := uwsgiGet(ts.MkAbs(args[0]), path)
	if neg {
		if err == nil {
			ts.Fatalf("request succeeded unexpectedly")
		}
		return
	}
	if err != nil {
		ts.Fatalf("uwsgireq: %v", err)
	}
	fmt.Fprint(ts.Stdout(), resp)
}

func uwsgiGet(sock, path string) (string, error) {
	vars := [][2]string{
		{"REQUEST_METHOD", "GET"}, {"PATH_INFO", path}, {"REQUEST_URI", path},
		{"QUERY_STRING", ""}, {"SERVER_NAME", "localhost"}, {"SERVER_PORT", "80"},
		{"SERVER_PROTOCOL", "HTTP/1.1"}, {"REMOTE_ADDR", "127.0.0.1"}, {"HTTP_HOST", "localhost"},
	}
	var body bytes.Buffer
	for _, kv := range vars {
		for _, s := range kv {
			binary.Write(&body, binary.LittleEndian, uint16(len(s)))
			body.WriteString(s)
		}
	}
	pkt := []byte{0, 0, 0, 0}
	binary.LittleEndian.PutUint16(pkt[1:3], uint16(body.Len()))
	pkt = append(pkt, body.Bytes()...)
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return "", fmt.Errorf("dial %s: %w", sock, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(pkt); err != nil {
		return "", fmt.Errorf("write %s: %w", sock, err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", sock, err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n"), nil
}

// fileinfo PATH: prints "MODE OWNER:GROUP" as ls shows them.
func cmdFileInfo(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: fileinfo PATH")
	}
	st, err := os.Lstat(ts.MkAbs(args[0]))
	if err != nil {
		ts.Fatalf("fileinfo: %v", err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	mode := st.Mode().String()
	if st.Mode()&os.ModeSocket != 0 {
		mode = "s" + mode[1:] // Go writes "Srw...", ls "srw..."
	}
	fmt.Fprintf(ts.Stdout(), "%s %s:%s\n", mode, userName(int(sys.Uid)), groupName(int(sys.Gid)))
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

func groupName(gid int) string {
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		return g.Name
	}
	return strconv.Itoa(gid)
}

func readPid(ts *testscript.TestScript, pidfile string) int {
	pid, err := service.ReadPid(ts.MkAbs(pidfile))
	if err != nil {
		ts.Fatalf("%v", err)
	}
	return pid
}

// savepid PIDFILE VAR: stores the pid in $VAR.
func cmdSavePid(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: savepid PIDFILE VAR")
	}
	ts.Setenv(args[1], strconv.Itoa(readPid(ts, args[0])))
}

// [!] samepid PIDFILE VAR: the pidfile holds (does not hold) $VAR.
func cmdSamePid(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: samepid PIDFILE VAR")
	}
	pid := strconv.Itoa(readPid(ts, args[0]))
	if (pid == ts.Getenv(args[1])) == neg {
		ts.Fatalf("pid %s, saved %s (negated: %v)", pid, ts.Getenv(args[1]), neg)
	}
}

// procinfo PIDFILE: prints "comm=C ppid=P uid=U" of the pidfile's process.
func cmdProcInfo(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: procinfo PIDFILE")
	}
	pid := readPid(ts, args[0])
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		ts.Fatalf("procinfo: %v", err)
	}
	st, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	if err != nil {
		ts.Fatalf("procinfo: %v", err)
	}
	fmt.Fprintf(ts.Stdout(), "comm=%s uid=%s\n", strings.TrimSpace(string(comm)), userName(int(st.Sys().(*syscall.Stat_t).Uid)))
}

// killpid SIGNAL PIDFILE: signals the pidfile's process.
func cmdKillPid(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: killpid SIGNAL PIDFILE")
	}
	sigs := map[string]syscall.Signal{"KILL": syscall.SIGKILL, "QUIT": syscall.SIGQUIT, "INT": syscall.SIGINT}
	sig, ok := sigs[args[0]]
	if !ok {
		ts.Fatalf("unknown signal %s", args[0])
	}
	ts.Check(syscall.Kill(readPid(ts, args[1]), sig))
}

// waitfile PATH: waits (at most 10 s) for a file to exist.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitfile PATH")
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if fileExists(ts.MkAbs(args[0])) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("%s did not appear within 10s", args[0])
}

// waitlog FILE COUNT REGEXP: waits (at most 20 s) until COUNT lines of
// FILE match REGEXP. After a reload the scripts wait for the master's
// "(RE)spawned" line: a signal sent while a master re-executes itself
// lands before it has handlers, which no controller can prevent.
func cmdWaitLog(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: waitlog FILE COUNT REGEXP")
	}
	want, err := strconv.Atoi(args[1])
	if err != nil {
		ts.Fatalf("waitlog: count: %v", err)
	}
	re, err := regexp.Compile(args[2])
	if err != nil {
		ts.Fatalf("waitlog: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		data, _ := os.ReadFile(ts.MkAbs(args[0]))
		n = 0
		for _, line := range strings.Split(string(data), "\n") {
			if re.MatchString(line) {
				n++
			}
		}
		if n >= want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("%s: %d lines match %q after 20s, want %d", args[0], n, args[2], want)
}

// waitgone PID: waits (at most 10 s) for a process to exit or turn zombie.
func cmdWaitGone(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitgone PID")
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		stat, err := os.ReadFile("/proc/" + args[0] + "/stat")
		if err != nil {
			return
		}
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("process %s still alive after 10s", args[0])
}
