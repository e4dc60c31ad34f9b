package sockets

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// logRecorder collects log lines.
type logRecorder struct{ lines []string }

func (r *logRecorder) log(format string, args ...any) {
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

// checkListening verifies the fd the way workers rely on it: a listening,
// blocking, close-on-exec stream socket.
func checkListening(t *testing.T, l *Listener) {
	t.Helper()
	if v, err := unix.GetsockoptInt(l.FD, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
		t.Fatalf("fd %d not listening: %v", l.FD, err)
	}
	fl, err := unix.FcntlInt(uintptr(l.FD), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK != 0 {
		t.Fatalf("fd %d is non-blocking (%v)", l.FD, err)
	}
	fd, err := unix.FcntlInt(uintptr(l.FD), unix.F_GETFD, 0)
	if err != nil || fd&unix.FD_CLOEXEC == 0 {
		t.Fatalf("fd %d is not close-on-exec (%v)", l.FD, err)
	}
}

// connectAccept dials addr and accepts on l with a bounded wait.
func connectAccept(t *testing.T, l *Listener, network, addr string) {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s %s: %v", network, addr, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil { // TCP_DEFER_ACCEPT waits for data
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval(int64(2 * time.Second))
	if err := unix.SetsockoptTimeval(l.FD, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	nfd, _, err := unix.Accept(l.FD)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	unix.Close(nfd)
}

// PM-64, PM-65: each address form, and the bind log line.
func TestBindForms(t *testing.T) {
	dir := t.TempDir()
	abstract := fmt.Sprintf("gosgi-test-%d", os.Getpid())
	tests := []struct {
		name, sockName  string
		opts            Options
		network         string
		addr            *regexp.Regexp
		log             *regexp.Regexp
		dialNet, dialTo string // "" = use Addr
	}{
		{name: "TCP auto port", sockName: "127.0.0.1:0", network: "tcp",
			addr: regexp.MustCompile(`^127\.0\.0\.1:[1-9]\d*$`),
			log:  regexp.MustCompile(`^uwsgi socket 3 bound to TCP address 127\.0\.0\.1:[1-9]\d* \(port auto-assigned\) fd \d+$`), dialNet: "tcp"},
		{name: "TCP6 loopback", sockName: "[::1]:0", network: "tcp6",
			addr: regexp.MustCompile(`^\[::1\]:[1-9]\d*$`),
			log:  regexp.MustCompile(`^uwsgi socket 3 bound to TCP address \[::1\]:[1-9]\d* \(port auto-assigned\) fd \d+$`), dialNet: "tcp"},
		{name: "host name", sockName: "localhost:0", network: "tcp",
			addr: regexp.MustCompile(`^127\.0\.0\.1:[1-9]\d*$`),
			log:  regexp.MustCompile(`^uwsgi socket 3 bound to TCP address localhost:[1-9]\d* \(port auto-assigned\) fd \d+$`), dialNet: "tcp"},
		{name: "PM-63 shared socket", sockName: "127.0.0.1:0", opts: Options{Shared: true, ReusePort: true, NoDeferAccept: true}, network: "tcp",
			addr: regexp.MustCompile(`^127\.0\.0\.1:[1-9]\d*$`),
			log:  regexp.MustCompile(`^uwsgi shared socket 3 bound to TCP address 127\.0\.0\.1:\d+ \(port auto-assigned\) fd \d+$`), dialNet: "tcp"},
		{name: "UNIX path", sockName: filepath.Join(dir, "app.sock"), network: "unix",
			addr: regexp.MustCompile(`^` + regexp.QuoteMeta(filepath.Join(dir, "app.sock")) + `$`),
			log:  regexp.MustCompile(`^uwsgi socket 3 bound to UNIX address ` + regexp.QuoteMeta(filepath.Join(dir, "app.sock")) + ` fd \d+$`), dialNet: "unix"},
		{name: "abstract", sockName: "@" + abstract, network: "abstract",
			addr: regexp.MustCompile(`^@` + abstract + `$`),
			log:  regexp.MustCompile(`^uwsgi socket 3 bound to UNIX address @` + abstract + ` fd \d+$`), dialNet: "unix"},
		{name: "OP-12 abstract-socket option", sockName: abstract + "-2", opts: Options{Abstract: true}, network: "abstract",
			addr: regexp.MustCompile(`^@` + abstract + `-2$`),
			log:  regexp.MustCompile(`^uwsgi socket 3 bound to UNIX address @` + abstract + `-2 fd \d+$`), dialNet: "unix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rec logRecorder
			o := tc.opts
			o.Log = rec.log
			l, err := Bind(3, tc.sockName, "uwsgi", &o)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if l.Network != tc.network || !tc.addr.MatchString(l.Addr) || l.Name != tc.sockName || l.Index != 3 || l.Proto != "uwsgi" {
				t.Fatalf("listener %+v", l)
			}
			last := rec.lines[len(rec.lines)-1]
			if !tc.log.MatchString(last) || !strings.HasSuffix(last, fmt.Sprintf(" fd %d", l.FD)) {
				t.Fatalf("log %q", rec.lines)
			}
			if tc.network == "abstract" && rec.lines[0] != "setting abstract socket mode (warning: only Linux supports this)" {
				t.Fatalf("log %q", rec.lines)
			}
			checkListening(t, l)
			connectAccept(t, l, tc.dialNet, l.Addr)
		})
	}
}

func TestParseName(t *testing.T) {
	tests := []struct {
		in      string
		want    address
		wantErr string
	}{
		{in: "127.0.0.1:9101", want: address{network: "tcp", host: "127.0.0.1", port: 9101}},
		{in: ":9090", want: address{network: "tcp", port: 9090}},
		{in: "[::]:80", want: address{network: "tcp6", host: "::", port: 80}},
		{in: "example.test:0", want: address{network: "tcp", host: "example.test"}},
		{in: "/run/app.sock", want: address{network: "unix", path: "/run/app.sock"}},
		{in: "app.sock", want: address{network: "unix", path: "app.sock"}},
		{in: "@name", want: address{network: "abstract", path: "name"}},
		{in: "", wantErr: "empty socket address"},
		{in: "=0", wantErr: "must be resolved"},
		{in: "1.2.3.4:http", wantErr: "invalid port"},
		{in: "1.2.3.4:70000", wantErr: "invalid port"},
		{in: "1.2.3.4:-1", wantErr: "invalid port"},
		{in: "[::1:80", wantErr: "invalid IPv6"},
		{in: "*:80", wantErr: "Expand"},
	}
	for _, tc := range tests {
		got, err := parseName(tc.in, false)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v %v", tc.in, got, err)
		}
	}
}

func TestBindErrors(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "file")
	if err := os.WriteFile(regular, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, sock string
		opts       Options
		want       string
	}{
		{"OP-8 backlog above somaxconn", "127.0.0.1:0", Options{Backlog: Somaxconn() + 1},
			fmt.Sprintf("Listen queue size is greater than the system max net.core.somaxconn (%d).", Somaxconn())},
		{"not a socket file", regular, Options{}, "exists and is not a socket"},
		{"missing directory", filepath.Join(dir, "nope", "s.sock"), Options{}, "bind " + filepath.Join(dir, "nope", "s.sock") + ": no such file or directory"},
		{"IPv6 without brackets", "::1:0", Options{}, "must be written in brackets"},
		{"bad chmod", filepath.Join(dir, "c.sock"), Options{Chmod: "9"}, "invalid chmod-socket value"},
		{"unknown chown user", filepath.Join(dir, "d.sock"), Options{Chown: "no-such-user-gosgi"}, "user no-such-user-gosgi not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Bind(0, tc.sock, "uwsgi", &tc.opts)
			if err == nil {
				l.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %q, want %q", err, tc.want)
			}
		})
	}
	if b, _ := os.ReadFile(regular); string(b) != "keep me" {
		t.Fatal("regular file was touched")
	}
	for _, s := range []string{"c.sock", "d.sock"} {
		if _, err := os.Lstat(filepath.Join(dir, s)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind after a failed bind", s)
		}
	}
	// A port in use is reported with the address.
	l, err := Bind(0, "127.0.0.1:0", "uwsgi", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := Bind(1, l.Addr, "uwsgi", nil); err == nil || !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), l.Addr) {
		t.Fatalf("err = %v", err)
	}
}

// PM-62, OP-9, OP-10
func TestChmodChown(t *testing.T) {
	dir := t.TempDir()
	old := unix.Umask(0o022)
	defer unix.Umask(old)
	tests := []struct {
		chmod, chown string
		mode         os.FileMode
		uid, gid     int
	}{
		{"", "", 0o755, 0, 0}, // umask 022 applied to 0777
		{"660", "", 0o660, 0, 0},
		{"1", "", 0o666, 0, 0},
		{"600", "nobody:nogroup", 0o600, 65534, 65534},
		{"", "65534", 0o755, 65534, 0},
	}
	for i, tc := range tests {
		path := filepath.Join(dir, fmt.Sprintf("s%d.sock", i))
		l, err := Bind(i, path, "uwsgi", &Options{Chmod: tc.chmod, Chown: tc.chown})
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			t.Fatal(err)
		}
		if os.FileMode(st.Mode&0o777) != tc.mode || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			t.Errorf("%+v: mode %o", tc, st.Mode)
		}
		if os.Geteuid() == 0 && (int(st.Uid) != tc.uid || int(st.Gid) != tc.gid) {
			t.Errorf("%+v: owner %d:%d", tc, st.Uid, st.Gid)
		}
		l.Close()
	}
	if os.Geteuid() != 0 {
		t.Log("not root: ownership changes were not verified")
	}
}

func TestParseChmod(t *testing.T) {
	tests := []struct {
		in   string
		want uint32
		ok   bool
	}{{"1", 0o666, true}, {"660", 0o660, true}, {"777", 0o777, true}, {"0660", 0, false}, {"66", 0, false}, {"abc", 0, false}, {"668", 0, false}}
	for _, tc := range tests {
		got, err := ParseChmod(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseChmod(%q) = %o, %v", tc.in, got, err)
		}
	}
}

// A stale socket file from a crashed instance is replaced (PM-64).
func TestBindReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.sock")
	l1, err := Bind(0, path, "uwsgi", nil)
	if err != nil {
		t.Fatal(err)
	}
	l1.Close() // the file stays, as after a crash
	l2, err := Bind(0, path, "uwsgi", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	connectAccept(t, l2, "unix", path)
}

// PM-67
func TestVacuum(t *testing.T) {
	dir := t.TempDir()
	var rec logRecorder
	path := filepath.Join(dir, "a.sock")
	l, err := Bind(0, path, "uwsgi", &Options{Log: rec.log})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := l.Vacuum(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file not removed: %v", err)
	}
	if got := rec.lines[len(rec.lines)-1]; got != "VACUUM: unix socket "+path+" removed." {
		t.Fatalf("log %q", got)
	}

	// Another instance replaced the file: keep it.
	path = filepath.Join(dir, "b.sock")
	l, err = Bind(0, path, "uwsgi", &Options{Log: rec.log})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	// The new file is made while the old one still exists, so it cannot
	// reuse its inode number.
	other, err := Bind(0, path+".new", "uwsgi", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	if err := l.Vacuum(); !errors.Is(err, ErrChangedInode) {
		t.Fatalf("err = %v", err)
	}
	if got := rec.lines[len(rec.lines)-1]; got != "VACUUM WARNING: unix socket "+path+" changed inode. Skip removal" {
		t.Fatalf("log %q", got)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("replaced socket was removed: %v", err)
	}

	// TCP and abstract sockets have nothing to vacuum.
	tcp, err := Bind(0, "127.0.0.1:0", "uwsgi", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	if err := tcp.Vacuum(); err != nil {
		t.Fatal(err)
	}
}

// WP-22
func TestServerPort(t *testing.T) {
	tests := map[string]string{
		"127.0.0.1:9101": "9101", ":8080": "8080", "[::]:80": "80", "[::1]:0": "0",
		"/run/app.sock": "80", "@abstract": "80", "/tmp/odd:name.sock": "80", "host.example:443": "443",
	}
	for in, want := range tests {
		if got := ServerPort(in); got != want {
			t.Errorf("ServerPort(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExpand(t *testing.T) {
	got, err := Expand("127.0.0.1:80")
	if err != nil || len(got) != 1 || got[0] != "127.0.0.1:80" {
		t.Fatalf("%v %v", got, err)
	}
	got, err = Expand("*:8080")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range got {
		if !strings.HasSuffix(n, ":8080") || strings.Contains(n, "*") {
			t.Fatalf("%v", got)
		}
		found = found || n == "127.0.0.1:8080"
	}
	if !found {
		t.Fatalf("loopback missing from %v", got)
	}
}

// QueueLen sees connections waiting in the accept queue, for TCP (TCP_INFO)
// and UNIX (sock_diag) listeners.
func TestQueueLen(t *testing.T) {
	for _, name := range []string{"127.0.0.1:0", filepath.Join(t.TempDir(), "q.sock")} {
		l, err := Bind(0, name, "uwsgi", &Options{Backlog: 17, NoDeferAccept: true})
		if err != nil {
			t.Fatal(err)
		}
		network := "tcp"
		if l.Network == "unix" {
			network = "unix"
		}
		var conns []net.Conn
		for i := 0; i < 3; i++ {
			c, err := net.DialTimeout(network, l.Addr, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		deadline := time.Now().Add(2 * time.Second)
		q, max := QueueLen(l.FD)
		for q != 3 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			q, max = QueueLen(l.FD)
		}
		if q != 3 || max != 17 {
			t.Errorf("%s: QueueLen = %d, %d; want 3, 17", l.Network, q, max)
		}
		for _, c := range conns {
			c.Close()
		}
		l.Close()
	}
}
