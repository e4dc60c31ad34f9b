package service

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PidState is what a pidfile says about an instance.
type PidState int

const (
	// Running: the pid is alive and is the server (C-24, C-31).
	Running PidState = iota
	// Dead: the pidfile exists but its process is gone or is not the
	// server (LSB status 1).
	Dead
	// NoPidfile: no pidfile (LSB status 3).
	NoPidfile
	// Unreadable: the pidfile cannot be read or holds no pid (LSB status 4).
	Unreadable
)

// LSBStatus maps a state to the LSB `status` exit code (C-36).
func (s PidState) LSBStatus() int {
	switch s {
	case Running:
		return 0
	case Dead:
		return 1
	case NoPidfile:
		return 3
	}
	return 4
}

// ReadPid parses a pidfile: one positive decimal number, surrounding
// whitespace allowed.
func ReadPid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := ParsePid(data)
	if err != nil {
		return 0, fmt.Errorf("pidfile %s: %w", path, err)
	}
	return pid, nil
}

// ParsePid parses pidfile content.
func ParsePid(data []byte) (int, error) {
	t := bytes.TrimSpace(data)
	pid, err := strconv.Atoi(string(t))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("no pid in %q", t)
	}
	return pid, nil
}

// procMatcher decides whether a pid is an instance's server.
type procMatcher struct {
	name   string      // comm to accept (C-31)
	daemon os.FileInfo // the executable the daemon path resolves to (C-24), nil if unknown
	proc   string      // procfs root
}

func newMatcher(l Layout) procMatcher {
	m := procMatcher{name: l.ProcessName(), proc: "/proc"}
	if st, err := os.Stat(l.Daemon); err == nil {
		m.daemon = st
	}
	return m
}

// alive reports whether pid exists and is not a zombie. Daemonized
// masters are reparented away from us, so we cannot wait() on them; a
// zombie left behind by a reaper that is slow (or absent in a container)
// must still count as gone.
func (m procMatcher) alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("%s/%d/stat", m.proc, pid))
	if err != nil {
		return false
	}
	// Format: pid (comm) state ...; comm may contain ')' so use the last.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return true
	}
	st := stat[i+2]
	return st != 'Z' && st != 'X'
}

// isServer reports whether a live pid is the server: its comm is the
// process name, or its executable is the daemon's file. Either is enough:
// the comm check works without privileges (reading another user's
// /proc/PID/exe needs them) and the exe check survives a master that
// renamed itself (procname-master).
func (m procMatcher) isServer(pid int) bool {
	comm, err := os.ReadFile(fmt.Sprintf("%s/%d/comm", m.proc, pid))
	if err == nil && strings.TrimRight(string(comm), "\n") == m.name {
		return true
	}
	if m.daemon == nil {
		return false
	}
	st, err := os.Stat(fmt.Sprintf("%s/%d/exe", m.proc, pid))
	return err == nil && os.SameFile(st, m.daemon)
}

// state inspects a pidfile.
func (m procMatcher) state(pidfile string) (PidState, int) {
	pid, err := ReadPid(pidfile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return NoPidfile, 0
	case err != nil:
		return Unreadable, 0
	case m.alive(pid) && m.isServer(pid):
		return Running, pid
	}
	return Dead, pid
}

// waitGone polls until pid is gone or d elapses.
func (m procMatcher) waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !m.alive(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
