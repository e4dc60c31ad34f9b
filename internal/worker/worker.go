// Package worker is the request loop of a gosgi worker process: Go starts
// here after the zygote forked the process with Python already loaded.
//
// Each core is a locked OS thread that accepts on the inherited listening
// sockets, reads and parses the request head into C memory, calls the app
// through internal/embed with one cgo call, logs the request and closes the
// connection, with plain blocking syscalls as uWSGI's own C loop does: no
// goroutine hand-off and no netpoller on that path.
//
// The package does not bind sockets, load apps or supervise anything: the
// master and the zygote do that before this code runs.
package worker

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosgi/gosgi/internal/boot"
	"github.com/gosgi/gosgi/internal/embed"
	"github.com/gosgi/gosgi/internal/logging"
	"github.com/gosgi/gosgi/internal/logsink"
	"github.com/gosgi/gosgi/internal/proto"
	"github.com/gosgi/gosgi/internal/route"
	"github.com/gosgi/gosgi/internal/scoreboard"
	"github.com/gosgi/gosgi/internal/static"
	"github.com/gosgi/gosgi/internal/tlsfront"
)

// Exit codes understood by the master (PM-11).
const (
	ExitGraceful = 17 // graceful reload/stop finished
	ExitStopped  = 30 // SIGINT/SIGTERM
	ExitRecycled = 0  // max-requests and friends
)

// Worker is one worker process.
type Worker struct {
	id      int
	pid     int
	spec    *boot.Spec
	cfg     *boot.Worker
	board   *scoreboard.Board
	slot    *scoreboard.Worker
	mounts  []string
	started time.Time
	log     *logging.Logger
	// logFormat replaces the default request line when logformat is set.
	logFormat *logging.LogFormat
	// Fronts answered in Go (gofronts.go); nil when not configured.
	static     *static.Server
	routes     *route.Table
	trust      *proto.TrustedProxies // trusted-proxy; nil trusts everyone
	tlsServers []*tlsfront.Server
	socks      []boot.Socket   // the plain sockets the cores accept on
	reqLog     *logsink.Router // req-logger, nil: request lines go to the log (fd 2)
	wake       chan struct{}
	tlsStopped atomic.Bool // the TLS fronts answered their last request

	stopping  atomic.Bool
	exitCode  atomic.Int32
	cores     []*coreState
	appCounts []atomic.Int64 // requests per app in this worker (log "req: R/T")

	// geventStop wakes the gevent hub loop when the worker stops (gevent.go).
	geventStop atomic.Pointer[os.File]
	// geventWake tells the hub loop that connections are queued in ready.
	geventWake atomic.Pointer[os.File]

	ready     readyQueue   // connections with a complete head, for any core
	inflight  atomic.Int32 // hand-off goroutines still reading
	idleConns sync.Map     // *os.File of keep-alive connections between requests
}

// coreState is what the other goroutines may look at of a core.
type coreState struct {
	tid     atomic.Int32
	idle    atomic.Bool             // blocked in accept(): a signal wakes it
	current atomic.Pointer[running] // the request in the app, for the HARAKIRI log
}

// running describes a request for the harakiri log (copies: the core's
// buffers are reused).
type running struct{ addr, method, uri string }

// Run serves requests until the worker is told to stop; it returns the
// process exit code.
func Run() int {
	b, err := boot.Parse(embed.Bundle())
	if err != nil {
		fmt.Fprintf(os.Stderr, "worker: %v\n", err)
		return 1
	}
	w := &Worker{
		id:      embed.WorkerID(),
		pid:     os.Getpid(),
		spec:    &b.Spec,
		cfg:     &b.Spec.Worker,
		mounts:  embed.Mountpoints(),
		started: time.Now(),
		wake:    make(chan struct{}, 1),
	}
	w.log = logging.NewLogger(os.Stderr, derefOr(w.cfg.LogDate, ""), w.cfg.LogDate != nil)
	w.board, err = scoreboard.Map(w.cfg.ScoreboardFD)
	if err != nil {
		w.log.Printf("worker %d: %v", w.id, err)
		return 1
	}
	unix.Close(w.cfg.ScoreboardFD)
	embed.SetScoreboard(w.board.Bytes())
	w.slot = w.board.Worker(w.id)
	// A predecessor killed mid-request left its request state behind.
	w.slot.DeltaRequests.Store(0)
	w.slot.Recycle.Store(0)
	w.slot.Busy.Store(0)
	w.slot.RequestStart.Store(0)
	for i := range w.slot.Cores {
		w.slot.Cores[i].InRequest.Store(0)
		w.slot.Cores[i].RequestStart.Store(0)
	}
	w.slot.Pid.Store(int64(w.pid))
	w.appCounts = make([]atomic.Int64, len(w.mounts))
	if f := w.cfg.LogFormat; f != "" {
		w.logFormat = logging.CompileLogFormat(f, logging.LogFormatOptions{
			Strftime: derefOr(w.cfg.LogDate, ""), UseStrftime: w.cfg.LogFormatStrftime})
	}

	threads := b.Spec.Threads
	if threads < 1 {
		threads = 1
	}
	// Cores hold their P while blocked in accept/read (see accept): keep
	// Ps free for the goroutines (hand-offs, signals, watchdogs).
	runtime.GOMAXPROCS(threads + 2)
	gevent := b.Spec.Gevent > 0
	if gevent { // one thread, Spec.Gevent greenlet cores (gevent.go)
		threads = min(b.Spec.Gevent, maxGeventCores)
		if threads < b.Spec.Gevent {
			w.log.Printf("gevent = %d: a worker runs at most %d async cores", b.Spec.Gevent, maxGeventCores)
		}
		runtime.GOMAXPROCS(3)
	}
	w.cores = make([]*coreState, threads)
	for i := range w.cores {
		w.cores[i] = &coreState{}
	}
	if len(w.cfg.ReqLoggers) > 0 {
		// A req-logger that cannot be opened (a permission after the
		// privilege drop...) is reported and its lines go to the log: the
		// worker serves anyway.
		rl, warnings, err := logsink.NewRouter(fd2{}, logsink.RouterConfig{Loggers: w.cfg.ReqLoggers,
			Routes: w.cfg.ReqRoutes, Encoders: w.cfg.ReqEncoders})
		for _, e := range warnings {
			w.log.Printf("req-logger: %v", e)
		}
		if err != nil {
			w.log.Printf("req-logger: %v: request lines go to the log", err)
		} else {
			w.reqLog = rl
		}
	}
	if w.socks, err = w.setupGoFronts(); err != nil {
		w.log.Printf("worker %d: %v", w.id, err)
		return 1
	}
	w.handleSignals()
	go w.watchMaster()
	if w.cfg.Harakiri > 0 {
		go w.watchHarakiri()
	}

	var wg sync.WaitGroup
	ready := make(chan error, threads)
	starting := threads
	if gevent {
		starting = 1
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.runGevent(ready)
		}()
	}
	for i := 0; i < threads && !gevent; i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			w.runCore(id, ready)
		}(i)
	}
	for i := 0; i < starting; i++ {
		if err := <-ready; err != nil {
			w.log.Printf("worker %d: %v", w.id, err)
			return 1
		}
	}
	w.slot.Accepting.Store(1)
	wg.Wait()
	if w.slot.Pid.Load() == int64(w.pid) { // not when a replacement took the slot
		w.slot.Accepting.Store(0)
	}
	embed.WorkerExit()
	return int(w.exitCode.Load())
}

func derefOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

// Stop makes every core finish its current request and leave its loop.
func (w *Worker) Stop(code int) {
	if w.stopping.Swap(true) {
		return
	}
	w.exitCode.Store(int32(code))
	if f := w.geventStop.Load(); f != nil {
		f.Write([]byte{1})
	}
	// TLS fronts stop accepting now and finish their requests, which the
	// cores still serve: the cores leave only once that is done.
	go func() {
		w.stopTLS()
		w.tlsStopped.Store(true)
	}()
	w.idleConns.Range(func(k, _ any) bool {
		k.(*os.File).SetReadDeadline(time.Now())
		return true
	})
	go w.wakeIdleCores()
}

// wakeIdleCores interrupts cores blocked in accept(): a signal makes
// accept() on a socket with SO_RCVTIMEO fail with EINTR even under
// SA_RESTART (signal(7)). A core caught between its check and the syscall
// is woken by the next round, or at the latest by the accept timeout.
func (w *Worker) wakeIdleCores() {
	for round := 0; round < 100; round++ {
		pending := 0
		for _, c := range w.cores {
			if tid := c.tid.Load(); tid > 0 {
				pending++
				if c.idle.Load() {
					unix.Tgkill(w.pid, int(tid), unix.SIGURG)
				}
			}
		}
		if pending == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *Worker) handleSignals() {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, unix.SIGHUP, unix.SIGINT, unix.SIGTERM, unix.SIGUSR1, unix.SIGPIPE, unix.SIGTSTP)
	go func() {
		for sig := range ch {
			switch sig {
			case unix.SIGHUP: // PM-30: finish the request in flight, then exit
				w.log.Printf("Gracefully killing worker %d (pid: %d)...", w.id, w.pid)
				w.Stop(ExitGraceful)
			case unix.SIGINT, unix.SIGTERM:
				w.exitNow()
			case unix.SIGUSR1:
				w.log.Printf("worker %d total requests: %d", w.id, w.slot.Requests.Load())
			case unix.SIGTSTP: // PM-28: the board says paused or not
				w.interruptIdle()
			}
		}
	}()
}

// exitNow ends the worker at once (in-flight requests are cut, PM-24), still
// giving the app's atexit hook a moment when Python is free.
func (w *Worker) exitNow() {
	done := make(chan struct{})
	go func() {
		embed.WorkerExit()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	os.Exit(ExitStopped)
}

// interruptIdle wakes the cores blocked in accept() once, so they look at
// the pause flag again.
func (w *Worker) interruptIdle() {
	for _, c := range w.cores {
		if tid := c.tid.Load(); tid > 0 && c.idle.Load() {
			unix.Tgkill(w.pid, int(tid), unix.SIGURG)
		}
	}
}

// watchMaster ends the worker when its master is gone (PM-68).
func (w *Worker) watchMaster() {
	master := w.spec.MasterPID
	for {
		time.Sleep(time.Second)
		if os.Getppid() != master {
			if !w.cfg.NoOrphans {
				w.log.Printf("uWSGI worker %d screams: UAAAAAAH my master disconnected: i will kill myself !!!", w.id)
			}
			os.Exit(1)
		}
	}
}

func (w *Worker) runCore(id int, ready chan<- error) {
	// The thread keeps a Python thread state for its whole life: never unlock.
	runtime.LockOSThread()
	cs := w.cores[id]
	headSize := w.cfg.BufferSize + 4 + 64*1024
	c, err := embed.NewCore(id, headSize, 4*w.cfg.BufferSize+4096)
	if err != nil {
		ready <- err
		return
	}
	c.DeleteHeaders(w.cfg.DelHeaders)
	cs.tid.Store(int32(unix.Gettid()))
	ready <- nil
	l := newLoop(w, c, cs)
	l.run()
	cs.tid.Store(0)
}

// fd2 writes to the log descriptor as the request loop does.
type fd2 struct{}

func (fd2) Write(p []byte) (int, error) { return unix.Write(2, p) }
