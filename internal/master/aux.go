package master

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Mules and spoolers (PM-76, PM-77) are Python processes forked from the
// zygote like workers; they run the loader's loops and never serve
// requests. The master spawns them after the workers, respawns them when
// they die and kills them on shutdown and reload.
type auxProc struct {
	kind string // "mule" or "spooler"
	id   int    // 1-based, per kind
	dir  string // spooler directory
	pid  int
	// respawns counts the spawns after the first (stats "respawns", ST-15).
	respawns int64
}

// auxSpecs lists the mule scripts ("" for a message-loop mule) and the
// spooler directory of each spooler process, as the configuration asks.
func auxSpecs(mules []string, muleCounts []string, spoolers []string, spoolerProcs int) (ms []string, sp []string) {
	ms = append(ms, mules...)
	for _, c := range muleCounts { // each "mules = N" adds N (OP-93)
		n, _ := strconv.Atoi(strings.TrimSpace(c))
		for i := 0; i < n; i++ {
			ms = append(ms, "")
		}
	}
	if spoolerProcs < 1 {
		spoolerProcs = 1
	}
	for _, d := range spoolers {
		for i := 0; i < spoolerProcs; i++ {
			sp = append(sp, d)
		}
	}
	return ms, sp
}

func (m *Master) spawnAux(a *auxProc, respawn bool) error {
	role := "m"
	if a.kind == "spooler" {
		role = "s"
	}
	pid, err := m.zygote.forkRole(a.id, role)
	if err != nil {
		return fmt.Errorf("spawn %s %d: %w", a.kind, a.id, err)
	}
	a.pid = pid
	if respawn {
		a.respawns++
	}
	if a.kind == "spooler" {
		dir := a.dir
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		m.log.Printf("spawned the uWSGI spooler on dir %s with pid %d", dir, pid)
	} else {
		m.log.Printf("spawned uWSGI mule %d (pid: %d)", a.id, pid)
	}
	return nil
}

func (m *Master) startAux() error {
	for _, a := range m.aux {
		if err := m.spawnAux(a, false); err != nil {
			return err
		}
	}
	return nil
}

// auxDied handles the end of a mule or spooler; false if pid is not one.
func (m *Master) auxDied(pid int, ws unix.WaitStatus) bool {
	for _, a := range m.aux {
		if a.pid != pid {
			continue
		}
		a.pid = 0
		if a.kind == "spooler" { // uWSGI's words
			m.log.Printf("OOOPS the spooler is no more...trying respawn...")
		} else {
			m.log.Printf("OOOPS mule %d (pid: %d) crippled...trying respawn...", a.id, pid)
		}
		time.Sleep(100 * time.Millisecond) // a crashing loop must not fork-bomb
		if m.zygote != nil {
			if err := m.spawnAux(a, true); err != nil {
				m.log.Printf("%v", err)
			}
		}
		return true
	}
	return false
}

// killAux ends every mule and spooler (PM-24, PM-77: they are SIGKILLed).
func (m *Master) killAux() {
	for _, a := range m.aux {
		if a.pid <= 0 {
			continue
		}
		if a.kind == "spooler" {
			m.log.Printf("killing the spooler with pid %d", a.pid)
		}
		unix.Kill(a.pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(a.pid, &ws, 0, nil)
		if a.kind == "spooler" {
			m.log.Printf("spooler (pid: %d) annihilated", a.pid)
		} else {
			m.log.Printf("mule %d (pid: %d) annihilated", a.id, a.pid)
		}
		a.pid = 0
	}
}
