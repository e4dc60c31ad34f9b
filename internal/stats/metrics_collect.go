package stats

import (
	"fmt"
	"os"
)

// MetricValues is where metric values live: the scoreboard's metrics
// region, shared with every Python process.
type MetricValues interface {
	Load(slot int) int64
	Store(slot int, v int64)
}

// MetricCollector updates the metrics that have a collector, as uWSGI's
// metrics thread does: one pass a second, each metric when its freq has
// elapsed (the first pass collects them all).
type MetricCollector struct {
	Set    *MetricSet
	Values MetricValues
	// Builtin reads the counter behind a built-in metric.
	Builtin func(BuiltinSource) int64
	// Changed is called after a pass stored a new value in a collected
	// metric (metrics-dir); nil ignores.
	Changed func(d *MetricDef, v int64)
	Logf    func(format string, args ...any)
	last    []int64 // unix seconds of the last collection, 0 never
}

// Reset puts every value back to 0, then to its initial_value, as a fresh
// uWSGI instance starts.
func (c *MetricCollector) Reset() {
	for i := 0; i < c.Set.Slots; i++ {
		c.Values.Store(i, 0)
	}
	for i := range c.Set.Defs {
		if d := &c.Set.Defs[i]; d.Initial != 0 {
			c.Values.Store(d.Slot, d.Initial)
		}
	}
	c.last = nil
}

// Tick runs one collection pass at time now (unix seconds).
func (c *MetricCollector) Tick(now int64) {
	if c.last == nil {
		c.last = make([]int64, len(c.Set.Defs))
	}
	for i := range c.Set.Defs {
		d := &c.Set.Defs[i]
		if c.last[i] != 0 && now-c.last[i] < int64(d.Freq) {
			continue
		}
		c.last[i] = now
		if d.Collector == "" {
			continue // written by the application (or an alias): nothing to collect
		}
		old := c.Values.Load(d.Slot)
		v := d.Initial + c.collect(d)
		c.Values.Store(d.Slot, v)
		if v != old && c.Changed != nil {
			c.Changed(d, v)
		}
	}
}

func (c *MetricCollector) collect(d *MetricDef) int64 {
	switch d.Collector {
	case CollectBuiltin:
		if c.Builtin == nil {
			return 0
		}
		return c.Builtin(d.Builtin)
	case CollectFile:
		return c.fromFile(d)
	case CollectSum:
		return c.childrenSum(d)
	case CollectAccumulator:
		return c.Values.Load(d.Slot) + c.childrenSum(d)
	case CollectAdder:
		return c.childrenSum(d) + d.Arg1N
	case CollectMultiplier:
		return c.childrenSum(d) * d.Arg1N
	case CollectAvg:
		if len(d.Children) == 0 {
			return 0
		}
		return c.childrenSum(d) / int64(len(d.Children))
	}
	return 0 // func: uWSGI looks up a C symbol; gosgi has none to call
}

func (c *MetricCollector) childrenSum(d *MetricDef) int64 {
	var total int64
	for _, ci := range d.Children {
		total += c.Values.Load(c.Set.Defs[ci].Slot)
	}
	return total
}

// fromFile reads the arg1n-th blank-separated number of the file arg1
// (its first 4 KiB); an unreadable file logs the error and counts 0.
func (c *MetricCollector) fromFile(d *MetricDef) int64 {
	if d.Arg1 == "" {
		return 0
	}
	f, err := os.Open(d.Arg1)
	if err != nil {
		if c.Logf != nil {
			c.Logf("metric %s: %v", d.Name, err)
		}
		return 0
	}
	defer f.Close()
	buf := make([]byte, 4096)
	n, _ := f.Read(buf)
	return FileMetricToken(buf[:n], d.Arg1N)
}

// FileMetricToken returns the number at token pos of a file's content:
// tokens are separated by blanks (space, tab, CR, LF, NUL), and the
// number is read like strtoll; a missing token is 0.
func FileMetricToken(buf []byte, pos int64) int64 {
	blank := func(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' || b == 0 }
	if len(buf) == 0 {
		return 0
	}
	start, tok := 0, int64(0)
	inBlank := false
	for i, b := range buf {
		switch {
		case !inBlank && blank(b):
			if tok == pos {
				return strtoll(cString(buf[start:]))
			}
			inBlank = true
		case inBlank && !blank(b):
			inBlank = false
			start = i
			tok++
		}
	}
	if tok == pos {
		return strtoll(cString(buf[start:]))
	}
	return 0
}

// cString is b up to its first NUL, as C string functions see it.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// MetricsFromSet lists the metrics for the stats document (ST-16).
func MetricsFromSet(set *MetricSet, values MetricValues) []Metric {
	out := make([]Metric, 0, len(set.Defs))
	for i := range set.Defs {
		d := &set.Defs[i]
		out = append(out, Metric{Name: d.Name, Type: d.Type, OID: d.OID, Value: values.Load(d.Slot)})
	}
	return out
}

// MetricFileContent is what a metrics-dir file holds for v: the number
// and a newline, the rest of the page zeroed.
func MetricFileContent(v int64, page int) []byte {
	b := make([]byte, page)
	copy(b, fmt.Sprintf("%d\n", v))
	return b
}
