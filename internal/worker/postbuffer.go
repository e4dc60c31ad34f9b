package worker

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosgi/gosgi/internal/embed"
)

// post-buffering: a request body is read whole before the app is called,
// so a slow upload never holds a Python core. A goroutine reads it (the
// netpoller waits for the client, socket-timeout per read, http-timeout on
// the http router address), into C memory
// when it is smaller than post-buffering bytes, else into an unlinked
// temporary file; the connection then goes back to the ready queue and a
// core serves it like any other, with a seekable wsgi.input.

// bufferedBody is a request body read before the app runs.
type bufferedBody struct {
	mem  []byte   // C memory: bodies below post-buffering bytes
	file *os.File // larger bodies, read from the start
	// failure is the "[uwsgi-body-read]" message when the client was too
	// slow or went away; the core logs it and answers nothing.
	failure string
	waits   int // times the client made the reader wait
}

// fd is the descriptor to hand to C: the file, or -1 for a memory body.
func (b *bufferedBody) fd() int {
	if b.file != nil {
		return int(b.file.Fd())
	}
	return -1
}

func (b *bufferedBody) release() {
	if b.file != nil {
		b.file.Close()
	}
	embed.FreeBody(b.mem)
	*b = bufferedBody{}
}

// refuseTooBig drops a request whose body is over limit-post, with uWSGI's
// words; its request line shows a 500 and, as uWSGI stops parsing at
// CONTENT_LENGTH, only what came before it (WP-9).
func (l *loop) refuseTooBig(block []byte, start time.Time) {
	l.w.log.Printf("Invalid (too big) CONTENT_LENGTH. skip.")
	if at := l.req.ContentLengthAt; at >= 0 {
		parseVarsInto(block[:at], &l.req)
	}
	l.finish(-1, block, &embed.Result{Status: 500}, start)
}

// needsBuffering reports whether the request's body must be read by a
// goroutine before the app runs: post-buffering is on and part of the body
// is still in the socket.
func (l *loop) needsBuffering(have int64) bool {
	cl := l.req.ContentLength
	return l.w.cfg.PostBuffering > 0 && l.conn.body == nil && cl > 0 && have < cl
}

// bufferBody hands the connection to a goroutine that reads the rest of
// the body; head (the request head) and prefix (the body bytes read with
// it) are copied, since the core reuses its buffers at once.
func (l *loop) bufferBody(head, prefix []byte, start time.Time) {
	w := l.w
	// A duplicate descriptor, non-blocking, gives the goroutine a file the
	// netpoller can wait on with deadlines, whatever the connection's own
	// *os.File is; the connection itself is untouched.
	rf, err := pollable(l.conn.fd)
	if err != nil {
		w.log.Printf("post-buffering: %v", err)
		return // done() closes the connection
	}
	c := l.conn
	c.start = start
	l.conn.handed = true
	cl := l.req.ContentLength
	head = append([]byte(nil), head...)
	prefix = append([]byte(nil), prefix...)
	w.inflight.Add(1)
	go func() {
		defer w.inflight.Add(-1)
		c.body = w.readBody(rf, prefix, cl, w.clientTimeout(c.sock))
		rf.Close()
		// The flag is shared with the duplicate: the core reads blocking.
		if err := unix.SetNonblock(c.fd, false); err != nil && c.body.failure == "" {
			c.body.failure = fmt.Sprintf("post-buffering: set blocking: %v", err)
		}
		w.ready.push(&pending{conn: c, data: head})
		w.wakeCore()
	}()
}

// pollable returns a non-blocking duplicate of fd as a file the netpoller
// serves, so reads on it take deadlines.
func pollable(fd int) (*os.File, error) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dup client socket: %w", err)
	}
	if err := unix.SetNonblock(dup, true); err != nil {
		unix.Close(dup)
		return nil, fmt.Errorf("set client socket non-blocking: %w", err)
	}
	return os.NewFile(uintptr(dup), "client-body"), nil
}

// readBody reads a body of cl bytes whose first bytes are prefix.
func (w *Worker) readBody(f *os.File, prefix []byte, cl int64, timeout time.Duration) *bufferedBody {
	rc, err := f.SyscallConn()
	if err != nil {
		return &bufferedBody{failure: fmt.Sprintf("post-buffering: %v", err)}
	}
	r := bodyReader{f: f, rc: rc, timeout: timeout}
	if cl < w.cfg.PostBuffering {
		return r.toMemory(prefix, cl)
	}
	return r.toFile(prefix, cl, w.cfg.PostBuffering)
}

// bodyReader reads a client's body with socket-timeout per read, counting
// the waits for the client (uWSGI's "switches").
type bodyReader struct {
	f       *os.File
	rc      syscall.RawConn
	timeout time.Duration
	waits   int
}

// read reads into p; waited tells whether the client made it wait.
func (r *bodyReader) read(p []byte) (n int, waited bool, err error) {
	r.f.SetReadDeadline(time.Now().Add(r.timeout))
	var rerr error
	err = r.rc.Read(func(fd uintptr) bool {
		n, rerr = unix.Read(int(fd), p)
		if rerr == unix.EAGAIN {
			if !waited {
				r.waits++
			}
			waited = true
			return false // the netpoller waits, up to the deadline
		}
		return rerr != unix.EINTR
	})
	if err == nil {
		err = rerr
	}
	if n < 0 {
		n = 0
	}
	if n == 0 && err == nil {
		err = io.EOF
	}
	return n, waited, err
}

func (r *bodyReader) toMemory(prefix []byte, cl int64) *bufferedBody {
	b := &bufferedBody{mem: embed.AllocBody(int(cl))}
	if b.mem == nil {
		return &bufferedBody{failure: fmt.Sprintf("post-buffering: no memory for a body of %d bytes", cl)}
	}
	got := copy(b.mem, prefix)
	for got < len(b.mem) {
		n, waited, err := r.read(b.mem[got:])
		got += n
		if err != nil {
			b.release()
			// uWSGI words a hang-up seen after a wait as a timeout.
			kind, msg := failureWords(err)
			if waited && errors.Is(err, io.EOF) {
				kind, msg = "Timeout", ""
			}
			b.failure = bodyReadFailure(kind, cl-int64(got), cl, msg)
			b.waits = r.waits
			return b
		}
	}
	b.waits = r.waits
	return b
}

// toFile reads the body into an unlinked temporary file, chunk bytes at a time.
func (r *bodyReader) toFile(prefix []byte, cl, chunk int64) *bufferedBody {
	tmp, err := os.CreateTemp("", "uwsgi-body-")
	if err != nil {
		return &bufferedBody{failure: fmt.Sprintf("post-buffering: %v", err)}
	}
	os.Remove(tmp.Name()) // only the descriptor is needed: nothing is left behind
	b := &bufferedBody{file: tmp}
	fail := func(msg string) *bufferedBody {
		b.release()
		b.failure, b.waits = msg, r.waits
		return b
	}
	if _, err := tmp.Write(prefix); err != nil {
		return fail(fmt.Sprintf("post-buffering: write %s: %v", tmp.Name(), err))
	}
	buf := make([]byte, min(chunk, cl))
	for got := int64(len(prefix)); got < cl; {
		want := min(int64(len(buf)), cl-got)
		n, _, err := r.read(buf[:want])
		if n > 0 {
			if _, werr := tmp.Write(buf[:n]); werr != nil {
				return fail(fmt.Sprintf("post-buffering: write %s: %v", tmp.Name(), werr))
			}
			got += int64(n)
		}
		if err != nil {
			kind, msg := failureWords(err)
			return fail(bodyReadFailure(kind, want, cl, msg))
		}
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Sprintf("post-buffering: seek %s: %v", tmp.Name(), err))
	}
	b.waits = r.waits
	return b
}

// failureWords are the kind and message of a failed read in uWSGI's words.
func failureWords(err error) (kind, msg string) {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "Timeout", ""
	case errors.Is(err, io.EOF):
		return "Error", "Client closed connection"
	}
	return "Error", err.Error()
}

// bodyReadFailure words a failed body read as uWSGI logs it (PY-27).
func bodyReadFailure(kind string, want, cl int64, msg string) string {
	s := fmt.Sprintf("[uwsgi-body-read] %s reading %d bytes. Content-Length: %d consumed: 0 left: %d", kind, want, cl, cl)
	if msg != "" {
		s += " message: " + msg
	}
	return s
}
