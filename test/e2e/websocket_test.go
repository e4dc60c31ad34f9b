package e2e

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The uwsgi module's functions that act on the running request: the
// websocket API (PY-50) and PY-41..PY-43 (env, start_response,
// connection_fd, request_id, listen_queue, logsize, accepting,
// log_this_request), run by both servers on the same app.

// wsConn is a minimal RFC 6455 client: enough to drive the server side.
type wsConn struct {
	c net.Conn
	r *bufio.Reader
}

// wsDial sends the upgrade request for path and returns the connection
// with the server's response head.
func wsDial(t *testing.T, addr, path string) (*wsConn, string) {
	t.Helper()
	c, err := Dial(addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	return wsHandshake(t, c, path)
}

// wsHandshake sends the upgrade request for path on c (plain or TLS).
func wsHandshake(t *testing.T, c net.Conn, path string) (*wsConn, string) {
	t.Helper()
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(RequestTimeout))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://example.org\r\n\r\n", path)
	ws := &wsConn{c: c, r: bufio.NewReader(c)}
	var head strings.Builder
	for !strings.HasSuffix(head.String(), "\r\n\r\n") {
		b, err := ws.r.ReadByte()
		if err != nil {
			t.Fatalf("reading the handshake answer: %v (got %q)", err, head.String())
		}
		head.WriteByte(b)
	}
	return ws, head.String()
}

// send writes one masked frame, as clients must.
func (ws *wsConn) send(t *testing.T, opcode byte, payload []byte) {
	t.Helper()
	f := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n <= 0xFFFF:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	mask := []byte{0x12, 0x34, 0x56, 0x78}
	f = append(f, mask...)
	for i, b := range payload {
		f = append(f, b^mask[i%4])
	}
	if _, err := ws.c.Write(f); err != nil {
		t.Fatalf("send frame: %v", err)
	}
}

// frame writes one masked frame with the given first byte (FIN bit and
// opcode as they are), to build fragmented messages.
func (ws *wsConn) frame(t *testing.T, first byte, payload string) {
	t.Helper()
	mask := []byte{1, 2, 3, 4}
	f := []byte{first, 0x80 | byte(len(payload))}
	f = append(f, mask...)
	for i := range len(payload) {
		f = append(f, payload[i]^mask[i%4])
	}
	if _, err := ws.c.Write(f); err != nil {
		t.Fatalf("send frame: %v", err)
	}
}

// recv reads the next frame that is not a ping from the server (pings are
// answered: both servers may ping whenever they like).
func (ws *wsConn) recv(t *testing.T) (first byte, payload []byte) {
	t.Helper()
	for {
		var h [2]byte
		if _, err := io.ReadFull(ws.r, h[:]); err != nil {
			t.Fatalf("read frame: %v", err)
		}
		n := uint64(h[1] & 0x7F)
		switch n {
		case 126:
			var b [2]byte
			io.ReadFull(ws.r, b[:])
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			io.ReadFull(ws.r, b[:])
			n = binary.BigEndian.Uint64(b[:])
		}
		payload = make([]byte, n)
		if _, err := io.ReadFull(ws.r, payload); err != nil {
			t.Fatalf("read payload: %v", err)
		}
		if h[0]&0x0F == 0x9 {
			ws.send(t, 0xA, payload)
			continue
		}
		return h[0], payload
	}
}

// TestWebsocket: PY-50 websocket_handshake/recv/recv_nb/send/send_binary on
// http-socket: the 101 head byte for byte, text and binary messages, a
// message split in fragments, a 70 000-byte message, the answer to a ping,
// recv_nb with nothing pending, the close handshake (the app's recv raises
// OSError), and the request log line (status 101, the frames counted as
// the body).
func TestWebsocket(t *testing.T) {
	for _, front := range []string{"--http-socket", "--http"} {
		t.Run(front, func(t *testing.T) { testWebsocket(t, front) })
	}
}

// testWebsocket runs TestWebsocket's conversation on one front: an
// http-socket, or the http router address with http-websockets.
func testWebsocket(t *testing.T, front string) {
	args := []string{"--plugin", "python3,http", "--master", front, "{http}", "--processes", "1",
		"--wsgi-file", "{apps}/uwsgimod_request.py"}
	if front == "--http" {
		args = append(args, "--http-websockets")
	}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		out := map[string]any{}
		ws, head := wsDial(t, e.Addr("http"), "/ws")
		out["head"] = head
		var got []string
		exchange := func(opcode byte, msg []byte) {
			ws.send(t, opcode, msg)
			first, p := ws.recv(t)
			if len(p) > 40 {
				got = append(got, fmt.Sprintf("%#x %d bytes %q...", first, len(p), p[:12]))
				return
			}
			got = append(got, fmt.Sprintf("%#x %q", first, p))
		}
		exchange(0x1, []byte("hello"))
		exchange(0x2, []byte("binary"))
		exchange(0x2, []byte(strings.Repeat("x", 70000)))
		exchange(0x1, []byte("nb"))
		ws.send(t, 0x9, nil)
		first, p := ws.recv(t)
		got = append(got, fmt.Sprintf("ping answered: %#x %q", first, p))
		ws.send(t, 0x1, []byte("bye"))
		first, p = ws.recv(t)
		got = append(got, fmt.Sprintf("%#x %q", first, p))
		// The second session ends with a close frame from the client.
		ws2, _ := wsDial(t, e.Addr("http"), "/ws")
		ws2.send(t, 0x8, nil)
		first, p = ws2.recv(t)
		got = append(got, fmt.Sprintf("close answered: %#x %q", first, p))
		out["messages"] = got
		lines := e.Srv.WaitLogCount(t, `(?m)^.*GET /ws => .*$`, 2, StartTimeout)
		var logged []string
		for _, m := range lines {
			logged = append(logged, NormaliseRequestLine(m[0]))
		}
		out["log"] = logged
		if !LogHasLine(e.Srv.Log(), "OSError: unable to receive websocket message") {
			t.Errorf("the close frame did not end the app's recv with OSError:\n%s", tail(e.Srv.Log()))
		}
		if e.Impl.Name == "gosgi" {
			checkWebsocketRFC(t, e.Addr("http"))
		}
		return out
	})
}

// checkWebsocketRFC: where uWSGI 2.0.21 departs from RFC 6455 gosgi follows
// the RFC (docs/compat.md): a message split in fragments is reassembled
// (uWSGI hands the app the first fragment's bytes and loses sync), and a
// pong carries the ping's payload.
func checkWebsocketRFC(t *testing.T, addr string) {
	t.Helper()
	ws, _ := wsDial(t, addr, "/ws")
	ws.frame(t, 0x01, "fra") // text, not final
	ws.frame(t, 0x00, "gm")  // continuation
	ws.frame(t, 0x80, "ent") // final continuation
	if first, p := ws.recv(t); first != 0x81 || string(p) != "echo:fragment" {
		t.Errorf("fragmented message: got %#x %q, want 0x81 \"echo:fragment\"", first, p)
	}
	ws.send(t, 0x9, []byte("are you there"))
	if first, p := ws.recv(t); first != 0x8A || string(p) != "are you there" {
		t.Errorf("pong: got %#x %q, want 0x8a with the ping's payload", first, p)
	}
	ws.send(t, 0x1, []byte("bye"))
	ws.recv(t)
}

// TestUwsgiRequestAPI: PY-41 uwsgi.env and uwsgi.start_response are the
// running request's, PY-42 connection_fd, request_id (this core's completed
// requests), listen_queue, logsize, accepting, PY-43 log_this_request under
// disable-logging, as uWSGI answers them.
func TestUwsgiRequestAPI(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--processes", "1",
		"--disable-logging", "--wsgi-file", "{apps}/uwsgimod_request.py"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		addr := e.Addr("http")
		out := map[string]any{"first": bodyLines(t, addr, "/"), "second": bodyLines(t, addr, "/")}
		out["quiet"] = bodyLines(t, addr, "/quiet")
		out["forced"] = bodyLines(t, addr, "/forced")
		m := e.Srv.WaitLog(t, `(?m)^.*GET /forced => .*$`, StartTimeout)
		out["forced log"] = NormaliseRequestLine(m[0])
		if LogHasLine(e.Srv.Log(), "GET /quiet") || LogHasLine(e.Srv.Log(), "GET / ") {
			t.Errorf("disable-logging: a request without log_this_request was logged:\n%s", tail(e.Srv.Log()))
		}
		if e.Impl.Name == "gosgi" {
			// uWSGI writes the frame without any HTTP head; gosgi refuses.
			got := bodyLines(t, addr, "/no-handshake")
			if want := "OSError websocket handshake not done for this request"; len(got) != 1 || got[0] != want {
				t.Errorf("websocket_send before the handshake: got %q, want %q", got, want)
			}
		}
		return out
	})
}

// TestUwsgiSendfile: PY-50 uwsgi.sendfile() with a path, a file object, a
// descriptor and a (pos, size) slice sends the file at once, logged "via
// sendfile()" as uWSGI does.
func TestUwsgiSendfile(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--processes", "1",
		"--wsgi-file", "{apps}/uwsgimod_request.py"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		out := map[string]any{}
		for _, how := range []string{"path", "file", "fd", "range"} {
			r := Do(t, e.Addr("http"), Get("/sendfile/"+how))
			m := e.Srv.WaitLog(t, `(?m)^.*GET /sendfile/`+how+` => .*$`, StartTimeout)
			out[how] = []string{r.StatusLine, string(r.Body), NormaliseRequestLine(m[0])}
		}
		return out
	})
}

// TestUwsgiMiscAPI: PY-50 cl, parsefile, extract, embedded_data, the legion
// queries of an instance without legions, connect/send/recv/close/
// is_connected, and disconnect (the client sees the connection close
// without an answer), as uWSGI answers them.
func TestUwsgiMiscAPI(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--processes", "1",
		"--enable-threads", "--wsgi-file", "{apps}/uwsgimod_misc.py"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		r := Do(t, e.Addr("http"), Request("POST", "/", "abcd"))
		raw, err := RawExchange(e.Addr("http"), []byte(Get("/disconnect")))
		return map[string]any{
			"api":        strings.Split(strings.TrimRight(string(r.Body), "\n"), "\n"),
			"disconnect": fmt.Sprintf("%q err=%v", raw, err != nil),
		}
	})
}

// TestWebsocketPing: with websockets-ping-freq and websockets-pong-tolerance
// the server pings an idle peer and gives up on one that never answers:
// the app's recv raises OSError and the log names the request.
func TestWebsocketPing(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--processes", "1",
		"--websockets-ping-freq", "1", "--websockets-pong-tolerance", "1",
		"--wsgi-file", "{apps}/uwsgimod_request.py"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		ws, _ := wsDial(t, e.Addr("http"), "/ws")
		var h [2]byte
		if _, err := io.ReadFull(ws.r, h[:]); err != nil {
			t.Fatalf("no ping: %v", err)
		}
		// Not answered: the server closes the connection.
		_, err := ws.r.ReadByte()
		m := e.Srv.WaitLog(t, `(?m)^\[uwsgi-websocket\] .*$`, StartTimeout)
		line := e.Srv.WaitLog(t, `(?m)^.*GET /ws => .*$`, StartTimeout)
		return []string{fmt.Sprintf("%#x %#x", h[0], h[1]), fmt.Sprint(err), m[0],
			NormaliseRequestLine(line[0])}
	})
}

// TestUwsgiChunkedRead: PY-50 uwsgi.chunked_read() decodes a chunk-encoded
// request body on http-socket, one chunk per call and b"" after the last
// (wsgi.input reads nothing: there is no CONTENT_LENGTH), whether the
// chunks came with the head or later. Where uWSGI 2.0.21 departs from RFC
// 9112 gosgi follows the RFC: a chunk extension is ignored (uWSGI fails
// the read) and a malformed size raises OSError (uWSGI takes it as the
// last chunk).
func TestUwsgiChunkedRead(t *testing.T) {
	for _, front := range []string{"--http-socket", "--http"} {
		t.Run(front, func(t *testing.T) { testChunkedRead(t, front) })
	}
}

// testChunkedRead runs TestUwsgiChunkedRead on one front: an http-socket,
// or the http router address with http-chunked-input.
func testChunkedRead(t *testing.T, front string) {
	args := []string{"--plugin", "python3,http", "--master", front, "{http}", "--processes", "1",
		"--wsgi-file", "{apps}/uwsgimod_request.py"}
	if front == "--http" {
		args = append(args, "--http-chunked-input")
	}
	head := "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		out := map[string]string{}
		one, err := RawExchange(e.Addr("http"), []byte(head+"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"))
		out["with the head"] = string(one) + errString(err)
		// The rest of the body arrives after the app started reading.
		c, err := Dial(e.Addr("http"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(RequestTimeout))
		io.WriteString(c, head+"3\r\nabc\r\n")
		e.Srv.Settle()
		io.WriteString(c, "a\r\n0123456789\r\n0\r\n\r\n")
		later, _ := io.ReadAll(c)
		out["later"] = string(later)
		if e.Impl.Name == "gosgi" {
			for body, want := range map[string]string{
				"5;name=value\r\nhello\r\n0\r\n\r\n": "b'' b'hello' b''\n",
				"zz\r\nhello\r\n0\r\n\r\n":           "b'' OSError unable to receive chunked part\n",
			} {
				raw, _ := RawExchange(e.Addr("http"), []byte(head+body))
				if r, err := ParseResponse(raw); err != nil || string(r.Body) != want {
					t.Errorf("body %q: got %q, want the body %q", body, raw, want)
				}
			}
		}
		return out
	})
}

// TestWebsocketGevent: under gevent = N two websocket sessions share one
// worker, each waiting for its peer in the hub (neither could go on if a
// session held the worker), and the request API finds each greenlet's
// request (uwsgi.env, connection_fd), as with uWSGI's gevent loop.
func TestWebsocketGevent(t *testing.T) {
	args := []string{"--plugins", "python3,gevent_python3", "--master", "--gevent", "10", "--processes", "1",
		"--http-socket", "{http}", "--wsgi-file", "{apps}/uwsgimod_request.py"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		a, _ := wsDial(t, e.Addr("http"), "/ws")
		b, _ := wsDial(t, e.Addr("http"), "/ws")
		var got []string
		a.send(t, 0x1, []byte("one"))
		b.send(t, 0x1, []byte("two"))
		for _, ws := range []*wsConn{b, a} {
			first, p := ws.recv(t)
			got = append(got, fmt.Sprintf("%#x %q", first, p))
		}
		// While both sessions are open, a plain request is served too.
		got = append(got, bodyLines(t, e.Addr("http"), "/")[:2]...)
		// a's greenlet wakes in websocket_recv after b's ran: its pong
		// must go to a's client.
		b.send(t, 0x1, []byte("three"))
		first, p := b.recv(t)
		got = append(got, fmt.Sprintf("%#x %q", first, p))
		a.send(t, 0x9, nil)
		first, p = a.recv(t)
		got = append(got, fmt.Sprintf("pong on a: %#x %q", first, p))
		for _, ws := range []*wsConn{a, b} {
			ws.send(t, 0x1, []byte("bye"))
			first, p := ws.recv(t)
			got = append(got, fmt.Sprintf("%#x %q", first, p))
		}
		return got
	})
}

// TestWebsocketTLS: a websocket over https-socket (wss://): the TLS front
// passes the app's 101 answer and then the frames both ways, as uWSGI's
// https-socket does.
func TestWebsocketTLS(t *testing.T) {
	ca := newTLSCA(t, t.TempDir())
	Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
		dir := e.Vars["dir"]
		crt, key := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
		ca.issue(t, crt, key, 100)
		addr := e.Addr("http")
		e.Srv = Start(t, e.Impl.Name, e.Impl.Bin, []string{"--plugin", "python3", "--master", "--processes", "1",
			"--https-socket", addr + "," + crt + "," + key, "--wsgi-file", filepath.Join(e.Vars["apps"], "uwsgimod_request.py")},
			StartOptions{Dir: dir})
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
			&tls.Config{RootCAs: ca.pool, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatalf("TLS dial %s: %v", addr, err)
		}
		ws, head := wsHandshake(t, c, "/ws")
		status, _, _ := strings.Cut(head, "\r\n")
		var got []string
		for _, m := range []string{"over tls", "binary", "bye"} {
			ws.send(t, 0x1, []byte(m))
			first, p := ws.recv(t)
			got = append(got, fmt.Sprintf("%#x %q", first, p))
		}
		line := e.Srv.WaitLog(t, `(?m)^.*GET /ws => .*$`, StartTimeout)
		return map[string]any{"status": status, "messages": got, "log": NormaliseSwitches(NormaliseRequestLine(line[0]))}
	})
}

// TestUwsgiAddVar: PY-50 uwsgi.add_var adds a variable the request log
// sees (logformat %(var.KEY)); set_warning_message returns True.
func TestUwsgiAddVar(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--processes", "1",
		"--logformat", "VARS %(uri) [%(var.MYVAR)] [%(var.OTHER)] [%(var.MISSING)] [%(var.REQUEST_METHOD)]",
		"--wsgi-file", "{apps}/uwsgimod_misc.py"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		body := bodyLines(t, e.Addr("http"), "/addvar")
		line := e.Srv.WaitLog(t, `(?m)^VARS .*$`, StartTimeout)
		return []string{body[0], line[0]}
	})
}

// TestUwsgiChunkedReadGevent: under gevent = N, uwsgi.chunked_read() waits
// for the next chunk in the hub: another request is served meanwhile, and
// the body's chunks still reach the app that asked for them.
func TestUwsgiChunkedReadGevent(t *testing.T) {
	args := []string{"--plugins", "python3,gevent_python3", "--master", "--gevent", "4", "--processes", "1",
		"--http-socket", "{http}", "--wsgi-file", "{apps}/uwsgimod_request.py"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		c, err := Dial(e.Addr("http"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(RequestTimeout))
		io.WriteString(c, "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
		other := bodyLines(t, e.Addr("http"), "/quiet")
		io.WriteString(c, "4\r\ndefg\r\n0\r\n\r\n")
		raw, _ := io.ReadAll(c)
		r, err := ParseResponse(raw)
		if err != nil {
			t.Fatalf("chunked request: %v (%q)", err, raw)
		}
		return []string{other[0], strings.TrimSpace(string(r.Body))}
	})
}
