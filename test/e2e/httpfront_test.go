package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http/httputil"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// postBufferingArgs serves testdata/apps/postbuffer.py on an http-socket and
// a uwsgi socket; bodies from 4096 bytes on are buffered to a file, smaller
// ones in memory.
var postBufferingArgs = []string{
	"--plugin", "python3", "--master", "--processes", "1",
	"--http-socket", "{http}", "--socket", "{sock}", "--wsgi-file", "{apps}/postbuffer.py",
	"--post-buffering", "4096", "--socket-timeout", "2",
}

// testBody is n bytes of lines of varying length, the same on every run.
func testBody(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %d %s\n", i, strings.Repeat(string(rune('a'+i%26)), i%97))
	}
	return b.String()[:n]
}

// postRequest is a POST of body to target; split sends the head alone
// first, so the body reaches the server after the head was read.
type postRequest struct {
	target string
	body   string
	split  bool
}

// exchangeSplit sends head, then body on the same connection, and reads the
// reply until the server closes.
func exchangeSplit(addr string, head, body []byte) ([]byte, error) {
	c, err := Dial(addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(RequestTimeout))
	if _, err := c.Write(head); err != nil {
		return nil, fmt.Errorf("write head: %w", err)
	}
	if _, err := c.Write(body); err != nil && !isReset(err) {
		return nil, fmt.Errorf("write body: %w", err)
	}
	return io.ReadAll(c)
}

// TestPostBufferingBodies: with post-buffering, bodies below, at and above
// the limit (memory, then a temporary file, in several chunks) reach the
// app byte for byte as with uWSGI, and wsgi.input reads, seeks, tells and
// iterates the same way (PY-26), over HTTP and the uwsgi protocol.
func TestPostBufferingBodies(t *testing.T) {
	sizes := []int{0, 100, 4095, 4096, 4097, 300000}
	ops := []string{"sum", "chunks&n=1000", "seek", "lines", "iter"}
	type result struct {
		Name    string
		Reply   Summary
		LogLine string
	}
	Differential(t, Setup{Args: postBufferingArgs}, func(t *testing.T, e *Env) any {
		var out []result
		for _, size := range sizes {
			body := testBody(size)
			for i, op := range ops {
				name := fmt.Sprintf("http_%d_%s", size, op)
				req := Request("POST", "/?op="+op, body, "Content-Type: application/octet-stream")
				head, rest, _ := strings.Cut(req, "\r\n\r\n")
				var raw []byte
				var err error
				if i%2 == 1 { // half the cases send the body after the head
					raw, err = exchangeSplit(e.Addr("http"), []byte(head+"\r\n\r\n"), []byte(rest))
				} else {
					raw, err = RawExchange(e.Addr("http"), []byte(req))
				}
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				r, err := ParseResponse(raw)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if r.StatusLine != "HTTP/1.1 200 OK" {
					t.Errorf("%s: status %q", name, r.StatusLine)
				}
				out = append(out, result{Name: name, Reply: Summarise(r, "Date")})
			}
		}
		for _, size := range []int{100, 70000} { // uwsgi protocol: memory and file
			vars := append(BasicUwsgiVars("/"), [2]string{"CONTENT_LENGTH", fmt.Sprint(size)})
			vars[0][1], vars[3][1] = "POST", "op=seek"
			raw, err := RawExchange("unix:"+e.Addr("sock"), UwsgiPacket(vars, testBody(size)))
			if err != nil {
				t.Fatalf("uwsgi %d: %v", size, err)
			}
			r, err := ParseResponse(raw)
			if err != nil {
				t.Fatalf("uwsgi %d: %v", size, err)
			}
			out = append(out, result{Name: fmt.Sprintf("uwsgi_%d_seek", size), Reply: Summarise(r, "Date")})
		}
		// The request lines too: the body read before the app changes none.
		lines := e.Srv.WaitLogCount(t, reqLineRE.String(), len(out), RequestTimeout)
		for i := range out {
			out[i].LogLine = NormaliseSwitches(NormaliseRequestLine(lines[i][0]))
		}
		return out
	})
}

// TestPostBufferingKeepAlive: on a kept-alive http11-socket connection,
// each request's body is buffered on its own: large bodies read by the Go
// side, then a small one, then none, all reach the app whole.
func TestPostBufferingKeepAlive(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--processes", "1", "--http11-socket", "{http}",
		"--wsgi-file", "{apps}/postbuffer.py", "--post-buffering", "4096", "--socket-timeout", "10"}
	post := func(size int) string {
		return fmt.Sprintf("POST /?op=seek HTTP/1.1\r\nHost: e2e.test\r\nContent-Length: %d\r\n\r\n%s", size, testBody(size))
	}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		return converse(t, e.Addr("http"), post(200000), post(300000), post(100),
			"GET /?op=sum HTTP/1.1\r\nHost: e2e.test\r\n\r\n")
	})
}

// TestPostBufferingClientFailures: a client too slow or gone while its body
// is buffered gets no answer; the log says why as uWSGI does (PY-27) and
// the request line shows a 500 that no app served. A hang-up races with
// the server's first read of the body: seen at once it is an error without
// a wait ("0 switches"), seen after a wait uWSGI words it as a timeout for
// a body in memory; either is accepted, the same way for both servers.
func TestPostBufferingClientFailures(t *testing.T) {
	const (
		memTimeout  = "[uwsgi-body-read] Timeout reading 90 bytes. Content-Length: 100 consumed: 0 left: 100"
		memHangup   = "[uwsgi-body-read] Error reading 90 bytes. Content-Length: 100 consumed: 0 left: 100 message: Client closed connection"
		fileTimeout = "[uwsgi-body-read] Timeout reading 4096 bytes. Content-Length: 30000 consumed: 0 left: 30000"
		fileHangup  = "[uwsgi-body-read] Error reading 4096 bytes. Content-Length: 30000 consumed: 0 left: 30000 message: Client closed connection"
	)
	cases := []struct {
		name     string
		cl       int
		hangUp   bool     // close after the first bytes instead of stalling
		messages []string // the log gains one of these
	}{
		{"memory_timeout", 100, false, []string{memTimeout}},
		{"memory_hangup", 100, true, []string{memHangup, memTimeout}},
		{"file_timeout", 30000, false, []string{fileTimeout}},
		{"file_hangup", 30000, true, []string{fileHangup}},
	}
	args := append(append([]string(nil), postBufferingArgs...), "--socket-timeout", "1")
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		var out []string
		for i, c := range cases {
			before := len(e.Srv.Log())
			conn, err := Dial(e.Addr("http"))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "POST /?op=sum HTTP/1.0\r\nContent-Length: %d\r\n\r\n0123456789", c.cl)
			if c.hangUp {
				conn.Close()
			}
			lines := e.Srv.WaitLogCount(t, reqLineRE.String(), i+1, RequestTimeout)
			conn.Close()
			logged := e.Srv.Log()[before:]
			found := ""
			for _, m := range c.messages {
				if LogHasLine(logged, m) {
					found = m
				}
			}
			if found == "" {
				t.Errorf("%s: log lacks any of %q:\n%s", c.name, c.messages, logged)
			}
			line := NormaliseRequestLine(lines[i][0])
			wantSwitches := "(1 switches"
			if strings.Contains(found, "Client closed") {
				wantSwitches = "(0 switches" // seen at once, or after one wait
				if strings.Contains(line, "(1 switches") {
					wantSwitches = "(1 switches"
				}
			}
			if !strings.Contains(line, wantSwitches) {
				t.Errorf("%s: request line %q, want %q", c.name, line, wantSwitches)
			}
			out = append(out, c.name+": "+NormaliseSwitches(line))
		}
		return out
	})
}

// TestPostBufferingSlowUpload: on one worker with one core, an upload that
// trickles in does not hold the core: a plain request is answered while the
// upload is still unanswered, then the upload completes with every byte.
// gosgi only: uWSGI reads the body on the worker, so the plain request would
// wait for the upload (the reason for post-buffering in gosgi, DESIGN §3).
func TestPostBufferingSlowUpload(t *testing.T) {
	for _, size := range []int{1000, 20000} { // memory and file
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			// A long socket-timeout: the upload stalls while the plain
			// request is served.
			args := append(append([]string(nil), postBufferingArgs...), "--socket-timeout", "60")
			e := gosgiEnv(t, args)
			body := testBody(size)
			upload, err := Dial(e.Addr("http"))
			if err != nil {
				t.Fatal(err)
			}
			defer upload.Close()
			fmt.Fprintf(upload, "POST /?op=sum HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s", size, body[:10])

			plain := Do(t, e.Addr("http"), Get("/?op=sum"))
			if plain.StatusLine != "HTTP/1.1 200 OK" || !strings.Contains(string(plain.Body), `"0:`) {
				t.Fatalf("plain request during the upload: %q %q", plain.StatusLine, plain.Body)
			}
			// The upload cannot have been answered: its body is incomplete.
			upload.SetReadDeadline(time.Now())
			if n, err := upload.Read(make([]byte, 1)); n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("upload answered before its body was complete: n=%d err=%v", n, err)
			}
			upload.SetDeadline(time.Now().Add(RequestTimeout))
			if _, err := io.WriteString(upload, body[10:]); err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(upload)
			if err != nil {
				t.Fatal(err)
			}
			r, err := ParseResponse(raw)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte(body))
			want := fmt.Sprintf(`[["read", "%d:%s"], ["again", 0]]`, size, hex.EncodeToString(sum[:])[:16])
			if string(r.Body) != want {
				t.Errorf("upload reply %q, want %q", r.Body, want)
			}
		})
	}
}

// routerBase serves testdata/apps/respshape.py on the http router address
// (uWSGI's http plugin) with one worker.
var routerBase = []string{
	"--plugin", "python3,http", "--master", "--processes", "1",
	"--http", "{http}", "--wsgi-file", "{apps}/respshape.py",
}

// varsBytesRE is the size of the variable block in a request line: on the
// router it holds REMOTE_PORT, whose length varies with the client's port.
var varsBytesRE = regexp.MustCompile(`vars in \d+ bytes`)

// routerLogLine normalises a request line of the http router.
func routerLogLine(l string) string {
	return varsBytesRE.ReplaceAllString(NormaliseSwitches(NormaliseRequestLine(l)), "vars in <B> bytes")
}

// exchange is what one request on a kept connection got: the reply as
// sent, its body with any chunking undone, or that the server had closed.
type exchange struct {
	Request string
	Status  string      `json:",omitempty"`
	Headers [][2]string `json:",omitempty"`
	Body    string      `json:",omitempty"`
	Closed  bool        `json:",omitempty"`
}

// converse sends reqs one after the other on one connection, reading each
// reply in full (by Content-Length, chunks or the server closing). A reply
// delimited by the server closing ends the conversation.
func converse(t *testing.T, addr string, reqs ...string) []exchange {
	t.Helper()
	c, err := Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(RequestTimeout))
	br := bufio.NewReader(c)
	var out []exchange
	for _, req := range reqs {
		x := exchange{Request: strings.SplitN(req, "\r\n", 2)[0]}
		if _, err := io.WriteString(c, req); err != nil {
			x.Closed = true
			out = append(out, x)
			break
		}
		head, err := readHead(br)
		if err != nil {
			x.Closed = true
			out = append(out, x)
			break
		}
		r, err := parseHead(head)
		if err != nil {
			t.Fatalf("%s: %v", x.Request, err)
		}
		x.Status, x.Headers = r.StatusLine, r.Headers
		body, closed, err := readBody(br, r)
		if err != nil {
			t.Fatalf("%s: body: %v", x.Request, err)
		}
		x.Body = string(body)
		out = append(out, x)
		if closed {
			out = append(out, exchange{Closed: true})
			break
		}
	}
	return out
}

// readHead reads a reply head up to its blank line.
func readHead(br *bufio.Reader) ([]byte, error) {
	var head []byte
	for {
		line, err := br.ReadBytes('\n')
		head = append(head, line...)
		if err != nil {
			return nil, err
		}
		if string(line) == "\r\n" {
			return head, nil
		}
	}
}

// parseHead parses a reply head alone (ParseResponse would also decode a
// chunked body, which is not there yet).
func parseHead(head []byte) (*Response, error) {
	lines := strings.Split(strings.TrimSuffix(string(head), "\r\n\r\n"), "\r\n")
	r := &Response{StatusLine: lines[0], Raw: head}
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("malformed header line %q", l)
		}
		r.Headers = append(r.Headers, [2]string{name, strings.TrimPrefix(value, " ")})
	}
	return r, nil
}

// readBody reads the body of r as its headers delimit it; closed tells
// that the server closed the connection to end it.
func readBody(br *bufio.Reader, r *Response) (body []byte, closed bool, err error) {
	if cl := r.Header("Content-Length"); len(cl) == 1 {
		n, err := strconv.Atoi(cl[0])
		if err != nil {
			return nil, false, err
		}
		body = make([]byte, n)
		_, err = io.ReadFull(br, body)
		return body, false, err
	}
	if te := r.Header("Transfer-Encoding"); len(te) == 1 && strings.EqualFold(te[0], "chunked") {
		body, err = io.ReadAll(httputil.NewChunkedReader(br))
		if err != nil {
			return nil, false, err
		}
		_, err = readHead(br) // the empty trailer
		return body, false, err
	}
	body, err = io.ReadAll(br)
	return body, true, err
}

// TestRouterKeepalive: the http router keeps HTTP/1.1 connections only
// with http-keepalive; a response without Content-Length then closes the
// connection with "Connection: close", or with http-auto-chunked is sent
// chunked and the connection kept. HTTP/1.0 clients are never kept.
func TestRouterKeepalive(t *testing.T) {
	get := func(target, proto string, headers ...string) string {
		return "GET " + target + " " + proto + "\r\nHost: e2e.test\r\n" + strings.Join(append(headers, ""), "\r\n") + "\r\n"
	}
	conversations := []struct {
		name string
		reqs []string
	}{
		{"cl_then_cl", []string{get("/?cl=1", "HTTP/1.1"), get("/?cl=1", "HTTP/1.1")}},
		{"no_cl_then_cl", []string{get("/?parts=1", "HTTP/1.1"), get("/?cl=1", "HTTP/1.1")}},
		{"close_requested", []string{get("/?cl=1", "HTTP/1.1", "Connection: close"), get("/?cl=1", "HTTP/1.1")}},
		{"http10_keepalive_asked", []string{get("/?cl=1", "HTTP/1.0", "Connection: Keep-Alive"), get("/?cl=1", "HTTP/1.1")}},
	}
	configs := []struct {
		name  string
		extra []string
	}{
		{"default", nil},
		{"keepalive", []string{"--http-keepalive"}},
		{"keepalive_autochunked", []string{"--http-keepalive", "--http-auto-chunked"}},
		{"autochunked_alone", []string{"--http-auto-chunked"}},
	}
	for _, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			args := append(append([]string(nil), routerBase...), cfg.extra...)
			Differential(t, Setup{Args: args, Ready: `spawned uWSGI worker 1 `}, func(t *testing.T, e *Env) any {
				out := map[string][]exchange{}
				for _, c := range conversations {
					out[c.name] = converse(t, e.Addr("http"), c.reqs...)
				}
				return out
			})
		})
	}
}

// TestRouterAutoGzip: with http-auto-gzip the router gzips (chunked) a
// body the app marked uWSGI-Encoding: gzip, when the client accepts gzip
// and the app set no Content-Length; the marker header stays, as uWSGI
// leaves it. The request log counts the app's headers and bytes.
func TestRouterAutoGzip(t *testing.T) {
	cases := []struct{ name, req string }{
		{"marked_accepted", "GET /?gzip=1&rep=50 HTTP/1.1\r\nHost: e2e.test\r\nAccept-Encoding: gzip, deflate\r\nConnection: close\r\n\r\n"},
		{"marked_streamed", "GET /?gzip=1&parts=1 HTTP/1.1\r\nHost: e2e.test\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"},
		{"marked_not_accepted", "GET /?gzip=1 HTTP/1.1\r\nHost: e2e.test\r\nConnection: close\r\n\r\n"},
		{"marked_with_length", "GET /?gzip=1&cl=1 HTTP/1.1\r\nHost: e2e.test\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"},
		{"marked_http10", "GET /?gzip=1 HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n"},
		{"not_marked", "GET /?rep=3 HTTP/1.1\r\nHost: e2e.test\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"},
	}
	type result struct {
		Name, Status, Body, LogLine string
		Headers                     [][2]string
	}
	args := append(append([]string(nil), routerBase...), "--http-auto-gzip")
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		var out []result
		for i, c := range cases {
			r := Do(t, e.Addr("http"), c.req) // undoes the chunking
			body := r.Body
			if ce := r.Header("Content-Encoding"); len(ce) == 1 && ce[0] == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatalf("%s: gunzip: %v", c.name, err)
				}
			}
			lines := e.Srv.WaitLogCount(t, reqLineRE.String(), i+1, RequestTimeout)
			out = append(out, result{Name: c.name, Status: r.StatusLine, Headers: r.Headers, Body: string(body),
				LogLine: routerLogLine(lines[i][0])})
		}
		return out
	})
}

// TestDelHeader: del-header drops app response headers whatever their case,
// on http-socket and on the router, but not those add-header adds; the log
// line counts what was sent.
func TestDelHeader(t *testing.T) {
	for _, front := range []string{"--http-socket", "--http"} {
		t.Run(strings.TrimPrefix(front, "--"), func(t *testing.T) {
			args := []string{"--plugin", "python3,http", "--master", "--processes", "1", front, "{http}",
				"--wsgi-file", "{apps}/respshape.py", "--del-header", "X-BAR", "--del-header", "content-type",
				"--add-header", "X-Added: 1", "--del-header", "X-Added", "--del-header", "X-F"}
			Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
				r := Do(t, e.Addr("http"), "GET /?cl=1 HTTP/1.1\r\nHost: e2e.test\r\nConnection: close\r\n\r\n")
				lines := e.Srv.WaitLogCount(t, reqLineRE.String(), 1, RequestTimeout)
				return []any{Summarise(r, "Date"), routerLogLine(lines[0][0])}
			})
		})
	}
}

// TestRouterTimeout: http-timeout, not socket-timeout, bounds the router's
// waits for a client: a head that never completes and a kept connection
// left idle are both closed by the server (socket-timeout is longer than
// the test waits, so only http-timeout can close them).
func TestRouterTimeout(t *testing.T) {
	args := append(append([]string(nil), routerBase...), "--http-keepalive", "--http-timeout", "1", "--socket-timeout", "60")
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		var out []string
		for _, c := range []struct{ name, req string }{
			{"partial_head", "GET /?cl=1 HTTP/1.1\r\nHost: e2e.test"},
			{"idle_after_reply", "GET /?cl=1 HTTP/1.1\r\nHost: e2e.test\r\n\r\n"},
		} {
			conn, err := Dial(e.Addr("http"))
			if err != nil {
				t.Fatal(err)
			}
			conn.SetDeadline(time.Now().Add(RequestTimeout))
			io.WriteString(conn, c.req)
			got, err := io.ReadAll(conn) // returns once the server closes
			conn.Close()
			if err != nil && !isReset(err) {
				t.Fatalf("%s: the server did not close the connection: %v", c.name, err)
			}
			first, _, _ := strings.Cut(string(got), "\r\n")
			out = append(out, fmt.Sprintf("%s: closed after %q", c.name, first))
		}
		return out
	})
}

// schemeArgs dump the environ on an http-socket, a uwsgi socket and an
// http-socket on a unix path.
var schemeArgs = []string{
	"--plugin", "python3", "--master", "--processes", "1", "--http-socket", "{http}",
	"--socket", "{sock}", "--http-socket", "{sock2}", "--wsgi-file", "{apps}/envdump.py",
}

// schemeCase is one request whose wsgi.url_scheme is looked at: over HTTP
// with extra header lines, or over the uwsgi protocol with extra variables.
type schemeCase struct {
	name    string
	headers []string    // HTTP: extra header lines
	vars    [][2]string // uwsgi: extra variables, in order
	unix    bool        // HTTP on the unix-path http-socket
	remote  string      // uwsgi: REMOTE_ADDR (default 127.0.0.1)
}

// schemeOf sends c and returns the app's wsgi.url_scheme.
func schemeOf(t *testing.T, e *Env, c schemeCase) string {
	t.Helper()
	var r *Response
	if c.vars != nil {
		vars := BasicUwsgiVars("/")
		if c.remote != "" {
			for i := range vars {
				if vars[i][0] == "REMOTE_ADDR" {
					vars[i][1] = c.remote
				}
			}
		}
		raw, err := RawExchange("unix:"+e.Addr("sock"), UwsgiPacket(append(vars, c.vars...), ""))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if r, err = ParseResponse(raw); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	} else {
		addr := e.Addr("http")
		if c.unix {
			addr = "unix:" + e.Addr("sock2")
		}
		r = Do(t, addr, Get("/", c.headers...))
	}
	env := DecodeEnviron(t, r.Body)
	s, _ := env["wsgi.url_scheme"].(string)
	return s
}

// forwardingCases cover what sets the scheme, over HTTP and uwsgi.
var forwardingCases = []schemeCase{
	{name: "http_plain"},
	{name: "http_xfp_https", headers: []string{"X-Forwarded-Proto: https"}},
	{name: "http_xfp_any_value", headers: []string{"X-Forwarded-Proto: weird"}},
	{name: "http_xfssl_on", headers: []string{"X-Forwarded-Ssl: on"}},
	{name: "http_xfp_twice", headers: []string{"X-Forwarded-Proto: one", "X-Forwarded-Proto: two"}},
	{name: "http_https_header_is_not_https", headers: []string{"Https: on"}},
	{name: "unix_http_xfp", headers: []string{"X-Forwarded-Proto: https"}, unix: true},
	{name: "uwsgi_xfp", vars: [][2]string{{"HTTP_X_FORWARDED_PROTO", "https"}}},
	{name: "uwsgi_scheme_then_xfp", vars: [][2]string{{"UWSGI_SCHEME", "a"}, {"HTTP_X_FORWARDED_PROTO", "b"}}},
	{name: "uwsgi_xfp_then_scheme", vars: [][2]string{{"HTTP_X_FORWARDED_PROTO", "b"}, {"UWSGI_SCHEME", "a"}}},
	{name: "uwsgi_xfp_then_empty_scheme", vars: [][2]string{{"HTTP_X_FORWARDED_PROTO", "b"}, {"UWSGI_SCHEME", ""}}},
	{name: "uwsgi_https_on_xfp_http", vars: [][2]string{{"HTTPS", "on"}, {"HTTP_X_FORWARDED_PROTO", "http"}}},
	{name: "uwsgi_xfssl_on", vars: [][2]string{{"HTTP_X_FORWARDED_SSL", "on"}}},
	{name: "uwsgi_https_on", vars: [][2]string{{"HTTPS", "on"}}},
	{name: "uwsgi_xfp_empty", vars: [][2]string{{"HTTP_X_FORWARDED_PROTO", ""}}},
	{name: "uwsgi_xfp_from_remote", vars: [][2]string{{"HTTP_X_FORWARDED_PROTO", "https"}}, remote: "192.0.2.5"},
}

// TestForwardedSchemeDefault: without trusted-proxy, any request sets
// wsgi.url_scheme with X-Forwarded-Proto (verbatim) or X-Forwarded-Ssl,
// the later of UWSGI_SCHEME and X-Forwarded-Proto winning, as in uWSGI
// (PY-22, TOP-9).
func TestForwardedSchemeDefault(t *testing.T) {
	Differential(t, Setup{Args: schemeArgs}, func(t *testing.T, e *Env) any {
		out := map[string]string{}
		for _, c := range forwardingCases {
			out[c.name] = schemeOf(t, e, c)
		}
		return out
	})
}

// TestTrustedProxy: with trusted-proxy only listed clients (REMOTE_ADDR;
// "unix" for unix-domain HTTP sockets) set the scheme with forwarding
// headers; UWSGI_SCHEME and HTTPS from a front server still count. gosgi
// only: uWSGI has no such option.
func TestTrustedProxy(t *testing.T) {
	want := map[string]map[string]string{
		// 127.0.0.1 (the test client, and REMOTE_ADDR of the uwsgi
		// requests) is not trusted; 192.0.2.5 is.
		"192.0.2.0/24": {
			"http_plain": "http", "http_xfp_https": "http", "http_xfp_any_value": "http", "http_xfssl_on": "http",
			"http_xfp_twice": "http", "http_https_header_is_not_https": "http", "unix_http_xfp": "http",
			"uwsgi_xfp": "http", "uwsgi_scheme_then_xfp": "a", "uwsgi_xfp_then_scheme": "a",
			"uwsgi_xfp_then_empty_scheme": "http", "uwsgi_https_on_xfp_http": "https", "uwsgi_xfssl_on": "http",
			"uwsgi_https_on": "https", "uwsgi_xfp_empty": "http", "uwsgi_xfp_from_remote": "https",
		},
		// The test client trusted, unix sockets not.
		"127.0.0.1, 2001:db8::/32": {
			"http_plain": "http", "http_xfp_https": "https", "http_xfp_any_value": "weird", "http_xfssl_on": "https",
			"http_xfp_twice": "one, two", "http_https_header_is_not_https": "http", "unix_http_xfp": "http",
			"uwsgi_xfp": "https", "uwsgi_scheme_then_xfp": "b", "uwsgi_xfp_then_scheme": "a",
			"uwsgi_xfp_then_empty_scheme": "http", "uwsgi_https_on_xfp_http": "http", "uwsgi_xfssl_on": "https",
			"uwsgi_https_on": "https", "uwsgi_xfp_empty": "http", "uwsgi_xfp_from_remote": "http",
		},
		"unix": {
			"http_plain": "http", "http_xfp_https": "http", "unix_http_xfp": "https", "uwsgi_xfp": "http",
			"uwsgi_xfp_from_remote": "http",
		},
	}
	for trusted, wantScheme := range want {
		t.Run(strings.NewReplacer("/", "_", " ", "", ",", "+").Replace(trusted), func(t *testing.T) {
			e := gosgiEnv(t, append(append([]string(nil), schemeArgs...), "--trusted-proxy", trusted))
			for _, c := range forwardingCases {
				w, ok := wantScheme[c.name]
				if !ok {
					continue
				}
				if got := schemeOf(t, e, c); got != w {
					t.Errorf("%s: wsgi.url_scheme %q, want %q", c.name, got, w)
				}
			}
		})
	}
}

// TestTrustedProxyInvalid: a trusted-proxy value that does not parse stops
// the start, naming the option and the value.
func TestTrustedProxyInvalid(t *testing.T) {
	for _, v := range []string{"10.0.0.0/33", "proxy.example", "unix:/run/proxy.sock"} {
		res := Run(t, GosgiBin(t), []string{"--http-socket", "127.0.0.1:0", "--wsgi-file",
			AppsDir(t) + "/envdump.py", "--trusted-proxy", v}, t.TempDir())
		if res.Code == 0 || !strings.Contains(res.Stderr, fmt.Sprintf("trusted-proxy %q", v)) {
			t.Errorf("--trusted-proxy %s: exit %d, stderr:\n%s", v, res.Code, res.Stderr)
		}
	}
}

// TestLimitPost: a body over limit-post is refused before the app runs and
// before any buffering: no reply, uWSGI's message, and a request line that,
// as uWSGI stops parsing at CONTENT_LENGTH, counts only the variables
// before it (WP-9); smaller bodies are served. Over HTTP and uwsgi, with and
// without post-buffering.
func TestLimitPost(t *testing.T) {
	for _, pb := range []string{"0", "64"} {
		t.Run("post-buffering="+pb, func(t *testing.T) {
			args := []string{"--plugin", "python3", "--master", "--processes", "1", "--http-socket", "{http}",
				"--socket", "{sock}", "--wsgi-file", "{apps}/postbuffer.py", "--limit-post", "100", "--post-buffering", pb}
			Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
				var out []string
				n := 0
				for _, size := range []int{100, 101, 5000} {
					req := fmt.Sprintf("POST /?op=sum HTTP/1.0\r\nHost: e2e.test\r\nContent-Length: %d\r\nX-After: 1\r\n\r\n%s", size, testBody(size))
					raw, err := RawExchange(e.Addr("http"), []byte(req))
					if err != nil {
						t.Fatal(err)
					}
					vars := [][2]string{{"REQUEST_METHOD", "POST"}, {"REQUEST_URI", "/?op=sum"}, {"CONTENT_LENGTH", fmt.Sprint(size)},
						{"QUERY_STRING", "op=sum"}, {"SERVER_PROTOCOL", "HTTP/1.1"}, {"REMOTE_ADDR", "10.1.1.1"}}
					rawU, err := RawExchange("unix:"+e.Addr("sock"), UwsgiPacket(vars, testBody(size)))
					if err != nil {
						t.Fatal(err)
					}
					n += 2
					lines := e.Srv.WaitLogCount(t, reqLineRE.String(), n, RequestTimeout)
					for i, reply := range [][]byte{raw, rawU} {
						first, _, _ := strings.Cut(string(reply), "\r\n")
						out = append(out, fmt.Sprintf("%d: %q | %s", size, first, NormaliseSwitches(NormaliseRequestLine(lines[n-2+i][0]))))
					}
				}
				if got := strings.Count(e.Srv.Log(), "Invalid (too big) CONTENT_LENGTH. skip.\n"); got != 4 {
					t.Errorf("%d refusals logged, want 4", got)
				}
				return out
			})
		})
	}
}

// TestStaticAndRouteAddDelHeader: uWSGI applies add-header and del-header
// to the answers of static files (200, 304, HEAD) and routing rules
// (redirect, return) too; the log counts what was sent.
func TestStaticAndRouteAddDelHeader(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(root+"/a.txt", []byte("static file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--plugin", "python3", "--master", "--processes", "1", "--http-socket", "{http}",
		"--wsgi-file", "{apps}/respshape.py", "--static-map", "/s=" + root,
		"--add-header", "X-Added: 1", "--del-header", "last-modified", "--del-header", "X-Added", "--del-header", "LOCATION",
		"--plugin", "router_redirect,router_static", "--route", "^/r redirect:/x", "--route", "^/t return:403"}
	reqs := []string{
		"GET /s/a.txt HTTP/1.1\r\nHost: e2e.test\r\n\r\n",
		"GET /s/a.txt HTTP/1.1\r\nHost: e2e.test\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n\r\n",
		"HEAD /s/a.txt HTTP/1.1\r\nHost: e2e.test\r\n\r\n",
		"GET /?cl=1 HTTP/1.1\r\nHost: e2e.test\r\n\r\n",
		"GET /r HTTP/1.1\r\nHost: e2e.test\r\n\r\n",
		"GET /t HTTP/1.1\r\nHost: e2e.test\r\n\r\n",
	}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		var out []any
		for i, req := range reqs {
			r := Do(t, e.Addr("http"), req)
			lines := e.Srv.WaitLogCount(t, reqLineRE.String(), i+1, RequestTimeout)
			out = append(out, Summarise(r, "Date"), NormaliseRequestLine(lines[i][0]))
		}
		return out
	})
}
