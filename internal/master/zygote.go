package master

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// zygote is the C process that holds the imported app and forks workers.
type zygote struct {
	pid    int
	ctl    *os.File
	rd     *bufio.Reader
	mounts []string // mountpoints of the apps it imported (none with lazy-apps)
}

// zygoteFiles are the descriptors a zygote inherits besides stdio.
type zygoteFiles struct {
	sockets []int // kept at their own numbers: workers use them as given
	boot    int
	board   int
}

// startZygote execs this binary in zygote mode and waits until it has
// imported the app (or exits trying).
func (m *Master) startZygote(env []string, files zygoteFiles) (*zygote, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("zygote: socketpair: %w", err)
	}
	top := 2
	for _, fd := range files.sockets {
		if fd > top {
			top = fd
		}
	}
	bootFD, ctlFD, boardFD := top+1, top+2, top+3
	fds := make([]uintptr, boardFD+1)
	for i := range fds {
		fds[i] = ^uintptr(0) // closed in the child
	}
	fds[0], fds[1], fds[2] = 0, 1, 2
	for _, fd := range files.sockets {
		fds[fd] = uintptr(fd)
	}
	fds[bootFD] = uintptr(files.boot)
	fds[ctlFD] = uintptr(pair[1])
	fds[boardFD] = uintptr(files.board)
	env = append(env,
		"GOSGI_ROLE=zygote",
		"GOSGI_BOOT_FD="+strconv.Itoa(bootFD),
		"GOSGI_CTL_FD="+strconv.Itoa(ctlFD),
		"GOSGI_MASTER_PID="+strconv.Itoa(m.pid),
	)
	pid, err := m.forkExecCapped(m.binary, m.argv, &syscall.ProcAttr{Env: env, Files: fds})
	unix.Close(pair[1])
	if err != nil {
		unix.Close(pair[0])
		return nil, fmt.Errorf("zygote: exec %s: %w", m.binary, err)
	}
	z := &zygote{pid: pid, ctl: os.NewFile(uintptr(pair[0]), "zygote-ctl")}
	z.rd = bufio.NewReader(z.ctl)
	line, err := z.rd.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "R") {
		// The zygote died while importing: its exit status says why.
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
		z.ctl.Close()
		return nil, &zygoteExit{status: ws}
	}
	if f := strings.Split(strings.TrimSuffix(line, "\n"), "\t"); len(f) > 1 {
		z.mounts = f[1:]
	}
	return z, nil
}

// zygoteExit is a zygote that ended before it was ready.
type zygoteExit struct{ status unix.WaitStatus }

func (e *zygoteExit) Error() string {
	if e.status.Signaled() {
		return fmt.Sprintf("python runtime killed by signal %d while loading", e.status.Signal())
	}
	return fmt.Sprintf("python runtime exited with code %d while loading", e.status.ExitStatus())
}

func (e *zygoteExit) code() int {
	if e.status.Exited() && e.status.ExitStatus() != 0 {
		return e.status.ExitStatus()
	}
	return 1
}

// fork asks the zygote for worker id and returns its pid. Workers are
// re-parented to the master, which is a child subreaper.
func (z *zygote) fork(id int) (int, error) { return z.forkRole(id, "w") }

// forkRole forks a process of a role: "w" worker, "m" mule, "s" spooler.
func (z *zygote) forkRole(id int, role string) (int, error) {
	if _, err := fmt.Fprintf(z.ctl, "F %d %s\n", id, role); err != nil {
		return 0, fmt.Errorf("zygote: %w", err)
	}
	line, err := z.rd.ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("zygote: %w", err)
	}
	f := strings.Fields(line)
	if len(f) != 3 {
		return 0, fmt.Errorf("zygote: unexpected reply %q", line)
	}
	n, _ := strconv.Atoi(f[2])
	if f[0] == "E" {
		return 0, fmt.Errorf("fork(): %w", unix.Errno(n))
	}
	return n, nil
}

func (z *zygote) close() {
	if z != nil && z.ctl != nil {
		z.ctl.Close()
		z.ctl = nil
	}
}
