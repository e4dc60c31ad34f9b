package emperor

import (
	"fmt"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"

	"github.com/gosgi/gosgi/internal/logging"
	"github.com/gosgi/gosgi/internal/privs"
	selfpkg "github.com/gosgi/gosgi/internal/self"
)

// envDropped marks the image re-executed by a capped privilege drop.
const envDropped = "GOSGI_EMPEROR_DROPPED"

// envDaemonized marks the background copy started by daemonize.
const envDaemonized = selfpkg.EnvDaemonized

// Run is `uwsgi --emperor ...`: it applies the process options the
// emperor honours (daemonize, logto, log-date, pidfile, emperor-pidfile,
// uid, gid, cap, no-initgroups, die-on-term, master) and runs the
// emperor until Ragnarok. args is the original command line, re-executed
// by daemonize, by a capped privilege drop and by a brutal reload. It
// returns the process exit status.
func Run(cfg Options, args []string) int {
	// Re-executions go through the name we were started as (C-31).
	self, err := selfpkg.Path(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "emperor: %v\n", err)
		return 1
	}
	binary := self

	if bg, err := daemonize(cfg, self, args); bg || err != nil {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	if err := redirectLog(cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	log := newLogger(cfg)

	s, err := FromOptions(cfg, binary)
	if err != nil {
		log.Printf("%v", err)
		return 1
	}
	dropped := os.Getenv(envDropped) != ""
	os.Unsetenv(envDropped)
	if !dropped {
		for _, opt := range []string{"pidfile", "emperor-pidfile"} {
			if p := cfg.String(opt); p != "" {
				if err := writePidfile(p); err != nil {
					log.Printf("%v", err)
					return 1
				}
				log.Printf("writing pidfile to %s", p)
			}
		}
		if err := dropPrivileges(cfg, log, self, args); err != nil {
			log.Printf("%v", err)
			return 1
		}
	}

	log.Printf("*** starting uWSGI Emperor ***")
	if os.Geteuid() == 0 && s.Tyrant {
		log.Printf("*** Emperor is running in Tyrant mode ***")
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGUSR1)
	// SIGTERM to a master without die-on-term is a brutal reload in
	// uWSGI 2.0 (T-09): the emperor restarts with fresh vassals.
	brutal := cfg.Bool("master") && !cfg.Bool("die-on-term")
	relay := make(chan os.Signal, 8)
	var reexec atomic.Bool
	go func() {
		for sig := range sigs {
			if sig == syscall.SIGTERM && brutal {
				reexec.Store(true)
			}
			relay <- sig
		}
	}()
	e := &Emperor{Settings: s, Log: log}
	if os.Getenv("NOTIFY_SOCKET") != "" {
		e.Notify = func(state string) { daemon.SdNotify(false, state+"\n") }
	}
	if err := e.Serve(relay); err != nil {
		log.Printf("%v", err)
		return 1
	}
	if reexec.Load() {
		log.Printf("...brutally reloading the Emperor...")
		if err := syscall.Exec(self, args, os.Environ()); err != nil {
			log.Printf("exec %s: %v", self, err)
			return 1
		}
	}
	if cfg.Bool("vacuum") {
		for _, opt := range []string{"pidfile", "emperor-pidfile"} {
			if p := cfg.String(opt); p != "" {
				os.Remove(p)
			}
		}
	}
	return 0
}

// daemonize re-runs the command line detached, its output going to the
// daemonize log; the foreground copy returns true. A vassal never
// daemonizes (DP-5), nor does the background copy.
func daemonize(cfg Options, binary string, args []string) (bool, error) {
	target := cfg.String("daemonize")
	if target == "" || os.Getenv(envDaemonized) != "" || os.Getenv("UWSGI_EMPEROR_FD") != "" {
		os.Unsetenv(envDaemonized)
		return false, nil
	}
	if err := selfpkg.Daemonize(binary, args, target); err != nil {
		return false, err
	}
	return true, nil
}

// redirectLog points stdout and stderr at logto (or the daemonize log).
func redirectLog(cfg Options) error {
	target := cfg.String("logto")
	if target == "" {
		target = cfg.String("daemonize")
	}
	if target == "" || os.Getenv(envDropped) != "" {
		return nil // a re-executed image already has it
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("open(\"%s\"): %w", target, err)
	}
	defer f.Close()
	if err := unix.Dup2(int(f.Fd()), 1); err != nil {
		return fmt.Errorf("dup2 log: %w", err)
	}
	return unix.Dup2(int(f.Fd()), 2)
}

func newLogger(cfg Options) *logging.Logger {
	if !cfg.Has("log-date") {
		return logging.NewLogger(os.Stderr, "", false)
	}
	f := cfg.String("log-date")
	if f == "1" || f == "true" {
		f = ""
	}
	return logging.NewLogger(os.Stderr, f, true)
}

// writePidfile writes the pid 0644 through a rename, so a reader never
// sees a partial file and the file is never world-writable (D-90, E-08).
func writePidfile(path string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("write pidfile %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil { // whatever the umask
		return fmt.Errorf("write pidfile %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write pidfile %s: %w", path, err)
	}
	return nil
}

// dropPrivileges applies uid/gid. With cap, the listed capabilities are
// kept (T-18): the drop happens on one locked thread that then
// re-executes the program, so the whole new image runs unprivileged
// with those capabilities (the pid is unchanged).
func dropPrivileges(cfg Options, log *logging.Logger, binary string, args []string) error {
	uidS, gidS := cfg.String("uid"), cfg.String("gid")
	capList := splitList(cfg.String("cap"))
	if len(capList) == 0 || os.Geteuid() != 0 || uidS == "" {
		if len(capList) > 0 {
			log.Printf("cap ignored: the Emperor does not change user")
		}
		return privs.Drop(privs.Request{
			UID: uidS, GID: gidS,
			NoInitgroups: cfg.Bool("no-initgroups"),
			AddGIDs:      cfg.List("add-gid"),
		}, log.Printf)
	}
	caps, err := privs.ParseCaps(capList)
	if err != nil {
		return fmt.Errorf("cap: %w", err)
	}
	uid, gid, groups, err := resolveUser(uidS, gidS, cfg.Bool("no-initgroups"))
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		// This goroutine's thread changes identity and then execs; it is
		// never unlocked, so no other goroutine runs on it meanwhile.
		privs.LockThread()
		if err := privs.DropKeepingCaps(uid, gid, groups, caps); err != nil {
			errc <- err
			return
		}
		log.Printf("setgid() to %d", gid)
		for _, g := range groups {
			if g != gid {
				log.Printf("set additional group %d (%s)", g, groupName(g))
			}
		}
		log.Printf("setuid() to %d", uid)
		log.Printf("capabilities kept: %s", strings.Join(capList, ","))
		env := append(os.Environ(), envDropped+"=1")
		errc <- fmt.Errorf("exec %s: %w", binary, syscall.Exec(binary, args, env))
	}()
	return <-errc
}

// resolveUser turns uid/gid option values into ids and the group list
// a uid= drop gives (initgroups unless no-initgroups).
func resolveUser(uidS, gidS string, noInit bool) (int, int, []int, error) {
	var u *user.User
	uid, err := strconv.Atoi(uidS)
	if err != nil {
		if u, err = user.Lookup(uidS); err != nil {
			return 0, 0, nil, fmt.Errorf("user %s not found.", uidS)
		}
		uid, _ = strconv.Atoi(u.Uid)
	} else {
		u, _ = user.LookupId(uidS)
	}
	gid := -1
	if gidS != "" {
		if gid, err = strconv.Atoi(gidS); err != nil {
			g, err := user.LookupGroup(gidS)
			if err != nil {
				return 0, 0, nil, fmt.Errorf("group %s not found.", gidS)
			}
			gid, _ = strconv.Atoi(g.Gid)
		}
	} else if u != nil {
		gid, _ = strconv.Atoi(u.Gid)
	} else {
		return 0, 0, nil, fmt.Errorf("cap: uid %s needs a gid", uidS)
	}
	groups := []int{gid}
	if !noInit && u != nil {
		ids, err := u.GroupIds()
		if err != nil {
			return 0, 0, nil, fmt.Errorf("initgroups(%s): %w", u.Username, err)
		}
		for _, s := range ids {
			if g, err := strconv.Atoi(s); err == nil && !containsInt(groups, g) {
				groups = append(groups, g)
			}
		}
	}
	return uid, gid, groups, nil
}
