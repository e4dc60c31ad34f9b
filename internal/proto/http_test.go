package proto

import (
	"encoding/json"
	"errors"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var testOpts = HTTPOptions{ServerName: "vm", ServerPort: "9391", RemoteAddr: "127.0.0.1"}

func list(s ...string) []string { return s }

// Every success case below was sent to uWSGI 2.0.21 (`--http-socket`,
// SERVER_NAME "vm", port 9391) and its environ and `{N vars in B bytes}`
// log figures recorded: pairs and bytes are uWSGI's own numbers.
func TestParseHTTPObserved(t *testing.T) {
	tests := []struct {
		name  string
		raw   string
		pairs []string // in block order
		bytes int
		body  string
	}{
		{
			name: "WP-22 curl GET",
			raw:  "GET /foo/bar?x=1&y=2 HTTP/1.1\r\nHost: 127.0.0.1:9391\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
			pairs: list("REQUEST_METHOD=GET", "REQUEST_URI=/foo/bar?x=1&y=2", "PATH_INFO=/foo/bar",
				"QUERY_STRING=x=1&y=2", "SERVER_PROTOCOL=HTTP/1.1", "SCRIPT_NAME=", "SERVER_NAME=vm",
				"SERVER_PORT=9391", "REMOTE_ADDR=127.0.0.1", "HTTP_HOST=127.0.0.1:9391",
				"HTTP_USER_AGENT=curl/7.88.1", "HTTP_ACCEPT=*/*"),
			bytes: 273,
		},
		{
			name: "WP-23 continuation lines kept, repeats merged case-insensitively, bad escapes",
			raw:  "GET /a%2Fb%zz%4 HTTP/1.0\r\nX-A: 1\r\n  cont\r\nX-A: 2\r\nX-B:   sp  \r\n\tc2\r\nx-a: 3\r\n\r\n",
			pairs: list("REQUEST_METHOD=GET", "REQUEST_URI=/a%2Fb%zz%4", "PATH_INFO=/a/b\x00",
				"QUERY_STRING=", "SERVER_PROTOCOL=HTTP/1.0", "SCRIPT_NAME=", "SERVER_NAME=vm",
				"SERVER_PORT=9391", "REMOTE_ADDR=127.0.0.1", "HTTP_X_A=1\r\n  cont, 2, 3", "HTTP_X_B=sp  \r\n\tc2"),
			bytes: 231,
		},
		{
			name: "WP-25 chunked and Content-Length both passed on",
			raw:  "GET /a+b%41 HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\nHost:x\r\n\r\nabc",
			pairs: list("REQUEST_METHOD=GET", "REQUEST_URI=/a+b%41", "PATH_INFO=/a+bA",
				"QUERY_STRING=", "SERVER_PROTOCOL=HTTP/1.1", "SCRIPT_NAME=", "SERVER_NAME=vm",
				"SERVER_PORT=9391", "REMOTE_ADDR=127.0.0.1", "CONTENT_LENGTH=3",
				"HTTP_TRANSFER_ENCODING=chunked", "HTTP_HOST=x"),
			bytes: 245,
			body:  "abc",
		},
		{
			name: "WP-22 invalid hex pairs become NUL",
			raw:  "GET /%z1%1z%4a%4A%g%41 HTTP/1.1\r\n\r\n",
			pairs: list("REQUEST_METHOD=GET", "REQUEST_URI=/%z1%1z%4a%4A%g%41", "PATH_INFO=/\x00\x00JJ\x0041",
				"QUERY_STRING=", "SERVER_PROTOCOL=HTTP/1.1", "SCRIPT_NAME=", "SERVER_NAME=vm",
				"SERVER_PORT=9391", "REMOTE_ADDR=127.0.0.1"),
			bytes: 193,
		},
		{
			name: "WP-22 trailing percent dropped",
			raw:  "GET /x% HTTP/1.1\r\n\r\n",
			pairs: list("REQUEST_METHOD=GET", "REQUEST_URI=/x%", "PATH_INFO=/x",
				"QUERY_STRING=", "SERVER_PROTOCOL=HTTP/1.1", "SCRIPT_NAME=", "SERVER_NAME=vm",
				"SERVER_PORT=9391", "REMOTE_ADDR=127.0.0.1"),
			bytes: 172,
		},
		{
			name: "protocol is the rest of the request line",
			raw:  "GET /p HTTP/1.1 extra\r\nA:b\r\n\r\n",
			pairs: list("REQUEST_METHOD=GET", "REQUEST_URI=/p", "PATH_INFO=/p",
				"QUERY_STRING=", "SERVER_PROTOCOL=HTTP/1.1 extra", "SCRIPT_NAME=", "SERVER_NAME=vm",
				"SERVER_PORT=9391", "REMOTE_ADDR=127.0.0.1", "HTTP_A=b"),
			bytes: 188,
		},
		{
			name: "WP-21 bare LF is not a line end",
			raw:  "GET /p HTTP/1.1\r\nA:b\nB:c\r\n\r\n",
			pairs: list("REQUEST_METHOD=GET", "REQUEST_URI=/p", "PATH_INFO=/p",
				"QUERY_STRING=", "SERVER_PROTOCOL=HTTP/1.1", "SCRIPT_NAME=", "SERVER_NAME=vm",
				"SERVER_PORT=9391", "REMOTE_ADDR=127.0.0.1", "HTTP_A=b\nB:c"),
			bytes: 186,
		},
		{
			name: "WP-23 repeated Content-Type merged",
			raw:  "GET /p HTTP/1.1\r\nContent-Type: a\r\ncontent-type: b\r\n\r\n",
			pairs: list("REQUEST_METHOD=GET", "REQUEST_URI=/p", "PATH_INFO=/p",
				"QUERY_STRING=", "SERVER_PROTOCOL=HTTP/1.1", "SCRIPT_NAME=", "SERVER_NAME=vm",
				"SERVER_PORT=9391", "REMOTE_ADDR=127.0.0.1", "CONTENT_TYPE=a, b"),
			bytes: 191,
		},
		{
			name: "only leading spaces are stripped from values",
			raw:  "GET /p HTTP/1.1\r\nA:\t b\t\r\n\r\n",
			pairs: list("REQUEST_METHOD=GET", "REQUEST_URI=/p", "PATH_INFO=/p",
				"QUERY_STRING=", "SERVER_PROTOCOL=HTTP/1.1", "SCRIPT_NAME=", "SERVER_NAME=vm",
				"SERVER_PORT=9391", "REMOTE_ADDR=127.0.0.1", "HTTP_A=\t b\t"),
			bytes: 185,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			dst := make([]byte, 0, 16) // forces growth: views must still be right
			n, blk, err := ParseHTTP([]byte(tc.raw), dst, &testOpts, &r)
			if err != nil {
				t.Fatal(err)
			}
			got := pairsOf(t, blk)
			if strings.Join(got, "\n") != strings.Join(tc.pairs, "\n") {
				t.Fatalf("pairs:\n%q\nwant:\n%q", got, tc.pairs)
			}
			if len(blk) != tc.bytes || r.Pairs != len(tc.pairs) {
				t.Fatalf("block %d bytes, %d pairs; uWSGI: %d bytes, %d pairs", len(blk), r.Pairs, tc.bytes, len(tc.pairs))
			}
			if tc.raw[n:] != tc.body {
				t.Fatalf("body = %q, want %q", tc.raw[n:], tc.body)
			}
		})
	}
}

func TestParseHTTPErrors(t *testing.T) {
	big := "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 5000) + "\r\n\r\n"
	tests := []struct {
		name string
		raw  string
		opts HTTPOptions
		err  string
	}{
		{"incomplete", "GET / HTTP/1.1\r\nHost: x\r\n", HTTPOptions{}, ErrIncomplete.Error()},
		{"incomplete empty", "", HTTPOptions{}, ErrIncomplete.Error()},
		{"WP-21 head larger than buffer-size", big, HTTPOptions{}, "invalid HTTP request size (max 4096)...skip"},
		{"WP-21 buffer full without blank line", strings.Repeat("a", 4096), HTTPOptions{}, "invalid HTTP request size (max 4096)...skip"},
		{"WP-21 custom buffer-size", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", HTTPOptions{BufferSize: 20}, "invalid HTTP request size (max 20)...skip"},
		// uWSGI 2.0.21 accepts X: a*3916 (a 4095-byte block, logged) and
		// drops X: a*3917 with this warning.
		{"block must stay below buffer-size", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 3917) + "\r\n\r\n", HTTPOptions{ServerName: "vm", ServerPort: "9397", RemoteAddr: "127.0.0.1"},
			"[WARNING] unable to add HTTP_X=" + strings.Repeat("a", 3917) + " to uwsgi packet, consider increasing buffer size"},
		{"WP-21 bare-LF request never completes", "GET / HTTP/1.1\nHost: x\n\n", HTTPOptions{}, ErrIncomplete.Error()},
		{"WP-30 garbage", "garbage\r\n\r\n", HTTPOptions{}, "invalid HTTP request"},
		{"header without colon (uWSGI refuses too)", "GET / HTTP/1.1\r\nNoColon\r\n\r\n", HTTPOptions{}, "invalid HTTP request"},
		{"empty header name (uWSGI refuses too)", "GET / HTTP/1.1\r\n:v\r\n\r\n", HTTPOptions{}, "invalid HTTP request"},
		{"bare CR (uWSGI refuses too)", "GET / HTTP/1.1\r\nA:b\r\r\n\r\n", HTTPOptions{}, "invalid HTTP request"},
		// Deliberate differences: uWSGI passes these on with odd variables.
		{"no protocol (HTTP/0.9 line)", "GET /p\r\n\r\n", HTTPOptions{}, "invalid HTTP request"},
		{"leading space", " GET /p HTTP/1.1\r\n\r\n", HTTPOptions{}, "invalid HTTP request"},
		{"leading CRLF", "\r\nGET /p HTTP/1.1\r\n\r\n", HTTPOptions{}, "invalid HTTP request"},
		{"empty target", "get  http://h/p  HTTP/1.1\r\n\r\n", HTTPOptions{}, "invalid HTTP request"},
		{"space before colon", "GET / HTTP/1.1\r\nX-Sp : v\r\n\r\n", HTTPOptions{}, "invalid HTTP request"},
		{"continuation first", "GET / HTTP/1.1\r\n cont\r\n\r\n", HTTPOptions{}, "invalid HTTP request"},
		{"control in target", "GET /a\x01 HTTP/1.1\r\n\r\n", HTTPOptions{}, "invalid HTTP request"},
		{"WP-6 too many headers", "GET / HTTP/1.1\r\n" + manyHeaders(120) + "\r\n", HTTPOptions{}, "max vec size reached. skip this var."},
		{"WP-6 max-vars 6", "GET / HTTP/1.1\r\n" + manyHeaders(4) + "\r\n", HTTPOptions{MaxVars: 6}, "max vec size reached. skip this var."},
		{"smuggling: CL+TE with RejectAmbiguousLength", "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", HTTPOptions{RejectAmbiguousLength: true}, ErrAmbiguousLength.Error()},
		{"smuggling: two lengths with RejectAmbiguousLength", "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", HTTPOptions{RejectAmbiguousLength: true}, ErrAmbiguousLength.Error()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			_, blk, err := ParseHTTP([]byte(tc.raw), nil, &tc.opts, &r)
			if err == nil || err.Error() != tc.err {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			if blk != nil {
				t.Fatalf("block on error: %q", blk)
			}
		})
	}
}

func manyHeaders(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString("X-")
		b.WriteString(strconv.Itoa(i))
		b.WriteString(": v\r\n")
	}
	return b.String()
}

func TestParseHTTPOptions(t *testing.T) {
	raw := []byte("GET /s/x HTTP/1.1\r\nConnection: close\r\n\r\n")
	o := HTTPOptions{ServerName: "h", ServerPort: "80", RemoteAddr: "0.0.0.0", HTTPS: true,
		ManageScriptName: true, Router: true, RemotePort: "5555", ServerAddr: "10.0.0.2"}
	var r Request
	_, blk, err := ParseHTTP(raw, nil, &o, &r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"REQUEST_METHOD=GET", "REQUEST_URI=/s/x", "PATH_INFO=/s/x", "QUERY_STRING=",
		"SERVER_PROTOCOL=HTTP/1.1", "SERVER_NAME=h", "SERVER_PORT=80", "REMOTE_ADDR=0.0.0.0",
		"REMOTE_PORT=5555", "SERVER_ADDR=10.0.0.2", "HTTPS=on", "UWSGI_ROUTER=http", "HTTP_CONNECTION=close"}
	if got := pairsOf(t, blk); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q", got)
	}
	if r.KeepAlive || string(r.HTTPS) != "on" || string(r.Router) != "http" || r.ScriptName != nil {
		t.Fatalf("request %+v", r)
	}
	// Smuggling defence accepts one plain length.
	o = HTTPOptions{RejectAmbiguousLength: true}
	if _, _, err := ParseHTTP([]byte("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"), nil, &o, &r); err != nil || r.ContentLength != 3 {
		t.Fatalf("err %v, cl %d", err, r.ContentLength)
	}
	// Appends after what dst already holds.
	pre := []byte("prefix")
	_, blk, err = ParseHTTP(raw, pre, &testOpts, &r)
	if err != nil || string(blk[:2]) != "\x0e\x00" || string(r.Method) != "GET" {
		t.Fatalf("err %v blk %q", err, blk)
	}
}

// latin1 turns a JSON string whose runes are latin-1 bytes back into bytes.
func latin1(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return string(b)
}

// TestEnvironSample is the differential test against the capture in
// environ-sample.json: the raw request, parsed here, must give exactly the
// CGI variables uWSGI's http-socket gave the app. Machine-dependent values
// (SERVER_NAME, SERVER_PORT, REMOTE_ADDR) are taken from the capture.
func TestEnvironSample(t *testing.T) {
	data, err := os.ReadFile("testdata/environ-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	var sample struct {
		Raw  string         `json:"raw_request"`
		Want map[string]any `json:"via_http_socket"`
	}
	if err := json.Unmarshal(data, &sample); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for k, v := range sample.Want {
		if s, ok := v.(string); ok && !strings.HasPrefix(k, "__") && !strings.Contains(k, ".") {
			want[k] = latin1(s)
		}
	}
	port := want["SERVER_PORT"]
	raw := strings.ReplaceAll(sample.Raw, `\r\n`, "\r\n")
	raw = strings.ReplaceAll(raw, "<port>", port)
	raw = strings.ReplaceAll(raw, "[nginx only: Connection: close]\r\n", "")
	o := HTTPOptions{ServerName: want["SERVER_NAME"], ServerPort: port, RemoteAddr: want["REMOTE_ADDR"]}
	var r Request
	n, blk, err := ParseHTTP([]byte(latin1(raw)), nil, &o, &r)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range kvOf(blk) {
		got[kv[0]] = kv[1] // last wins, as in the environ (WP-7)
	}
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got[k] != want[k] {
			t.Errorf("%s = %q, uWSGI gave %q", k, got[k], want[k])
		}
	}
	if body := latin1(raw)[n:]; body != sample.Want["__body_read__"] || r.ContentLength != int64(len(body)) {
		t.Errorf("body %q, ContentLength %d", body, r.ContentLength)
	}
}

func FuzzParseHTTP(f *testing.F) {
	f.Add([]byte("GET /foo/bar?x=1 HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n cont\r\nX-A: 2\r\n\r\nbody"), 64, 4096)
	f.Add([]byte("GET /%zz%4 HTTP/1.0\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"), 2, 100)
	f.Add([]byte("garbage\r\n\r\n"), 64, 4096)
	f.Fuzz(func(t *testing.T, raw []byte, maxVars, bufSize int) {
		if maxVars < 1 || maxVars > 1000 {
			maxVars = 64
		}
		if bufSize < 1 || bufSize > 65535 {
			bufSize = 4096
		}
		o := HTTPOptions{ServerName: "vm", ServerPort: "80", RemoteAddr: "127.0.0.1", MaxVars: maxVars, BufferSize: bufSize}
		var r Request
		n, blk, err := ParseHTTP(raw, nil, &o, &r)
		if err != nil {
			if blk != nil {
				t.Fatal("block returned with error")
			}
			return
		}
		if n > bufSize || n > len(raw) || n < 4 {
			t.Fatalf("headLen %d (buffer %d, input %d)", n, bufSize, len(raw))
		}
		if len(blk) >= bufSize || r.Pairs > 2*maxVars {
			t.Fatalf("block %d bytes, %d pairs", len(blk), r.Pairs)
		}
		var again Request
		if err := ParseVars(blk, maxVars, &again); err != nil {
			t.Fatalf("block does not re-parse: %v", err)
		}
		if again.Pairs != r.Pairs || string(again.URI) != string(r.URI) {
			t.Fatal("re-parse differs")
		}
	})
}

func BenchmarkParseHTTP(b *testing.B) {
	raw := []byte("GET /foo/bar?x=1&y=2 HTTP/1.1\r\nHost: 127.0.0.1:9391\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n")
	dst := make([]byte, 0, 4096)
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, _, err := ParseHTTP(raw, dst[:0], &testOpts, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseHTTPBrowser(b *testing.B) {
	raw := []byte("GET /static/app.js?v=3 HTTP/1.1\r\nHost: example.test\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
		"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n" +
		"Cookie: sid=42; theme=dark\r\nCookie: b=2\r\nConnection: keep-alive\r\n" +
		"Upgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\n\r\n")
	dst := make([]byte, 0, 4096)
	var r Request
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseHTTP(raw, dst[:0], &testOpts, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBlockLimitBoundary(t *testing.T) {
	o := HTTPOptions{ServerName: "vm", ServerPort: "9397", RemoteAddr: "127.0.0.1"}
	var r Request
	_, blk, err := ParseHTTP([]byte("GET / HTTP/1.1\r\nX: "+strings.Repeat("a", 3916)+"\r\n\r\n"), nil, &o, &r)
	if err != nil || len(blk) != 4095 || r.Pairs != 10 {
		t.Fatalf("err %v, block %d bytes (uWSGI: 4095)", err, len(blk))
	}
}

func TestErrIsSizeError(t *testing.T) {
	var r Request
	_, _, err := ParseHTTP(make([]byte, 5000), nil, &HTTPOptions{}, &r)
	var se *SizeError
	if !errors.As(err, &se) || !se.HTTP || se.Max != 4096 {
		t.Fatalf("err = %v", err)
	}
}

// The hot path must not allocate: parsing reuses the caller's buffers.
func TestZeroAllocs(t *testing.T) {
	raw := []byte("GET /a%20b?x=1 HTTP/1.1\r\nHost: h\r\nX-Dup: 1\r\nX-Dup: 2\r\n cont\r\nContent-Length: 0\r\n\r\n")
	dst := make([]byte, 0, 4096)
	var r Request
	var p Proxy
	proxy := []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n")
	blk := block("REQUEST_METHOD", "GET", "CONTENT_LENGTH", "5", "HTTP_HOST", "h")
	n := testing.AllocsPerRun(200, func() {
		if _, _, err := ParseHTTP(raw, dst[:0], &testOpts, &r); err != nil {
			t.Fatal(err)
		}
		if err := ParseVars(blk, 64, &r); err != nil {
			t.Fatal(err)
		}
		if _, err := ParseProxyV1(proxy, &p); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per request", n)
	}
}
