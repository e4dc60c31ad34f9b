package worker

import (
	"bytes"
	"encoding/binary"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosgi/gosgi/internal/boot"
	"github.com/gosgi/gosgi/internal/embed"
)

// A connection whose request head did not arrive whole in the first read,
// or a keep-alive connection waiting for its next request, is handed to a
// goroutine: the netpoller waits for the client, with deadlines, while the
// cores go back to accepting. Once the head is complete the connection is
// queued, and an idle core is woken to serve it. A slow client therefore
// never holds a Python core (DESIGN §3).

// pending is a connection with a complete request head ready for a core.
type pending struct {
	conn        // file owns the fd from the hand-off on: close through it
	data []byte // bytes read so far: the whole head, maybe some body
}

type readyQueue struct {
	mu    sync.Mutex
	items []*pending
	n     atomic.Int32
}

func (q *readyQueue) push(p *pending) {
	q.mu.Lock()
	q.items = append(q.items, p)
	q.n.Store(int32(len(q.items)))
	q.mu.Unlock()
}

func (q *readyQueue) pop() *pending {
	if q.n.Load() == 0 {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return nil
	}
	p := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	q.n.Store(int32(len(q.items)))
	return p
}

// handoff gives fd to a goroutine that finishes reading the head.
// keepalive marks a connection between two requests (idle timeout).
func (w *Worker) handoff(c conn, partial []byte) {
	fd, file := c.fd, c.file
	if file == nil {
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fd)
			return
		}
		file = os.NewFile(uintptr(fd), "client")
	} else if err := unix.SetNonblock(fd, true); err != nil {
		file.Close()
		return
	}
	w.inflight.Add(1)
	go func() {
		defer w.inflight.Add(-1)
		c.file = file
		p := &pending{conn: c}
		if w.readHead(p, partial) {
			w.ready.push(p)
			w.wakeCore()
		} else {
			file.Close()
		}
	}()
}

// readHead reads until the request head is complete (or the head buffer is
// full, which the core reports as an error), within socket-timeout.
func (w *Worker) readHead(p *pending, partial []byte) bool {
	max := w.cfg.BufferSize + 4
	buf := make([]byte, len(partial), max+4096)
	copy(buf, partial)
	p.file.SetReadDeadline(time.Now().Add(w.clientTimeout(p.sock)))
	if len(partial) == 0 { // between two keep-alive requests: closed on stop
		w.idleConns.Store(p.file, struct{}{})
		defer w.idleConns.Delete(p.file)
		if w.stopping.Load() {
			return false
		}
	}
	for !headComplete(p.sock.Proto, buf, w.cfg.BufferSize) {
		n, err := p.file.Read(buf[len(buf):cap(buf)])
		if n > 0 {
			buf = buf[:len(buf)+n]
			continue
		}
		if err != nil {
			return false // timeout, EOF or reset: nothing to answer
		}
	}
	if err := unix.SetNonblock(p.fd, false); err != nil {
		return false
	}
	p.data = buf
	return true
}

// headComplete reports whether buf holds a whole request head, or is too
// large to ever become one (the core then logs the error).
func headComplete(proto string, buf []byte, bufferSize int) bool {
	if proto == "uwsgi" {
		if len(buf) < 4 {
			return false
		}
		size := int(binary.LittleEndian.Uint16(buf[1:3]))
		return size > bufferSize || len(buf) >= 4+size
	}
	return len(buf) >= bufferSize || bytes.Contains(buf, []byte("\r\n\r\n"))
}

// wakeCore interrupts an idle core's accept() so it takes a queued
// connection; it retries while the queue is not drained, to cover a core
// that went idle just after the check.
func (w *Worker) wakeCore() {
	if f := w.geventWake.Load(); f != nil { // gevent mode: the hub loop takes it
		f.Write([]byte{1})
		return
	}
	select { // a core without sockets to accept on waits here
	case w.wake <- struct{}{}:
	default:
	}
	for i := 0; w.ready.n.Load() > 0 && i < 500; i++ {
		for _, c := range w.cores {
			if tid := c.tid.Load(); tid > 0 && c.idle.Load() {
				unix.Tgkill(w.pid, int(tid), unix.SIGURG)
				break
			}
		}
		time.Sleep(min(time.Duration(i+1)*200*time.Microsecond, 10*time.Millisecond))
	}
}

// clientTimeout bounds each wait for a client: http-timeout on the http
// router address (uWSGI's router process applies it), socket-timeout
// elsewhere.
func (w *Worker) clientTimeout(s *boot.Socket) time.Duration {
	if s != nil && s.Proto == "router" && w.cfg.HTTPTimeout > 0 {
		return time.Duration(w.cfg.HTTPTimeout) * time.Second
	}
	return time.Duration(w.cfg.SocketTimeout) * time.Second
}

// setClientTimeout bounds the core's blocking reads and writes on fd
// (accepted sockets inherit the listener's socket-timeout).
func setClientTimeout(fd int, d time.Duration) {
	tv := unix.NsecToTimeval(d.Nanoseconds())
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
}

// routerRules are the http router's rules for the response of the current
// request; keep tells whether the connection may stay open after it.
func (l *loop) routerRules(keep bool) embed.RouterRules {
	w := l.w
	var rules embed.RouterRules
	switch l.conn.sock.Proto {
	case "router":
		if keep {
			rules |= embed.RouterKeep
			if w.cfg.HTTPAutoChunked {
				rules |= embed.RouterChunked
			}
		}
	case "https-router": // the TLS front frames the response itself
	default:
		return 0
	}
	if w.cfg.HTTPAutoGzip && l.req.AcceptsGzip() {
		rules |= embed.RouterGzip
	}
	return rules
}
