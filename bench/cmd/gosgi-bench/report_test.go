package main

import (
	"flag"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMedianSpreadRatio(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		xs             []float64
		median, spread float64
	}{
		{[]float64{3, 1, 2}, 2, 1},
		{[]float64{4, 1, 2, 3}, 2.5, 1.2},
		{[]float64{5}, 5, nan},
		{nil, nan, nan},
		{[]float64{nan, 4}, 4, nan},
	}
	same := func(a, b float64) bool { return (math.IsNaN(a) && math.IsNaN(b)) || math.Abs(a-b) < 1e-9 }
	for _, tt := range tests {
		if got := median(tt.xs); !same(got, tt.median) {
			t.Errorf("median(%v) = %v, want %v", tt.xs, got, tt.median)
		}
		if got := spread(tt.xs); !same(got, tt.spread) {
			t.Errorf("spread(%v) = %v, want %v", tt.xs, got, tt.spread)
		}
	}
	if !math.IsNaN(ratio(1, 0)) || ratio(3, 2) != 1.5 {
		t.Error("ratio")
	}
}

func wrkFor(rps float64, p99ms float64, errs int64) WrkResult {
	return WrkResult{Requests: int64(rps * 5), DurationUS: 5e6, P50US: 500, P99US: int64(p99ms * 1000), MaxUS: int64(p99ms * 2000), Read: errs}
}

func sampleResults() []Result {
	mem := func(rss int64) Mem { return Mem{RSSKB: rss * 1024, PSSKB: rss * 512, Procs: 3} }
	var rs []Result
	a, b := "http-socket hello w2 t1 c50", "uwsgi-nginx flask w2 t1 c50"
	for round, v := range [][2]float64{{20000, 22000}, {30000, 27000}, {25000, 26000}} {
		rs = append(rs,
			Result{Round: round + 1, Config: a, Server: "uwsgi", Wrk: wrkFor(v[0], 4, 0), CPUSec: v[0] * 5 * 25e-6, Mem: mem(38)},
			Result{Round: round + 1, Config: a, Server: "gosgi", Wrk: wrkFor(v[1], 3, int64(round)), CPUSec: v[1] * 5 * 20e-6, Mem: mem(30)},
			Result{Round: round + 1, Config: b, Server: "uwsgi", Wrk: wrkFor(v[0]/8, 20, 0), CPUSec: v[0] / 8 * 5 * 480e-6, Mem: mem(87)},
		)
		gosgiB := Result{Round: round + 1, Config: b, Server: "gosgi", Err: "start /x/uwsgi: fork/exec /x/uwsgi: no such file or directory"}
		if round == 2 {
			gosgiB = Result{Round: round + 1, Config: b, Server: "gosgi", Wrk: wrkFor(3000, 25, 0), CPUSec: 3000 * 5 * 500e-6, Mem: mem(90)}
		}
		rs = append(rs, gosgiB)
	}
	// A config where the second server never ran and one where it never started.
	rs = append(rs, Result{Round: 1, Config: "http-router hello w2 t1 c50", Server: "uwsgi", Wrk: wrkFor(150.5, 300, 0), CPUSec: 0.01, Mem: mem(40)},
		Result{Round: 1, Config: "http-socket sleep w2 t4 c50", Server: "gosgi", Err: "verify: request 1: body \"garbage\" | want \"slept\""})
	return rs
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", name, got)
	}
}

func TestMainTableGolden(t *testing.T) {
	rows := Summarize(sampleResults(), []string{"http-socket hello w2 t1 c50", "uwsgi-nginx flask w2 t1 c50", "http-router hello w2 t1 c50", "http-socket sleep w2 t4 c50"}, []string{"uwsgi", "gosgi"})
	if len(rows) != 8 {
		t.Fatalf("%d rows, want 8", len(rows))
	}
	r := rows[1] // gosgi on http-socket hello
	// rounds: 22000/20000, 27000/30000, 26000/25000 -> paired median 1.04
	if math.Abs(r.Paired-1.04) > 1e-9 || r.OK != 3 || r.Errors != 3 || math.Abs(r.RPSRatio-1.04) > 1e-9 {
		t.Errorf("gosgi hello row = %+v", r)
	}
	var b strings.Builder
	WriteMainTable(&b, rows, "uwsgi")
	golden(t, "main-table.golden", b.String())
}

func TestSlowAndReloadTablesGolden(t *testing.T) {
	slow := []SlowRow{
		{Config: "http-socket hello w2 t1 c50", Server: "uwsgi", Res: SlowResult{BeforeRPS: 9000, DuringRPS: 0, AfterRPS: 8800, DuringErr: 12, Held: 200}},
		{Config: "http-socket hello w2 t1 c50", Server: "gosgi", Res: SlowResult{BeforeRPS: 11000, DuringRPS: 10500, AfterRPS: 11200, Held: 200, Reopened: 3}},
		{Config: "http-router hello w2 t1 c50", Server: "gosgi", Err: "server exited during start-up (exit status 1): bind: address in use"},
		{Config: "http-router hello w2 t1 c50", Server: "uwsgi", Res: SlowResult{BeforeRPS: 8000, DuringRPS: 8400, AfterRPS: 8100, Held: 200}},
	}
	reload := []ReloadRow{
		{Config: "http-socket hello w2 t1 c50", Server: "uwsgi", Res: ReloadResult{Wrk: WrkResult{Requests: 180000, DurationUS: 12e6, P99US: 990000, MaxUS: 1050000}, Sighups: 3, Reloads: 3, MaxReload: 1100 * time.Millisecond}},
		{Config: "http-socket hello w2 t1 c50", Server: "gosgi", Res: ReloadResult{Wrk: WrkResult{Requests: 240000, DurationUS: 12e6, P99US: 9900, MaxUS: 210000, Read: 5, Status: 2}, Sighups: 3, Reloads: 2, MaxReload: 300 * time.Millisecond, AliveErr: "server process exited"}},
	}
	var b strings.Builder
	WriteSlowTable(&b, slow, "uwsgi")
	b.WriteString("\n")
	WriteReloadTable(&b, reload, "uwsgi")
	golden(t, "slow-reload-tables.golden", b.String())
}
