package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
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
		Name  string
		Reply Summary
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
				out = append(out, result{name, Summarise(r, "Date")})
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
			out = append(out, result{fmt.Sprintf("uwsgi_%d_seek", size), Summarise(r, "Date")})
		}
		return out
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
			e := NewEnv(t, Impl{Name: "gosgi", Bin: GosgiBin(t)}, Setup{Args: args})
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
