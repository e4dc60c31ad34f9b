package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverArgs is the uWSGI command line every server gets, word for word.
func serverArgs(c Config, appFile, addr, sock string) []string {
	args := []string{"--plugin", "python3", "--master", "--processes", strconv.Itoa(c.Workers)}
	if c.Threads > 1 && c.Mode != modeGevent {
		args = append(args, "--threads", strconv.Itoa(c.Threads))
	}
	switch c.Mode {
	case modeHTTPSocket:
		args = append(args, "--http-socket", addr)
	case modePostBuf:
		args = append(args, "--http-socket", addr, "--post-buffering", "8192")
	case modeGevent:
		args = append(args, "--plugin", "gevent_python3", "--gevent", strconv.Itoa(c.Threads),
			"--gevent-monkey-patch", "--http-socket", addr)
	case modeNginx:
		args = append(args, "--socket", sock)
	case modeRouter:
		args = append(args, "--plugin", "http", "--http", addr)
	}
	return append(args, "--wsgi-file", appFile, "--disable-logging")
}

// nginxConf fronts a uwsgi socket. Buffers hold 1 MiB bodies in memory,
// otherwise nginx would spool them to temp files and the disk would be
// measured.
func nginxConf(dir, addr, sock string, asRoot bool) string {
	user := ""
	if asRoot {
		// Workers would otherwise drop to nobody, who cannot enter the
		// private temp dir holding the socket.
		user = "user root;\n"
	}
	return fmt.Sprintf(`%sworker_processes 1;
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %[2]s/client_body;
    uwsgi_temp_path %[2]s/uwsgi_temp;
    proxy_temp_path %[2]s/proxy_temp;
    fastcgi_temp_path %[2]s/fastcgi_temp;
    scgi_temp_path %[2]s/scgi_temp;
    client_max_body_size 8m;
    client_body_buffer_size 2m;
    uwsgi_buffer_size 64k;
    uwsgi_buffers 40 64k;
    uwsgi_busy_buffers_size 128k;
    keepalive_requests 1000000;
    server {
        listen %[3]s;
        location / {
            include /etc/nginx/uwsgi_params;
            uwsgi_pass unix:%[4]s;
        }
    }
}
`, user, dir, addr, sock)
}

// Stack is a started server (plus nginx in uwsgi-nginx mode).
type Stack struct {
	Server  Server
	Config  Config
	URL     string
	Dir     string // private temp dir: socket, nginx files, logs
	Ready   time.Duration
	srv     *proc
	nginx   *proc
	tree    []procStat // last known server tree, for the final SIGKILL
	logPath string
}

// proc is a started child process whose exit is observed in the background.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProc(name string, args []string, log io.Writer) (*proc, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// Own process group, so leftovers can be killed by group id; and
	// killed if this program dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks with sig, then forces with SIGKILL on the whole group after wait.
func (p *proc) stop(sig syscall.Signal, wait time.Duration) {
	if p == nil {
		return
	}
	pid := p.cmd.Process.Pid
	if !p.exited() {
		_ = syscall.Kill(pid, sig)
		select {
		case <-p.done:
		case <-time.After(wait):
		}
	}
	// Group members started by the process (workers, router) may outlive it.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// StartStack starts srv with config c and waits until it serves the app
// correctly. logDir keeps the server (and nginx) logs.
func StartStack(ctx context.Context, srv Server, c Config, appsDir, logDir, tag string) (*Stack, error) {
	dir, err := os.MkdirTemp("", "gosgi-bench-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	st := &Stack{Server: srv, Config: c, Dir: dir, logPath: filepath.Join(logDir, tag+".server.log")}
	fail := func(err error) (*Stack, error) {
		st.Stop()
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return fail(err)
	}
	sock := filepath.Join(dir, "app.sock")
	srvAddr := addr
	if c.Mode == modeNginx {
		srvAddr = ""
	}
	logf, err := os.Create(st.logPath)
	if err != nil {
		return fail(fmt.Errorf("server log: %w", err))
	}
	defer logf.Close()
	args := serverArgs(c, filepath.Join(appsDir, apps[c.App].file), srvAddr, sock)
	fmt.Fprintf(logf, "# %s %s\n", srv.Bin, strings.Join(args, " "))
	launched := time.Now()
	if st.srv, err = startProc(srv.Bin, args, logf); err != nil {
		return fail(err)
	}
	if c.Mode == modeNginx {
		conf := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(conf, []byte(nginxConf(dir, addr, sock, os.Geteuid() == 0)), 0o644); err != nil {
			return fail(fmt.Errorf("nginx conf: %w", err))
		}
		nlog, err := os.Create(filepath.Join(logDir, tag+".nginx.log"))
		if err != nil {
			return fail(fmt.Errorf("nginx log: %w", err))
		}
		defer nlog.Close()
		if st.nginx, err = startProc("nginx", []string{"-p", dir, "-e", filepath.Join(dir, "nginx-error.log"), "-c", conf}, nlog); err != nil {
			return fail(err)
		}
	}
	st.URL = "http://" + addr + "/"
	if err := st.waitReady(ctx, 30*time.Second); err != nil {
		return fail(err)
	}
	st.Ready = time.Since(launched)
	if err := st.Verify(ctx); err != nil {
		return fail(fmt.Errorf("verify: %w", err))
	}
	return st, nil
}

// Pid is the launched server process (the uWSGI master).
func (st *Stack) Pid() int { return st.srv.cmd.Process.Pid }

// NginxPid is nginx's master pid, 0 without nginx.
func (st *Stack) NginxPid() int {
	if st.nginx == nil {
		return 0
	}
	return st.nginx.cmd.Process.Pid
}

// waitReady polls the URL until it answers 200 and the workers exist; it
// fails fast, with the log's tail, if the server exits.
func (st *Stack) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var last string
	for {
		if st.srv.exited() {
			return fmt.Errorf("server exited during start-up (%v): %s", st.srv.err, st.logTail())
		}
		if st.nginx != nil && st.nginx.exited() {
			return fmt.Errorf("nginx exited during start-up (%v): %s", st.nginx.err, tail(filepath.Join(st.Dir, "nginx-error.log")))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no 200 from %s within %v (last: %s): %s", st.URL, limit, last, st.logTail())
		}
		resp, err := client.Get(st.URL)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	// Workers are normally forked before the socket answers; allow a moment
	// for servers that fork them lazily. Not an error if fewer show up: the
	// process model may differ, only requests are compared.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if len(processTree(st.Pid())) > st.Config.Workers {
			break
		}
	}
	return nil
}

// Verify checks several responses: status 200 and the exact body.
func (st *Stack) Verify(ctx context.Context) error {
	spec := apps[st.Config.App]
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < 3; i++ {
		var req *http.Request
		var err error
		var sent []byte
		if spec.postBytes > 0 {
			sent = echoPayload()[:spec.postBytes]
			req, err = http.NewRequestWithContext(ctx, "POST", st.URL, bytes.NewReader(sent))
		} else {
			req, err = http.NewRequestWithContext(ctx, "GET", st.URL, nil)
		}
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("request %d: %w", i+1, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("request %d: read body: %w", i+1, err)
		}
		if resp.StatusCode != 200 {
			return fmt.Errorf("request %d: status %s, body %q", i+1, resp.Status, clip(body))
		}
		if sent != nil {
			if j := firstDiff(body, sent); j >= 0 {
				return fmt.Errorf("request %d: echoed body (%d bytes) differs from the %d bytes sent at byte %d", i+1, len(body), len(sent), j)
			}
		} else if err := spec.check(body); err != nil {
			return fmt.Errorf("request %d: %w", i+1, err)
		}
	}
	return nil
}

// Drain sends one request and waits for it, so that requests a previous
// load left queued in the server are served before the next measurement.
func (st *Stack) Drain(ctx context.Context) {
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(ctx, "GET", st.URL, nil)
	if err != nil {
		return
	}
	if apps[st.Config.App].postBytes > 0 {
		req, _ = http.NewRequestWithContext(ctx, "POST", st.URL, bytes.NewReader(echoPayload()))
	}
	if resp, err := client.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// Alive reports whether the server still answers correctly.
func (st *Stack) Alive(ctx context.Context) error {
	if st.srv.exited() {
		return errors.New("server process exited")
	}
	return st.Verify(ctx)
}

// Stop stops nginx (SIGQUIT, graceful) and the server (SIGINT: for uWSGI
// 2.0 SIGTERM means "brutal reload", not stop: PM-22, PM-24), then kills leftovers:
// the process groups and every process of the last known tree that still
// has the same pid and start time.
func (st *Stack) Stop() {
	if st.srv != nil {
		st.tree = processTree(st.Pid())
	}
	st.nginx.stop(syscall.SIGQUIT, 3*time.Second)
	st.srv.stop(syscall.SIGINT, 5*time.Second)
	now := allStats()
	for _, p := range st.tree {
		if q, ok := now[p.Pid]; ok && q.Start == p.Start {
			_ = syscall.Kill(p.Pid, syscall.SIGKILL)
		}
	}
	if st.nginx != nil {
		if b, err := os.ReadFile(filepath.Join(st.Dir, "nginx-error.log")); err == nil && len(b) > 0 {
			_ = os.WriteFile(strings.TrimSuffix(st.logPath, ".server.log")+".nginx-error.log", b, 0o644)
		}
	}
	_ = os.RemoveAll(st.Dir)
}

func (st *Stack) logTail() string { return tail(st.logPath) }

// tail returns the last lines of a file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 6 {
		lines = lines[len(lines)-6:]
	}
	return strings.Join(lines, " | ")
}
