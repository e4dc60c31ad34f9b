package sockets

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultBacklog is the default of the listen option (OP-8).
const DefaultBacklog = 100

// Listener is one listening socket.
type Listener struct {
	Index   int    // socket number in declaration order (PM-65)
	Name    string // address as configured
	Proto   string // "uwsgi", "http", "http11", "https" or "router"
	Network string // "tcp", "tcp6", "unix" or "abstract"
	Addr    string // resolved address: "127.0.0.1:9101", "[::]:80", "/run/app.sock", "@name"
	FD      int
	// Inherited is set for sockets received across a re-exec, from
	// systemd or on fd 0; Shared for shared-socket entries.
	Inherited, Shared bool

	// created: this instance made the UNIX socket file; dev and ino
	// identify it for Vacuum.
	created  bool
	dev, ino uint64
	log      func(format string, args ...any)
}

// Options apply to every socket an instance binds.
type Options struct {
	// Backlog is the listen(2) queue (OP-8); 0 means 100. A value above
	// /proc/sys/net/core/somaxconn is an error with uWSGI's text.
	Backlog int
	// Chmod is chmod-socket for UNIX sockets (OP-9, PM-62): "" leaves the
	// umask's mode, "1" means 666, else three octal digits ("660").
	Chmod string
	// Chown is chown-socket, "user[:group]" (OP-10); names or numbers. A
	// missing group leaves the group unchanged.
	Chown string
	// Abstract puts UNIX paths in the abstract namespace (OP-12).
	Abstract bool
	// ReusePort sets SO_REUSEPORT on TCP sockets (OP-13).
	ReusePort bool
	// NoDeferAccept disables TCP_DEFER_ACCEPT (PM-64).
	NoDeferAccept bool
	// SocketTimeout is the TCP_DEFER_ACCEPT delay, as uWSGI uses its
	// socket-timeout for it; 0 means the default 4 s.
	SocketTimeout time.Duration
	// RecvTimeout and SendTimeout set SO_RCVTIMEO/SO_SNDTIMEO on the
	// listener; on Linux accepted sockets inherit them, and a blocking
	// accept wakes up after RecvTimeout.
	RecvTimeout, SendTimeout time.Duration
	// Shared marks a shared-socket (PM-63): the log line says
	// "uwsgi shared socket N".
	Shared bool
	// Log receives the bind lines (PM-63, PM-65); nil discards them.
	Log func(format string, args ...any)
}

// ErrNotSocket is returned when a UNIX socket path names an existing file
// that is not a socket. uWSGI unlinks whatever is there; gosgi refuses to
// delete a regular file named by a typo.
var ErrNotSocket = errors.New("exists and is not a socket")

// Somaxconn reads net.core.somaxconn (4096 when unreadable, the kernel
// default).
func Somaxconn() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		return 4096
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 4096
	}
	return n
}

// CheckBacklog returns uWSGI's error when backlog exceeds somaxconn (OP-8).
func CheckBacklog(backlog int) error {
	if max := Somaxconn(); backlog > max {
		return fmt.Errorf("Listen queue size is greater than the system max net.core.somaxconn (%d).", max)
	}
	return nil
}

// address is a parsed socket name.
type address struct {
	network string // tcp, tcp6, unix, abstract
	host    string // tcp: host part as written ("" for ":port")
	port    int
	path    string // unix: path; abstract: name without '@'
}

// parseName splits a configured name into its form (PM-64).
func parseName(name string, abstract bool) (address, error) {
	switch {
	case name == "":
		return address{}, errors.New("empty socket address")
	case name[0] == '=':
		return address{}, fmt.Errorf("shared socket reference %q must be resolved before binding", name)
	case name[0] == '@':
		return address{network: "abstract", path: name[1:]}, nil
	case !strings.Contains(name, ":"):
		if abstract {
			return address{network: "abstract", path: name}, nil
		}
		return address{network: "unix", path: name}, nil
	}
	i := strings.LastIndexByte(name, ':')
	host, portStr := name[:i], name[i+1:]
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 || portStr[0] == '+' || portStr[0] == '-' {
		return address{}, fmt.Errorf("invalid port %q", portStr)
	}
	a := address{network: "tcp", host: host, port: port}
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return address{}, fmt.Errorf("invalid IPv6 address %q", host)
		}
		a.host = host[1 : len(host)-1]
		a.network = "tcp6"
	}
	if host == "*" {
		return address{}, errors.New("'*:port' must be expanded with Expand first")
	}
	return a, nil
}

// resolve returns the IP to bind for a TCP address. Names resolve to IPv4
// first, as uWSGI's gethostbyname does.
func (a address) resolve() (netip.Addr, error) {
	if a.host == "" {
		return netip.IPv4Unspecified(), nil
	}
	if ip, err := netip.ParseAddr(a.host); err == nil {
		if a.network == "tcp" && ip.Is6() && !ip.Is4In6() {
			return netip.Addr{}, fmt.Errorf("IPv6 address %s must be written in brackets", a.host)
		}
		return ip.Unmap(), nil
	}
	if a.network == "tcp6" {
		return netip.Addr{}, fmt.Errorf("invalid IPv6 address %q", a.host)
	}
	ips, err := net.LookupIP(a.host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolve %s: %w", a.host, err)
	}
	for _, ip := range ips {
		if v4 := ip.To4(); v4 != nil {
			return netip.AddrFrom4([4]byte(v4)), nil
		}
	}
	if len(ips) > 0 {
		ip, _ := netip.AddrFromSlice(ips[0])
		return ip, nil
	}
	return netip.Addr{}, fmt.Errorf("resolve %s: no address", a.host)
}

// Bind creates the listening socket number index for the configured name
// (PM-64): "host:port", ":port", "[v6]:port", "/path" (a stale socket file
// is removed first), "@name" (abstract). Port 0 picks a free port. It logs
// uWSGI's bind line through o.Log.
func Bind(index int, name, proto string, o *Options) (*Listener, error) {
	if o == nil {
		o = &Options{}
	}
	backlog := o.Backlog
	if backlog <= 0 {
		backlog = DefaultBacklog
	}
	if err := CheckBacklog(backlog); err != nil {
		return nil, err
	}
	a, err := parseName(name, o.Abstract)
	if err != nil {
		return nil, fmt.Errorf("socket %s: %w", name, err)
	}
	l := &Listener{Index: index, Name: name, Proto: proto, Network: a.network, Shared: o.Shared, log: o.Log}
	if a.network == "tcp" || a.network == "tcp6" {
		err = l.bindTCP(a, backlog, o)
	} else {
		err = l.bindUnix(a, backlog, o)
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Listener) bindTCP(a address, backlog int, o *Options) error {
	ip, err := a.resolve()
	if err != nil {
		return fmt.Errorf("socket %s: %w", l.Name, err)
	}
	var sa unix.Sockaddr
	family := unix.AF_INET
	if ip.Is4() {
		sa = &unix.SockaddrInet4{Port: a.port, Addr: ip.As4()}
		l.Network = "tcp"
	} else {
		family = unix.AF_INET6
		sa6 := &unix.SockaddrInet6{Port: a.port, Addr: ip.As16()}
		if z := ip.Zone(); z != "" {
			ifi, err := net.InterfaceByName(z)
			if err != nil {
				return fmt.Errorf("socket %s: zone %s: %w", l.Name, z, err)
			}
			sa6.ZoneId = uint32(ifi.Index)
		}
		sa = sa6
		l.Network = "tcp6"
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket %s: %w", l.Name, err)
	}
	fail := func(what string, err error) error {
		unix.Close(fd)
		return fmt.Errorf("%s %s: %w", what, l.Name, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("setsockopt SO_REUSEADDR", err)
	}
	if o.ReusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return fail("setsockopt SO_REUSEPORT", err)
		}
	}
	if !o.NoDeferAccept {
		secs := int(o.SocketTimeout / time.Second)
		if secs <= 0 {
			secs = 4
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, secs); err != nil {
			return fail("setsockopt TCP_DEFER_ACCEPT", err)
		}
	}
	if err := setTimeouts(fd, o); err != nil {
		return fail("setsockopt", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return fail("listen", err)
	}
	l.FD = fd
	bound, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	l.Addr = formatSockaddr(bound)
	shown := l.Name
	auto := ""
	if a.port == 0 {
		shown = l.Name[:strings.LastIndexByte(l.Name, ':')+1] + strconv.Itoa(sockPort(bound))
		auto = " (port auto-assigned)"
	}
	l.logf("uwsgi %ssocket %d bound to TCP address %s%s fd %d", l.sharedWord(), l.Index, shown, auto, fd)
	return nil
}

func (l *Listener) bindUnix(a address, backlog int, o *Options) error {
	name := a.path
	if a.network == "abstract" {
		name = "@" + a.path
		l.logf("setting abstract socket mode (warning: only Linux supports this)")
	} else if err := removeStale(a.path); err != nil {
		return fmt.Errorf("socket %s: %w", l.Name, err)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket %s: %w", l.Name, err)
	}
	fail := func(what string, err error) error {
		unix.Close(fd)
		return fmt.Errorf("%s %s: %w", what, l.Name, err)
	}
	if err := setTimeouts(fd, o); err != nil {
		return fail("setsockopt", err)
	}
	// x/sys/unix turns a leading '@' into the abstract namespace's NUL.
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: name}); err != nil {
		return fail("bind", err)
	}
	l.FD = fd
	l.Addr = name
	if a.network == "unix" {
		l.created = true
		if err := applyOwnership(a.path, o); err != nil {
			unix.Unlink(a.path)
			return fail("socket permissions", err)
		}
		var st unix.Stat_t
		if err := unix.Stat(a.path, &st); err != nil {
			return fail("stat", err)
		}
		l.dev, l.ino = st.Dev, st.Ino
	}
	if err := unix.Listen(fd, backlog); err != nil {
		if a.network == "unix" {
			unix.Unlink(a.path)
		}
		return fail("listen", err)
	}
	l.logf("uwsgi %ssocket %d bound to UNIX address %s fd %d", l.sharedWord(), l.Index, name, fd)
	return nil
}

// removeStale unlinks an existing socket file at path (PM-64).
func removeStale(path string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("lstat %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fmt.Errorf("%s %w", path, ErrNotSocket)
	}
	if err := unix.Unlink(path); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unlink %s: %w", path, err)
	}
	return nil
}

// ParseChmod turns a chmod-socket value into a mode (OP-9): "1" is 0666,
// otherwise three octal digits.
func ParseChmod(s string) (uint32, error) {
	if s == "1" {
		return 0o666, nil
	}
	if len(s) != 3 {
		return 0, fmt.Errorf("invalid chmod-socket value %q (want 3 octal digits)", s)
	}
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid chmod-socket value %q (want 3 octal digits)", s)
	}
	return uint32(m), nil
}

// ParseChown resolves a chown-socket value "user[:group]" (OP-10) to ids;
// gid is -1 when no group is given.
func ParseChown(s string) (uid, gid int, err error) {
	uname, gname, hasGroup := strings.Cut(s, ":")
	uid, err = lookupID(uname, false)
	if err != nil {
		return 0, 0, err
	}
	gid = -1
	if hasGroup {
		if gid, err = lookupID(gname, true); err != nil {
			return 0, 0, err
		}
	}
	return uid, gid, nil
}

func lookupID(name string, group bool) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	if group {
		g, err := user.LookupGroup(name)
		if err != nil {
			return 0, fmt.Errorf("group %s not found: %w", name, err)
		}
		return strconv.Atoi(g.Gid)
	}
	u, err := user.Lookup(name)
	if err != nil {
		return 0, fmt.Errorf("user %s not found: %w", name, err)
	}
	return strconv.Atoi(u.Uid)
}

func applyOwnership(path string, o *Options) error {
	if o.Chmod != "" {
		mode, err := ParseChmod(o.Chmod)
		if err != nil {
			return err
		}
		if err := unix.Chmod(path, mode); err != nil {
			return fmt.Errorf("chmod %s: %w", path, err)
		}
	}
	if o.Chown != "" {
		uid, gid, err := ParseChown(o.Chown)
		if err != nil {
			return err
		}
		if err := unix.Lchown(path, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
	}
	return nil
}

func setTimeouts(fd int, o *Options) error {
	if o.RecvTimeout > 0 {
		tv := unix.NsecToTimeval(o.RecvTimeout.Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return fmt.Errorf("SO_RCVTIMEO: %w", err)
		}
	}
	if o.SendTimeout > 0 {
		tv := unix.NsecToTimeval(o.SendTimeout.Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
			return fmt.Errorf("SO_SNDTIMEO: %w", err)
		}
	}
	return nil
}

func (l *Listener) sharedWord() string {
	if l.Shared {
		return "shared "
	}
	return ""
}

func (l *Listener) logf(format string, args ...any) {
	if l.log != nil {
		l.log(format, args...)
	}
}

// formatSockaddr renders a bound address as Listener.Addr does.
func formatSockaddr(sa unix.Sockaddr) string {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)).String()
	case *unix.SockaddrUnix:
		return sa.Name
	}
	return ""
}

func sockPort(sa unix.Sockaddr) int {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return sa.Port
	case *unix.SockaddrInet6:
		return sa.Port
	}
	return 0
}

// SetInheritable clears (keep=true) or sets FD_CLOEXEC, so the socket
// survives (or not) an exec of the master or a child.
func (l *Listener) SetInheritable(keep bool) error {
	flags, err := unix.FcntlInt(uintptr(l.FD), unix.F_GETFD, 0)
	if err != nil {
		return fmt.Errorf("fcntl fd %d: %w", l.FD, err)
	}
	if keep {
		flags &^= unix.FD_CLOEXEC
	} else {
		flags |= unix.FD_CLOEXEC
	}
	if _, err := unix.FcntlInt(uintptr(l.FD), unix.F_SETFD, flags); err != nil {
		return fmt.Errorf("fcntl fd %d: %w", l.FD, err)
	}
	return nil
}

// Close closes the socket (the file of a UNIX socket stays; see Vacuum).
func (l *Listener) Close() error {
	if err := unix.Close(l.FD); err != nil {
		return fmt.Errorf("close socket %s fd %d: %w", l.Name, l.FD, err)
	}
	return nil
}

// ErrChangedInode is returned by Vacuum when the socket file was replaced.
var ErrChangedInode = errors.New("changed inode")

// Vacuum removes the UNIX socket file this instance created, unless its
// inode changed since (another instance owns it now) (PM-67). It logs
// `VACUUM: unix socket X removed.` or the `VACUUM WARNING` line. Other
// sockets are left alone.
func (l *Listener) Vacuum() error {
	if l.Network != "unix" || !l.created {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Lstat(l.Addr, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("vacuum %s: %w", l.Addr, err)
	}
	if st.Dev != l.dev || st.Ino != l.ino {
		l.logf("VACUUM WARNING: unix socket %s changed inode. Skip removal", l.Addr)
		return fmt.Errorf("vacuum %s: %w", l.Addr, ErrChangedInode)
	}
	if err := unix.Unlink(l.Addr); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("vacuum %s: %w", l.Addr, err)
	}
	l.logf("VACUUM: unix socket %s removed.", l.Addr)
	return nil
}

// ServerPort is SERVER_PORT for a socket name (WP-22): the text after the
// last ':', or "80" for UNIX and abstract sockets.
func ServerPort(name string) string {
	if i := strings.LastIndexByte(name, ':'); i >= 0 && !strings.HasPrefix(name, "@") && !strings.HasPrefix(name, "/") {
		return name[i+1:]
	}
	return "80"
}

// Expand turns "*:port" into one "ip:port" name per IPv4 interface address
// (PM-64); other names come back unchanged.
func Expand(name string) ([]string, error) {
	if !strings.HasPrefix(name, "*:") {
		return []string{name}, nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("expand %s: %w", name, err)
	}
	var out []string
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if v4 := ipn.IP.To4(); v4 != nil {
			out = append(out, v4.String()+name[1:])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("expand %s: no IPv4 interface address", name)
	}
	return out, nil
}

// QueueLen reports a listening socket's accept queue: connections waiting
// and the queue's maximum (stats "listen_queue", best effort: 0, 0 when
// the kernel does not say).
func QueueLen(fd int) (queue, max int) {
	info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err == nil {
		// For a listening TCP socket the kernel reports the accept
		// queue in tcpi_unacked and the backlog in tcpi_sacked.
		return int(info.Unacked), int(info.Sacked)
	}
	return unixQueueLen(fd)
}
