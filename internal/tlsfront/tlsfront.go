// Package tlsfront serves `https-socket` and `https` (TLS 1.2/1.3, HTTP/1.1
// and HTTP/2 through ALPN) in goroutines of a worker, and hands every
// decoded request to a Python core as a plain HTTP/1.x request on one end of
// a socketpair (DESIGN §4, WP-29, WP-41/42).
//
// For each request the front reads the whole body first (decoding chunked
// and HTTP/2 framing, so the core always gets a Content-Length), then
// creates a socketpair and calls Config.Handoff with the core's end and
// the request head, and writes the body on its own end. The core serves it like
// any http-socket connection, with HTTPS=on, and closes its end; the front
// reads the HTTP/1.x response, buffering it (up to Config.SpoolBytes) so a
// slow reader does not keep the core writing, and relays it to the client
// over the keep-alive HTTP/1.1 connection or the HTTP/2 stream. A slow or
// stalled client therefore never holds a Python core, and the head/idle
// timeouts, header limits and request-smuggling checks are net/http's.
//
// The package deliberately does not bind sockets (the master does), parse
// or log requests (the core does both, so the log line is the usual one),
// speak HTTP/3, or terminate WebSocket upgrades.
package tlsfront

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Config configures one TLS front.
type Config struct {
	Spec     Spec         // certificate, key, ciphers, client CA
	Listener net.Listener // the bound TCP listener (plain; TLS is added here)

	// Handoff gives a request to a Python core (see Conn). It must not
	// block: queue the connection for a core and return.
	Handoff func(c Conn)

	// Limits and timeouts; zero values take the defaults below.
	HeaderTimeout  time.Duration // whole request head (default 60 s, http-headers-timeout)
	BodyTimeout    time.Duration // whole request body, and each response write (default 60 s, http-timeout)
	IdleTimeout    time.Duration // between keep-alive requests (default 60 s)
	ResponseTime   time.Duration // core's response, head to last byte (default: none; harakiri bounds it)
	MaxHeaderBytes int           // request head (default 4096 + 1024, buffer-size)
	MaxBody        int64         // request body (default 0: unlimited; limit-post)
	MemBody        int64         // body bytes kept in memory before spilling to a temp file (default 1 MiB)
	SpoolBytes     int           // response bytes buffered ahead of a slow client (default 8 MiB)
	SocketTimeout  time.Duration // SO_RCVTIMEO of the core's end (default 4 s, socket-timeout)
	DisableHTTP2   bool          // ALPN offers http/1.1 only

	// Log receives server messages (handshake errors, reload failures).
	Log func(format string, args ...any)
}

// Conn is one decoded request handed to a core.
type Conn struct {
	// FD is the core's end of a socketpair: a blocking socket
	// (SO_RCVTIMEO = SocketTimeout) the core owns from now on and closes
	// once the response is written (one request per connection).
	FD int
	// Head is the complete HTTP/1.x request head, already taken off the
	// socket: the core treats it as bytes it has read (like a hand-off's
	// pending data). Only the body, exactly Content-Length bytes, follows
	// on FD.
	Head []byte
	// RemoteAddr is the client's IP (REMOTE_ADDR), RemotePort its port
	// (REMOTE_PORT, for the https router front, WP-41).
	RemoteAddr, RemotePort string
	// HTTPS is always true: the core adds HTTPS=on (WP-29, WP-41).
	HTTPS bool
}

// Server is a running TLS front.
type Server struct {
	cfg  Config
	cert atomic.Pointer[tls.Certificate]
	srv  *http.Server
	log  func(string, ...any)

	handoffs atomic.Int64
}

// New loads the certificate and prepares the server; Serve starts it.
func New(cfg Config) (*Server, error) {
	if cfg.Handoff == nil || cfg.Listener == nil {
		return nil, errors.New("tlsfront: Handoff and Listener are required")
	}
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = 60 * time.Second
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = 60 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = 4096 + 1024
	}
	if cfg.MemBody <= 0 {
		cfg.MemBody = 1 << 20
	}
	if cfg.SpoolBytes <= 0 {
		cfg.SpoolBytes = 8 << 20
	}
	if cfg.SocketTimeout <= 0 {
		cfg.SocketTimeout = 4 * time.Second
	}
	s := &Server{cfg: cfg, log: cfg.Log}
	if s.log == nil {
		s.log = func(string, ...any) {}
	}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	tc := &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cert.Load(), nil
		},
	}
	if cfg.Spec.Ciphers != "" {
		ids, unknown := CipherSuites(cfg.Spec.Ciphers)
		if len(unknown) > 0 {
			s.log("https %s: cipher names without a Go equivalent ignored: %s", cfg.Spec.Addr, strings.Join(unknown, ":"))
		}
		tc.CipherSuites = ids // nil keeps Go's defaults
	}
	if ca := cfg.Spec.ClientCA; ca != "" {
		required := strings.HasPrefix(ca, "!")
		ca = strings.TrimPrefix(ca, "!")
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("https %s: client CA: %w", cfg.Spec.Addr, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("https %s: client CA %s: no PEM certificate", cfg.Spec.Addr, ca)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.VerifyClientCertIfGiven
		if required {
			tc.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(!cfg.DisableHTTP2)
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		TLSConfig:         tc,
		ReadHeaderTimeout: cfg.HeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		Protocols:         &protos,
		ErrorLog:          log.New(logWriter{s.log}, "", 0),
	}
	return s, nil
}

// Reload reads the certificate and key files again (on SIGHUP). On error
// the previous certificate stays in use.
func (s *Server) Reload() error {
	c, err := tls.LoadX509KeyPair(s.cfg.Spec.CertFile, s.cfg.Spec.KeyFile)
	if err != nil {
		return fmt.Errorf("https %s: load certificate %s / key %s: %w", s.cfg.Spec.Addr, s.cfg.Spec.CertFile, s.cfg.Spec.KeyFile, err)
	}
	s.cert.Store(&c)
	return nil
}

// Serve accepts TLS connections until Shutdown; it returns
// http.ErrServerClosed after a clean shutdown.
func (s *Server) Serve() error {
	return s.srv.ServeTLS(s.cfg.Listener, "", "")
}

// Shutdown stops accepting, then waits for requests in flight (bounded by
// ctx), as http.Server.Shutdown does.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Handoffs is the number of requests given to cores so far.
func (s *Server) Handoffs() int64 { return s.handoffs.Load() }

type logWriter struct{ log func(string, ...any) }

func (w logWriter) Write(p []byte) (int, error) {
	w.log("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// hopHeaders are connection-level headers never forwarded in either
// direction (RFC 9110 §7.6.1); Content-Length is rewritten from the body.
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Transfer-Encoding": true,
	"Te": true, "Trailer": true, "Upgrade": true, "Http2-Settings": true, "Content-Length": true,
	"Expect": true,
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
	body, n, err := s.readBody(r)
	if err != nil {
		var tooBig *tooLargeError
		if errors.As(err, &tooBig) {
			w.Header().Set("Connection", "close")
			http.Error(w, "Request Entity Too Large", http.StatusRequestEntityTooLarge)
			return
		}
		panic(http.ErrAbortHandler) // client timed out or went away: nothing to answer
	}
	defer body.Close()
	_ = rc.SetReadDeadline(time.Time{})

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		s.log("https: socketpair: %v", err)
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
		return
	}
	ours := os.NewFile(uintptr(fds[0]), "tlsfront")
	conn, err := net.FileConn(ours) // dup'ed into the netpoller
	ours.Close()
	if err != nil {
		unix.Close(fds[1])
		s.log("https: socketpair conn: %v", err)
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
		return
	}
	defer conn.Close()
	if s.cfg.ResponseTime > 0 {
		conn.SetDeadline(time.Now().Add(s.cfg.ResponseTime))
	}
	// The core reads the body with a timeout, so a front that died
	// mid-request cannot hold it; its writes stay blocking: the spool
	// below keeps reading them.
	tv := unix.NsecToTimeval(s.cfg.SocketTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fds[1], unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fds[1])
		s.log("https: socket timeout: %v", err)
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
		return
	}
	s.handoffs.Add(1)
	ip, port := clientAddr(r.RemoteAddr)
	upgrade := isWebsocketUpgrade(r)
	head := appendRequestHead(nil, r, n)
	if upgrade { // the app answers the handshake itself (uwsgi.websocket_handshake)
		head = append(head[:len(head)-2], "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"...)
	}
	s.cfg.Handoff(Conn{FD: fds[1], Head: head, RemoteAddr: ip, RemotePort: port, HTTPS: true})
	if n > 0 {
		go io.Copy(conn, body) // the core may answer before reading it all
	}

	sp := newSpool(s.cfg.SpoolBytes)
	go sp.fill(conn)
	defer sp.close()
	br := bufio.NewReaderSize(sp, 4096)
	resp, err := http.ReadResponse(br, r)
	if err != nil {
		// The core closed without an answer (a request it refused,
		// harakiri): close the client connection or reset the stream.
		panic(http.ErrAbortHandler)
	}
	defer resp.Body.Close()
	if upgrade && resp.StatusCode == http.StatusSwitchingProtocols {
		s.tunnel(rc, resp, br, conn)
		return
	}
	h := w.Header()
	listed := connectionListed(resp.Header)
	for k, vs := range resp.Header {
		if hopHeaders[k] || listed[k] {
			continue
		}
		h[k] = vs
	}
	if resp.ContentLength >= 0 && r.Method != http.MethodHead {
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	} else if r.Method == http.MethodHead {
		if cl := resp.Header.Get("Content-Length"); cl != "" {
			h.Set("Content-Length", cl)
		}
	}
	w.WriteHeader(resp.StatusCode)
	buf := make([]byte, 32<<10)
	for {
		m, rerr := resp.Body.Read(buf)
		if m > 0 {
			// A client that stops reading is cut off after BodyTimeout
			// without progress; the goroutine is not held forever.
			_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.BodyTimeout))
			if _, werr := w.Write(buf[:m]); werr != nil {
				return // client gone: sp.close() stops the core's writes
			}
			if sp.buffered() == 0 {
				_ = rc.Flush() // streaming responses reach the client as written
			}
		}
		if rerr == io.EOF {
			return
		}
		if rerr != nil {
			panic(http.ErrAbortHandler) // truncated response: do not pretend it ended
		}
	}
}

// isWebsocketUpgrade reports an HTTP/1.1 request asking to switch to the
// websocket protocol (RFC 6455 §4.1); over HTTP/2 there is no upgrade.
func isWebsocketUpgrade(r *http.Request) bool {
	return r.ProtoMajor == 1 && r.ProtoMinor == 1 &&
		headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

// headerHasToken reports whether a comma-separated header lists token
// (any case).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// tunnel passes the app's 101 answer to the client as it was written and
// then copies bytes both ways until either side closes: the connection now
// speaks the websocket protocol, which the app handles.
func (s *Server) tunnel(rc *http.ResponseController, resp *http.Response, core *bufio.Reader, conn net.Conn) {
	client, buf, err := rc.Hijack()
	if err != nil {
		s.log("https: websocket upgrade: %v", err)
		panic(http.ErrAbortHandler)
	}
	defer client.Close()
	_ = client.SetDeadline(time.Time{})
	_ = conn.SetDeadline(time.Time{})
	head := []byte(fmt.Sprintf("HTTP/1.1 %s\r\n", resp.Status))
	for _, k := range slices.Sorted(maps.Keys(resp.Header)) {
		for _, v := range resp.Header[k] {
			head = append(append(append(append(head, k...), ": "...), v...), "\r\n"...)
		}
	}
	if _, err := client.Write(append(head, "\r\n"...)); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() { // client -> app, what the server read ahead first
		io.Copy(conn, io.MultiReader(buf.Reader, client))
		conn.(interface{ CloseWrite() error }).CloseWrite()
		done <- struct{}{}
	}()
	go func() { // app -> client
		io.Copy(client, core)
		done <- struct{}{}
	}()
	<-done
}

// appendRequestHead renders r as an HTTP/1.x request head with the body
// length n. Headers are written in sorted order so the environ is
// deterministic; repeated headers stay separate lines (the core merges
// them with ", ", WP-23).
func appendRequestHead(dst []byte, r *http.Request, n int64) []byte {
	proto := "HTTP/1.1"
	if r.ProtoMajor == 1 && r.ProtoMinor == 0 {
		proto = "HTTP/1.0"
	}
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	dst = append(dst, r.Method...)
	dst = append(dst, ' ')
	dst = append(dst, uri...)
	dst = append(dst, ' ')
	dst = append(dst, proto...)
	dst = append(dst, "\r\n"...)
	if r.Host != "" {
		dst = append(dst, "Host: "...)
		dst = append(dst, r.Host...)
		dst = append(dst, "\r\n"...)
	}
	listed := connectionListed(r.Header)
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		if !hopHeaders[k] && !listed[k] && k != "Host" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range r.Header[k] {
			dst = append(dst, k...)
			dst = append(dst, ": "...)
			dst = append(dst, v...)
			dst = append(dst, "\r\n"...)
		}
	}
	if n > 0 || r.ContentLength == 0 && r.Header.Get("Content-Length") != "" {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, n, 10)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// clientAddr splits the peer address; an IPv4-mapped IPv6 address is
// shown as IPv4 (WP-22).
// connectionListed returns the headers a Connection header names: they
// are hop-by-hop too (RFC 9110 §7.6.1).
func connectionListed(h http.Header) map[string]bool {
	var m map[string]bool
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if m == nil {
				m = map[string]bool{}
			}
			m[http.CanonicalHeaderKey(name)] = true
		}
	}
	return m
}

func clientAddr(remote string) (ip, port string) {
	host, port, err := net.SplitHostPort(remote)
	if err != nil {
		return remote, ""
	}
	if a := net.ParseIP(host); a != nil {
		if v4 := a.To4(); v4 != nil {
			return v4.String(), port
		}
	}
	return host, port
}

type tooLargeError struct{ max int64 }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("request body larger than %d bytes", e.max)
}

// readBody reads the whole request body: in memory up to MemBody, then
// in an unlinked temporary file. It returns the body to replay and its
// length.
func (s *Server) readBody(r *http.Request) (io.ReadCloser, int64, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return io.NopCloser(bytes.NewReader(nil)), 0, nil
	}
	src := io.Reader(r.Body)
	if s.cfg.MaxBody > 0 {
		src = io.LimitReader(r.Body, s.cfg.MaxBody+1)
	}
	var mem bytes.Buffer
	n, err := io.CopyN(&mem, src, s.cfg.MemBody)
	if err == io.EOF {
		if s.cfg.MaxBody > 0 && n > s.cfg.MaxBody {
			return nil, 0, &tooLargeError{s.cfg.MaxBody}
		}
		return io.NopCloser(bytes.NewReader(mem.Bytes())), n, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read request body: %w", err)
	}
	f, err := os.CreateTemp("", "gosgi-body-")
	if err != nil {
		return nil, 0, fmt.Errorf("spill request body: %w", err)
	}
	os.Remove(f.Name()) // unlinked: gone when closed, whatever happens
	if _, err := f.Write(mem.Bytes()); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("spill request body: %w", err)
	}
	m, err := io.Copy(f, src)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("read request body: %w", err)
	}
	n += m
	if s.cfg.MaxBody > 0 && n > s.cfg.MaxBody {
		f.Close()
		return nil, 0, &tooLargeError{s.cfg.MaxBody}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("rewind request body: %w", err)
	}
	return f, n, nil
}

// spool buffers the core's response ahead of the client, up to max bytes,
// so the core finishes writing (and goes back to serving) even when the
// client reads slowly.
type spool struct {
	mu     sync.Mutex
	cond   sync.Cond
	chunks [][]byte
	size   int
	max    int
	err    error // set when the core's side ended (io.EOF or a read error)
	closed bool  // the relay gave up: stop reading from the core
}

func newSpool(max int) *spool {
	s := &spool{max: max}
	s.cond.L = &s.mu
	return s
}

func (s *spool) fill(r io.Reader) {
	for {
		buf := make([]byte, 32<<10)
		n, err := r.Read(buf)
		s.mu.Lock()
		for s.size >= s.max && !s.closed {
			s.cond.Wait()
		}
		if s.closed {
			s.mu.Unlock()
			return
		}
		if n > 0 {
			s.chunks = append(s.chunks, buf[:n])
			s.size += n
		}
		if err != nil {
			s.err = err
		}
		s.cond.Broadcast()
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (s *spool) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.chunks) == 0 && s.err == nil && !s.closed {
		s.cond.Wait()
	}
	if len(s.chunks) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		return 0, io.ErrClosedPipe
	}
	n := copy(p, s.chunks[0])
	if n == len(s.chunks[0]) {
		s.chunks[0] = nil
		s.chunks = s.chunks[1:]
	} else {
		s.chunks[0] = s.chunks[0][n:]
	}
	s.size -= n
	s.cond.Broadcast()
	return n, nil
}

func (s *spool) buffered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

func (s *spool) close() {
	s.mu.Lock()
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
}
