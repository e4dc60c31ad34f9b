package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPyTracebacker: py-tracebacker gives each worker a unix socket
// (PREFIX + worker id) that answers with the stack of every thread; read
// with --connect-and-read while a request runs, the request thread's lines
// are uWSGI's, naming the thread uWSGIWorker1Core0 (OP-231).
func TestPyTracebacker(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--processes", "1",
		"--py-tracebacker", "{dir}/tb", "--wsgi-file", "{apps}/tracebacker.py"}
	Differential(t, Setup{Args: args, Env: []string{"TB_DIR={dir}"}}, func(t *testing.T, e *Env) any {
		dir := e.Vars["dir"]
		e.Srv.WaitLog(t, `python tracebacker for worker 1 available on `+dir+`/tb1`, StartTimeout)
		done := make(chan *Response, 1)
		go func() {
			raw, _ := RawExchange(e.Addr("http"), []byte(Get("/")))
			r, _ := ParseResponse(raw)
			done <- r
		}()
		deadline := time.Now().Add(RequestTimeout)
		for {
			if _, err := os.Stat(filepath.Join(dir, "entered")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the request never started; log:\n%s", tail(e.Srv.Log()))
			}
			time.Sleep(20 * time.Millisecond)
		}
		dump := readUnix(t, filepath.Join(dir, "tb1"))
		if e.Impl.Name == "gosgi" {
			// uWSGI 2.0.21's --connect-and-read prints nothing; gosgi's
			// prints what the socket sends.
			res := Run(t, e.Impl.Bin, []string{"--connect-and-read", filepath.Join(dir, "tb1")}, dir)
			if res.Code != 0 || !strings.HasPrefix(res.Stdout, "*** uWSGI Python tracebacker output ***\n") {
				t.Errorf("--connect-and-read: exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
			}
		}
		os.WriteFile(filepath.Join(dir, "release"), nil, 0o644)
		if r := <-done; r == nil || string(r.Body) != "released" {
			t.Errorf("the request did not complete after the dump: %+v", r)
		}
		var request []string
		for _, l := range strings.Split(dump, "\n") {
			if strings.HasPrefix(l, "thread_id = uWSGIWorker1Core0 ") {
				request = append(request, strings.ReplaceAll(l, AppsDir(t)+"/", ""))
			}
		}
		return map[string]any{
			"header":  strings.SplitN(dump, "\n", 2)[0],
			"request": request,
		}
	})
}

// readUnix returns what a unix socket sends until it closes.
func readUnix(t *testing.T, path string) string {
	t.Helper()
	c, err := net.DialTimeout("unix", path, RequestTimeout)
	if err != nil {
		t.Fatalf("connect %s: %v", path, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(RequestTimeout))
	b, err := readAll(c)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}
