// Package plugins maps uWSGI plugin names, as they appear in configs and
// executable names, to what gosgi does with them (DESIGN §2, spec §8):
// Python interpreters select the embedded CPython, plugins that gosgi
// provides natively are accepted silently, a few are accepted with a
// warning, and other languages are refused with a message naming what gosgi
// supports.
//
// The package only classifies names; it loads nothing.
package plugins

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Kind is what gosgi does with a plugin name.
type Kind int

const (
	// Python selects the embedded CPython 3 runtime.
	Python Kind = iota
	// Builtin is provided natively by gosgi; accepted silently.
	Builtin
	// Unsupported is accepted with a warning (Message) and has no effect.
	Unsupported
	// Refused stops the start; Message says why.
	Refused
)

func (k Kind) String() string {
	switch k {
	case Python:
		return "python"
	case Builtin:
		return "builtin"
	case Unsupported:
		return "unsupported"
	case Refused:
		return "refused"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Plugin is the resolution of one plugin item.
type Plugin struct {
	Name string // the name without modifier and init function
	Kind Kind
	// PyVersion is the Python asked for: "" any python3, "3.11", "2.7".
	PyVersion string
	// Modifier is the modifier1 given as MOD:NAME, -1 when absent.
	Modifier int
	// Message explains an Unsupported or Refused plugin.
	Message string
}

const supported = "gosgi serves WSGI apps on CPython 3 only (plugins python, python3, python3N)"

// builtin names are provided by gosgi itself (PL-6).
var builtin = map[string]bool{
	"http": true, "corerouter": true, "router_static": true, "router_redirect": true,
	"router_rewrite": true, "router_basicauth": true, "router_cache": true,
	"router_expires": true, "router_http": true, "router_uwsgi": true,
	"router_metrics": true, "router_hash": true, "logfile": true, "syslog": true,
	"rsyslog": true, "logsocket": true, "systemd_logger": true,
	"cheaper_busyness": true, "cheaper_backlog2": true, "cache": true,
	"spooler": true, "signal": true, "rpc": true, "ping": true, "notfound": true,
	"stats_pusher_socket": true, "stats_pusher_statsd": true, "stats_pusher_file": true,
	"transformation_gzip": true, "transformation_chunked": true,
	"transformation_offload": true, "transformation_tofile": true,
	"transformation_template": true, "ugreen": true, "zergpool": true,
	"fastrouter": true, "rawrouter": true, "sslrouter": true, "carbon": true,
	"nagios": true, "rrdtool": true, "pam": true, "ssi": true, "xattr": true,
	"clock_monotonic": true, "clock_realtime": true, "echo": true,
}

// async engines other than gevent are accepted with a warning: requests run
// on thread cores.
var async = map[string]bool{
	"greenlet": true, "asyncio": true, "tornado": true, "coroae": true,
}

// languages gosgi refuses.
var languages = map[string]bool{
	"php": true, "psgi": true, "rack": true, "lua": true, "cgi": true, "jvm": true,
	"jwsgi": true, "ring": true, "mono": true, "v8": true, "gccgo": true,
	"erlang": true, "rbthreads": true, "fiber": true, "mongrel2": true, "webdav": true,
	"jwsgi_plugin": true, "php7": true, "php8": true, "go": true, "dummy": true,
}

var pyName = regexp.MustCompile(`^python(\d)?(?:\.?(\d+))?$`)

// Resolve classifies one plugin item as written in a config:
// "[MOD:]NAME[|init]", trimmed (PL-1). Names with a "/" are paths; their
// base name without "_plugin.so" is classified.
func Resolve(item string) (Plugin, error) {
	item = strings.TrimSpace(item)
	p := Plugin{Modifier: -1}
	if i := strings.IndexByte(item, ':'); i >= 0 {
		m, err := strconv.Atoi(strings.TrimSpace(item[:i]))
		if err != nil || m < 0 || m > 255 {
			return Plugin{}, fmt.Errorf("plugin %q: invalid modifier %q", item, item[:i])
		}
		p.Modifier = m
		item = strings.TrimSpace(item[i+1:])
	}
	if i := strings.IndexByte(item, '|'); i >= 0 {
		item = strings.TrimSpace(item[:i])
	}
	if strings.Contains(item, "/") {
		item = strings.TrimSuffix(strings.TrimSuffix(filepath.Base(item), ".so"), "_plugin")
	}
	if item == "" {
		return Plugin{}, fmt.Errorf("empty plugin name")
	}
	p.Name = item
	name := strings.ToLower(item)
	switch {
	case name == "pypy" || strings.HasPrefix(name, "pypy"):
		p.Kind = Refused
		p.Message = fmt.Sprintf("plugin %s: PyPy is not supported: %s", item, supported)
		return p, fmt.Errorf("%s", p.Message)
	case pyName.MatchString(name):
		m := pyName.FindStringSubmatch(name)
		major, minor := m[1], m[2]
		if major == "" {
			major = "3"
		}
		if major != "3" {
			p.Kind = Refused
			p.PyVersion = major
			if minor != "" {
				p.PyVersion += "." + minor
			}
			p.Message = fmt.Sprintf("plugin %s: Python %s is not supported: %s", item, p.PyVersion, supported)
			return p, fmt.Errorf("%s", p.Message)
		}
		p.Kind = Python
		if minor != "" {
			p.PyVersion = "3." + minor
		}
		return p, nil
	case strings.HasPrefix(name, "gevent"): // gevent, gevent_python3: gevent = N (built in)
		p.Kind = Builtin
		return p, nil
	case strings.HasPrefix(name, "greenlet") ||
		strings.HasPrefix(name, "asyncio") || strings.HasPrefix(name, "tornado") || async[name]:
		p.Kind = Unsupported
		p.Message = fmt.Sprintf("plugin %s: async loops are not available; requests run on the threads cores", item)
		return p, nil
	case builtin[name] || strings.HasPrefix(name, "emperor_") || strings.HasPrefix(name, "router_") ||
		strings.HasPrefix(name, "stats_pusher_") || strings.HasPrefix(name, "transformation_") ||
		strings.HasPrefix(name, "log") || strings.HasPrefix(name, "cheaper_"):
		p.Kind = Builtin
		return p, nil
	case languages[name] || strings.HasPrefix(name, "php") || strings.HasPrefix(name, "ruby") ||
		strings.HasPrefix(name, "rack") || strings.HasPrefix(name, "lua") || strings.HasPrefix(name, "jvm"):
		p.Kind = Refused
		p.Message = fmt.Sprintf("plugin %s: this language is not supported: %s", item, supported)
		return p, fmt.Errorf("%s", p.Message)
	}
	p.Kind = Unsupported
	p.Message = fmt.Sprintf("plugin %s: unknown plugin, ignored (%s)", item, supported)
	return p, nil
}

// FromArgv0 returns the plugins implied by an executable name (PL-2): every
// "_"-separated word after "uwsgi_" in its base name, so
// "/usr/bin/uwsgi_python311" gives ["python311"].
func FromArgv0(argv0 string) []string {
	base := filepath.Base(argv0)
	i := strings.Index(base, "uwsgi_")
	if i < 0 {
		return nil
	}
	var out []string
	for _, w := range strings.Split(base[i+len("uwsgi_"):], "_") {
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}
