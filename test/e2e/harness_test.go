package e2e

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
)

// Tests of the harness itself: they need no server.

func TestParseResponse(t *testing.T) {
	cases := []struct {
		name    string
		raw     string
		status  string
		headers [][2]string
		body    string
		wantErr bool
	}{
		{name: "empty", raw: ""},
		{name: "plain", raw: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: 1\r\n\r\nhi",
			status: "HTTP/1.1 200 OK", headers: [][2]string{{"Content-Type", "text/plain"}, {"X-A", "1"}}, body: "hi"},
		{name: "repeated_headers_kept", raw: "HTTP/1.0 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
			status: "HTTP/1.0 200 OK", headers: [][2]string{{"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}}},
		{name: "no_head_WP11", raw: "status body\n", body: "status body\n"},
		{name: "head_without_end", raw: "HTTP/1.1 200 OK\r\nX: y", body: "HTTP/1.1 200 OK\r\nX: y"},
		{name: "no_headers", raw: "HTTP/1.1 200 OK\r\n\r\n", status: "HTTP/1.1 200 OK"},
		{name: "value_without_space", raw: "HTTP/1.1 200 OK\r\nX:y\r\n\r\n", status: "HTTP/1.1 200 OK",
			headers: [][2]string{{"X", "y"}}},
		{name: "chunked_from_nginx", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
			status: "HTTP/1.1 200 OK", headers: [][2]string{{"Transfer-Encoding", "chunked"}}, body: "abcde"},
		{name: "bad_chunk", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", wantErr: true},
		{name: "malformed_header", raw: "HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := ParseResponse([]byte(c.raw))
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, c.wantErr)
			}
			if err != nil {
				return
			}
			if r.StatusLine != c.status || !reflect.DeepEqual(r.Headers, c.headers) || string(r.Body) != c.body {
				t.Errorf("got %q %q %q, want %q %q %q", r.StatusLine, r.Headers, r.Body, c.status, c.headers, c.body)
			}
		})
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{"", "HTTP/1.1 200 OK\r\n\r\nx", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
		"HTTP/1.0 500\r\nA: b\r\n\r\n", "garbage"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := ParseResponse(raw)
		if err != nil {
			return
		}
		if !bytes.Equal(r.Raw, raw) {
			t.Fatalf("Raw not kept")
		}
		if r.StatusLine != "" && !strings.HasPrefix(string(raw), r.StatusLine+"\r\n") {
			t.Fatalf("status line %q is not the first line of %q", r.StatusLine, raw)
		}
		if r.StatusLine == "" && len(r.Headers) != 0 {
			t.Fatalf("headers without a status line")
		}
	})
}

func TestNormaliseRequestLine(t *testing.T) {
	cases := []struct{ in, want string }{
		{
			"[pid: 2344|app: 0|req: 1/1] 127.0.0.1 () {26 vars in 293 bytes} [Sat Nov 21 01:55:55 2026] GET /foo/bar?x=1&y=2 => generated 1187 bytes in 0 msecs (HTTP/1.1 200) 2 headers in 64 bytes (1 switches on core 0)",
			"[pid: <PID>|app: 0|req: 1/1] 127.0.0.1 () {26 vars in 293 bytes} [<DATE>] GET /foo/bar?x=1&y=2 => generated 1187 bytes in <T> msecs (HTTP/1.1 200) 2 headers in 64 bytes (1 switches on core 0)",
		},
		{
			"[pid: 18684|app: -1|req: -1/1] 127.0.0.1 () {22 vars in 243 bytes} [Sat Nov  1 02:05:25 2026] GET /s => generated 13 bytes in 1234 micros via offload() (HTTP/1.0 200) 3 headers in 110 bytes (0 switches on core 0)",
			"[pid: <PID>|app: -1|req: -1/1] 127.0.0.1 () {22 vars in 243 bytes} [<DATE>] GET /s => generated 13 bytes in <T> micros via offload() (HTTP/1.0 200) 3 headers in 110 bytes (0 switches on core 0)",
		},
		// A URI that looks like a date or a duration is left alone.
		{
			"[pid: 1|app: 0|req: 1/1] 1.2.3.4 (u) {2 vars in 20 bytes} [Mon Jan  2 03:04:05 2006] GET /a in 5 msecs => generated 0 bytes in 7 msecs (HTTP/1.1 200) 0 headers in 0 bytes (0 switches on core 0)",
			"[pid: <PID>|app: 0|req: 1/1] 1.2.3.4 (u) {2 vars in 20 bytes} [<DATE>] GET /a in 5 msecs => generated 0 bytes in <T> msecs (HTTP/1.1 200) 0 headers in 0 bytes (0 switches on core 0)",
		},
	}
	for _, c := range cases {
		if got := NormaliseRequestLine(c.in); got != c.want {
			t.Errorf("NormaliseRequestLine(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
	if got := NormaliseSwitches("x (2 switches on core 1)"); got != "x (<N> switches on core 1)" {
		t.Errorf("NormaliseSwitches: %q", got)
	}
	lines := RequestLines("banner\n" + cases[0].in + "\nTraceback\n" + cases[1].in + "\n")
	if len(lines) != 2 || lines[0] != cases[0].in || lines[1] != cases[1].in {
		t.Errorf("RequestLines found %q", lines)
	}
}

func FuzzNormaliseRequestLine(f *testing.F) {
	f.Add("[pid: 2344|app: 0|req: 1/1] 127.0.0.1 () {26 vars in 293 bytes} [Sat Nov 21 01:55:55 2026] GET / => generated 1 bytes in 0 msecs (HTTP/1.1 200) 2 headers in 64 bytes (1 switches on core 0)")
	f.Fuzz(func(t *testing.T, l string) {
		n := NormaliseRequestLine(l)
		if NormaliseRequestLine(n) != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", l, n, NormaliseRequestLine(n))
		}
	})
}

func TestUwsgiPacket(t *testing.T) {
	pkt := UwsgiPacket([][2]string{{"A", "bc"}, {"", ""}}, "BODY")
	want := []byte{0, 11, 0, 0, 1, 0, 'A', 2, 0, 'b', 'c', 0, 0, 0, 0, 'B', 'O', 'D', 'Y'}
	if !bytes.Equal(pkt, want) {
		t.Errorf("UwsgiPacket = %v, want %v", pkt, want)
	}
	if n := binary.LittleEndian.Uint16(pkt[1:3]); int(n) != len(rawBlock([][2]string{{"A", "bc"}, {"", ""}})) {
		t.Errorf("datasize %d does not match the block", n)
	}
	h := withHeader(99, 3, []byte("abc"))
	if h != "\x63\x03\x00\x00abc" {
		t.Errorf("withHeader = %q", h)
	}
}

func TestLineDiff(t *testing.T) {
	cases := []struct{ a, b, want string }{
		{"x\ny", "x\ny", "  x\n  y\n"},
		{"x\ny\nz", "x\nz", "  x\n- y\n  z\n"},
		{"x", "x\nw", "  x\n+ w\n"},
		{"a", "b", "+ b\n- a\n"},
	}
	for _, c := range cases {
		if got := LineDiff(c.a, c.b); got != c.want {
			t.Errorf("LineDiff(%q, %q) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}

func TestArgsAndNormaliseEnviron(t *testing.T) {
	got := Args([]string{"--http-socket", "{http}", "{apps}/x.py", "{unknown}"}, map[string]string{"http": "127.0.0.1:1", "apps": "/a"})
	if want := []string{"--http-socket", "127.0.0.1:1", "/a/x.py", "{unknown}"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Args = %q, want %q", got, want)
	}
	env := NormaliseEnviron(map[string]any{
		"SERVER_PORT": "9101", "HTTP_HOST": "127.0.0.1:9101", "PATH_INFO": "/x",
		"wsgi.input": map[string]any{"__type__": "uwsgi._Input", "repr": "<uwsgi._Input object at 0x7f773c91b7b0>"},
	})
	want := map[string]any{
		"SERVER_PORT": "<PORT>", "HTTP_HOST": "127.0.0.1:<PORT>", "PATH_INFO": "/x",
		"wsgi.input": map[string]any{"__type__": "uwsgi._Input", "repr": "<uwsgi._Input object at 0x<ADDR>>"},
	}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("NormaliseEnviron = %v, want %v", env, want)
	}
}
