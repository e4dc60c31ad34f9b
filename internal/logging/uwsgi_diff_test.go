package logging

import (
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosgi/gosgi/internal/realuwsgi"

	"github.com/gosgi/gosgi/internal/proto"
)

var realLine = regexp.MustCompile(`(?m)^\[pid: (\d+)\|app: \d+\|req: \d+/\d+\] .* \[(.{24})\] .* in (\d+) msecs .*\n`)

// TestRequestLineMatchesUWSGI runs the real uWSGI (http-socket, python3
// plugin), sends it requests, and checks that AppendRequestLine, fed with
// the same figures (the variable block from proto.ParseHTTP, the response
// as the client saw it), writes the very line uWSGI wrote. Only the pid,
// the date and the msecs are taken from uWSGI's line (LG-1, LG-2).
func TestRequestLineMatchesUWSGI(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)

	stderr := realuwsgi.Start(t, 1, "--plugin", "python3", "--http-socket", addr, "--wsgi-file", "testdata/app.py")
	deadline := time.Now().Add(15 * time.Second)

	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	opts := proto.HTTPOptions{ServerName: hostname, ServerPort: port, RemoteAddr: "127.0.0.1"}
	requests := []struct {
		raw   string
		fails bool // the app raises before start_response
	}{
		{raw: "GET /foo/bar?x=1&y=2 HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n"},
		{raw: "POST /submit HTTP/1.0\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-Dup: a\r\nX-Dup: b\r\n\r\nhello"},
		{raw: "GET /raise HTTP/1.1\r\nHost: h\r\n\r\n", fails: true},
	}
	var want []byte
	for i, rq := range requests {
		resp := roundTrip(t, addr, rq.raw)
		var r proto.Request
		_, block, err := proto.ParseHTTP([]byte(rq.raw), nil, &opts, &r)
		if err != nil {
			t.Fatalf("ParseHTTP: %v", err)
		}
		l := RequestLine{App: 0, AppRequests: int64(i + 1), Total: int64(i + 1), Addr: r.RemoteAddr,
			User: r.RemoteUser, Vars: 2 * r.Pairs, VarsBytes: len(block), Method: r.Method, URI: r.URI,
			Proto: r.Proto}
		if rq.fails {
			l.Status = 500 // no response head was generated (LG-2)
		} else {
			head, body, ok := strings.Cut(resp, "\r\n\r\n")
			if !ok {
				t.Fatalf("response %q", resp)
			}
			l.HeaderBytes = len(head) + 4
			l.Headers = strings.Count(head, "\r\n")
			l.Size = int64(len(body))
			l.Switches = 3 // testdata/app.py returns three chunks: one switch each (LG-2)
			fields := strings.Fields(head)
			if l.Status, err = strconv.Atoi(fields[1]); err != nil {
				t.Fatalf("status line %q", head)
			}
		}
		// Wait for uWSGI's line for this request, then take its pid,
		// date and msecs.
		var m [][]string
		for {
			m = realLine.FindAllStringSubmatch(stderr.Log(), -1)
			if len(m) > i {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no request line %d in:\n%s", i+1, stderr.Log())
			}
			time.Sleep(20 * time.Millisecond)
		}
		l.Pid, _ = strconv.Atoi(m[i][1])
		if l.Start, err = time.ParseInLocation("Mon Jan _2 15:04:05 2006", m[i][2], time.Local); err != nil {
			t.Fatal(err)
		}
		ms, _ := strconv.Atoi(m[i][3])
		l.Duration = time.Duration(ms) * time.Millisecond
		want = append(want, m[i][0]...)
		got := AppendRequestLine(nil, &l)
		if string(got) != m[i][0] {
			t.Errorf("request %d:\n gosgi: %q\n uwsgi: %q", i+1, got, m[i][0])
		}
	}
	if len(want) == 0 {
		t.Fatal("no lines compared")
	}
}

func roundTrip(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return string(resp)
}
