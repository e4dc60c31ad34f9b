package master

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosgi/gosgi/internal/config"
	"github.com/gosgi/gosgi/internal/logsink"
)

// The log router is gosgi's log master (LG-25): with log-route,
// log-encoder, log-drain, log-filter, named or several loggers, or
// log-master, every process writes its output into one pipe and the master
// handles each line. The pipe outlives a reload: its read end and the
// default output are handed to the new image in envLogPipe, so old workers
// still serving keep a reader.
const envLogPipe = "GOSGI_LOG_PIPE" // "READFD,DEFAULTFD,WRITEFD"

// logRouter is the running reader of the pipe.
type logRouter struct {
	mu     sync.Mutex // serialises lines and the logto2 swap of the default output
	router *logsink.Router
	r      *os.File // the pipe's read end
	def    *os.File // default output: the stderr before the pipe, or logto2
	rfd    int
	defFD  int
	wfd    int // a write end kept to restore fds 1 and 2 (log-reopen on reload)
	done   chan struct{}
}

// needsLogRouter reports whether lines must go through the master. A new
// image adopts the pipe of the previous one whatever its options say: the
// old workers still write into it.
func needsLogRouter(cfg *config.Config) bool {
	if cfg.Bool("log-master") || len(cfg.List("log-route")) > 0 || len(cfg.List("log-encoder")) > 0 ||
		len(cfg.List("log-drain")) > 0 || len(cfg.List("log-filter")) > 0 {
		return true
	}
	loggers := cfg.List("logger")
	if len(loggers) > 1 {
		return true
	}
	for _, l := range loggers {
		if name, _ := logsink.SplitName(l); name != "" {
			return true
		}
	}
	return false
}

// startLogRouter makes the pipe (or adopts the one of the previous image)
// and starts reading it. Loggers that cannot be opened are returned as
// warnings: their lines go to the default output.
func (m *Master) startLogRouter() ([]error, error) {
	// The rules first: a bad one is reported on the untouched stderr.
	cfg := m.cfg
	router, warnings, err := logsink.NewRouter(nil, logsink.RouterConfig{
		Loggers: cfg.List("logger"), Routes: cfg.List("log-route"), Drains: cfg.List("log-drain"),
		Filters: cfg.List("log-filter"), Encoders: cfg.List("log-encoder"),
	})
	if err != nil {
		return nil, err
	}
	lr := &logRouter{done: make(chan struct{}), router: router}
	fds, inherited := inheritedLogPipe()
	os.Unsetenv(envLogPipe) // for this image only, not for what it starts
	if inherited && m.reloads > 0 {
		lr.rfd, lr.defFD, lr.wfd = fds[0], fds[1], fds[2]
		for _, fd := range fds {
			unix.CloseOnExec(fd)
		}
		if !sameFile(2, lr.wfd) { // log-reopen put the log file on 2: it is the new default
			unix.Dup2(2, lr.defFD)
			unix.Dup2(lr.wfd, 1)
			unix.Dup2(lr.wfd, 2)
		}
	} else {
		def, err := unix.FcntlInt(2, unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			return nil, fmt.Errorf("log router: dup stderr: %w", err)
		}
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			unix.Close(def)
			return nil, fmt.Errorf("log router: pipe: %w", err)
		}
		unix.Dup2(p[1], 1)
		unix.Dup2(p[1], 2)
		lr.rfd, lr.defFD, lr.wfd = p[0], def, p[1]
	}
	if err := unix.SetNonblock(lr.rfd, true); err != nil { // so a read can be given a deadline
		return nil, fmt.Errorf("log router: %w", err)
	}
	lr.r = os.NewFile(uintptr(lr.rfd), "log-pipe")
	lr.def = os.NewFile(uintptr(lr.defFD), "log-default")
	router.Default = lr.def
	m.logRouter = lr
	go lr.run()
	return warnings, nil
}

func inheritedLogPipe() ([3]int, bool) {
	var fds [3]int
	parts := strings.Split(os.Getenv(envLogPipe), ",")
	if len(parts) != len(fds) {
		return fds, false
	}
	for i, p := range parts {
		fd, err := strconv.Atoi(p)
		var st unix.Stat_t
		if err != nil || unix.Fstat(fd, &st) != nil {
			return fds, false
		}
		fds[i] = fd
	}
	return fds, true
}

func sameFile(a, b int) bool {
	var sa, sb unix.Stat_t
	return unix.Fstat(a, &sa) == nil && unix.Fstat(b, &sb) == nil && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// maxLogLine bounds what is held while waiting for a line's newline.
const maxLogLine = 1 << 20

// run hands every complete line to the router until the pipe is closed or
// stop gives the read a deadline; a partial line is handled last.
func (lr *logRouter) run() {
	defer close(lr.done)
	buf := make([]byte, 64*1024)
	var pending []byte
	for {
		n, err := lr.r.Read(buf)
		pending = append(pending, buf[:n]...)
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			lr.line(pending[:i+1])
			pending = pending[i+1:]
		}
		if len(pending) > maxLogLine { // a line without end must not grow forever
			lr.line(pending)
			pending = nil
		}
		if err != nil {
			if len(pending) > 0 {
				lr.line(pending)
			}
			return
		}
		if len(pending) == 0 {
			pending = nil // let the buffer of a long line go
		}
	}
}

func (lr *logRouter) line(l []byte) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	lr.router.Line(l)
}

// stop handles what the pipe holds now and ends the reader: before the
// master exits or re-executes itself.
func (lr *logRouter) stop() {
	select {
	case <-lr.done: // stopped for a reload that did not happen: read again
		lr.done = make(chan struct{})
		go lr.run()
	default:
	}
	lr.r.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	<-lr.done
}

// keepForExec hands the pipe to the next image (reload).
func (lr *logRouter) keepForExec() []string {
	lr.stop()
	for _, fd := range []int{lr.rfd, lr.defFD, lr.wfd} {
		unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0)
	}
	return []string{envLogPipe, fmt.Sprintf("%d,%d,%d", lr.rfd, lr.defFD, lr.wfd)}
}

// setDefault makes f the default output (logto2).
func (lr *logRouter) setDefault(f *os.File) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	unix.Dup2(int(f.Fd()), lr.defFD) // keeps the descriptor number handed on at reload
	f.Close()
}

// openLogto2 opens logto2 once privileges are dropped (LG-23): as logto,
// its file takes the output of the instance. A file that cannot be opened
// is reported and the output stays where it was, so the instance serves.
func (m *Master) openLogto2() {
	path := m.cfg.String("logto2")
	if path == "" || (m.reloads > 0 && !m.cfg.Bool("log-reopen")) {
		return
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if m.cfg.Bool("log-truncate") {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o640)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		m.log.Printf("logto2: open(\"%s\"): %v: the log stays on the current output", path, err)
		return
	}
	if m.logRouter != nil {
		m.logRouter.setDefault(f)
		return
	}
	unix.Dup2(int(f.Fd()), 1)
	unix.Dup2(int(f.Fd()), 2)
	f.Close()
}
