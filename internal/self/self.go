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
