package master

import (
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// attachedDaemon is a side process the master keeps alive (attach-daemon,
// attach-daemon2: PM-75), as real configs run celery and friends.
type attachedDaemon struct {
	cmd      string
	stop     syscall.Signal
	pid      int
	respawns int
	started  time.Time
}

// daemonSpecs reads attach-daemon (a shell command) and attach-daemon2
// (cmd=...,stopsignal=N) entries.
func (m *Master) daemonSpecs() []*attachedDaemon {
	var out []*attachedDaemon
	for _, c := range m.cfg.List("attach-daemon") {
		out = append(out, &attachedDaemon{cmd: c, stop: unix.SIGTERM})
	}
	for _, spec := range m.cfg.List("attach-daemon2") {
		d := &attachedDaemon{stop: unix.SIGTERM}
		for _, kv := range strings.Split(spec, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch strings.TrimSpace(k) {
			case "cmd", "command", "exec":
				d.cmd = v
			case "stopsignal", "stop_signal":
				if n := atoi(v); n > 0 {
					d.stop = syscall.Signal(n)
				}
			}
		}
		if d.cmd != "" {
			out = append(out, d)
		}
	}
	return out
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

func (m *Master) spawnDaemon(d *attachedDaemon) {
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
}

// daemonDied respawns an attached daemon; false if pid is not one.
func (m *Master) daemonDied(pid int) bool {
	for _, d := range m.daemons {
		if d.pid != pid {
			continue
		}
		d.pid = 0
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
// the daemon's process group, then SIGKILL after a few seconds.
func (m *Master) stopDaemons() {
	for _, d := range m.daemons {
		if d.pid <= 0 {
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
