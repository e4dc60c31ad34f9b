package master

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// cheaper is the adaptive worker count (PM-50..PM-53) with uWSGI's "spare"
// algorithm: start cheaper-initial workers; add cheaper-step when every
// running worker has been busy for cheaper-overload checks; stop one worker
// above cheaper every cheaper-overload checks while more than one is idle.
type cheaper struct {
	min, initial, step, overload int
	busyChecks, idleChecks       int
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
	if algo := m.cfg.String("cheaper-algo"); algo != "" && algo != "spare" {
		m.log.Printf("unable to find requested cheaper algorithm, falling back to spare")
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
