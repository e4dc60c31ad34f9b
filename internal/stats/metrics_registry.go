package stats

import (
	"fmt"
	"strings"
)

// Metric value types as uWSGI numbers them in the stats "metrics" object
// (ST-16).
const (
	MetricCounter  = 0
	MetricGauge    = 1
	MetricAbsolute = 2
	MetricAlias    = 3
)

// Metric collectors: how the master computes a value every freq seconds.
// A metric without a collector holds what the application stores with
// uwsgi.metric_set/inc/... and is the only kind the application may change.
const (
	CollectBuiltin     = "ptr"         // a scoreboard counter (built-in metrics)
	CollectFile        = "file"        // a number read from the file arg1 (token arg1n)
	CollectSum         = "sum"         // sum of the children
	CollectAccumulator = "accumulator" // its own value plus the children's
	CollectAdder       = "adder"       // sum of the children plus arg1n
	CollectMultiplier  = "multiplier"  // sum of the children times arg1n
	CollectAvg         = "avg"         // average of the children
	CollectFunc        = "func"        // a C symbol in uWSGI: always 0 here
)

var knownCollectors = []string{CollectBuiltin, CollectFile, CollectSum, CollectAccumulator,
	CollectAdder, CollectMultiplier, CollectAvg, CollectFunc}

// MetricDef is one registered metric.
type MetricDef struct {
	Name      string
	OID       string
	Type      int
	Collector string // "" for an application-written metric
	// Builtin says which scoreboard counter a built-in metric copies.
	Builtin  BuiltinSource
	Children []int // indexes in MetricSet.Defs (sum, avg, ...)
	Alias    int   // type alias: index of the metric it shows; -1 otherwise
	Freq     int   // seconds between two collections (>= 1)
	Initial  int64 // initial_value, added to every collected value
	Arg1     string
	Arg1N    int64
	Slot     int // value slot in the scoreboard's metrics region
}

// Writable reports whether the application may change the metric: only
// metrics without a collector that are not aliases (uWSGI refuses the
// others).
func (d *MetricDef) Writable() bool { return d.Collector == "" && d.Type != MetricAlias }

// BuiltinSource names the counter behind a built-in metric.
type BuiltinSource struct {
	Kind   string // "core", "worker", "wcore", "socket", "zero"
	Field  string // e.g. "requests", "busy_workers"
	Worker int
	Core   int
	Socket int
}

// MetricsConfig is what decides the list of metrics.
type MetricsConfig struct {
	Workers int      // processes
	Cores   int      // threads per worker
	Sockets int      // listening sockets (socket.N.listen_queue)
	NoCores bool     // metrics-no-cores
	Custom  []string // `metric` options in order
}

// MetricSet is the ordered list of metrics, as the stats server prints
// them and the Python side finds them by name.
type MetricSet struct {
	Defs   []MetricDef
	Slots  int      // value slots used
	Events []string // "added custom metric: x" lines, in order
}

// Index returns the position of a metric by name, -1 if unknown.
func (s *MetricSet) Index(name string) int {
	for i := range s.Defs {
		if s.Defs[i].Name == name {
			return i
		}
	}
	return -1
}

// BuildMetrics registers the built-in metrics in uWSGI 2.0's order, then
// the custom ones. Errors are the messages uWSGI exits with.
func BuildMetrics(c MetricsConfig) (*MetricSet, error) {
	s := &MetricSet{}
	core := func(name, oid string, typ int, field string) {
		s.add(MetricDef{Name: name, OID: oid, Type: typ, Collector: CollectBuiltin, Builtin: BuiltinSource{Kind: "core", Field: field}})
	}
	core("core.routed_signals", "5.1", MetricCounter, "routed_signals")
	core("core.unrouted_signals", "5.2", MetricCounter, "unrouted_signals")
	core("core.busy_workers", "5.3", MetricGauge, "busy_workers")
	core("core.idle_workers", "5.4", MetricGauge, "idle_workers")
	core("core.overloaded", "5.5", MetricCounter, "overloaded")

	// The totals are registered now but listed after the workers.
	totals := []MetricDef{
		{Name: "core.total_tx", OID: "5.100", Type: MetricCounter, Collector: CollectSum},
		{Name: "core.total_rss", OID: "5.101", Type: MetricGauge, Collector: CollectSum},
		{Name: "core.total_vsz", OID: "5.102", Type: MetricGauge, Collector: CollectSum},
		{Name: "core.avg_response_time", OID: "5.103", Type: MetricGauge, Collector: CollectAvg},
		{Name: "core.total_running_time", OID: "5.104", Type: MetricCounter, Collector: CollectSum},
	}
	// worker fields: name, oid suffix, type, index in totals (-1 none)
	workerFields := []struct {
		field, oid string
		typ, total int
	}{
		{"requests", "1", MetricCounter, -1},
		{"delta_requests", "2", MetricAbsolute, -1},
		{"failed_requests", "13", MetricCounter, -1},
		{"respawns", "14", MetricCounter, -1},
		{"avg_response_time", "8", MetricGauge, 3},
		{"total_tx", "9", MetricCounter, 0},
		{"rss_size", "11", MetricGauge, 1},
		{"vsz_size", "12", MetricGauge, 2},
		{"running_time", "13", MetricCounter, 4}, // 3.N.13 twice, as in uWSGI
	}
	coreFields := []struct{ field, oid string }{
		{"requests", "1"}, {"write_errors", "3"}, {"routed_requests", "4"}, {"static_requests", "5"},
		{"offloaded_requests", "6"}, {"exceptions", "7"}, {"read_errors", "8"},
	}
	var totalChildren [5][]int
	for w := 0; w <= c.Workers; w++ {
		for _, f := range workerFields {
			i := s.add(MetricDef{
				Name: fmt.Sprintf("worker.%d.%s", w, f.field), OID: fmt.Sprintf("3.%d.%s", w, f.oid),
				Type: f.typ, Collector: CollectBuiltin,
				Builtin: BuiltinSource{Kind: "worker", Field: f.field, Worker: w},
			})
			if f.total >= 0 && w > 0 {
				totalChildren[f.total] = append(totalChildren[f.total], i)
			}
		}
		if w == 0 || c.NoCores {
			continue
		}
		for j := 0; j < c.Cores; j++ {
			for _, f := range coreFields {
				s.add(MetricDef{
					Name: fmt.Sprintf("worker.%d.core.%d.%s", w, j, f.field), OID: fmt.Sprintf("3.%d.2.%d.%s", w, j, f.oid),
					Type: MetricCounter, Collector: CollectBuiltin,
					Builtin: BuiltinSource{Kind: "wcore", Field: f.field, Worker: w, Core: j},
				})
			}
		}
	}
	totalIdx := make([]int, len(totals))
	for i, t := range totals {
		t.Children = totalChildren[i]
		totalIdx[i] = s.add(t)
	}
	for n := 0; n < c.Sockets; n++ {
		s.add(MetricDef{Name: fmt.Sprintf("socket.%d.listen_queue", n), OID: fmt.Sprintf("7.%d.1", n),
			Type: MetricGauge, Collector: CollectBuiltin, Builtin: BuiltinSource{Kind: "socket", Field: "listen_queue", Socket: n}})
	}
	s.add(MetricDef{Name: "rss_size", Type: MetricAlias, Alias: totalIdx[1]})
	s.add(MetricDef{Name: "vsz_size", Type: MetricAlias, Alias: totalIdx[2]})

	for _, text := range c.Custom {
		spec, err := ParseMetric(text)
		if err != nil {
			return nil, err
		}
		if err := s.addCustom(spec); err != nil {
			return nil, err
		}
	}
	return s, s.assignSlots()
}

// add appends a metric, or replaces the one of the same name in place (a
// later registration overrides an earlier one, as in uWSGI), and returns
// its index.
func (s *MetricSet) add(d MetricDef) int {
	if d.Type != MetricAlias {
		d.Alias = -1
	}
	if d.Freq < 1 {
		d.Freq = 1
	}
	if i := s.Index(d.Name); i >= 0 {
		d.Children = append(s.Defs[i].Children, d.Children...)
		s.Defs[i] = d
		return i
	}
	s.Defs = append(s.Defs, d)
	return len(s.Defs) - 1
}

func (s *MetricSet) addCustom(m MetricSpec) error {
	if m.Collector != "" && !containsString(knownCollectors, m.Collector) {
		return fmt.Errorf("unable to find metric collector \"%s\"", m.Collector)
	}
	d := MetricDef{Name: m.Name, OID: m.OID, Type: m.Type, Collector: m.Collector, Freq: m.Freq,
		Initial: m.InitialValue, Arg1: m.Arg1, Arg1N: m.Arg1N, Alias: -1}
	for _, child := range m.Children {
		i := s.Index(child)
		if i < 0 {
			return fmt.Errorf("unable to find metric \"%s\"", child)
		}
		d.Children = append(d.Children, i)
	}
	if m.Alias != "" {
		i := s.Index(m.Alias)
		if i < 0 {
			return fmt.Errorf("unable to find metric \"%s\"", m.Alias)
		}
		d.Alias = i
	}
	alias := d.Alias
	i := s.add(d)
	s.Defs[i].Alias = alias
	s.Events = append(s.Events, "added custom metric: "+m.Name)
	return nil
}

// assignSlots gives every metric its value slot; an alias shares the slot
// (and shows the oid) of the metric it names.
func (s *MetricSet) assignSlots() error {
	for i := range s.Defs {
		s.Defs[i].Slot = i
	}
	s.Slots = len(s.Defs)
	for i := range s.Defs {
		d := &s.Defs[i]
		if d.Type != MetricAlias {
			continue
		}
		if d.Alias < 0 {
			return fmt.Errorf("metric alias \"%s\" requires a mapping !!!", d.Name)
		}
		target := &s.Defs[d.Alias]
		d.Slot, d.OID = target.Slot, target.OID
	}
	return nil
}

func containsString(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// MetricSpec is one `metric` option.
type MetricSpec struct {
	Name         string
	OID          string
	Type         int
	Collector    string
	Freq         int
	InitialValue int64
	Arg1         string
	Arg1N        int64
	Children     []string
	Alias        string
}

// ParseMetric reads a `metric` option: a bare name, or uWSGI's key=value
// list (name, oid, type, initial_value, collector, freq, arg1..arg3,
// arg1n..arg3n, children separated by ';', alias, reset_after_push).
// Unknown keys are ignored and numbers are read like C's strtoll (a
// leading number, else 0), as uWSGI does; a missing name and names or
// oids with characters uWSGI refuses are errors.
func ParseMetric(text string) (MetricSpec, error) {
	var m MetricSpec
	if !strings.Contains(text, "=") {
		m.Name = text
	} else {
		kv, err := parseMetricKeyval(text)
		if err != nil {
			return m, err
		}
		m.Name, m.OID, m.Collector = kv["name"], kv["oid"], kv["collector"]
		m.Arg1, m.Alias = kv["arg1"], kv["alias"]
		switch kv["type"] {
		case "gauge":
			m.Type = MetricGauge
		case "absolute":
			m.Type = MetricAbsolute
		case "alias":
			m.Type = MetricAlias
		}
		if v, ok := kv["freq"]; ok {
			m.Freq = int(uint32(strtoll(v)))
		}
		m.InitialValue = strtoll(kv["initial_value"])
		m.Arg1N = strtoll(kv["arg1n"])
		if v := kv["children"]; v != "" {
			for _, c := range strings.Split(v, ";") {
				if c != "" {
					m.Children = append(m.Children, c)
				}
			}
		}
	}
	if m.Name == "" {
		return m, fmt.Errorf("you need to specify a metric name: %s", text)
	}
	if !validMetricName(m.Name) {
		return m, fmt.Errorf("invalid metric name: %s", m.Name)
	}
	if !validMetricOID(m.OID) {
		return m, fmt.Errorf("invalid metric oid: %s", m.OID)
	}
	return m, nil
}

// parseMetricKeyval splits "k=v,k=v"; an item without '=' is a syntax
// error, as in uWSGI's key-value lists. A repeated key keeps the last value.
func parseMetricKeyval(text string) (map[string]string, error) {
	kv := map[string]string{}
	for _, item := range strings.Split(text, ",") {
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("invalid metric keyval syntax: %s", text)
		}
		kv[k] = v
	}
	return kv, nil
}

func validMetricName(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func validMetricOID(o string) bool {
	for i := 0; i < len(o); i++ {
		if c := o[i]; !(c >= '0' && c <= '9' || c == '.') {
			return false
		}
	}
	return true
}

// strtoll reads a leading base-10 integer like C's strtoll: spaces, an
// optional sign, digits; nothing readable is 0, overflow saturates.
func strtoll(s string) int64 {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] >= '\t' && s[i] <= '\r') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var v uint64
	limit := uint64(1<<63 - 1)
	if neg {
		limit++
	}
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := uint64(s[i] - '0')
		if v > (limit-d)/10 {
			v = limit
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			break
		}
		v = v*10 + d
	}
	if neg {
		return int64(-v)
	}
	return int64(v)
}
