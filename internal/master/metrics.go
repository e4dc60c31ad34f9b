package master

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gosgi/gosgi/internal/boot"
	"github.com/gosgi/gosgi/internal/scoreboard"
	"github.com/gosgi/gosgi/internal/sockets"
	"github.com/gosgi/gosgi/internal/stats"
)

// The metrics subsystem (enable-metrics, metric, metrics-dir): the master
// registers the metrics, keeps their values in the scoreboard's metrics
// region, updates the collected ones once a second and writes metrics-dir
// files; Python processes read them all and change the custom metrics that
// have no collector (uwsgi.metric_*), under their own lock.

const metricsPage = 4096 // uWSGI's per-metric file size (a memory page)

type metricsState struct {
	set       *stats.MetricSet
	collector *stats.MetricCollector
	dir       string // metrics-dir, resolved; "" none
}

// boardValues stores metric values in the scoreboard.
type boardValues struct{ b *scoreboard.Board }

func (v boardValues) Load(slot int) int64     { return v.b.Metric(slot).Load() }
func (v boardValues) Store(slot int, x int64) { v.b.Metric(slot).Store(x) }

// metricsEnabled: uWSGI turns the subsystem on with enable-metrics, and
// also when any other metrics option is set (a metric, a threshold, the
// directory options or metrics-no-cores).
func (m *Master) metricsEnabled() bool {
	if m.cfg.Bool("enable-metrics") {
		return true
	}
	for _, o := range []string{"metric", "metric-threshold", "metrics-dir", "metrics-dir-restore", "metrics-no-cores"} {
		if m.cfg.Has(o) {
			return true
		}
	}
	return false
}

// setupMetrics registers the metrics; a bad `metric` option stops the
// startup with uWSGI's message (after the custom metrics registered before
// it, as uWSGI logs them).
func (m *Master) setupMetrics() error {
	if !m.metricsEnabled() {
		return nil
	}
	set, err := stats.BuildMetrics(stats.MetricsConfig{
		Workers: m.processes,
		Cores:   m.cores(), // threads, or gevent's async cores
		Sockets: len(metricSockets(m.listeners)),
		NoCores: m.cfg.Bool("metrics-no-cores"),
		Custom:  m.cfg.List("metric"),
	})
	if err != nil {
		if set != nil {
			for _, e := range set.Events {
				m.log.Printf("%s", e)
			}
		}
		return err
	}
	if set.Slots > scoreboard.MaxMetrics {
		return fmt.Errorf("%d metrics: gosgi keeps at most %d (use metrics-no-cores)", set.Slots, scoreboard.MaxMetrics)
	}
	st := &metricsState{set: set}
	if dir := m.cfg.String("metrics-dir"); dir != "" {
		abs, err := filepath.EvalSymlinks(dir)
		if err == nil {
			abs, err = filepath.Abs(abs)
		}
		if err != nil {
			return fmt.Errorf("metrics-dir %s: %w", dir, err)
		}
		st.dir = abs
		if err := createMetricFiles(st.dir, set); err != nil {
			return err
		}
	}
	m.metrics = st
	return nil
}

// logMetrics writes uWSGI's startup lines of the metrics subsystem, where
// uWSGI writes them: after the operational mode.
func (m *Master) logMetrics() {
	st := m.metrics
	if st == nil {
		return
	}
	for _, e := range st.set.Events {
		m.log.Printf("%s", e)
	}
	m.log.Printf("initialized %d metrics", len(st.set.Defs))
	if st.dir != "" {
		n := len(st.set.Defs) * metricsPage
		m.log.Printf("memory allocated for metrics storage: %d bytes (%d MB)", n, n/1024/1024)
	}
}

// createMetricFiles makes one page-sized file per metric (kept when it
// exists) and, with metrics-dir-restore, reads back the values stored by a
// previous run as the metrics' initial values.
func createMetricFiles(dir string, set *stats.MetricSet) error {
	for i := range set.Defs {
		d := &set.Defs[i]
		p := filepath.Join(dir, d.Name)
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o640)
		if err != nil {
			return fmt.Errorf("open %s: %w", p, err)
		}
		if fi, err := f.Stat(); err == nil && fi.Size() < metricsPage {
			if err := f.Truncate(metricsPage); err != nil {
				f.Close()
				return fmt.Errorf("metric file %s: %w", p, err)
			}
		}
		f.Close()
	}
	return nil
}

// restoreMetrics: metrics-dir-restore takes each file's number as the
// metric's initial value (added to what its collector reads).
func (m *Master) restoreMetrics() {
	st := m.metrics
	if st.dir == "" || !m.cfg.Bool("metrics-dir-restore") {
		return
	}
	for i := range st.set.Defs {
		d := &st.set.Defs[i]
		b, err := os.ReadFile(filepath.Join(st.dir, d.Name))
		if err != nil {
			m.log.Printf("metrics-dir-restore %s: %v", d.Name, err)
			continue
		}
		d.Initial = stats.FileMetricToken(b, 0)
	}
}

// metricsBoot resets the values (each start of the app is a fresh
// instance for the metrics) and returns the list the Python side uses;
// nil when metrics are off.
func (m *Master) metricsBoot() []boot.Metric {
	st := m.metrics
	if st == nil || m.board == nil {
		return nil
	}
	if st.collector == nil {
		st.collector = &stats.MetricCollector{
			Set: st.set, Values: boardValues{m.board}, Builtin: m.builtinMetric,
			Changed: st.writeFile, Logf: m.log.Printf,
		}
	}
	st.collector.Reset()
	m.restoreMetrics()
	out := make([]boot.Metric, 0, len(st.set.Defs))
	for _, d := range st.set.Defs {
		out = append(out, boot.Metric{Name: d.Name, Slot: d.Slot, Writable: d.Writable(), Initial: d.Initial})
	}
	return out
}

// startMetricsCollector runs the collection passes until ctx ends.
func (m *Master) startMetricsCollector(ctx context.Context) {
	st := m.metrics
	if st == nil || st.collector == nil {
		return
	}
	st.collector.Tick(time.Now().Unix())
	m.log.Printf("metrics collector thread started")
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				st.collector.Tick(now.Unix())
			}
		}
	}()
}

// writeFile stores a collected value in its metrics-dir file.
func (st *metricsState) writeFile(d *stats.MetricDef, v int64) {
	if st.dir == "" {
		return
	}
	p := filepath.Join(st.dir, d.Name)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return // removed by hand: uWSGI's mapping outlives the file, nothing to tell
	}
	defer f.Close()
	f.WriteAt(stats.MetricFileContent(v, metricsPage), 0)
}

// fillMetrics adds the "metrics" object to the stats document (ST-16).
func (m *Master) fillMetrics(s *stats.Snapshot) {
	if m.metrics == nil || m.board == nil {
		return
	}
	s.Metrics = stats.MetricsFromSet(m.metrics.set, boardValues{m.board})
}

// metricSockets are the sockets uWSGI numbers socket.N.listen_queue
// after: the ones the stats list (not the router's).
func metricSockets(ls []*sockets.Listener) []*sockets.Listener {
	var out []*sockets.Listener
	for _, l := range ls {
		if l.Proto != "router" {
			out = append(out, l)
		}
	}
	return out
}

// builtinMetric reads the scoreboard counter behind a built-in metric.
func (m *Master) builtinMetric(src stats.BuiltinSource) int64 {
	b := m.board
	switch src.Kind {
	case "core":
		return m.coreMetric(src.Field)
	case "socket":
		ls := metricSockets(m.listeners)
		if src.Socket < len(ls) {
			q, _ := sockets.QueueLen(ls[src.Socket].FD)
			return int64(q)
		}
	case "worker":
		if src.Worker == 0 {
			if src.Field == "requests" { // worker 0 counts the whole instance
				return b.Header.TotalRequests.Load()
			}
			return 0
		}
		if src.Worker <= scoreboard.MaxWorkers {
			return workerMetric(b.Worker(src.Worker), src.Field)
		}
	case "wcore":
		if src.Worker <= scoreboard.MaxWorkers && src.Core < scoreboard.MaxCores {
			w := b.Worker(src.Worker)
			if src.Field == "exceptions" {
				return w.CoreExceptions[src.Core].Load()
			}
			return coreCounter(&w.Cores[src.Core], src.Field)
		}
	}
	return 0
}

func (m *Master) coreMetric(field string) int64 {
	var busy, idle int64
	for id := 1; id <= m.processes && id <= scoreboard.MaxWorkers; id++ {
		w := m.board.Worker(id)
		if w.Pid.Load() == 0 {
			continue
		}
		if w.Busy.Load() > 0 {
			busy++
		} else {
			idle++
		}
	}
	switch field {
	case "busy_workers":
		return busy
	case "idle_workers":
		return idle
	}
	return 0 // signals routing counts and overload events are not kept
}

func workerMetric(w *scoreboard.Worker, field string) int64 {
	switch field {
	case "requests":
		return w.Requests.Load()
	case "delta_requests":
		return w.DeltaRequests.Load()
	case "respawns":
		return w.RespawnCount.Load()
	case "avg_response_time":
		return w.AvgRT.Load()
	case "total_tx":
		return w.TX.Load()
	case "rss_size":
		return w.RSS.Load()
	case "vsz_size":
		return w.VSZ.Load()
	case "running_time":
		return w.RunningTime.Load()
	}
	return 0 // failed_requests
}

func coreCounter(c *scoreboard.Core, field string) int64 {
	switch field {
	case "requests":
		return c.Requests.Load()
	case "write_errors":
		return c.WriteErrors.Load()
	case "routed_requests":
		return c.RoutedRequests.Load()
	case "static_requests":
		return c.StaticRequests.Load()
	case "offloaded_requests":
		return c.OffloadedRequests.Load()
	case "read_errors":
		return c.ReadErrors.Load()
	}
	return 0
}
