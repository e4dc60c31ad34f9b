package chroot

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gosgi/gosgi/internal/packaging"
)

// The Debian release gosgi's .deb targets, and what the chroot needs
// besides minbase: Python and Flask for the apps, nginx and curl for the
// requests, procps for ps.
const suite = "bookworm"

var include = []string{"python3", "libpython3.11", "python3-flask", "nginx-light", "curl", "procps"}

// shared is built once per test run: the base root and two package
// versions (so an upgrade can be tested).
var shared struct {
	once sync.Once
	err  error
	work string
	base *Root
	debs [2]string // 2.0.21+gosgi1, 2.0.21+gosgi2
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.work != "" {
		// The base root is never mounted; scenario roots unmount in
		// their own cleanup. Remove nothing that still has a mount.
		if left, err := MountsBelow(shared.work); err != nil || len(left) > 0 {
			fmt.Fprintf(os.Stderr, "chroot: leaving %s: still mounted: %v %v\n", shared.work, left, err)
			code = 1
		} else if err := os.RemoveAll(shared.work); err != nil {
			fmt.Fprintf(os.Stderr, "chroot: %v\n", err)
		}
	}
	os.Exit(code)
}

// setup checks what the test needs, then bootstraps the base root and
// builds the packages from bin/ (make build).
func setup(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the chroot test needs root (debootstrap, chroot, mount)")
	}
	for _, tool := range []string{"debootstrap", "chroot", "cp"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required (apt-get install debootstrap): %v", tool, err)
		}
	}
	shared.once.Do(func() { shared.err = build() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
}

func build() error {
	repo, err := filepath.Abs("../..")
	if err != nil {
		return err
	}
	// GOSGI_BIN_DIR packages binaries built elsewhere (a release build).
	bin := os.Getenv("GOSGI_BIN_DIR")
	if bin == "" {
		bin = filepath.Join(repo, "bin")
	}
	for _, b := range []string{"uwsgi", "uwsgi-service"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return fmt.Errorf("%s/%s is required (make build): %w", bin, b, err)
		}
	}
	mirror := os.Getenv("GOSGI_CHROOT_MIRROR")
	if mirror == "" {
		if mirror, err = HostMirror("/etc/apt", suite); err != nil {
			return fmt.Errorf("set GOSGI_CHROOT_MIRROR: %w", err)
		}
	}
	cache := os.Getenv("GOSGI_CHROOT_CACHE")
	if cache == "" {
		cache = "/var/cache/gosgi-test/debootstrap"
	}
	// Not t.TempDir: its cleanup would delete through a mount left
	// behind by a failed test.
	shared.work, err = os.MkdirTemp("", "gosgi-chroot-")
	if err != nil {
		return err
	}
	// Processes inside are found by their /proc/PID/root, which the
	// kernel reports with symlinks resolved.
	if shared.work, err = filepath.EvalSymlinks(shared.work); err != nil {
		return err
	}
	for i := range shared.debs {
		shared.debs[i], err = packaging.BuildDeb(packaging.Spec{
			Version: packaging.DefaultVersion(i + 1), Arch: "amd64",
			SrcDir: repo, BinDir: bin,
			OutDir: filepath.Join(shared.work, "dist"),
		})
		if err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	shared.base, err = Bootstrap(ctx, filepath.Join(shared.work, "base"), suite, mirror, cache, include)
	return err
}

// scenario clones the base root for one test, mounts it, and arranges
// for everything started inside to be killed and the mounts undone,
// whatever the outcome.
func scenario(t *testing.T, name string) *Root {
	t.Helper()
	setup(t)
	r, err := shared.base.Clone(filepath.Join(shared.work, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.KillAll(); err != nil {
			t.Error(err)
		}
		if err := r.Unmount(); err != nil {
			t.Errorf("%v (not removing %s)", err, r.Dir)
			return
		}
		if err := r.Remove(); err != nil {
			t.Error(err)
		}
	})
	if err := r.Mount(); err != nil {
		t.Fatal(err)
	}
	return r
}

// sh runs a script inside and fails the test on a non-zero exit.
func sh(t *testing.T, r *Root, script string) string {
	t.Helper()
	out, err := r.Sh(script, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// expect runs a script inside and checks its output against regexps.
func expect(t *testing.T, r *Root, script string, want ...string) string {
	t.Helper()
	out := sh(t, r, script)
	for _, w := range want {
		if !regexp.MustCompile(w).MatchString(out) {
			t.Errorf("%s:\noutput does not match %q:\n%s", script, w, out)
		}
	}
	return out
}

func writeFile(t *testing.T, r *Root, path, content string, mode os.FileMode) {
	t.Helper()
	if err := r.WriteFile(path, content, mode); err != nil {
		t.Fatal(err)
	}
}

// policy installs /usr/sbin/policy-rc.d answering code to invoke-rc.d:
// 101 keeps package installs from starting services, 0 lets maintainer
// scripts stop and start them as on a booted host (in a chroot
// invoke-rc.d refuses without a policy).
func policy(t *testing.T, r *Root, code int) {
	t.Helper()
	writeFile(t, r, "/usr/sbin/policy-rc.d", fmt.Sprintf("#!/bin/sh\nexit %d\n", code), 0o755)
}

func copyDeb(t *testing.T, r *Root, i int) string {
	t.Helper()
	p, err := r.CopyIn(shared.debs[i])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// The two apps of the issue: a plain WSGI file, and a Flask app with
// plugin, master, processes and threads. Both report the uid they run as
// and the instance name the controller passed (C-21).
const plainApp = `import os
def application(env, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('plain uid=%d name=%s ns=%s' % (os.getuid(),
        os.environ.get('UWSGI_DEB_CONFNAME'), os.environ.get('UWSGI_DEB_CONFNAMESPACE'))).encode()]
`

const plainINI = `[uwsgi]
plugins = python3
wsgi-file = /srv/plain/app.py
`

const flaskApp = `import os
from flask import Flask
app = Flask(__name__)

@app.route("/flask/")
def index():
    return "flask uid=%d name=%s" % (os.getuid(), os.environ.get("UWSGI_DEB_CONFNAME"))
`

const flaskINI = `[uwsgi]
plugin = python3
master = true
processes = 2
threads = 2
chdir = /srv/flask
module = flaskapp:app
`

// nginxConf is the block of the issue, one upstream per app, on loopback.
func nginxConf(port int) string {
	return fmt.Sprintf(`upstream app { server unix:/run/uwsgi/app/app/socket; }
upstream flask { server unix:/run/uwsgi/app/flask/socket; }
upstream vassal { server unix:/tmp/vassal.sock; }
server {
    listen 127.0.0.1:%d;
    location /flask/ { include uwsgi_params; uwsgi_pass flask; }
    location /vassal/ { include uwsgi_params; uwsgi_pass vassal; }
    location / { include uwsgi_params; uwsgi_pass app; }
}
`, port)
}

// startNginx replaces the default site (which listens on every
// interface) by nginxConf and starts nginx.
func startNginx(t *testing.T, r *Root, port int) {
	t.Helper()
	sh(t, r, "rm -f /etc/nginx/sites-enabled/default")
	writeFile(t, r, "/etc/nginx/conf.d/gosgi.conf", nginxConf(port), 0o644)
	sh(t, r, "service nginx start")
}

// curl fetches a path through nginx and returns "CODE BODY".
func curl(t *testing.T, r *Root, port int, path string) string {
	t.Helper()
	return sh(t, r, fmt.Sprintf("curl -sS --max-time 20 -w ' %%{http_code}' http://127.0.0.1:%d%s", port, path))
}

func wantCurl(t *testing.T, r *Root, port int, path, want string) {
	t.Helper()
	got := curl(t, r, port, path)
	if !regexp.MustCompile(want).MatchString(got) {
		t.Errorf("GET %s: %q, want %q", path, got, want)
	}
}

// pidOf reads an instance's pidfile.
func pidOf(t *testing.T, r *Root, name string) string {
	t.Helper()
	return strings.TrimSpace(sh(t, r, "cat /run/uwsgi/app/"+name+"/pid"))
}

// waitReloaded waits until the instance log shows n completed reloads:
// the next signal must not reach a master that is re-executing itself.
func waitReloaded(t *testing.T, r *Root, name string, n int) {
	t.Helper()
	sh(t, r, fmt.Sprintf(`i=0; while [ "$(grep -c '(RE)spawned uWSGI master process' /var/log/uwsgi/app/%s.log)" -lt %d ]; do
		i=$((i+1)); [ $i -lt 200 ] || { echo "no reload in the log"; exit 1; }; sleep 0.1; done`, name, n))
}

// checkRunFiles checks D-30..D-35 and the processes of one instance:
// master named uwsgi running the expected binary, everyone www-data.
func checkRunFiles(t *testing.T, r *Root, name, exe string) {
	t.Helper()
	d := "/run/uwsgi/app/" + name
	expect(t, r, fmt.Sprintf(`stat -c '%%n %%F %%a %%U:%%G' /run/uwsgi /run/uwsgi/app %[1]s %[1]s/pid %[1]s/socket /var/log/uwsgi/app/%[2]s.log`, d, name),
		`(?m)^/run/uwsgi directory 755 root:root$`,
		`(?m)^/run/uwsgi/app directory 755 root:root$`,
		`(?m)^`+d+` directory 755 www-data:www-data$`,
		`(?m)^`+d+`/pid regular file 644 root:root$`,
		`(?m)^`+d+`/socket socket 660 www-data:root$`,
		`(?m)^/var/log/uwsgi/app/`+name+`.log regular (empty )?file 640 root:root$`)
	pid := pidOf(t, r, name)
	expect(t, r, fmt.Sprintf(`echo comm=$(cat /proc/%[1]s/comm) exe=$(readlink /proc/%[1]s/exe) user=$(ps -o user= -p %[1]s); ps -o user= --ppid %[1]s | sort | uniq -c`, pid),
		`comm=uwsgi exe=`+regexp.QuoteMeta(exe)+` user=www-data`,
		`(?m)^\s+[2-9] www-data$`)
	out := sh(t, r, "ps -o user= --ppid "+pid)
	if strings.Contains(out, "root") {
		t.Errorf("%s: a child of the master runs as root:\n%s", name, out)
	}
}

// killMatching kills the processes inside the root whose command line
// contains s.
func killMatching(r *Root, s string) {
	for _, pid := range r.Processes() {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(cmdline), s) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// waitNoWorkers waits (at most 10 s) until no process inside the root
// runs with config in its command line: the workers of a killed master
// leave through no-orphans.
func waitNoWorkers(t *testing.T, r *Root, config string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := 0
		for _, pid := range r.Processes() {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if strings.Contains(string(cmdline), config) {
				left++
			}
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d processes of %s still run 10 s after their master was killed", left, config)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkSSD asks start-stop-daemon what Debian's own scripts would ask
// (C-24, C-31): start --test finds the master by pidfile and executable
// (exit 1: already running), stop --test by pidfile and name uwsgi.
func checkSSD(t *testing.T, r *Root, name string) {
	t.Helper()
	pf := "/run/uwsgi/app/" + name + "/pid"
	expect(t, r, fmt.Sprintf(`start-stop-daemon --start --test --quiet --pidfile %[1]s --exec /usr/bin/uwsgi; echo start=$?
start-stop-daemon --stop --test --quiet --pidfile %[1]s --name uwsgi; echo stop=$?`, pf),
		`(?m)^start=1$`, `(?m)^stop=0$`)
}

// TestInstallServeControl is the end-to-end run on a fresh
// Debian: apt install the .deb, enable two apps the Debian way, serve them
// through nginx, drive them with service(8), upgrade, feed it bad input,
// remove and purge (D-*, C-*, I-*, P-20).
func TestInstallServeControl(t *testing.T) {
	r := scenario(t, "fresh")
	deb := copyDeb(t, r, 0)

	// apt install ./gosgi_<ver>_amd64.deb, services held back as in an
	// image build; nothing is configured yet.
	policy(t, r, 101)
	expect(t, r, "cd /tmp && apt install -y ./"+filepath.Base(deb)+" 2>&1",
		`Setting up gosgi \(2\.0\.21\+gosgi1\)`,
		`using /usr/bin/gosgi to provide /usr/bin/uwsgi \(uwsgi\)`)
	sh(t, r, "rm /usr/sbin/policy-rc.d")

	t.Run("package", func(t *testing.T) {
		expect(t, r, `dpkg-query -W -f='${Status}\n${Depends}\n${Provides}\n${Conflicts}\n${Replaces}\n${Conffiles}\n' gosgi`,
			`install ok installed`,
			`(?m)^libc6, python3, libpython3\.11$`,
			`uwsgi \(= 2\.0\.21\+gosgi1\), uwsgi-core \(= 2\.0\.21\+gosgi1\), uwsgi-emperor \(= 2\.0\.21\+gosgi1\), uwsgi-plugin-python3 \(= 2\.0\.21\+gosgi1\), uwsgi-plugin-gevent-python3 \(= 2\.0\.21\+gosgi1\), httpd-wsgi3`,
			`(?m)^uwsgi, uwsgi-core, uwsgi-emperor, uwsgi-plugin-python3, uwsgi-plugin-gevent-python3\nuwsgi, uwsgi-core, uwsgi-emperor, uwsgi-plugin-python3, uwsgi-plugin-gevent-python3$`,
			`/etc/init\.d/uwsgi `, `/etc/default/uwsgi `, `/etc/logrotate\.d/uwsgi `,
			`/etc/init\.d/uwsgi-emperor `, `/etc/default/uwsgi-emperor `, `/etc/uwsgi-emperor/emperor\.ini `,
			`/etc/uwsgi/apps-available/README `)
		if out := sh(t, r, `dpkg-query -W -f='${Conffiles}' gosgi`); strings.Contains(out, "default.ini") {
			t.Errorf("default.ini is a conffile (D-12):\n%s", out)
		}
		// /usr/bin/uwsgi through alternatives; the flavoured names
		// load python3 implicitly (D-02..D-04, P-10).
		expect(t, r, `readlink -f /usr/bin/uwsgi; update-alternatives --query uwsgi`,
			`(?m)^/usr/bin/gosgi$`, `(?m)^Value: /usr/bin/gosgi$`)
		expect(t, r, `uwsgi_python3 --version 2>&1; uwsgi_python311 --version 2>&1`,
			`implicit plugin requested python3\b`, `implicit plugin requested python311`)
		// Boot links for both init scripts (D-20), the run and log
		// directories (D-14, D-30).
		expect(t, r, `ls /etc/rc2.d /etc/rc0.d; stat -c '%n %a %U:%G' /run/uwsgi /var/log/uwsgi /var/log/uwsgi/app`,
			`(?m)^S\d\duwsgi$`, `(?m)^S\d\duwsgi-emperor$`, `(?m)^K\d\duwsgi$`, `(?m)^K\d\duwsgi-emperor$`,
			`(?m)^/run/uwsgi 755 root:root$`, `(?m)^/var/log/uwsgi/app 755 root:root$`)
		// The units are enabled for a systemd boot as Debian's
		// postinst does it (S-10, P-04).
		expect(t, r, `ls /etc/systemd/system/multi-user.target.wants`,
			`(?m)^uwsgi\.service$`, `(?m)^uwsgi-emperor\.service$`)
	})

	// The apps, enabled with the README's ln -s, started one by one.
	port := freePort(t)
	writeFile(t, r, "/srv/plain/app.py", plainApp, 0o644)
	writeFile(t, r, "/srv/flask/flaskapp.py", flaskApp, 0o644)
	writeFile(t, r, "/etc/uwsgi/apps-available/app.ini", plainINI, 0o644)
	writeFile(t, r, "/etc/uwsgi/apps-available/flask.ini", flaskINI, 0o644)
	sh(t, r, "ln -s /etc/uwsgi/apps-available/app.ini /etc/uwsgi/apps-enabled/")
	sh(t, r, "ln -s /etc/uwsgi/apps-available/flask.ini /etc/uwsgi/apps-enabled/")
	expect(t, r, "SYSTEMCTL_SKIP_REDIRECT=1 service uwsgi start app", `^Starting app server\(s\): uwsgi -> \. done\.\n$`)
	expect(t, r, "SYSTEMCTL_SKIP_REDIRECT=1 service uwsgi start flask", `^Starting app server\(s\): uwsgi -> \. done\.\n$`)
	startNginx(t, r, port)
	wantCurl(t, r, port, "/", `^plain uid=33 name=app ns=app 200$`)
	wantCurl(t, r, port, "/flask/", `^flask uid=33 name=flask 200$`)

	t.Run("files", func(t *testing.T) {
		checkRunFiles(t, r, "app", "/usr/bin/gosgi")
		checkRunFiles(t, r, "flask", "/usr/bin/gosgi")
		checkSSD(t, r, "app")
		checkSSD(t, r, "flask")
		// master + processes + threads reached the server.
		expect(t, r, "cat /var/log/uwsgi/app/flask.log",
			`Operational MODE: preforking\+threaded`,
			`spawned uWSGI worker 2 \(pid: \d+, cores: 2\)`,
			`(?m)^\w{3} \w{3} [ \d]\d [\d:]{8} \d{4} - `) // log-date (I-10)
	})

	t.Run("control", func(t *testing.T) {
		expect(t, r, "service uwsgi status app; echo rc=$?", `^uwsgi is running\.\nrc=0\n$`)

		// reload: same master, still serving (C-32).
		pid := pidOf(t, r, "app")
		expect(t, r, "service uwsgi reload app", `^Reloading app server\(s\): uwsgi -> \. done\.\n$`)
		waitReloaded(t, r, "app", 1)
		if got := pidOf(t, r, "app"); got != pid {
			t.Errorf("reload changed the master: %s -> %s", pid, got)
		}
		wantCurl(t, r, port, "/", `^plain uid=33 name=app ns=app 200$`)
		checkSSD(t, r, "app")

		// force-reload: SIGTERM is a brutal reload in uWSGI 2.0, same
		// master again (C-33).
		expect(t, r, "service uwsgi force-reload app", `^Forced reloading app server\(s\): uwsgi -> \. done\.\n$`)
		waitReloaded(t, r, "app", 2)
		if got := pidOf(t, r, "app"); got != pid {
			t.Errorf("force-reload changed the master: %s -> %s", pid, got)
		}
		wantCurl(t, r, port, "/", `^plain uid=33 name=app ns=app 200$`)
		checkSSD(t, r, "app")

		// restart: a new master (C-35).
		pid = pidOf(t, r, "flask")
		expect(t, r, "service uwsgi restart flask", `^Restarting app server\(s\): uwsgi -> \. done\.\n$`)
		if got := pidOf(t, r, "flask"); got == pid {
			t.Errorf("restart kept master %s", pid)
		}
		wantCurl(t, r, port, "/flask/", `^flask uid=33 name=flask 200$`)

		// stop: run directory gone, nginx answers 502, the other app
		// serves on (C-30, D-32).
		expect(t, r, "service uwsgi stop app", `^Stopping app server\(s\): uwsgi -> \. done\.\n$`)
		expect(t, r, "ls /run/uwsgi/app; service uwsgi status app; echo rc=$?",
			`^flask\nuwsgi is not running \.\.\. failed!\nrc=3\n$`)
		wantCurl(t, r, port, "/", ` 502$`)
		wantCurl(t, r, port, "/flask/", `^flask uid=33 name=flask 200$`)

		// start with no name: every app in apps-enabled (C-12); flask is
		// already running and stays as it is.
		pid = pidOf(t, r, "flask")
		expect(t, r, "service uwsgi start", `^Starting app server\(s\): uwsgi -> \. \. done\.\n$`)
		if got := pidOf(t, r, "flask"); got != pid {
			t.Errorf("start (all) replaced the running flask master %s by %s", pid, got)
		}
		wantCurl(t, r, port, "/", `^plain uid=33 name=app ns=app 200$`)
		checkRunFiles(t, r, "app", "/usr/bin/gosgi")
	})

	t.Run("bad-input", func(t *testing.T) {
		// A config with a syntax error, a uid that does not exist, a name
		// without config, a stale pidfile, a socket whose directory was
		// deleted: each fails alone, with the reason, and the exit status
		// counts the failures (C-53); the running apps keep serving.
		writeFile(t, r, "/etc/uwsgi/apps-enabled/broken.yaml", "uwsgi:\n  plugins: [python3\n  wsgi-file: /srv/plain/app.py\n", 0o644)
		writeFile(t, r, "/etc/uwsgi/apps-enabled/nouser.ini", plainINI+"uid = nosuchuser\n", 0o644)
		writeFile(t, r, "/etc/uwsgi/apps-enabled/sock.ini", plainINI+"socket = /srv/sockdir/app.sock\n", 0o644)
		out, err := r.Sh("service uwsgi start broken nouser nosuch sock app; echo rc=$?", nil)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, want := range []string{
			`(?m)^Starting app server\(s\): uwsgi -> ! ! \? ! \. failed!$`,
			`(?m)^rc=3$`,
			`app/broken: config /etc/uwsgi/apps-enabled/broken\.yaml: invalid YAML`,
			`app/nouser: uid "nosuchuser"`,
			`app/nouser: server \(pid \d+\) is not running after start: .*nosuchuser`,
			`app/sock: server \(pid \d+\) is not running after start: .*bind`,
		} {
			if !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("bad input: output does not match %q:\n%s", want, out)
			}
		}
		expect(t, r, "service uwsgi status nouser; echo rc=$?", `(?m)^rc=[13]$`)
		wantCurl(t, r, port, "/", `^plain uid=33 name=app ns=app 200$`)
		wantCurl(t, r, port, "/flask/", `^flask uid=33 name=flask 200$`)
		sh(t, r, "service uwsgi stop broken nouser sock; rm /etc/uwsgi/apps-enabled/broken.yaml /etc/uwsgi/apps-enabled/nouser.ini /etc/uwsgi/apps-enabled/sock.ini")

		// A stale pidfile (a dead pid) after a crash: status says so
		// (LSB 1), start replaces it.
		sh(t, r, "kill -KILL $(cat /run/uwsgi/app/app/pid); sleep 0.5")
		expect(t, r, "service uwsgi status app; echo rc=$?", `^uwsgi is not running \.\.\. failed!\nrc=1\n$`)
		waitNoWorkers(t, r, "/etc/uwsgi/apps-enabled/app.ini")
		expect(t, r, "service uwsgi start app", `^Starting app server\(s\): uwsgi -> \. done\.\n$`)
		wantCurl(t, r, port, "/", `^plain uid=33 name=app ns=app 200$`)
	})

	t.Run("upgrade", func(t *testing.T) {
		// Installing a newer gosgi restarts the running apps on the new
		// binary; the emperor is registered and started with them (P-04).
		before := map[string]string{"app": pidOf(t, r, "app"), "flask": pidOf(t, r, "flask")}
		deb2 := copyDeb(t, r, 1)
		policy(t, r, 0)
		expect(t, r, "cd /tmp && apt install -y ./"+filepath.Base(deb2)+" 2>&1",
			`Unpacking gosgi \(2\.0\.21\+gosgi2\) over \(2\.0\.21\+gosgi1\)`,
			`Restarting app server\(s\): uwsgi -> \. \. done\.`)
		sh(t, r, "rm /usr/sbin/policy-rc.d")
		for name, pid := range before {
			if got := pidOf(t, r, name); got == pid {
				t.Errorf("%s: upgrade kept master %s", name, pid)
			}
		}
		wantCurl(t, r, port, "/", `^plain uid=33 name=app ns=app 200$`)
		wantCurl(t, r, port, "/flask/", `^flask uid=33 name=flask 200$`)
	})

	t.Run("emperor", func(t *testing.T) {
		// The upgrade started the emperor too (P-04). Whatever this
		// subtest leaves of its vassal is killed, so a failure here
		// does not spill into the removal checks.
		t.Cleanup(func() { killMatching(r, "v1.ini") })
		// On failure, what the emperor and its vassal logged and which
		// processes of the root are left say why a vassal outlived its
		// emperor (ps inside would list the host's processes too).
		t.Cleanup(func() {
			if !t.Failed() {
				return
			}
			out, _ := r.Sh("tail -60 /var/log/uwsgi/emperor.log", nil)
			var procs strings.Builder
			for _, pid := range r.Processes() {
				cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
				ppid := "?"
				if m := regexp.MustCompile(`(?m)^PPid:\s*(\d+)`).FindSubmatch(status); m != nil {
					ppid = string(m[1])
				}
				fmt.Fprintf(&procs, "%d (ppid %s): %s\n", pid, ppid, strings.ReplaceAll(string(cmdline), "\x00", " "))
			}
			t.Logf("emperor log:\n%s\nprocesses in the root:\n%s", out, procs.String())
		})
		// The SysV emperor works, unlike Debian's (E-07, E-08).
		expect(t, r, "service uwsgi-emperor status; echo rc=$?; stat -c '%a %U' /run/uwsgi-emperor.pid",
			`uwsgi is running`, `(?m)^rc=0$`, `(?m)^644 root$`)
		// A vassal dropped into the emperor's directory serves (E-02:
		// as www-data, like its emperor); stopping the emperor stops it.
		writeFile(t, r, "/etc/uwsgi-emperor/vassals/v1.ini", plainINI+"socket = /tmp/vassal.sock\nchmod-socket = 660\nchown-socket = www-data\n", 0o644)
		sh(t, r, `i=0; until [ -S /tmp/vassal.sock ]; do i=$((i+1)); [ $i -lt 150 ] || { tail -20 /var/log/uwsgi/emperor.log; exit 1; }; sleep 0.1; done`)
		wantCurl(t, r, port, "/vassal/", `^plain uid=33 name=None ns=None 200$`)
		expect(t, r, "service uwsgi-emperor reload; echo rc=$?", `(?m)^rc=0$`)
		// The reload just before the stop has the vassal's new worker
		// still starting when the stop arrives: the stop must reach it
		// (a lost SIGINT left the vassal to the emperor's NO MERCY after
		// emperor-curse-tolerance, or alive past an init script's KILL).
		expect(t, r, "service uwsgi-emperor stop; echo rc=$?; service uwsgi-emperor status; echo rc=$?",
			`(?m)^rc=0$`, `(?m)^rc=3$`)
		if out := sh(t, r, "grep -h 'NO MERCY' /var/log/uwsgi/emperor.log || true"); out != "" {
			t.Errorf("the vassal ignored the emperor's stop:\n%s", out)
		}
		wantCurl(t, r, port, "/vassal/", ` 502$`)
		wantCurl(t, r, port, "/", `^plain uid=33 name=app ns=app 200$`)
	})

	t.Run("remove", func(t *testing.T) {
		// Removing stops everything and gives /usr/bin/uwsgi back; the
		// apps' configs are the administrator's and stay, as do the
		// conffiles until purge, which also drops the boot links.
		policy(t, r, 0)
		expect(t, r, "apt-get remove -y gosgi 2>&1", `Stopping app server\(s\): uwsgi -> \. \. done\.`)
		expect(t, r, "ls /run/uwsgi/app; test ! -e /usr/bin/uwsgi && echo no-uwsgi; /etc/init.d/uwsgi start; echo rc=$?",
			`^no-uwsgi\nrc=0\n$`)
		for _, pid := range r.Processes() {
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "uwsgi" {
				t.Errorf("pid %d (uwsgi) still runs after remove", pid)
			}
		}
		expect(t, r, "apt-get purge -y gosgi 2>&1; ls /etc/uwsgi/apps-available /etc/uwsgi/apps-enabled; ls /etc/rc2.d",
			`(?m)^app\.ini$`, `(?m)^flask\.ini$`)
		if out := sh(t, r, "ls /etc/rc2.d /etc/init.d"); strings.Contains(out, "uwsgi") {
			t.Errorf("purge left init scripts or boot links:\n%s", out)
		}
		wantCurl(t, r, port, "/", ` 502$`)
	})
}

// TestReplaceDebianUwsgi starts from Debian's own uwsgi serving an app
// from apps-enabled behind nginx, installs gosgi over it, and checks that
// the same config keeps serving through the same nginx block (P-20).
func TestReplaceDebianUwsgi(t *testing.T) {
	r := scenario(t, "takeover")
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		t.Fatalf("resolv.conf for apt inside: %v", err)
	}
	writeFile(t, r, "/etc/resolv.conf", string(resolv), 0o644)

	policy(t, r, 101)
	expect(t, r, "apt-get update -q 2>&1 && apt-get install -y -q uwsgi uwsgi-plugin-python3 2>&1",
		`Setting up uwsgi-core`, `Setting up uwsgi `)
	sh(t, r, "rm /usr/sbin/policy-rc.d")

	port := freePort(t)
	writeFile(t, r, "/srv/plain/app.py", plainApp, 0o644)
	writeFile(t, r, "/etc/uwsgi/apps-available/app.ini", plainINI, 0o644)
	sh(t, r, "ln -s /etc/uwsgi/apps-available/app.ini /etc/uwsgi/apps-enabled/")
	expect(t, r, "SYSTEMCTL_SKIP_REDIRECT=1 service uwsgi start app", `Starting app server\(s\): uwsgi -> \. done\.`)
	startNginx(t, r, port)
	wantCurl(t, r, port, "/", `^plain uid=33 name=app ns=app 200$`)
	expect(t, r, "readlink /proc/$(cat /run/uwsgi/app/app/pid)/exe", `^/usr/bin/uwsgi-core\n$`)
	sum := sh(t, r, "md5sum /etc/uwsgi/apps-available/app.ini /etc/nginx/conf.d/gosgi.conf")

	// As on a booted host, maintainer scripts stop and start services:
	// Debian's prerm stops the app, gosgi's postinst starts it again.
	deb := copyDeb(t, r, 0)
	policy(t, r, 0)
	expect(t, r, "cd /tmp && apt install -y ./"+filepath.Base(deb)+" 2>&1",
		`Removing uwsgi-core`, `Setting up gosgi`,
		`Starting app server\(s\): uwsgi -> \. done\.`)

	expect(t, r, "dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' gosgi", `(?m)^ii  gosgi$`)
	if out := sh(t, r, "dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 'uwsgi*' 2>/dev/null || true"); regexp.MustCompile(`(?m)^ii`).MatchString(out) {
		t.Errorf("Debian's uwsgi packages still installed:\n%s", out)
	}
	// Debian's init script (a conffile) was replaced by gosgi's and is
	// executable (P-20 preinst).
	expect(t, r, "grep -c uwsgi-service /etc/init.d/uwsgi; stat -c %a /etc/init.d/uwsgi", `^[1-9]\d*\n755\n$`)
	if got := sh(t, r, "md5sum /etc/uwsgi/apps-available/app.ini /etc/nginx/conf.d/gosgi.conf"); got != sum {
		t.Errorf("the app config or nginx block changed:\n%s\n%s", sum, got)
	}
	wantCurl(t, r, port, "/", `^plain uid=33 name=app ns=app 200$`)
	checkRunFiles(t, r, "app", "/usr/bin/gosgi")
	expect(t, r, "service uwsgi status app; echo rc=$?", `^uwsgi is running\.\nrc=0\n$`)
	expect(t, r, "service uwsgi reload app", `^Reloading app server\(s\): uwsgi -> \. done\.\n$`)
	waitReloaded(t, r, "app", 1)
	wantCurl(t, r, port, "/", `^plain uid=33 name=app ns=app 200$`)
}
