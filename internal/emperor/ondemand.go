package emperor

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// OnDemandSocket is the socket an on-demand vassal waits on (T-20), ""
// when the vassal is an ordinary one:
//   - emperor-on-demand-extension EXT: the content of the file NAME+EXT;
//   - emperor-on-demand-directory DIR: DIR/<name without extension>.socket;
//   - emperor-on-demand-exec CMD: the output of CMD NAME.
func (s *Settings) OnDemandSocket(f File) (string, error) {
	switch {
	case s.OnDemandExt != "":
		b, err := os.ReadFile(f.Path + s.OnDemandExt)
		if os.IsNotExist(err) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	case s.OnDemandDir != "":
		base := filepath.Base(f.Name)
		i := strings.LastIndexByte(base, '.')
		if i <= 0 {
			return "", nil
		}
		return filepath.Join(s.OnDemandDir, base[:i]+".socket"), nil
	case s.OnDemandExec != "":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, s.OnDemandExec, f.Name)
		cmd.Dir = f.Dir
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", s.OnDemandExec, f.Name, err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	return "", nil
}

// listenOnDemand binds the vassal's unix socket; the emperor keeps it
// across the vassal's lifetimes.
func (e *Emperor) listenOnDemand(v *vassal, path string) error {
	os.Remove(path) // a stale socket of a previous run
	l, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("bind on demand socket: %w", err)
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	f, err := ul.File() // a dup the vassal can inherit as fd 0
	l.Close()
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("on demand socket %s: %w", path, err)
	}
	// As uWSGI leaves it: whoever may reach the directory may connect.
	os.Chmod(path, 0o666)
	v.listener, v.sockPath, v.waiting = f, path, true
	return nil
}

// waitOnDemand watches the socket for a first pending connection and
// then posts an evOnDemand event.
func (e *Emperor) waitOnDemand(v *vassal) {
	done := make(chan struct{})
	v.odDone = done
	fd := int32(v.listener.Fd())
	go func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			fds := []unix.PollFd{{Fd: fd, Events: unix.POLLIN}}
			n, err := unix.Poll(fds, 200)
			if err != nil && err != unix.EINTR {
				return
			}
			if n > 0 {
				select {
				case e.events <- event{kind: evOnDemand, v: v}:
				case <-done:
				case <-e.quit:
				}
				return
			}
		}
	}()
}

// onDemandConnection starts a waiting vassal on its first connection,
// unless it is throttled after failures.
func (e *Emperor) onDemandConnection(v *vassal) {
	if !v.waiting || e.ragnarok {
		return
	}
	if bl := e.blacklist[v.name]; bl != nil && !e.NoBlacklist {
		if wait := time.Until(bl.last.Add(bl.level)); wait > 0 {
			done := v.odDone
			go func() {
				select {
				case <-time.After(wait):
					e.post(event{kind: evOnDemand, v: v})
				case <-done:
				}
			}()
			return
		}
	}
	if v.odDone != nil {
		close(v.odDone)
		v.odDone = nil
	}
	if !e.start(v) {
		e.remove(v)
	}
}

// backToOnDemand returns an on-demand vassal whose process ended to
// waiting for connections.
func (e *Emperor) backToOnDemand(v *vassal) {
	v.pid, v.cmd, v.conn = -1, nil, nil
	v.waiting, v.stopping, v.back, v.killed = true, false, false, false
	v.ready, v.accepting = false, false
	e.Log.Printf("[uwsgi-emperor] %s -> back to \"on demand\" mode, waiting for connections on socket \"%s\" ...", v.name, v.sockPath)
	e.waitOnDemand(v)
}
