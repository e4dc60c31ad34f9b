package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Command is one controller verb.
type Command string

// The verbs of /etc/init.d/uwsgi (C-30..C-36).
const (
	Start       Command = "start"
	Stop        Command = "stop"
	Reload      Command = "reload"
	ForceReload Command = "force-reload"
	Restart     Command = "restart"
	Status      Command = "status"
)

// verbs are the words of the progress line (C-50).
var verbs = map[Command]string{
	Start:       "Starting",
	Stop:        "Stopping",
	Reload:      "Reloading",
	ForceReload: "Forced reloading",
	Restart:     "Restarting",
}

// Controller runs commands over instances. The zero value is not usable;
// fill Layout and Settings (New does it with Debian's timings).
type Controller struct {
	Layout
	Settings

	// Stdout receives the progress and status lines; Stderr the reasons
	// for failures, printed after the progress line so it stays whole.
	Stdout, Stderr io.Writer
	// Color paints "failed!" red (set when Stdout is a terminal).
	Color bool

	// QuitTimeout is how long stop waits after SIGQUIT before SIGKILL;
	// KillTimeout how long it then waits for the process to go (C-30).
	QuitTimeout, KillTimeout time.Duration
	// PidfileWait bounds the wait for a new pidfile after start (C-25).
	PidfileWait time.Duration
	// Settle is how long start waits after the pidfile appears before the
	// success test, so a server that dies right after writing it (a bad
	// socket path) is reported failed rather than racing (C-26, O-17).
	Settle time.Duration
	// StartTimeout bounds the foreground server process of a start; a
	// server that never daemonizes is killed and reported failed.
	StartTimeout time.Duration
	// NoChown skips chown of run directories and pidfiles (for running
	// unprivileged in a scratch tree); modes are still applied.
	NoChown bool
	// Env is the base environment of started instances (nil: this
	// process's). The controller's own variables and any UWSGI_DEB_* are
	// removed, and UWSGI_DEB_CONFNAMESPACE/UWSGI_DEB_CONFNAME set (C-21).
	Env []string
	// DropEnv lists variable names never passed to instances (the
	// controller's own settings, which uwsgi would read as options).
	DropEnv []string

	match procMatcher
	diags []string
}

// New returns a controller with Debian's timings.
func New(l Layout, s Settings) *Controller {
	return &Controller{
		Layout: l, Settings: s,
		Stdout: os.Stdout, Stderr: os.Stderr,
		QuitTimeout: 30 * time.Second, KillTimeout: 5 * time.Second,
		PidfileWait: 3 * time.Second, Settle: 200 * time.Millisecond,
		StartTimeout: 60 * time.Second,
	}
}

// diag records a reason to print on stderr at the end of the command.
func (c *Controller) diag(inst Instance, err error) {
	if err != nil {
		c.diags = append(c.diags, fmt.Sprintf("uwsgi-service: %s: %v", SanitizeName(inst.ID()), err))
	}
}

func (c *Controller) flushDiags() {
	for _, d := range c.diags {
		fmt.Fprintln(c.Stderr, d)
	}
	c.diags = nil
}

// Run executes cmd over the named instances (all of apps-enabled when
// names is empty) and returns the exit status: the number of failed
// instances for the progress commands (C-53), the LSB code for status
// (C-36).
func (c *Controller) Run(cmd Command, names []string) int {
	c.match = newMatcher(c.Layout)
	defer c.flushDiags()
	if cmd == Status {
		return c.status(names)
	}
	verb, ok := verbs[cmd]
	if !ok {
		fmt.Fprintf(c.Stderr, "Usage: /etc/init.d/uwsgi {start|stop|status|restart|reload|force-reload}\n")
		return 3
	}
	p := &progress{w: c.Stdout, on: c.Verbose, names: c.PrintConfnames, color: c.Color}
	p.begin(verb)
	insts, specs, err := c.targets(cmd, names)
	if err != nil {
		p.arrow()
		p.errors++
		p.end()
		fmt.Fprintf(c.Stderr, "uwsgi-service: %v\n", err)
		return exitCode(p.errors)
	}
	if len(names) == 0 && len(insts) == 0 {
		p.omitted(c.EnabledDir(DefaultNamespace))
		return 0
	}
	if len(names) > 0 {
		p.arrow()
	}
	for i, inst := range insts {
		id := inst.ID()
		if inst.Name == "" {
			// Malformed argument: show what was typed.
			id = specs[i]
		}
		p.mark(c.one(cmd, inst), id)
	}
	p.end()
	return exitCode(p.errors)
}

// targets resolves the instance list. Named arguments keep their order
// and duplicates; "all" is apps-enabled, plus (for stop and restart) the
// instances still running from a config that was since removed.
func (c *Controller) targets(cmd Command, names []string) ([]Instance, []string, error) {
	if len(names) == 0 {
		all, err := c.All()
		if err != nil {
			return nil, nil, err
		}
		if cmd == Stop || cmd == Restart {
			orph, err := c.Orphans(DefaultNamespace, all)
			if err != nil {
				return nil, nil, err
			}
			all = mergeSorted(all, orph)
		}
		return c.ownedBySysv(all), nil, nil
	}
	insts := make([]Instance, len(names))
	for i, n := range names {
		inst, _, err := c.Lookup(n)
		if err != nil {
			c.diag(inst, err)
		}
		insts[i] = inst
	}
	return insts, names, nil
}

// ownedBySysv drops the apps systemd runs as uwsgi-app@NAME units.
func (c *Controller) ownedBySysv(insts []Instance) []Instance {
	out := insts[:0:0]
	for _, i := range insts {
		if !HandedToSystemd(c.SystemdDir, i.Name) {
			out = append(out, i)
		}
	}
	return out
}

func mergeSorted(a, b []Instance) []Instance {
	out := make([]Instance, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		if len(b) == 0 || (len(a) > 0 && a[0].Name < b[0].Name) {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return out
}

// one runs cmd on one instance.
func (c *Controller) one(cmd Command, inst Instance) Outcome {
	if inst.Name == "" {
		return NotFound
	}
	switch cmd {
	case Start:
		return c.start(inst)
	case Stop:
		return c.stop(inst)
	case Reload:
		return c.signal(inst, syscall.SIGHUP)
	case ForceReload:
		return c.signal(inst, syscall.SIGTERM)
	case Restart:
		if o := c.stop(inst); o == Failed || o == NotFound {
			return o
		}
		return c.start(inst)
	}
	return Failed
}

// hasRunDir reports whether an instance without config still has run
// files, so that stop and status can reach it (C-38 fixed).
func (c *Controller) hasRunDir(inst Instance) bool {
	_, err := os.Lstat(c.InstanceDir(inst))
	return err == nil
}

// start launches one instance (C-20..C-28, C-34).
func (c *Controller) start(inst Instance) Outcome {
	if inst.Config == "" {
		return NotFound
	}
	owner, warn := GuessOwner(inst.Config, c.InheritedConfig)
	c.diag(inst, warn)
	nsDir := filepath.Join(c.RunDir, inst.Namespace)
	if err := c.installDir(nsDir, 0, 0); err != nil {
		c.diag(inst, err)
		return Failed
	}
	if err := c.installDir(c.InstanceDir(inst), owner.UID, owner.GID); err != nil {
		c.diag(inst, err)
		return Failed
	}
	// Debian only creates run directories, so a namespace without a log
	// directory could never start (C-34); create it like the package's
	// /var/log/uwsgi/app.
	if err := os.MkdirAll(filepath.Join(c.LogDir, inst.Namespace), 0o755); err != nil {
		c.diag(inst, fmt.Errorf("create log directory: %w", err))
		return Failed
	}
	pidfile := c.Pidfile(inst)
	switch st, _ := c.match.state(pidfile); st {
	case Running:
		return Already
	case Dead, Unreadable:
		// A stale pidfile would let the success test below see the old
		// file before the new server writes its own.
		if err := os.Remove(pidfile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.diag(inst, fmt.Errorf("remove stale pidfile: %w", err))
			return Failed
		}
	}
	argv, err := c.Argv(inst, true)
	if err != nil {
		c.diag(inst, err)
		return Failed
	}
	if out, err := c.launch(inst, argv); err != nil {
		if out != "" {
			err = fmt.Errorf("%w; output: %s", err, out)
		}
		c.diag(inst, err)
		return Failed
	}
	if !c.waitPidfile(pidfile) {
		c.diag(inst, fmt.Errorf("no pidfile %s after %s; see %s", pidfile, c.PidfileWait, c.LogFile(inst)))
		return Failed
	}
	if !c.NoChown {
		if err := os.Chown(pidfile, 0, 0); err != nil {
			c.diag(inst, fmt.Errorf("chown pidfile: %w", err))
		}
	}
	if err := os.Chmod(pidfile, 0o644); err != nil {
		c.diag(inst, fmt.Errorf("chmod pidfile: %w", err))
	}
	time.Sleep(c.Settle)
	if st, pid := c.match.state(pidfile); st != Running {
		c.diag(inst, fmt.Errorf("server (pid %d) is not running after start%s; see %s", pid, lastLogLine(c.LogFile(inst)), c.LogFile(inst)))
		return Failed
	}
	return Done
}

// lastLogLine returns ": <last line>" of an instance log, the server's
// own reason for exiting in most cases (a bind or setuid error), so the
// administrator sees it without opening the log; "" if unreadable.
func lastLogLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	// The reason is near the end; 4 KiB holds several lines.
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := st.Size() - 4096
	if off < 0 {
		off = 0
	}
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if last == "" {
		return ""
	}
	// Control characters (colour codes) would garble the terminal.
	return ": " + strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, last)
}

// Argv is the server command line of one instance (C-22): the inherited
// config, the app config, each with the option its extension selects,
// and, when daemonize is set, --daemonize to the instance log.
func (c *Controller) Argv(inst Instance, daemonize bool) ([]string, error) {
	argv := []string{c.Daemon}
	if c.InheritedConfig != "" {
		opt, ok := OptionForFile(c.InheritedConfig)
		if !ok {
			return nil, fmt.Errorf("inherited config %s: unknown config type", c.InheritedConfig)
		}
		argv = append(argv, "--"+opt, c.InheritedConfig)
	}
	opt, ok := OptionForFile(inst.Config)
	if !ok {
		return nil, fmt.Errorf("config %s: unknown config type", inst.Config)
	}
	argv = append(argv, "--"+opt, inst.Config)
	if daemonize {
		argv = append(argv, "--daemonize", c.LogFile(inst))
	}
	return argv, nil
}

// Exec replaces this process with the server of one instance, in the
// foreground: the entry point of the uwsgi-app@.service template, where
// systemd supervises the master (Type=notify) and keeps its log. It
// prepares the run directories as start does and returns only on error.
func (c *Controller) Exec(spec string) error {
	inst, ok, err := c.Lookup(spec)
	if err != nil {
		return err
	}
	if !ok || inst.Config == "" {
		return fmt.Errorf("%s: no config in %s", spec, c.EnabledDir(inst.Namespace))
	}
	owner, warn := GuessOwner(inst.Config, c.InheritedConfig)
	if warn != nil {
		fmt.Fprintf(c.Stderr, "uwsgi-service: %s: %v\n", SanitizeName(inst.ID()), warn)
	}
	if err := c.installDir(filepath.Join(c.RunDir, inst.Namespace), 0, 0); err != nil {
		return err
	}
	if err := c.installDir(c.InstanceDir(inst), owner.UID, owner.GID); err != nil {
		return err
	}
	argv, err := c.Argv(inst, false)
	if err != nil {
		return err
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	if err := syscall.Exec(c.Daemon, argv, c.InstanceEnv(inst)); err != nil {
		return fmt.Errorf("exec %s: %w", c.Daemon, err)
	}
	return nil
}

// InstanceEnv is the environment of one instance (C-21).
func (c *Controller) InstanceEnv(inst Instance) []string {
	base := c.Env
	if base == nil {
		base = os.Environ()
	}
	drop := map[string]bool{"UWSGI_DEB_CONFNAMESPACE": true, "UWSGI_DEB_CONFNAME": true}
	for _, d := range c.DropEnv {
		drop[d] = true
	}
	env := make([]string, 0, len(base)+2)
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			env = append(env, kv)
		}
	}
	return append(env, "UWSGI_DEB_CONFNAMESPACE="+inst.Namespace, "UWSGI_DEB_CONFNAME="+inst.Name)
}

// launch runs the foreground server until it daemonizes. Its output (what
// it prints before --daemonize takes over, e.g. a bad option) is kept for
// the failure message; Debian throws it away.
func (c *Controller) launch(inst Instance, argv []string) (string, error) {
	out, err := os.CreateTemp("", "uwsgi-service-*.out")
	if err != nil {
		return "", fmt.Errorf("start %s: %w", argv[0], err)
	}
	os.Remove(out.Name())
	defer out.Close()
	ctx, cancel := context.WithTimeout(context.Background(), c.StartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = c.InstanceEnv(inst)
	cmd.Dir = "/"
	cmd.Stdin = nil
	// A file, not a pipe: the daemonized master must never hold a pipe
	// that Wait would block on.
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = time.Second
	runErr := cmd.Run()
	text := ""
	if b, err := os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", out.Fd())); err == nil {
		text = strings.TrimSpace(string(b))
		if len(text) > 2000 {
			text = text[:2000] + "..."
		}
	}
	if ctx.Err() != nil {
		return text, fmt.Errorf("start %s: did not daemonize within %s", argv[0], c.StartTimeout)
	}
	if runErr != nil {
		return text, fmt.Errorf("start %s: %w", argv[0], runErr)
	}
	return text, nil
}

// waitPidfile polls for a pidfile holding a pid (C-25).
func (c *Controller) waitPidfile(path string) bool {
	deadline := time.Now().Add(c.PidfileWait)
	for {
		if _, err := ReadPid(path); err == nil {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// installDir is `install -d -o uid -g gid -m 755`: create with parents,
// then re-apply owner and mode even if it existed (D-31, D-32).
func (c *Controller) installDir(dir string, uid, gid int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if !c.NoChown {
		if err := os.Chown(dir, uid, gid); err != nil {
			return fmt.Errorf("chown %s to %d:%d: %w", dir, uid, gid, err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	return nil
}

// stop stops one instance (C-30): SIGQUIT, wait, SIGKILL, wait; then the
// run directory goes. An instance without config is still stopped if its
// run directory exists (C-38 fixed).
func (c *Controller) stop(inst Instance) Outcome {
	if inst.Config == "" && !c.hasRunDir(inst) {
		return NotFound
	}
	st, pid := c.match.state(c.Pidfile(inst))
	out := Already
	if st == Running {
		if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil && !errors.Is(err, syscall.ESRCH) {
			c.diag(inst, fmt.Errorf("signal pid %d: %w", pid, err))
			return Failed
		}
		if !c.match.waitGone(pid, c.QuitTimeout) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			if !c.match.waitGone(pid, c.KillTimeout) {
				c.diag(inst, fmt.Errorf("pid %d survived SIGQUIT and SIGKILL", pid))
				return Failed
			}
			c.diag(inst, fmt.Errorf("pid %d ignored SIGQUIT for %s and was killed", pid, c.QuitTimeout))
		}
		out = Done
	}
	if err := os.RemoveAll(c.InstanceDir(inst)); err != nil {
		c.diag(inst, fmt.Errorf("remove run directory: %w", err))
	}
	return out
}

// signal sends a reload signal (C-32 HUP, C-33 TERM). Not running is a
// failure. An instance whose config is gone is not reloaded: the server
// would re-read a missing file.
func (c *Controller) signal(inst Instance, sig syscall.Signal) Outcome {
	if inst.Config == "" {
		return NotFound
	}
	st, pid := c.match.state(c.Pidfile(inst))
	if st != Running {
		c.diag(inst, errors.New("not running"))
		return Failed
	}
	if err := syscall.Kill(pid, sig); err != nil {
		c.diag(inst, fmt.Errorf("signal pid %d: %w", pid, err))
		return Failed
	}
	return Done
}

// status reports instances (C-36). One name prints Debian's exact line;
// several names, or none (all instances), print one line per instance
// and return the code of the first one not running.
func (c *Controller) status(names []string) int {
	var insts []Instance
	if len(names) == 0 {
		all, err := c.All()
		if err == nil {
			var orph []Instance
			orph, err = c.Orphans(DefaultNamespace, all)
			all = mergeSorted(all, orph)
		}
		if err != nil {
			fmt.Fprintf(c.Stderr, "uwsgi-service: %v\n", err)
			return 4
		}
		if len(all) == 0 {
			c.lsbLine(false, fmt.Sprintf("uwsgi is not running (no conffile(s) in %s)", c.EnabledDir(DefaultNamespace)))
			return 3
		}
		insts = all
	} else {
		for _, n := range names {
			inst, ok, err := c.Lookup(n)
			c.diag(inst, err)
			if !ok {
				// A malformed name cannot have run files either.
				inst = Instance{}
			}
			insts = append(insts, inst)
		}
	}
	code := 0
	for i, inst := range insts {
		st := NoPidfile
		if inst.Name != "" {
			st, _ = c.match.state(c.Pidfile(inst))
		}
		label := "uwsgi"
		if len(names) != 1 {
			id := inst.ID()
			if inst.Name == "" {
				id = names[i]
			}
			label = "uwsgi " + SanitizeName(id)
		}
		switch st {
		case Running:
			c.lsbLine(true, label+" is running")
		case Unreadable:
			c.lsbLine(false, "could not access PID file for "+label)
		default:
			c.lsbLine(false, label+" is not running")
		}
		if code == 0 {
			code = st.LSBStatus()
		}
	}
	return code
}

// lsbLine prints like log_success_msg / log_failure_msg.
func (c *Controller) lsbLine(ok bool, msg string) {
	if ok {
		fmt.Fprintf(c.Stdout, "%s.\n", msg)
		return
	}
	p := progress{color: c.Color}
	fmt.Fprintf(c.Stdout, "%s ... %s\n", msg, p.paint("failed!"))
}
