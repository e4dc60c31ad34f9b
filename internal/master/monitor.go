package master

import (
	"context"

	"github.com/gosgi/gosgi/internal/options"
	"github.com/gosgi/gosgi/internal/stats"
	"github.com/gosgi/gosgi/internal/stats/metrics"
)

// startMonitoring opens the stats server (ST-1..ST-5) and gosgi's
// Prometheus endpoint when configured. Both read the scoreboard; neither
// touches the workers.
func (m *Master) startMonitoring(ctx context.Context) error {
	if addr := m.cfg.String("stats"); addr != "" {
		srv, err := stats.Listen(addr, stats.Options{
			HTTP:      m.cfg.Bool("stats-http"),
			Minified:  m.cfg.Bool("stats-minified"),
			NoCores:   m.cfg.Bool("stats-no-cores"),
			NoMetrics: m.cfg.Bool("stats-no-metrics"),
			Log:       m.log.Printf,
		})
		if err != nil {
			// Monitoring that cannot start must not stop the app: say so
			// and serve without it (uWSGI exits, or removes a file in the way).
			m.log.Printf("%v: the stats server is off", err)
		} else {
			m.statsServer = srv
			go srv.Serve(ctx, m.snapshot)
		}
	}
	if addr := m.cfg.String("metrics-http"); addr != "" {
		go func() {
			if err := metrics.ServeMetrics(ctx, addr, m.snapshot); err != nil {
				m.log.Printf("metrics-http %s: %v", addr, err)
			}
		}()
	}
	return nil
}

// snapshot builds the stats document from the scoreboard.
func (m *Master) snapshot() *stats.Snapshot {
	mounts := m.mounts
	s := stats.Collect(stats.Instance{
		Version:   options.Version,
		Board:     m.board,
		Listeners: m.listeners,
		Queue:     &m.queue,
		Workers: stats.BoardOptions{
			Workers:      m.processes,
			Cores:        m.cores(),
			Mounts:       mounts,
			MemoryReport: m.cfg.Bool("memory-report"),
			Paused:       m.board.Header.Paused.Load() == 1,
		},
	})
	for _, d := range m.daemons { // ST-8
		s.Daemons = append(s.Daemons, stats.Daemon{Cmd: d.cmd, Pid: d.statsPid(), Respawns: d.respawns})
	}
	m.fillCachesSpoolersCrons(s)
	m.fillMetrics(s)
	return s
}
