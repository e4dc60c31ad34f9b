package worker

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gosgi/gosgi/internal/embed"
)

// Gevent mode (gevent = N): the worker's N cores are greenlets under the
// gevent hub, all on one locked OS thread. The hub loop (the Python module
// _gosgi_gevent) accepts and reads, and runs each request in C; the request
// goes through the same Go steps as on a thread core (parse the head,
// route, pick the app, count and log), called from the hub as short calls
// that never switch greenlets (see internal/embed/async.go).

// maxGeventCores is the C side's limit; the scoreboard itemises only the
// first scoreboard.MaxCores of them.
const maxGeventCores = 1024

// asyncCore is what a greenlet core's loop remembers between the hub's
// calls.
type asyncCore struct {
	needMore bool  // the head is incomplete: the hub reads more
	pending  *call // the request the hub runs next
}

// geventCores implements embed.AsyncHandler over one loop per core.
type geventCores struct {
	w     *Worker
	loops []*loop
	// goAnswers: Go may write answers itself (static files, routing):
	// those writes expect a blocking socket.
	goAnswers bool
}

// runGevent creates the cores on this thread and runs the hub loop until
// the worker stops.
func (w *Worker) runGevent(ready chan<- error) {
	runtime.LockOSThread() // the Python thread state lives on this thread
	n := len(w.cores)
	g := &geventCores{w: w, goAnswers: w.static != nil || w.routes != nil}
	// Smaller than a thread core's: there may be hundreds of greenlet cores,
	// and the body is read through wsgi.input anyway.
	headSize := w.cfg.BufferSize + 4 + 16*1024
	for id := 0; id < n; id++ {
		c, err := embed.NewCore(id, headSize, 4*w.cfg.BufferSize+4096)
		if err == nil {
			err = c.AsyncInit()
		}
		if err != nil {
			ready <- err
			return
		}
		l := newLoop(w, c, w.cores[id])
		l.async = &asyncCore{}
		g.loops = append(g.loops, l)
	}
	stopR, stopW, err := pipe()
	if err != nil {
		ready <- err
		return
	}
	wakeR, wakeW, err := pipe()
	if err != nil {
		ready <- err
		return
	}
	unix.SetNonblock(int(wakeW.Fd()), true) // a full pipe already says "wake up"
	w.geventStop.Store(stopW)
	w.geventWake.Store(wakeW)
	socks := make([]int, len(w.socks))
	for i, s := range w.socks {
		socks[i] = s.FD
	}
	ready <- nil
	if w.stopping.Load() { // stopped before the pipe existed
		stopW.Write([]byte{1})
	}
	if err := embed.RunGevent(g, n, socks, int(stopR.Fd()), int(wakeR.Fd())); err != nil {
		w.log.Printf("worker %d: %v", w.id, err)
		w.exitCode.CompareAndSwap(0, 1)
	}
	stopR.Close()
	wakeR.Close()
}

func pipe() (*os.File, *os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("gevent stop pipe: %w", err)
	}
	return r, w, nil
}

// Conn starts a connection on a core.
func (g *geventCores) Conn(core, fd, sock int) {
	l := g.loops[core]
	l.conn = conn{fd: fd, sock: &l.socks[sock]}
	if l.conn.sock.Proto == "uwsgi" {
		return
	}
	salen := uint32(unsafe.Sizeof(l.sa))
	_, _, e := unix.RawSyscall(unix.SYS_GETPEERNAME, uintptr(fd), uintptr(unsafe.Pointer(&l.sa)), uintptr(unsafe.Pointer(&salen)))
	if e != 0 {
		l.sa = unix.RawSockaddrAny{}
	}
	l.conn.addr = l.remoteAddr()
	if l.conn.sock.Proto == "router" { // WP-41
		l.conn.port = l.remotePort()
	}
}

// Head parses the n head bytes read so far, as a thread core would.
func (g *geventCores) Head(core, n int) int {
	l := g.loops[core]
	a := l.async
	a.needMore, a.pending = false, nil
	if g.goAnswers {
		unix.SetNonblock(l.conn.fd, false)
	}
	l.serve(n)
	switch {
	case l.conn.handed:
		return embed.HeadHanded
	case g.goAnswers:
		unix.SetNonblock(l.conn.fd, true)
	}
	switch {
	case a.needMore:
		return embed.HeadMore
	case a.pending != nil:
		return embed.HeadRun
	}
	return embed.HeadClose
}

// Pending hands core a connection a TLS front queued, its head in Head.
func (g *geventCores) Pending(core int) (fd, n int) {
	p := g.w.ready.pop()
	if p == nil {
		return -1, 0
	}
	l := g.loops[core]
	l.conn = p.conn
	if err := unix.SetNonblock(p.fd, true); err != nil {
		l.conn = conn{}
		p.file.Close()
		return -1, 0
	}
	return p.fd, copy(l.c.Head, p.data)
}

// Close ends core's connection, unless it was handed to a goroutine.
func (g *geventCores) Close(core int) {
	l := g.loops[core]
	switch c := &l.conn; {
	case c.handed:
	case c.file != nil:
		c.file.Close()
	case c.fd > 0:
		unix.Close(c.fd)
	}
	l.conn = conn{}
}

// Drained is true once a stopping worker has no queued connection left.
func (g *geventCores) Drained() bool {
	w := g.w
	return w.inflight.Load() == 0 && w.ready.n.Load() == 0 && w.tlsStopped.Load()
}

// Accepting is false while the master has paused the instance (PM-28).
func (g *geventCores) Accepting() bool { return g.w.board.Header.Paused.Load() != 1 }

// Finish counts and logs the request the hub ran; true keeps the
// connection for the next request.
func (g *geventCores) Finish(core int) bool {
	l := g.loops[core]
	rc := l.async.pending
	l.async.pending = nil
	if rc == nil {
		return false
	}
	res := l.c.Result()
	l.end(*rc, &res)
	return l.conn.keep && !g.w.stopping.Load()
}
