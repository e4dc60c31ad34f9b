package master

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosgi/gosgi/internal/options"
	"github.com/gosgi/gosgi/internal/sockets"
	"github.com/gosgi/gosgi/internal/tlsfront"
)

// socketProto maps socket options to the protocol their workers speak.
var socketProto = map[string]string{
	"socket":        "",
	"uwsgi-socket":  "uwsgi",
	"http-socket":   "http",
	"http11-socket": "http11",
	"http":          "router",
	"https-socket":  "https",
	"https":         "https-router",
}

// socketSpec is one configured socket; tls is the whole https value
// (addr,cert,key[,ciphers[,ca]]) for the TLS fronts, whose name is addr.
type socketSpec struct{ name, proto, tls string }

// socketSpecs lists the configured sockets in declaration order (PM-65).
func (m *Master) socketSpecs() []socketSpec {
	defProto := m.cfg.String("protocol")
	var out []socketSpec
	for _, e := range m.cfg.Entries() {
		o := options.Lookup(e.Key)
		if o == nil {
			continue
		}
		proto, ok := socketProto[o.Name]
		if !ok {
			continue
		}
		if proto == "" {
			switch defProto {
			case "", "uwsgi":
				proto = "uwsgi"
			case "http":
				proto = "http"
			default:
				proto = defProto
			}
		}
		spec := socketSpec{name: e.Value, proto: proto}
		if proto == "https" || proto == "https-router" {
			spec.tls = e.Value
			spec.name, _, _ = strings.Cut(e.Value, ",")
		}
		out = append(out, spec)
	}
	return out
}

// setupSockets binds the configured sockets, or takes them over from the
// image this one replaced (PM-20 step 6), from systemd or fd 0 (PM-66).
func (m *Master) setupSockets() error {
	specs := m.socketSpecs()
	got := m.inherited
	timeout := time.Duration(m.socketTimeout()) * time.Second
	opts := m.socketOptions(false)
	used := m.usedInherited
	for i, s := range specs {
		if s.tls != "" {
			if _, err := tlsfront.ParseSpec(s.tls); err != nil {
				return err
			}
			m.tls[i] = s.tls
		}
		if l := sockets.Match(got.Listeners, s.name); l != nil && !used[l] {
			used[l] = true
			l.Index, l.Name, l.Proto = i, s.name, s.proto
			if err := setTimeouts(l.FD, timeout); err != nil {
				return err
			}
			m.listeners = append(m.listeners, l)
			continue
		}
		if strings.HasPrefix(s.name, "=") { // PM-63: a shared socket bound as root
			n, err := strconv.Atoi(s.name[1:])
			if err != nil || n < 0 || n >= len(m.shared) || m.shared[n] == nil {
				return fmt.Errorf("socket %s: no shared-socket %s", s.name, s.name[1:])
			}
			sh := *m.shared[n]
			sh.Index, sh.Proto = i, s.proto
			m.shared[n] = nil // one user per shared socket
			m.listeners = append(m.listeners, &sh)
			continue
		}
		l, err := sockets.Bind(i, s.name, s.proto, opts)
		if err != nil {
			return err
		}
		if s.proto == "router" {
			m.log.Printf("uWSGI http bound on %s fd %d", s.name, l.FD)
		}
		m.listeners = append(m.listeners, l)
	}
	for _, l := range got.Listeners {
		if used[l] {
			continue
		}
		if len(specs) == 0 { // no socket configured: serve what we were given
			l.Proto = "uwsgi"
			setTimeouts(l.FD, timeout)
			m.listeners = append(m.listeners, l)
			continue
		}
		l.Close() // no longer configured
	}
	if len(m.listeners) == 0 {
		return fmt.Errorf("The -s/--socket option is missing and stdin is not a socket.")
	}
	// One socket: workers block in accept(). Several: workers poll, and a
	// shared listener must not block a worker that lost the race.
	nonblock := len(m.listeners) > 1
	for _, l := range m.listeners {
		if err := unix.SetNonblock(l.FD, nonblock); err != nil {
			return fmt.Errorf("socket %s: %w", l.Name, err)
		}
	}
	return nil
}

func setTimeouts(fd int, d time.Duration) error {
	tv := unix.NsecToTimeval(d.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("setsockopt(SO_RCVTIMEO) fd %d: %w", fd, err)
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		return fmt.Errorf("setsockopt(SO_SNDTIMEO) fd %d: %w", fd, err)
	}
	return nil
}

// socketOptions are the bind options of the instance's sockets.
func (m *Master) socketOptions(shared bool) *sockets.Options {
	timeout := time.Duration(m.socketTimeout()) * time.Second
	return &sockets.Options{
		Backlog:       m.cfg.Int("listen"),
		Chmod:         m.chmodValue(),
		Chown:         m.cfg.String("chown-socket"),
		Abstract:      m.cfg.Bool("abstract-socket"),
		ReusePort:     m.cfg.Bool("reuse-port"),
		NoDeferAccept: m.cfg.Bool("no-defer-accept"),
		SocketTimeout: timeout,
		RecvTimeout:   timeout,
		SendTimeout:   timeout,
		Shared:        shared,
		Log:           m.log.Printf,
	}
}

// inheritSockets collects the sockets this process received: across a
// re-exec, from systemd, on fd 0 (PM-66). It runs before the privilege drop.
func (m *Master) inheritSockets() error {
	got, err := sockets.Inherit(&sockets.InheritOptions{
		Environ:  os.Environ(),
		SkipZero: m.cfg.Bool("skip-zero"),
		Log:      m.log.Printf,
	})
	if err != nil {
		return err
	}
	os.Unsetenv(sockets.EnvSockets)
	if got.Systemd {
		for _, v := range sockets.SystemdVars {
			os.Unsetenv(v)
		}
	}
	m.inherited = got
	m.usedInherited = map[*sockets.Listener]bool{}
	return nil
}

// bindShared binds the shared-socket entries before privileges are dropped
// (PM-61, PM-63): ports below 1024 for an unprivileged instance. Other
// sockets refer to them as =0, =1...
func (m *Master) bindShared() error {
	for i, name := range m.cfg.List("shared-socket") {
		if l := sockets.Match(m.inherited.Listeners, name); l != nil && !m.usedInherited[l] {
			m.usedInherited[l] = true
			m.shared = append(m.shared, l)
			continue
		}
		l, err := sockets.Bind(i, name, "uwsgi", m.socketOptions(true))
		if err != nil {
			return err
		}
		m.shared = append(m.shared, l)
	}
	return nil
}

// chmodValue normalises chmod-socket: bare means 666 (OP-9).
func (m *Master) chmodValue() string {
	if !m.cfg.Has("chmod-socket") {
		return ""
	}
	v := m.cfg.String("chmod-socket")
	if v == "" || v == "1" || v == "true" {
		return "666"
	}
	return v
}
