package master

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// attachedDaemon is a side process the master keeps alive (attach-daemon,
// attach-daemon2: PM-75), as real configs run celery and friends.
//
// A smart daemon (smart-attach-daemon, smart-attach-daemon2, attach-daemon2
// with pidfile=) is known by the pid in its pidfile, not as the master's
// child: it is not stopped on reload or shutdown, the next image finds it
// through the pidfile, and it is started again when that pid is dead.
type attachedDaemon struct {
	cmd      string
	stop     syscall.Signal
	pid      int // the master's child (for a smart daemon: its launcher)
	respawns int
	started  time.Time

	pidfile   string // smart: where the daemon's pid is
	daemonize bool   // smart-attach-daemon2: the master writes the pidfile
	known     int    // smart: the pid the pidfile last named
}

// daemonSpecs reads attach-daemon (a shell command), attach-daemon2
// (cmd=...,pidfile=...,daemonize=...,stopsignal=N) and the smart forms
// ("PIDFILE COMMAND").
func (m *Master) daemonSpecs() []*attachedDaemon {
	var out []*attachedDaemon
	for _, c := range m.cfg.List("attach-daemon") {
		out = append(out, &attachedDaemon{cmd: c, stop: unix.SIGTERM})
	}
	for _, spec := range m.cfg.List("attach-daemon2") {
		if d := parseDaemon2(spec); d.cmd != "" {
			out = append(out, d)
		}
	}
	for _, opt := range []string{"smart-attach-daemon", "smart-attach-daemon2"} {
		for _, spec := range m.cfg.List(opt) {
			pidfile, cmd, ok := parseSmartSpec(spec)
			if !ok {
				m.log.Printf("[uwsgi-daemons] invalid %s value %q: want \"PIDFILE COMMAND\"", opt, spec)
				continue
			}
			out = append(out, &attachedDaemon{cmd: cmd, stop: unix.SIGTERM, pidfile: pidfile,
				daemonize: opt == "smart-attach-daemon2"})
		}
	}
	return out
}

// parseSmartSpec splits a smart-attach-daemon value, "PIDFILE COMMAND".
func parseSmartSpec(spec string) (pidfile, cmd string, ok bool) {
	pidfile, cmd, _ = strings.Cut(strings.TrimSpace(spec), " ")
	cmd = strings.TrimSpace(cmd)
	return pidfile, cmd, pidfile != "" && cmd != ""
}

// parseDaemon2 reads one attach-daemon2 value; unknown keys are ignored.
func parseDaemon2(spec string) *attachedDaemon {
	d := &attachedDaemon{stop: unix.SIGTERM}
	for _, kv := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch strings.TrimSpace(k) {
		case "cmd", "command", "exec":
			d.cmd = v
		case "pidfile":
			d.pidfile = v
		case "daemonize", "daemon":
			d.daemonize = v == "" || v == "1" || v == "true"
		case "stopsignal", "stop_signal":
			if n := atoi(v); n > 0 {
				d.stop = syscall.Signal(n)
			}
		}
	}
	return d
}

func (d *attachedDaemon) smart() bool { return d.pidfile != "" }

// statsPid is the pid stats show: the daemon's own for a smart one.
func (d *attachedDaemon) statsPid() int {
	if d.smart() {
		return d.known
	}
	return d.pid
}

func atoi(s string) int {
	n := 0
	for _, c := range strings.TrimSpace(s) {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// startDaemon starts d, or for a smart daemon first looks for it through
// its pidfile: a daemon left running by the previous image or instance is
// adopted, not started twice.
func (m *Master) startDaemon(d *attachedDaemon) {
	if d.smart() {
		pid, err := readPidfile(d.pidfile)
		if err == nil && pidAlive(pid) {
			d.known = pid
			m.log.Printf("[uwsgi-daemons] found valid/active pidfile for \"%s\" (pid: %d)", d.cmd, pid)
			return
		}
		if errors.Is(err, fs.ErrNotExist) {
			m.log.Printf("open(\"%s\"): No such file or directory [core/daemons.c line 161]", d.pidfile)
		}
	}
	m.spawnDaemon(d)
}

func (m *Master) spawnDaemon(d *attachedDaemon) {
	if d.daemonize {
		m.log.Printf("writing pidfile to %s", d.pidfile)
	}
	m.log.Printf("[uwsgi-daemons] spawning \"%s\" (uid: %d gid: %d)", d.cmd, os.Getuid(), os.Getgid())
	pid, err := syscall.ForkExec("/bin/sh", []string{"/bin/sh", "-c", d.cmd}, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		m.log.Printf("[uwsgi-daemons] unable to spawn \"%s\": %v", d.cmd, err)
		return
	}
	d.pid, d.started = pid, time.Now()
	if d.smart() {
		d.known = pid // until the pidfile names the daemon it forked
	}
	if d.daemonize {
		if err := writeDaemonPidfile(d.pidfile, pid); err != nil {
			m.log.Printf("[uwsgi-daemons] %v", err)
		}
	}
}

// checkSmartDaemons runs once per master cycle: it follows each smart
// daemon's pidfile and starts the daemon again once that pid is gone.
func (m *Master) checkSmartDaemons() {
	for _, d := range m.daemons {
		if !d.smart() {
			continue
		}
		if pid, err := readPidfile(d.pidfile); err == nil && pid != d.known && pidAlive(pid) {
			m.log.Printf("[uwsgi-daemons] found changed pid for \"%s\" (old_pid: %d new_pid: %d)", d.cmd, d.known, pid)
			d.known = pid
		}
		// The grace lets a daemon that forks write its pidfile after its
		// launcher exits, and keeps a failing command from spinning.
		if d.pid == 0 && !pidAlive(d.known) && time.Since(d.started) > smartGrace {
			d.respawns++
			m.spawnDaemon(d)
		}
	}
}

const smartGrace = 3 * time.Second

// readPidfile reads the pid a daemon wrote.
func readPidfile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, ok := parsePid(b)
	if !ok {
		return 0, fmt.Errorf("pidfile %s: no pid in %q", path, b)
	}
	return pid, nil
}

// parsePid reads a pidfile's content: a positive number, blanks around it.
func parsePid(b []byte) (int, bool) {
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, err == nil && pid > 0
}

func writeDaemonPidfile(path string, pid int) error {
	if err := os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return fmt.Errorf("write pidfile %s: %w", path, err)
	}
	return nil
}

// pidAlive reports whether pid names a live process (EPERM: one of
// another user's, alive too). Dead children are reaped by the master's
// loop, so a zombie does not linger as "alive" past a cycle.
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := unix.Kill(pid, 0)
	return err == nil || err == unix.EPERM
}

// daemonDied respawns an attached daemon; false if pid is not one. A
// smart daemon's launcher is only logged: the daemon itself is followed
// through its pidfile (checkSmartDaemons).
func (m *Master) daemonDied(pid int, ws unix.WaitStatus) bool {
	for _, d := range m.daemons {
		if d.pid != pid {
			continue
		}
		d.pid = 0
		if d.smart() {
			if ws.Signaled() {
				m.log.Printf("subprocess %d exited by signal %d", pid, ws.Signal())
			} else {
				m.log.Printf("subprocess %d exited with code %d", pid, ws.ExitStatus())
			}
			return true
		}
		d.respawns++
		m.log.Printf("[uwsgi-daemons] respawning \"%s\" (pid: %d) died", d.cmd, pid)
		if time.Since(d.started) < time.Second { // a command that keeps failing
			time.Sleep(time.Second)
		}
		m.spawnDaemon(d)
		return true
	}
	return false
}

// stopDaemons ends every attached daemon (PM-24, PM-75): its stop signal to
// the daemon's process group, then SIGKILL after a few seconds. Smart
// daemons are left running, on reload and on shutdown alike, as uWSGI
// leaves them.
func (m *Master) stopDaemons() {
	for _, d := range m.daemons {
		if d.pid <= 0 || d.smart() {
			continue
		}
		m.log.Printf("[uwsgi-daemons] stopping daemon (pid: %d): %s", d.pid, d.cmd)
		unix.Kill(-d.pid, d.stop)
		deadline := time.Now().Add(3 * time.Second)
		for {
			var ws unix.WaitStatus
			if p, _ := unix.Wait4(d.pid, &ws, unix.WNOHANG, nil); p == d.pid || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		unix.Kill(-d.pid, unix.SIGKILL)
		d.pid = 0
	}
}
