package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The metrics subsystem (ST-16, PY-50, enable-metrics, metric,
// metrics-dir), compared with uWSGI 2.0.21.

type metricEntry struct {
	Name  string
	Type  int64
	OID   string
	Value int64
}

// waitStatsServer waits for the stats server: uWSGI opens it after spawning the
// workers, gosgi before.
func waitStatsServer(t *testing.T, srv *Server) {
	t.Helper()
	srv.WaitLog(t, `Stats server enabled on`, StartTimeout)
}

// readMetrics returns the "metrics" object of the stats document in
// document order, and whether the document has one.
func readMetrics(t *testing.T, addr string) ([]metricEntry, bool) {
	t.Helper()
	raw := readStatsRaw(t, addr)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // {
		t.Fatalf("stats: %v", err)
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			t.Fatalf("stats: %v", err)
		}
		if kt != "metrics" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatalf("stats: %v", err)
			}
			continue
		}
		if _, err := dec.Token(); err != nil { // {
			t.Fatalf("stats metrics: %v", err)
		}
		var out []metricEntry
		for dec.More() {
			name, _ := dec.Token()
			var m struct {
				Type  int64  `json:"type"`
				OID   string `json:"oid"`
				Value int64  `json:"value"`
			}
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("stats metric %v: %v", name, err)
			}
			out = append(out, metricEntry{Name: name.(string), Type: m.Type, OID: m.OID, Value: m.Value})
		}
		return out, true
	}
	return nil, false
}

func metricValues(ms []metricEntry) map[string]int64 {
	out := map[string]int64{}
	for _, m := range ms {
		out[m.Name] = m.Value
	}
	return out
}

// waitMetrics polls the stats until want holds: both servers collect once
// a second, so values settle after a pass, never at a known instant.
func waitMetrics(t *testing.T, addr string, want func(map[string]int64) bool) map[string]int64 {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ms, ok := readMetrics(t, addr)
		if !ok {
			t.Fatalf("the stats document has no metrics object")
		}
		v := metricValues(ms)
		if want(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never reached the expected state; last values: %v", v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type metricCall struct {
	Call   string `json:"call"`
	Result string `json:"result"`
}

func metricCalls(t *testing.T, addr, query string) []metricCall {
	t.Helper()
	r := Do(t, addr, Get("/?"+query))
	var out []metricCall
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("metrics app: %v: %s", err, r.Body)
	}
	return out
}

// The calls of TestMetricsStatsAndAPI: g starts at 7 and ends at 4,
// mymetric at 6, a at 120; s sums mymetric and g, al shows g.
const metricsAPICalls = "metric_get=g&metric_inc=mymetric,5&metric_inc=mymetric&metric_dec=g&metric_mul=g,3" +
	"&metric_div=g,4&metric_div=g,0&metric_set=a,100&metric_set_max=a,50&metric_set_max=a,150" +
	"&metric_set_min=a,120&metric_set_min=a,-5&metric_set_min=g,3&metric_set=s,1&metric_set=al,1" +
	"&metric_inc=worker.1.requests&metric_inc=nope&metric_get=nope&metric_get=1.2.3&metric_get=al" +
	"&metric_inc=mymetric,x&metric_inc=_&metric_get=_&metric_get=mymetric"

var metricsArgs = []string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--wsgi-file", "{apps}/metrics_app.py",
	"--stats", "{http2}", "--enable-metrics",
	"--metric", "name=mymetric,type=counter",
	"--metric", "name=g,type=gauge,initial_value=7",
	"--metric", "name=a,type=absolute,oid=1.2.3",
	"--metric", "name=s,collector=sum,children=mymetric;g",
	"--metric", "name=al,type=alias,alias=g",
	"--metric", "name=core.overloaded,type=gauge,ignored_key=1"}

// TestMetricsStatsAndAPI: ST-16 names, order, types and oids of the
// built-in and custom metrics; PY-50 metric_* results; the values after
// requests and after the app changed its metrics.
func TestMetricsStatsAndAPI(t *testing.T) {
	Differential(t, Setup{Args: metricsArgs}, func(t *testing.T, e *Env) any {
		waitStatsServer(t, e.Srv)
		startup := []string{}
		for _, l := range strings.Split(e.Srv.Log(), "\n") {
			if strings.Contains(l, "custom metric") || strings.Contains(l, "initialized") && strings.Contains(l, "metrics") {
				startup = append(startup, l)
			}
		}
		ms, ok := readMetrics(t, e.Addr("http2"))
		if !ok {
			t.Fatalf("no metrics object in the stats")
		}
		var layout []string
		for _, m := range ms {
			layout = append(layout, fmt.Sprintf("%s type=%d oid=%s", m.Name, m.Type, m.OID))
		}
		// A read can fall in the middle of a collection pass: wait for
		// every value the result shows.
		initial := waitMetrics(t, e.Addr("http2"), func(v map[string]int64) bool {
			return v["core.idle_workers"] == 1 && v["s"] == 7 && v["worker.1.respawns"] == 1
		})
		for i := 0; i < 3; i++ {
			Do(t, e.Addr("http"), Get("/"))
		}
		calls := metricCalls(t, e.Addr("http"), metricsAPICalls)
		Do(t, e.Addr("http"), Get("/raise"))
		v := waitMetrics(t, e.Addr("http2"), func(v map[string]int64) bool {
			return v["worker.1.requests"] == 5 && v["worker.1.core.0.requests"] == 5 && v["worker.1.core.0.exceptions"] == 1 &&
				v["s"] == 10 && v["worker.1.total_tx"] > 0 && v["core.total_tx"] == v["worker.1.total_tx"] &&
				v["core.total_running_time"] == v["worker.1.running_time"]
		})
		keep := []string{"worker.0.requests", "worker.1.requests", "worker.1.delta_requests", "worker.1.respawns",
			"worker.1.core.0.requests", "worker.1.core.0.exceptions", "worker.1.failed_requests", "core.busy_workers", "core.idle_workers",
			"mymetric", "g", "a", "s", "al", "core.overloaded", "socket.0.listen_queue"}
		after := map[string]int64{}
		for _, k := range keep {
			after[k] = v[k]
		}
		return map[string]any{
			"startup": startup, "layout": layout,
			"initial": map[string]int64{"g": initial["g"], "al": initial["al"], "s": initial["s"], "worker.1.respawns": initial["worker.1.respawns"]},
			"calls":   calls, "after": after,
			"tx_counted":     v["worker.1.total_tx"] > 0,
			"running_summed": v["core.total_running_time"] == v["worker.1.running_time"],
		}
	})
}

// TestMetricsPerWorkerAndCores: two workers with two threads each, and
// metrics-no-cores dropping the per-core metrics.
func TestMetricsPerWorkerAndCores(t *testing.T) {
	for _, noCores := range []bool{false, true} {
		t.Run(fmt.Sprintf("no-cores=%v", noCores), func(t *testing.T) {
			args := []string{"--plugin", "python3", "--master", "--processes", "2", "--threads", "2", "--http-socket", "{http}",
				"--wsgi-file", "{apps}/metrics_app.py", "--stats", "{http2}", "--enable-metrics"}
			if noCores {
				args = append(args, "--metrics-no-cores")
			}
			Differential(t, Setup{Args: args, Ready: "spawned uWSGI worker 2 "}, func(t *testing.T, e *Env) any {
				waitStatsServer(t, e.Srv)
				ms, _ := readMetrics(t, e.Addr("http2"))
				var names []string
				for _, m := range ms {
					names = append(names, m.Name)
				}
				v := waitMetrics(t, e.Addr("http2"), func(v map[string]int64) bool {
					return v["core.idle_workers"] == 2 && v["worker.2.respawns"] == 1
				})
				return map[string]any{"names": names, "idle": v["core.idle_workers"], "respawns": v["worker.2.respawns"]}
			})
		})
	}
}

// TestMetricsStatsNoMetrics: stats-no-metrics drops the object; the
// metrics still work for the app.
func TestMetricsStatsNoMetrics(t *testing.T) {
	args := append(append([]string{}, metricsArgs...), "--stats-no-metrics")
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		waitStatsServer(t, e.Srv)
		_, has := readMetrics(t, e.Addr("http2"))
		calls := metricCalls(t, e.Addr("http"), "metric_inc=mymetric,3&metric_get=mymetric&metric_get=g")
		return map[string]any{"has_metrics": has, "calls": calls}
	})
}

// TestMetricsDisabled: without enable-metrics there is no metrics object
// and the functions exist but find nothing.
func TestMetricsDisabled(t *testing.T) {
	Differential(t, Setup{Args: []string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--wsgi-file",
		"{apps}/metrics_app.py", "--stats", "{http2}"}}, func(t *testing.T, e *Env) any {
		waitStatsServer(t, e.Srv)
		_, has := readMetrics(t, e.Addr("http2"))
		calls := metricCalls(t, e.Addr("http"), "metric_inc=x&metric_get=x&metric_get=worker.1.requests")
		return map[string]any{"has_metrics": has, "calls": calls}
	})
}

// metricFiles lists a metrics-dir: name, size, mode and content without
// the zero padding.
func metricFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("metrics-dir: %v", err)
	}
	var out []string
	for _, ent := range ents {
		b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			t.Fatalf("metrics-dir: %v", err)
		}
		fi, _ := ent.Info()
		content := string(bytes.TrimRight(b, "\x00"))
		switch {
		case content != "" && (strings.Contains(ent.Name(), "response_time") || strings.Contains(ent.Name(), "running_time")):
			content = "<microseconds>\n" // durations differ from run to run
		case strings.HasSuffix(ent.Name(), "_workers"):
			// uWSGI's master refreshes the busy/idle counts on its own
			// cycle, so whether a pass already saw the idle worker when
			// the other files are written is a matter of timing.
			content = "<0 or 1>"
		}
		out = append(out, fmt.Sprintf("%s size=%d mode=%v %q", ent.Name(), len(b), fi.Mode().Perm(), content))
	}
	sort.Strings(out)
	return out
}

// waitMetricFiles waits until the metrics-dir files satisfy cond (read
// gives a file's content without the padding).
func waitMetricFiles(t *testing.T, dir string, cond func(read func(name string) string) bool) {
	t.Helper()
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		return string(bytes.TrimRight(b, "\x00"))
	}
	deadline := time.Now().Add(15 * time.Second)
	for !cond(read) {
		if time.Now().After(deadline) {
			t.Fatalf("metrics-dir never reached the expected state: %q", metricFiles(t, dir))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestMetricsDir: one page-sized file per metric, rewritten when a
// collected value changes (never for a metric the app writes), and
// metrics-dir-restore taking the files' numbers as initial values.
func TestMetricsDir(t *testing.T) {
	Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
		dir := filepath.Join(e.Vars["dir"], "m")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		args := Args([]string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--wsgi-file", "{apps}/metrics_app.py",
			"--stats", "{http2}", "--metrics-dir", dir, "--metric", "c1", "--metric", "name=s1,collector=sum,children=c1"}, e.Vars)
		srv := Start(t, e.Impl.Name, e.Impl.Bin, args, StartOptions{Dir: e.Vars["dir"]})
		metricCalls(t, e.Addr("http"), "metric_inc=c1,5")
		// Every file the listing shows settled (a pass may be half done).
		waitMetricFiles(t, dir, func(read func(string) string) bool {
			return read("s1") == "5\n" && read("worker.1.requests") == "1\n" && read("worker.1.total_tx") != "" &&
				read("core.total_tx") == read("worker.1.total_tx") && read("core.total_running_time") == read("worker.1.running_time")
		})
		first := metricFiles(t, dir)
		srv.Stop(t)

		srv = Start(t, e.Impl.Name, e.Impl.Bin, append(args, "--metrics-dir-restore"), StartOptions{Dir: e.Vars["dir"]})
		waitStatsServer(t, srv)
		// Restored: s1 = 5 + c1 (0 after the restart); requests = 1 + live.
		v := waitMetrics(t, e.Addr("http2"), func(v map[string]int64) bool { return v["s1"] == 5 && v["worker.1.requests"] == 1 })
		calls := metricCalls(t, e.Addr("http"), "metric_get=c1&metric_inc=c1,2&metric_set_min=c1,1")
		v = waitMetrics(t, e.Addr("http2"), func(v map[string]int64) bool { return v["s1"] == 6 && v["worker.1.requests"] == 2 })
		srv.Stop(t)
		return map[string]any{"first": first, "restored": map[string]int64{"s1": v["s1"], "c1": v["c1"]}, "calls": calls}
	})
}

// TestMetricsBadOption: the `metric` values uWSGI refuses stop the
// startup with its message; unknown keys and types are accepted.
func TestMetricsBadOption(t *testing.T) {
	cases := []struct{ metric, line string }{
		{"name=x y", "invalid metric name: x y"},
		{"oid=1", "you need to specify a metric name: oid=1"},
		{"name=x,collector=zz", `unable to find metric collector "zz"`},
		{"name=x,type=alias", `metric alias "x" requires a mapping !!!`},
		{"name=x,oid=1.a", "invalid metric oid: 1.a"},
		{"name=x,children=nope", `unable to find metric "nope"`},
		{"name=x,alias=nope", `unable to find metric "nope"`},
	}
	for _, c := range cases {
		t.Run(c.metric, func(t *testing.T) {
			Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
				r := Run(t, e.Impl.Bin, Args([]string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--wsgi-file",
					"{apps}/metrics_app.py", "--metric", c.metric}, e.Vars), e.Vars["dir"])
				return map[string]any{"code": r.Code, "said": LogHasLine(r.Stderr, c.line)}
			})
		})
	}
}

// TestMetricsLogformat: %(metric.NAME) in logformat (LG-10) reads the
// metric as the request ends; unknown names print 0, as in uWSGI.
func TestMetricsLogformat(t *testing.T) {
	Differential(t, Setup{Args: []string{"--plugin", "python3", "--master", "--http-socket", "{http}",
		"--wsgi-file", "{apps}/metrics_app.py", "--metric", "c1",
		"--logformat", "LF c1=%(metric.c1) nope=%(metric.nope)"}}, func(t *testing.T, e *Env) any {
		Do(t, e.Addr("http"), Get("/?metric_inc=c1,5"))
		Do(t, e.Addr("http"), Get("/"))
		return e.Srv.WaitLogCount(t, `LF c1=\S+ nope=\S+`, 2, StartTimeout)
	})
}

// TestMetricsReload: a graceful reload (SIGHUP) starts the metrics again
// from their initial values, as a fresh uWSGI instance does.
func TestMetricsReload(t *testing.T) {
	Differential(t, Setup{Args: []string{"--plugin", "python3", "--master", "--http-socket", "{http}",
		"--wsgi-file", "{apps}/metrics_app.py", "--metric", "name=c1,initial_value=2",
		"--metric", "name=s1,collector=sum,children=c1"}}, func(t *testing.T, e *Env) any {
		before := metricCalls(t, e.Addr("http"), "metric_inc=c1,5&metric_get=c1&pid")
		oldPid, _ := strconv.Atoi(before[2].Result)
		before = before[:2]
		e.Srv.Signal(t, syscall.SIGHUP)
		e.Srv.WaitLogCount(t, `spawned uWSGI worker 1 `, 2, StartTimeout)
		// gosgi's previous worker answers until the new one takes over (with
		// the previous values): wait until it is gone.
		deadline := time.Now().Add(StartTimeout)
		for syscall.Kill(oldPid, 0) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("the worker of before the reload (pid %d) is still there", oldPid)
			}
			time.Sleep(50 * time.Millisecond)
		}
		after := metricCalls(t, e.Addr("http"), "metric_inc=c1&metric_get=c1")
		return map[string]any{"before": before, "after": after}
	})
}

// TestMetricsConcurrentUpdates: metric_inc from every core of several
// workers at once loses no update (one lock for all Python processes).
func TestMetricsConcurrentUpdates(t *testing.T) {
	const clients, each = 4, 50
	Differential(t, Setup{Args: []string{"--plugin", "python3", "--master", "--processes", "3", "--threads", "2",
		"--http-socket", "{http}", "--wsgi-file", "{apps}/metrics_app.py", "--metric", "c1",
		"--disable-logging"}, Ready: "spawned uWSGI worker 3 "}, func(t *testing.T, e *Env) any {
		var wg sync.WaitGroup
		for i := 0; i < clients; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < each; j++ {
					if _, err := RawExchange(e.Addr("http"), []byte(Get("/?metric_inc=c1"))); err != nil {
						t.Errorf("request: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		got := metricCalls(t, e.Addr("http"), "metric_get=c1")
		if len(got) != 1 || got[0].Result != fmt.Sprint(clients*each) {
			t.Errorf("after %d increments metric_get says %v", clients*each, got)
		}
		return got
	})
}

// TestMetricsDirMissing: a metrics-dir that does not exist stops the
// startup (uWSGI cannot resolve it either).
func TestMetricsDirMissing(t *testing.T) {
	Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
		r := Run(t, e.Impl.Bin, Args([]string{"--plugin", "python3", "--master", "--http-socket", "{http}",
			"--wsgi-file", "{apps}/metrics_app.py", "--metrics-dir", "{dir}/missing"}, e.Vars), e.Vars["dir"])
		return map[string]any{"code": r.Code, "named": strings.Contains(r.Stderr, "metrics") || strings.Contains(r.Stderr, "missing")}
	})
}

// TestMetricsEnabledByOtherOptions: as in uWSGI, any metrics option but
// stats-no-metrics turns the subsystem on without enable-metrics.
func TestMetricsEnabledByOtherOptions(t *testing.T) {
	initialized := regexp.MustCompile(`initialized \d+ metrics`)
	for _, opt := range []string{"--metrics-no-cores", "--metrics-dir-restore", "--stats-no-metrics"} {
		t.Run(opt, func(t *testing.T) {
			Differential(t, Setup{Args: []string{"--plugin", "python3", "--master", "--http-socket", "{http}",
				"--wsgi-file", "{apps}/metrics_app.py", opt}}, func(t *testing.T, e *Env) any {
				Do(t, e.Addr("http"), Get("/"))
				return initialized.FindString(e.Srv.Log())
			})
		})
	}
}

// TestMetricsCollectors: the collectors of custom metrics (adder,
// multiplier, avg, file, func, freq and initial_value) against uWSGI's.
func TestMetricsCollectors(t *testing.T) {
	Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
		num := filepath.Join(e.Vars["dir"], "num")
		if err := os.WriteFile(num, []byte("10 20\t30\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		args := Args([]string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--wsgi-file",
			"{apps}/metrics_app.py", "--stats", "{http2}", "--metric", "c1", "--metric", "c2",
			"--metric", "name=add,collector=adder,children=c1,arg1n=100",
			"--metric", "name=mul,type=gauge,collector=multiplier,children=c1,arg1n=3",
			"--metric", "name=avg,collector=avg,children=c1;c2",
			"--metric", "name=file,collector=file,arg1=" + num + ",arg1n=1",
			"--metric", "name=slow,collector=sum,children=c1,freq=3,initial_value=1000",
			"--metric", "name=fn,collector=func,arg1=no_such_symbol"}, e.Vars)
		srv := Start(t, e.Impl.Name, e.Impl.Bin, args, StartOptions{Dir: e.Vars["dir"]})
		waitStatsServer(t, srv)
		calls := metricCalls(t, e.Addr("http"), "metric_set=c1,6&metric_set=c2,2&metric_inc=add&metric_set=file,1")
		v := waitMetrics(t, e.Addr("http2"), func(v map[string]int64) bool {
			return v["add"] == 106 && v["mul"] == 18 && v["avg"] == 4 && v["file"] == 20 && v["slow"] == 1006
		})
		return map[string]any{"calls": calls, "fn": v["fn"]}
	})
}

// TestMetricsGeventCores: in gevent mode the per-core metrics follow the
// async cores (gevent = N), as uWSGI's do.
func TestMetricsGeventCores(t *testing.T) {
	RequirePlugin(t, "gevent_python3")
	Differential(t, Setup{Args: []string{"--plugins", "python3,gevent_python3", "--master", "--gevent", "3",
		"--http-socket", "{http}", "--stats", "{http2}", "--wsgi-file", "{apps}/gevent_app.py", "--enable-metrics"}},
		func(t *testing.T, e *Env) any {
			waitStatsServer(t, e.Srv)
			ms, _ := readMetrics(t, e.Addr("http2"))
			var names []string
			for _, m := range ms {
				if strings.Contains(m.Name, ".core.") {
					names = append(names, m.Name)
				}
			}
			return names
		})
}
