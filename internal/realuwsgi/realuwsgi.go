// Package realuwsgi starts the real uWSGI 2.0 for the differential tests
// of the packages that reproduce one part of it (the protocol parsers, the
// request log line, the stats document). It is used by tests only.
package realuwsgi

import (
	"bytes"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a running uWSGI whose stdout and stderr are collected.
type Server struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	out bytes.Buffer
}

func (s *Server) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

// Log returns what uWSGI wrote so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// Start runs uwsgi from PATH with args and waits until it has spawned
// workers workers. A missing uwsgi fails the test: the differential tests
// are the reference, never skipped. The test's cleanup kills it.
func Start(t testing.TB, workers int, args ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("uwsgi")
	if err != nil {
		t.Fatalf("the real uwsgi is required for this test (apt install uwsgi-core uwsgi-plugin-python3): %v", err)
	}
	s := &Server{cmd: exec.Command(bin, args...)}
	s.cmd.Stdout, s.cmd.Stderr = s, s
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start uwsgi: %v", err)
	}
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	})
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(s.Log(), "spawned uWSGI worker") < workers {
		if time.Now().After(deadline) {
			t.Fatalf("uwsgi did not start:\n%s", s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// FreeAddr returns a loopback TCP address nothing listens on right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
