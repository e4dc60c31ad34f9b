package master

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"
)

// command is an action asked of the master loop from another goroutine
// (master-fifo, fs-reload) or from a signal.
type command byte

// The master-fifo commands (PM-35), also used internally.
const (
	cmdReload         command = 'r'
	cmdBrutalReload   command = 'R'
	cmdGracefulStop   command = 'q'
	cmdStop           command = 'Q'
	cmdWorkersReload  command = 'w'
	cmdWorkersBrutal  command = 'W'
	cmdChainReload    command = 'c'
	cmdReopenLogs     command = 'l'
	cmdPause          command = 'p'
	cmdStats          command = 's'
	cmdMoreWorkers    command = '+'
	cmdFewerWorkers   command = '-'
	cmdRewritePidfile command = 'P'
)

// readFifos serves master-fifo (PM-35): the first fifo is active; '0'..'9'
// switch to the Nth. Each byte written is one command.
func (m *Master) readFifos(paths []string, cmds chan<- command) {
	files := make([]*os.File, 0, len(paths))
	for _, p := range paths {
		os.Remove(p)
		if err := unix.Mkfifo(p, 0o600); err != nil {
			m.log.Printf("master-fifo %s: %v", p, err)
			return
		}
		// Read-write so the fifo never reads EOF when a writer goes away.
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			m.log.Printf("master-fifo %s: %v", p, err)
			return
		}
		files = append(files, f)
	}
	active := 0
	buf := make([]byte, 64)
	for {
		n, err := files[active].Read(buf)
		if err != nil {
			m.log.Printf("master-fifo %s: %v", paths[active], err)
			return
		}
		for _, b := range buf[:n] {
			switch {
			case b >= '0' && b <= '9' && int(b-'0') < len(files):
				active = int(b - '0')
			case b == '\n' || b == '\r' || b == ' ':
			default:
				cmds <- command(b)
			}
		}
	}
}

// watchFsReload implements fs-reload: a graceful reload when a watched
// file changes, through inotify.
func (m *Master) watchFsReload(paths []string, cmds chan<- command) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		m.log.Printf("fs-reload: %v", err)
		return
	}
	for _, p := range paths {
		if err := w.Add(p); err != nil {
			m.log.Printf("fs-reload %s: %v", p, err)
		}
	}
	for {
		select {
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Remove|fsnotify.Rename|fsnotify.Chmod) != 0 {
				m.log.Verbosef("*** fs-reload: %s has been modified... grace them all !!! ***", ev.Name)
				cmds <- cmdReload
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			m.log.Printf("fs-reload: %v", err)
		}
	}
}

// togglePause is SIGTSTP and master-fifo 'p' (PM-28): paused workers finish
// what they serve and stop accepting until resumed.
func (m *Master) togglePause() {
	m.paused = !m.paused
	if m.paused {
		m.log.Verbosef("*** PAUSE (press start to resume, if you do not have a joypad send SIGTSTP) ***")
	} else {
		m.log.Verbosef("*** (SIGTSTP received) resuming workers ***")
	}
	m.board.Header.Paused.Store(boolInt(m.paused))
	for _, w := range m.workers {
		if w.pid > 0 {
			unix.Kill(w.pid, unix.SIGTSTP)
		}
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// gracefulShutdown is master-fifo 'q' (PM-25): workers finish their
// requests, then the instance exits 0.
func (m *Master) gracefulShutdown() int {
	m.log.Printf("graceful shutdown triggered...")
	return m.stopAll(unix.SIGHUP)
}

// reopenLogs is master-fifo 'l' and log-reopen: the log file is opened
// again (after rotation) and becomes stdout/stderr of the master; workers
// get SIGHUP-free reopening at their next respawn.
func (m *Master) reopenLogs() {
	target := m.cfg.String("logto")
	if target == "" {
		target = m.cfg.String("daemonize")
	}
	if target == "" {
		return
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		m.log.Printf("reopen %s: %v", target, err)
		return
	}
	if m.logRouter != nil { // fds 1 and 2 are the router's pipe
		m.logRouter.setDefault(f)
	} else {
		unix.Dup2(int(f.Fd()), 1)
		unix.Dup2(int(f.Fd()), 2)
		f.Close()
	}
	m.log.Printf("log file %s reopened at %s", target, time.Now().Format(time.RFC3339))
}

// logTarget is the file the instance logs to (logto, daemonize), or "".
func (m *Master) logTarget() string {
	if t := m.cfg.String("logto"); t != "" {
		return t
	}
	return m.cfg.String("daemonize")
}

// rotateLog implements log-maxsize (LG-25): once the log file is larger, its
// content moves to <file>.<unix time> (or log-backupname) and the file is
// truncated in place. Every process keeps writing to the same descriptor,
// opened with O_APPEND, so all of them continue at the new end.
func (m *Master) rotateLog() {
	max := int64(m.cfg.Int("log-maxsize"))
	target := m.logTarget()
	if max <= 0 || target == "" {
		return
	}
	fi, err := os.Stat(target)
	if err != nil || fi.Size() < max {
		return
	}
	backup := m.cfg.String("log-backupname")
	if backup == "" {
		backup = fmt.Sprintf("%s.%d", target, time.Now().Unix())
	}
	m.log.Printf("logsize: %d, triggering rotation to %s...", fi.Size(), backup)
	if err := copyFile(target, backup); err != nil {
		m.log.Printf("log rotation: %v", err)
		return
	}
	if err := os.Truncate(target, 0); err != nil {
		m.log.Printf("log rotation: %v", err)
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
