// Package master is gosgi's master process: it applies the configuration,
// binds (or inherits) the listening sockets, starts the zygote that holds
// Python, spawns and supervises workers, and reacts to signals the way
// uWSGI 2.0's master does (PM-1..PM-70).
//
// The master never loads Python; requests never pass through it.
package master

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosgi/gosgi/internal/boot"
	"github.com/gosgi/gosgi/internal/config"
	"github.com/gosgi/gosgi/internal/embed"
	"github.com/gosgi/gosgi/internal/logging"
	"github.com/gosgi/gosgi/internal/logsink"
	"github.com/gosgi/gosgi/internal/options"
	"github.com/gosgi/gosgi/internal/plugins"
	"github.com/gosgi/gosgi/internal/privs"
	"github.com/gosgi/gosgi/internal/proto"
	"github.com/gosgi/gosgi/internal/pyrt"
	"github.com/gosgi/gosgi/internal/pyworker"
	"github.com/gosgi/gosgi/internal/route"
	"github.com/gosgi/gosgi/internal/scoreboard"
	"github.com/gosgi/gosgi/internal/self"
	"github.com/gosgi/gosgi/internal/sockets"
	"github.com/gosgi/gosgi/internal/static"
	"github.com/gosgi/gosgi/internal/stats"
)

// Master is one running instance.
type Master struct {
	cfg     *config.Config
	log     *logging.Logger
	pid     int
	binary  string   // path re-executed on reload (not /proc/self/exe: it may be replaced)
	argv    []string // original command line, kept for the zygote and re-exec
	cwd     string   // working directory at startup (PM-20: restored on reload)
	reloads int
	started time.Time

	hasMaster bool
	processes int
	threads   int
	gevent    int // async cores of gevent mode, 0 off
	mercy     time.Duration

	listeners []*sockets.Listener
	board     *scoreboard.Board
	boardFD   int
	metrics   *metricsState // nil unless the metrics subsystem is on
	bootFD    int
	zygote    *zygote
	workers   []*workerSlot // index = id-1
	old       map[int]*oldWorker
	pidfiles  []string

	respawns   []time.Time // recent respawn times, for forkbomb-delay
	touchMtime map[string]time.Time

	chain   *chain // chain reload in progress
	static  *static.Options
	routes  []route.Option
	paused  bool     // SIGTSTP
	cheaper *cheaper // adaptive worker count, nil when off
	idle    *idler   // cheap-on-idle (idle, die-on-idle), nil when off
	emperor *os.File // the emperor's socket when a vassal
	sigs    chan os.Signal
	cmds    chan command // control commands: master fifo, fs-reload, emperor
	cmdMu   sync.Mutex   // held while an emperor message is read; reload keeps it
	aux     []*auxProc   // mules and spoolers
	daemons []*attachedDaemon
	tls     map[int]string // TLS spec of https sockets, by socket index

	caps      []int          // cap (OP-81), when kept through the drop to uid
	capThread *privs.Spawner // the thread that keeps them (caps.go)

	inherited     *sockets.Inherited         // sockets received at startup
	usedInherited map[*sockets.Listener]bool // those already given a configured name
	shared        []*sockets.Listener        // shared-socket entries, by number
	mounts        []string                   // apps' mountpoints, for stats
	queue         stats.QueueMonitor
	logRouter     *logRouter // log-route, log-encoder...: nil when lines go straight out
	statsServer   *stats.Server
	// command crons, parsed once (crons())
	cronsOnce sync.Once
	cronList  []stats.Cron
	cronErrs  []error
}

type workerSlot struct {
	id          int
	pid         int
	spawned     time.Time
	stopped     bool // asked to stop (max-requests, reload, cheap)
	cheaped     bool // not running by the cheaper's choice (PM-50)
	everSpawned bool
}

// oldWorker is a worker being retired: its replacement is starting
// (pending) or it was asked to finish its requests and exit.
type oldWorker struct {
	id       int
	since    time.Time
	killed   bool
	pending  bool
	recycled bool // asked for it itself (max-requests...): logged as uWSGI does
}

// Run runs the instance until it stops and returns the exit code.
func Run(cfg *config.Config, args []string) int {
	m := &Master{cfg: cfg, argv: args, pid: os.Getpid(), started: time.Now(), tls: map[int]string{}}
	m.sigs = make(chan os.Signal, 64)
	signal.Notify(m.sigs, masterSignals...)
	m.reloads, _ = strconv.Atoi(os.Getenv("UWSGI_RELOADS"))
	code, err := m.run()
	if err != nil {
		if m.log != nil {
			m.log.Printf("%v", err)
		} else {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	if m.logRouter != nil {
		m.logRouter.stop() // the last lines, goodbye included
	}
	return code
}

// fatal is an error that ends the instance with a given exit code.
type fatal struct {
	code int
	err  error
}

func (f *fatal) Error() string { return f.err.Error() }

func (m *Master) run() (int, error) {
	cfg := m.cfg
	if err := m.resolveBinary(); err != nil {
		return 1, err
	}
	if cfg.Bool("python-version") {
		return m.printPythonVersion()
	}
	if cfg.Has("umask") { // OP-11: octal
		if v, err := strconv.ParseUint(cfg.String("umask"), 8, 32); err == nil {
			unix.Umask(int(v))
		}
	}
	if bg, err := m.daemonize(); bg || err != nil {
		if err != nil {
			return 1, err
		}
		return 0, nil
	}
	if err := m.setupLogging(); err != nil {
		return 1, err
	}
	m.cwd, _ = os.Getwd()
	m.hasMaster = cfg.Bool("master")
	m.processes = cfg.Int("processes")
	m.threads = cfg.Int("threads")
	if m.threads < 1 {
		m.threads = 1
	}
	m.gevent = geventCores(cfg)
	if loop := cfg.String("loop"); loop != "" && loop != "gevent" {
		m.log.Printf("loop engine %q is not available (only gevent is): requests run on the thread cores", loop)
	}
	m.mercy = time.Duration(cfg.Int("worker-reload-mercy")) * time.Second

	if title := m.titles().For("master"); title != "" {
		embed.SetTitle(title)
	}
	if err := m.setupCaps(); err != nil {
		return 1, err
	}
	m.banner()
	if cfg.Bool("show-config") {
		cfg.WriteShowConfig(os.Stderr)
	}
	if cfg.Stdout != "" {
		os.Stdout.WriteString(cfg.Stdout)
	}
	if cfg.Int("harakiri") > 0 && cfg.Int("post-buffering") == 0 {
		m.log.Printf(" *** WARNING: you have enabled harakiri without post buffering. Slow upload could be rejected on post-unbuffered webservers *** ")
	}
	for _, w := range cfg.Warnings() {
		m.log.Printf("%s", w)
	}
	if err := m.writePidfiles("pidfile", "safe-pidfile"); err != nil {
		return 1, err
	}
	if err := m.checkFronts(); err != nil {
		return 1, err
	}
	// PM-61: privileges go before binding, unless chown-socket needs root
	// to hand the socket over first.
	if err := m.inheritSockets(); err != nil {
		return 1, err
	}
	if err := m.bindShared(); err != nil {
		return 1, err
	}
	delayDrop := cfg.Has("chown-socket") || cfg.Bool("master-as-root")
	if !delayDrop {
		if err := m.dropPrivileges(); err != nil {
			return 1, err
		}
	}
	if err := m.onCapThread(m.setupSockets); err != nil {
		return 1, err
	}
	if delayDrop && !cfg.Bool("master-as-root") {
		if err := m.dropPrivileges(); err != nil {
			return 1, err
		}
	}
	if err := m.writePidfiles("pidfile2"); err != nil {
		return 1, err
	}
	m.openLogto2()
	for _, kv := range cfg.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	if dir := cfg.String("chdir"); dir != "" {
		if err := os.Chdir(dir); err != nil {
			return 1, fmt.Errorf("chdir(): %w", err)
		}
		m.log.Printf("chdir() to %s", dir)
	}
	if m.processes <= 0 {
		m.log.Printf("*** Operational MODE: no-workers ***")
		return 0, nil
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return 1, fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err)
	}
	if err := m.setupMetrics(); err != nil {
		return 1, err
	}
	if err := m.startPython(); err != nil {
		if m.reloads > 0 && os.Getenv("GOSGI_OLD_WORKERS") != "" && m.board != nil {
			// A reload whose app no longer imports: the workers of the
			// previous image go on serving the code they have.
			m.log.Printf("!!! reload failed: %v: the previous workers keep serving; fix the app and reload again !!!", err)
			return m.keepOldWorkers()
		}
		var z *zygoteExit
		if errors.As(err, &z) {
			if z.code() == 22 {
				return 22, nil // the loader logged GAME OVER (PY-14)
			}
			return z.code(), err
		}
		return 1, err
	}
	if m.reloads > 0 {
		m.log.Printf("gracefully (RE)spawned uWSGI master process (pid: %d)", m.pid)
	} else if m.hasMaster {
		m.log.Printf("spawned uWSGI master process (pid: %d)", m.pid)
	}
	m.mounts = m.zygote.mounts
	if len(m.mounts) == 0 && (cfg.Bool("lazy-apps") || cfg.Bool("lazy")) {
		m.mounts = configuredMounts(cfg)
	}
	m.queue.Logf = m.log.Verbosef
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.startMonitoring(ctx); err != nil {
		return 1, err
	}
	m.startMetricsCollector(ctx)
	m.adoptOldWorkers()
	c, err := m.setupCheaper()
	if err != nil {
		return 1, err
	}
	m.cheaper = c
	m.idle = m.setupIdle()
	m.workers = make([]*workerSlot, m.processes)
	for i := range m.workers {
		m.workers[i] = &workerSlot{id: i + 1}
		if m.cheaper != nil && i >= m.cheaper.initial {
			m.workers[i].cheaped = true // PM-50: started when load asks
			continue
		}
		if m.startsCheap(m.workers[i]) {
			continue
		}
		if err := m.spawn(m.workers[i], false); err != nil {
			return 1, err
		}
	}
	if m.idle != nil && m.idle.startCheap {
		m.enterCheap()
	}
	if err := m.startAux(); err != nil {
		return 1, err
	}
	m.daemons = m.daemonSpecs()
	for _, d := range m.daemons {
		m.startDaemon(d)
	}
	notifyReady()
	return m.loop()
}

func (m *Master) dropPrivileges() error {
	if m.reloads > 0 {
		return nil // already done by the first image
	}
	drop := func() error {
		return privs.Drop(privs.Request{
			UID:          m.cfg.String("uid"),
			GID:          m.cfg.String("gid"),
			NoInitgroups: m.cfg.Bool("no-initgroups"),
			AddGIDs:      m.cfg.List("add-gid"),
		}, m.log.Printf)
	}
	if m.capThread != nil {
		return m.capThread.KeepCaps(m.caps, drop)
	}
	return drop()
}

// daemonize re-runs this command line in the background, detached, with
// its output going to the daemonize log; the foreground process exits 0.
func (m *Master) daemonize() (bool, error) {
	target := m.cfg.String("daemonize")
	daemonized := os.Getenv(self.EnvDaemonized) != ""
	os.Unsetenv(self.EnvDaemonized)
	if target == "" || daemonized || m.reloads > 0 || os.Getenv("UWSGI_EMPEROR_FD") != "" {
		return false, nil
	}
	if err := self.Daemonize(m.binary, m.argv, target); err != nil {
		return false, err
	}
	return true, nil
}

// checkFronts validates the static-file and routing options once, in the
// master, and logs their startup lines; workers then build the same
// tables from the boot bundle.
func (m *Master) checkFronts() error {
	if _, err := proto.ParseTrustedProxies(m.cfg.List("trusted-proxy")); err != nil {
		return err
	}
	o := static.OptionsFrom(m.cfg)
	var rules []route.Option
	for _, e := range m.cfg.Entries() {
		if opt := options.Lookup(e.Key); opt != nil && route.IsRouteOption(opt.Name) {
			rules = append(rules, route.Option{Name: opt.Name, Value: e.Value})
		}
	}
	if len(rules) > 0 {
		t, err := route.Compile(rules)
		if err != nil {
			return err
		}
		for _, msg := range t.Messages() {
			m.log.Printf("%s", msg)
		}
		m.routes = rules
	}
	if static.Enabled(&o) || len(rules) > 0 {
		o.Log = m.log.Printf
		srv, err := static.New(o)
		if err != nil {
			return err
		}
		for _, msg := range srv.Messages() {
			m.log.Printf("%s", msg)
		}
		o.Log = nil
		m.static = &o
	}
	return nil
}

// printPythonVersion answers --python-version (OP-305) with the version of
// the interpreter the instance would load.
func (m *Master) printPythonVersion() (int, error) {
	rt, err := m.pythonRuntime()
	if err != nil {
		return 1, err
	}
	exe := "/usr/bin/python" + rt.Version
	if rt.Program != "" {
		exe = rt.Program
	}
	out, err := exec.Command(exe, "-c", "import platform; print(platform.python_version())").Output()
	if err != nil {
		return 1, fmt.Errorf("python-version: %s: %w", exe, err)
	}
	os.Stdout.Write(out)
	return 0, nil
}

// pythonRuntime resolves the interpreter from the plugin names and home.
func (m *Master) pythonRuntime() (*pyrt.Runtime, error) {
	want := ""
	for _, item := range m.cfg.Plugins() {
		p, err := plugins.Resolve(item)
		if err != nil {
			return nil, &fatal{1, err}
		}
		if p.Kind == plugins.Python && p.PyVersion != "" {
			want = p.PyVersion
		}
	}
	rt, err := pyrt.Find(want, m.cfg.String("home"))
	if err != nil {
		return nil, fmt.Errorf("!!! UNABLE to load the python runtime: %w !!!", err)
	}
	return rt, nil
}

// keepOldWorkers makes the previous image's workers this image's workers,
// when this image could not start Python (a reload of a broken app).
func (m *Master) keepOldWorkers() (int, error) {
	m.adoptOldWorkers()
	m.workers = make([]*workerSlot, m.processes)
	for i := range m.workers {
		m.workers[i] = &workerSlot{id: i + 1, cheaped: true}
	}
	for pid, o := range m.old {
		if o.id >= 1 && o.id <= len(m.workers) {
			w := m.workers[o.id-1]
			w.pid, w.cheaped, w.spawned, w.everSpawned = pid, false, time.Now(), true
		}
		delete(m.old, pid)
	}
	m.log.Printf("gracefully (RE)spawned uWSGI master process (pid: %d)", m.pid)
	return m.loop()
}

// titles reads the process title options.
func (m *Master) titles() boot.Titles {
	t := boot.Titles{
		Auto:     m.cfg.Bool("auto-procname"),
		Prefix:   m.cfg.String("procname-prefix"),
		Procname: m.cfg.String("procname"),
		Master:   m.cfg.String("procname-master"),
	}
	if p := m.cfg.String("procname-prefix-spaced"); p != "" {
		t.Prefix = p + " "
	}
	return t
}

// configuredMounts lists the mountpoints the configuration asks for, in
// load order (PY-4), for a lazy-apps instance whose master imports nothing.
func configuredMounts(cfg *config.Config) []string {
	var out []string
	if cfg.String("module") != "" || cfg.String("wsgi-file") != "" || cfg.String("eval") != "" {
		out = append(out, "")
	}
	for _, m := range cfg.List("mount") {
		mp, _, _ := strings.Cut(m, "=")
		out = append(out, mp)
	}
	return out
}

// resolveBinary picks the path re-executed on reload and for the zygote:
// the name the instance was started as, so processes stay "uwsgi" (C-31).
func (m *Master) resolveBinary() error {
	p, err := self.Path(m.argv)
	m.binary = p
	return err
}

// setupLogging applies daemonize/logto (LG-23) and the log-date prefix.
func (m *Master) setupLogging() error {
	cfg := m.cfg
	target := cfg.String("logto")
	if d := cfg.String("daemonize"); d != "" && target == "" {
		target = d
	}
	// A reload keeps the descriptors (PM-20) unless log-reopen asks for a
	// fresh open (after logrotate moved the file away).
	sink := &logFailures{log: os.Stderr, target: target}
	if target != "" && (m.reloads == 0 || cfg.Bool("log-reopen")) {
		sink.orig = keepOrigStderr()
		flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
		if cfg.Bool("log-truncate") {
			flags |= os.O_TRUNC
		}
		f, err := os.OpenFile(target, flags, 0o640)
		if err != nil {
			return fmt.Errorf("open(\"%s\"): %w", target, err)
		}
		unix.Dup2(int(f.Fd()), 1)
		unix.Dup2(int(f.Fd()), 2)
		f.Close()
	}
	// logger (LG-24): a single one takes the instance's log; routes,
	// encoders, filters or several loggers need the log router (LG-25).
	// req-logger goes to the workers (request lines only).
	var routerWarnings []error
	if needsLogRouter(cfg) || (m.reloads > 0 && os.Getenv(envLogPipe) != "") {
		w, err := m.startLogRouter()
		if err != nil {
			return err
		}
		routerWarnings = w
	} else if loggers := cfg.List("logger"); len(loggers) > 0 && m.reloads == 0 {
		if err := m.attachLogger(loggers[0]); err != nil {
			return err
		}
	}
	dateFmt, dated := "", false
	if cfg.Has("log-date") {
		dateFmt, dated = cfg.String("log-date"), true
		if dateFmt == "1" || dateFmt == "true" {
			dateFmt = ""
		}
	}
	m.log = logging.NewLogger(sink, dateFmt, dated)
	for _, w := range routerWarnings {
		m.log.Printf("%v", w)
	}
	return nil
}

// writePidfiles writes the pidfiles of the given options (pidfile and
// safe-pidfile before the privileges go, pidfile2 after, as uWSGI).
func (m *Master) writePidfiles(opts ...string) error { return m.writePidfileOpts(false, opts) }

// writePidfilesAgain rewrites every pidfile, also after the first start
// (master-fifo 'P').
func (m *Master) writePidfilesAgain(force bool) error {
	return m.writePidfileOpts(force, []string{"pidfile", "pidfile2", "safe-pidfile"})
}

func (m *Master) writePidfileOpts(force bool, opts []string) error {
	for _, opt := range opts {
		path := m.cfg.String(opt)
		if path == "" {
			continue
		}
		if !force {
			m.pidfiles = append(m.pidfiles, path)
		}
		if m.reloads > 0 && !force {
			continue // PM-69: written on first start only
		}
		m.log.Printf("writing pidfile to %s", path)
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(strconv.Itoa(m.pid)+"\n"), 0o644); err != nil {
			return fmt.Errorf("write pidfile %s: %w", path, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("write pidfile %s: %w", path, err)
		}
	}
	return nil
}

// startPython writes the boot bundle and starts the zygote.
func (m *Master) startPython() error {
	cfg := m.cfg
	rt, err := m.pythonRuntime()
	if err != nil {
		return err
	}
	if rt.Venv != "" {
		m.log.Printf("PEP 405 virtualenv detected: %s", rt.Venv)
	}
	if h := cfg.String("home"); h != "" {
		m.log.Printf("Set PythonHome to %s", h)
	}
	if m.board == nil {
		b, fd, err := scoreboard.Create()
		if err != nil {
			return err
		}
		m.board, m.boardFD = b, fd
	}
	spec := m.bootSpec()
	bootFD, err := boot.Write(&boot.Bundle{Files: pyworker.Files(), Spec: spec})
	if err != nil {
		return err
	}
	m.bootFD = bootFD
	env := os.Environ()
	env = append(env, "GOSGI_LIBPYTHON="+rt.Lib)
	if title := m.titles().For("zygote"); title != "" {
		env = append(env, "GOSGI_TITLE="+title, "GOSGI_TITLE_WORKER="+m.titles().For("worker \x01"))
	}
	if rt.Program != "" {
		env = append(env, "GOSGI_PYTHON_PROGRAM="+rt.Program)
	}
	if rt.Home != "" {
		env = append(env, "GOSGI_PYTHON_HOME="+rt.Home)
	}
	mode := "preforking"
	switch {
	case m.gevent > 0 && m.processes > 1:
		mode = "preforking+async"
	case m.gevent > 0:
		mode = "async"
	case m.processes == 1 && m.threads > 1:
		mode = "threaded"
	case m.processes > 1 && m.threads > 1:
		mode = "preforking+threaded"
	case m.processes == 1:
		mode = "single process"
	}
	m.log.Printf("your server socket listen backlog is limited to %d connections", cfg.Int("listen"))
	m.log.Printf("your mercy for graceful operations on workers is %d seconds", cfg.Int("worker-reload-mercy"))
	m.logCrons()
	if pb, size := cfg.Int("post-buffering"), cfg.Int("post-buffering-bufsize"); pb > 0 && max(size, 8192) < pb {
		// uWSGI raises its body buffer (8192 bytes by default) to post-buffering.
		m.log.Printf("setting request body buffering size to %d bytes", pb)
	}
	m.log.Printf("*** Operational MODE: %s ***", mode)
	m.logMetrics()
	fds := zygoteFiles{boot: bootFD, board: m.boardFD}
	for _, l := range m.listeners {
		fds.sockets = append(fds.sockets, l.FD)
	}
	z, err := m.startZygote(env, fds)
	unix.Close(bootFD)
	if err != nil {
		return err
	}
	m.zygote = z
	return nil
}

// geventCores is the number of async cores of gevent mode: gevent = N, or
// its long form loop = gevent with async = N (uWSGI crashes there without
// enable-threads; gosgi always has threads); 0 outside gevent mode.
func geventCores(cfg *config.Config) int {
	if n := cfg.Int("gevent"); n > 0 {
		return n
	}
	if cfg.String("loop") == "gevent" {
		return max(cfg.Int("async"), 0)
	}
	return 0
}

// socketTimeout is socket-timeout as the workers apply it: gevent = N
// raises it to 30 seconds, as uWSGI's gevent shortcut does when it is
// parsed, so only a socket-timeout given after it sets a lower one.
func (m *Master) socketTimeout() int {
	t := m.cfg.Int("socket-timeout")
	if m.gevent == 0 || t >= 30 {
		return t
	}
	lastGevent, lastTimeout := -1, -1
	for i, e := range m.cfg.Entries() {
		if o := options.Lookup(e.Key); o != nil {
			switch o.Name {
			case "gevent":
				lastGevent = i
			case "socket-timeout":
				lastTimeout = i
			}
		}
	}
	if lastGevent < 0 || lastTimeout > lastGevent { // loop = gevent keeps it
		return t
	}
	return 30
}

// cores is the number of request cores per worker: threads, or the async
// cores of gevent mode.
func (m *Master) cores() int {
	if m.gevent > 0 {
		return m.gevent
	}
	return m.threads
}

func (m *Master) bootSpec() boot.Spec {
	cfg := m.cfg
	host, _ := os.Hostname()
	s := boot.Spec{
		Version:    options.Version,
		Hostname:   host,
		Master:     m.hasMaster,
		MasterPID:  m.pid,
		AppPID:     m.pid,
		Processes:  m.processes,
		Threads:    m.threads,
		BufferSize: cfg.Int("buffer-size"),
		StartedOn:  time.Now().Unix(),
		Reloads:    m.reloads,
		Lazy:       cfg.Bool("lazy-apps") || cfg.Bool("lazy"),
		NeedApp:    cfg.Bool("need-app"),
		Module:     cfg.String("module"),
		WSGIFile:   cfg.String("wsgi-file"),
		Callable:   cfg.String("callable"),
		Eval:       cfg.String("eval"),
		Mounts:     cfg.List("mount"),
		Pythonpath: cfg.List("pythonpath"),
		Imports:    cfg.List("import"),
		Pyargv:     cfg.String("pyargv"),
		Pidfile:    cfg.String("pidfile"),
		Board:      scoreboard.Layout(),
		Metrics:    m.metricsBoot(),
		Titles:     m.titles(),

		Crons:              m.bootCrons(),
		PyAutoreload:       cfg.Int("py-autoreload"),
		PyAutoreloadIgnore: cfg.List("py-auto-reload-ignore"),
	}
	if s.Lazy {
		s.AppPID = 0 // each worker logs its own pid (PM-6)
	}
	// gevent mode (internal/worker/gevent.go)
	s.Gevent = m.gevent
	s.GeventMonkeyPatch = cfg.Bool("gevent-monkey-patch")
	s.GeventEarlyMonkeyPatch = cfg.Bool("gevent-early-monkey-patch")
	s.GeventWaitForHub = cfg.Bool("gevent-wait-for-hub")
	for _, e := range cfg.Entries() {
		s.Opt = append(s.Opt, boot.Opt{Key: e.Key, Value: e.Value, NoValue: e.NoValue})
	}
	if cfg.Has("log-date") {
		d := cfg.String("log-date")
		if d == "1" || d == "true" {
			d = ""
		}
		s.LogDate = &d
	}
	bufSize := cfg.Int("buffer-size")
	if bufSize > 65535 {
		bufSize = 65535
	}
	w := boot.Worker{
		BufferSize:        bufSize,
		MaxVars:           cfg.Int("max-vars"),
		SocketTimeout:     m.socketTimeout(),
		DisableLogging:    cfg.Bool("disable-logging"),
		LogMicros:         cfg.Bool("log-micros"),
		LogXForwardedFor:  cfg.Bool("log-x-forwarded-for"),
		ManageScriptName:  cfg.Bool("manage-script-name"),
		MaxRequests:       int64(cfg.Int("max-requests")),
		ReloadOnRSS:       int64(cfg.Int("reload-on-rss")),
		ReloadOnAS:        int64(cfg.Int("reload-on-as")),
		ReloadOnException: cfg.Bool("reload-on-exception"),
		MinWorkerLifetime: cfg.Int("min-worker-lifetime"),
		NoOrphans:         cfg.Bool("no-orphans"),
		LimitPost:         int64(cfg.Int("limit-post")),
		PostBuffering:     int64(cfg.Int("post-buffering")),
		HTTPKeepalive:     cfg.Bool("http-keepalive"), // a bare flag is 1, "0" is off
		HTTPTimeout:       cfg.Int("http-timeout"),
		HTTPAutoChunked:   cfg.Bool("http-auto-chunked"),
		HTTPAutoGzip:      cfg.Bool("http-auto-gzip"),
		DelHeaders:        cfg.List("del-header"),
		TrustedProxies:    cfg.List("trusted-proxy"),
		Harakiri:          cfg.Int("harakiri"),
		HarakiriVerbose:   cfg.Bool("harakiri-verbose"),
		ScoreboardFD:      m.zygoteBoardFD(),
		LogDate:           s.LogDate,
		LogFormat:         cfg.String("logformat"),
		LogFormatStrftime: cfg.Bool("logformat-strftime"),
		LogJSON:           cfg.Bool("log-json"),
		MemoryReport:      cfg.Bool("memory-report"),
		AddHeaders:        cfg.List("add-header"),
		ReqLoggers:        cfg.List("req-logger"),
		ReqRoutes:         cfg.List("log-req-route"),
		ReqEncoders:       cfg.List("log-req-encoder"),
		Log4xx:            cfg.Bool("log-4xx"),
		Log5xx:            cfg.Bool("log-5xx"),
		LogZero:           cfg.Bool("log-zero"),
		LogIOError:        cfg.Bool("log-ioerror"),
		LogSlow:           int64(cfg.Int("log-slow")),
		LogBig:            int64(cfg.Int("log-big")),
	}
	for _, l := range m.listeners {
		w.Sockets = append(w.Sockets, boot.Socket{
			FD: l.FD, Name: l.Name, Proto: l.Proto,
			ServerPort: sockets.ServerPort(l.Name),
			Unix:       l.Network == "unix" || l.Network == "abstract",
			TLS:        m.tls[l.Index],
		})
		s.SocketFDs = append(s.SocketFDs, l.FD)
	}
	w.Static, w.Routes = m.static, m.routes
	s.Worker = w
	mules, spoolers := auxSpecs(cfg.List("mule"), cfg.List("mules"), cfg.List("spooler"), cfg.Int("spooler-processes"))
	s.Mules, s.Spoolers = mules, spoolers
	s.SpoolerImports = cfg.List("spooler-import")
	s.SpoolerFrequency = cfg.Int("spooler-frequency")
	if m.aux == nil {
		for i := range mules {
			m.aux = append(m.aux, &auxProc{kind: "mule", id: i + 1})
		}
		for i, d := range spoolers {
			m.aux = append(m.aux, &auxProc{kind: "spooler", id: i + 1, dir: d})
		}
	}
	return s
}

// zygoteBoardFD is the descriptor number the scoreboard gets in the zygote
// and its workers (see startZygote: right after the boot and control fds).
func (m *Master) zygoteBoardFD() int {
	top := 2
	for _, l := range m.listeners {
		if l.FD > top {
			top = l.FD
		}
	}
	return top + 3
}

func (m *Master) banner() {
	l := m.log
	var u unix.Utsname
	unix.Uname(&u)
	str := func(b []byte) string { return strings.TrimRight(string(b), "\x00") }
	l.Printf("*** Starting uWSGI %s (64bit) on [%s] ***", options.Version, time.Now().Format("Mon Jan _2 15:04:05 2006"))
	l.Printf("compiled with version: gosgi (Go) on %s", buildDate())
	l.Printf("os: %s-%s %s", str(u.Sysname[:]), str(u.Release[:]), str(u.Version[:]))
	l.Printf("nodename: %s", str(u.Nodename[:]))
	l.Printf("machine: %s", str(u.Machine[:]))
	l.Printf("clock source: unix")
	l.Printf("detected number of CPU cores: %d", numCPU())
	l.Printf("current working directory: %s", m.cwd)
	l.Printf("detected binary path: %s", m.binary)
	if os.Geteuid() == 0 && m.cfg.String("uid") == "" {
		l.Printf("uWSGI running as root, you can use --uid/--gid/--chroot options")
		l.Printf("*** WARNING: you are running uWSGI as root !!! (use the --uid flag) *** ")
	}
	if !m.hasMaster {
		l.Printf("*** WARNING: you are running uWSGI without its master process manager ***")
	}
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NPROC, &rl) == nil {
		l.Printf("your processes number limit is %d", rl.Cur)
	}
	l.Printf("your memory page size is %d bytes", os.Getpagesize())
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil {
		l.Printf("detected max file descriptor number: %d", rl.Cur)
		if m.gevent > 0 {
			l.Printf("- async cores set to %d - fd table size: %d", m.gevent, rl.Cur)
			if m.socketTimeout() < 30 {
				l.Printf("!!! Running gevent with a socket-timeout lower than 30 seconds is not recommended, tune it with --socket-timeout !!!")
			}
		}
	}
	l.Printf("lock engine: pthread robust mutexes")
	l.Printf("thunder lock: disabled (you can enable it with --thunder-lock)")
}

func buildDate() string {
	if fi, err := os.Stat("/proc/self/exe"); err == nil {
		return fi.ModTime().Format("2 Jan 2006 15:04:05")
	}
	return "unknown date"
}

func numCPU() int {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) == nil {
		return set.Count()
	}
	return 1
}

// attachLogger makes the logger the stderr (and stdout) of the master and
// of every process it starts: a file directly, other targets through a pipe
// the master copies line by line.
func (m *Master) attachLogger(spec string) error {
	w, err := logsink.Open(spec)
	if err != nil {
		return err
	}
	if f, ok := w.(*os.File); ok {
		unix.Dup2(int(f.Fd()), 1)
		unix.Dup2(int(f.Fd()), 2)
		f.Close()
		return nil
	}
	r, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("logger %s: %w", spec, err)
	}
	unix.Dup2(int(pw.Fd()), 1)
	unix.Dup2(int(pw.Fd()), 2)
	pw.Close()
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			w.Write(append(sc.Bytes(), '\n'))
		}
	}()
	return nil
}

// vacuum removes what the instance created (PM-67).
func (m *Master) vacuum() {
	if !m.cfg.Bool("vacuum") {
		return
	}
	if m.statsServer != nil {
		m.statsServer.Vacuum()
	}
	for _, p := range m.pidfiles {
		if os.Remove(p) == nil {
			m.log.Printf("VACUUM: pidfile removed.")
		}
	}
	for _, l := range m.listeners {
		if l.Network != "unix" {
			continue
		}
		if err := l.Vacuum(); err == nil {
			m.log.Printf("VACUUM: unix socket %s removed.", filepath.Clean(l.Addr))
		} else {
			m.log.Printf("VACUUM WARNING: unix socket %s changed inode. Skip removal", l.Addr)
		}
	}
}
