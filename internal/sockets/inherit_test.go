package sockets

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const helperEnv = "GOSGI_SOCKETS_TEST_HELPER"

// TestMain turns the test binary into the helper program the inheritance
// tests exec when helperEnv is set.
func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		helperChild()
	}
	os.Exit(m.Run())
}

// helperChild inherits the sockets, prints the log lines and one line per
// listener, then serves one connection on each to prove the fd works.
func helperChild() {
	out := bufio.NewWriter(os.Stdout)
	res, err := Inherit(&InheritOptions{Environ: os.Environ(), Log: func(f string, a ...any) {
		fmt.Fprintf(out, "log: "+f+"\n", a...)
	}})
	if err != nil {
		fmt.Fprintf(out, "error: %v\n", err)
		out.Flush()
		os.Exit(3)
	}
	fmt.Fprintf(out, "systemd: %v\n", res.Systemd)
	for _, l := range res.Listeners {
		fl, _ := unix.FcntlInt(uintptr(l.FD), unix.F_GETFD, 0)
		fmt.Fprintf(out, "listener: %d %s %s %s %s shared=%v inherited=%v cloexec=%v\n",
			l.Index, l.Proto, l.Network, l.Name, l.Addr, l.Shared, l.Inherited, fl&unix.FD_CLOEXEC != 0)
	}
	fmt.Fprintln(out, "ready")
	out.Flush()
	for _, l := range res.Listeners {
		tv := unix.NsecToTimeval(int64(5 * time.Second))
		_ = unix.SetsockoptTimeval(l.FD, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		nfd, _, err := unix.Accept(l.FD)
		if err != nil {
			os.Exit(4)
		}
		unix.Write(nfd, []byte("served by "+l.Name+"\n"))
		unix.Close(nfd)
	}
	// Vacuum runs in the new master for the files the old one created.
	for _, l := range res.Listeners {
		l.Vacuum()
	}
	out.Flush()
	os.Exit(0)
}

// runHelper starts the helper with cmd's fds/env, reads its report up to
// "ready", then connects to each address and checks the reply.
func runHelper(t *testing.T, cmd *exec.Cmd, dial [][2]string) []string {
	t.Helper()
	cmd.Env = append(cmd.Env, helperEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
		}
	}()
	var report []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if sc.Text() == "ready" {
			break
		}
		report = append(report, sc.Text())
	}
	for _, d := range dial {
		c, err := net.DialTimeout(d[0], d[1], 5*time.Second)
		if err != nil {
			t.Fatalf("dial %v: %v (report %q)", d, err, report)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("x"))
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil || !strings.HasPrefix(line, "served by ") {
			t.Fatalf("reply %q %v", line, err)
		}
	}
	for sc.Scan() {
		report = append(report, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v (report %q)", err, report)
	}
	return report
}

func expectLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// PM-66 / re-exec: sockets kept open across exec and named in GOSGI_SOCKETS
// come back with their index, protocol, name and vacuum ownership.
func TestInheritAcrossExec(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.sock")
	tcp, err := Bind(0, "127.0.0.1:0", "http", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	uds, err := Bind(1, path, "uwsgi", &Options{Shared: true})
	if err != nil {
		t.Fatal(err)
	}
	defer uds.Close()
	for _, l := range []*Listener{tcp, uds} {
		if err := l.SetInheritable(true); err != nil {
			t.Fatal(err)
		}
	}
	defer tcp.SetInheritable(false)
	defer uds.SetInheritable(false)

	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{EnvSockets + "=" + Encode([]*Listener{tcp, uds})}
	report := runHelper(t, cmd, [][2]string{{"tcp", tcp.Addr}, {"unix", path}})
	expectLines(t, report,
		fmt.Sprintf("log: uwsgi socket 0 inherited INET address %s fd %d", tcp.Addr, tcp.FD),
		fmt.Sprintf("log: uwsgi shared socket 1 inherited UNIX address %s fd %d", path, uds.FD),
		"systemd: false",
		fmt.Sprintf("listener: 0 http tcp 127.0.0.1:0 %s shared=false inherited=true cloexec=true", tcp.Addr),
		fmt.Sprintf("listener: 1 uwsgi unix %s %s shared=true inherited=true cloexec=true", path, path),
		"log: VACUUM: unix socket "+path+" removed.",
	)
}

// PM-66: systemd socket activation hands fds 3.. with LISTEN_PID/LISTEN_FDS.
func TestInheritSystemd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sd.sock")
	tcp, err := Bind(0, "127.0.0.1:0", "uwsgi", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	uds, err := Bind(1, path, "uwsgi", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer uds.Close()
	files := dupFiles(t, tcp, uds)
	// sh's $$ is the pid the helper will have after exec.
	cmd := exec.Command("/bin/sh", "-c", `export LISTEN_PID=$$ LISTEN_FDS=2; exec "$0"`, os.Args[0])
	cmd.ExtraFiles = files
	report := runHelper(t, cmd, [][2]string{{"tcp", tcp.Addr}, {"unix", path}})
	expectLines(t, report,
		"log: - SystemD socket activation detected -",
		fmt.Sprintf("log: uwsgi socket 0 attached to INET address %s fd 3", tcp.Addr), // S-30
		fmt.Sprintf("log: uwsgi socket 1 attached to UNIX address %s fd 4", path),
		"systemd: true",
		fmt.Sprintf("listener: 0  tcp %s %s shared=false inherited=true cloexec=true", tcp.Addr, tcp.Addr),
		fmt.Sprintf("listener: 1  unix %s %s shared=false inherited=true cloexec=true", path, path),
	)
	// The file was not created by the helper: it must still be there.
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("systemd's socket file was vacuumed: %v", err)
	}
}

// PM-66: fd 0 as a listening socket (inetd style) for each family, and
// LISTEN_PID for another process is ignored. The log lines match what
// uWSGI 2.0.21 printed for the same setup (for IPv6 it prints only ":port").
func TestInheritStdin(t *testing.T) {
	tests := []struct{ name, dialNet, family, network string }{
		{"127.0.0.1:0", "tcp", "INET", "tcp"},
		{"[::1]:0", "tcp", "INET", "tcp6"},
		{filepath.Join(t.TempDir(), "fd0.sock"), "unix", "UNIX", "unix"},
	}
	for _, tc := range tests {
		l, err := Bind(0, tc.name, "uwsgi", nil)
		if err != nil {
			t.Fatal(err)
		}
		files := dupFiles(t, l)
		cmd := exec.Command(os.Args[0])
		cmd.Stdin = files[0]
		cmd.Env = []string{"LISTEN_PID=1", "LISTEN_FDS=1"}
		report := runHelper(t, cmd, [][2]string{{tc.dialNet, l.Addr}})
		expectLines(t, report,
			fmt.Sprintf("log: uwsgi socket 0 inherited %s address %s fd 0", tc.family, l.Addr),
			"systemd: false",
			fmt.Sprintf("listener: 0  %s %s %s shared=false inherited=true cloexec=true", tc.network, l.Addr, l.Addr),
		)
		l.Close()
	}
}

func dupFiles(t *testing.T, ls ...*Listener) []*os.File {
	t.Helper()
	var files []*os.File
	for _, l := range ls {
		fd, err := unix.FcntlInt(uintptr(l.FD), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		f := os.NewFile(uintptr(fd), l.Name)
		t.Cleanup(func() { f.Close() })
		files = append(files, f)
	}
	return files
}

func TestInheritErrors(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	tests := []struct{ env, want string }{
		{EnvSockets + "=3:0:uwsgi", "want fd:index:proto:network:flags:name"},
		{EnvSockets + "=x:0:uwsgi:tcp::a", "bad fd"},
		{EnvSockets + "=3:-1:uwsgi:tcp::a", "bad index"},
		{EnvSockets + "=3:0:uwsgi:tcp::%zz", "bad name"},
		{fmt.Sprintf("%s=%d:0:uwsgi:tcp::a", EnvSockets, r.Fd()), "is not a socket"},
		{fmt.Sprintf("LISTEN_PID=%d", os.Getpid()), "invalid LISTEN_FDS"},
	}
	for _, tc := range tests {
		_, err := Inherit(&InheritOptions{Environ: []string{tc.env, "LISTEN_FDS=x"}, SkipZero: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.env, err, tc.want)
		}
	}
	// Nothing to inherit: an empty result, no error.
	res, err := Inherit(&InheritOptions{SkipZero: true})
	if err != nil || len(res.Listeners) != 0 || res.Systemd {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestMatch(t *testing.T) {
	ls := []*Listener{
		{Name: "127.0.0.1:9201", Addr: "127.0.0.1:9201"},
		{Name: "0.0.0.0:9090", Addr: "0.0.0.0:9090"},
		{Name: "/run/a.sock", Addr: "/run/a.sock"},
		{Name: "@abs", Addr: "@abs"},
		{Name: "[::]:80", Addr: "[::]:80"},
		{Name: "configured", Addr: "127.0.0.1:1"},
	}
	tests := map[string]int{
		"127.0.0.1:9201": 0, ":9090": 1, "/run/a.sock": 2, "@abs": 3, "[::]:80": 4,
		"configured": 5, "localhost:9201": 0, "127.0.0.1:9202": -1, "/run/b.sock": -1, "=0": -1,
	}
	for name, want := range tests {
		got := Match(ls, name)
		if (want < 0 && got != nil) || (want >= 0 && got != ls[want]) {
			t.Errorf("Match(%q) = %+v, want #%d", name, got, want)
		}
	}
}
