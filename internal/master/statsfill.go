package master

import (
	"path/filepath"
	"slices"
	"strconv"

	"github.com/gosgi/gosgi/internal/boot"
	"github.com/gosgi/gosgi/internal/scoreboard"
	"github.com/gosgi/gosgi/internal/stats"
)

// fillCachesSpoolersCrons adds the optional sections of the stats document
// (ST-9, ST-15) and their locks (ST-8): the caches and crons as configured,
// with the cache and spooler numbers the Python processes keep in the
// scoreboard. Configuration errors are not logged here: the Python side
// refuses the same entries when it starts, and says so.
func (m *Master) fillCachesSpoolersCrons(s *stats.Snapshot) {
	var extras *scoreboard.Extras
	if m.board != nil {
		extras = m.board.Extras()
	}
	// ST-8: `locks = N` lists "user 1".."user N" after "user 0", and the
	// queue subsystem its lock after the fixed ones.
	if n := m.cfg.Int("locks"); n > 0 && len(s.Locks) > 0 && s.Locks[0].Name == "user 0" {
		users := make([]stats.Lock, n)
		for i := range users {
			users[i] = stats.Lock{Name: "user " + strconv.Itoa(i+1)}
		}
		s.Locks = slices.Insert(s.Locks, 1, users...)
	}
	if m.cfg.Int("queue") > 0 {
		s.Locks = append(s.Locks, stats.Lock{Name: "queue"})
	}
	caches, _ := stats.CachesFromConfig(m.cfg.List("cache"), m.cfg.List("cache-blocksize"), m.cfg.List("cache2"))
	for i := range caches {
		c := &caches[i]
		if extras != nil && i < scoreboard.MaxCaches {
			n := &extras.Caches[i]
			c.Items, c.Hits, c.Miss = n.Items.Load(), n.Hits.Load(), n.Miss.Load()
			c.Full, c.LastModifiedAt = n.Full.Load(), n.LastModifiedAt.Load()
		}
		s.Locks = append(s.Locks, stats.Lock{Name: "cache_" + c.Name})
	}
	s.Caches = caches
	for _, a := range m.aux {
		if a.kind != "spooler" {
			continue
		}
		dir := a.dir
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		sp := stats.Spooler{Dir: dir, Pid: a.pid, Respawns: a.respawns}
		if extras != nil && a.id <= scoreboard.MaxSpoolers {
			n := &extras.Spoolers[a.id]
			sp.Tasks, sp.Running = n.Tasks.Load(), n.Running.Load() == 1
		}
		s.Spoolers = append(s.Spoolers, sp)
		s.Locks = append(s.Locks, stats.Lock{Name: "spooler on " + dir})
	}
	crons, _ := m.crons()
	s.Crons = slices.Clone(crons) // pids are filled in per document
	for i := range s.Crons {
		if extras == nil || i >= scoreboard.MaxCrons {
			break
		}
		if pid := extras.Crons[i].Pid.Load(); pid > 0 { // -1 when not running
			s.Crons[i].Pid, s.Crons[i].StartedAt = int(pid), extras.Crons[i].StartedAt.Load()
		}
	}
}

// crons are the command crons (cron, unique-cron, cron2 options) in
// config order, parsed once per image: the stats, the boot bundle and the
// startup log index them alike.
func (m *Master) crons() ([]stats.Cron, []error) {
	m.cronsOnce.Do(func() {
		var entries [][2]string
		for _, e := range m.cfg.Entries() {
			if slices.Contains(stats.CronOptions, e.Key) {
				entries = append(entries, [2]string{e.Key, e.Value})
			}
		}
		m.cronList, m.cronErrs = stats.CronsFromConfig(entries)
	})
	return m.cronList, m.cronErrs
}

// bootCrons returns the command crons for the boot bundle, in the stats'
// order (a legion's cron included: the Python side never runs it).
func (m *Master) bootCrons() []boot.Cron {
	crons, _ := m.crons()
	out := make([]boot.Cron, 0, len(crons))
	for _, c := range crons {
		if c.Harakiri == 0 {
			c.Harakiri = m.cfg.Int("cron-harakiri")
		}
		out = append(out, boot.Cron{
			Fields:  [5]int{c.Minute, c.Hour, c.Day, c.Month, c.Week},
			Command: c.Command, Unique: c.Unique, Harakiri: c.Harakiri, Legion: c.Legion,
		})
	}
	return out
}

// logCrons logs each command cron as uWSGI registers it, or why it is
// skipped.
func (m *Master) logCrons() {
	crons, errs := m.crons()
	for _, err := range errs {
		m.log.Printf("unable to parse cron definition: %v", err)
	}
	for _, c := range crons {
		m.log.Printf("[uwsgi-cron] command \"%s\" registered as cron task", c.Command)
		if c.Legion != "" {
			m.log.Printf("[uwsgi-cron] command \"%s\" runs only on the lord of legion %s: legions are not provided, it will not run", c.Command, c.Legion)
		}
	}
}
