package sockets

import (
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// EnvSockets carries listening sockets across a re-exec of the master
// (reload, PM-20). Its value is a comma-separated list of
// "fd:index:proto:network:flags:name" entries, name query-escaped; flags
// holds 's' for a shared socket and 'c' when this instance created the
// UNIX socket file (so it may vacuum it). Encode builds it.
const EnvSockets = "GOSGI_SOCKETS"

// SystemdVars are the variables of systemd socket activation (PM-66); the
// caller unsets them once Inherit reports Systemd, so children do not
// inherit them.
var SystemdVars = []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"}

// Encode returns the EnvSockets value for ls, using each Listener's FD as
// the number the next program will see: keep the fds across exec with
// SetInheritable(true), or pass copies whose FD is the child's number.
func Encode(ls []*Listener) string {
	var b strings.Builder
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		flags := ""
		if l.Shared {
			flags += "s"
		}
		if l.created {
			flags += "c"
		}
		fmt.Fprintf(&b, "%d:%d:%s:%s:%s:%s", l.FD, l.Index, l.Proto, l.Network, flags, url.QueryEscape(l.Name))
	}
	return b.String()
}

// InheritOptions are the inputs of Inherit.
type InheritOptions struct {
	Environ  []string // the process environment, usually os.Environ()
	Pid      int      // this process's pid for LISTEN_PID; 0 means os.Getpid()
	SkipZero bool     // skip-zero: never take fd 0 as a socket
	// Log receives the "inherited" lines (PM-66); nil discards them.
	Log func(format string, args ...any)
}

// Inherited is what Inherit found.
type Inherited struct {
	Listeners []*Listener
	// Systemd is true when systemd socket activation was detected: unset
	// SystemdVars.
	Systemd bool
}

// Inherit collects the listening sockets this process received (PM-66):
// first those named in EnvSockets (a re-exec keeps index, protocol and
// configured name), then systemd's fds 3..3+LISTEN_FDS-1 when LISTEN_PID
// is this process, then fd 0 when it is a listening socket (unless
// SkipZero). Sockets from systemd and fd 0 are named by their address;
// Match pairs them with configured names. Inherited fds are made
// close-on-exec: the master passes them on explicitly.
func Inherit(o *InheritOptions) (*Inherited, error) {
	env := map[string]string{}
	for _, kv := range o.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	logf := func(format string, args ...any) {
		if o.Log != nil {
			o.Log(format, args...)
		}
	}
	res := &Inherited{}
	seen := map[int]bool{}
	next := 0
	verb := "inherited" // across a re-exec; systemd's are "attached to" (S-30)
	add := func(l *Listener) {
		l.Inherited = true
		l.log = o.Log
		seen[l.FD] = true
		res.Listeners = append(res.Listeners, l)
		if l.Index >= next {
			next = l.Index + 1
		}
		// uWSGI says INET for IPv6 too (and then prints only ":port";
		// gosgi prints the whole address).
		family := "INET"
		if l.Network == "unix" || l.Network == "abstract" {
			family = "UNIX"
		}
		logf("uwsgi %ssocket %d %s %s address %s fd %d", l.sharedWord(), l.Index, verb, family, l.Addr, l.FD)
	}

	if v := env[EnvSockets]; v != "" {
		for _, entry := range strings.Split(v, ",") {
			l, err := decodeEntry(entry)
			if err != nil {
				return nil, fmt.Errorf("%s entry %q: %w", EnvSockets, entry, err)
			}
			if err := adopt(l); err != nil {
				return nil, fmt.Errorf("%s entry %q: %w", EnvSockets, entry, err)
			}
			add(l)
		}
	}

	pid := o.Pid
	if pid == 0 {
		pid = os.Getpid()
	}
	if lp, ok := env["LISTEN_PID"]; ok && lp == strconv.Itoa(pid) {
		n, err := strconv.Atoi(env["LISTEN_FDS"])
		if err != nil || n < 0 {
			return nil, fmt.Errorf("systemd socket activation: invalid LISTEN_FDS %q", env["LISTEN_FDS"])
		}
		res.Systemd = true
		verb = "attached to"
		logf("- SystemD socket activation detected -")
		for fd := 3; fd < 3+n; fd++ {
			if seen[fd] {
				continue
			}
			l := &Listener{Index: next, FD: fd}
			if err := adopt(l); err != nil {
				logf("systemd fd %d skipped: %v", fd, err)
				continue
			}
			l.Name = l.Addr
			add(l)
		}
	}

	if !o.SkipZero && !seen[0] {
		l := &Listener{Index: next, FD: 0}
		if err := adopt(l); err == nil {
			l.Name = l.Addr
			add(l)
		}
	}
	return res, nil
}

func decodeEntry(entry string) (*Listener, error) {
	f := strings.SplitN(entry, ":", 6)
	if len(f) != 6 {
		return nil, fmt.Errorf("want fd:index:proto:network:flags:name")
	}
	fd, err := strconv.Atoi(f[0])
	if err != nil || fd < 0 {
		return nil, fmt.Errorf("bad fd %q", f[0])
	}
	index, err := strconv.Atoi(f[1])
	if err != nil || index < 0 {
		return nil, fmt.Errorf("bad index %q", f[1])
	}
	name, err := url.QueryUnescape(f[5])
	if err != nil {
		return nil, fmt.Errorf("bad name: %w", err)
	}
	l := &Listener{FD: fd, Index: index, Proto: f[2], Network: f[3], Name: name,
		Shared: strings.Contains(f[4], "s"), created: strings.Contains(f[4], "c")}
	return l, nil
}

// adopt checks that l.FD is a listening stream socket, fills Network (when
// unknown) and Addr from it, records the file identity of a UNIX socket
// this instance created, and sets close-on-exec.
func adopt(l *Listener) error {
	var st unix.Stat_t
	if err := unix.Fstat(l.FD, &st); err != nil {
		return fmt.Errorf("fd %d: %w", l.FD, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fmt.Errorf("fd %d is not a socket", l.FD)
	}
	if v, err := unix.GetsockoptInt(l.FD, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
		return fmt.Errorf("fd %d is not a listening socket", l.FD)
	}
	sa, err := unix.Getsockname(l.FD)
	if err != nil {
		return fmt.Errorf("getsockname fd %d: %w", l.FD, err)
	}
	l.Addr = formatSockaddr(sa)
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		l.Network = "tcp"
	case *unix.SockaddrInet6:
		l.Network = "tcp6"
	case *unix.SockaddrUnix:
		if strings.HasPrefix(sa.Name, "@") {
			l.Network = "abstract"
		} else {
			l.Network = "unix"
		}
	default:
		return fmt.Errorf("fd %d: unsupported socket family", l.FD)
	}
	if l.created && l.Network == "unix" {
		var fst unix.Stat_t
		if err := unix.Stat(l.Addr, &fst); err == nil {
			l.dev, l.ino = fst.Dev, fst.Ino
		} else {
			l.created = false
		}
	} else {
		l.created = false
	}
	if _, err := unix.FcntlInt(uintptr(l.FD), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		return fmt.Errorf("fcntl fd %d: %w", l.FD, err)
	}
	return nil
}

// Match returns the inherited listener that serves the configured name, by
// name first and then by address (":9090" matches 0.0.0.0:9090), or nil.
func Match(ls []*Listener, name string) *Listener {
	for _, l := range ls {
		if l.Name == name {
			return l
		}
	}
	a, err := parseName(name, false)
	if err != nil {
		return nil
	}
	want := ""
	switch a.network {
	case "unix":
		want = a.path
	case "abstract":
		want = "@" + a.path
	default:
		ip, err := a.resolve()
		if err != nil {
			return nil
		}
		want = netip.AddrPortFrom(ip, uint16(a.port)).String()
	}
	for _, l := range ls {
		if l.Addr == want {
			return l
		}
	}
	return nil
}
