package stats

import (
	"os"
	"sync/atomic"

	"github.com/gosgi/gosgi/internal/scoreboard"
	"github.com/gosgi/gosgi/internal/sockets"
)

// Instance is what the master passes to Collect besides the scoreboard.
type Instance struct {
	Version   string              // options.Version
	Board     *scoreboard.Board   // nil before the first spawn: no workers listed
	Listeners []*sockets.Listener // the instance's listening sockets
	Queue     *QueueMonitor       // listen_queue_errors; nil counts 0
	Workers   BoardOptions
}

// Collect builds a whole Snapshot: the master's own pid, uid, gid and
// working directory, uWSGI's default locks, the sockets with their live
// queues and the workers from the scoreboard. Optional sections (daemons,
// caches, spoolers, crons, metrics) are left for the caller to add.
func Collect(in Instance) *Snapshot {
	s := &Snapshot{
		Version: in.Version,
		Pid:     os.Getpid(),
		UID:     os.Getuid(),
		GID:     os.Getgid(),
		Locks:   DefaultLocks(),
		Workers: []Worker{},
	}
	s.Cwd, _ = os.Getwd() // a deleted cwd reads as "": nothing better to show
	s.Sockets, s.ListenQueue = SocketsFrom(in.Listeners)
	s.Load = s.ListenQueue // uWSGI 2.0 reports the same value (ST-7)
	if in.Queue != nil {
		s.ListenQueueErrors = in.Queue.Errors()
	}
	if in.Board != nil {
		s.Workers = WorkersFromBoard(in.Board, in.Workers)
	}
	return s
}

// QueueMonitor watches the accept queues of the listening sockets: the
// master calls Check about once a second, as uWSGI's master loop does, and
// every full queue is logged and counted in listen_queue_errors (ST-7).
type QueueMonitor struct {
	// Logf receives the warning; the master passes its Verbosef, since
	// uWSGI dates this message.
	Logf   func(format string, args ...any)
	errors atomic.Int64
}

// Check looks at every socket once and returns how many were full.
func (m *QueueMonitor) Check(ls []*sockets.Listener) int {
	full := 0
	for _, l := range ls {
		if l.Proto == "router" {
			continue
		}
		q, mx := sockets.QueueLen(l.FD)
		if mx <= 0 || q < mx {
			continue
		}
		full++
		m.errors.Add(1)
		if m.Logf != nil {
			m.Logf("*** uWSGI listen queue of socket \"%s\" (fd: %d) full !!! (%d/%d) ***", l.Name, l.FD, q, mx)
		}
	}
	return full
}

// Errors is the number of full-queue events seen so far.
func (m *QueueMonitor) Errors() int64 { return m.errors.Load() }
