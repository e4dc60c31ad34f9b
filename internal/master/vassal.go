package master

import (
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The emperor protocol, seen from a vassal (DP-4, T-01..T-09): the emperor
// passes one end of a socketpair as UWSGI_EMPEROR_FD. It writes 0 to stop
// the vassal and 1 to reload it; the vassal writes 1 when spawned, 5 once
// its workers accept, 17 after its first request (loyal), 22 to be
// stopped (die-on-idle) and 26 as a heartbeat.
const (
	vassalSpawned   = 1
	vassalAccepting = 5
	vassalLoyal     = 17
	vassalVoluntary = 22 // die-on-idle: please stop me
	vassalHeartbeat = 26
)

// emperorPipe returns the emperor's socket when this instance is a vassal.
func emperorPipe() *os.File {
	v := os.Getenv("UWSGI_EMPEROR_FD")
	fd, err := strconv.Atoi(v)
	if v == "" || err != nil || fd < 0 {
		return nil
	}
	// Not for the zygote and workers: a vassal's children must not keep
	// the emperor's socket open. reload clears the flag before exec.
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "emperor")
}

// serveEmperor reads the emperor's commands and reports readiness, loyalty
// and heartbeats.
func (m *Master) serveEmperor(pipe *os.File, cmds chan<- command) {
	m.log.Printf("*** has_emperor mode detected (fd: %d) ***", pipe.Fd())
	pipe.Write([]byte{vassalSpawned, vassalAccepting})
	go func() {
		loyal := false
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for range tick.C {
			if !loyal && m.board.Header.TotalRequests.Load() > 0 {
				m.log.Printf("announcing my loyalty to the Emperor...")
				pipe.Write([]byte{vassalLoyal})
				loyal = true
			}
			if _, err := pipe.Write([]byte{vassalHeartbeat}); err != nil {
				return
			}
		}
	}()
	fd := int(pipe.Fd())
	buf := make([]byte, 1)
	for {
		// Poll first and read under cmdMu: once reload holds it, a byte
		// the emperor sends stays in the socket for the new image instead
		// of being read here and lost in the exec.
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if n, err := unix.Poll(pfd, 200); n == 0 || err == unix.EINTR {
			continue
		}
		m.cmdMu.Lock()
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR || err == unix.EAGAIN {
			m.cmdMu.Unlock()
			continue
		}
		if err != nil || n == 0 {
			// The emperor is gone: a vassal does not outlive it.
			cmds <- cmdStop
			m.cmdMu.Unlock()
			return
		}
		m.log.Verbosef("received message %d from emperor", buf[0]) // dated, as uWSGI logs it
		switch buf[0] {
		case 0:
			cmds <- cmdStop
		case 1:
			cmds <- cmdReload
		}
		m.cmdMu.Unlock()
	}
}
