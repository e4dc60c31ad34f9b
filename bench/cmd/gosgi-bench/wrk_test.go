package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	tests := []struct {
		file                       string
		requests, status, sockErrs int64
		p99, max                   int64
		rps                        float64
	}{
		{"testdata/wrk-http-socket.out", 63980, 0, 0, 2723, 9542, 31922},
		{"testdata/wrk-reload.out", 95800, 0, 0, 996421, 1028349, 15882},
		{"testdata/wrk-keepalive-errors.out", 2664, 7, 2664, 165523, 211063, 1317},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		r, err := parseWrk(b)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if r.Requests != tt.requests || r.Status != tt.status || r.SocketErrors() != tt.sockErrs ||
			r.Errors() != tt.status+tt.sockErrs || r.P99US != tt.p99 || r.MaxUS != tt.max {
			t.Errorf("%s: parsed %+v", tt.file, r)
		}
		if d := r.RPS() - tt.rps; d < -1 || d > 1 {
			t.Errorf("%s: RPS = %.1f, want %.0f", tt.file, r.RPS(), tt.rps)
		}
	}
}

func TestParseWrkRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"Running 2s test\nRequests/sec: 100\n",
		wrkMarker + "{\"requests\":1}\n", // zero duration
		wrkMarker + "{\"requests\":-1,\"duration_us\":5}\n",
		wrkMarker + "{\"requests\":1,\"duration_us\":5,\"extra\":1}\n",
		wrkMarker + "not json\n",
	} {
		if r, err := parseWrk([]byte(in)); err == nil {
			t.Errorf("parseWrk(%q) = %+v, want an error", in, r)
		}
	}
}

func FuzzParseWrk(f *testing.F) {
	for _, file := range []string{"testdata/wrk-http-socket.out", "testdata/wrk-keepalive-errors.out"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(wrkMarker + "{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseWrk(b)
		if err != nil {
			return
		}
		if r.DurationUS <= 0 || r.Requests < 0 || r.Errors() < 0 || r.RPS() < 0 {
			t.Fatalf("parseWrk accepted %+v", r)
		}
	})
}

// TestWrkScriptRequests runs the real wrk with the suite's script against a
// recording TCP server and checks the request heads: HTTP/1.0 + close for
// direct modes (TOP-7: one request per connection), HTTP/1.1 keep-alive for nginx, POST with the full body.
func TestWrkScriptRequests(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Fatalf("wrk is required (Debian package wrk): %v", err)
	}
	tests := []struct {
		keep      bool
		post      int
		wantLine  string
		wantClose bool
	}{
		{false, 0, "GET / HTTP/1.0", true},
		{true, 0, "GET / HTTP/1.1", false},
		{false, 4096, "POST / HTTP/1.0", true},
	}
	for _, tt := range tests {
		heads, url := recordingServer(t)
		r, err := runWrk(context.Background(), wrkRun{URL: url, Duration: time.Second, Conns: 2, KeepAlive: tt.keep, PostBytes: tt.post, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if r.Requests == 0 || r.Errors() != 0 {
			t.Errorf("%s: %d requests, %d errors", tt.wantLine, r.Requests, r.Errors())
		}
		h := heads()
		if len(h) == 0 {
			t.Fatalf("%s: no request recorded", tt.wantLine)
		}
		first := h[0]
		if !strings.HasPrefix(first.head, tt.wantLine+"\r\n") {
			t.Errorf("request head %q, want line %q", first.head, tt.wantLine)
		}
		if got := strings.Contains(first.head, "Connection: close\r\n"); got != tt.wantClose {
			t.Errorf("%s: Connection: close present = %v, want %v", tt.wantLine, got, tt.wantClose)
		}
		if first.bodyLen != tt.post {
			t.Errorf("%s: body of %d bytes, want %d", tt.wantLine, first.bodyLen, tt.post)
		}
	}
}

type recorded struct {
	head    string
	bodyLen int
}

// recordingServer answers every request with a tiny 200 (closing the
// connection for HTTP/1.0) and records request heads and body sizes.
func recordingServer(t *testing.T) (func() []recorded, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []recorded
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					var head strings.Builder
					clen := 0
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						head.WriteString(line)
						if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && strings.EqualFold(k, "Content-Length") {
							clen = atoiOr0(strings.TrimSpace(v))
						}
						if line == "\r\n" {
							break
						}
					}
					n, _ := io.CopyN(io.Discard, br, int64(clen))
					mu.Lock()
					if len(got) < 100 {
						got = append(got, recorded{head.String(), int(n)})
					}
					mu.Unlock()
					h10 := strings.Contains(head.String(), "HTTP/1.0\r\n")
					if h10 {
						io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
						return
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}(c)
		}
	}()
	t.Cleanup(func() { l.Close() })
	return func() []recorded {
		mu.Lock()
		defer mu.Unlock()
		return append([]recorded(nil), got...)
	}, "http://" + l.Addr().String() + "/"
}

func atoiOr0(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}
