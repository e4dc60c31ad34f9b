package master

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/gosgi/gosgi/internal/privs"
)

// setupCaps reads `cap` (OP-81) and logs it as uWSGI does, before the
// banner: unknown names are skipped, a list with none known ends the
// instance. The capabilities only matter when a root master drops to a
// uid: then a spawner thread keeps them through the drop (privs.KeepCaps),
// binds the sockets and starts the zygote, so that the Python processes
// hold them as uWSGI's workers do. A reloaded image starts without them,
// like uWSGI's (its setuid happened before the exec).
func (m *Master) setupCaps() error {
	raw := m.cfg.String("cap")
	if raw == "" {
		return nil
	}
	var caps []int
	for _, name := range strings.Split(raw, ",") {
		name = strings.TrimSpace(name)
		c, err := privs.ParseCaps([]string{name})
		if err != nil || name == "" {
			m.log.Printf("[security] unknown capability: %s", name)
			continue
		}
		m.log.Printf("setting capability %s [%d]", name, c[0])
		caps = append(caps, c[0])
	}
	if len(caps) == 0 {
		return &fatal{1, fmt.Errorf("[security] empty capabilities mask !!!")}
	}
	if m.reloads > 0 || os.Geteuid() != 0 || m.cfg.String("uid") == "" {
		return nil
	}
	sp, err := privs.NewSpawner(nil)
	if err != nil {
		return fmt.Errorf("cap: %w", err)
	}
	m.caps, m.capThread = caps, sp
	return nil
}

// onCapThread runs f where the kept capabilities are effective: the
// spawner thread with `cap`, the calling goroutine otherwise.
func (m *Master) onCapThread(f func() error) error {
	if m.capThread == nil {
		return f()
	}
	var err error
	m.capThread.Do(func() { err = f() })
	return err
}

// forkExecCapped is syscall.ForkExec from the capability thread, the child
// raising the kept capabilities into its ambient set so that they survive
// its execve as a non-root user (the zygote clears that set again).
func (m *Master) forkExecCapped(argv0 string, argv []string, attr *syscall.ProcAttr) (int, error) {
	if m.capThread == nil {
		return syscall.ForkExec(argv0, argv, attr)
	}
	ambient := make([]uintptr, len(m.caps))
	for i, c := range m.caps {
		ambient[i] = uintptr(c)
	}
	if attr.Sys == nil {
		attr.Sys = &syscall.SysProcAttr{}
	}
	attr.Sys.AmbientCaps = ambient
	var pid int
	err := m.onCapThread(func() error {
		var err error
		pid, err = syscall.ForkExec(argv0, argv, attr)
		return err
	})
	return pid, err
}
