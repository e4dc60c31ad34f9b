// Command uwsgi-service is the Debian controller for uwsgi app instances:
// /etc/init.d/uwsgi execs it, and it can be run directly to control single
// instances on a systemd host. See internal/service and README.Debian.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"golang.org/x/sys/unix"

	"github.com/gosgi/gosgi/internal/service"
)

// names are the instance arguments shared by every verb.
type names struct {
	Names []string `arg:"" optional:"" name:"name" help:"Instance: NAME (apps-enabled) or NS/NAME (NSs-enabled). None means every config in apps-enabled."`
}

// cli is the command line. The layout flags exist so the controller can
// run against a scratch tree; their defaults are Debian's paths.
type cli struct {
	ConfDir     string        `name:"conf-dir" env:"UWSGI_SERVICE_CONF_DIR" default:"/etc/uwsgi" help:"Directory holding the <ns>s-enabled config directories."`
	RunDir      string        `name:"run-dir" env:"UWSGI_SERVICE_RUN_DIR" default:"/run/uwsgi" help:"Directory for <ns>/<name>/{pid,socket}; must match the inherited config."`
	LogDir      string        `name:"log-dir" env:"UWSGI_SERVICE_LOG_DIR" default:"/var/log/uwsgi" help:"Directory for <ns>/<name>.log."`
	Daemon      string        `name:"daemon" env:"UWSGI_BIN" default:"/usr/bin/uwsgi" help:"Server executable."`
	Defaults    string        `name:"defaults" env:"UWSGI_SERVICE_DEFAULTS" default:"/etc/default/uwsgi" help:"Settings file (VERBOSE, PRINT_CONFNAMES_IN_INITD_SCRIPT_OUTPUT, INHERITED_CONFIG)."`
	QuitTimeout time.Duration `name:"quit-timeout" env:"UWSGI_SERVICE_QUIT_TIMEOUT" default:"30s" help:"Wait after SIGQUIT before SIGKILL on stop."`
	KillTimeout time.Duration `name:"kill-timeout" env:"UWSGI_SERVICE_KILL_TIMEOUT" default:"5s" help:"Wait after SIGKILL before giving up on stop."`
	SystemdDir  string        `name:"systemd-dir" env:"UWSGI_SERVICE_SYSTEMD_DIR" default:"/etc/systemd/system" help:"Where enabled units are linked; apps enabled as uwsgi-app@NAME units are left out when no name is given."`
	NoChown     bool          `name:"no-chown" env:"UWSGI_SERVICE_NO_CHOWN" help:"Do not chown run directories and pidfiles (unprivileged use)."`

	Start       names `cmd:"" help:"Start instances."`
	Stop        names `cmd:"" help:"Stop instances (SIGQUIT, then SIGKILL)."`
	Reload      names `cmd:"" help:"Gracefully reload instances (SIGHUP)."`
	ForceReload names `cmd:"" name:"force-reload" help:"Brutally reload instances (SIGTERM)."`
	Restart     names `cmd:"" help:"Stop, then start instances."`
	Status      names `cmd:"" help:"Report whether instances run (LSB exit codes)."`
	Run         struct {
		Name string `arg:"" help:"Instance: NAME or NS/NAME."`
	} `cmd:"" help:"Run one instance in the foreground, replacing this process (for uwsgi-app@.service)."`
}

// controlEnv are the variables the controller reads; they are kept away
// from instances, where uwsgi would take UWSGI_* as options.
var controlEnv = []string{
	"UWSGI_BIN", "UWSGI_SERVICE_CONF_DIR", "UWSGI_SERVICE_RUN_DIR", "UWSGI_SERVICE_LOG_DIR",
	"UWSGI_SERVICE_DEFAULTS", "UWSGI_SERVICE_QUIT_TIMEOUT", "UWSGI_SERVICE_KILL_TIMEOUT", "UWSGI_SERVICE_NO_CHOWN", "UWSGI_SERVICE_SYSTEMD_DIR",
}

const usage = "Usage: /etc/init.d/uwsgi {start|stop|status|restart|reload|force-reload}"

// exitRequest carries kong's exit (after --help) out of Parse.
type exitRequest int

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) (code int) {
	var c cli
	parser, err := kong.New(&c,
		kong.Name("uwsgi-service"),
		kong.Description("Control the uwsgi instances configured in /etc/uwsgi/apps-enabled (Debian layout)."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(n int) { panic(exitRequest(n)) }),
	)
	if err != nil {
		fmt.Fprintf(stderr, "uwsgi-service: %v\n", err)
		return 1
	}
	defer func() {
		if r := recover(); r != nil {
			n, ok := r.(exitRequest)
			if !ok {
				panic(r)
			}
			code = int(n)
		}
	}()
	kctx, err := parser.Parse(args)
	if err != nil {
		// Unknown or missing verb: only the init script's usage line
		// (C-39), which is what scripts and people expect to see.
		fmt.Fprintln(stderr, usage)
		return 3
	}
	verb, _, _ := strings.Cut(kctx.Command(), " ")
	var list []string
	switch service.Command(verb) {
	case service.Start:
		list = c.Start.Names
	case service.Stop:
		list = c.Stop.Names
	case service.Reload:
		list = c.Reload.Names
	case service.ForceReload:
		list = c.ForceReload.Names
	case service.Restart:
		list = c.Restart.Names
	case service.Status:
		list = c.Status.Names
	}

	layout := service.Layout{ConfDir: c.ConfDir, RunDir: c.RunDir, LogDir: c.LogDir, Daemon: c.Daemon, DefaultsFile: c.Defaults, SystemdDir: c.SystemdDir}
	settings, err := service.ReadSettings(c.Defaults)
	if err != nil {
		fmt.Fprintf(stderr, "uwsgi-service: %v\n", err)
	}
	ctl := service.New(layout, settings)
	ctl.Stdout, ctl.Stderr = stdout, stderr
	ctl.Color = isTerminal(stdout)
	ctl.QuitTimeout, ctl.KillTimeout = c.QuitTimeout, c.KillTimeout
	ctl.NoChown = c.NoChown
	ctl.DropEnv = controlEnv
	if verb == "run" {
		err := ctl.Exec(c.Run.Name)
		fmt.Fprintf(stderr, "uwsgi-service: %v\n", err)
		return 1
	}
	return ctl.Run(service.Command(verb), list)
}

// isTerminal mirrors the LSB helpers: colour only on a tty with a
// usable TERM.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	if t := os.Getenv("TERM"); t == "" || t == "dumb" {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
