package privs

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// capNames are the Linux capability names `cap` and `emperor-cap` accept
// (T-18, OP-81): the
// CAP_* constants lower-cased without the prefix.
var capNames = []string{
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill",
	"setgid", "setuid", "setpcap", "linux_immutable", "net_bind_service",
	"net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
	"sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
	"sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time",
	"sys_tty_config", "mknod", "lease", "audit_write", "audit_control",
	"setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm",
	"block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
}

// ParseCaps turns cap names or numbers into capability numbers.
func ParseCaps(list []string) ([]int, error) {
	var out []int
	for _, c := range list {
		c = strings.ToLower(strings.TrimSpace(c))
		c = strings.TrimPrefix(c, "cap_")
		if n, err := strconv.Atoi(c); err == nil && n >= 0 && n < 64 {
			out = append(out, n)
			continue
		}
		found := false
		for i, name := range capNames {
			if name == c {
				out, found = append(out, i), true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown capability %q", c)
		}
	}
	return out, nil
}

// CapName is capability c's name as `cap` spells it, or its number.
func CapName(c int) string {
	if c >= 0 && c < len(capNames) {
		return capNames[c]
	}
	return strconv.Itoa(c)
}

// capMask is the two 32-bit capability words of a set.
func capMask(caps []int) [2]uint32 {
	var m [2]uint32
	for _, c := range caps {
		m[c/32] |= 1 << (c % 32)
	}
	return m
}

// DropKeepingCaps switches the calling OS thread to uid/gid/groups while
// keeping caps in its permitted, effective, inheritable and ambient sets,
// so that an execve from this thread starts the new image unprivileged
// but still holding caps (uWSGI's `cap` with uid/gid, T-18). Credentials
// are per thread at the kernel level: the caller must have locked the
// goroutine to its thread and must exec right after; the rest of the
// process is still root until then.
func DropKeepingCaps(uid, gid int, groups []int, caps []int) error {
	if _, _, e := unix.RawSyscall(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0); e != 0 {
		return fmt.Errorf("prctl(PR_SET_KEEPCAPS): %w", e)
	}
	g := make([]uint32, len(groups))
	for i, v := range groups {
		g[i] = uint32(v)
	}
	var gp uintptr
	if len(g) > 0 {
		gp = uintptr(unsafePointer(&g[0]))
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(g)), gp, 0); e != 0 {
		return fmt.Errorf("setgroups(): %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)); e != 0 {
		return fmt.Errorf("setgid(): %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
		return fmt.Errorf("setuid(): %w", e)
	}
	if err := setCaps(caps); err != nil {
		return err
	}
	for _, c := range caps {
		if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0, 0); e != 0 {
			return fmt.Errorf("prctl(PR_CAP_AMBIENT_RAISE, %d): %w", c, e)
		}
	}
	return nil
}

// Spawner runs process starts on one locked OS thread. Forks copy the
// credentials of the calling thread only, so the thread decides what
// children start with: a capped emperor (cap = setgid,setuid) clears its
// ambient set there, or those capabilities would follow every vassal
// across execve; a capped master (cap with uid) keeps its capabilities on
// that thread alone through the privilege drop (see KeepCaps).
type Spawner struct {
	jobs chan func()
}

// NewSpawner starts the spawner thread. keep, if not nil, limits the
// capability bounding set of that thread, and so of every vassal, to
// those capabilities plus CAP_SETPCAP (emperor-cap, T-19); the emperor's
// other threads keep theirs.
func NewSpawner(keep []int) (*Spawner, error) {
	s := &Spawner{jobs: make(chan func())}
	ready := make(chan error)
	go func() {
		// Never unlocked: the thread's credentials differ from the
		// others', so it must die with the goroutine, not be reused.
		runtime.LockOSThread()
		unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0)
		if keep != nil {
			if err := limitBounding(keep); err != nil {
				ready <- err
				return
			}
		}
		close(ready)
		for f := range s.jobs {
			f()
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return s, nil
}

// limitBounding drops every capability not in keep (CAP_SETPCAP is
// kept) from the calling thread's bounding set.
func limitBounding(keep []int) error {
	for c := 0; c < 64; c++ {
		if c == unix.CAP_SETPCAP || slices.Contains(keep, c) {
			continue
		}
		// Is c known to this kernel?
		if _, _, e := unix.RawSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_READ, uintptr(c), 0); e != 0 {
			break
		}
		if _, _, e := unix.RawSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); e != 0 {
			return fmt.Errorf("prctl(PR_CAPBSET_DROP, %d): %w", c, e)
		}
	}
	return nil
}

// Close ends the spawner; its thread exits with it (a locked goroutine
// that returns takes its thread down), so no thread with altered
// credentials is ever reused.
func (s *Spawner) Close() { close(s.jobs) }

// Do runs f on the spawner thread and waits for it.
func (s *Spawner) Do(f func()) {
	done := make(chan struct{})
	s.jobs <- func() { f(); close(done) }
	<-done
}

// KeepCaps runs drop, a process-wide change of user (Drop: glibc applies
// setuid to every thread), while the spawner thread keeps caps through it
// (PR_SET_KEEPCAPS), then makes caps that thread's permitted, effective
// and inheritable sets, as uWSGI's master has them after `cap` with
// `uid` (OP-81). The other threads end up without capabilities. What
// runs on the thread afterwards (Do) can bind privileged ports; children
// it starts with AmbientCaps = caps keep them across execve.
func (s *Spawner) KeepCaps(caps []int, drop func() error) error {
	var err error
	s.Do(func() {
		if _, _, e := unix.RawSyscall(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0); e != 0 {
			err = fmt.Errorf("prctl(PR_SET_KEEPCAPS): %w", e)
		}
	})
	if err != nil {
		return err
	}
	if err := drop(); err != nil {
		return err
	}
	s.Do(func() { err = setCaps(caps) })
	return err
}

// setCaps makes caps the calling thread's permitted, effective and
// inheritable sets.
func setCaps(caps []int) error {
	m := capMask(caps)
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: m[0], Permitted: m[0], Inheritable: m[0]},
		{Effective: m[1], Permitted: m[1], Inheritable: m[1]},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset(): %w", err)
	}
	return nil
}

// LockThread locks the calling goroutine to its OS thread for good (see
// DropKeepingCaps).
func LockThread() { runtime.LockOSThread() }
