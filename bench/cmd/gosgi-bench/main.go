// Command gosgi-bench compares gosgi with the real uWSGI on one machine.
//
// Every server gets exactly the same uWSGI command line. For each round and
// each configuration the servers run back to back, in an order that rotates,
// and the report gives medians, the spread over rounds and ratios to the
// first server (the baseline): req/s, p99 latency, server CPU per request
// (from /proc, whole process tree) and RSS/PSS. Two further tests run each
// server once: slow clients (normal traffic rate before and during 200
// connections that trickle their headers) and reloads under load (3 SIGHUPs
// during a wrk run).
//
// It does not tune or pin anything: wrk, nginx and the servers share the
// machine's cores, so numbers are only comparable inside one run. It does
// not judge a result either; the A/A run (both columns the same binary)
// shows which ratios are noise. A server that fails to start or answers
// wrongly gives an error row, not a crash.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

const (
	defaultConfigs = "http-socket:hello:2:1 uwsgi-nginx:hello:2:1 http-socket:flask:2:1 uwsgi-nginx:flask:2:1 " +
		"http-router:hello:2:1 http-socket:get1m:2:1 http-socket:post1m:2:1 http-socket:sleep:2:4 " +
		"gevent-http:hello:2:100 gevent-http:sleep:1:100:50"
	defaultSlow   = "http-socket:hello:2:1 http-router:hello:2:1"
	defaultReload = "http-socket:hello:2:1"
	defaultUpload = "http-postbuf:hello:2:1"
)

// Options is the whole plan of a run.
type Options struct {
	Servers       []Server
	Configs       []Config
	Rounds        int
	Duration      time.Duration
	Warmup        time.Duration
	SlowConfigs   []Config
	UploadConfigs []Config
	Slow          slowPlan
	ReloadConfigs []Config
	ReloadFor     time.Duration
	Parts         map[string]bool
	AppsDir       string
	OutDir        string
	Quick         bool
	CommandLine   string
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gosgi-bench:", err)
		os.Exit(2)
	}
	if err := preflight(o); err != nil {
		fmt.Fprintln(os.Stderr, "gosgi-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gosgi-bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (*Options, error) {
	fs := flag.NewFlagSet("gosgi-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: bench/run [options]\n\n"+
			"Runs every server with the same uWSGI command line, interleaved, and prints\n"+
			"medians and ratios to the first server (see docs/performance.md).\n\nOptions:\n")
		fs.PrintDefaults()
	}
	cwd, _ := os.Getwd()
	servers := fs.String("servers", "uwsgi=/usr/bin/uwsgi gosgi="+filepath.Join(cwd, "bin/uwsgi"),
		"servers to compare, `NAME=BINARY ...`; the first is the baseline of the ratios (A/A check: give the same binary twice)")
	configs := fs.String("configs", defaultConfigs, "main configurations, `MODE:APP:WORKERS:THREADS[:CONNS] ...` (modes: http-socket, uwsgi-nginx, http-router, gevent-http; apps: "+appNames()+")")
	conns := fs.Int("conns", 50, "wrk connections when a config does not say")
	rounds := fs.Int("rounds", 3, "interleaved rounds of the main configurations")
	duration := fs.Duration("duration", 5*time.Second, "measured wrk time per run (whole seconds)")
	warmup := fs.Duration("warmup", time.Second, "unrecorded wrk warm-up before each run (0 = none)")
	slowCfg := fs.String("slow-configs", defaultSlow, "slow-client test configurations")
	slowConns := fs.Int("slow-conns", 200, "slow connections")
	slowBase := fs.Duration("slow-baseline", 3*time.Second, "normal traffic before the attack")
	slowAttack := fs.Duration("slow-attack", 6*time.Second, "normal traffic measured during the attack (after a 2 s ramp)")
	slowRec := fs.Duration("slow-recovery", 2*time.Second, "normal traffic after the attack")
	reloadCfg := fs.String("reload-configs", defaultReload, "reload-under-load configurations")
	uploadCfg := fs.String("upload-configs", defaultUpload, "slow-upload test configurations (the slow-client phases, bodies trickled instead of heads)")
	reloadFor := fs.Duration("reload-duration", 12*time.Second, "wrk time of the reload test (SIGHUP at 1/4, 2/4, 3/4)")
	parts := fs.String("parts", "main,slow,upload,reload", "which tests to run: main, slow, upload, reload")
	apps := fs.String("apps", filepath.Join(cwd, "bench/apps"), "directory of the benchmark apps")
	out := fs.String("out", "", "directory for report.md, results.json and logs (default: a new temp dir)")
	quick := fs.Bool("quick", false, "smoke check (~2 min): 1 round of 3 s runs, shorter slow-client and reload tests; explicit flags still win")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		quickDefaults := []struct {
			name string
			p    *time.Duration
			v    time.Duration
		}{
			{"duration", duration, 3 * time.Second}, {"warmup", warmup, time.Second},
			{"slow-baseline", slowBase, 2 * time.Second}, {"slow-attack", slowAttack, 3 * time.Second},
			{"slow-recovery", slowRec, time.Second}, {"reload-duration", reloadFor, 6 * time.Second},
		}
		for _, q := range quickDefaults {
			if !set[q.name] {
				*q.p = q.v
			}
		}
		if !set["rounds"] {
			*rounds = 1
		}
		if !set["slow-configs"] {
			*slowCfg = "http-socket:hello:2:1"
		}
	}
	o := &Options{Rounds: *rounds, Duration: *duration, Warmup: *warmup, ReloadFor: *reloadFor, Quick: *quick,
		AppsDir: *apps, OutDir: *out, Parts: map[string]bool{}, CommandLine: strings.Join(append([]string{"bench/run"}, args...), " ")}
	var err error
	if o.Servers, err = ParseServers(*servers); err != nil {
		return nil, err
	}
	if o.Configs, err = ParseConfigs(*configs, *conns); err != nil {
		return nil, err
	}
	if o.SlowConfigs, err = ParseConfigs(*slowCfg, *conns); err != nil {
		return nil, err
	}
	if o.ReloadConfigs, err = ParseConfigs(*reloadCfg, *conns); err != nil {
		return nil, err
	}
	if o.UploadConfigs, err = ParseConfigs(*uploadCfg, *conns); err != nil {
		return nil, err
	}
	for _, p := range splitList(*parts) {
		if p != "main" && p != "slow" && p != "upload" && p != "reload" {
			return nil, fmt.Errorf("--parts: unknown part %q", p)
		}
		o.Parts[p] = true
	}
	switch {
	case o.Rounds < 1 || o.Rounds > 100:
		return nil, fmt.Errorf("--rounds %d: want 1..100", o.Rounds)
	case o.Duration < time.Second:
		return nil, fmt.Errorf("--duration %v: want at least 1s", o.Duration)
	case o.ReloadFor < 4*time.Second:
		return nil, fmt.Errorf("--reload-duration %v: want at least 4s", o.ReloadFor)
	case *slowConns < 1 || *slowConns > 5000:
		return nil, fmt.Errorf("--slow-conns %d: want 1..5000", *slowConns)
	}
	o.Slow = slowPlan{Conns: *slowConns, Probes: 4, Baseline: *slowBase, Ramp: 2 * time.Second, Attack: *slowAttack, Recovery: *slowRec}
	return o, nil
}

// preflight fails loudly when a tool the suite needs is missing. A missing
// server binary is not fatal: it becomes error rows.
func preflight(o *Options) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return fmt.Errorf("wrk not found (Debian package wrk): %w", err)
	}
	needNginx := false
	for _, list := range [][]Config{o.Configs, o.SlowConfigs, o.UploadConfigs, o.ReloadConfigs} {
		for _, c := range list {
			needNginx = needNginx || c.Mode == modeNginx
		}
	}
	if needNginx {
		if _, err := exec.LookPath("nginx"); err != nil {
			return fmt.Errorf("nginx not found (Debian package nginx; /usr/sbin must be in PATH): %w", err)
		}
		if _, err := os.Stat("/etc/nginx/uwsgi_params"); err != nil {
			return fmt.Errorf("nginx's uwsgi_params: %w", err)
		}
	}
	for _, a := range apps {
		if _, err := os.Stat(filepath.Join(o.AppsDir, a.file)); err != nil {
			return fmt.Errorf("benchmark app: %w (run from the repository root or give --apps)", err)
		}
	}
	return nil
}

// run executes the plan and writes the report to stdout and the out dir.
func run(ctx context.Context, o *Options, stdout, stderr io.Writer) error {
	if o.OutDir == "" {
		d, err := os.MkdirTemp("", "gosgi-bench-results-")
		if err != nil {
			return fmt.Errorf("results dir: %w", err)
		}
		o.OutDir = d
	}
	logDir := filepath.Join(o.OutDir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return fmt.Errorf("results dir: %w", err)
	}
	started := time.Now()
	logf := func(format string, a ...any) {
		fmt.Fprintf(stderr, "[%5.0fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, a...))
	}
	logf("results and logs in %s", o.OutDir)
	var all struct {
		Results []Result    `json:"results"`
		Slow    []SlowRow   `json:"slow"`
		Upload  []SlowRow   `json:"upload"`
		Reload  []ReloadRow `json:"reload"`
	}
	if o.Parts["main"] {
		total, n := o.Rounds*len(o.Configs)*len(o.Servers), 0
		for round := 1; round <= o.Rounds; round++ {
			for ci, c := range o.Configs {
				for _, srv := range rotate(o.Servers, round+ci) {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					n++
					r := measure(ctx, o, srv, c, round, logDir)
					all.Results = append(all.Results, r)
					if r.Err != "" {
						logf("[%d/%d] round %d %s %s: ERROR %s", n, total, round, c.Name(), srv.Name, r.Err)
					} else {
						logf("[%d/%d] round %d %s %s: %.0f req/s, p99 %.2f ms, %.1f us CPU/req, %d failed", n, total, round,
							c.Name(), srv.Name, r.Wrk.RPS(), float64(r.Wrk.P99US)/1000, r.CPUPerReqUS(), r.Wrk.Errors())
					}
				}
			}
		}
	}
	// slowRows runs the slow-client phases (heads or uploads trickled) on
	// every config and server.
	slowRows := func(kind string, configs []Config, plan slowPlan) []SlowRow {
		var rows []SlowRow
		for ci, c := range configs {
			for _, srv := range rotate(o.Servers, ci) {
				row := SlowRow{Config: c.Name(), Server: srv.Name}
				if err := withStack(ctx, o, srv, c, kind+"_"+c.Tag()+"_"+srv.Name, logDir, func(st *Stack) error {
					var err error
					row.Res, err = runSlow(ctx, st.URL, plan)
					return err
				}); err != nil {
					row.Err = err.Error()
				}
				rows = append(rows, row)
				logf("%s %s %s: before %.0f req/s, during %.0f req/s %s", kind, c.Name(), srv.Name, row.Res.BeforeRPS, row.Res.DuringRPS, row.Err)
			}
		}
		return rows
	}
	if o.Parts["slow"] {
		all.Slow = slowRows("slow", o.SlowConfigs, o.Slow)
	}
	if o.Parts["upload"] {
		upload := o.Slow
		upload.Upload = true
		all.Upload = slowRows("upload", o.UploadConfigs, upload)
	}
	if o.Parts["reload"] {
		for ci, c := range o.ReloadConfigs {
			for _, srv := range rotate(o.Servers, ci) {
				row := ReloadRow{Config: c.Name(), Server: srv.Name}
				tag := "reload_" + c.Tag() + "_" + srv.Name
				if err := withStack(ctx, o, srv, c, tag, logDir, func(st *Stack) error {
					var err error
					row.Res, err = runReload(ctx, st, o.ReloadFor, filepath.Join(logDir, tag+".wrk.out"))
					return err
				}); err != nil {
					row.Err = err.Error()
				}
				all.Reload = append(all.Reload, row)
				logf("reload %s %s: %d/%d reloads seen, %d failed requests, max %.0f ms %s", c.Name(), srv.Name,
					row.Res.Reloads, row.Res.Sighups, row.Res.Wrk.Errors(), float64(row.Res.Wrk.MaxUS)/1000, row.Err)
			}
		}
	}
	elapsed := time.Since(started).Round(time.Second)
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(o.OutDir, "results.json"), b, 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	var rep strings.Builder
	writeReport(&rep, o, all.Results, all.Slow, all.Upload, all.Reload, elapsed)
	if err := os.WriteFile(filepath.Join(o.OutDir, "report.md"), []byte(rep.String()), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	_, err = io.WriteString(stdout, rep.String())
	return err
}

// rotate returns servers starting at index k mod len, so that every server
// runs first equally often.
func rotate(s []Server, k int) []Server {
	k %= len(s)
	return append(append([]Server{}, s[k:]...), s[:k]...)
}

// withStack starts a stack, runs f and always stops the stack.
func withStack(ctx context.Context, o *Options, srv Server, c Config, tag, logDir string, f func(*Stack) error) error {
	st, err := StartStack(ctx, srv, c, o.AppsDir, logDir, tag)
	if err != nil {
		return err
	}
	defer st.Stop()
	return f(st)
}

// measure is one main run: start, verify, warm up, drain, measure, check
// the server still answers correctly, stop.
func measure(ctx context.Context, o *Options, srv Server, c Config, round int, logDir string) Result {
	res := Result{Round: round, Config: c.Name(), Server: srv.Name}
	tag := fmt.Sprintf("r%d_%s_%s", round, c.Tag(), srv.Name)
	err := withStack(ctx, o, srv, c, tag, logDir, func(st *Stack) error {
		res.ReadyMS = st.Ready.Milliseconds()
		run := wrkRun{URL: st.URL, Conns: c.Conns, KeepAlive: c.keepAlive(), PostBytes: apps[c.App].postBytes, Dir: st.Dir}
		if o.Warmup > 0 {
			run.Duration = o.Warmup
			if _, err := runWrk(ctx, run); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
			// Requests the warm-up left queued would otherwise be served
			// inside the measured window (visible with the sleep app).
			st.Drain(ctx)
		}
		run.Duration, run.OutFile = o.Duration, filepath.Join(logDir, tag+".wrk.out")
		cpu0, ncpu0 := treeCPU(st.Pid()), treeCPU(st.NginxPid())
		w, err := runWrk(ctx, run)
		cpu1, ncpu1 := treeCPU(st.Pid()), treeCPU(st.NginxPid())
		if err != nil {
			return err
		}
		res.Wrk = w
		res.CPUSec, res.ProxyCPUSec = (cpu1 - cpu0).Seconds(), (ncpu1 - ncpu0).Seconds()
		res.Mem = treeMem(st.Pid())
		if w.Requests == 0 {
			return errors.New("no request completed during the measured run")
		}
		if err := st.Verify(ctx); err != nil {
			return fmt.Errorf("after the run: %w", err)
		}
		return nil
	})
	if err != nil {
		res.Err = err.Error()
	}
	return res
}

func writeReport(w io.Writer, o *Options, results []Result, slow, upload []SlowRow, reload []ReloadRow, elapsed time.Duration) {
	var names []string
	for _, s := range o.Servers {
		names = append(names, s.Name)
	}
	base := names[0]
	fmt.Fprintf(w, "# gosgi benchmark\n\n")
	fmt.Fprintf(w, "Command: `%s` (%v)\n\n", o.CommandLine, elapsed)
	fmt.Fprintf(w, "Machine: %s\n\n", machine())
	fmt.Fprintf(w, "Servers:")
	for _, s := range o.Servers {
		fmt.Fprintf(w, " %s=`%s`", s.Name, s.Bin)
	}
	fmt.Fprintf(w, " (baseline of the ratios: %s)\n\n", base)
	if o.Parts["main"] {
		var cfgs []string
		for _, c := range o.Configs {
			cfgs = append(cfgs, c.Name())
		}
		fmt.Fprintf(w, "## Throughput, latency, CPU, memory\n\n%d round(s), %v measured after %v warm-up per run; medians over rounds. "+
			"spread = (max-min)/median of req/s; paired = median of same-round req/s ratios; CPU = user+system of the server's "+
			"process tree per request (nginx excluded; ~ = under %.1f s of CPU per run, coarse); RSS/PSS summed over the tree at the end of the run.\n\n", o.Rounds, o.Duration, o.Warmup, lowCPU)
		WriteMainTable(w, Summarize(results, cfgs, names), base)
		fmt.Fprintln(w)
	}
	if o.Parts["slow"] {
		fmt.Fprintf(w, "## Slow clients\n\n%d connections send an unfinished request head and one more header line per second; "+
			"%d probe clients (one request per connection, 2 s timeout) measure the normal rate for %v before, %v during (after a %v ramp) and %v after.\n\n",
			o.Slow.Conns, o.Slow.Probes, o.Slow.Baseline, o.Slow.Attack, o.Slow.Ramp, o.Slow.Recovery)
		WriteSlowTable(w, slow, base)
		fmt.Fprintln(w)
	}
	if o.Parts["upload"] {
		fmt.Fprintf(w, "## Slow uploads\n\n%d connections send a POST head announcing a 1 MB body, then one body byte per second "+
			"(the server runs with post-buffering 8192); the probes and phases are those of the slow clients.\n\n", o.Slow.Conns)
		WriteSlowTable(w, upload, base)
		fmt.Fprintln(w)
	}
	if o.Parts["reload"] {
		fmt.Fprintf(w, "## Reload under load\n\nwrk for %v, SIGHUP to the master at 1/4, 2/4 and 3/4 of it (delayed while a reload is still running); a reload is seen when every process "+
			"below the master was replaced.\n\n", o.ReloadFor)
		WriteReloadTable(w, reload, base)
		fmt.Fprintln(w)
	}
}

// machine describes where the numbers were taken.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "unknown kernel"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(b))
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = ", load average at the end " + strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return fmt.Sprintf("nproc %d, %s, %s%s", runtime.NumCPU(), model, kernel, load)
}
