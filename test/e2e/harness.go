// Package e2e holds gosgi's end-to-end differential tests and the harness
// they share.
//
// Every scenario runs twice: once against the server under test (GOSGI_BIN,
// default <repo>/bin/uwsgi, built by `make build`) and once against the real
// uWSGI 2.0 (/usr/bin/uwsgi with its python3 and http plugins), with the same
// command line. The observable results (status line, headers, body, the
// environ the app saw, request log line shapes, exit codes, messages) are
// normalised and compared. Pointing GOSGI_BIN at /usr/bin/uwsgi validates the
// harness itself.
//
// The harness starts servers and nginx as child processes in their own
// process group, binds loopback addresses and temporary unix sockets only,
// bounds every wait in time and kills what it started on cleanup. It does not
// build the binary and it never skips: a missing part (binary, python3,
// nginx, uWSGI) fails the test with a message saying how to get it.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Paths of the reference parts, fixed by the Debian packages the tests need.
const (
	RealUWSGI = "/usr/bin/uwsgi"
	Python3   = "/usr/bin/python3"
	Nginx     = "/usr/sbin/nginx"
)

// Timeouts bounding every wait of the harness.
const (
	StartTimeout   = 10 * time.Second
	StopTimeout    = 10 * time.Second
	RequestTimeout = 15 * time.Second
)

// Impl names one implementation a scenario runs against.
type Impl struct {
	Name string // "gosgi" or "uwsgi"
	Bin  string // absolute path of the binary
}

// RepoRoot returns the directory holding go.mod, searched upwards from the
// working directory (go test runs in the package directory).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// GosgiBin returns the server under test: $GOSGI_BIN or <repo>/bin/uwsgi.
func GosgiBin(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("GOSGI_BIN")
	if bin == "" {
		bin = filepath.Join(RepoRoot(t), "bin", "uwsgi")
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatalf("GOSGI_BIN %q: %v", bin, err)
	}
	if err := checkExecutable(abs); err != nil {
		t.Fatalf("server under test: %v\n  build it with `make build` (or set GOSGI_BIN=/path/to/uwsgi)", err)
	}
	return abs
}

// Impls returns the server under test and the real uWSGI, in that order, and
// fails the test if either or python3 is missing.
func Impls(t testing.TB) []Impl {
	t.Helper()
	RequireTools(t, RealUWSGI, Python3)
	RequirePlugin(t, "python3")
	return []Impl{{Name: "gosgi", Bin: GosgiBin(t)}, {Name: "uwsgi", Bin: RealUWSGI}}
}

// installHints says which Debian package provides each reference part.
var installHints = map[string]string{
	RealUWSGI: "apt-get install uwsgi-core uwsgi-plugin-python3 (or run `make test`, which installs it)",
	Python3:   "apt-get install python3 libpython3.11 python3-flask (or run `make test`)",
	Nginx:     "apt-get install nginx-light (or run `make test`)",
}

// RequireTools fails the test, with an install hint, for every missing path.
func RequireTools(t testing.TB, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := checkExecutable(p); err != nil {
			t.Fatalf("required tool missing: %v\n  install: %s", err, installHints[p])
		}
	}
}

// RequirePlugin fails unless the real uWSGI has the named plugin file.
func RequirePlugin(t testing.TB, name string) {
	t.Helper()
	p := filepath.Join("/usr/lib/uwsgi/plugins", name+"_plugin.so")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("uWSGI plugin %s missing (%v)\n  install: apt-get install uwsgi-core uwsgi-plugin-python3", name, err)
	}
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err // a *PathError already names the path
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// AppsDir is the absolute path of testdata/apps.
func AppsDir(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "apps"))
	if err != nil {
		t.Fatalf("apps dir: %v", err)
	}
	return p
}

// FreePort returns "127.0.0.1:N" for a port that was free a moment ago.
func FreePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for a free port: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("close %s: %v", addr, err)
	}
	return addr
}

// SockPath returns a unix socket path in a fresh temporary directory. The
// directory name is kept short: sun_path holds 108 bytes.
func SockPath(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "e2e")
	if err != nil {
		t.Fatalf("temp dir for socket: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, name)
}

// Server is one running process started by the harness: a uWSGI-compatible
// server or any helper such as nginx.
type Server struct {
	Name    string    // label used in messages
	Cmd     *exec.Cmd // the process; it leads its own process group
	LogPath string    // stderr of the process
	OutPath string    // stdout of the process
	Dir     string    // private temporary directory

	done     chan struct{}
	waitErr  error
	mu       sync.Mutex
	finished bool
}

// StartOptions tunes Start.
type StartOptions struct {
	Env []string // extra KEY=VALUE entries added to the environment
	Dir string   // working directory (default: the server's temp dir)
	// Ready is a regexp the log must match before Start returns; empty means
	// the first worker spawn line (LG-21). "-" means do not wait.
	Ready string
}

// DefaultReady matches the log line of the first spawned worker (PM-2,
// PM-7 for the no-master form).
const DefaultReady = `spawned uWSGI worker 1 `

// Start execs bin with args, stderr and stdout going to files in a temp dir,
// and waits for readiness. Cleanup kills the whole process group.
func Start(t testing.TB, name, bin string, args []string, opt StartOptions) *Server {
	t.Helper()
	dir := t.TempDir()
	s := &Server{Name: name, Dir: dir, done: make(chan struct{}),
		LogPath: filepath.Join(dir, "stderr.log"), OutPath: filepath.Join(dir, "stdout.log")}
	logf, err := os.Create(s.LogPath)
	if err != nil {
		t.Fatalf("%s: create log: %v", name, err)
	}
	outf, err := os.Create(s.OutPath)
	if err != nil {
		t.Fatalf("%s: create stdout: %v", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin = nil
	cmd.Stdout = outf
	cmd.Stderr = logf
	cmd.Dir = dir
	if opt.Dir != "" {
		cmd.Dir = opt.Dir
	}
	cmd.Env = append(baseEnv(), opt.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: start %s %q: %v", name, bin, args, err)
	}
	logf.Close()
	outf.Close()
	s.Cmd = cmd
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(s.Kill)
	if opt.Ready != "-" {
		ready := opt.Ready
		if ready == "" {
			ready = DefaultReady
		}
		s.WaitLog(t, ready, StartTimeout)
	}
	return s
}

// baseEnv is the test's environment without UWSGI_* variables: uWSGI reads
// them as options (TOP-1), and both implementations must see the same ones.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "UWSGI_") {
			env = append(env, kv)
		}
	}
	return env
}

// Pid is the pid of the started process.
func (s *Server) Pid() int { return s.Cmd.Process.Pid }

// Log returns everything the process wrote to stderr so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.LogPath)
	return string(b)
}

// Exited reports whether the process has ended.
func (s *Server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// WaitLog waits until the log matches the regexp pattern and returns the
// submatches of the first match. It fails the test on timeout or if the
// process exits first.
func (s *Server) WaitLog(t testing.TB, pattern string, timeout time.Duration) []string {
	t.Helper()
	return s.waitFile(t, s.LogPath, pattern, timeout)
}

// WaitLogCount waits until the log has at least n matches of pattern and
// returns them all.
func (s *Server) WaitLogCount(t testing.TB, pattern string, n int, timeout time.Duration) [][]string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.Now().Add(timeout)
	for {
		m := re.FindAllStringSubmatch(s.Log(), -1)
		if len(m) >= n {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d matches of %q after %v (want %d); log:\n%s", s.Name, len(m), pattern, timeout, n, tail(s.Log()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitFile is WaitLog for another file the process writes (logto,
// daemonize, pidfile).
func (s *Server) WaitFile(t testing.TB, path, pattern string, timeout time.Duration) []string {
	t.Helper()
	return s.waitFile(t, path, pattern, timeout)
}

func (s *Server) waitFile(t testing.TB, path, pattern string, timeout time.Duration) []string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(path)
		if m := re.FindStringSubmatch(string(b)); m != nil {
			return m
		}
		if s.Exited() {
			b, _ = os.ReadFile(path)
			if m := re.FindStringSubmatch(string(b)); m != nil {
				return m
			}
			t.Fatalf("%s exited (%v) before %q appeared in %s; log:\n%s", s.Name, s.waitErr, pattern, filepath.Base(path), tail(s.Log()))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q not seen in %s within %v; log:\n%s", s.Name, pattern, filepath.Base(path), timeout, tail(s.Log()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Settle waits until the log has been quiet for SettleTime (at most
// 5 s). uWSGI 2.0.21 can lose a SIGINT/SIGHUP that reaches a worker still
// initialising right after its spawn line, and then waits out the 60 s
// reload mercy; signalling only a settled instance keeps the reference
// deterministic.
func (s *Server) Settle() {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		fi, err := os.Stat(s.LogPath)
		if err != nil || time.Since(fi.ModTime()) >= SettleTime {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SettleTime is how long the log must be quiet before Signal sends.
const SettleTime = 700 * time.Millisecond

// Signal settles (see Settle), then sends sig to the process (not its
// group).
func (s *Server) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	s.Settle()
	if err := s.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: send %v: %v", s.Name, sig, err)
	}
}

// Wait waits for the process to end and returns its exit code (-1 when it
// was killed by a signal). It fails the test after timeout.
func (s *Server) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		t.Fatalf("%s (pid %d) still running after %v; log:\n%s", s.Name, s.Pid(), timeout, tail(s.Log()))
	}
	return exitCode(s.waitErr)
}

// Stop sends SIGINT and returns the exit code (PM-24: 0 expected).
func (s *Server) Stop(t testing.TB) int {
	t.Helper()
	if s.Exited() {
		return exitCode(s.waitErr)
	}
	s.Signal(t, syscall.SIGINT)
	return s.Wait(t, StopTimeout)
}

// stopSignal is what Kill sends first: SIGINT stops uWSGI (PM-24); nginx
// uses SIGQUIT. Left to itself, the leader reaps its own children.
func (s *Server) stopSignal() syscall.Signal {
	if s.Name == "nginx" {
		return syscall.SIGQUIT
	}
	return syscall.SIGINT
}

// Kill asks the process to stop (see stopSignal), waits up to 3 s, then
// SIGKILLs the whole process group and waits (bounded) for the leader.
// Safe to call more than once; registered as a cleanup by Start.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return
	}
	s.finished = true
	if !s.Exited() {
		_ = s.Cmd.Process.Signal(s.stopSignal())
		select {
		case <-s.done:
		case <-time.After(3 * time.Second):
		}
	}
	// Whatever is left in the group (workers of a leader that died first).
	_ = syscall.Kill(-s.Pid(), syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -2
}

// RunResult is the outcome of a command that is expected to end by itself.
type RunResult struct {
	Code   int
	Stdout string
	Stderr string
}

// Run runs bin with args to completion (bounded by StartTimeout) in dir.
func Run(t testing.TB, bin string, args []string, dir string, env ...string) RunResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(baseEnv(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %q did not finish within %v; stderr:\n%s", bin, args, StartTimeout, tail(errb.String()))
	}
	code := exitCode(err)
	if code == -2 {
		t.Fatalf("run %s %q: %v", bin, args, err)
	}
	return RunResult{Code: code, Stdout: out.String(), Stderr: errb.String()}
}

func tail(s string) string {
	const max = 6000
	if len(s) > max {
		return "...\n" + s[len(s)-max:]
	}
	return s
}

// Dial connects to "unix:PATH", "PATH" containing a slash, or host:port.
func Dial(addr string) (net.Conn, error) {
	network, a := "tcp", addr
	if strings.HasPrefix(addr, "unix:") {
		network, a = "unix", strings.TrimPrefix(addr, "unix:")
	} else if strings.HasPrefix(addr, "/") {
		network = "unix"
	}
	c, err := net.DialTimeout(network, a, RequestTimeout)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return c, nil
}

// RawExchange writes req on a new connection and reads until the server
// closes the connection or RequestTimeout passes. It returns what was read;
// a reset is not an error (the server may close with unread input).
func RawExchange(addr string, req []byte) ([]byte, error) {
	return rawExchange(addr, req, false)
}

// RawExchangeHalfClose is RawExchange that shuts down the write side after
// sending req, as a client that sent a truncated request and gave up.
func RawExchangeHalfClose(addr string, req []byte) ([]byte, error) {
	return rawExchange(addr, req, true)
}

func rawExchange(addr string, req []byte, halfClose bool) ([]byte, error) {
	c, err := Dial(addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(RequestTimeout)); err != nil {
		return nil, fmt.Errorf("set deadline: %w", err)
	}
	if _, err := c.Write(req); err != nil && !isReset(err) {
		return nil, fmt.Errorf("write request to %s: %w", addr, err)
	}
	if halfClose {
		type closeWriter interface{ CloseWrite() error }
		if cw, ok := c.(closeWriter); ok {
			if err := cw.CloseWrite(); err != nil && !isReset(err) {
				return nil, fmt.Errorf("shutdown write to %s: %w", addr, err)
			}
		}
	}
	var buf bytes.Buffer
	_, err = io.Copy(&buf, c)
	if err != nil && !isReset(err) {
		return buf.Bytes(), fmt.Errorf("read reply from %s: %w", addr, err)
	}
	return buf.Bytes(), nil
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// Response is a parsed raw HTTP/1.x reply as sent by the server: the worker
// writes it itself (WP-10), so it is kept as close to the wire as possible.
type Response struct {
	StatusLine string      // first line without CRLF ("" if the reply was empty)
	Headers    [][2]string // in wire order, repeated names kept
	Body       []byte
	Raw        []byte
}

// Header returns the values of name (case-insensitive) in order.
func (r *Response) Header(name string) []string {
	var v []string
	for _, h := range r.Headers {
		if strings.EqualFold(h[0], name) {
			v = append(v, h[1])
		}
	}
	return v
}

// ParseResponse splits a raw reply. A reply without a blank line after the
// head is returned as a status-less body (WP-11: short statuses produce no
// head at all).
func ParseResponse(raw []byte) (*Response, error) {
	r := &Response{Raw: raw}
	if len(raw) == 0 {
		return r, nil
	}
	head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok || !bytes.HasPrefix(raw, []byte("HTTP/")) {
		r.Body = raw
		return r, nil
	}
	lines := strings.Split(string(head), "\r\n")
	r.StatusLine = lines[0]
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("malformed header line %q", l)
		}
		r.Headers = append(r.Headers, [2]string{name, strings.TrimPrefix(value, " ")})
	}
	r.Body = body
	if te := r.Header("Transfer-Encoding"); len(te) == 1 && strings.EqualFold(te[0], "chunked") {
		// Only nginx in front adds chunking; the worker never does (WP-10).
		dec, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(body)))
		if err != nil {
			return nil, fmt.Errorf("chunked body: %w", err)
		}
		r.Body = dec
	}
	return r, nil
}

// Do sends a raw request and parses the reply.
func Do(t testing.TB, addr string, req string) *Response {
	t.Helper()
	raw, err := RawExchange(addr, []byte(req))
	if err != nil {
		t.Fatalf("request to %s: %v", addr, err)
	}
	r, err := ParseResponse(raw)
	if err != nil {
		t.Fatalf("reply from %s: %v\n%q", addr, err, raw)
	}
	return r
}

// Get builds a minimal HTTP/1.1 GET with a fixed Host header, so that the
// variable block has the same size whatever port was picked.
func Get(target string, headers ...string) string {
	return Request("GET", target, "", headers...)
}

// Request builds a raw HTTP/1.1 request; a non-empty body adds Content-Length.
func Request(method, target, body string, headers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: e2e.test\r\n", method, target)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	if body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.String()
}

// Request log lines (LG-1). The pid, date and duration vary between runs;
// everything else must be equal byte for byte.
var (
	reqLineRE = regexp.MustCompile(`(?m)^\[pid: \d+\|app: -?\d+\|req: -?\d+/\d+\] .*$`)
	reqPidRE  = regexp.MustCompile(`^\[pid: \d+\|`)
	reqDateRE = regexp.MustCompile(` \[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\] `)
	reqMsRE   = regexp.MustCompile(`( => generated \d+ bytes) in \d+ (msecs|micros)`)
	reqSwRE   = regexp.MustCompile(`\(\d+ switches on core`)
)

// NormaliseSwitches hides the switch count of a request line: for bodies
// larger than the socket buffer uWSGI itself reports 1 or 2 from run to run.
func NormaliseSwitches(l string) string {
	return reqSwRE.ReplaceAllString(l, "(<N> switches on core")
}

// RequestLines returns the request log lines found in log, in order.
func RequestLines(log string) []string {
	return reqLineRE.FindAllString(log, -1)
}

// NormaliseRequestLine replaces the pid, date and duration of a request line
// with fixed tokens.
func NormaliseRequestLine(l string) string {
	l = reqPidRE.ReplaceAllString(l, "[pid: <PID>|")
	l = reqDateRE.ReplaceAllString(l, " [<DATE>] ")
	return reqMsRE.ReplaceAllString(l, "$1 in <T> $2")
}

// LogHasLine reports whether some line of log contains substr.
func LogHasLine(log, substr string) bool {
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			return true
		}
	}
	return false
}

// Version returns what `bin --version` prints (OP-305), trimmed.
func Version(t testing.TB, bin string) string {
	t.Helper()
	r := Run(t, bin, []string{"--version"}, t.TempDir())
	if r.Code != 0 {
		t.Fatalf("%s --version: exit %d, stderr %q", bin, r.Code, r.Stderr)
	}
	return strings.TrimSpace(r.Stdout)
}

// Args expands {name} tokens in a command-line template.
func Args(tmpl []string, vars map[string]string) []string {
	out := make([]string, len(tmpl))
	for i, a := range tmpl {
		for k, v := range vars {
			a = strings.ReplaceAll(a, "{"+k+"}", v)
		}
		out[i] = a
	}
	return out
}
