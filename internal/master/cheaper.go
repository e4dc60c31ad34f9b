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
	if c == nil || m.paused {
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
