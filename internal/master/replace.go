package master

import (
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Replacing workers without a gap: the new worker is forked from the zygote
// first, and the old one is asked to finish its requests and exit (SIGHUP)
// only once the new one accepts. uWSGI kills first and respawns after, so
// its chain reloads and lifetime recycling leave a worker slot empty.

// replace starts a replacement for worker slot w and retires the old
// process once the new one accepts.
func (m *Master) replace(w *workerSlot) {
	if w.pid <= 0 {
		return
	}
	m.old[w.pid] = &oldWorker{id: w.id, since: time.Now(), pending: true}
	w.pid = 0
	if err := m.spawn(w, true); err != nil {
		m.log.Printf("%v", err)
	}
}

// checkRecycle replaces the workers that asked for it (max-requests,
// reload-on-rss/as, reload-on-exception): the new one first.
func (m *Master) checkRecycle() {
	for _, w := range m.workers {
		slot := m.board.Worker(w.id)
		if pid := slot.Recycle.Load(); pid > 0 && int(pid) == w.pid {
			slot.Recycle.Store(0)
			m.replace(w)
			if o := m.old[int(pid)]; o != nil {
				o.recycled = true
			}
		}
	}
}

// retireReady sends SIGHUP to old workers whose replacement accepts.
func (m *Master) retireReady() {
	for pid, o := range m.old {
		if !o.pending {
			continue
		}
		w := m.workers[o.id-1]
		slot := m.board.Worker(o.id)
		replaced := w.pid > 0 && slot.Pid.Load() == int64(w.pid) && slot.Accepting.Load() == 1
		if replaced || w.cheaped { // a cheap slot gets no replacement
			unix.Kill(pid, unix.SIGHUP)
			o.pending = false
			o.since = time.Now()
		}
	}
}

// chain reload (touch-chain-reload, PM-47): one worker at a time.
type chain struct {
	queue   []int // worker ids still to replace
	current int   // worker being replaced, 0 between steps
	waits   int
}

func (m *Master) startChain() {
	if m.chain != nil {
		return
	}
	c := &chain{}
	for _, w := range m.workers {
		c.queue = append(c.queue, w.id)
	}
	m.chain = c
	m.stepChain()
}

func (m *Master) stepChain() {
	c := m.chain
	if c == nil {
		return
	}
	if c.current != 0 {
		for _, o := range m.old {
			if o.id == c.current && o.pending {
				c.waits++
				if c.waits%10 == 0 {
					m.log.Verbosef("chain is still waiting for worker %d...", c.current)
				}
				return
			}
		}
		c.current = 0
	}
	if len(c.queue) == 0 {
		m.log.Verbosef("chain reloading complete")
		m.chain = nil
		return
	}
	c.current, c.queue = c.queue[0], c.queue[1:]
	c.waits = 0
	m.log.Verbosef("chain next victim is worker %d", c.current)
	m.replace(m.workers[c.current-1])
}

// reloadWorkers replaces every worker, keeping the master (PM-47
// touch-workers-reload, master-fifo 'w').
func (m *Master) reloadWorkers() {
	for _, w := range m.workers {
		m.replace(w)
	}
}

// checkLifetimes recycles workers past max-worker-lifetime (PM-46) and
// those over evil-reload-on-rss (PM-45).
func (m *Master) checkLifetimes() {
	life := m.cfg.Int("max-worker-lifetime")
	delta := m.cfg.Int("max-worker-lifetime-delta")
	evil := int64(m.cfg.Int("evil-reload-on-rss")) // bytes: a megabyte option
	for _, w := range m.workers {
		if w.pid <= 0 {
			continue
		}
		if life > 0 {
			limit := time.Duration(life+delta*(w.id-1)) * time.Second
			if age := time.Since(w.spawned); age >= limit {
				m.log.Printf("worker %d lifetime reached, it was running for %d second(s)", w.id, int(age.Seconds()))
				m.replace(w)
				continue
			}
		}
		if evil > 0 {
			if rss := processRSS(w.pid); rss >= evil {
				m.log.Verbosef("*** EVIL RELOAD ON WORKER %d RSS: %d (pid: %d) ***", w.id, rss, w.pid)
				unix.Kill(w.pid, unix.SIGKILL)
			}
		}
	}
}

func processRSS(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseInt(f[1], 10, 64)
	return n * int64(os.Getpagesize())
}
