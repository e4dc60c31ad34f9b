package stats

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options configure a stats server.
type Options struct {
	HTTP      bool // stats-http: read the request, answer with an HTTP/1.0 head (ST-3)
	Minified  bool // stats-minified (ST-4)
	NoCores   bool // stats-no-cores
	NoMetrics bool // stats-no-metrics
	// Log receives the server's messages; nil discards them.
	Log func(format string, args ...any)
	// Timeout bounds reading a stats-http request and writing the reply
	// (uWSGI uses socket-timeout); 0 means 4 seconds.
	Timeout time.Duration
	// MaxConns bounds the clients served at once; more wait in the
	// kernel's accept queue. 0 means 8.
	MaxConns int
}

// httpHead is what stats-http puts before the document (ST-3).
const httpHead = "HTTP/1.0 200 OK\r\nConnection: close\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: application/json\r\n\r\n"

// Server is a listening stats server.
type Server struct {
	opts Options
	ln   net.Listener
	name string
	fd   int

	path     string       // UNIX socket file, "" otherwise
	lastSize atomic.Int64 // size of the last document, to size the next buffer
}

// Listen binds the stats socket: "host:port", ":port" (all IPv4
// interfaces, as uWSGI), "@name" (abstract UNIX) or a UNIX socket path
// (ST-1). A stale socket file left by a dead instance is replaced; any
// other existing file is left alone and reported.
func Listen(addr string, o Options) (*Server, error) {
	if o.Timeout <= 0 {
		o.Timeout = 4 * time.Second
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 8
	}
	network, where := "unix", addr
	switch {
	case addr == "":
		return nil, errors.New("stats: empty address")
	case strings.HasPrefix(addr, "@"):
		where = "\x00" + addr[1:]
	case strings.Contains(addr, ":") && !strings.Contains(addr, "/"):
		network = "tcp"
		if strings.HasPrefix(addr, ":") {
			network, where = "tcp4", "0.0.0.0"+addr
		}
	default:
		if err := removeStaleSocket(addr); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen(network, where)
	if err != nil {
		return nil, fmt.Errorf("stats: bind %s: %w", addr, err)
	}
	s := &Server{opts: o, ln: ln, name: addr, fd: -1}
	if ul, ok := ln.(*net.UnixListener); ok && network == "unix" && !strings.HasPrefix(addr, "@") {
		// The file stays after Close, as uWSGI leaves it without vacuum;
		// a reload that re-executes the master binds it again.
		ul.SetUnlinkOnClose(false)
		s.path = addr
	}
	if sc, ok := ln.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) { s.fd = int(fd) })
		}
	}
	s.logf("*** Stats server enabled on %s fd: %d ***", addr, s.fd)
	return s, nil
}

// removeStaleSocket clears the way for a UNIX socket at path: a socket
// nobody listens on is removed; a live one or any other file is an error.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("stats: %s exists and is not a socket: not removing it", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("stats: bind %s: another process is listening on it", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("stats: remove stale socket %s: %w", path, err)
	}
	return nil
}

// Addr is the bound address (the real port when ":0" was asked).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// FD is the listening descriptor, for the startup log line.
func (s *Server) FD() int { return s.fd }

// Close stops accepting. A UNIX socket file stays: see Vacuum.
func (s *Server) Close() error { return s.ln.Close() }

// Vacuum removes the UNIX socket file (the vacuum option, PM-67), logging
// uWSGI's line; for other addresses it does nothing.
func (s *Server) Vacuum() error {
	if s.path == "" {
		return nil
	}
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("stats: vacuum %s: %w", s.path, err)
	}
	s.logf("VACUUM: unix socket %s (stats) removed.", s.path)
	return nil
}

// Serve answers clients until ctx is done or the listener is closed, then
// waits for the clients being served. Each client gets the document
// rendered from a fresh snapshot. It returns nil after ctx ends.
func (s *Server) Serve(ctx context.Context, snapshot func() *Snapshot) error {
	stop := context.AfterFunc(ctx, func() { s.ln.Close() })
	defer stop()
	sem := make(chan struct{}, s.opts.MaxConns)
	var wg sync.WaitGroup
	defer wg.Wait()
	var backoff time.Duration
	for {
		select { // bounded concurrency: wait for a free slot before accepting
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		c, err := s.ln.Accept()
		if err != nil {
			<-sem
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// EMFILE and friends: log, wait, retry (net/http's policy).
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logf("stats: accept on %s: %v; retrying in %v", s.name, err, backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		backoff = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s.serveConn(c, snapshot)
		}()
	}
}

// serveConn writes one document and closes (ST-1, ST-3).
func (s *Server) serveConn(c net.Conn, snapshot func() *Snapshot) {
	defer c.Close()
	if s.opts.HTTP {
		_ = c.SetReadDeadline(time.Now().Add(s.opts.Timeout))
		readRequest(c)
	}
	doc := s.render(snapshot)
	// The deadline starts once the document exists: rendering a big
	// instance must not eat the client's time.
	_ = c.SetWriteDeadline(time.Now().Add(s.opts.Timeout))
	if _, err := c.Write(doc); err != nil {
		s.logf("stats: write to %s: %v", peer(c), err)
		return
	}
	// Say EOF, then drain what the client sent so closing does not reset
	// the connection under a reply it has not read yet.
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	}
}

// render returns the reply bytes for a fresh snapshot.
func (s *Server) render(snapshot func() *Snapshot) []byte {
	snap := snapshot()
	b := make([]byte, 0, s.lastSize.Load()+512)
	if s.opts.HTTP {
		b = append(b, httpHead...)
	}
	b = AppendJSON(b, snap, Format{Minified: s.opts.Minified, NoCores: s.opts.NoCores, NoMetrics: s.opts.NoMetrics})
	s.lastSize.Store(int64(len(b)))
	return b
}

// readRequest reads a stats-http request head: up to 4096 bytes, until the
// blank line, EOF or the deadline; its content does not matter (ST-3).
func readRequest(c net.Conn) {
	buf := make([]byte, 4096)
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil || strings.Contains(string(buf[:n]), "\r\n\r\n") || strings.Contains(string(buf[:n]), "\n\n") {
			return
		}
	}
}

func peer(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil && a.String() != "" && a.String() != "@" {
		return a.String()
	}
	return "a local client"
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Log != nil {
		s.opts.Log(format, args...)
	}
}
