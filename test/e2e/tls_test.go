package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Curl is the client of the TLS scenarios (Debian's curl, built with
// HTTP/2 support).
const Curl = "/usr/bin/curl"

// tlsCA is a certificate authority generated for one test.
type tlsCA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	pool   *x509.CertPool
	pemCrt string // path of the CA certificate (curl --cacert)
}

func newTLSCA(t *testing.T, dir string) *tlsCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("CA key: %v", err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("CA cert: %v", err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	p := filepath.Join(dir, "ca.pem")
	writePEM(t, p, "CERTIFICATE", der)
	return &tlsCA{cert: cert, key: key, pool: pool, pemCrt: p}
}

// issue writes a server certificate for 127.0.0.1 with the given serial
// to crt/key.
func (ca *tlsCA) issue(t *testing.T, crt, key string, serial int64) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("key: %v", err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &k.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("cert: %v", err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	writePEM(t, crt, "CERTIFICATE", der)
	writePEM(t, key, "EC PRIVATE KEY", kder)
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

// curlResult is what one curl run reports.
type curlResult struct {
	Status  int
	Version string // %{http_version}: "1.1", "2"
	Headers string // the response head curl received
	Body    string
}

// runCurl fetches url with the test CA, bounded in time.
func runCurl(t *testing.T, ca *tlsCA, url string, extra ...string) curlResult {
	t.Helper()
	RequireTools(t, Curl)
	dir := t.TempDir()
	headers := filepath.Join(dir, "headers")
	ctx, cancel := context.WithTimeout(context.Background(), RequestTimeout)
	defer cancel()
	args := append([]string{"-sS", "--cacert", ca.pemCrt, "-D", headers, "-o", filepath.Join(dir, "body"),
		"-w", "%{http_code} %{http_version}", "--max-time", "10"}, extra...)
	args = append(args, url)
	cmd := exec.CommandContext(ctx, Curl, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl %q: %v\n%s", args, err, out)
	}
	var r curlResult
	f := strings.Fields(string(out))
	if len(f) != 2 {
		t.Fatalf("curl -w output %q", out)
	}
	r.Version = f[1]
	var err2 error
	if r.Status, err2 = strconv.Atoi(f[0]); err2 != nil {
		t.Fatalf("curl status %q: %v", f[0], err2)
	}
	h, _ := os.ReadFile(headers)
	b, _ := os.ReadFile(filepath.Join(dir, "body"))
	r.Headers, r.Body = string(h), string(b)
	return r
}

// headerValue returns the first value of name in a raw response head.
func headerValue(head, name string) string {
	for _, l := range strings.Split(head, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// tlsServer starts an implementation with an https-socket and returns
// its address and the certificate paths.
func tlsServer(t *testing.T, e *Env, ca *tlsCA, extra ...string) (addr, crt, key string) {
	t.Helper()
	dir := e.Vars["dir"]
	crt, key = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	ca.issue(t, crt, key, 100)
	addr = e.Addr("http")
	args := append([]string{"--plugin", "python3", "--master", "--processes", "1",
		"--https-socket", addr + "," + crt + "," + key, "--wsgi-file", filepath.Join(e.Vars["apps"], "router.py")}, extra...)
	e.Srv = Start(t, e.Impl.Name, e.Impl.Bin, args, StartOptions{Dir: dir})
	return addr, crt, key
}

// peerSerial handshakes with addr and returns the server certificate
// serial and the TLS version.
func peerSerial(t *testing.T, ca *tlsCA, addr string) (int64, uint16) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: ca.pool})
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	defer c.Close()
	st := c.ConnectionState()
	return st.PeerCertificates[0].SerialNumber.Int64(), st.Version
}

// TestHTTPSSocket: WP-29 (https-socket sets HTTPS=on), PY-22 (url scheme),
// TLS 1.3 by default, bad handshakes leave other clients served.
func TestHTTPSSocket(t *testing.T) {
	ca := newTLSCA(t, t.TempDir())
	Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
		addr, _, _ := tlsServer(t, e, ca)
		type result struct {
			Status  int
			Version string
			Type    string
			Environ map[string]any
			Hello   string
			Post    string
			LogLine string
			TLS13   bool
			Garbage string
		}
		var res result
		r := runCurl(t, ca, "https://"+addr+"/env?x=1", "--http1.1")
		res.Status, res.Version, res.Type = r.Status, r.Version, headerValue(r.Headers, "Content-Type")
		res.Environ = DecodeEnviron(t, []byte(r.Body))
		for k, want := range map[string]string{"HTTPS": "on", "wsgi.url_scheme": "https", "REQUEST_URI": "/env?x=1"} {
			if res.Environ[k] != want {
				t.Errorf("environ %s = %v, want %q", k, res.Environ[k], want)
			}
		}
		lines := e.Srv.WaitLogCount(t, reqLineRE.String(), 1, RequestTimeout)
		res.LogLine = NormaliseSwitches(NormaliseRequestLine(lines[0][0]))
		res.Hello = runCurl(t, ca, "https://"+addr+"/hello", "--http1.1").Body
		// A POST body reaches the app through wsgi.input.
		res.Post = runCurl(t, ca, "https://"+addr+"/post_echo?mode=read", "--http1.1", "--data-binary", "tls body").Body
		_, v := peerSerial(t, ca, addr)
		res.TLS13 = v == tls.VersionTLS13
		// Plain HTTP on the TLS port: no reply from the app, and the
		// server keeps serving.
		raw, err := RawExchange(addr, []byte(Get("/hello")))
		if err != nil {
			t.Fatalf("plain request on the TLS port: %v", err)
		}
		if strings.Contains(string(raw), "Hello, World!") {
			t.Errorf("plain HTTP reached the app: %q", raw)
		}
		res.Garbage = runCurl(t, ca, "https://"+addr+"/hello", "--http1.1").Body
		if e.Impl.Name == "gosgi" {
			// HTTP/2 through ALPN: gosgi only (uWSGI's https-socket
			// speaks HTTP/1.1), and the same app answer.
			h2 := runCurl(t, ca, "https://"+addr+"/hello", "--http2")
			if h2.Version != "2" || h2.Body != "Hello, World!\n" {
				t.Errorf("HTTP/2: version %q body %q", h2.Version, h2.Body)
			}
		}
		return res
	})
}

// TestHTTPSCertificateReload: a graceful reload (SIGHUP) picks up renewed
// certificate files (PM-20: uWSGI re-reads them when it re-executes).
func TestHTTPSCertificateReload(t *testing.T) {
	ca := newTLSCA(t, t.TempDir())
	Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
		addr, crt, key := tlsServer(t, e, ca)
		before, _ := peerSerial(t, ca, addr)
		ca.issue(t, crt, key, 101)
		e.Srv.Signal(t, syscall.SIGHUP)
		deadline := time.Now().Add(StartTimeout)
		after := before
		for after == before && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{RootCAs: ca.pool})
			if err != nil {
				continue // the listener may be between two workers
			}
			after = c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
			c.Close()
		}
		body := runCurl(t, ca, "https://"+addr+"/hello", "--http1.1").Body
		return []any{before, after, body}
	})
}
