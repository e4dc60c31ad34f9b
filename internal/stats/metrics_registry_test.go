package stats

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseMetric(t *testing.T) {
	cases := []struct {
		in      string
		want    MetricSpec
		wantErr string
	}{
		{in: "foo", want: MetricSpec{Name: "foo"}},
		{in: "name=foo,type=gauge,oid=1.2.3,initial_value=7", want: MetricSpec{Name: "foo", Type: MetricGauge, OID: "1.2.3", InitialValue: 7}},
		{in: "name=a,type=absolute", want: MetricSpec{Name: "a", Type: MetricAbsolute}},
		{in: "name=a,type=alias,alias=b", want: MetricSpec{Name: "a", Type: MetricAlias, Alias: "b"}},
		{in: "name=a,type=bogus", want: MetricSpec{Name: "a"}}, // unknown type: counter
		{in: "name=s,collector=sum,children=x;y;;z,freq=5", want: MetricSpec{Name: "s", Collector: "sum", Children: []string{"x", "y", "z"}, Freq: 5}},
		{in: "name=f,collector=file,arg1=/proc/loadavg,arg1n=2", want: MetricSpec{Name: "f", Collector: "file", Arg1: "/proc/loadavg", Arg1N: 2}},
		{in: "name=x,initial_value=12abc,foo=bar,reset_after_push=1", want: MetricSpec{Name: "x", InitialValue: 12}},
		{in: "name=x,initial_value=-5", want: MetricSpec{Name: "x", InitialValue: -5}},
		{in: "name=x y", wantErr: "invalid metric name: x y"},
		{in: "x/y", wantErr: "invalid metric name: x/y"},
		{in: "oid=1", wantErr: "you need to specify a metric name: oid=1"},
		{in: "name=x,oid=1.a", wantErr: "invalid metric oid: 1.a"},
		{in: "name=x,junk", wantErr: "invalid metric keyval syntax: name=x,junk"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseMetric(c.in)
			if c.wantErr != "" {
				if err == nil || err.Error() != c.wantErr {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func FuzzParseMetric(f *testing.F) {
	for _, s := range []string{"foo", "name=foo,type=gauge,oid=1.2", "name=s,collector=sum,children=a;b",
		"name=,oid=", "=,=", "name=x,initial_value=99999999999999999999999", "name=x,freq=-1", ",,,", "name=é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		m, err := ParseMetric(in)
		if err != nil {
			return
		}
		if m.Name == "" || !validMetricName(m.Name) || !validMetricOID(m.OID) {
			t.Fatalf("accepted %q as %+v", in, m)
		}
		// Whatever parses registers or fails with a message, never panics.
		BuildMetrics(MetricsConfig{Workers: 1, Cores: 1, Sockets: 1, Custom: []string{in}})
	})
}

func TestStrtoll(t *testing.T) {
	cases := map[string]int64{"": 0, "12": 12, "  -3x": -3, "+4": 4, "abc": 0, "\n7\n": 7,
		"9223372036854775807": 1<<63 - 1, "99999999999999999999": 1<<63 - 1, "-99999999999999999999": -1 << 63}
	for in, want := range cases {
		if got := strtoll(in); got != want {
			t.Errorf("strtoll(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestBuildMetricsLayout: uWSGI 2.0.21's list for one worker with one core
// (38 built-ins), as its stats server prints it.
func TestBuildMetricsLayout(t *testing.T) {
	s, err := BuildMetrics(MetricsConfig{Workers: 1, Cores: 1, Sockets: 1, Custom: []string{"name=mymetric,type=counter"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range s.Defs {
		got = append(got, fmt.Sprintf("%s %d %s", d.Name, d.Type, d.OID))
	}
	want := []string{
		"core.routed_signals 0 5.1", "core.unrouted_signals 0 5.2", "core.busy_workers 1 5.3", "core.idle_workers 1 5.4", "core.overloaded 0 5.5",
		"worker.0.requests 0 3.0.1", "worker.0.delta_requests 2 3.0.2", "worker.0.failed_requests 0 3.0.13", "worker.0.respawns 0 3.0.14",
		"worker.0.avg_response_time 1 3.0.8", "worker.0.total_tx 0 3.0.9", "worker.0.rss_size 1 3.0.11", "worker.0.vsz_size 1 3.0.12", "worker.0.running_time 0 3.0.13",
		"worker.1.requests 0 3.1.1", "worker.1.delta_requests 2 3.1.2", "worker.1.failed_requests 0 3.1.13", "worker.1.respawns 0 3.1.14",
		"worker.1.avg_response_time 1 3.1.8", "worker.1.total_tx 0 3.1.9", "worker.1.rss_size 1 3.1.11", "worker.1.vsz_size 1 3.1.12", "worker.1.running_time 0 3.1.13",
		"worker.1.core.0.requests 0 3.1.2.0.1", "worker.1.core.0.write_errors 0 3.1.2.0.3", "worker.1.core.0.routed_requests 0 3.1.2.0.4",
		"worker.1.core.0.static_requests 0 3.1.2.0.5", "worker.1.core.0.offloaded_requests 0 3.1.2.0.6", "worker.1.core.0.exceptions 0 3.1.2.0.7",
		"worker.1.core.0.read_errors 0 3.1.2.0.8",
		"core.total_tx 0 5.100", "core.total_rss 1 5.101", "core.total_vsz 1 5.102", "core.avg_response_time 1 5.103", "core.total_running_time 0 5.104",
		"socket.0.listen_queue 1 7.0.1", "rss_size 3 5.101", "vsz_size 3 5.102", "mymetric 0 ",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("layout:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rss := s.Defs[s.Index("rss_size")]; rss.Slot != s.Defs[s.Index("core.total_rss")].Slot {
		t.Errorf("alias rss_size does not share core.total_rss's value")
	}
}

func TestBuildMetricsCounts(t *testing.T) {
	cases := []struct {
		cfg  MetricsConfig
		want int
	}{
		{MetricsConfig{Workers: 1, Cores: 1, Sockets: 1}, 38},
		{MetricsConfig{Workers: 2, Cores: 2, Sockets: 1}, 5 + 3*9 + 2*2*7 + 5 + 1 + 2},
		{MetricsConfig{Workers: 2, Cores: 2, Sockets: 2, NoCores: true}, 5 + 3*9 + 5 + 2 + 2},
		// A custom metric named like a built-in replaces it in place.
		{MetricsConfig{Workers: 1, Cores: 1, Sockets: 1, Custom: []string{"core.overloaded"}}, 38},
	}
	for _, c := range cases {
		s, err := BuildMetrics(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Defs) != c.want {
			t.Errorf("%+v: %d metrics, want %d", c.cfg, len(s.Defs), c.want)
		}
	}
}

func TestBuildMetricsErrors(t *testing.T) {
	cases := map[string]string{
		"name=x,collector=zz":  `unable to find metric collector "zz"`,
		"name=x,type=alias":    `metric alias "x" requires a mapping !!!`,
		"name=x,children=nope": `unable to find metric "nope"`,
		"name=x,alias=nope":    `unable to find metric "nope"`,
	}
	for in, want := range cases {
		_, err := BuildMetrics(MetricsConfig{Workers: 1, Cores: 1, Custom: []string{in}})
		if err == nil || err.Error() != want {
			t.Errorf("%s: err = %v, want %q", in, err, want)
		}
	}
}

type memValues []int64

func (m memValues) Load(i int) int64     { return m[i] }
func (m memValues) Store(i int, v int64) { m[i] = v }

// TestMetricCollectorTick: collectors, initial values, freq and the
// change callback (metrics-dir) that never fires for app-written metrics.
func TestMetricCollectorTick(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "stat")
	os.WriteFile(file, []byte("10 20\t30\n"), 0o644)
	s, err := BuildMetrics(MetricsConfig{Workers: 1, Cores: 1, Custom: []string{
		"c1", "name=c2,initial_value=3",
		"name=sum,collector=sum,children=c1;c2",
		"name=avg,collector=avg,children=c1;c2",
		"name=add,collector=adder,children=c1,arg1n=100",
		"name=mul,collector=multiplier,children=c2,arg1n=4",
		"name=acc,collector=accumulator,children=c1",
		"name=file,collector=file,arg1=" + file + ",arg1n=1",
		"name=slow,collector=sum,children=c1,freq=3,initial_value=1000",
		"name=fn,collector=func,arg1=nothing",
		"name=al,type=alias,alias=c2",
	}})
	if err != nil {
		t.Fatal(err)
	}
	vals := make(memValues, s.Slots)
	var changed []string
	c := &MetricCollector{Set: s, Values: vals,
		Builtin: func(src BuiltinSource) int64 {
			if src.Kind == "worker" && src.Field == "requests" && src.Worker == 1 {
				return 42
			}
			return 0
		},
		Changed: func(d *MetricDef, v int64) { changed = append(changed, fmt.Sprintf("%s=%d", d.Name, v)) },
	}
	c.Reset()
	get := func(name string) int64 { return vals[s.Defs[s.Index(name)].Slot] }
	vals[s.Defs[s.Index("c1")].Slot] = 5 // as uwsgi.metric_set would
	c.Tick(100)
	want := map[string]int64{"c1": 5, "c2": 3, "al": 3, "sum": 8, "avg": 4, "add": 105, "mul": 12, "acc": 5,
		"file": 20, "slow": 1005, "fn": 0, "worker.1.requests": 42}
	for k, v := range want {
		if got := get(k); got != v {
			t.Errorf("after the first pass %s = %d, want %d", k, got, v)
		}
	}
	for _, ch := range changed {
		if strings.HasPrefix(ch, "c1=") || strings.HasPrefix(ch, "c2=") || strings.HasPrefix(ch, "al=") {
			t.Errorf("app-written metric reported as collected: %s", ch)
		}
	}
	vals[s.Defs[s.Index("c1")].Slot] = 7
	changed = nil
	c.Tick(101)
	if get("sum") != 10 || get("acc") != 12 || get("slow") != 1005 {
		t.Errorf("second pass: sum %d (want 10), acc %d (want 12), slow %d (want 1005: freq 3)", get("sum"), get("acc"), get("slow"))
	}
	c.Tick(103)
	if get("slow") != 1007 {
		t.Errorf("slow after its freq = %d, want 1007", get("slow"))
	}
	if !contains(changed, "sum=10") {
		t.Errorf("changes %v lack sum=10", changed)
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func TestFileMetricToken(t *testing.T) {
	cases := []struct {
		in   string
		pos  int64
		want int64
	}{
		{"1 2 3", 0, 1}, {"1 2 3", 2, 3}, {"1 2 3", 3, 0}, {"  7 8", 0, 7}, {"  7 8", 1, 7}, // leading blanks shift the count, as in uWSGI
		{"7  8", 1, 8},
		{"0.52 0.58 0.59 1/389 12345\n", 4, 12345}, {"", 0, 0}, {"5\n\x00\x00", 0, 5}, {"x 9", 0, 0},
	}
	for _, c := range cases {
		if got := FileMetricToken([]byte(c.in), c.pos); got != c.want {
			t.Errorf("FileMetricToken(%q, %d) = %d, want %d", c.in, c.pos, got, c.want)
		}
	}
}

func TestMetricFileContent(t *testing.T) {
	b := MetricFileContent(-12, 4096)
	if len(b) != 4096 || string(b[:4]) != "-12\n" || b[4] != 0 || b[4095] != 0 {
		t.Fatalf("content %q...", b[:8])
	}
}
