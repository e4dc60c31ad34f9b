// Package metrics serves gosgi's native Prometheus endpoint (the
// metrics-http option): request counts, latency histograms, worker states,
// queue depth, harakiri and spawn counters, computed from a stats.Snapshot
// on every scrape. It keeps no state of its own and does not replace the
// uWSGI-compatible stats server (package stats).
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gosgi/gosgi/internal/stats"
)

var (
	labelsWorker = []string{"worker"}
	descRequests = prometheus.NewDesc("gosgi_requests_total", "Requests completed by the worker slot (kept across respawns).", labelsWorker, nil)
	descExc      = prometheus.NewDesc("gosgi_exceptions_total", "Requests that ended with an unhandled Python exception.", labelsWorker, nil)
	descHarakiri = prometheus.NewDesc("gosgi_harakiri_total", "Requests killed by harakiri.", labelsWorker, nil)
	descRespawns = prometheus.NewDesc("gosgi_worker_spawns_total", "Times the worker slot was spawned (1 after the first spawn).", labelsWorker, nil)
	descTX       = prometheus.NewDesc("gosgi_transmitted_bytes_total", "Response bytes written, headers included.", labelsWorker, nil)
	descStatus   = prometheus.NewDesc("gosgi_worker_status", "1 for the worker's current status (idle, busy, cheap, pause).", []string{"worker", "status"}, nil)
	descBusy     = prometheus.NewDesc("gosgi_worker_busy_cores", "Cores of the worker running a request now.", labelsWorker, nil)
	descRSS      = prometheus.NewDesc("gosgi_worker_rss_bytes", "Resident memory (0 unless memory polling is on).", labelsWorker, nil)
	descVSZ      = prometheus.NewDesc("gosgi_worker_vsz_bytes", "Address space size (0 unless memory polling is on).", labelsWorker, nil)
	descAvgRT    = prometheus.NewDesc("gosgi_worker_avg_response_time_seconds", "uWSGI's avg_rt: (previous + last) / 2.", labelsWorker, nil)
	descLatency  = prometheus.NewDesc("gosgi_request_duration_seconds", "Request durations.", labelsWorker, nil)
	descLQ       = prometheus.NewDesc("gosgi_listen_queue", "Largest accept queue among the listening sockets.", nil, nil)
	descLQErr    = prometheus.NewDesc("gosgi_listen_queue_errors_total", "Accept queue full events.", nil, nil)
	descSockQ    = prometheus.NewDesc("gosgi_socket_queue", "Connections waiting to be accepted.", []string{"socket", "proto"}, nil)
	descSockMax  = prometheus.NewDesc("gosgi_socket_max_queue", "Listen backlog of the socket (0 for UNIX sockets).", []string{"socket", "proto"}, nil)
	descWorkers  = prometheus.NewDesc("gosgi_workers", "Worker slots by status.", []string{"status"}, nil)
	descUMetric  = prometheus.NewDesc("gosgi_uwsgi_metric", "A uWSGI metric (enable-metrics, metric): the value the stats server shows.", []string{"name", "oid"}, nil)
)

// collector turns one snapshot per scrape into metrics.
type collector struct{ snapshot func() *stats.Snapshot }

func (c collector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot()
	counter := func(d *prometheus.Desc, v int64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	gauge(descLQ, float64(s.ListenQueue))
	counter(descLQErr, s.ListenQueueErrors)
	for _, k := range s.Sockets {
		gauge(descSockQ, float64(k.Queue), k.Name, k.Proto)
		gauge(descSockMax, float64(k.MaxQueue), k.Name, k.Proto)
	}
	byStatus := map[string]int{"idle": 0, "busy": 0, "cheap": 0, "pause": 0}
	for i := range s.Workers {
		w := &s.Workers[i]
		byStatus[w.Status]++
		if w.ID == 0 {
			continue // a cheap slot never started has no identity (ST-12)
		}
		id := strconv.Itoa(w.ID)
		counter(descRequests, w.Requests, id)
		counter(descExc, w.Exceptions, id)
		counter(descHarakiri, w.HarakiriCount, id)
		counter(descRespawns, w.RespawnCount, id)
		counter(descTX, w.TX, id)
		for _, st := range []string{"idle", "busy", "cheap", "pause"} {
			v := 0.0
			if w.Status == st {
				v = 1
			}
			gauge(descStatus, v, id, st)
		}
		busy := 0
		for _, c := range w.Cores {
			if c.InRequest {
				busy++
			}
		}
		gauge(descBusy, float64(busy), id)
		gauge(descRSS, float64(w.RSS), id)
		gauge(descVSZ, float64(w.VSZ), id)
		gauge(descAvgRT, float64(w.AvgRT)/1e6, id)
		if len(w.Latency) > 0 {
			buckets := make(map[float64]uint64, len(stats.LatencyBounds))
			var cum uint64
			for i, b := range stats.LatencyBounds {
				if i < len(w.Latency) {
					cum += uint64(max(w.Latency[i], 0))
				}
				buckets[b] = cum
			}
			count := cum
			if len(w.Latency) > len(stats.LatencyBounds) {
				count += uint64(max(w.Latency[len(stats.LatencyBounds)], 0))
			}
			ch <- prometheus.MustNewConstHistogram(descLatency, count, float64(w.RunningTime)/1e6, buckets, id)
		}
	}
	for st, n := range byStatus {
		gauge(descWorkers, float64(n), st)
	}
	for _, m := range s.Metrics { // uWSGI's types mix counters and gauges: untyped
		ch <- prometheus.MustNewConstMetric(descUMetric, prometheus.UntypedValue, float64(m.Value), m.Name, m.OID)
	}
}

// MetricsHandler serves the Prometheus text format, computed from a fresh
// snapshot on every scrape.
func MetricsHandler(snapshot func() *stats.Snapshot) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{snapshot: snapshot})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ServeMetrics serves MetricsHandler on addr (host:port) at /metrics until
// ctx is done (gosgi's metrics-http option).
func ServeMetrics(ctx context.Context, addr string, snapshot func() *stats.Snapshot) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics-http: bind %s: %w", addr, err)
	}
	return serveMetrics(ctx, ln, snapshot)
}

func serveMetrics(ctx context.Context, ln net.Listener, snapshot func() *stats.Snapshot) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", MetricsHandler(snapshot))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	defer stop()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics-http: %w", err)
	}
	return nil
}
