package metrics

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gosgi/gosgi/internal/stats"
)

func snapshot() *stats.Snapshot {
	lat := make([]int64, len(stats.LatencyBounds)+1)
	lat[stats.LatencyBucket(800*time.Microsecond)] = 3 // <= 1 ms
	lat[stats.LatencyBucket(30*time.Millisecond)] = 2  // <= 50 ms
	lat[stats.LatencyBucket(2*time.Minute)] = 1        // +Inf
	return &stats.Snapshot{
		ListenQueue: 4, ListenQueueErrors: 1,
		Sockets: []stats.Socket{{Name: "127.0.0.1:9090", Proto: "http", Queue: 4, MaxQueue: 100}},
		Workers: []stats.Worker{
			{ID: 1, Pid: 10, Requests: 6, Exceptions: 1, HarakiriCount: 2, RespawnCount: 3, TX: 999,
				Status: "busy", AvgRT: 1500, RunningTime: 2_500_000, Latency: lat,
				Cores: []stats.Core{{InRequest: true}, {}}},
			{ID: 0, Status: "cheap"},
		},
		Metrics: []stats.Metric{{Name: "worker.1.requests", Type: 0, OID: "3.1.1", Value: 6}, {Name: "mymetric", Type: 1, Value: -3}},
	}
}

// TestMetricsEndpoint scrapes the endpoint as Prometheus does and checks
// the counters, gauges and the cumulative latency histogram.
func TestMetricsEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveMetrics(ctx, ln, snapshot) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(10 * time.Second):
			t.Error("metrics server did not stop")
		}
	}()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %d", err, resp.StatusCode)
	}
	body := string(b)
	for _, want := range []string{
		`gosgi_requests_total{worker="1"} 6`,
		`gosgi_exceptions_total{worker="1"} 1`,
		`gosgi_harakiri_total{worker="1"} 2`,
		`gosgi_worker_spawns_total{worker="1"} 3`,
		`gosgi_transmitted_bytes_total{worker="1"} 999`,
		`gosgi_worker_status{status="busy",worker="1"} 1`,
		`gosgi_worker_status{status="idle",worker="1"} 0`,
		`gosgi_worker_busy_cores{worker="1"} 1`,
		`gosgi_worker_avg_response_time_seconds{worker="1"} 0.0015`,
		`gosgi_request_duration_seconds_bucket{worker="1",le="0.001"} 3`,
		`gosgi_request_duration_seconds_bucket{worker="1",le="0.05"} 5`,
		`gosgi_request_duration_seconds_bucket{worker="1",le="60"} 5`,
		`gosgi_request_duration_seconds_bucket{worker="1",le="+Inf"} 6`,
		`gosgi_request_duration_seconds_sum{worker="1"} 2.5`,
		`gosgi_request_duration_seconds_count{worker="1"} 6`,
		`gosgi_listen_queue 4`,
		`gosgi_listen_queue_errors_total 1`,
		`gosgi_socket_queue{proto="http",socket="127.0.0.1:9090"} 4`,
		`gosgi_socket_max_queue{proto="http",socket="127.0.0.1:9090"} 100`,
		`gosgi_workers{status="cheap"} 1`,
		`gosgi_workers{status="busy"} 1`,
		`gosgi_uwsgi_metric{name="worker.1.requests",oid="3.1.1"} 6`,
		`gosgi_uwsgi_metric{name="mymetric",oid=""} -3`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("missing %q in:\n%s", want, body)
		}
	}
	if strings.Contains(body, `worker="0"`) {
		t.Error("a never-started cheap slot has metrics (ST-12)")
	}
}

func TestServeMetricsBindError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = ServeMetrics(context.Background(), ln.Addr().String(), snapshot)
	if err == nil || !strings.Contains(err.Error(), "metrics-http: bind") {
		t.Errorf("err = %v", err)
	}
}
