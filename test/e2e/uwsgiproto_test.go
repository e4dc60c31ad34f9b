package e2e

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// protoArgs serves the router app on a uwsgi-protocol unix socket and an
// http-socket at once. One worker, so that the per-worker request counter of
// the log line (LG-2) is deterministic.
var protoArgs = []string{
	"--plugin", "python3", "--master", "--processes", "1",
	"--http-socket", "{http}", "--socket", "{sock}", "--wsgi-file", "{apps}/router.py",
}

// viaNginx adds the header that makes nginx close the client connection
// after the reply, as RawExchange reads until EOF.
func viaNginx(cases []httpCase) []httpCase {
	out := make([]httpCase, len(cases))
	for i, c := range cases {
		c.req = strings.Replace(c.req, "\r\n", "\r\nConnection: close\r\n", 1)
		out[i] = c
	}
	return out
}

// TestNginxUwsgiPass sends requests through a real nginx with Debian's
// uwsgi_params to a unix socket (WP-13..WP-16, TOP-8, PY-33).
func TestNginxUwsgiPass(t *testing.T) {
	RequireTools(t, Nginx)
	bigBody := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	cases := []httpCase{
		{name: "get_hello", req: Get("/hello"), check: wantBody("Hello, World!\n")},
		{name: "get_environ_TOP8", req: Get("/env?a=1"),
			check: all(wantEnv("SCRIPT_NAME", "<absent>"), wantEnv("CONTENT_TYPE", ""), wantEnv("CONTENT_LENGTH", ""),
				wantEnv("HTTP_HOST", "e2e.test"), wantEnv("SERVER_NAME", NginxServerName), wantEnv("REQUEST_SCHEME", "http"),
				wantEnv("DOCUMENT_ROOT", "/var/www/html"))},
		{name: "repeated_headers_last_wins_WP7", req: Get("/env", "X-Dup: one", "X-Dup: two"),
			check: wantEnv("HTTP_X_DUP", "two")},
		{name: "post_duplicates_content_headers_WP15", req: Request("POST", "/env", "hello=world", "Content-Type: application/x-www-form-urlencoded"),
			check: all(wantEnv("HTTP_CONTENT_LENGTH", "11"), wantEnv("CONTENT_LENGTH", "11"), wantEnv("__body_read__", "hello=world"))},
		{name: "percent_encoded_path_WP14", req: Get("/caf%C3%A9/x%20y?q=%20"),
			check: all(wantEnv("PATH_INFO", "/caf\u00c3\u00a9/x y"), wantEnv("REQUEST_URI", "/caf%C3%A9/x%20y?q=%20"))},
		{name: "https_forwarded_proto_PY22", req: Get("/env", "X-Forwarded-Proto: https"), check: wantEnv("wsgi.url_scheme", "https")},
		{name: "generator_chunks", req: Get("/chunks")},
		{name: "echo_1MiB", req: Request("POST", "/post_echo?mode=readn&n=65536", bigBody), check: wantBody(bigBody)},
		{name: "raise_before_start_response_502_PY33", req: Get("/raise_early"),
			logHas: []string{"RuntimeError: e2e-raise-before-start-response"},
			check:  wantStatus("HTTP/1.1 502 Bad Gateway")},
		{name: "served_after_exception", req: Get("/hello"), check: wantBody("Hello, World!\n")},
	}
	Differential(t, Setup{Args: protoArgs}, func(t *testing.T, e *Env) any {
		ngx, addr := StartNginx(t, "unix:"+e.Addr("sock"))
		res := runHTTPCases(t, e, addr, viaNginx(cases))
		for i := range res {
			res[i].LogLine = NormaliseSwitches(res[i].LogLine)
		}
		if !strings.Contains(ngx.Log(), "upstream prematurely closed connection") {
			t.Errorf("nginx error log lacks the PY-33 502 cause; got:\n%s", tail(ngx.Log()))
		}
		return res
	})
}

// rawBlock encodes key/value pairs without the 4-byte header, so that
// malformed packets can be assembled by hand.
func rawBlock(vars [][2]string) []byte {
	return UwsgiPacket(vars, "")[4:]
}

func withHeader(m1 byte, size int, block []byte) string {
	h := []byte{m1, 0, 0, 0}
	binary.LittleEndian.PutUint16(h[1:3], uint16(size))
	return string(append(h, block...))
}

// TestUwsgiMalformedPackets sends broken uwsgi packets straight to the
// socket (WP-4..WP-6, WP-12): each is refused with the spec's message and
// the server keeps serving the next request.
func TestUwsgiMalformedPackets(t *testing.T) {
	base := BasicUwsgiVars("/hello")
	valid := string(UwsgiPacket(base, ""))
	zeroKey := append(append([][2]string{}, base...), [2]string{"", "x"})
	oversized := append(append([][2]string{}, base...), [2]string{"K", strings.Repeat("x", 5000)})
	// A value length that runs 200 bytes past the end of the block.
	truncated := append(rawBlock(base), 1, 0, 'K', 200, 0, 'a', 'b', 'c')
	tooMany := append([][2]string{}, base...)
	for i := 0; len(tooMany) < 130; i++ {
		tooMany = append(tooMany, [2]string{fmt.Sprintf("K%d", i), "v"})
	}
	servedAgain := httpCase{name: "valid_after", req: valid, check: wantBody("Hello, World!\n")}
	cases := []httpCase{
		{name: "valid", req: valid, check: wantBody("Hello, World!\n")},
		{name: "zero_length_key_WP4", req: string(UwsgiPacket(zeroKey, "")),
			logHas: []string{"uwsgi key cannot be null. skip this var."}, check: wantEmptyReply},
		servedAgain,
		{name: "datasize_over_buffer_size_WP5", req: string(UwsgiPacket(oversized, "")), noLog: true,
			logHas: []string{fmt.Sprintf("invalid request block size: %d (max 4096)...skip", len(rawBlock(oversized)))}},
		servedAgain,
		{name: "value_past_block_end_WP4", req: withHeader(0, len(truncated), truncated),
			logHas: []string{"invalid uwsgi request (current strsize: "}, check: wantEmptyReply},
		servedAgain,
		{name: "too_many_vars_WP6", req: string(UwsgiPacket(tooMany, "")),
			logHas: []string{"max vec size reached. skip this var."}, check: wantEmptyReply},
		servedAgain,
		{name: "unknown_modifier1_WP12", req: withHeader(99, len(rawBlock(base)), rawBlock(base)), noLog: true,
			logHas: []string{"-- unavailable modifier requested: 99 --"}, check: wantEmptyReply},
		servedAgain,
		{name: "truncated_packet_then_eof", req: valid[:10], halfClose: true, noLog: true, check: wantEmptyReply},
		{name: "empty_connection", req: "", halfClose: true, noLog: true, check: wantEmptyReply},
		servedAgain,
		{name: "modifier1_30_like_0_WP12", req: withHeader(30, len(rawBlock(base)), rawBlock(base)), check: wantBody("Hello, World!\n")},
	}
	Differential(t, Setup{Args: protoArgs}, func(t *testing.T, e *Env) any {
		res := runHTTPCases(t, e, "unix:"+e.Addr("sock"), cases)
		if e.Srv.Exited() {
			t.Fatalf("server died; log:\n%s", tail(e.Srv.Log()))
		}
		// The switch count over a unix socket varies from run to run in
		// uWSGI itself (1 or 2 for the same request).
		for i := range res {
			res[i].LogLine = NormaliseSwitches(res[i].LogLine)
		}
		return res
	})
}

// environSample is testdata/environ-sample.json (a copy of the spec's
// companion file): environs captured from Debian uWSGI 2.0.21.
type environSample struct {
	ViaHTTPSocket map[string]any `json:"via_http_socket"`
	ViaNginx      map[string]any `json:"via_uwsgi_protocol_from_nginx"`
}

// maskSample hides what depends on the machine, the ports and the build:
// SERVER_NAME over http-socket (the host name), ports, uwsgi.node,
// uwsgi.version, object addresses.
func maskSample(env map[string]any, httpSocket bool) map[string]any {
	out := map[string]any{}
	for k, v := range env {
		out[k] = v
	}
	for _, k := range []string{"SERVER_PORT", "REMOTE_PORT", "uwsgi.node", "uwsgi.version"} {
		if _, ok := out[k]; ok {
			out[k] = "<MASKED>"
		}
	}
	if httpSocket {
		out["SERVER_NAME"] = "<MASKED>"
	}
	if h, ok := out["HTTP_HOST"].(string); ok {
		if name, _, found := strings.Cut(h, ":"); found {
			out["HTTP_HOST"] = name + ":<PORT>"
		}
	}
	if m, ok := out["wsgi.input"].(map[string]any); ok {
		c := map[string]any{}
		for k, v := range m {
			c[k] = v
		}
		if r, ok := c["repr"].(string); ok {
			c["repr"] = objAddrRE.ReplaceAllString(r, " at 0x<ADDR>>")
		}
		out["wsgi.input"] = c
	}
	return out
}

const sampleRequest = "POST /app/caf%C3%A9?x=1&y=%20 HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n" +
	"Content-Type: application/x-www-form-urlencoded\r\nX-Custom: abc\r\nX-Dup: one\r\nX-Dup: two\r\nCookie: sid=42\r\n" +
	"Content-Length: 11\r\nEXTRA\r\n\r\nhello=world"

// TestEnvironSample replays the request of environ-sample.json over
// http-socket and through nginx, and checks the environ against the sample
// (keys, and values except machine-dependent ones), then compares the two
// implementations (PY-21, WP-16, WP-22, WP-23).
func TestEnvironSample(t *testing.T) {
	RequireTools(t, Nginx)
	raw, err := os.ReadFile(filepath.Join("testdata", "environ-sample.json"))
	if err != nil {
		t.Fatalf("read sample: %v", err)
	}
	var sample environSample
	if err := json.Unmarshal(raw, &sample); err != nil {
		t.Fatalf("parse sample: %v", err)
	}
	// Two workers as in the sample (wsgi.multiprocess is true).
	args := []string{"--plugin", "python3", "--master", "--processes", "2",
		"--http-socket", "{http}", "--socket", "{sock}", "--wsgi-file", "{apps}/envdump.py"}
	Differential(t, Setup{Args: args},
		func(t *testing.T, e *Env) any {
			_, ngxAddr := StartNginx(t, "unix:"+e.Addr("sock"))
			type via struct {
				name, addr, extra string
				want              map[string]any
				httpSocket        bool
			}
			var got []map[string]any
			for _, v := range []via{
				{"http-socket", e.Addr("http"), "", sample.ViaHTTPSocket, true},
				{"nginx", ngxAddr, "Connection: close\r\n", sample.ViaNginx, false},
			} {
				_, port, _ := strings.Cut(v.addr, ":")
				req := strings.Replace(strings.Replace(sampleRequest, "PORT", port, 1), "EXTRA\r\n", v.extra, 1)
				r := Do(t, v.addr, req)
				if r.StatusLine != "HTTP/1.1 200 OK" {
					t.Fatalf("%s: status %q; body %q", v.name, r.StatusLine, r.Body)
				}
				var env map[string]any
				if err := json.Unmarshal(r.Body, &env); err != nil {
					t.Fatalf("%s: environ is not JSON: %v", v.name, err)
				}
				gotM, wantM := maskSample(env, v.httpSocket), maskSample(v.want, v.httpSocket)
				a, _ := json.MarshalIndent(wantM, "", " ")
				b, _ := json.MarshalIndent(gotM, "", " ")
				if string(a) != string(b) {
					t.Errorf("%s: environ differs from environ-sample.json (-sample +got):\n%s", v.name, LineDiff(string(a), string(b)))
				}
				got = append(got, gotM)
			}
			return got
		})
}
