package tlsfront

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosgi/gosgi/internal/proto"
)

func getRcvTimeo(fd int, tv *unix.Timeval) error {
	v, err := unix.GetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO)
	if err == nil {
		*tv = *v
	}
	return err
}

// testCA is a throwaway CA generated per test run.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	pem  []byte
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gosgi test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a server (or client) certificate for 127.0.0.1 signed by the
// CA into dir and returns the cert and key paths.
func (ca *testCA) issue(t *testing.T, dir, cn string, serial int64, client bool) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	usage := x509.ExtKeyUsageServerAuth
	if client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	must(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	cp, kp := filepath.Join(dir, cn+".crt"), filepath.Join(dir, cn+".key")
	must(t, os.WriteFile(cp, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	must(t, os.WriteFile(kp, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return cp, kp
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// seen is what the fake core received for one request.
type seen struct {
	head   string
	req    proto.Request
	vars   map[string]string
	body   []byte
	remote string
	https  bool
}

// fakeCore stands in for a Python core: it parses the head with the same
// parser the worker uses, reads the body and answers through respond.
type fakeCore struct {
	mu      sync.Mutex
	reqs    []seen
	respond func(s *seen, w io.Writer)
	done    chan time.Time // when each response was fully written
}

func (c *fakeCore) handoff(t *testing.T) func(Conn) {
	return func(hc Conn) {
		fd, head, remote, https := hc.FD, hc.Head, hc.RemoteAddr, hc.HTTPS
		if p, err := strconv.Atoi(hc.RemotePort); err != nil || p <= 0 {
			t.Errorf("RemotePort %q", hc.RemotePort)
		}
		var tv unix.Timeval
		if err := getRcvTimeo(fd, &tv); err != nil || tv.Sec != 4 {
			t.Errorf("core end: SO_RCVTIMEO %+v %v, want 4 s", tv, err)
		}
		go func() {
			f := os.NewFile(uintptr(fd), "core")
			defer f.Close()
			br := bufio.NewReader(f)
			if !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
				t.Errorf("core: incomplete head %q", head)
				return
			}
			s := seen{head: string(head), remote: remote, https: https, vars: map[string]string{}}
			o := proto.HTTPOptions{ServerName: "h", ServerPort: "443", RemoteAddr: remote, HTTPS: https, BufferSize: 65535, RejectAmbiguousLength: true}
			_, block, err := proto.ParseHTTP(head, nil, &o, &s.req)
			if err != nil {
				t.Errorf("core: the head does not parse: %v\n%q", err, head)
				return
			}
			for p := 0; p < len(block); {
				kl := int(block[p]) | int(block[p+1])<<8
				k := string(block[p+2 : p+2+kl])
				p += 2 + kl
				vl := int(block[p]) | int(block[p+1])<<8
				s.vars[k] = string(block[p+2 : p+2+vl])
				p += 2 + vl
			}
			s.body = make([]byte, s.req.ContentLength)
			if _, err := io.ReadFull(br, s.body); err != nil {
				t.Errorf("core: read body: %v", err)
				return
			}
			c.mu.Lock()
			c.reqs = append(c.reqs, s)
			c.mu.Unlock()
			c.respond(&s, f)
			if c.done != nil {
				c.done <- time.Now()
			}
		}()
	}
}

func (c *fakeCore) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.reqs)
}

// echo answers with a summary of what the core saw.
func echo(s *seen, w io.Writer) {
	var keys []string
	for k := range s.vars {
		if strings.HasPrefix(k, "HTTP_") || k == "CONTENT_LENGTH" || k == "HTTPS" || k == "REMOTE_ADDR" || k == "SERVER_PROTOCOL" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", s.vars["REQUEST_METHOD"], s.vars["REQUEST_URI"])
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, s.vars[k])
	}
	sum := sha256.Sum256(s.body)
	fmt.Fprintf(&b, "body=%d:%s\n", len(s.body), hex.EncodeToString(sum[:8]))
	fmt.Fprintf(w, "%s 200 OK\r\nContent-Type: text/plain\r\nX-Core: yes\r\nContent-Length: %d\r\n\r\n%s", s.vars["SERVER_PROTOCOL"], b.Len(), b.String())
}

type env struct {
	srv    *Server
	addr   string
	ca     *testCA
	core   *fakeCore
	logs   *logSink
	dir    string
	served chan error
}

type logSink struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logSink) printf(f string, a ...any) {
	l.mu.Lock()
	fmt.Fprintf(&l.buf, f+"\n", a...)
	l.mu.Unlock()
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func start(t *testing.T, core *fakeCore, tweak func(*Config)) *env {
	t.Helper()
	if core.respond == nil {
		core.respond = echo
	}
	dir := t.TempDir()
	ca := newCA(t)
	crt, key := ca.issue(t, dir, "server", 2, false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	e := &env{ca: ca, core: core, logs: &logSink{}, dir: dir, addr: ln.Addr().String(), served: make(chan error, 1)}
	cfg := Config{Spec: Spec{Addr: e.addr, CertFile: crt, KeyFile: key}, Listener: ln,
		Handoff: core.handoff(t), Log: e.logs.printf}
	if tweak != nil {
		tweak(&cfg)
	}
	e.srv, err = New(cfg)
	must(t, err)
	go func() { e.served <- e.srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.srv.Shutdown(ctx)
		select {
		case err := <-e.served:
			if err != http.ErrServerClosed {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Serve did not return")
		}
	})
	return e
}

func (e *env) client(h2 bool) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.ca.pool}, ForceAttemptHTTP2: h2}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func (e *env) dialTLS(t *testing.T) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", e.addr,
		&tls.Config{RootCAs: e.ca.pool, NextProtos: []string{"http/1.1"}})
	must(t, err)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func TestHTTP1AndHTTP2(t *testing.T) { // WP-29: https-socket sets HTTPS=on
	core := &fakeCore{}
	e := start(t, core, nil)
	for _, h2 := range []bool{false, true} {
		c := e.client(h2)
		req, _ := http.NewRequest("GET", "https://"+e.addr+"/path/x?q=1", nil)
		req.Header.Add("X-Dup", "one")
		req.Header.Add("X-Dup", "two")
		resp, err := c.Do(req)
		must(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantProto := map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[h2]
		if resp.Proto != wantProto || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
			t.Errorf("h2=%v: proto %s tls %+v", h2, resp.Proto, resp.TLS)
		}
		if resp.StatusCode != 200 || resp.Header.Get("X-Core") != "yes" || resp.Header.Get("Content-Type") != "text/plain" {
			t.Errorf("h2=%v: %d %v", h2, resp.StatusCode, resp.Header)
		}
		for _, want := range []string{"GET /path/x?q=1\n", "HTTPS=on\n", "REMOTE_ADDR=127.0.0.1\n", "HTTP_X_DUP=one, two\n", "SERVER_PROTOCOL=HTTP/1.1\n", "body=0:"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("h2=%v: core saw\n%s\nlacking %q", h2, body, want)
			}
		}
		if strings.Contains(string(body), "HTTP_CONNECTION") || strings.Contains(string(body), "HTTP_TRANSFER_ENCODING") {
			t.Errorf("hop-by-hop header forwarded:\n%s", body)
		}
	}
	if got := e.srv.Handoffs(); got != 2 {
		t.Errorf("handoffs %d", got)
	}
	core.mu.Lock()
	defer core.mu.Unlock()
	for _, s := range core.reqs {
		if !s.https || s.remote != "127.0.0.1" {
			t.Errorf("handoff args https=%v remote=%q", s.https, s.remote)
		}
	}
}

func TestTLS13ByDefault(t *testing.T) {
	e := start(t, &fakeCore{}, nil)
	c := e.dialTLS(t)
	defer c.Close()
	must(t, c.Handshake())
	if v := c.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Errorf("negotiated %x, want TLS 1.3", v)
	}
	// TLS 1.1 is refused.
	old, err := tls.Dial("tcp", e.addr, &tls.Config{RootCAs: e.ca.pool, MaxVersion: tls.VersionTLS11})
	if err == nil {
		old.Close()
		t.Errorf("TLS 1.1 handshake accepted")
	}
}

func TestBodies(t *testing.T) {
	core := &fakeCore{}
	e := start(t, core, func(c *Config) { c.MemBody = 64 << 10; c.MaxBody = 8 << 20 })
	big := bytes.Repeat([]byte("0123456789abcdef"), 200<<10/16*10) // 2 MB: spills to a temp file
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:8]) }
	cases := []struct {
		name    string
		h2      bool
		body    []byte
		chunked bool
	}{
		{"small h1", false, []byte("hello"), false},
		{"chunked h1 decoded", false, []byte("chunked body"), true},
		{"large h1 spilled", false, big, false},
		{"h2 without length", true, []byte("h2 body"), true},
		{"large h2", true, big, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var rd io.Reader = bytes.NewReader(c.body)
			if c.chunked {
				rd = io.MultiReader(rd) // hides the length: sent chunked / without content-length
			}
			req, _ := http.NewRequest("POST", "https://"+e.addr+"/upload", rd)
			resp, err := e.client(c.h2).Do(req)
			must(t, err)
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := fmt.Sprintf("CONTENT_LENGTH=%d\n", len(c.body))
			if !strings.Contains(string(out), want) || !strings.Contains(string(out), fmt.Sprintf("body=%d:%s", len(c.body), sum(c.body))) {
				t.Errorf("core saw\n%s\nwant %q and the body hash", out, want)
			}
		})
	}
	// Over MaxBody: 413 from the front, nothing handed to a core.
	before := e.srv.Handoffs()
	req, _ := http.NewRequest("POST", "https://"+e.addr+"/upload", bytes.NewReader(make([]byte, 9<<20)))
	resp, err := e.client(false).Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 413 || e.srv.Handoffs() != before {
		t.Errorf("too large: %d, handoffs %d -> %d", resp.StatusCode, before, e.srv.Handoffs())
	}
}

func TestRequestSmuggling(t *testing.T) {
	core := &fakeCore{}
	e := start(t, core, nil)
	cases := []struct {
		name, raw string
		status    string // expected status line prefix of the first reply
	}{
		{"CL and TE: TE wins, body decoded", "POST /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "HTTP/1.1 "},
		{"two different Content-Length", "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde", "HTTP/1.1 400"},
		{"bad chunk size", "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", ""},
		// net/http unfolds obs-fold into one space (RFC 9112 §5.2 allows
		// it), so no line break ever reaches the core.
		{"obsolete line folding", "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-A: a\r\n b\r\n\r\n", "HTTP/1.1 200"},
		{"space before colon", "GET /e HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nabcde", "HTTP/1.1 400"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn := e.dialTLS(t)
			defer conn.Close()
			_, err := conn.Write([]byte(c.raw))
			must(t, err)
			reply, _ := io.ReadAll(io.LimitReader(conn, 1<<16))
			if c.status != "" && !strings.HasPrefix(string(reply), c.status) {
				t.Errorf("reply %q, want %q...", reply, c.status)
			}
		})
	}
	core.mu.Lock()
	defer core.mu.Unlock()
	for _, s := range core.reqs {
		if strings.ContainsAny(s.vars["HTTP_X_A"], "\r\n") {
			t.Errorf("folded header reached the core with a line break: %q", s.vars["HTTP_X_A"])
		}
		if s.vars["HTTP_TRANSFER_ENCODING"] != "" || int64(len(s.body)) != s.req.ContentLength {
			t.Errorf("core got an ambiguous request:\n%q body %q", s.head, s.body)
		}
		if s.vars["REQUEST_URI"] != "/a" {
			t.Errorf("core got %s, which the front should have refused", s.vars["REQUEST_URI"])
		}
	}
}

func TestHeaderLimits(t *testing.T) {
	core := &fakeCore{}
	e := start(t, core, func(c *Config) { c.MaxHeaderBytes = 2048 })
	req, _ := http.NewRequest("GET", "https://"+e.addr+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 8192))
	resp, err := e.client(false).Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || core.count() != 0 {
		t.Errorf("oversized head: %d, core requests %d", resp.StatusCode, core.count())
	}
}

func TestSlowClientsNeverReachACore(t *testing.T) {
	core := &fakeCore{}
	e := start(t, core, func(c *Config) { c.HeaderTimeout = 500 * time.Millisecond; c.BodyTimeout = 500 * time.Millisecond })
	slowHead := e.dialTLS(t)
	defer slowHead.Close()
	_, err := slowHead.Write([]byte("GET /slow HTTP/1.1\r\nHost: x\r\n"))
	must(t, err)
	slowBody := e.dialTLS(t)
	defer slowBody.Close()
	_, err = slowBody.Write([]byte("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"))
	must(t, err)
	// Meanwhile a normal client is served.
	resp, err := e.client(false).Get("https://" + e.addr + "/fast")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("normal client: %d", resp.StatusCode)
	}
	for _, c := range []*tls.Conn{slowHead, slowBody} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		t0 := time.Now()
		b, _ := io.ReadAll(c)
		if time.Since(t0) > 4*time.Second {
			t.Errorf("slow client not cut off by the timeout (got %q)", b)
		}
	}
	if n := core.count(); n != 1 {
		t.Errorf("cores saw %d requests, want only the normal one", n)
	}
}

func TestSlowReaderReleasesCore(t *testing.T) {
	core := &fakeCore{done: make(chan time.Time, 1)}
	payload := bytes.Repeat([]byte("x"), 3<<20)
	core.respond = func(s *seen, w io.Writer) {
		fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(payload))
		w.Write(payload)
	}
	e := start(t, core, nil)
	conn := e.dialTLS(t)
	defer conn.Close()
	_, err := conn.Write([]byte("GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
	must(t, err)
	// The client reads nothing; the core must still finish its write.
	select {
	case <-core.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the core is still writing to a client that does not read")
	}
	got, err := io.ReadAll(io.LimitReader(conn, int64(len(payload))+4096))
	if err != nil && !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("read: %v", err)
	}
	if !bytes.HasSuffix(got, payload[:1024]) || !bytes.Contains(got, []byte("Content-Length: "+strconv.Itoa(len(payload)))) {
		t.Errorf("relayed %d bytes", len(got))
	}
}

func TestCoreClosesWithoutAnswer(t *testing.T) {
	var answer atomic.Bool
	core := &fakeCore{respond: func(s *seen, w io.Writer) {
		if answer.Load() {
			echo(s, w)
		}
	}}
	e := start(t, core, nil)
	_, err := e.client(false).Get("https://" + e.addr + "/")
	if err == nil {
		t.Errorf("want a closed connection when the core answers nothing")
	}
	// The front keeps serving.
	answer.Store(true)
	resp, err := e.client(true).Get("https://" + e.addr + "/again")
	must(t, err)
	resp.Body.Close()
}

func TestStreamingResponseIsFlushed(t *testing.T) {
	release := make(chan struct{})
	core := &fakeCore{respond: func(s *seen, w io.Writer) {
		io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nfirst\n")
		<-release
		io.WriteString(w, "second\n")
	}}
	e := start(t, core, nil)
	resp, err := e.client(false).Get("https://" + e.addr + "/events")
	must(t, err)
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	close(release)
	if err != nil || line != "first\n" {
		t.Errorf("first event not flushed: %q %v", line, err)
	}
}

func TestInvalidHandshakeLogged(t *testing.T) {
	e := start(t, &fakeCore{}, nil)
	c, err := net.Dial("tcp", e.addr)
	must(t, err)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) // plain HTTP on the TLS port
	reply, _ := io.ReadAll(c)
	c.Close()
	if bytes.Contains(reply, []byte("X-Core")) {
		t.Errorf("plain HTTP reached a core: %q", reply)
	}
	resp, err := e.client(false).Get("https://" + e.addr + "/ok")
	must(t, err)
	resp.Body.Close()
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(e.logs.String(), "TLS handshake error") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(e.logs.String(), "TLS handshake error") {
		t.Errorf("no handshake error logged: %q", e.logs.String())
	}
}

func TestCertificateReload(t *testing.T) {
	e := start(t, &fakeCore{}, nil)
	serial := func() int64 {
		c := e.dialTLS(t)
		defer c.Close()
		must(t, c.Handshake())
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if s := serial(); s != 2 {
		t.Fatalf("serial %d", s)
	}
	crt, key := e.ca.issue(t, t.TempDir(), "renewed", 3, false)
	cb, _ := os.ReadFile(crt)
	kb, _ := os.ReadFile(key)
	must(t, os.WriteFile(e.srv.cfg.Spec.CertFile, cb, 0o600))
	must(t, os.WriteFile(e.srv.cfg.Spec.KeyFile, kb, 0o600))
	must(t, e.srv.Reload())
	if s := serial(); s != 3 {
		t.Errorf("after reload: serial %d, want 3", s)
	}
	// A broken file keeps the old certificate.
	must(t, os.WriteFile(e.srv.cfg.Spec.KeyFile, []byte("garbage"), 0o600))
	if err := e.srv.Reload(); err == nil {
		t.Errorf("reload of a garbage key succeeded")
	}
	if s := serial(); s != 3 {
		t.Errorf("after failed reload: serial %d", s)
	}
}

func TestClientCertificateRequired(t *testing.T) {
	var ca *testCA
	var caFile string
	e := start(t, &fakeCore{}, func(c *Config) {
		ca = newCA(t)
		caFile = filepath.Join(t.TempDir(), "ca.pem")
		must(t, os.WriteFile(caFile, ca.pem, 0o600))
		c.Spec.ClientCA = "!" + caFile
	})
	if _, err := e.client(false).Get("https://" + e.addr + "/"); err == nil {
		t.Errorf("request without a client certificate accepted")
	}
	crt, key := ca.issue(t, t.TempDir(), "client", 9, true)
	pair, err := tls.LoadX509KeyPair(crt, key)
	must(t, err)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.ca.pool, Certificates: []tls.Certificate{pair}}}}
	resp, err := c.Get("https://" + e.addr + "/")
	must(t, err)
	resp.Body.Close()
}

func TestManyConcurrentRequests(t *testing.T) {
	core := &fakeCore{}
	e := start(t, core, nil)
	var wg sync.WaitGroup
	var failed atomic.Int32
	c := e.client(true)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := c.Get(fmt.Sprintf("https://%s/r%d", e.addr, i))
			if err != nil {
				failed.Add(1)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(b), fmt.Sprintf("GET /r%d\n", i)) {
				failed.Add(1)
			}
		}(i)
	}
	wg.Wait()
	if failed.Load() != 0 || core.count() != 40 {
		t.Errorf("%d failures, %d core requests", failed.Load(), core.count())
	}
}

func TestParseSpec(t *testing.T) { // WP-42
	cases := []struct {
		in   string
		want Spec
		err  bool
	}{
		{"127.0.0.1:8443,a.crt,a.key", Spec{Addr: "127.0.0.1:8443", CertFile: "a.crt", KeyFile: "a.key"}, false},
		{":443,c,k,HIGH,ca.pem", Spec{Addr: ":443", CertFile: "c", KeyFile: "k", Ciphers: "HIGH", ClientCA: "ca.pem"}, false},
		{"=0,c,k,,!ca.pem", Spec{Addr: "=0", CertFile: "c", KeyFile: "k", ClientCA: "!ca.pem"}, false},
		{":443,c,k,A,B,extra", Spec{Addr: ":443", CertFile: "c", KeyFile: "k", Ciphers: "A", ClientCA: "B,extra"}, false},
		{":443,c", Spec{}, true},
		{":443,,k", Spec{}, true},
		{"", Spec{}, true},
	}
	for _, c := range cases {
		got, err := ParseSpec(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("%q: %+v %v", c.in, got, err)
		}
		if err != nil && err.Error() != "invalid https syntax must be socket,crt,key" {
			t.Errorf("%q: message %q", c.in, err)
		}
	}
}

func TestCipherSuites(t *testing.T) {
	ids, unknown := CipherSuites("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:HIGH:!aNULL")
	if len(ids) != 2 || ids[0] != tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 || ids[1] != tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 {
		t.Errorf("ids %x", ids)
	}
	if strings.Join(unknown, ":") != "HIGH:!aNULL" {
		t.Errorf("unknown %q", unknown)
	}
}

func FuzzParseSpec(f *testing.F) {
	f.Add(":443,c,k,HIGH,!ca")
	f.Fuzz(func(t *testing.T, v string) {
		s, err := ParseSpec(v)
		if err != nil {
			return
		}
		if s.Addr == "" || s.CertFile == "" || s.KeyFile == "" || strings.Contains(s.Addr+s.CertFile+s.KeyFile+s.Ciphers, ",") {
			t.Fatalf("%q -> %+v", v, s)
		}
	})
}

func TestClientAddr(t *testing.T) {
	for in, want := range map[string][2]string{
		"127.0.0.1:5000":         {"127.0.0.1", "5000"},
		"[::ffff:10.0.0.1]:443":  {"10.0.0.1", "443"},
		"[2001:db8::1]:80":       {"2001:db8::1", "80"},
		"not-an-address":         {"not-an-address", ""},
		"[fe80::1%eth0]:1234":    {"fe80::1%eth0", "1234"},
		"example.invalid:8080":   {"example.invalid", "8080"},
		"[::ffff:127.0.0.1]:999": {"127.0.0.1", "999"},
	} {
		ip, port := clientAddr(in)
		if ip != want[0] || port != want[1] {
			t.Errorf("%q: %q %q, want %q", in, ip, port, want)
		}
	}
}

func TestAppendRequestHead(t *testing.T) {
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(
		"POST /a%20b?x=1 HTTP/1.1\r\nHost: h.example\r\nX-B: 2\r\nX-A: 1\r\nX-A: 3\r\nConnection: keep-alive, X-B\r\n" +
			"Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n")))
	must(t, err)
	got := string(appendRequestHead(nil, r, 11))
	// X-B is named by Connection: hop-by-hop, not forwarded.
	want := "POST /a%20b?x=1 HTTP/1.1\r\nHost: h.example\r\nX-A: 1\r\nX-A: 3\r\nContent-Length: 11\r\n\r\n"
	if got != want {
		t.Errorf("head\n got %q\nwant %q", got, want)
	}
	r10, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET / HTTP/1.0\r\n\r\n")))
	must(t, err)
	if got := string(appendRequestHead(nil, r10, 0)); got != "GET / HTTP/1.0\r\n\r\n" {
		t.Errorf("HTTP/1.0 head %q", got)
	}
}

// A client that never reads a response larger than the spool is cut off
// after BodyTimeout: the relay and the core are both released.
func TestStalledReaderCutOff(t *testing.T) {
	core := &fakeCore{done: make(chan time.Time, 1)}
	payload := bytes.Repeat([]byte("y"), 16<<20)
	core.respond = func(s *seen, w io.Writer) {
		fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(payload))
		w.Write(payload) // fails once the front gives up
	}
	e := start(t, core, func(c *Config) { c.BodyTimeout = 300 * time.Millisecond; c.SpoolBytes = 64 << 10 })
	conn := e.dialTLS(t)
	defer conn.Close()
	_, err := conn.Write([]byte("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"))
	must(t, err)
	select {
	case <-core.done:
	case <-time.After(8 * time.Second):
		t.Fatal("core still writing to a stalled client")
	}
	// The server still serves others.
	resp, err := e.client(true).Get("https://" + e.addr + "/after")
	must(t, err)
	resp.Body.Close()
}

func TestIsWebsocketUpgrade(t *testing.T) {
	cases := []struct {
		proto       string
		conn, upgr  string
		wantUpgrade bool
	}{
		{"HTTP/1.1", "Upgrade", "websocket", true},
		{"HTTP/1.1", "keep-alive, Upgrade", "WebSocket", true},
		{"HTTP/1.1", "keep-alive", "websocket", false},
		{"HTTP/1.1", "Upgrade", "h2c", false},
		{"HTTP/1.0", "Upgrade", "websocket", false},
		{"HTTP/2.0", "Upgrade", "websocket", false},
	}
	for _, c := range cases {
		r, _ := http.NewRequest("GET", "https://x/ws", nil)
		r.Proto = c.proto
		r.ProtoMajor, r.ProtoMinor, _ = http.ParseHTTPVersion(c.proto)
		r.Header.Set("Connection", c.conn)
		r.Header.Set("Upgrade", c.upgr)
		if got := isWebsocketUpgrade(r); got != c.wantUpgrade {
			t.Errorf("%s Connection: %q Upgrade: %q: got %v, want %v", c.proto, c.conn, c.upgr, got, c.wantUpgrade)
		}
	}
}
