package master

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosgi/gosgi/internal/sockets"
)

// cheaper is the adaptive worker count (PM-50..PM-53) with uWSGI's "spare"
// algorithm: start cheaper-initial workers; add cheaper-step when every
// running worker has been busy for cheaper-overload checks; stop one worker
// above cheaper every cheaper-overload checks while more than one is idle.
type cheaper struct {
	algo                         string // spare, backlog, busyness
	min, initial, step, overload int
	busyChecks, idleChecks       int

	// busyness (cheaper_busyness): average busy share over overload checks
	busyMin, busyMax, multiplier int
	lastRunning                  map[int]int64 // worker id -> RunningTime µs at the last check
	samples                      []float64
}

// setupCheaper validates the cheaper options; nil when cheaper is off.
func (m *Master) setupCheaper() (*cheaper, error) {
	min := m.cfg.Int("cheaper")
	if min <= 0 {
		return nil, nil
	}
	if min >= m.processes {
		return nil, &fatal{1, fmt.Errorf("invalid cheaper value: must be lower than processes")}
	}
	c := &cheaper{min: min, initial: min, step: 1, overload: 3}
	if v := m.cfg.Int("cheaper-initial"); v > 0 {
		c.initial = v
	}
	if v := m.cfg.Int("cheaper-step"); v > 0 {
		c.step = v
	}
	if v := m.cfg.Int("cheaper-overload"); v > 0 {
		c.overload = v
	}
	if c.initial > m.processes {
		c.initial = m.processes
	}
	switch algo := m.cfg.String("cheaper-algo"); algo {
	case "", "spare":
		c.algo = "spare"
	case "backlog", "backlog2":
		c.algo = "backlog"
	case "busyness":
		c.algo = "busyness"
		c.busyMin, c.busyMax, c.multiplier = 25, 50, 10
		if v := m.cfg.Int("cheaper-busyness-min"); v > 0 {
			c.busyMin = v
		}
		if v := m.cfg.Int("cheaper-busyness-max"); v > 0 {
			c.busyMax = v
		}
		if v := m.cfg.Int("cheaper-busyness-multiplier"); v > 0 {
			c.multiplier = v
		}
		c.lastRunning = map[int]int64{}
		m.log.Printf("[busyness] settings: min=%d%%, max=%d%%, overload=%d, multiplier=%d, respawn penalty=2",
			c.busyMin, c.busyMax, c.overload, c.multiplier)
	default:
		m.log.Printf("unable to find requested cheaper algorithm, falling back to spare")
		c.algo = "spare"
	}
	return c, nil
}

// running lists the workers that are up and not being cheaped.
func (m *Master) running() []*workerSlot {
	var out []*workerSlot
	for _, w := range m.workers {
		if w.pid > 0 && !w.cheaped {
			out = append(out, w)
		}
	}
	return out
}

// checkCheaper runs once per master cycle.
func (m *Master) checkCheaper() {
	c := m.cheaper
	if c == nil || m.paused || (m.idle != nil && m.idle.cheap) {
		return
	}
	switch c.algo {
	case "backlog":
		m.checkBacklog()
		return
	case "busyness":
		m.checkBusyness()
		return
	}
	run := m.running()
	busy := 0
	for _, w := range run {
		if m.board.Worker(w.id).Busy.Load() > 0 {
			busy++
		}
	}
	if len(run) > 0 && busy == len(run) {
		c.busyChecks++
		if c.busyChecks > c.overload {
			m.cheaperAdd(c.step)
			c.busyChecks = 0
		}
	} else {
		c.busyChecks = 0
	}
	if len(run)-busy > 1 && len(run) > c.min {
		c.idleChecks++
		if c.idleChecks >= c.overload {
			m.cheaperRemove()
			c.idleChecks = 0
		}
	} else {
		c.idleChecks = 0
	}
}

// cheaperAdd starts up to n cheap worker slots (master-fifo '+').
func (m *Master) cheaperAdd(n int) {
	for _, w := range m.workers {
		if n == 0 {
			return
		}
		if w.pid == 0 && w.cheaped {
			w.cheaped = false
			if err := m.spawn(w, w.everSpawned); err != nil {
				m.log.Printf("%v", err)
				return
			}
			n--
		}
	}
}

// cheaperRemove stops the lowest-numbered idle worker above the minimum
// (master-fifo '-'); it finishes its request first.
func (m *Master) cheaperRemove() {
	min := 1
	if m.cheaper != nil {
		min = m.cheaper.min
	}
	run := m.running()
	if len(run) <= min {
		return
	}
	for _, w := range run {
		if m.board.Worker(w.id).Busy.Load() == 0 {
			w.cheaped = true
			unix.Kill(w.pid, unix.SIGHUP)
			return
		}
	}
}

// checkBacklog is the backlog algorithm (PM-52): add workers while the
// listen queue is longer than cheaper-overload, remove one when it is empty.
func (m *Master) checkBacklog() {
	c := m.cheaper
	queue := 0
	for _, l := range m.listeners {
		if q, _ := sockets.QueueLen(l.FD); q > queue {
			queue = q
		}
	}
	switch {
	case queue > c.overload:
		m.cheaperAdd(c.step)
	case queue == 0 && len(m.running()) > c.min:
		c.idleChecks++
		if c.idleChecks >= c.overload {
			m.cheaperRemove()
			c.idleChecks = 0
		}
	default:
		c.idleChecks = 0
	}
}

// checkBusyness is the busyness algorithm (PM-52): the share of time the
// running workers spent in requests, averaged over cheaper-overload checks,
// against cheaper-busyness-min and -max.
func (m *Master) checkBusyness() {
	c := m.cheaper
	run := m.running()
	if len(run) == 0 {
		return
	}
	var busy int64
	for _, w := range run {
		rt := m.board.Worker(w.id).RunningTime.Load()
		if last, ok := c.lastRunning[w.id]; ok && rt >= last {
			busy += rt - last
		}
		c.lastRunning[w.id] = rt
	}
	interval := int64(time.Second / time.Microsecond) // one master cycle
	c.samples = append(c.samples, 100*float64(busy)/float64(interval*int64(len(run))))
	if len(c.samples) < c.overload {
		return
	}
	var avg float64
	for _, v := range c.samples {
		avg += v
	}
	avg /= float64(len(c.samples))
	c.samples = c.samples[:0]
	switch {
	case avg > float64(c.busyMax):
		m.cheaperAdd(c.step)
		c.idleChecks = 0
	case avg < float64(c.busyMin) && len(run) > c.min:
		c.idleChecks++
		if c.idleChecks >= c.multiplier {
			m.cheaperRemove()
			c.idleChecks = 0
		}
	default:
		c.idleChecks = 0
	}
}

// idler is uWSGI's cheap-on-idle (PM-53, OP-59/60): after `idle` seconds
// without a request the master stops every worker and waits for a
// connection on any socket to start them again; with die-on-idle the
// instance ends instead (a vassal asks its emperor to stop it, so that an
// on-demand emperor goes back to waiting for connections). `cheap` starts
// the instance that way: no worker until the first connection.
type idler struct {
	after      time.Duration // 0: never by idleness (cheap alone)
	die        bool
	startCheap bool
	lastActive time.Time
	lastTotal  int64
	cheap      bool          // workers stopped, waiting for a connection
	asleep     []*workerSlot // the workers stopped for idleness
	wake       chan struct{} // closed by the socket watcher
	quit       chan struct{} // ends the socket watcher
}

// setupIdle reads idle, die-on-idle and cheap; nil when neither idle nor
// cheap is set.
func (m *Master) setupIdle() *idler {
	secs, cheap := m.cfg.Int("idle"), m.cfg.Bool("cheap")
	if secs <= 0 && !cheap {
		return nil
	}
	return &idler{after: time.Duration(max(secs, 0)) * time.Second, die: m.cfg.Bool("die-on-idle"),
		startCheap: cheap, lastActive: time.Now()}
}

// startsCheap reports whether slot w waits for the first connection
// (cheap) instead of being spawned at startup; it is then remembered.
func (m *Master) startsCheap(w *workerSlot) bool {
	if m.idle == nil || !m.idle.startCheap {
		return false
	}
	w.cheaped = true
	m.idle.asleep = append(m.idle.asleep, w)
	return true
}

// checkIdle runs once per master cycle; true means the instance must stop
// now (die-on-idle without an emperor).
func (m *Master) checkIdle() bool {
	id := m.idle
	if id == nil || id.after == 0 || id.cheap || m.paused {
		return false
	}
	now := time.Now()
	total := m.board.Header.TotalRequests.Load()
	if total != id.lastTotal || m.anyBusy() {
		id.lastTotal, id.lastActive = total, now
		return false
	}
	// Whole seconds, as uWSGI counts them.
	if now.Unix()-id.lastActive.Unix() <= int64(id.after/time.Second) {
		return false
	}
	m.log.Printf("workers have been inactive for more than %d seconds (%d-%d)",
		int(id.after/time.Second), now.Unix(), id.lastActive.Unix())
	if id.die {
		if m.emperor != nil {
			m.emperor.Write([]byte{vassalVoluntary})
			id.lastActive = now // the emperor stops us; do not ask again every cycle
			return false
		}
		return true
	}
	m.goCheap()
	return false
}

func (m *Master) anyBusy() bool {
	for _, w := range m.workers {
		if w.pid > 0 && m.board.Worker(w.id).Busy.Load() > 0 {
			return true
		}
	}
	return false
}

// goCheap stops the running workers (SIGINT, SIGKILL after 3 seconds
// each, as uWSGI does; their ends are not logged) and starts watching the
// sockets for a connection.
func (m *Master) goCheap() {
	id := m.idle
	id.asleep = id.asleep[:0]
	for _, w := range m.workers {
		if w.pid <= 0 {
			continue
		}
		pid := w.pid
		w.cheaped, w.stopped = true, true
		unix.Kill(pid, unix.SIGINT)
		if !waitPid(pid, 3*time.Second) {
			unix.Kill(pid, unix.SIGKILL)
			waitPid(pid, 3*time.Second)
		}
		w.pid = 0
		m.board.Worker(w.id).Pid.Store(0)
		id.asleep = append(id.asleep, w)
	}
	m.enterCheap()
}

// enterCheap watches the sockets for the connection that wakes the
// workers in id.asleep up.
func (m *Master) enterCheap() {
	id := m.idle
	id.cheap = true
	id.wake, id.quit = make(chan struct{}), make(chan struct{})
	fds := make([]unix.PollFd, 0, len(m.listeners))
	for _, l := range m.listeners {
		fds = append(fds, unix.PollFd{Fd: int32(l.FD), Events: unix.POLLIN})
	}
	go watchSockets(fds, id.wake, id.quit)
	m.log.Printf("cheap mode enabled: waiting for socket connection...")
}

// wakeFromIdle restarts the workers goCheap stopped; a connection is
// waiting in a socket's queue.
func (m *Master) wakeFromIdle() {
	id := m.idle
	close(id.quit)
	id.cheap, id.wake = false, nil
	id.lastActive = time.Now()
	for _, w := range id.asleep {
		w.cheaped = false
		if err := m.spawn(w, w.everSpawned); err != nil {
			m.log.Printf("%v", err)
		}
	}
	id.asleep = id.asleep[:0]
}

// idleWake is the channel that fires when a connection arrives in cheap
// mode; nil (never ready) otherwise.
func (m *Master) idleWake() <-chan struct{} {
	if m.idle == nil {
		return nil
	}
	return m.idle.wake
}

// watchSockets closes wake once a listening socket has a connection
// waiting (nobody accepts while the workers are stopped, so it stays
// readable), or returns when quit is closed.
func watchSockets(fds []unix.PollFd, wake, quit chan struct{}) {
	for {
		select {
		case <-quit:
			return
		default:
		}
		for i := range fds {
			fds[i].Revents = 0
		}
		n, err := unix.Poll(fds, 200)
		if err == nil && n > 0 {
			close(wake)
			return
		}
	}
}

// waitPid reaps pid, waiting at most d; false if it is still running.
func waitPid(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		var ws unix.WaitStatus
		p, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if p == pid || (err != nil && err != unix.EINTR) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}
