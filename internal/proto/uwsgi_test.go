package proto

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
)

// kvOf decodes a valid block into key/value pairs (test helper).
func kvOf(block []byte) [][2]string {
	var out [][2]string
	for p := 0; p < len(block); {
		kl := int(binary.LittleEndian.Uint16(block[p:]))
		k := string(block[p+2 : p+2+kl])
		p += 2 + kl
		vl := int(binary.LittleEndian.Uint16(block[p:]))
		v := string(block[p+2 : p+2+vl])
		p += 2 + vl
		out = append(out, [2]string{k, v})
	}
	return out
}

// pairsOf decodes a valid block into "K=V" strings (test helper).
func pairsOf(t testing.TB, block []byte) []string {
	t.Helper()
	var out []string
	for _, kv := range kvOf(block) {
		out = append(out, kv[0]+"="+kv[1])
	}
	return out
}

func block(kv ...string) []byte {
	var b []byte
	for i := 0; i+1 < len(kv); i += 2 {
		b = AppendVar(b, kv[i], kv[i+1])
	}
	return b
}

// WP-1
func TestParseHeader(t *testing.T) {
	h := ParseHeader([]byte{0x00, 0x8e, 0x01, 0x00, 0xff})
	if h != (Header{Modifier1: 0, Size: 398, Modifier2: 0}) {
		t.Fatalf("got %+v", h)
	}
	h = ParseHeader([]byte{30, 0xff, 0xff, 7})
	if h.Modifier1 != 30 || h.Size != 65535 || h.Modifier2 != 7 {
		t.Fatalf("got %+v", h)
	}
	if got := AppendHeader(nil, h); string(got) != string([]byte{30, 0xff, 0xff, 7}) {
		t.Fatalf("AppendHeader = %v", got)
	}
}

// WP-5
func TestCheckSize(t *testing.T) {
	if err := CheckSize(Header{Size: 4096}, 4096); err != nil {
		t.Fatal(err)
	}
	err := CheckSize(Header{Size: 5090}, 4096)
	if err == nil || err.Error() != "invalid request block size: 5090 (max 4096)...skip" {
		t.Fatalf("err = %v", err)
	}
}

func TestParseVars(t *testing.T) {
	base := block("REQUEST_METHOD", "GET", "PATH_INFO", "/")
	many := func(n int) []byte {
		b := append([]byte(nil), base...)
		for i := 0; i < n; i++ {
			b = AppendVar(b, "K"+strings.Repeat("x", i%7), "v")
		}
		return b
	}
	tests := []struct {
		name    string
		block   []byte
		maxVars int
		err     string // exact uWSGI log text; "" = success
		pairs   int
	}{
		{"WP-3 empty block", nil, 0, "", 0},
		{"WP-3 two pairs", base, 0, "", 2},
		{"WP-3 empty value at end", append(append([]byte(nil), base...), 1, 0, 'A', 0, 0), 0, "", 3},
		// The strsize cases below were observed on uWSGI 2.0.21 with the
		// same packets: N is the last length read, even a stale one.
		{"WP-4 one trailing byte", append(append([]byte(nil), base...), 1), 0, "invalid uwsgi request (current strsize: 1). skip.", 2},
		{"WP-4 key length only", append(append([]byte(nil), base...), 1, 0), 0, "invalid uwsgi request (current strsize: 1). skip.", 2},
		{"WP-4 key without value length", append(append([]byte(nil), base...), 1, 0, 'A'), 0, "invalid uwsgi request (current strsize: 1). skip.", 2},
		{"WP-4 half value length", append(append([]byte(nil), base...), 1, 0, 'A', 0), 0, "invalid uwsgi request (current strsize: 1). skip.", 2},
		{"WP-4 two trailing bytes report the stale length", block("A", "12345678", "B", "x")[:15], 0, "invalid uwsgi request (current strsize: 8). skip.", 1},
		{"WP-4 value past end", append(append([]byte(nil), base...), 1, 0, 'A', 5, 0, 'a', 'b', 'c'), 0, "invalid uwsgi request (current strsize: 5). skip.", 2},
		{"WP-4 key past end", append(append([]byte(nil), base...), 9, 0, 'A'), 0, "invalid uwsgi request (current strsize: 9). skip.", 2},
		{"WP-4 null key", append(append([]byte(nil), base...), 0, 0, 1, 0, 'x'), 0, "uwsgi key cannot be null. skip this var.", 2},
		{"WP-6 128 pairs accepted", many(126), 64, "", 128},
		{"WP-6 129th pair refused", many(127), 64, "max vec size reached. skip this var.", 128},
		{"WP-6 default max-vars", many(127), 0, "max vec size reached. skip this var.", 128},
		{"WP-6 max-vars 2", many(2), 2, "", 4},
		{"WP-6 max-vars 2 overflow", many(3), 2, "max vec size reached. skip this var.", 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			err := ParseVars(tc.block, tc.maxVars, &r)
			if tc.err == "" && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tc.err != "" && (err == nil || err.Error() != tc.err) {
				t.Fatalf("error = %v, want %q", err, tc.err)
			}
			if r.Pairs != tc.pairs {
				t.Fatalf("Pairs = %d, want %d", r.Pairs, tc.pairs)
			}
		})
	}
}

// WP-7, WP-8, WP-9: the interpreted variables, last occurrence wins.
func TestParseVarsFields(t *testing.T) {
	b := block(
		"REQUEST_METHOD", "POST", "REQUEST_URI", "/a?b=1", "PATH_INFO", "/a",
		"QUERY_STRING", "b=1", "SERVER_PROTOCOL", "HTTP/1.1", "REMOTE_ADDR", "10.0.0.1",
		"REMOTE_USER", "bob", "SERVER_NAME", "example.test", "SERVER_PORT", "80",
		"SCRIPT_NAME", "/app", "CONTENT_TYPE", "text/plain", "CONTENT_LENGTH", "5",
		"DOCUMENT_ROOT", "/var/www", "HTTP_X_FORWARDED_FOR", "1.2.3.4, 10.0.0.1",
		"HTTP_X_FORWARDED_PROTO", "https", "HTTP_X_FORWARDED_SSL", "on", "HTTPS", "on",
		"UWSGI_SCHEME", "https", "UWSGI_APPID", "app1", "UWSGI_SCRIPT", "mod:app",
		"UWSGI_MODULE", "mod", "UWSGI_CALLABLE", "app", "UWSGI_FILE", "/x.py",
		"UWSGI_CHDIR", "/srv", "UWSGI_PYHOME", "/venv", "UWSGI_ROUTER", "http",
		"HTTP_X_DUP", "one", "HTTP_X_DUP", "two", "CONTENT_LENGTH", "12abc",
		"HTTP_TRANSFER_ENCODING", "gzip, chunked", "HTTP_CONNECTION", "keep-alive",
	)
	var r Request
	if err := ParseVars(b, 0, &r); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"Method", string(r.Method), "POST"}, {"URI", string(r.URI), "/a?b=1"},
		{"PathInfo", string(r.PathInfo), "/a"}, {"Query", string(r.Query), "b=1"},
		{"Proto", string(r.Proto), "HTTP/1.1"}, {"RemoteAddr", string(r.RemoteAddr), "10.0.0.1"},
		{"RemoteUser", string(r.RemoteUser), "bob"}, {"Host", string(r.Host), "example.test"},
		{"ServerName", string(r.ServerName), "example.test"}, {"ServerPort", string(r.ServerPort), "80"},
		{"ScriptName", string(r.ScriptName), "/app"}, {"ContentType", string(r.ContentType), "text/plain"},
		{"DocRoot", string(r.DocRoot), "/var/www"}, {"XForwardedFor", string(r.XForwardedFor), "1.2.3.4, 10.0.0.1"},
		{"XForwardedProto", string(r.XForwardedProto), "https"}, {"XForwardedSSL", string(r.XForwardedSSL), "on"},
		{"HTTPS", string(r.HTTPS), "on"}, {"UwsgiScheme", string(r.UwsgiScheme), "https"},
		{"AppID", string(r.AppID), "app1"}, {"Script", string(r.Script), "mod:app"},
		{"Module", string(r.Module), "mod"}, {"Callable", string(r.Callable), "app"},
		{"File", string(r.File), "/x.py"}, {"Chdir", string(r.Chdir), "/srv"},
		{"PyHome", string(r.PyHome), "/venv"}, {"Router", string(r.Router), "http"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if r.Pairs != 31 {
		t.Errorf("Pairs = %d", r.Pairs)
	}
	if r.ContentLength != 12 {
		t.Errorf("ContentLength = %d, want 12 (last one, digits prefix)", r.ContentLength)
	}
	if !r.Chunked || !r.KeepAlive {
		t.Errorf("Chunked=%v KeepAlive=%v", r.Chunked, r.KeepAlive)
	}
}

// WP-8
func TestParseContentLength(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"", 0}, {"0", 0}, {"11", 11}, {"12abc", 12}, {"abc", 0}, {"-5", 0}, {" 5", 0},
		{"9223372036854775807", math.MaxInt64}, {"9223372036854775808", math.MaxInt64},
		{"99999999999999999999999", math.MaxInt64},
	}
	for _, tc := range tests {
		if got := ParseContentLength([]byte(tc.in)); got != tc.want {
			t.Errorf("ParseContentLength(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestKeepAliveChunked(t *testing.T) {
	tests := []struct {
		proto, conn, te string
		keep, chunked   bool
	}{
		{"HTTP/1.1", "", "", true, false},
		{"HTTP/1.1", "Close", "", false, false},
		{"HTTP/1.1", "keep-alive, close", "", false, false},
		{"HTTP/1.0", "", "chunked", false, true},
		{"HTTP/1.0", "keep-alive", "chunked, gzip", false, false},
		{"HTTP/1.1", "", " Chunked ", true, true},
	}
	for _, tc := range tests {
		b := block("SERVER_PROTOCOL", tc.proto, "HTTP_CONNECTION", tc.conn, "HTTP_TRANSFER_ENCODING", tc.te)
		var r Request
		if err := ParseVars(b, 0, &r); err != nil {
			t.Fatal(err)
		}
		if r.KeepAlive != tc.keep || r.Chunked != tc.chunked {
			t.Errorf("%+v: keep=%v chunked=%v", tc, r.KeepAlive, r.Chunked)
		}
	}
}

func TestErrorsAreComparable(t *testing.T) {
	var r Request
	err := ParseVars([]byte{0, 0, 0, 0}, 0, &r)
	if !errors.Is(err, ErrNullKey) {
		t.Fatalf("err = %v", err)
	}
	var se *StrsizeError
	if err := ParseVars([]byte{5, 0, 'a'}, 0, &r); !errors.As(err, &se) || se.Strsize != 5 {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParseVars(f *testing.F) {
	f.Add(block("REQUEST_METHOD", "GET", "PATH_INFO", "/"), 64)
	f.Add([]byte{1, 0, 'A', 0, 0}, 1)
	f.Add([]byte{0, 0}, 64)
	f.Add([]byte{0xff, 0xff, 'a'}, 3)
	f.Fuzz(func(t *testing.T, b []byte, maxVars int) {
		if maxVars > 1<<16 || maxVars < -1 {
			maxVars = 64
		}
		var r Request
		err := ParseVars(b, maxVars, &r)
		limit := 2 * maxVars
		if maxVars <= 0 {
			limit = 2 * DefaultMaxVars
		}
		if r.Pairs > limit {
			t.Fatalf("Pairs %d > limit %d", r.Pairs, limit)
		}
		if err == nil {
			// Re-encoding every pair must give the block back exactly.
			var again []byte
			for _, kv := range kvOf(b) {
				again = AppendVar(again, kv[0], kv[1])
			}
			if string(again) != string(b) {
				t.Fatalf("block does not round-trip")
			}
		}
	})
}

func BenchmarkParseVars(b *testing.B) {
	blk := block(
		"QUERY_STRING", "x=1", "REQUEST_METHOD", "GET", "CONTENT_TYPE", "", "CONTENT_LENGTH", "",
		"REQUEST_URI", "/foo?x=1", "PATH_INFO", "/foo", "DOCUMENT_ROOT", "/var/www/html",
		"SERVER_PROTOCOL", "HTTP/1.1", "REQUEST_SCHEME", "http", "REMOTE_ADDR", "127.0.0.1",
		"REMOTE_PORT", "47278", "SERVER_PORT", "80", "SERVER_NAME", "example.test",
		"HTTP_HOST", "example.test", "HTTP_USER_AGENT", "curl/7.88.1", "HTTP_ACCEPT", "*/*",
	)
	b.ReportAllocs()
	b.SetBytes(int64(len(blk)))
	var r Request
	for b.Loop() {
		if err := ParseVars(blk, 64, &r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestContentLengthAt: the offset of the last CONTENT_LENGTH pair, where
// uWSGI stops parsing a request over limit-post; the order of
// UWSGI_SCHEME and HTTP_X_FORWARDED_PROTO (PY-22).
func TestContentLengthAt(t *testing.T) {
	cases := []struct {
		name      string
		kv        []string
		wantAt    int // pairs before the CONTENT_LENGTH pair; -1: none
		wantXFPAt bool
	}{
		{"none", []string{"REQUEST_METHOD", "GET"}, -1, false},
		{"first", []string{"CONTENT_LENGTH", "5", "REQUEST_METHOD", "POST"}, 0, false},
		{"after two", []string{"REQUEST_METHOD", "POST", "PATH_INFO", "/", "CONTENT_LENGTH", "5"}, 2, false},
		{"last of two", []string{"CONTENT_LENGTH", "1", "PATH_INFO", "/", "CONTENT_LENGTH", "5"}, 2, false},
		{"xfp after scheme", []string{"UWSGI_SCHEME", "a", "HTTP_X_FORWARDED_PROTO", "b"}, -1, true},
		{"scheme after xfp", []string{"HTTP_X_FORWARDED_PROTO", "b", "UWSGI_SCHEME", "a"}, -1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := block(c.kv...)
			var r Request
			if err := ParseVars(b, 0, &r); err != nil {
				t.Fatal(err)
			}
			if c.wantAt < 0 {
				if r.ContentLengthAt != -1 {
					t.Errorf("ContentLengthAt = %d, want -1", r.ContentLengthAt)
				}
			} else {
				var before Request
				if err := ParseVars(b[:r.ContentLengthAt], 0, &before); err != nil {
					t.Fatalf("block before CONTENT_LENGTH: %v", err)
				}
				if before.Pairs != c.wantAt {
					t.Errorf("%d pairs before CONTENT_LENGTH, want %d", before.Pairs, c.wantAt)
				}
			}
			if r.ForwardedProtoLast != c.wantXFPAt {
				t.Errorf("ForwardedProtoLast = %v, want %v", r.ForwardedProtoLast, c.wantXFPAt)
			}
		})
	}
}
