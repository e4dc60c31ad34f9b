// Package chroot runs gosgi's .deb through a real Debian system: it
// debootstraps a minimal bookworm root from the host's apt mirror, installs
// the package in it with apt, and drives the apps through service(8),
// nginx and curl as an administrator would (spec: distro-layout §1-6).
//
// It only builds and enters chroots: no containers, no network
// namespaces, so everything started inside binds loopback or unix
// sockets only. It never deletes a root that still has a file system
// mounted below it (a bind-mounted /dev is the host's).
package chroot

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Root is a Debian root directory on the host.
type Root struct {
	// Dir is the root's path on the host.
	Dir string
	// Timeout bounds each command run inside (zero: 3 minutes).
	Timeout time.Duration

	mounts []string // mounted by Mount, innermost last
}

// Bootstrap creates a minbase root of suite in dir with debootstrap,
// fetching from mirror, with the extra packages of include. cacheDir
// (optional) keeps the downloaded .debs between runs.
func Bootstrap(ctx context.Context, dir, suite, mirror, cacheDir string, include []string) (*Root, error) {
	args := []string{"--variant=minbase"}
	if len(include) > 0 {
		args = append(args, "--include="+strings.Join(include, ","))
	}
	if cacheDir != "" {
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("debootstrap cache %s: %w", cacheDir, err)
		}
		args = append(args, "--cache-dir="+cacheDir)
	}
	args = append(args, suite, dir, mirror)
	cmd := exec.CommandContext(ctx, "debootstrap", args...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("debootstrap %s from %s: %w\n%s", suite, mirror, err, tail(out, 40))
	}
	return &Root{Dir: dir}, nil
}

// Clone copies the root to dir (which must not exist), keeping owners,
// modes and links. The clone has no mounts.
func (r *Root) Clone(dir string) (*Root, error) {
	if len(r.mounts) > 0 {
		return nil, fmt.Errorf("clone %s: unmount it first", r.Dir)
	}
	out, err := exec.Command("cp", "-a", r.Dir, dir).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("clone %s to %s: %w: %s", r.Dir, dir, err, out)
	}
	return &Root{Dir: dir, Timeout: r.Timeout}, nil
}

// Mount mounts /proc and binds the host's /dev and /dev/pts, which
// service(8), start-stop-daemon, apt and nginx need.
func (r *Root) Mount() error {
	steps := []struct {
		src, dst, fstype string
		flags            uintptr
	}{
		{"proc", "proc", "proc", 0},
		{"/dev", "dev", "", unix.MS_BIND},
		{"/dev/pts", "dev/pts", "", unix.MS_BIND},
	}
	for _, s := range steps {
		dst := filepath.Join(r.Dir, s.dst)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return fmt.Errorf("mount %s: %w", dst, err)
		}
		if err := unix.Mount(s.src, dst, s.fstype, s.flags, ""); err != nil {
			return fmt.Errorf("mount %s on %s: %w", s.src, dst, err)
		}
		r.mounts = append(r.mounts, dst)
	}
	return nil
}

// Processes lists the pids whose root directory is this root.
func (r *Root) Processes() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); err == nil && root == r.Dir {
			pids = append(pids, pid)
		}
	}
	return pids
}

// KillAll sends SIGKILL to every process running inside the root (apps,
// nginx, an emperor) and waits up to 10 s for them to go.
func (r *Root) KillAll() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := r.Processes()
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes still running in %s: %v", r.Dir, pids)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Unmount undoes Mount, innermost first; a busy mount is retried, then
// detached. It then checks that nothing is mounted below the root.
func (r *Root) Unmount() error {
	var errs []error
	for i := len(r.mounts) - 1; i >= 0; i-- {
		m := r.mounts[i]
		err := unix.Unmount(m, 0)
		for try := 0; errors.Is(err, unix.EBUSY) && try < 20; try++ {
			time.Sleep(100 * time.Millisecond)
			err = unix.Unmount(m, 0)
		}
		if errors.Is(err, unix.EBUSY) {
			err = unix.Unmount(m, unix.MNT_DETACH)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
		}
	}
	r.mounts = nil
	if left, err := MountsBelow(r.Dir); err != nil || len(left) > 0 {
		errs = append(errs, fmt.Errorf("still mounted below %s: %v %v", r.Dir, left, err))
	}
	return errors.Join(errs...)
}

// Remove deletes the root, refusing while anything is mounted below it.
func (r *Root) Remove() error {
	left, err := MountsBelow(r.Dir)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("not removing %s: %v still mounted", r.Dir, left)
	}
	if err := os.RemoveAll(r.Dir); err != nil {
		return fmt.Errorf("remove %s: %w", r.Dir, err)
	}
	return nil
}

// MountsBelow lists the mount points at or below dir, from
// /proc/self/mountinfo.
func MountsBelow(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// env is the environment of commands inside: what service(8) leaves an
// init script, plus a non-interactive debconf.
var env = []string{
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	"LANG=C.UTF-8",
	"TERM=dumb",
	"DEBIAN_FRONTEND=noninteractive",
}

// Sh runs a shell script inside the root and returns its combined
// output. stdin, if not nil, is the script's standard input.
func (r *Root) Sh(script string, stdin []byte) (string, error) {
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := append([]string{r.Dir, "/usr/bin/env", "-i"}, env...)
	args = append(args, "/bin/sh", "-c", script)
	cmd := exec.CommandContext(ctx, "chroot", args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	// Daemons started inside keep no pipe of ours open: they close or
	// redirect their output, and WaitDelay bounds a stray one.
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("in %s: %q timed out after %s", r.Dir, script, timeout)
	}
	if err != nil {
		return string(out), fmt.Errorf("in %s: %q: %w", r.Dir, script, err)
	}
	return string(out), nil
}

// WriteFile writes a file inside the root. It writes through the root's
// own shell, so an absolute symlink in the root (nginx's sites-enabled/
// default) resolves inside it and never to the host's file.
func (r *Root) WriteFile(path, content string, mode os.FileMode) error {
	script := fmt.Sprintf(`mkdir -p "$(dirname '%[1]s')" && cat > '%[1]s' && chmod %[2]o '%[1]s'`, path, mode)
	if out, err := r.Sh(script, []byte(content)); err != nil {
		return fmt.Errorf("write %s: %w: %s", path, err, out)
	}
	return nil
}

// CopyIn copies a host file into the root's /tmp and returns its path
// inside.
func (r *Root) CopyIn(hostPath string) (string, error) {
	data, err := os.ReadFile(hostPath)
	if err != nil {
		return "", fmt.Errorf("copy in %s: %w", hostPath, err)
	}
	inside := "/tmp/" + filepath.Base(hostPath)
	if err := os.WriteFile(filepath.Join(r.Dir, "tmp", filepath.Base(hostPath)), data, 0o644); err != nil {
		return "", fmt.Errorf("copy in %s: %w", hostPath, err)
	}
	return inside, nil
}

func tail(b []byte, lines int) string {
	s := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(s) > lines {
		s = s[len(s)-lines:]
	}
	return strings.Join(s, "\n")
}
