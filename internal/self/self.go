// Package self finds the path to re-execute this program by: the name it
// was started as, so that the process keeps the name "uwsgi" when
// /usr/bin/uwsgi is a link to the real binary (init scripts and
// uwsgi-service match on that name, C-31), made absolute so that a later
// chdir does not break it.
package self

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Path returns the absolute path this program was started as (args[0],
// looked up in PATH when it has no slash), or the running executable when
// that cannot be found.
func Path(args []string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("detect binary path: %w", err)
	}
	exe = strings.TrimSuffix(exe, " (deleted)") // replaced by an upgrade
	if len(args) == 0 || args[0] == "" {
		return exe, nil
	}
	p := args[0]
	if !strings.Contains(p, "/") {
		lp, err := exec.LookPath(p)
		if err != nil {
			return exe, nil
		}
		p = lp
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return exe, nil
	}
	if fi, err := os.Stat(abs); err != nil || fi.Mode()&0o111 == 0 {
		return exe, nil
	}
	return abs, nil
}

// EnvDaemonized marks the copy that Daemonize started, so that it does not
// daemonize again.
const EnvDaemonized = "GOSGI_DAEMONIZED"

// Daemonize starts binary again with args in a new session, stdin on
// /dev/null and stdout and stderr appended to logPath (uWSGI's daemonize,
// OP-30); the caller then exits.
func Daemonize(binary string, args []string, logPath string) error {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("open(\"%s\"): %w", logPath, err)
	}
	defer logf.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer null.Close()
	_, err = syscall.ForkExec(binary, args, &syscall.ProcAttr{
		Env:   append(os.Environ(), EnvDaemonized+"=1"),
		Files: []uintptr{null.Fd(), logf.Fd(), logf.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return fmt.Errorf("daemonize: %w", err)
	}
	return nil
}
