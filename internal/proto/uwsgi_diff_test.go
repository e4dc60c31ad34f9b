package proto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gosgi/gosgi/internal/realuwsgi"
)

func exchange(t *testing.T, addr string, req []byte) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	resp, _ := io.ReadAll(c) // a reset is a valid answer to a dropped request
	return resp
}

// TestAgainstRealUWSGI is the live differential test: the same bytes go to
// the real uWSGI (an http-socket and a uwsgi socket) and to this package.
// For HTTP heads, the CGI variables the app sees and the `{N vars in B
// bytes}` figures of uWSGI's log line must equal what ParseHTTP builds; for
// uwsgi packets, ParseVars must accept what uWSGI serves and refuse with
// the very message uWSGI logs, having parsed the same number of pairs.
func TestAgainstRealUWSGI(t *testing.T) {
	httpAddr, uwsgiAddr := realuwsgi.FreeAddr(t), realuwsgi.FreeAddr(t)
	logbuf := realuwsgi.Start(t, 1, "--plugin", "python3", "--http-socket", httpAddr, "--socket", uwsgiAddr,
		"--wsgi-file", "testdata/envapp.py")
	deadline := time.Now().Add(20 * time.Second)
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(httpAddr)
	opts := HTTPOptions{ServerName: hostname, ServerPort: port, RemoteAddr: "127.0.0.1"}

	total := 0
	// logFor waits for the request line of request number n (req: x/n)
	// and returns it with the line before it.
	logFor := func(n int) (prev, line string) {
		re := regexp.MustCompile(`(?m)^(.*)\n(\[pid: \d+\|app: -?\d+\|req: -?\d+/` + fmt.Sprint(n) + `\] .*)$`)
		for {
			if m := re.FindStringSubmatch(logbuf.Log()); m != nil {
				return m[1], m[2]
			}
			if time.Now().After(deadline) {
				t.Fatalf("no log line for request %d:\n%s", n, logbuf.Log())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	heads := []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /foo/bar?x=1&y=2 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
		"POST /app/caf%C3%A9?x=1&y=%20 HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Dup: one\r\nX-Dup: two\r\nCookie: sid=42\r\nContent-Length: 11\r\n\r\nhello=world",
		"GET /a%2Fb%zz%4 HTTP/1.0\r\nX-A: 1\r\n  cont\r\nX-A: 2\r\nX-B:   sp  \r\n\tc2\r\nx-a: 3\r\n\r\n",
		"GET /a+b%41 HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\nHost:x\r\n\r\nabc",
		"GET /%z1%1z%4a%4A%g%41 HTTP/1.1\r\n\r\n",
		"GET /x% HTTP/1.1\r\n\r\n",
		"GET /p HTTP/1.1 extra\r\nA:b\r\n\r\n",
		"GET /p HTTP/1.1\r\nA:b\nB:c\r\nEmpty:\r\n\r\n",
		"GET /p HTTP/1.1\r\nContent-Type: a\r\ncontent-type: b\r\nX_Under: u\r\nX-Under: v\r\n\r\n",
		"DELETE /%E2%82%AC/%25?q=%41#frag HTTP/1.1\r\nA:\t b\t\r\nCONNECTION: Keep-Alive\r\n\r\n",
	}
	for _, raw := range heads {
		resp := exchange(t, httpAddr, []byte(raw))
		total++
		_, body, ok := bytes.Cut(resp, []byte("\r\n\r\n"))
		if !ok {
			t.Fatalf("%q: response %q", raw, resp)
		}
		var env map[string]string
		if err := json.Unmarshal(body, &env); err != nil {
			t.Fatalf("%q: %v in %q", raw, err, body)
		}
		var r Request
		_, blk, err := ParseHTTP([]byte(raw), nil, &opts, &r)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		got := map[string]string{}
		for _, kv := range kvOf(blk) {
			got[kv[0]] = kv[1]
		}
		for k, v := range env {
			if got[k] != latin1(v) {
				t.Errorf("%q: %s = %q, uWSGI gave %q", raw, k, got[k], latin1(v))
			}
		}
		for k := range got {
			if _, ok := env[k]; !ok {
				t.Errorf("%q: extra variable %s", raw, k)
			}
		}
		_, line := logFor(total)
		if want := fmt.Sprintf("{%d vars in %d bytes}", 2*r.Pairs, len(blk)); !strings.Contains(line, want) {
			t.Errorf("%q: uWSGI logged %q, we have %s", raw, line, want)
		}
	}

	// The block-size limit: the largest header that fits, then one byte
	// more, which uWSGI drops with a warning and no request line.
	var r Request
	fixedHead := "GET / HTTP/1.1\r\nX: \r\n\r\n"
	_, blk, err := ParseHTTP([]byte(fixedHead), nil, &opts, &r)
	if err != nil {
		t.Fatal(err)
	}
	fits := 4095 - len(blk)
	for _, n := range []int{fits, fits + 1} {
		raw := "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", n) + "\r\n\r\n"
		resp := exchange(t, httpAddr, []byte(raw))
		_, _, perr := ParseHTTP([]byte(raw), nil, &opts, &r)
		if n == fits {
			total++
			_, line := logFor(total)
			if perr != nil || !bytes.HasPrefix(resp, []byte("HTTP/1.1 200")) || !strings.Contains(line, "vars in 4095 bytes}") {
				t.Fatalf("limit: ParseHTTP %v, uWSGI %q", perr, line)
			}
			continue
		}
		if perr == nil || len(resp) != 0 {
			t.Fatalf("over the limit: ParseHTTP %v, uWSGI answered %q", perr, resp)
		}
		for !strings.Contains(logbuf.Log(), perr.Error()+"\n") {
			if time.Now().After(deadline) {
				t.Fatalf("uWSGI did not log %q", perr.Error()[:60])
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// WP-5: a datasize above buffer-size.
	big := AppendHeader(nil, Header{Size: 5090})
	exchange(t, uwsgiAddr, append(big, bytes.Repeat([]byte{'x'}, 5090)...))
	serr := CheckSize(ParseHeader(big), 4096)
	for serr == nil || !strings.Contains(logbuf.Log(), serr.Error()+"\n") {
		if serr == nil || time.Now().After(deadline) {
			t.Fatalf("CheckSize %v; uWSGI log:\n%s", serr, logbuf.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}

	base := block("REQUEST_METHOD", "GET", "PATH_INFO", "/", "SERVER_PROTOCOL", "HTTP/1.1")
	with := func(tail ...byte) []byte { return append(append([]byte(nil), base...), tail...) }
	many := func(n int) []byte {
		b := append([]byte(nil), base...)
		for i := 0; i < n; i++ {
			b = AppendVar(b, fmt.Sprintf("K%d", i), "v")
		}
		return b
	}
	packets := [][]byte{
		base,
		with(1, 0, 'A', 0, 0),
		with(1),
		with(1, 0),
		with(1, 0, 'A'),
		with(1, 0, 'A', 0),
		with(1, 0, 'A', 5, 0, 'a', 'b', 'c'),
		with(9, 0, 'A'),
		with(0, 0, 1, 0, 'x'),
		many(125),
		many(126),
		block("REQUEST_METHOD", "GET", "HTTP_X_DUP", "one", "HTTP_X_DUP", "two", "CONTENT_LENGTH", "12abc"),
	}
	for _, pkt := range packets {
		req := AppendHeader(nil, Header{Size: uint16(len(pkt))})
		req = append(req, pkt...)
		exchange(t, uwsgiAddr, req)
		total++
		var r Request
		perr := ParseVars(pkt, 64, &r)
		prev, line := logFor(total)
		if want := fmt.Sprintf("{%d vars in %d bytes}", 2*r.Pairs, len(pkt)); !strings.Contains(line, want) {
			t.Errorf("packet %q: uWSGI logged %q, we have %s", pkt, line, want)
		}
		refused := strings.Contains(line, "|app: -1|")
		if (perr != nil) != refused {
			t.Errorf("packet %q: ParseVars error %v, uWSGI line %q", pkt, perr, line)
		}
		if perr != nil && prev != perr.Error() {
			t.Errorf("packet %q: uWSGI logged %q, ParseVars said %q", pkt, prev, perr.Error())
		}
	}
}
