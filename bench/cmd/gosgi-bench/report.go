package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Result is one measured run of one server on one config.
type Result struct {
	Round       int       `json:"round"`
	Config      string    `json:"config"`
	Server      string    `json:"server"`
	Err         string    `json:"error,omitempty"`
	Wrk         WrkResult `json:"wrk"`
	CPUSec      float64   `json:"server_cpu_s"` // server tree, measured window
	ProxyCPUSec float64   `json:"nginx_cpu_s"`
	Mem         Mem       `json:"mem"` // server tree, end of the measured window
	ReadyMS     int64     `json:"ready_ms"`
}

// CPUPerReqUS is server CPU microseconds per completed request.
func (r Result) CPUPerReqUS() float64 {
	if r.Wrk.Requests == 0 {
		return math.NaN()
	}
	return r.CPUSec * 1e6 / float64(r.Wrk.Requests)
}

// Row is the summary of one server on one config over the rounds.
type Row struct {
	Config, Server string
	Runs, OK       int
	Err            string // first error seen, if any run failed
	RPS            float64
	Spread         float64 // (max-min)/median of req/s
	P99MS          float64
	Errors         int64 // failed requests summed over the successful runs
	CPUUS          float64
	CPUSec         float64 // median server CPU seconds per run: below lowCPU, CPUUS is coarse
	RSSMB, PSSMB   float64
	// Ratios server/baseline; NaN when not computable. Paired is the median
	// over rounds of the same-round req/s ratio, which cancels slow drifts
	// of the machine.
	RPSRatio, Paired, P99Ratio, CPURatio, RSSRatio float64
	Baseline                                       bool
}

func median(xs []float64) float64 {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func spread(xs []float64) float64 {
	if len(xs) < 2 {
		return math.NaN()
	}
	lo, hi := xs[0], xs[0]
	for _, x := range xs {
		lo, hi = min(lo, x), max(hi, x)
	}
	m := median(xs)
	if m == 0 {
		return math.NaN()
	}
	return (hi - lo) / m
}

func ratio(a, b float64) float64 {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return a / b
}

// Summarize groups results by config and server, in the given orders; the
// first server is the baseline of the ratios.
func Summarize(results []Result, configs, servers []string) []Row {
	type key struct{ c, s string }
	by := map[key][]Result{}
	for _, r := range results {
		by[key{r.Config, r.Server}] = append(by[key{r.Config, r.Server}], r)
	}
	var rows []Row
	for _, c := range configs {
		var base Row
		baseRPS := map[int]float64{}
		for si, s := range servers {
			rs := by[key{c, s}]
			row := Row{Config: c, Server: s, Runs: len(rs), Baseline: si == 0}
			var rps, p99, cpu, cpuSec, rss, pss []float64
			roundRPS := map[int]float64{}
			for _, r := range rs {
				if r.Err != "" {
					if row.Err == "" {
						row.Err = r.Err
					}
					continue
				}
				row.OK++
				rps = append(rps, r.Wrk.RPS())
				roundRPS[r.Round] = r.Wrk.RPS()
				p99 = append(p99, float64(r.Wrk.P99US)/1000)
				cpu = append(cpu, r.CPUPerReqUS())
				cpuSec = append(cpuSec, r.CPUSec)
				rss = append(rss, float64(r.Mem.RSSKB)/1024)
				pss = append(pss, float64(r.Mem.PSSKB)/1024)
				row.Errors += r.Wrk.Errors()
			}
			row.RPS, row.Spread, row.P99MS = median(rps), spread(rps), median(p99)
			row.CPUUS, row.CPUSec, row.RSSMB, row.PSSMB = median(cpu), median(cpuSec), median(rss), median(pss)
			if si == 0 {
				base, baseRPS = row, roundRPS
			}
			row.RPSRatio = ratio(row.RPS, base.RPS)
			row.P99Ratio = ratio(row.P99MS, base.P99MS)
			row.CPURatio = ratio(row.CPUUS, base.CPUUS)
			row.RSSRatio = ratio(row.RSSMB, base.RSSMB)
			var paired []float64
			for round, v := range roundRPS {
				if b, ok := baseRPS[round]; ok {
					paired = append(paired, ratio(v, b))
				}
			}
			row.Paired = median(paired)
			rows = append(rows, row)
		}
	}
	return rows
}

// cell formats a number for a table; "-" for NaN.
func cell(v float64, format string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// errCell makes an error message fit in one markdown table cell.
func errCell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return "**ERROR**: " + strings.ReplaceAll(s, "|", "\\|")
}

func rpsFormat(v float64) string {
	if v < 1000 {
		return cell(v, "%.1f")
	}
	return cell(v, "%.0f")
}

// lowCPU is the server CPU time per run under which the CPU figure is
// marked "~": /proc counts CPU in 10 ms ticks, so 0.2 s is good to 5%.
const lowCPU = 0.2

func cpuCell(r Row) string {
	c := cell(r.CPUUS, "%.1f")
	if c != "-" && r.CPUSec < lowCPU {
		c = "~" + c
	}
	return c
}

// WriteMainTable prints the summary rows as a markdown table.
func WriteMainTable(w io.Writer, rows []Row, baseline string) {
	fmt.Fprintf(w, "| config | server | ok runs | req/s | spread | p99 ms | failed req | CPU us/req | RSS MB | PSS MB | req/s ÷ %[1]s | paired | p99 ÷ %[1]s | CPU ÷ %[1]s | RSS ÷ %[1]s |\n", baseline)
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		ok := fmt.Sprintf("%d/%d", r.OK, r.Runs)
		if r.OK == 0 {
			msg := r.Err
			if r.Runs == 0 {
				msg = "not run"
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | | | | | | | | | | | |\n", r.Config, r.Server, ok, errCell(msg))
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Config, r.Server, ok, rpsFormat(r.RPS), cell(r.Spread*100, "%.0f%%"), cell(r.P99MS, "%.2f"), r.Errors,
			cpuCell(r), cell(r.RSSMB, "%.1f"), cell(r.PSSMB, "%.1f"),
			cell(r.RPSRatio, "%.2f"), cell(r.Paired, "%.2f"), cell(r.P99Ratio, "%.2f"), cell(r.CPURatio, "%.2f"), cell(r.RSSRatio, "%.2f"))
		if r.Err != "" {
			fmt.Fprintf(w, "| %s | %s | (failed runs) | %s | | | | | | | | | | | |\n", r.Config, r.Server, errCell(r.Err))
		}
	}
}

// SlowRow is one server's slow-client result on one config.
type SlowRow struct {
	Config string     `json:"config"`
	Server string     `json:"server"`
	Err    string     `json:"error,omitempty"`
	Res    SlowResult `json:"result"`
}

// WriteSlowTable prints the slow-client rows; the ratio compares the
// normal-traffic rate under attack with the baseline server's.
func WriteSlowTable(w io.Writer, rows []SlowRow, baseline string) {
	fmt.Fprintf(w, "| config | server | before req/s | during req/s | during ÷ before | probe errors during | slow conns held | reopened | after req/s | during req/s ÷ %s |\n", baseline)
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	base := map[string]SlowRow{}
	for _, r := range rows {
		if r.Server == baseline {
			base[r.Config] = r
		}
	}
	for _, r := range rows {
		if r.Err != "" {
			fmt.Fprintf(w, "| %s | %s | %s | | | | | | | |\n", r.Config, r.Server, errCell(r.Err))
			continue
		}
		x := r.Res
		rat := "-"
		if b, ok := base[r.Config]; ok && b.Err == "" {
			if b.Res.DuringRPS > 0 {
				rat = cell(x.DuringRPS/b.Res.DuringRPS, "%.2f")
			} else if x.DuringRPS > 0 {
				rat = "∞ (baseline 0)"
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %d | %d | %d | %s | %s |\n", r.Config, r.Server,
			rpsFormat(x.BeforeRPS), rpsFormat(x.DuringRPS), cell(x.DuringOverBefore()*100, "%.0f%%"),
			x.DuringErr, x.Held, x.Reopened, rpsFormat(x.AfterRPS), rat)
	}
}

// ReloadRow is one server's reload-under-load result on one config.
type ReloadRow struct {
	Config string       `json:"config"`
	Server string       `json:"server"`
	Err    string       `json:"error,omitempty"`
	Res    ReloadResult `json:"result"`
}

// WriteReloadTable prints the reload rows with p99/max ratios to the baseline.
func WriteReloadTable(w io.Writer, rows []ReloadRow, baseline string) {
	fmt.Fprintf(w, "| config | server | SIGHUPs | reloads seen | max reload s | req/s | requests | failed req | p99 ms | max ms | answers after | p99 ÷ %[1]s | max ÷ %[1]s |\n", baseline)
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
	base := map[string]ReloadRow{}
	for _, r := range rows {
		if r.Server == baseline {
			base[r.Config] = r
		}
	}
	for _, r := range rows {
		if r.Err != "" {
			fmt.Fprintf(w, "| %s | %s | %s | | | | | | | | | | |\n", r.Config, r.Server, errCell(r.Err))
			continue
		}
		x := r.Res
		alive := "yes"
		if x.AliveErr != "" {
			alive = errCell(x.AliveErr)
		}
		p99, mx := math.NaN(), math.NaN()
		if b, ok := base[r.Config]; ok && b.Err == "" {
			p99 = ratio(float64(x.Wrk.P99US), float64(b.Res.Wrk.P99US))
			mx = ratio(float64(x.Wrk.MaxUS), float64(b.Res.Wrk.MaxUS))
		}
		failed := fmt.Sprintf("%d", x.Wrk.Errors())
		if x.Wrk.Errors() > 0 {
			failed = fmt.Sprintf("%d (status %d, socket %d)", x.Wrk.Errors(), x.Wrk.Status, x.Wrk.SocketErrors())
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %s | %s | %d | %s | %s | %s | %s | %s | %s |\n", r.Config, r.Server,
			x.Sighups, x.Reloads, cell(x.MaxReload.Seconds(), "%.2f"), rpsFormat(x.Wrk.RPS()), x.Wrk.Requests, failed,
			cell(float64(x.Wrk.P99US)/1000, "%.1f"), cell(float64(x.Wrk.MaxUS)/1000, "%.1f"), alive,
			cell(p99, "%.2f"), cell(mx, "%.2f"))
	}
}
